//! Routes between ternd, BIRD 2 and GoBGP, each in its own network
//! namespace on one LAN (BIRD does not resolve next hops in 127/8):
//! a 3-node iBGP mesh where each originates an IPv4 and an IPv6 block, a
//! withdrawal, and a session drop. Checked through each one's own CLI.

use std::process::Command;
use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{run, wait_for, Bird, Proc, TempDir, Ternd};

const CONVERGE: Duration = Duration::from_secs(60);

fn gobgp(lan: &Lan, args: &[&str]) -> String {
    run(lan.nodes[2].command("gobgp").args(["-p", "50200"]).args(args))
}

#[test]
fn mesh_of_ternd_bird_and_gobgp_exchanges_withdraws_and_forgets() {
    if skip_without(&["bird", "birdc", "gobgpd", "gobgp", "ip"]) {
        return;
    }
    let lan = Lan::new(41, 3);
    let (t_addr, b_addr, g_addr) = (lan.v4(0), lan.v4(1), lan.v4(2));
    let n = lan.net;
    // ternd: .1 is passive towards both (their addresses sort higher).
    let dir_t = TempDir::new("mesh-t");
    let tern_conf = format!(
        r#"router_id = "{t_addr}"
asn = 64512
listen = ["{t_addr}:179"]
ctl_socket = "{{CTL}}"
[[peer]]
name = "Mesh_{b}"
address = "{b_addr}"
local_address = "{t_addr}"
local_address6 = "fd00:200:{n}::1"
passive = true
hold_time = 3
[[peer]]
name = "Mesh_{g}"
address = "{g_addr}"
local_address = "{t_addr}"
local_address6 = "fd00:200:{n}::1"
passive = true
hold_time = 3
[[static]]
prefix = "10.244.1.0/26"
blackhole = true
[[static]]
prefix = "fd00:244:1::/64"
blackhole = true
"#,
        b = b_addr.replace('.', "_"),
        g = g_addr.replace('.', "_"),
    );
    let t = Ternd::start_in(&dir_t, &tern_conf, Some(&lan.nodes[0]));
    // BIRD (.2): active towards .1, passive towards .3.
    let dir_b = TempDir::new("mesh-b");
    let bird_conf = format!(
        r#"router id {b_addr};
protocol device {{ }}
protocol direct {{ ipv4; ipv6; interface "eth0"; }}
protocol static s4 {{ ipv4; route 10.244.2.0/26 blackhole; }}
protocol static s6 {{ ipv6; route fd00:244:2::/64 blackhole; }}
template bgp mesh {{
  local {b_addr} as 64512;
  hold time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 4;
  ipv4 {{ import all; export where source = RTS_STATIC; next hop self; }};
  ipv6 {{ import all; export where source = RTS_STATIC; next hop address fd00:200:{n}::2; }};
}}
protocol bgp tern from mesh {{ neighbor {t_addr} as 64512; }}
protocol bgp gobgp from mesh {{ neighbor {g_addr} as 64512; passive on; }}
"#
    );
    let b = Bird::start_in(&dir_b, &bird_conf, Some(&lan.nodes[1]));
    // GoBGP (.3): active towards both.
    let dir_g = TempDir::new("mesh-g");
    let neighbor = |addr: &str| {
        format!(
            r#"[[neighbors]]
  [neighbors.config]
    neighbor-address = "{addr}"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "{g_addr}"
  [neighbors.timers.config]
    hold-time = 3
    keepalive-interval = 1
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#
        )
    };
    let gconf = format!(
        "[global.config]\n  as = 64512\n  router-id = \"{g_addr}\"\n  local-address-list = [\"{g_addr}\"]\n{}{}",
        neighbor(&t_addr),
        neighbor(&b_addr)
    );
    let gcfg = dir_g.write("gobgpd.toml", &gconf);
    let g = Proc::spawn(
        "gobgpd",
        lan.nodes[2]
            .command("gobgpd")
            .arg("-f")
            .arg(&gcfg)
            .args(["--api-hosts", "127.0.0.1:50200", "--pprof-disable"]),
        dir_g.path("gobgpd.log"),
    );
    wait_for(Duration::from_secs(20), "GoBGP's API", || {
        gobgp(&lan, &["global"]).contains("AS").then_some(())
    });
    let out = gobgp(
        &lan,
        &[
            "global",
            "rib",
            "-a",
            "ipv4",
            "add",
            "10.244.3.0/26",
            "nexthop",
            &g_addr,
        ],
    );
    assert!(!out.contains("rror"), "{out}");
    let out = gobgp(
        &lan,
        &[
            "global",
            "rib",
            "-a",
            "ipv6",
            "add",
            "fd00:244:3::/64",
            "nexthop",
            &format!("fd00:200:{n}::3"),
        ],
    );
    assert!(!out.contains("rror"), "{out}");

    // (a) + (h): every speaker ends with all three blocks of both families.
    let has = |text: &str, ps: &[&str]| ps.iter().all(|p| text.contains(p));
    wait_for(CONVERGE, "ternd to have every block", || {
        has(
            &t.birdc("show route"),
            &["10.244.2.0/26", "10.244.3.0/26", "fd00:244:2::/64", "fd00:244:3::/64"],
        )
        .then_some(())
    });
    wait_for(CONVERGE, "BIRD to have every block", || {
        let out = b.birdc("show route") + &b.birdc("show route table master6");
        has(
            &out,
            &["10.244.1.0/26", "10.244.3.0/26", "fd00:244:1::/64", "fd00:244:3::/64"],
        )
        .then_some(())
    });
    wait_for(CONVERGE, "GoBGP to have every block", || {
        let out = gobgp(&lan, &["global", "rib", "-a", "ipv4"]) + &gobgp(&lan, &["global", "rib", "-a", "ipv6"]);
        has(
            &out,
            &["10.244.1.0/26", "10.244.2.0/26", "fd00:244:1::/64", "fd00:244:2::/64"],
        )
        .then_some(())
    });
    let theirs = b.birdc("show route 10.244.1.0/26 all");
    assert!(
        theirs.contains(&format!("via {t_addr}")) && !theirs.contains("unreachable"),
        "BIRD resolves ternd's next hop: {theirs}"
    );
    let six = b.birdc("show route fd00:244:1::/64 all");
    assert!(
        six.contains(&format!("fd00:200:{n}::1")),
        "IPv6 next hop from local_address6: {six}"
    );

    // (f) A withdrawn block disappears everywhere.
    assert!(b.birdc("disable s4").contains("disabled"));
    wait_for(CONVERGE, "BIRD's block to leave ternd and GoBGP", || {
        let gone_t = !t.birdc("show route").contains("10.244.2.0/26");
        let gone_g = !gobgp(&lan, &["global", "rib", "-a", "ipv4"]).contains("10.244.2.0/26");
        (gone_t && gone_g).then_some(())
    });

    // (g) A session drop withdraws that peer's routes everywhere.
    drop(g);
    wait_for(CONVERGE, "GoBGP's block to leave ternd and BIRD", || {
        let gone_t = !t.birdc("show route").contains("10.244.3.0/26");
        let gone_b = !b.birdc("show route").contains("10.244.3.0/26");
        (gone_t && gone_b).then_some(())
    });
    assert!(b.birdc("show route").contains("10.244.1.0/26"), "the rest stays");
    let _ = Command::new("true").status();
}
