//! The engine gives back every byte a session took. An allocator that
//! counts live bytes wraps the system's; after each flap of a 5000-route
//! session (up, every route, down) the engine holds exactly as many bytes
//! as after the first, whichever receivers it has.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bgp_wire::attributes::{AsPath, Origin};
use bgp_wire::{Asn, Family, NlriEntry, Prefix, RouterId, SessionCtx};
use rib::updates::pack;
use rib::{Engine, Local, LocalRoute, PeerId, PrefixFilter, RouteAttrs, Session};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The counter counts every thread: the tests of this file take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn session(n: u32, add_path: bool) -> Session {
    Session {
        families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        ctx: SessionCtx {
            add_path: if add_path {
                vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            } else {
                vec![]
            },
            ..SessionCtx::default()
        },
        ebgp: true,
        peer_address: format!("10.0.0.{n}").parse().unwrap(),
        peer_router_id: RouterId(format!("10.0.0.{n}").parse().unwrap()),
        local_address: "10.0.0.100".parse().unwrap(),
        local_address6: None,
        local_address4: None,
        rr_client: false,
        next_hop_self: false,
        allow_local_as: 0,
        preserved: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        link: None,
        local_as: None,
        iface: None,
        import: None,
        export: None,
        enhanced_refresh: false,
        max_prefixes: None,
    }
}

/// Writes (acknowledges) whatever the engine produced, except for `stalled`.
fn write_all(e: &mut Engine, stalled: Option<PeerId>) {
    loop {
        let tx = e.take_transmits();
        if tx.is_empty() {
            return;
        }
        for t in tx {
            if Some(t.peer) != stalled {
                e.written(t.peer, t.epoch, t.bytes.len());
            }
        }
    }
}

/// Flaps a 5000-route session 30 times next to `receivers`; returns the
/// live bytes after each flap.
fn flaps(receivers: &[(u32, bool)], stalled: Option<u32>) -> Vec<isize> {
    let now = Instant::now();
    let local = Local {
        asn: Asn(64512),
        router_id: RouterId("10.0.0.100".parse().unwrap()),
        cluster_id: None,
    };
    let mut e = Engine::new(local, PrefixFilter::default(), now, 0);
    e.add_local("10.244.1.0/26".parse().unwrap(), LocalRoute::default(), now);
    for &(n, add_path) in receivers {
        e.peer_up(PeerId(n), u64::from(n), session(n, add_path), now);
    }
    let stalled = stalled.map(PeerId);
    write_all(&mut e, stalled);
    let mut live = Vec::with_capacity(30);
    for flap in 0..30u32 {
        e.peer_up(PeerId(1), 100 + u64::from(flap), session(1, false), now);
        // Attribute sets that differ from flap to flap: the old ones must go.
        let routes: Vec<(NlriEntry, Arc<RouteAttrs>)> = (0..5000u32)
            .map(|i| {
                let a = Arc::new(RouteAttrs {
                    origin: Some(Origin::Igp),
                    as_path: AsPath::sequence([Asn(65001 + (i % 300)), Asn(66000 + flap % 3)]),
                    next_hop: Some("10.0.0.1".parse().unwrap()),
                    ..RouteAttrs::default()
                });
                (
                    NlriEntry::new(Prefix::v4((0x1400_0000 + (i << 8)).into(), 24).unwrap()),
                    a,
                )
            })
            .collect();
        for u in pack(Family::IPV4_UNICAST, &routes, &[], &SessionCtx::default()) {
            e.update(PeerId(1), &u, now);
        }
        drop(routes);
        e.round();
        write_all(&mut e, stalled);
        e.peer_down(PeerId(1), now);
        e.round();
        write_all(&mut e, stalled);
        e.memory();
        live.push(LIVE.load(Ordering::Relaxed));
    }
    live
}

fn assert_flat(what: &str, live: &[isize]) {
    assert!(
        live.iter().all(|b| *b == live[1]),
        "{what}: live bytes after each flap: {live:?}"
    );
}

#[test]
fn a_flapping_session_leaves_not_a_byte_behind() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    assert_flat("one receiver", &flaps(&[(9, false)], None));
    assert_flat("ADD-PATH receivers", &flaps(&[(8, true), (9, false)], None));
}

#[test]
fn a_stalled_receiver_holds_a_bit_per_prefix_not_the_churn() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // Peer 9 never writes: what it is owed is a bit per prefix, the same
    // after every flap however often the prefixes changed meanwhile.
    let live = flaps(&[(8, false), (9, false)], Some(9));
    assert_flat("a stalled receiver", &live[2..]);
}
