//! Best path one step at a time, the table, loop checks, export rules and
//! attribute interning.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bgp_wire::attributes::{AsPath, Community, Origin, RawAttribute};
use bgp_wire::{Asn, ClusterId, Family, Prefix, RouterId};
use rib::{
    check_import, check_import_as, compare, export, ExportClass, IgpCost, Ineligible, Interner, Local, PeerId,
    PrefixFilter, Protocol, Reason, Route, RouteAttrs, Source, Table, Target,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rid(s: &str) -> RouterId {
    RouterId(s.parse().unwrap())
}

fn src(peer: u32, addr: &str, id: &str, ebgp: bool) -> Arc<Source> {
    Arc::new(Source {
        peer: Some(PeerId(peer)),
        protocol: Protocol::Bgp,
        peer_address: Some(ip(addr)),
        peer_router_id: rid(id),
        ebgp,
        rr_client: false,
        link: None,
        iface: None,
    })
}

fn attrs(f: impl FnOnce(&mut RouteAttrs)) -> Arc<RouteAttrs> {
    let mut a = RouteAttrs {
        origin: Some(Origin::Igp),
        as_path: AsPath::sequence([Asn(65001)]),
        next_hop: Some(ip("10.0.0.1")),
        ..RouteAttrs::default()
    };
    f(&mut a);
    Arc::new(a)
}

fn route(source: Arc<Source>, a: Arc<RouteAttrs>) -> Route {
    Route {
        source,
        path_id: 0,
        out_id: 0,
        attrs: a,
        igp_cost: IgpCost::UNKNOWN,
        since: 0,
    }
}

/// `better` beats `worse` at exactly `step`.
fn row(better: Route, worse: Route, step: Reason) {
    assert_eq!(compare(&better, &worse), (Ordering::Less, step), "{step:?}");
    assert_eq!(compare(&worse, &better), (Ordering::Greater, step), "{step:?} reversed");
}

#[test]
fn each_decision_step_in_rfc_4271_order() {
    let s1 = src(1, "10.0.0.1", "1.1.1.1", false);
    let s2 = src(2, "10.0.0.2", "2.2.2.2", false);
    let local = Arc::new(Source {
        peer: None,
        protocol: Protocol::Static,
        peer_address: None,
        peer_router_id: rid("9.9.9.9"),
        ebgp: false,
        rr_client: false,
        link: None,
        iface: None,
    });
    let base = attrs(|_| {});
    row(
        route(local, base.clone()),
        route(s1.clone(), attrs(|a| a.local_pref = Some(500))),
        Reason::Local,
    );
    row(
        route(s2.clone(), attrs(|a| a.local_pref = Some(200))),
        route(s1.clone(), base.clone()),
        Reason::LocalPref,
    );
    row(
        route(s2.clone(), base.clone()),
        route(
            s1.clone(),
            attrs(|a| a.as_path = AsPath::sequence([Asn(65001), Asn(65002)])),
        ),
        Reason::AsPathLength,
    );
    row(
        route(s2.clone(), base.clone()),
        route(s1.clone(), attrs(|a| a.origin = Some(Origin::Incomplete))),
        Reason::Origin,
    );
    row(
        route(s2.clone(), attrs(|a| a.med = Some(5))),
        route(s1.clone(), attrs(|a| a.med = Some(10))),
        Reason::Med,
    );
    row(
        route(src(2, "10.0.0.2", "2.2.2.2", true), base.clone()),
        route(s1.clone(), base.clone()),
        Reason::Ebgp,
    );
    let cheap = Route {
        igp_cost: IgpCost::known(1),
        ..route(s2.clone(), base.clone())
    };
    let dear = Route {
        igp_cost: IgpCost::known(9),
        ..route(s1.clone(), base.clone())
    };
    row(cheap, dear, Reason::IgpCost);
    row(
        route(s1.clone(), base.clone()),
        route(s2.clone(), base.clone()),
        Reason::RouterId,
    );
    // RFC 4456 §9: ORIGINATOR_ID stands in for the router ID.
    row(
        route(s2.clone(), attrs(|a| a.originator_id = Some(rid("0.0.0.1")))),
        route(s1.clone(), base.clone()),
        Reason::RouterId,
    );
    row(
        route(s2.clone(), attrs(|a| a.originator_id = Some(rid("5.5.5.5")))),
        route(
            s1.clone(),
            attrs(|a| {
                a.originator_id = Some(rid("5.5.5.5"));
                a.cluster_list = vec![ClusterId(Ipv4Addr::new(1, 1, 1, 1))].into();
            }),
        ),
        Reason::ClusterListLength,
    );
    let same_id = src(3, "10.0.0.3", "1.1.1.1", false);
    row(
        route(s1.clone(), base.clone()),
        route(same_id, base.clone()),
        Reason::PeerAddress,
    );
    let p7 = Route {
        path_id: 7,
        ..route(s1.clone(), base.clone())
    };
    let p9 = Route {
        path_id: 9,
        ..route(s1.clone(), base.clone())
    };
    row(p7, p9, Reason::PathId);
}

#[test]
fn med_counts_only_between_routes_from_the_same_neighbouring_as() {
    let s1 = src(1, "10.0.0.1", "1.1.1.1", true);
    let s2 = src(2, "10.0.0.2", "2.2.2.2", true);
    let from_65002 = attrs(|a| {
        a.as_path = AsPath::sequence([Asn(65002)]);
        a.med = Some(1000);
    });
    let from_65001 = attrs(|a| a.med = Some(1));
    // Different neighbouring ASes: MED is skipped and the router ID decides.
    assert_eq!(
        compare(&route(s1, from_65002), &route(s2, from_65001)),
        (Ordering::Less, Reason::RouterId)
    );
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

#[test]
fn the_table_keeps_every_path_and_the_best_first() {
    let mut t = Table::new();
    let s1 = src(1, "10.0.0.1", "1.1.1.1", false);
    let s2 = src(2, "10.0.0.2", "2.2.2.2", false);
    assert!(t
        .update(p("10.244.1.0/26"), route(s2.clone(), attrs(|_| {})))
        .best_changed());
    assert!(
        t.update(p("10.244.1.0/26"), route(s1.clone(), attrs(|_| {})))
            .best_changed(),
        "lower router ID takes over"
    );
    assert_eq!(t.best(&p("10.244.1.0/26")).unwrap().source.peer, Some(PeerId(1)));
    assert_eq!((t.len(), t.route_count()), (1, 2));
    // Replacing a path with a worse one hands over to the other.
    assert!(t
        .update(
            p("10.244.1.0/26"),
            route(s1.clone(), attrs(|a| a.local_pref = Some(50)))
        )
        .best_changed());
    assert_eq!(t.best(&p("10.244.1.0/26")).unwrap().source.peer, Some(PeerId(2)));
    assert_eq!(t.route_count(), 2);
    // A withdrawal of the non-best path changes nothing visible.
    let d = t
        .withdraw(&p("10.244.1.0/26"), Some(PeerId(1)), 0)
        .expect("a path went");
    assert!(!d.best_changed());
    assert!(
        t.withdraw(&p("10.9.9.0/24"), Some(PeerId(1)), 0).is_none(),
        "unknown prefix: no-op"
    );
    t.update(p("10.244.2.0/26"), route(s2.clone(), attrs(|_| {})));
    // Peer 2 goes down: both prefixes lose their best, and vanish.
    let mut changed: Vec<Prefix> = t
        .remove_peer(PeerId(2))
        .into_iter()
        .filter(|d| d.best_changed())
        .map(|d| d.prefix)
        .collect();
    changed.sort();
    assert_eq!(changed, vec![p("10.244.1.0/26"), p("10.244.2.0/26")]);
    assert!(t.is_empty());
    assert_eq!(t.route_count(), 0);
}

#[test]
fn a_change_names_the_paths_and_tells_a_repeat_from_a_change() {
    let mut t = Table::new();
    let s1 = src(1, "10.0.0.1", "1.1.1.1", false);
    let s2 = src(2, "10.0.0.2", "2.2.2.2", false);
    let set = attrs(|_| {});
    let d = t.update(p("10.244.1.0/26"), route(s2.clone(), set.clone()));
    assert_eq!(
        (d.before, d.after.map(|a| (a.peer, a.out_id))),
        (None, Some((Some(PeerId(2)), 1)))
    );
    let (old, new) = d.best.expect("a new prefix has a best");
    assert_eq!((old, new), (None, d.after));
    assert!(!d.is_noop());
    // The same path with the same attribute set again: nothing changed.
    let d = t.update(p("10.244.1.0/26"), route(s2.clone(), set.clone()));
    assert!(d.is_noop() && d.before == d.after);
    // The same path with another set: a change, though the best's sender
    // is the same.
    let d = t.update(p("10.244.1.0/26"), route(s2.clone(), attrs(|a| a.med = Some(5))));
    assert!(!d.is_noop() && d.best_changed());
    // A second path that does not win: the best stays, the change is the
    // new path, with the next identifier.
    let d = t.update(
        p("10.244.1.0/26"),
        route(s1.clone(), attrs(|a| a.local_pref = Some(50))),
    );
    assert!(!d.best_changed() && !d.is_noop());
    assert_eq!(d.after.map(|a| (a.peer, a.out_id)), Some((Some(PeerId(1)), 2)));
    // The best goes: the other path takes over, named as it is.
    let d = t
        .withdraw(&p("10.244.1.0/26"), Some(PeerId(2)), 0)
        .expect("a path went");
    let (old, new) = d.best.expect("the best changed");
    assert_eq!(
        (old.and_then(|o| o.peer), new.and_then(|n| n.peer)),
        (Some(PeerId(2)), Some(PeerId(1)))
    );
    assert_eq!(d.out_id(), 1);
}

fn local(cluster: Option<&str>) -> Local {
    Local {
        asn: Asn(64512),
        router_id: rid("10.0.0.9"),
        cluster_id: cluster.map(|c| ClusterId(c.parse().unwrap())),
    }
}

#[test]
fn loop_checks_on_import() {
    let l = local(Some("244.0.0.1"));
    let looped = attrs(|a| a.as_path = AsPath::sequence([Asn(65001), Asn(64512)]));
    assert_eq!(check_import(&l, &looped, 0), Err(Ineligible::AsLoop));
    assert_eq!(check_import(&l, &looped, 1), Ok(()), "numAllowedLocalASNumbers = 1");
    assert_eq!(
        check_import(&l, &attrs(|a| a.originator_id = Some(rid("10.0.0.9"))), 0),
        Err(Ineligible::OriginatorIsUs)
    );
    let cl = attrs(|a| a.cluster_list = vec![ClusterId("244.0.0.1".parse().unwrap())].into());
    assert_eq!(check_import(&l, &cl, 0), Err(Ineligible::ClusterLoop));
    assert_eq!(
        check_import(&local(None), &cl, 0),
        Ok(()),
        "not a reflector: no cluster check"
    );
}

fn target(peer: u32, ebgp: bool, rr_client: bool) -> Target {
    Target {
        peer: PeerId(peer),
        class: ExportClass {
            local_address6: None,
            local_address4: None,
            ebgp,
            rr_client,
            next_hop_self: false,
            local_address: ip("10.0.0.9"),
            local_as: None,
            filter: None,
        },
    }
}

#[test]
fn ibgp_split_horizon_and_route_reflection() {
    let from_client = Arc::new(Source {
        rr_client: true,
        ..(*src(1, "10.0.0.1", "1.1.1.1", false)).clone()
    });
    let from_nonclient = src(2, "10.0.0.2", "2.2.2.2", false);
    let r_client = route(from_client, attrs(|_| {}));
    let r_non = route(from_nonclient, attrs(|_| {}));
    // No reflection configured: iBGP routes stay away from iBGP peers.
    assert_eq!(
        export(&local(None), &r_client, Family::IPV4_UNICAST, &target(3, false, false)),
        None
    );
    let rr = local(Some("244.0.0.1"));
    // From a client: to clients and non-clients.
    let out = export(&rr, &r_client, Family::IPV4_UNICAST, &target(3, false, true)).unwrap();
    assert_eq!(out.originator_id, Some(rid("1.1.1.1")));
    assert_eq!(out.cluster_list, vec![ClusterId("244.0.0.1".parse().unwrap())]);
    assert_eq!(out.next_hop, Some(ip("10.0.0.1")), "iBGP keeps the next hop");
    assert!(export(&rr, &r_client, Family::IPV4_UNICAST, &target(4, false, false)).is_some());
    // From a non-client: to clients only.
    assert!(export(&rr, &r_non, Family::IPV4_UNICAST, &target(3, false, true)).is_some());
    assert_eq!(
        export(&rr, &r_non, Family::IPV4_UNICAST, &target(4, false, false)),
        None
    );
    // Never back to the sender.
    assert_eq!(
        export(&rr, &r_client, Family::IPV4_UNICAST, &target(1, false, true)),
        None
    );
    // An existing ORIGINATOR_ID is kept; our cluster goes in front.
    let reflected = route(
        Arc::new(Source {
            rr_client: true,
            ..(*src(1, "10.0.0.1", "1.1.1.1", false)).clone()
        }),
        attrs(|a| {
            a.originator_id = Some(rid("7.7.7.7"));
            a.cluster_list = vec![ClusterId("244.0.0.2".parse().unwrap())].into();
        }),
    );
    let out = export(&rr, &reflected, Family::IPV4_UNICAST, &target(3, false, true)).unwrap();
    assert_eq!(out.originator_id, Some(rid("7.7.7.7")));
    assert_eq!(out.cluster_list.len(), 2);
    assert_eq!(out.cluster_list[0], ClusterId("244.0.0.1".parse().unwrap()));
}

/// A reflected route is sent as the set it arrived with, reflection's two
/// attributes beside it, and that comes to exactly what the export rules
/// make of it; every case the rules rewrite otherwise still gets a copy.
#[test]
fn reflection_sends_the_received_set_and_means_the_same() {
    use rib::export::Exports;
    use rib::filter::Verdict;
    let client = |peer: u32, id: &str| {
        Arc::new(Source {
            rr_client: true,
            ..(*src(peer, "10.0.0.1", id, false)).clone()
        })
    };
    let sources = [
        client(1, "1.1.1.1"),
        src(2, "10.0.0.2", "2.2.2.2", false),
        src(3, "10.0.0.3", "3.3.3.3", true),
    ];
    let sets = [
        attrs(|a| a.local_pref = Some(100)),
        attrs(|_| {}),
        attrs(|a| {
            a.local_pref = Some(100);
            a.originator_id = Some(rid("7.7.7.7"));
            a.cluster_list = vec![ClusterId("244.0.0.2".parse().unwrap())].into();
        }),
        attrs(|a| {
            a.local_pref = Some(100);
            a.rare.unknown = vec![RawAttribute {
                flags: 0x80,
                type_code: 100,
                value: vec![2].into(),
            }];
        }),
        attrs(|a| {
            a.local_pref = Some(100);
            a.next_hop = None;
        }),
    ];
    let mut nhs = target(6, false, true);
    nhs.class.next_hop_self = true;
    let targets = [
        target(4, false, true),
        target(5, false, false),
        target(7, true, false),
        nhs,
    ];
    let filter = PrefixFilter::default();
    let mut shared = 0;
    for l in [local(None), local(Some("244.0.0.1"))] {
        for s in &sources {
            for a in &sets {
                for t in &targets {
                    let r = route(s.clone(), a.clone());
                    let mut ex = Exports::default();
                    let class = ex.join(t);
                    let got = ex.export(&l, &r, Family::IPV4_UNICAST, t, class, &filter, 0, Verdict::Default);
                    let want = export(&l, &r, Family::IPV4_UNICAST, t);
                    assert_eq!(got.as_ref().map(|o| o.resolved()), want, "{s:?} {a:?} {t:?}");
                    if let Some(o) = got.filter(|o| o.reflected.is_some()) {
                        assert!(Arc::ptr_eq(&o.attrs, a), "the received set itself");
                        assert_eq!(ex.sets(), 0, "and no copy of it");
                        shared += 1;
                    }
                }
            }
        }
    }
    // From a client to client and non-client, from a non-client to the
    // client, for the two sets that need no rewriting.
    assert_eq!(shared, 6);
}

#[test]
fn ebgp_export_prepends_sets_next_hop_and_drops_ibgp_only_attributes() {
    let r = route(
        src(1, "10.0.0.1", "1.1.1.1", false),
        attrs(|a| {
            a.local_pref = Some(300);
            a.med = Some(20);
            a.originator_id = Some(rid("3.3.3.3"));
            a.cluster_list = vec![ClusterId("244.0.0.1".parse().unwrap())].into();
            a.rare.unknown = vec![
                RawAttribute {
                    flags: 0xc0,
                    type_code: 99,
                    value: vec![1].into(),
                },
                RawAttribute {
                    flags: 0x80,
                    type_code: 100,
                    value: vec![2].into(),
                },
            ];
        }),
    );
    let out = export(&local(None), &r, Family::IPV4_UNICAST, &target(5, true, false)).unwrap();
    assert_eq!(out.as_path.to_string(), "64512 65001");
    assert_eq!(out.next_hop, Some(ip("10.0.0.9")));
    assert_eq!((out.local_pref, out.med, out.originator_id), (None, None, None));
    assert!(out.cluster_list.is_empty());
    assert_eq!(out.rare.unknown.len(), 1, "only the transitive one goes on");
    assert_eq!(out.rare.unknown[0].flags & 0x20, 0x20, "with the Partial bit");
    // NO_EXPORT stays inside the AS; NO_ADVERTISE goes nowhere.
    let ne = route(
        src(1, "10.0.0.1", "1.1.1.1", true),
        attrs(|a| a.communities = vec![Community::NO_EXPORT].into()),
    );
    assert_eq!(
        export(&local(None), &ne, Family::IPV4_UNICAST, &target(5, true, false)),
        None
    );
    assert!(export(&local(None), &ne, Family::IPV4_UNICAST, &target(6, false, false)).is_some());
    let na = route(
        src(1, "10.0.0.1", "1.1.1.1", true),
        attrs(|a| a.communities = vec![Community::NO_ADVERTISE].into()),
    );
    assert_eq!(
        export(&local(None), &na, Family::IPV4_UNICAST, &target(6, false, false)),
        None
    );
    // An eBGP-learned route to an iBGP peer: next hop self, LOCAL_PREF set.
    let e = route(src(1, "10.0.0.1", "1.1.1.1", true), attrs(|_| {}));
    let out = export(&local(None), &e, Family::IPV4_UNICAST, &target(6, false, false)).unwrap();
    assert_eq!((out.next_hop, out.local_pref), (Some(ip("10.0.0.9")), Some(100)));
}

#[test]
fn equal_attributes_share_one_allocation_until_unused() {
    let mut i = Interner::default();
    let make = |n: u32| RouteAttrs {
        med: Some(n),
        ..RouteAttrs::default()
    };
    let a = i.intern(make(1));
    let b = i.intern(make(1));
    assert!(Arc::ptr_eq(&a, &b));
    let c = i.intern(make(2));
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(i.len(), 2);
    drop((a, b));
    i.sweep();
    assert_eq!(i.len(), 1);
    // Many short-lived sets do not accumulate.
    for n in 0..10_000 {
        drop(i.intern(make(100 + n)));
    }
    i.sweep();
    assert_eq!(i.len(), 1);
    drop(c);
}

#[test]
fn a_route_stays_32_bytes() {
    // A table holds one per path: every byte here is a megabyte per
    // million paths.
    assert_eq!(std::mem::size_of::<Route>(), 32);
}

#[test]
fn the_table_survives_heavy_churn() {
    // Slots are reused when prefixes go: every lookup must still find its
    // own. IPv6 prefixes live apart from their slots (and their places are
    // reused too); one address under several lengths, and IPv4 addresses
    // equal to those places, must not be taken for one another.
    let mut t = Table::new();
    let prefixes: Vec<Prefix> = (0..2000u32)
        .map(|i| match i % 5 {
            0 | 1 => Prefix::v4((0x0a00_0000 + (i << 8)).into(), 24).unwrap(),
            2 => Prefix::v4(i.into(), 32).unwrap(),
            3 => Prefix::v6(((0x2001_0db8u128 << 96) | (u128::from(i) << 64)).into(), 64).unwrap(),
            _ => Prefix::v6((0x2001_0db8u128 << 96).into(), 32 + (i % 97) as u8).unwrap(),
        })
        .collect();
    let prefixes: Vec<Prefix> = {
        let mut seen = std::collections::HashSet::new();
        prefixes.into_iter().filter(|p| seen.insert(*p)).collect()
    };
    assert!(prefixes.len() > 1500);
    let sources: Vec<Arc<Source>> = (1..=3)
        .map(|n| src(n, &format!("10.0.0.{n}"), &format!("{n}.{n}.{n}.{n}"), true))
        .collect();
    for (i, pfx) in prefixes.iter().enumerate() {
        let len = 1 + i % 4;
        let r = route(
            sources[i % 3].clone(),
            attrs(|a| a.as_path = AsPath::sequence((0..len).map(|_| Asn(65001)))),
        );
        t.update(*pfx, r);
    }
    for pfx in prefixes.iter().step_by(2) {
        let peer = t.best(pfx).unwrap().source.peer;
        let d = t.withdraw(pfx, peer, 0).unwrap();
        assert!(t.release(d.slot), "an emptied slot can be released");
    }
    assert_eq!(t.len(), prefixes.len() / 2);
    for (i, pfx) in prefixes.iter().enumerate() {
        assert_eq!(t.best(pfx).is_some(), i % 2 == 1, "{pfx}");
    }
    let deltas = t.remove_peer(PeerId(2));
    assert!(deltas.iter().all(|d| d.after.is_none()));
    for d in &deltas {
        t.release(d.slot);
    }
    for (i, pfx) in prefixes.iter().enumerate() {
        let want = i % 2 == 1 && i % 3 != 1;
        assert_eq!(t.best(pfx).is_some(), want, "{pfx}");
    }
    assert_eq!(t.iter().count(), t.len());
    for (pfx, routes) in t.iter() {
        assert_eq!(t.routes(&pfx).len(), routes.len(), "{pfx}");
        assert_eq!(t.prefix_of(t.slot(&pfx).unwrap()), Some(pfx));
    }
    // Released slots are reused, and the reused ones find their prefixes.
    let before = t.slot_count();
    for pfx in prefixes.iter().step_by(2) {
        t.update(*pfx, route(sources[0].clone(), attrs(|_| {})));
    }
    assert_eq!(t.slot_count(), before, "no new slots while free ones remain");
    for pfx in prefixes.iter().step_by(2) {
        assert_eq!(t.best(pfx).unwrap().source.peer, Some(PeerId(1)), "{pfx}");
        assert_eq!(t.prefix_of(t.slot(pfx).unwrap()), Some(*pfx));
    }
    let mut listed: Vec<Prefix> = t.prefixes().collect();
    let mut want: Vec<Prefix> = prefixes.iter().copied().filter(|p| t.best(p).is_some()).collect();
    listed.sort_by_key(|p| p.to_string());
    want.sort_by_key(|p| p.to_string());
    assert_eq!(listed, want);
}

#[test]
fn a_peer_going_down_removes_each_of_its_paths() {
    let mut t = Table::new();
    let x = p("10.244.1.0/26");
    let s1 = src(1, "10.0.0.1", "1.1.1.1", true);
    let s2 = src(2, "10.0.0.2", "2.2.2.2", true);
    for (s, id) in [(s1.clone(), 1), (s1, 2), (s2, 0)] {
        t.update(
            x,
            Route {
                path_id: id,
                ..route(s, attrs(|_| {}))
            },
        );
    }
    let deltas = t.remove_peer(PeerId(1));
    assert_eq!(deltas.len(), 2, "one delta per path");
    assert_eq!((t.len(), t.route_count()), (1, 1));
    assert_eq!(t.best(&x).unwrap().source.peer, Some(PeerId(2)));
}

#[test]
fn an_emptied_slot_keeps_its_number_until_released() {
    let mut t = Table::new();
    let s1 = src(1, "10.0.0.1", "1.1.1.1", false);
    let x = p("10.244.1.0/26");
    let slot = t.update(x, route(s1.clone(), attrs(|_| {}))).slot;
    let d = t.withdraw(&x, Some(PeerId(1)), 0).unwrap();
    assert_eq!((d.slot, t.len(), t.empty_slots()), (slot, 0, 1));
    assert_eq!(t.prefix_of(slot), Some(x), "peers still find what went");
    // Back before release: the same slot.
    assert_eq!(t.update(x, route(s1.clone(), attrs(|_| {}))).slot, slot);
    assert!(!t.release(slot), "a slot with a route stays");
    t.withdraw(&x, Some(PeerId(1)), 0);
    assert!(t.release(slot));
    assert!(!t.release(slot), "twice is a no-op");
    assert_eq!((t.prefix_of(slot), t.empty_slots()), (None, 0));
}

#[test]
fn prefix_filter_pools_and_own_blocks() {
    let f = PrefixFilter {
        pools: vec![p("10.244.0.0/16"), p("fd00:244::/48")],
        blocks: vec![p("10.244.1.0/26")],
        ..PrefixFilter::default()
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
fn changes_split_by_family_in_order() {
    let a = attrs(|_| {});
    let x = bgp_wire::NlriEntry::new(p("10.0.1.0/24"));
    let six = bgp_wire::NlriEntry::new(p("fd00::/64"));
    let groups = rib::updates::by_family(vec![
        rib::Change::announce(x, a.clone()),
        rib::Change::withdraw(six),
        rib::Change::withdraw(x),
    ]);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].family, Some(Family::IPV4_UNICAST));
    assert_eq!((groups[0].announce.len(), groups[0].withdraw.len()), (1, 1));
    assert_eq!(groups[1].family, Some(Family::IPV6_UNICAST));
}

#[test]
fn a_session_with_its_own_local_as_prepends_that_as() {
    let l = local(None);
    let r = route(src(1, "10.0.0.1", "1.1.1.1", true), attrs(|_| {}));
    let mut t = target(2, true, false);
    t.class.local_as = Some(Asn(65100));
    let out = export(&l, &r, Family::IPV4_UNICAST, &t).unwrap();
    assert_eq!(out.as_path.asns().next(), Some(Asn(65100)));
    // And that AS on a received path is a loop.
    let looped = attrs(|a| a.as_path = AsPath::sequence([Asn(65001), Asn(65100)]));
    assert_eq!(check_import_as(&l, Asn(65100), &looped, 0), Err(Ineligible::AsLoop));
    assert_eq!(check_import(&l, &looped, 0), Ok(()));
}

/// A table with more distinct sets than the export cache keeps: the cache
/// starts afresh instead of growing, what it answers stays right, and the
/// rewritten sets it let go are freed.
#[test]
fn the_export_cache_is_bounded() {
    use rib::export::{Exports, CACHE_MAX};
    use rib::filter::Verdict;
    let l = local(None);
    let to = target(2, true, false);
    let mut ex = Exports::default();
    let class = ex.join(&to);
    let from = src(1, "10.0.0.1", "1.1.1.1", true);
    let filter = PrefixFilter::default();
    let mut most = 0;
    // The routes stay alive, as the table's do: the cache keys on the
    // addresses of their sets.
    let mut routes = Vec::new();
    for i in 0..CACHE_MAX as u32 + 1000 {
        let r = route(
            from.clone(),
            attrs(|a| a.as_path = AsPath::sequence([Asn(65001), Asn(i)])),
        );
        let out = ex
            .export(&l, &r, Family::IPV4_UNICAST, &to, class, &filter, 0, Verdict::Default)
            .expect("exported");
        assert_eq!(out.attrs.as_path, AsPath::sequence([Asn(64512), Asn(65001), Asn(i)]));
        most = most.max(ex.len());
        drop(out);
        routes.push(r);
    }
    assert_eq!(most, CACHE_MAX, "the cache fills up to its bound and no further");
    assert!(ex.len() <= 1000, "then starts afresh: {}", ex.len());
    assert!(
        ex.sets() <= 1000 + 1,
        "the sets only it held went with it: {}",
        ex.sets()
    );
}
