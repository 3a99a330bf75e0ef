//! Reflector scale: N Calico nodes against one route reflector.
//!
//! `cargo run --release -p interop --bin rrscale -- [N,...] [tern,bird,bird1] [K,...]`
//! (defaults: 100,500,1000,2000; all three; 1). Needs root.
//!
//! Every node is a session of one light client process (see `client.rs`)
//! and announces K /26 blocks with itself as next hop; the reflector is
//! ternd, BIRD 2 or BIRD 1.6.8 (Calico's), configured as Calico configures
//! a reflector. The reflector runs in one network namespace, the nodes in
//! another. Reported per reflector:
//! - the time from the first connection until every node is Established,
//!   and until every node holds every other node's blocks (converged);
//! - at steady state, the time for one new block to reach every node;
//! - the reflector's peak RSS and CPU seconds, and the harness's own CPU.
//!
//!
//! Nodes behave as a node's BIRD would: at most 64 sessions are being
//! opened at once, an attempt that is refused, reset or left unanswered
//! for 5 s is made again after 1 s, and an Established session that drops
//! is brought up again (both are counted and reported).
//!
//! Before the reflectors, the harness runs once against a stand-in
//! reflector of its own, to show its own rate. `TERN_BENCH_RUNS=K` runs
//! each reflector K times per size, in turns, and reports its median round.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use interop::netns::{Lan, Netns};
use interop::{arg_list as list, TempDir};
use tokio::sync::{mpsc, Notify};

mod client;
mod reflector;

use client::{Event, Plan};

/// What one run measured.
#[derive(Default)]
struct Outcome {
    established: Option<Duration>,
    converged: Option<Duration>,
    steady: Option<Duration>,
    /// Announcements the nodes received, as a multiple of what they must hold.
    rss_kb: u64,
    cpu_s: f64,
    harness_cpu_s: f64,
    /// Connections the reflector closed before the session came up.
    retries: usize,
    /// Established sessions that dropped, and why the first did.
    drops: usize,
    first_drop: Option<String>,
    note: String,
}

impl Outcome {
    fn dropped(&mut self, why: String) {
        self.drops += 1;
        self.first_drop.get_or_insert(why);
    }
}

fn thread_cpu() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Plays the nodes of `plan` from namespace `ns`; with `echo`, against
/// the harness's own stand-in reflector at `plan.target` (in `ns` too).
/// `dut` is the reflector's PID, sampled before the sessions close.
fn play(
    ns: &Netns,
    plan: Plan,
    dut: Option<i32>,
    echo: bool,
    limit: Duration,
    at_steady: Box<dyn FnOnce() + Send>,
) -> Outcome {
    ns.spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let cpu0 = thread_cpu();
        let mut out = rt.block_on(async move {
            let plan = Arc::new(plan);
            if echo {
                let l = tokio::net::TcpListener::bind(plan.target)
                    .await
                    .expect("stand-in listener");
                tokio::spawn(client::echo_reflector(l, plan.clone()));
            }
            let (tx, mut rx) = mpsc::unbounded_channel();
            let steady = Arc::new(Notify::new());
            let opening = Arc::new(tokio::sync::Semaphore::new(client::OPENING));
            let start = Instant::now();
            for i in 0..plan.nodes {
                tokio::spawn(client::node(
                    i,
                    plan.clone(),
                    tx.clone(),
                    steady.clone(),
                    opening.clone(),
                ));
            }
            let mut out = Outcome::default();
            let (mut up, mut conv, mut last) = (0, 0, start);
            let deadline = tokio::time::Instant::now() + limit;
            while conv < plan.nodes {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(Event::Established)) => {
                        up += 1;
                        if up == plan.nodes {
                            out.established = Some(start.elapsed());
                        }
                    }
                    Ok(Some(Event::Retry)) => out.retries += 1,
                    Ok(Some(Event::Dropped(e))) => out.dropped(e),
                    Ok(Some(Event::Converged(t))) => {
                        conv += 1;
                        last = last.max(t);
                    }
                    Ok(Some(Event::Failed(i, e))) => {
                        out.note = format!("node {i}: {e}");
                        break;
                    }
                    Ok(Some(Event::SteadyBlock(_))) | Ok(None) => {}
                    Err(_) => {
                        out.note = format!("{conv} of {} nodes converged after {} s", plan.nodes, limit.as_secs());
                        break;
                    }
                }
            }
            if conv == plan.nodes {
                out.converged = Some(last - start);
                // Steady state: node 0 adds one block.
                if !echo {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let t0 = Instant::now();
                    steady.notify_one();
                    let (mut got, mut last) = (0, t0);
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
                    while got < plan.nodes - 1 {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(Event::SteadyBlock(t))) => {
                                got += 1;
                                last = last.max(t);
                            }
                            Ok(Some(Event::Failed(i, e))) => {
                                out.note = format!("node {i}: {e}");
                                break;
                            }
                            Ok(Some(Event::Dropped(e))) => out.dropped(e),
                            Ok(Some(_)) => {}
                            _ => {
                                out.note = format!("new block at {got} of {} nodes after 120 s", plan.nodes - 1);
                                break;
                            }
                        }
                    }
                    if got == plan.nodes - 1 {
                        out.steady = Some(last - t0);
                    }
                }
            }
            if let Some(pid) = dut {
                (out.rss_kb, out.cpu_s) = interop::usage(pid);
            }
            at_steady();
            out
        });
        out.harness_cpu_s = thread_cpu() - cpu0;
        drop(rt);
        out
    })
    .join()
    .unwrap_or_else(|_| Outcome {
        note: "harness panicked".into(),
        ..Outcome::default()
    })
}

/// Gives namespace `ns` the addresses of `nodes` nodes, in one `ip -batch`.
fn add_node_addrs(ns: &Netns, dir: &TempDir, nodes: usize) {
    let batch: String = (0..nodes)
        .map(|i| format!("addr add {}/16 dev eth0\n", client::node_addr(i)))
        .collect();
    let f = dir.write("addrs.batch", &batch);
    let out = interop::run(ns.command("ip").arg("-batch").arg(f));
    assert!(out.trim().is_empty(), "ip -batch: {out}");
}

fn limit_for(nodes: usize) -> Duration {
    Duration::from_secs(120 + nodes as u64 / 4)
}

fn run_one(which: &str, net: u8, nodes: usize, per_node: usize) -> Outcome {
    let lan = Lan::new(net, 2);
    let dir = TempDir::new(&format!("rrscale-{which}"));
    add_node_addrs(&lan.nodes[1], &dir, nodes);
    lan.nodes[0].ip(&["route", "add", "10.201.0.0/16", "via", &lan.v4(1)]);
    let dut = reflector::start(which, &dir, &lan.nodes[0], &lan.v4(0), &lan.v4(1), nodes);
    let target: SocketAddr = format!("{}:179", lan.v4(0)).parse().expect("addr");
    // The clock starts when the reflector listens.
    let listening = lan.nodes[1]
        .spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        })
        .join()
        .unwrap_or(false);
    if !listening {
        return Outcome {
            note: format!("{which} never listened: {}", dut.log().lines().last().unwrap_or("")),
            ..Outcome::default()
        };
    }
    let plan = Plan {
        target,
        nodes,
        per_node,
    };
    // TERN_RRSCALE_MEMORY: the reflector's own account of its memory at
    // steady state.
    let at_steady: Box<dyn FnOnce() + Send> = match std::env::var_os("TERN_RRSCALE_MEMORY") {
        Some(_) => {
            let (client, sock) = match which {
                "bird1" => ("/opt/tern-bird1.6/usr/sbin/birdc", "bird1.ctl"),
                "bird" => ("birdc", "bird.ctl"),
                _ => ("birdc", "tern.ctl"),
            };
            let sock = dir.path(sock);
            let which = which.to_string();
            Box::new(move || println!("{which} show memory:\n{}", interop::birdc(client, &sock, "show memory")))
        }
        None => Box::new(|| ()),
    };
    let mut o = play(&lan.nodes[1], plan, Some(dut.pid()), false, limit_for(nodes), at_steady);
    if let Some(keep) = std::env::var_os("TERN_RRSCALE_LOGS") {
        let _ = std::fs::copy(
            &dut.log,
            std::path::Path::new(&keep).join(format!("{which}-{nodes}x{per_node}.log")),
        );
    }
    if !o.note.is_empty() {
        let log = dut.log();
        if let Some(l) = log.lines().rev().find(|l| !l.trim().is_empty()) {
            o.note += &format!(" (log: {l})");
        }
    }
    o
}

/// The harness against its own stand-in reflector.
fn harness_rate(net: u8, nodes: usize, per_node: usize) -> Outcome {
    let lan = Lan::new(net, 1);
    let dir = TempDir::new("rrscale-echo");
    add_node_addrs(&lan.nodes[0], &dir, nodes);
    let plan = Plan {
        target: format!("{}:179", lan.v4(0)).parse().expect("addr"),
        nodes,
        per_node,
    };
    play(&lan.nodes[0], plan, None, true, limit_for(nodes), Box::new(|| ()))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = list(args.get(1), "100,500,1000,2000")
        .iter()
        .filter_map(|s| s.parse().ok())
        .filter(|&n| (2..=20_000).contains(&n))
        .collect();
    let duts: Vec<String> = list(args.get(2), "tern,bird,bird1");
    let per_node: Vec<usize> = list(args.get(3), "1").iter().filter_map(|s| s.parse().ok()).collect();
    if sizes.is_empty() || per_node.is_empty() || duts.iter().any(|d| !["tern", "bird", "bird1"].contains(&d.as_str()))
    {
        eprintln!("usage: rrscale [N,...] [tern,bird,bird1] [K,...]   e.g. rrscale 100,1000 tern,bird1 1,10");
        std::process::exit(2);
    }
    let runs = interop::bench_runs();
    let mut net = 140u8;
    let mut next_net = || {
        net = if net >= 189 { 140 } else { net + 1 };
        net
    };
    let mut rows = Vec::new();
    for &k in &per_node {
        for &n in &sizes {
            let h = harness_rate(next_net(), n, k);
            println!(
                "\n{n} nodes x {k} block{}: harness against its own stand-in reflector: converged in {} s, {:.2} CPU s, {:.0} routes received/s {}",
                if k == 1 { "" } else { "s" },
                secs(h.converged),
                h.harness_cpu_s,
                h.converged.map_or(0.0, |c| (n * (n - 1) * k) as f64 / c.as_secs_f64()),
                h.note
            );
            let mut rounds: Vec<Vec<Outcome>> = duts.iter().map(|_| Vec::new()).collect();
            for round in 0..runs {
                for (d, all) in duts.iter().zip(rounds.iter_mut()) {
                    if !reflector::available(d) {
                        println!("  {d}: not installed, skipped");
                        continue;
                    }
                    let o = run_one(d, next_net(), n, k);
                    println!(
                        "  {d:<6} established {} s, converged {} s, new block {} s, rss {} kB, cpu {:.2} s, harness cpu {:.2} s, {} retries, {} drops {}{}",
                        secs(o.established),
                        secs(o.converged),
                        o.steady.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64())),
                        o.rss_kb,
                        o.cpu_s,
                        o.harness_cpu_s,
                        o.retries,
                        o.drops,
                        o.first_drop.as_deref().map_or(o.note.clone(), |d| format!("{} (first drop: {d})", o.note)),
                        if runs > 1 { format!(" (round {})", round + 1) } else { String::new() }
                    );
                    all.push(o);
                }
            }
            for (d, all) in duts.iter().zip(rounds) {
                if let Some(o) = interop::median_round(all, |o| o.converged) {
                    rows.push((n, k, d.clone(), o));
                }
            }
        }
    }
    println!(
        "\n| nodes x blocks | reflector | all Established (s) | converged (s) | new block to all (ms) | peak RSS (MB) | CPU (s) | harness CPU (s) | refused connects | sessions dropped | tern time ratio | tern RSS ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (n, k, d, o) in &rows {
        let tern = rows
            .iter()
            .find(|(n2, k2, d2, _)| n2 == n && k2 == k && d2 == "tern")
            .and_then(|(.., t)| t.converged.map(|c| (c, t.rss_kb)));
        let (tr, rr) = match (tern, o.converged) {
            (Some((tc, tm)), Some(c)) if d != "tern" => (
                format!("{:.2}", tc.as_secs_f64() / c.as_secs_f64()),
                format!("{:.2}", tm as f64 / o.rss_kb.max(1) as f64),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "| {n} x {k} | {} | {} | {} | {} | {:.1} | {:.2} | {:.2} | {} | {} | {tr} | {rr} |",
            if d == "bird1" {
                "BIRD 1.6.8"
            } else if d == "bird" {
                "BIRD 2"
            } else {
                "tern"
            },
            secs(o.established),
            secs(o.converged),
            o.steady
                .map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0)),
            o.rss_kb as f64 / 1024.0,
            o.cpu_s,
            o.harness_cpu_s,
            o.retries,
            o.drops,
        );
    }
}
