//! OpenBGPD 7.7 (Debian's `openbgpd`), a strict peer, against ternd in
//! network namespaces: the session and routes both ways; a refresh it
//! asks for comes back between Begin- and End-of-RR, as the enhanced route
//! refresh we announce promises (RFC 7313); a route it sends with our own
//! address as next hop is not taken (RFC 4271 §6.3), and the session
//! stays up.

use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{wait_for, OpenBgpd, TempDir, Ternd};

fn setup(net: u8, bgpd_extra: &str) -> (Lan, Ternd, OpenBgpd, Vec<TempDir>) {
    let lan = Lan::new(net, 2);
    let (t, o) = (lan.v4(0), lan.v4(1));
    let dt = TempDir::new("obgpd-tern");
    let tern = Ternd::start_in(
        &dt,
        &format!(
            "router_id = \"{t}\"\nasn = 64512\nlisten = [\"{t}:179\"]\nctl_socket = \"{{CTL}}\"\n\
             [[static]]\nprefix = \"10.20.0.0/24\"\nblackhole = true\nexport = true\n\
             [[peer]]\nname = \"obgpd\"\naddress = \"{o}\"\nasn = 65010\nlocal_address = \"{t}\"\nconnect_retry = 1\n"
        ),
        Some(&lan.nodes[0]),
    );
    let dob = TempDir::new("obgpd");
    let bgpd = OpenBgpd::start_in(
        &dob,
        &format!(
            "AS 65010\nrouter-id {o}\nlisten on {o}\nnetwork 10.10.0.0/24\n\
             neighbor {t} {{\n  remote-as 64512\n  descr \"tern\"\n  announce enhanced refresh yes\n}}\n\
             allow from any\nallow to any\n{bgpd_extra}"
        ),
        &lan.nodes[1],
    );
    wait_for(Duration::from_secs(30), "the session with OpenBGPD", || {
        (tern.bgp_state("obgpd").as_deref() == Some("Established")).then_some(())
    });
    (lan, tern, bgpd, vec![dt, dob])
}

#[test]
fn routes_both_ways_and_enhanced_refresh_markers() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    let (_lan, tern, bgpd, _dirs) = setup(57, "");
    wait_for(Duration::from_secs(20), "routes both ways", || {
        (tern.birdc("show route").contains("10.10.0.0/24") && bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24"))
            .then_some(())
    });
    let rib = bgpd.bgpctl(&["show", "rib", "10.20.0.0/24"]);
    assert!(rib.contains("64512 i"), "{rib}");
    assert_eq!(bgpd.counter("tern", "Begin-of-RR"), Some((0, 0)));
    // OpenBGPD asks for the table again: with enhanced route refresh
    // negotiated, it must come between BoRR and EoRR.
    let out = bgpd.bgpctl(&["neighbor", "tern", "refresh"]);
    assert!(out.contains("request processed"), "{out}");
    wait_for(Duration::from_secs(10), "BoRR and EoRR at OpenBGPD", || {
        (bgpd.counter("tern", "Begin-of-RR") == Some((0, 1)) && bgpd.counter("tern", "End-of-RR") == Some((0, 1)))
            .then_some(())
    });
    // The refresh changed nothing: the route is still there, still up.
    assert!(bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24"));
    assert_eq!(tern.bgp_state("obgpd").as_deref(), Some("Established"));
}

#[test]
fn a_route_with_our_own_address_as_next_hop_is_not_taken() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    // OpenBGPD rewrites the next hop of what it sends us to our address.
    let lan_tern = "10.200.58.1";
    let (_lan, tern, bgpd, _dirs) = setup(58, &format!("match to any set nexthop {lan_tern}\n"));
    wait_for(Duration::from_secs(20), "our route at OpenBGPD", || {
        bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24").then_some(())
    });
    // OpenBGPD has sent its route (its counters say so); we did not take it.
    wait_for(Duration::from_secs(10), "OpenBGPD's UPDATE", || {
        bgpd.counter("tern", "Updates")
            .filter(|(sent, _)| *sent >= 1)
            .map(|_| ())
    });
    std::thread::sleep(Duration::from_secs(1));
    let routes = tern.birdc("show route");
    assert!(!routes.contains("10.10.0.0/24"), "{routes}");
    assert_eq!(tern.bgp_state("obgpd").as_deref(), Some("Established"));
}
