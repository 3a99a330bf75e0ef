//! ROUTE-REFRESH with and without enhanced route refresh (RFC 7313), next
//! hops that can never be used (RFC 4271 §6.3), and the next hop of an
//! IPv4 route over an IPv6 session, as sessions see them.

mod net;

use bgp_wire::{Family, RefreshKind};
use net::*;
use rib::PeerId;

#[test]
fn a_refresh_we_answer_is_framed_by_borr_and_eorr_when_negotiated() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.enhanced_refresh = true;
    net.up(2, true, false);
    net.enhanced_refresh = false;
    net.up(3, true, false);
    net.announce(1, &["10.1.0.0/24", "10.2.0.0/24"], 65001, 1, None);
    net.round();
    for n in [2, 3] {
        net.reset_counts(n);
    }
    for n in [2, 3] {
        net.e.refresh(PeerId(n), Family::IPV4_UNICAST);
    }
    net.deliver();
    // Enhanced: BoRR before the two routes, EoRR after them.
    let g = net.got(2);
    assert_eq!(g.announced, 2);
    assert_eq!(
        g.markers,
        [
            (RefreshKind::Begin, Family::IPV4_UNICAST, 0),
            (RefreshKind::End, Family::IPV4_UNICAST, 2)
        ]
    );
    // Plain RFC 2918: the routes only.
    assert_eq!(net.got(3).announced, 2);
    assert!(net.got(3).markers.is_empty());
}

#[test]
fn at_the_peers_eorr_what_it_did_not_announce_again_is_gone() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.held(2).len(), 3);
    let now = net.now;
    net.e.refresh_marker(PeerId(1), Family::IPV4_UNICAST, true, now);
    net.announce(1, &["10.1.0.0/24", "10.3.0.0/24"], 65001, 1, None);
    net.round();
    // Until its EoRR, nothing goes.
    assert_eq!(net.held(2).len(), 3);
    net.e.refresh_marker(PeerId(1), Family::IPV4_UNICAST, false, now);
    net.round();
    assert_eq!(net.held(2), ["10.1.0.0/24", "10.3.0.0/24"]);
    // An EoRR with no BoRR before it changes nothing.
    net.e.refresh_marker(PeerId(1), Family::IPV4_UNICAST, false, now);
    net.round();
    assert_eq!(net.held(2).len(), 2);
}

#[test]
fn next_hops_that_can_never_be_used_are_not_taken() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    for (prefix, nh) in [
        ("10.1.0.0/24", "0.0.0.0"),
        ("10.2.0.0/24", "224.0.0.5"),
        ("10.3.0.0/24", "255.255.255.255"),
        // Our own address on the session (10.0.0.100 in these tests).
        ("10.4.0.0/24", "10.0.0.100"),
        // Loopback from a peer that is not on this host.
        ("10.6.0.0/24", "127.0.0.1"),
        ("10.7.0.0/24", "127.100.0.2"),
        ("10.5.0.0/24", "10.0.0.1"),
    ] {
        net.announce_with(1, &[prefix], 65001, 1, None, |a| a.next_hop = Some(ip(nh)));
    }
    net.round();
    assert_eq!(net.held(2), ["10.5.0.0/24"]);
    assert!(net.e.table().best(&p("10.4.0.0/24")).is_none());
    assert!(net.e.table().best(&p("10.6.0.0/24")).is_none());
}

#[test]
fn ipv4_routes_over_ipv6_need_an_ipv4_next_hop() {
    let mut net = Net::new();
    net.up(1, true, false);
    // Over IPv6 without local_address4: IPv4 routes are not sent (a
    // 16-byte next hop needs RFC 8950, which was not negotiated).
    net.transport6 = Some(None);
    net.up(2, true, false);
    // With one: sent, with it as next hop.
    net.transport6 = Some(Some(ip("10.0.0.100")));
    net.up(3, true, false);
    net.announce(1, &["10.1.0.0/24"], 65001, 1, None);
    net.round();
    assert!(net.held(2).is_empty(), "{:?}", net.held(2));
    let a = &net.got(3).held[&(p("10.1.0.0/24"), None)];
    assert_eq!(a.next_hop, Some(ip("10.0.0.100")));
}

#[test]
fn ibgp_only_attributes_from_an_ebgp_peer_are_dropped_not_a_loop() {
    // RFC 7606 §7.9, §7.10 (and §7.5 for LOCAL_PREF): an eBGP peer's
    // ORIGINATOR_ID and CLUSTER_LIST mean nothing here. Even naming our own
    // router ID and cluster, they neither withdraw the route nor go on.
    let mut net = Net::with(Some("10.0.0.100"), rib::PrefixFilter::default());
    net.up(1, true, false);
    net.up_as(2, false, false, true);
    net.announce_with(1, &["10.1.0.0/24"], 65001, 1, None, |a| {
        a.local_pref = Some(500);
        a.originator_id = Some(bgp_wire::RouterId("10.0.0.100".parse().unwrap()));
        a.cluster_list = vec![bgp_wire::ClusterId("10.0.0.100".parse().unwrap())].into();
    });
    net.round();
    let got = net.got(2);
    let a = got.held.values().next().expect("the route reached the iBGP client");
    assert_eq!(a.originator_id, None);
    assert!(a.cluster_list.is_empty(), "{:?}", a.cluster_list);
    assert_eq!(a.local_pref, Some(100), "ours, not the peer's 500");
}
