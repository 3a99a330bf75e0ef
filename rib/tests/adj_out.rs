//! What peers are sent for table changes: the best path without ADD-PATH,
//! every path with it (RFC 7911), nothing when an export is unchanged,
//! the last word when one batch touches a prefix twice; and the prefix
//! filter (pools, Calico's calico_aggr).

use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::attributes::{AsPath, Origin};
use bgp_wire::{Asn, Family, NlriEntry, PathId, Prefix, RouterId};
use rib::adj_out::{announcements, by_family, change_for, coalesce, Change};
use rib::{IgpCost, Interner, PrefixFilter, Route, RouteAttrs, Source, Table};

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn src(peer: u32, id: &str) -> Arc<Source> {
    Arc::new(Source {
        peer: Some(peer),
        peer_address: Some(id.parse().unwrap()),
        peer_router_id: RouterId(id.parse().unwrap()),
        ebgp: true,
        rr_client: false,
    })
}

struct World {
    interner: Interner,
    table: Table,
}

impl World {
    fn new() -> World {
        World {
            interner: Interner::default(),
            table: Table::new(),
        }
    }

    fn attrs(&mut self, first_as: u32, len: usize) -> Arc<RouteAttrs> {
        self.interner.intern(RouteAttrs {
            origin: Some(Origin::Igp),
            as_path: AsPath::sequence((0..len).map(|i| Asn(first_as + i as u32))),
            next_hop: Some(IpAddr::from([10, 0, 0, first_as as u8])),
            ..RouteAttrs::default()
        })
    }

    fn route(&mut self, peer: u32, path_id: u32, first_as: u32, len: usize) -> Route {
        Route {
            source: src(peer, &format!("10.0.0.{peer}")),
            path_id,
            out_id: 0,
            attrs: self.attrs(first_as, len),
            igp_cost: IgpCost::UNKNOWN,
            since: 0,
        }
    }
}

/// The export rule of these tests: everything goes as it is, except back
/// to peer 9 (the receiver), whose own routes stay with it.
fn to_peer_9(r: &Route) -> Option<Arc<RouteAttrs>> {
    (r.source.peer != Some(9)).then(|| r.attrs.clone())
}

#[test]
fn without_add_path_only_best_changes_are_sent() {
    let mut w = World::new();
    let pfx = p("10.244.1.0/26");
    let long = w.route(1, 0, 65001, 3);
    let d = w.table.update(pfx, long.clone());
    let (c, n) = change_for(&d, false, to_peer_9).expect("the first route goes out");
    assert_eq!(
        (c.clone(), n),
        (Change::announce(NlriEntry::new(pfx), long.attrs.clone()), 1)
    );

    // The same route again: nothing to send.
    let d = w.table.update(pfx, long.clone());
    assert!(change_for(&d, false, to_peer_9).is_none());

    // A worse second path: the best stays, nothing to send.
    let longer = w.route(2, 0, 65002, 5);
    let d = w.table.update(pfx, longer.clone());
    assert!(!d.best_changed());
    assert!(change_for(&d, false, to_peer_9).is_none());

    // The best goes: the other path replaces it, count unchanged.
    let d = w.table.withdraw(&pfx, Some(1), 0).unwrap();
    let (c, n) = change_for(&d, false, to_peer_9).unwrap();
    assert_eq!((c.attrs.unwrap(), n), (longer.attrs.clone(), 0));

    // The receiver's own route becomes best: what it had is withdrawn.
    let own = w.route(9, 0, 65009, 1);
    let d = w.table.update(pfx, own);
    let (c, n) = change_for(&d, false, to_peer_9).unwrap();
    assert_eq!((c, n), (Change::withdraw(NlriEntry::new(pfx)), -1));
}

#[test]
fn with_add_path_every_path_goes_under_its_own_identifier() {
    let mut w = World::new();
    let pfx = p("10.244.1.0/26");
    let (a, b) = (w.route(1, 0, 65001, 3), w.route(2, 0, 65002, 5));
    let d1 = w.table.update(pfx, a.clone());
    let d2 = w.table.update(pfx, b.clone());
    let (c1, _) = change_for(&d1, true, to_peer_9).unwrap();
    let (c2, n2) = change_for(&d2, true, to_peer_9).expect("a non-best path goes too");
    assert_eq!(c1.entry.path_id, Some(PathId(1)));
    assert_eq!((c2.entry.path_id, n2), (Some(PathId(2)), 1));
    assert_eq!(c2.attrs.unwrap(), b.attrs);

    // The full table for a new session: both paths, best first.
    let all: Vec<Change> = announcements(pfx, w.table.routes(&pfx), true, to_peer_9).collect();
    let ids: Vec<Option<PathId>> = all.iter().map(|c| c.entry.path_id).collect();
    assert_eq!(ids, vec![Some(PathId(1)), Some(PathId(2))]);
    // Without ADD-PATH, the best only.
    assert_eq!(announcements(pfx, w.table.routes(&pfx), false, to_peer_9).count(), 1);

    // Peer 1 replaces its path: same identifier, new attributes.
    let a2 = w.route(1, 0, 65001, 4);
    let d = w.table.update(pfx, a2.clone());
    let (c, n) = change_for(&d, true, to_peer_9).unwrap();
    assert_eq!((c.entry.path_id, c.attrs.unwrap(), n), (Some(PathId(1)), a2.attrs, 0));

    // Peer 1 withdraws: path 1 is withdrawn; path 2 is unaffected even
    // though it became best.
    let d = w.table.withdraw(&pfx, Some(1), 0).unwrap();
    assert!(d.best_changed());
    let (c, n) = change_for(&d, true, to_peer_9).unwrap();
    assert_eq!(
        (c, n),
        (
            Change::withdraw(NlriEntry {
                path_id: Some(PathId(1)),
                prefix: pfx
            }),
            -1
        )
    );

    // A new path takes the lowest free identifier.
    let r3 = w.route(3, 0, 65003, 2);
    let d = w.table.update(pfx, r3);
    assert_eq!(d.after.unwrap().out_id, 1);
}

#[test]
fn one_peer_with_several_paths_going_down() {
    let mut w = World::new();
    let pfx = p("10.244.1.0/26");
    let (a, b, c) = (
        w.route(1, 1, 65001, 2),
        w.route(1, 2, 65001, 3),
        w.route(2, 0, 65002, 4),
    );
    for r in [a, b, c.clone()] {
        w.table.update(pfx, r);
    }
    let deltas = w.table.remove_peer(1);
    assert_eq!(deltas.len(), 2, "one delta per path");
    let mut sent: Vec<Change> = deltas
        .iter()
        .filter_map(|d| change_for(d, false, to_peer_9).map(|x| x.0))
        .collect();
    coalesce(&mut sent);
    assert_eq!(sent, vec![Change::announce(NlriEntry::new(pfx), c.attrs)]);
    assert_eq!((w.table.len(), w.table.route_count()), (1, 1));
}

#[test]
fn the_table_survives_heavy_churn() {
    // Slots move when prefixes go: every lookup must still find its own.
    let mut w = World::new();
    let prefixes: Vec<Prefix> = (0..2000u32)
        .map(|i| Prefix::v4((0x0a00_0000 + (i << 8)).into(), 24).unwrap())
        .collect();
    for (i, pfx) in prefixes.iter().enumerate() {
        let r = w.route(1 + (i % 3) as u32, 0, 65001, 1 + i % 4);
        w.table.update(*pfx, r);
    }
    for pfx in prefixes.iter().step_by(2) {
        let peer = w.table.best(pfx).unwrap().source.peer;
        assert!(w.table.withdraw(pfx, peer, 0).is_some());
    }
    assert_eq!(w.table.len(), 1000);
    for (i, pfx) in prefixes.iter().enumerate() {
        assert_eq!(w.table.best(pfx).is_some(), i % 2 == 1, "{pfx}");
    }
    let deltas = w.table.remove_peer(2);
    assert!(deltas.iter().all(|d| d.after.is_none()));
    for (i, pfx) in prefixes.iter().enumerate() {
        let want = i % 2 == 1 && i % 3 != 1;
        assert_eq!(w.table.best(pfx).is_some(), want, "{pfx}");
    }
    assert_eq!(w.table.iter().count(), w.table.len());
}

#[test]
fn coalescing_keeps_the_last_word() {
    let mut w = World::new();
    let a = w.attrs(65001, 1);
    let (x, y) = (NlriEntry::new(p("10.0.1.0/24")), NlriEntry::new(p("10.0.2.0/24")));
    let mut changes = vec![
        Change::announce(x, a.clone()),
        Change::announce(y, a.clone()),
        Change::withdraw(x),
    ];
    coalesce(&mut changes);
    assert_eq!(changes, vec![Change::withdraw(x), Change::announce(y, a.clone())]);
    let six = NlriEntry::new(p("fd00::/64"));
    let groups = by_family(vec![Change::announce(x, a), Change::withdraw(six)]);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[1].family, Some(Family::IPV6_UNICAST));
}

#[test]
fn prefix_filter_pools_and_own_blocks() {
    let f = PrefixFilter {
        pools: vec![p("10.244.0.0/16"), p("fd00:244::/48")],
        blocks: vec![p("10.244.1.0/26")],
    };
    assert!(f.allows(&p("10.244.1.0/26")), "the block itself");
    assert!(
        !f.allows(&p("10.244.1.7/32")),
        "nothing more specific than an own block"
    );
    assert!(f.allows(&p("10.244.2.0/26")), "another node's block");
    assert!(f.allows(&p("10.244.2.9/32")), "another node's borrowed address");
    assert!(!f.allows(&p("10.245.0.0/26")), "outside every pool");
    assert!(f.allows(&p("fd00:244:0:1::/122")));
    assert!(
        PrefixFilter::default().allows(&p("192.0.2.0/24")),
        "no pools: everything"
    );
}

#[test]
fn the_net_best_change_of_a_batch() {
    let mut w = World::new();
    let (x, y) = (p("10.244.1.0/26"), p("10.244.2.0/26"));
    let (a, b, c) = (
        w.route(1, 0, 65001, 3),
        w.route(2, 0, 65002, 2),
        w.route(3, 0, 65003, 1),
    );
    let first = w.table.update(x, a.clone());
    // One batch: x gets better twice, y comes and goes.
    let batch = vec![
        w.table.update(x, b),
        w.table.update(y, a.clone()),
        w.table.update(x, c.clone()),
        w.table.withdraw(&y, Some(1), 0).unwrap(),
    ];
    let net = rib::adj_out::net_best(&batch);
    assert_eq!(net.len(), 1, "y ended where it began: {net:?}");
    let (old, new) = net[0].best.clone().unwrap();
    assert_eq!(old.unwrap().attrs, first.after.unwrap().attrs);
    assert_eq!(new.unwrap().attrs, c.attrs);
}
