//! IPv6 link-local peering (calico#10844, which BIRD 1.6 cannot do): a
//! peer address `fe80::…%IFACE`. ternd and BIRD 2 hold a session over
//! link-local addresses only; BIRD's route, whose next hop is link-local,
//! is installed through the session's interface, and `show route` names
//! it.

use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{run, wait_for, Bird, TempDir, Ternd};

const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn a_session_over_link_local_addresses_installs_its_routes() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(52, 2);
    let n = lan.net;
    for (i, ns) in lan.nodes.iter().enumerate() {
        ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("fe80::{}/64", i + 1),
            "dev",
            "eth0",
            "nodad",
        ]);
    }
    // BIRD's node has no global IPv6 address: its next hop can only be
    // link-local.
    lan.nodes[1].ip(&["-6", "addr", "del", &format!("fd00:200:{n}::2/64"), "dev", "eth0"]);
    let dir_t = TempDir::new("ll-t");
    let conf = format!(
        r#"router_id = "{t}"
ctl_socket = "{{CTL}}"
[kernel]
[[static]]
prefix = "fd00:244:1::/64"
blackhole = true
[[peer]]
name = "Node_fe80__2"
address = "fe80::2%eth0"
local_address6 = "fd00:200:{n}::1"
hold_time = 6
connect_retry = 1
"#,
        t = lan.v4(0)
    );
    let t = Ternd::start_in(&dir_t, &conf, Some(&lan.nodes[0]));
    let dir_b = TempDir::new("ll-b");
    let b = Bird::start_in(
        &dir_b,
        &format!(
            r#"router id {b};
protocol device {{ }}
protocol static s6 {{ ipv6; route fd00:244:2::/64 blackhole; }}
protocol bgp tern {{
  local as 64512;
  neighbor fe80::1 as 64512;
  interface "eth0";
  direct;
  hold time 6;
  connect delay time 1;
  connect retry time 1;
  ipv6 {{ import all; export where source = RTS_STATIC; next hop self; }};
}}
"#,
            b = lan.v4(1)
        ),
        Some(&lan.nodes[1]),
    );
    wait_for(CONVERGE, "the link-local session", || {
        (t.bgp_state("Node_fe80__2").as_deref() == Some("Established")).then_some(())
    });
    let route = wait_for(CONVERGE, "BIRD's route in the kernel", || {
        let r = run(lan.nodes[0]
            .command("ip")
            .args(["-6", "route", "show", "fd00:244:2::/64"]));
        r.contains("proto bird").then_some(r)
    });
    assert!(route.contains("via fe80::2 dev eth0"), "{route}");
    let shown = t.birdc("show route");
    assert!(
        shown.contains("fd00:244:2::/64    via fe80::2 on eth0 [Node_fe80__2"),
        "{shown}"
    );
    wait_for(CONVERGE, "BIRD to have our block", || {
        b.birdc("show route table master6")
            .contains("fd00:244:1::/64")
            .then_some(())
    });
}
