//! A per-peer local AS (Calico's BGPPeer `localASNumber`, the peer key
//! `local_asn`): a node in AS 64512 meets a BIRD 2 peer as AS 65100. The
//! session comes up only if our OPEN says 65100, and BIRD sees our block
//! with 65100 prepended.

use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{wait_for, Bird, TempDir, Ternd};

#[test]
fn a_peer_sees_the_local_as_of_its_session() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(54, 2);
    let (t, b) = (lan.v4(0), lan.v4(1));
    let dir_t = TempDir::new("las-t");
    let tern = Ternd::start_in(
        &dir_t,
        &format!(
            "router_id = \"{t}\"\nasn = 64512\nlisten = [\"{t}:179\"]\nctl_socket = \"{{CTL}}\"\n\
             [[static]]\nprefix = \"10.244.1.0/26\"\nblackhole = true\n\
             [[peer]]\nname = \"Global_{bn}\"\naddress = \"{b}\"\nasn = 65001\nlocal_asn = 65100\nlocal_address = \"{t}\"\npassive = true\n",
            bn = b.replace('.', "_")
        ),
        Some(&lan.nodes[0]),
    );
    let dir_b = TempDir::new("las-b");
    let bird = Bird::start_in(
        &dir_b,
        &format!(
            "router id {b};\nprotocol device {{ }}\nprotocol bgp tern {{ local {b} as 65001; neighbor {t} as 65100; \
             connect delay time 1; connect retry time 1; ipv4 {{ import all; export none; }}; }}\n"
        ),
        Some(&lan.nodes[1]),
    );
    wait_for(Duration::from_secs(30), "the session as AS 65100", || {
        (tern.bgp_state(&format!("Global_{}", b.replace('.', "_"))).as_deref() == Some("Established")).then_some(())
    });
    let route = wait_for(Duration::from_secs(30), "our block at BIRD", || {
        let r = bird.birdc("show route 10.244.1.0/26 all");
        r.contains("BGP.as_path").then_some(r)
    });
    assert!(
        route.contains("BGP.as_path: 65100\n") || route.contains("BGP.as_path: 65100 "),
        "{route}"
    );
    assert!(!route.contains("64512"), "the node's own AS stays out: {route}");
}
