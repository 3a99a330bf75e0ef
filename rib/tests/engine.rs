//! The engine as its sessions see it: UPDATEs in, encoded UPDATEs out,
//! decoded here the way a peer would. What each receiver ends up holding,
//! and how many announcements it took, is what these tests check.

mod net;

use std::time::Duration;

use bgp_wire::attributes::Community;
use bgp_wire::{Family, RouterId};
use net::*;
use rib::{LocalRoute, PeerId, PrefixFilter};

#[test]
fn without_add_path_only_best_changes_are_sent() {
    let mut net = Net::new();
    for n in [1, 2, 9] {
        net.up(n, true, false);
    }
    let pfx = "10.244.1.0/26";
    net.announce(1, &[pfx], 65001, 3, None);
    net.round();
    assert_eq!(net.path(9, pfx).as_deref(), Some("64512 65001 65001 65001"));
    assert_eq!(net.e.counts(PeerId(9)).exported, 1);

    // The same route again: nothing to send.
    net.reset_counts(9);
    net.announce(1, &[pfx], 65001, 3, None);
    net.round();
    assert_eq!((net.got(9).announced, net.got(9).withdrawn), (0, 0));

    // A worse second path: the best stays, nothing to send.
    net.announce(2, &[pfx], 65002, 5, None);
    net.round();
    assert_eq!((net.got(9).announced, net.got(9).withdrawn), (0, 0));

    // The best goes: the other path replaces it, count unchanged.
    net.withdraw(1, &[pfx], None);
    net.round();
    assert_eq!(net.got(9).announced, 1);
    assert_eq!(net.path(9, pfx).as_deref(), Some("64512 65002 65002 65002 65002 65002"));
    assert_eq!(net.e.counts(PeerId(9)).exported, 1);

    // The receiver's own route becomes best: what it had is withdrawn.
    net.announce(9, &[pfx], 65009, 1, None);
    net.round();
    assert_eq!(net.got(9).withdrawn, 1);
    assert_eq!(net.path(9, pfx), None);
    assert_eq!(net.e.counts(PeerId(9)).exported, 0);
    assert_eq!(net.e.counts(PeerId(9)).imported, 1);
    assert_eq!(net.e.counts(PeerId(9)).preferred, 1);
}

#[test]
fn with_add_path_every_path_goes_under_its_own_identifier() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.up(9, true, true);
    let pfx = "10.244.1.0/26";
    net.announce(1, &[pfx], 65001, 3, None);
    net.round();
    net.announce(2, &[pfx], 65002, 5, None);
    net.round();
    let ids: Vec<Option<u32>> = net.got(9).held.keys().map(|k| k.1).collect();
    assert_eq!(ids, vec![Some(1), Some(2)], "a non-best path goes too");
    assert_eq!(
        net.got(9).held[&(p(pfx), Some(2))].as_path.to_string(),
        "64512 65002 65002 65002 65002 65002",
        "with its own attributes"
    );
    assert_eq!(net.e.counts(PeerId(9)).exported, 2);

    // The full table for a new session: both paths; without ADD-PATH the
    // best only. (Packing groups prefixes by attribute set, in the order
    // of the sets' addresses: which path comes first is not fixed.)
    net.up(8, true, true);
    net.up(7, true, false);
    let mut order = net.got(8).order.clone();
    order.sort();
    assert_eq!(order, vec![(p(pfx), Some(1)), (p(pfx), Some(2))]);
    assert_eq!(net.got(7).order, vec![(p(pfx), None)]);
    assert_eq!(net.path(7, pfx).as_deref(), Some("64512 65001 65001 65001"));

    // Peer 1 replaces its path: same identifier, new attributes.
    net.reset_counts(9);
    net.announce(1, &[pfx], 65001, 4, None);
    net.round();
    assert_eq!(net.got(9).announced, 1, "only the path that changed");
    let a = &net.got(9).held[&(p(pfx), Some(1))];
    assert_eq!(a.as_path.to_string(), "64512 65001 65001 65001 65001");
    assert_eq!(net.e.counts(PeerId(9)).exported, 2);

    // Peer 1 withdraws: path 1 is withdrawn; path 2 is unaffected even
    // though it became best.
    net.reset_counts(9);
    net.withdraw(1, &[pfx], None);
    net.round();
    assert_eq!((net.got(9).announced, net.got(9).withdrawn), (0, 1));
    assert!(net.got(9).held.contains_key(&(p(pfx), Some(2))));
    assert_eq!(net.e.counts(PeerId(9)).exported, 1);

    // A new path takes the lowest free identifier.
    net.up(3, true, false);
    net.announce(3, &[pfx], 65003, 2, None);
    net.round();
    assert!(net.got(9).held.contains_key(&(p(pfx), Some(1))));
}

#[test]
fn one_peer_with_several_paths_going_down() {
    let mut net = Net::new();
    for n in [1, 2, 9] {
        net.up(n, true, false);
    }
    let pfx = "10.244.1.0/26";
    net.announce(1, &[pfx], 65001, 2, Some(1));
    net.announce(1, &[pfx], 65001, 3, Some(2));
    net.announce(2, &[pfx], 65002, 4, None);
    net.round();
    assert_eq!(net.path(9, pfx).as_deref(), Some("64512 65001 65001"));
    net.reset_counts(9);
    net.down(1);
    net.round();
    assert_eq!((net.got(9).announced, net.got(9).withdrawn), (1, 0));
    assert_eq!(net.path(9, pfx).as_deref(), Some("64512 65002 65002 65002 65002"));
    assert_eq!((net.e.table().len(), net.e.table().route_count()), (1, 1));
}

#[test]
fn the_last_word_of_a_round_wins() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(9, true, false);
    let (x, y) = ("10.0.1.0/24", "10.0.2.0/24");
    net.announce(1, &[x], 65001, 1, None);
    net.round();
    assert!(net.path(9, x).is_some());
    // In one round: x again, y, then x withdrawn.
    net.reset_counts(9);
    net.announce(1, &[x], 65001, 2, None);
    net.announce(1, &[y], 65001, 1, None);
    net.withdraw(1, &[x], None);
    net.round();
    assert_eq!(net.path(9, x), None, "x ends withdrawn");
    assert!(net.path(9, y).is_some());
    assert_eq!((net.got(9).announced, net.got(9).withdrawn), (1, 1));
    // A prefix that came and went within a round is never mentioned.
    net.reset_counts(9);
    net.announce(1, &["10.0.3.0/24"], 65001, 1, None);
    net.withdraw(1, &["10.0.3.0/24"], None);
    net.round();
    assert_eq!((net.got(9).announced, net.got(9).withdrawn), (0, 0));
}

#[test]
fn a_round_sends_the_settled_best_once() {
    let mut net = Net::new();
    for n in [1, 2, 3, 9] {
        net.up(n, true, false);
    }
    let x = "10.244.1.0/26";
    net.announce(1, &[x], 65001, 3, None);
    net.round();
    net.reset_counts(9);
    // One round: x gets better twice.
    net.announce(2, &[x], 65002, 2, None);
    net.announce(3, &[x], 65003, 1, None);
    net.round();
    assert_eq!(net.got(9).announced, 1);
    assert_eq!(net.path(9, x).as_deref(), Some("64512 65003"));
}

#[test]
fn ten_feeds_of_one_table_reach_an_observer_settled() {
    // Ten eBGP feeds announce the same 1000 prefixes, the last by the
    // shortest path; the observer gets each prefix's final route once.
    let mut net = Net::new();
    for n in 1..=11 {
        net.up(n, true, false);
    }
    let prefixes: Vec<String> = (0..1000)
        .map(|i| format!("10.{}.{}.0/24", 1 + i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    for n in 1..=10 {
        let len = if n == 10 { 1 } else { 2 };
        for chunk in refs.chunks(100) {
            net.announce(n, chunk, 65000 + n, len, None);
        }
    }
    net.round();
    assert_eq!(net.got(11).announced, 1000);
    assert!(refs.iter().all(|x| net.path(11, x).as_deref() == Some("64512 65010")));
}

#[test]
fn a_stalled_peer_gets_the_latest_state_once_it_drains() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(8, true, false);
    net.up(9, true, false);
    net.stall(9);
    // Enough routes to fill the stalled session's output several times.
    let prefixes: Vec<String> = (0..150_000)
        .map(|i| format!("{}.{}.{}.0/24", 20 + i / 65536, (i / 256) % 256, i % 256))
        .collect();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    for (i, chunk) in refs.chunks(20).enumerate() {
        net.announce(1, chunk, 65001 + (i % 50) as u32, 2, None);
    }
    net.round();
    assert!(net.e.is_full(PeerId(9)), "the stalled peer's output is full");
    let before_churn = net.got(9).announced;
    assert!(before_churn < 100_000, "nothing beyond its room: {before_churn}");
    let m = net.e.memory();
    assert!(m.queued_bytes <= 2 * rib::out::OUT_HIGH, "{m:?}");
    assert_eq!(net.got(8).held.len(), 150_000, "the other receiver is not held back");
    // Churn: every route changes twice, a tenth goes.
    for round in 0..2 {
        for (i, chunk) in refs.chunks(20).enumerate() {
            net.announce(1, chunk, 65101 + (i % 50) as u32 + round, 2, None);
        }
        net.round();
    }
    net.withdraw(1, &refs[..15_000], None);
    net.round();
    assert!(net.e.memory().queued_bytes <= 2 * rib::out::OUT_HIGH);
    net.resume(9);
    let (got9, got8) = (net.got(9), net.got(8));
    assert_eq!(got9.held, got8.held, "the same table as a peer that kept up");
    assert_eq!(got9.held.len(), 135_000);
    assert!(
        got9.announced <= 150_000 + before_churn,
        "at most one table's worth after the stall: {} then {}",
        before_churn,
        got9.announced - before_churn
    );
    assert!(
        got9.withdrawn <= before_churn,
        "withdrawn only what it had: {}",
        got9.withdrawn
    );
    assert_eq!(net.e.memory().backlog, 0);
}

#[test]
fn a_thousand_stalled_sessions_share_the_output_budget() {
    let mut net = Net::new();
    net.up(1, true, false);
    let sessions = 1000;
    for n in 2..2 + sessions {
        net.up(n, true, false);
        net.stall(n);
    }
    // Every route its own attribute set: one UPDATE each, as a reflector
    // sends its clients' blocks.
    for i in 0..4000u32 {
        let prefix = format!("100.{}.{}.0/24", 64 + i / 256, i % 256);
        net.announce(1, &[&prefix], 65001 + i, 1, None);
    }
    net.round();
    let high = rib::out::out_high(sessions as usize + 1);
    assert!(high < rib::out::OUT_HIGH, "{high}");
    let m = net.e.memory();
    assert!(
        m.queued_bytes <= rib::out::OUT_BUDGET + sessions as usize * 2048,
        "{} bytes queued for {sessions} stalled sessions, high mark {high}",
        m.queued_bytes
    );
    assert!(net.e.is_full(PeerId(2)));
    assert_eq!(net.got(1).held.len(), 0, "nothing goes back to the sender");
    net.resume(2);
    assert_eq!(net.got(2).held.len(), 4000, "a resumed session gets everything");
}

#[test]
fn the_initial_table_ends_with_end_of_rib() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.announce(1, &["10.0.1.0/24", "fd00:1::/48"], 65001, 1, None);
    net.round();
    net.up(2, true, false);
    assert_eq!(net.got(2).held.len(), 2);
    assert_eq!(net.got(2).eor, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    // An empty table: End-of-RIB at once.
    assert_eq!(net.got(1).eor.len(), 2);
}

#[test]
fn route_refresh_sends_the_family_again() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.0.1.0/24", "10.0.2.0/24", "fd00:1::/48"], 65001, 1, None);
    net.round();
    net.reset_counts(2);
    net.e.refresh(PeerId(2), Family::IPV4_UNICAST);
    net.deliver();
    assert_eq!((net.got(2).announced, net.got(2).withdrawn), (2, 0));
}

#[test]
fn new_export_rules_withdraw_what_is_no_longer_allowed() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.244.1.0/26", "192.0.2.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.got(2).held.len(), 2);
    let filter = PrefixFilter {
        pools: vec![p("10.244.0.0/16")],
        blocks: vec![],
        ..PrefixFilter::default()
    };
    let local = net.e.local().clone();
    net.e.set_policy(local, filter);
    net.deliver();
    assert_eq!(net.got(2).held.len(), 1);
    assert!(net.path(2, "10.244.1.0/26").is_some());
}

#[test]
fn reflection_and_local_routes() {
    let mut net = Net::with(Some("244.0.0.1"), PrefixFilter::default());
    net.up_as(1, false, false, true);
    net.up_as(2, false, false, true);
    net.up_as(3, false, false, false);
    net.announce(1, &["10.244.1.0/26"], 65001, 1, None);
    net.e.add_local(
        p("10.244.9.0/26"),
        LocalRoute {
            communities: vec![Community(0xfde8_0001)],
            ..LocalRoute::default()
        },
        net.now,
    );
    net.round();
    for n in [2, 3] {
        let a = &net.got(n).held[&(p("10.244.1.0/26"), None)];
        assert_eq!(a.originator_id, Some(RouterId("10.0.0.1".parse().unwrap())));
        assert_eq!(a.cluster_list.len(), 1);
    }
    assert!(
        net.path(1, "10.244.1.0/26").is_none(),
        "not back to the client it came from"
    );
    for n in [1, 2, 3] {
        let a = &net.got(n).held[&(p("10.244.9.0/26"), None)];
        assert_eq!(
            a.next_hop,
            Some(ip("10.0.0.100")),
            "we are the next hop of our own routes"
        );
    }
    assert_eq!(net.e.local_counts().imported, 1);
    net.e.remove_local(&p("10.244.9.0/26"), net.now);
    net.round();
    assert!(net.path(3, "10.244.9.0/26").is_none());
}

#[test]
fn flaps_leave_nothing_behind() {
    let mut net = Net::new();
    net.up(9, true, false);
    net.e.add_local(p("10.244.9.0/26"), LocalRoute::default(), net.now);
    net.round();
    let idle = net.e.memory();
    let prefixes: Vec<String> = (0..5000)
        .map(|i| format!("{}.{}.0.0/16", 20 + i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let mut after_first = None;
    for flap in 0..20u32 {
        net.up(1, true, false);
        for (i, chunk) in refs.chunks(5).enumerate() {
            net.announce(1, chunk, 65001 + (i as u32 % 300) + flap * 1000, 2, None);
        }
        net.round();
        assert_eq!(net.got(9).held.len(), 5001);
        net.down(1);
        net.round();
        assert_eq!(net.got(9).held.len(), 1);
        let m = net.e.memory();
        assert_eq!(m, *after_first.get_or_insert(m), "flap {flap}");
    }
    let m = after_first.unwrap();
    assert_eq!((m.prefixes, m.routes, m.attribute_sets), (1, 1, 1), "{m:?}");
    assert_eq!((m.empty_slots, m.sessions, m.backlog), (0, 1, 0), "{m:?}");
    assert_eq!((m.export_cache, m.export_sets, m.export_classes), (1, 1, 1), "{m:?}");
    assert_eq!(
        (idle.prefixes, idle.attribute_sets, idle.export_cache),
        (m.prefixes, m.attribute_sets, m.export_cache)
    );
}

#[test]
fn best_changes_stream_to_a_consumer() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.0.1.0/24"], 65001, 2, None);
    net.round();
    let sub = net.e.subscribe();
    let first = net.e.poll_best(sub, 100);
    assert_eq!(first.len(), 1, "a new consumer starts with every prefix");
    // Within a round the best changes twice; the consumer sees it once.
    net.announce(2, &["10.0.1.0/24"], 65002, 1, None);
    net.withdraw(2, &["10.0.1.0/24"], None);
    net.announce(2, &["10.0.1.0/24"], 65002, 1, None);
    net.announce(1, &["10.0.2.0/24"], 65001, 1, None);
    net.round();
    let got = net.e.poll_best(sub, 1);
    assert_eq!(got.len(), 1, "no more than asked for");
    let rest = net.e.poll_best(sub, 100);
    assert_eq!(rest.len(), 1);
    let all: Vec<_> = got.iter().chain(&rest).collect();
    let x = all.iter().find(|c| c.prefix == p("10.0.1.0/24")).unwrap();
    assert_eq!(x.best().unwrap().source.peer, Some(PeerId(2)));
    net.down(2);
    net.round();
    let after = net.e.poll_best(sub, 100);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].best().unwrap().source.peer, Some(PeerId(1)));
    net.down(1);
    net.round();
    let gone = net.e.poll_best(sub, 100);
    assert!(gone.iter().all(|c| c.best().is_none()) && gone.len() == 2);
    assert_eq!(net.e.memory().empty_slots, 0, "released once the consumer was told");
}

#[test]
fn a_round_waits_for_input_only_so_long() {
    let mut net = Net::new();
    net.up(1, true, false);
    assert!(!net.e.round_due(net.now));
    net.announce(1, &["10.0.1.0/24"], 65001, 1, None);
    assert!(net.e.round_pending());
    assert!(!net
        .e
        .round_due(net.now + rib::engine::MAX_DEFER - Duration::from_millis(1)));
    assert!(net.e.round_due(net.now + rib::engine::MAX_DEFER));
}

/// Graceful restart (RFC 4724 §4.2), receiving side.
impl Net {
    fn lost(&mut self, n: u32) {
        let families = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];
        self.e.peer_lost(PeerId(n), &families, self.now);
        self.got.remove(&PeerId(n));
        self.ctx.remove(&PeerId(n));
    }

    fn end_of_rib(&mut self, n: u32) {
        let u = bgp_wire::Update::end_of_rib(Family::IPV4_UNICAST);
        self.e.update(PeerId(n), &u, self.now);
    }
}

#[test]
fn a_restarting_peers_routes_stay_until_its_end_of_rib() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.0.1.0/24", "10.0.2.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.got(2).held.len(), 2);
    // Lost without a NOTIFICATION: the routes stay, nobody is told.
    net.lost(1);
    net.round();
    assert!(net.e.is_stale(PeerId(1)));
    assert_eq!(net.got(2).held.len(), 2, "the observer keeps both");
    assert_eq!(net.e.table().len(), 2);
    // Back: it announces one again; the other goes with its End-of-RIB.
    net.up(1, true, false);
    net.announce(1, &["10.0.1.0/24"], 65001, 1, None);
    net.round();
    assert_eq!(net.got(2).held.len(), 2, "nothing goes before End-of-RIB");
    assert_eq!(net.e.counts(PeerId(1)).imported, 2, "stale routes count until they go");
    net.end_of_rib(1);
    net.round();
    assert!(net.path(2, "10.0.1.0/24").is_some());
    assert!(net.path(2, "10.0.2.0/24").is_none(), "not sent again: withdrawn");
    assert!(net.e.is_stale(PeerId(1)), "IPv6 has not ended yet");
    let u = bgp_wire::Update::end_of_rib(Family::IPV6_UNICAST);
    net.e.update(PeerId(1), &u, net.now);
    assert!(!net.e.is_stale(PeerId(1)));
    assert_eq!(net.e.counts(PeerId(1)).imported, 1);
}

#[test]
fn two_restarts_in_a_row_and_the_wait_running_out() {
    let mut net = Net::new();
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.0.1.0/24", "10.0.2.0/24"], 65001, 1, None);
    net.round();
    // Lost, back with one route, lost again before End-of-RIB: both stay.
    net.lost(1);
    net.up(1, true, false);
    net.announce(1, &["10.0.2.0/24"], 65001, 1, None);
    net.lost(1);
    net.round();
    assert_eq!(net.got(2).held.len(), 2);
    // Back once more, with the first only; End-of-RIB keeps just that.
    net.up(1, true, false);
    net.announce(1, &["10.0.1.0/24"], 65001, 1, None);
    net.end_of_rib(1);
    net.round();
    assert!(net.path(2, "10.0.1.0/24").is_some() && net.path(2, "10.0.2.0/24").is_none());
    // Lost again, and never back: the wait ends, everything goes.
    net.lost(1);
    net.e.stale_timeout(PeerId(1), net.now);
    net.round();
    assert!(net.got(2).held.is_empty());
    assert!(!net.e.is_stale(PeerId(1)));
    assert_eq!(
        net.e.memory().export_cache,
        0,
        "no cache entry of a gone session is left"
    );
}

#[test]
fn routes_within_an_advertised_range_carry_its_communities() {
    let filter = PrefixFilter {
        advertise: vec![rib::Advertise {
            prefix: p("10.244.0.0/16"),
            communities: vec![Community(100 << 16 | 6532)],
            large: vec![bgp_wire::attributes::LargeCommunity {
                global: 100,
                local1: 555,
                local2: 107,
            }],
        }],
        ..PrefixFilter::default()
    };
    let mut net = Net::with(None, filter);
    net.up(1, true, false);
    net.up(2, true, false);
    net.announce(1, &["10.244.1.0/26", "192.0.2.0/24"], 65001, 1, None);
    net.round();
    let within = &net.got(2).held[&(p("10.244.1.0/26"), None)];
    assert_eq!(within.communities, vec![Community(100 << 16 | 6532)]);
    assert_eq!(within.rare.large_communities.len(), 1);
    let outside = &net.got(2).held[&(p("192.0.2.0/24"), None)];
    assert!(outside.communities.is_empty() && outside.rare.large_communities.is_empty());
}

/// Peers of one class that are in step get one encoding of what they are
/// sent, and the same bytes (update groups, issue 12 item 4); a peer sent
/// something else (the route's own source, a stalled peer) encodes its
/// own, and every peer still ends up holding what it should.
#[test]
fn peers_sent_the_same_share_one_encoding() {
    let mut net = Net::new();
    for n in [1, 2, 3, 4, 5] {
        net.up(n, true, false);
    }
    let before = net.e.encodings();
    net.announce(1, &["10.244.1.0/26", "10.244.2.0/26"], 65001, 2, None);
    net.e.round();
    let tx = net.e.take_transmits();
    let to = |n: u32| tx.iter().filter(|t| t.peer == PeerId(n)).collect::<Vec<_>>();
    // Peer 1 is the source: nothing for it. Peers 2-5 get one message
    // each, and it is the same buffer.
    assert!(to(1).is_empty());
    let first = to(2)[0].bytes.clone();
    for n in 3..=5 {
        assert_eq!(to(n).len(), 1);
        assert_eq!(
            to(n)[0].bytes.as_ptr(),
            first.as_ptr(),
            "peer {n} shares peer 2's bytes"
        );
    }
    let (encoded, shared) = net.e.encodings();
    assert_eq!(
        (encoded - before.0, shared - before.1),
        (1, 3),
        "one encoding, three times shared"
    );
    for t in &tx {
        net.e.written(t.peer, t.epoch, t.bytes.len());
    }

    // Shared bytes decode to the right routes for every peer, a stalled
    // one included once its writer catches up.
    net.stall(5);
    net.announce(2, &["10.244.3.0/26"], 65002, 2, None);
    net.round();
    net.resume(5);
    for n in [1, 3, 4, 5] {
        assert_eq!(
            net.path(n, "10.244.3.0/26").as_deref(),
            Some("64512 65002 65002"),
            "peer {n}"
        );
    }
    let (_, shared_after) = net.e.encodings();
    assert!(
        shared_after >= before.1 + 3 + 2,
        "peers 3 and 4 shared peer 1's slice again"
    );
    assert_eq!(net.path(2, "10.244.3.0/26"), None, "not back to its source");
}
