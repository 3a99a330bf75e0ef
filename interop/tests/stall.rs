//! A peer that stops reading costs ternd memory bounded by the table, not
//! by the churn, and slows nobody else down; when it reads again it gets
//! the current table, once, not the backlog of everything that changed.
//!
//! In network namespaces: ternd in one, the feeder and the stalled peer in
//! a second, the observer in a third. One feeder sends 1M routes; runs
//! with and without the stalled peer take turns, five of each, the one
//! or the other going first by turns (so that the VM's drift, and the
//! first run's cold caches, fall on both alike), and their medians are
//! compared. In the last run the table churns while the peer is stalled
//! (every route changes, a tenth goes), then it reads again.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use interop::netns::{skip_without, Lan};
use interop::speaker::{generate_range, receive_until, send_routes, send_withdrawals, Held, Session};
use interop::{usage, TempDir, Ternd};

const ROUTES: usize = 1_000_000;
/// Five: with three, one slow run without the stalled peer (0.84, 0.94
/// and 1.33 s in one CI run) made the medians differ by 28 %.
const ROUNDS: usize = 5;

const FEEDER_AS: u32 = 65001;
const OBSERVER_AS: u32 = 65100;
const STALLED_AS: u32 = 65200;

fn conf(lan: &Lan) -> String {
    let peer = |name: &str, i: usize, asn: u32| {
        format!(
            "[[peer]]\nname = \"{name}\"\naddress = \"{}\"\nasn = {asn}\npassive = true\nhold_time = 240\nadd_path = false\n",
            lan.v4(i)
        )
    };
    format!(
        "router_id = \"{me}\"\nasn = 64512\nlisten = [\"{me}:179\"]\nctl_socket = \"{{CTL}}\"\n{}{}{}",
        peer("feeder", 1, FEEDER_AS),
        peer("observer", 2, OBSERVER_AS),
        peer("stalled", 3, STALLED_AS),
        me = lan.v4(0)
    )
}

/// What one run measured.
struct Run {
    /// From the feeder's first UPDATE until the observer holds every route.
    converge: Duration,
    /// ternd's peak RSS, kB.
    peak_kb: u64,
}

fn ip(lan: &Lan, i: usize) -> Ipv4Addr {
    lan.v4(i).parse().expect("address")
}

/// One run: a fresh ternd, the observer (and the stalled peer) up, then
/// the feeder's table. With `churn`, the table then changes while the
/// peer stays stalled, and the peer reads again at the end.
fn run(net: u8, stalled: bool, churn: bool) -> Run {
    let lan = Lan::new(net, 3);
    // The feeder and the stalled peer share the second namespace.
    lan.nodes[1].ip(&["addr", "add", &format!("{}/24", lan.v4(3)), "dev", "eth0"]);
    let dir = TempDir::new("stall");
    let t = Ternd::start_in(&dir, &conf(&lan), Some(&lan.nodes[0]));
    let target: SocketAddr = format!("{}:179", lan.v4(0)).parse().expect("addr");
    let (obs_ip, feeder_ip, stalled_ip) = (ip(&lan, 2), ip(&lan, 1), ip(&lan, 3));

    // The observer: holds what ternd sends, until told what to wait for.
    let (obs_tx, obs_rx) = std::sync::mpsc::channel::<Held>();
    let (want_tx, want_rx) = std::sync::mpsc::channel::<(usize, std::collections::HashSet<u64>)>();
    let observer = lan.nodes[2].spawn(move || {
        let mut s = Session::connect(obs_ip, target, OBSERVER_AS).expect("observer session");
        let mut held = Held::default();
        let _ = obs_tx.send(held.clone());
        let mut out = Vec::new();
        // Each request: hold `n` routes, none with attributes of `old`
        // (the table before a churn), then report.
        while let Ok((n, old)) = want_rx.recv() {
            let done = |h: &Held| h.routes.len() == n && h.by_hash.keys().all(|k| !old.contains(k));
            let ok = receive_until(
                &mut s,
                &mut held,
                Duration::from_secs(60),
                Duration::from_secs(300),
                done,
            )
            .expect("observer reads");
            assert!(ok, "the observer went quiet with {} of {n} routes", held.routes.len());
            out.push(Instant::now());
            let _ = obs_tx.send(held.clone());
        }
        out
    });
    obs_rx.recv_timeout(Duration::from_secs(60)).expect("observer up");

    // The stalled peer: up, then reads nothing until told to.
    let (go_tx, go_rx) = std::sync::mpsc::channel::<Held>();
    let (stall_tx, stall_rx) = std::sync::mpsc::channel::<Held>();
    let stalled_peer = stalled.then(|| {
        let up = std::sync::mpsc::channel::<()>();
        let h = lan.nodes[1].spawn(move || {
            let mut s = Session::connect(stalled_ip, target, STALLED_AS).expect("stalled session");
            let _ = up.0.send(());
            // Read nothing; when told, read until holding exactly `want`.
            let Ok(want) = go_rx.recv() else { return };
            let mut held = Held::default();
            let same = |h: &Held| h.same_table(&want);
            let ok = receive_until(
                &mut s,
                &mut held,
                Duration::from_secs(60),
                Duration::from_secs(300),
                same,
            )
            .expect("stalled peer reads");
            assert!(ok, "the stalled peer went quiet with {} routes", held.routes.len());
            // Anything still coming would be counted too.
            let _ = receive_until(
                &mut s,
                &mut held,
                Duration::from_secs(2),
                Duration::from_secs(10),
                |_| false,
            );
            let _ = stall_tx.send(held);
        });
        up.1.recv_timeout(Duration::from_secs(60)).expect("stalled peer up");
        h
    });

    // The feeder.
    let table = generate_range(0, ROUTES, feeder_ip, &[FEEDER_AS], None);
    let churned = churn.then(|| generate_range(0, ROUTES, feeder_ip, &[FEEDER_AS, FEEDER_AS], None));
    let gone: Vec<_> = table.iter().take(ROUTES / 10).map(|(e, _)| e.prefix).collect();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<Instant>();
    let (next_tx, next_rx) = std::sync::mpsc::channel::<()>();
    let feeder = lan.nodes[1].spawn(move || {
        let mut s = Session::connect(feeder_ip, target, FEEDER_AS).expect("feeder session");
        let drain = s.drain().expect("feeder reader");
        let _ = sent_tx.send(Instant::now());
        send_routes(&mut s, &table).expect("feeder sends");
        if let Some(c) = churned {
            let _ = next_rx.recv();
            send_routes(&mut s, &c).expect("feeder churns");
            send_withdrawals(&mut s, &gone).expect("feeder withdraws");
        }
        let _ = next_rx.recv();
        let _ = s.stream.shutdown(std::net::Shutdown::Both);
        let _ = drain.join();
    });
    let start = sent_rx.recv_timeout(Duration::from_secs(60)).expect("feeder up");
    want_tx.send((ROUTES, Default::default())).expect("observer waits");
    let first = obs_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the observer converged");
    let converged = Instant::now();
    let (peak_kb, _) = usage(t.proc.pid());
    let result = Run {
        converge: converged - start,
        peak_kb,
    };
    if churn {
        // Every route changes, a tenth goes: the observer waits for the
        // new table (no route left with the old attributes).
        let old: std::collections::HashSet<u64> = first.by_hash.keys().copied().collect();
        let _ = next_tx.send(());
        want_tx.send((ROUTES - ROUTES / 10, old)).expect("observer waits");
        let now = obs_rx
            .recv_timeout(Duration::from_secs(300))
            .expect("the observer saw the churn");
        let memory = t.birdc("show memory");
        eprintln!("churned while stalled:\n{memory}");
        let (peak_after, _) = usage(t.proc.pid());
        assert!(
            peak_after * 2 <= result.peak_kb * 3,
            "the churn made ternd grow: peak {peak_after} kB, {} kB before",
            result.peak_kb
        );
        // The stalled peer reads again.
        let _ = go_tx.send(now.clone());
        let got = stall_rx
            .recv_timeout(Duration::from_secs(300))
            .expect("the stalled peer caught up");
        eprintln!(
            "stalled peer: {} announcements and {} withdrawals for a table of {} routes ({} before the churn)",
            got.announced,
            got.withdrawn,
            got.routes.len(),
            ROUTES
        );
        assert!(
            got.same_table(&now),
            "the stalled peer ends with exactly the current table"
        );
        assert!(
            got.announced + got.withdrawn <= ROUTES * 11 / 10,
            "about one table's worth, not the backlog: {} announcements, {} withdrawals",
            got.announced,
            got.withdrawn
        );
    }
    let _ = next_tx.send(());
    drop(want_tx);
    drop(go_tx);
    let _ = observer.join();
    let _ = feeder.join();
    if let Some(h) = stalled_peer {
        let _ = h.join();
    }
    result
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn a_stalled_peer_costs_neither_memory_nor_time_and_catches_up_with_one_table() {
    if skip_without(&[]) {
        return;
    }
    let (mut plain, mut stalled) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let net = 150 + 2 * round as u8;
        let last = round + 1 == ROUNDS;
        if round % 2 == 0 {
            plain.push(run(net, false, false));
            stalled.push(run(net + 1, true, last));
        } else {
            stalled.push(run(net + 1, true, last));
            plain.push(run(net, false, false));
        }
    }
    for (p, s) in plain.iter().zip(&stalled) {
        eprintln!(
            "without a stalled peer: {:.2} s, peak {} kB; with: {:.2} s, peak {} kB",
            p.converge.as_secs_f64(),
            p.peak_kb,
            s.converge.as_secs_f64(),
            s.peak_kb
        );
    }
    let ms = |v: &[Run]| median(v.iter().map(|r| r.converge.as_millis() as u64).collect());
    let kb = |v: &[Run]| median(v.iter().map(|r| r.peak_kb).collect());
    let (t0, t1, m0, m1) = (ms(&plain), ms(&stalled), kb(&plain), kb(&stalled));
    eprintln!("medians: {t0} ms / {m0} kB without, {t1} ms / {m1} kB with the stalled peer");
    assert!(
        m1 * 2 <= m0 * 3,
        "peak RSS with a stalled peer {m1} kB, without {m0} kB: more than 1.5x"
    );
    assert!(
        t1 * 10 <= t0 * 12,
        "the observer converged in {t1} ms with a stalled peer, {t0} ms without: more than 20 % slower"
    );
}
