//! Benchmark: ternd, BIRD 2, GoBGP and FRR as the device under test, one
//! after the other on the same generated routes, each in its own network
//! namespace, with the route senders in a second namespace and an observer
//! peer in a third.
//!
//! `cargo run --release -p interop --bin bench -- [all | SCENARIO,...] [DUT,...]`
//! Scenarios (default `all` = `100k,1m,10x100k,rr50x1k,div1m`): `N` one
//! eBGP peer sends N prefixes; `PxN` P eBGP peers send the same N
//! prefixes, one by shorter paths; `rrCxN` the device reflects for C iBGP
//! clients that send N prefixes each; `divN` (or `divPxN`) as `N` with
//! one attribute set per 5 prefixes, as diverse as a real full table. DUTs default to tern,bird,gobgp,frr. Needs root.
//!
//! `TERN_BENCH_RUNS=K` runs every device K times per scenario, taking
//! turns, and reports each one's median round. Device `tern-base` is the
//! ternd binary named by `TERN_BENCH_BASE` (an earlier build, to compare
//! with in the same run).
//!
//! `TERN_BENCH_THREADS=1` also prints, after each round, every busy
//! thread of the device with its CPU time and its time waiting for a CPU.
//!
//! For each device: the time from the senders' first UPDATE until the
//! observer holds the final route of every prefix, the device's peak RSS
//! and CPU seconds, and ternd's ratio to each. The generator's own rate
//! into a sink, and the observer's from a socket that hands it a table as
//! fast as it can, are printed first, to show the harness is not the
//! bottleneck.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use interop::netns::Lan;
use interop::speaker::{
    encode_routes, generate, generate_diverse, generate_range, observe, observe_until, send_routes, Session,
};
use interop::TempDir;

mod dut;

struct Result {
    name: &'static str,
    converge: Option<Duration>,
    /// Announcements the observer received per prefix it had to hold.
    per_prefix: f64,
    rss_kb: u64,
    cpu_s: f64,
    note: String,
    /// With `TERN_BENCH_THREADS`: each busy thread's CPU time, and its time
    /// runnable but waiting for a CPU (`/proc/PID/task/TID/schedstat`).
    threads: String,
}

/// One benchmark scenario.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// `peers` eBGP peers each offer the same `n` prefixes; one of them
    /// has the shortest AS paths and must win everywhere. Converged: the
    /// observer holds every prefix by the winner's path. `diverse`: one
    /// attribute set per 5 prefixes, as a real full table has
    /// ([`interop::speaker::generate_diverse`]); else 4000 sets in all.
    Feeds { peers: usize, n: usize, diverse: bool },
    /// The device reflects for `clients` iBGP clients that each send `n`
    /// prefixes of their own; the observer is one more client and must
    /// hold all of them.
    Reflector { clients: usize, n: usize },
}

impl Scenario {
    fn parse(s: &str) -> Option<Scenario> {
        let n = |x: &str| -> Option<usize> {
            let x = x.to_ascii_lowercase();
            let (num, mul) = match x.strip_suffix('k') {
                Some(v) => (v.to_string(), 1_000),
                None => match x.strip_suffix('m') {
                    Some(v) => (v.to_string(), 1_000_000),
                    None => (x.clone(), 1),
                },
            };
            num.parse::<usize>().ok().map(|v| v * mul)
        };
        if let Some(rest) = s.strip_prefix("div") {
            return match Scenario::parse(rest)? {
                Scenario::Feeds { peers, n, .. } => Some(Scenario::Feeds {
                    peers,
                    n,
                    diverse: true,
                }),
                Scenario::Reflector { .. } => None,
            };
        }
        if let Some(rest) = s.strip_prefix("rr") {
            let (c, k) = rest.split_once('x')?;
            return Some(Scenario::Reflector {
                clients: n(c)?,
                n: n(k)?,
            });
        }
        match s.split_once('x') {
            Some((p, k)) => Some(Scenario::Feeds {
                peers: n(p)?,
                n: n(k)?,
                diverse: false,
            }),
            None => Some(Scenario::Feeds {
                peers: 1,
                n: n(s)?,
                diverse: false,
            }),
        }
    }

    fn describe(&self) -> String {
        match *self {
            Scenario::Feeds { peers: 1, n, diverse } => {
                let sets = if diverse { n.div_ceil(5) } else { 4000 };
                format!("1 peer x {n}: one eBGP peer sends {n} IPv4 prefixes ({sets} attribute sets); an eBGP observer receives them")
            }
            Scenario::Feeds { peers, n, .. } => format!(
                "{peers} peers x {n}: {peers} eBGP peers send the same {n} prefixes at once, one of them by shorter paths; \
                 converged when the observer holds every prefix by that peer"
            ),
            Scenario::Reflector { clients, n } => format!(
                "reflector, {clients} clients x {n}: each iBGP client sends {n} prefixes of its own; \
                 converged when an observer client holds all {}",
                clients * n
            ),
        }
    }

    fn label(&self) -> String {
        match *self {
            Scenario::Feeds { peers, n, diverse } => format!(
                "{peers} peer{} x {}{}",
                if peers == 1 { "" } else { "s" },
                short(n),
                if diverse { ", diverse" } else { "" }
            ),
            Scenario::Reflector { clients, n } => format!("RR, {clients} clients x {}", short(n)),
        }
    }

    fn senders(&self) -> usize {
        match *self {
            Scenario::Feeds { peers, .. } => peers,
            Scenario::Reflector { clients, .. } => clients,
        }
    }

    /// Prefixes the observer must hold.
    fn want(&self) -> usize {
        match *self {
            Scenario::Feeds { n, .. } => n,
            Scenario::Reflector { clients, n } => clients * n,
        }
    }
}

fn short(n: usize) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

const OBSERVER_AS: u32 = 65100;

/// The `i`-th sender's address: all senders share one namespace.
fn sender_addr(lan: &Lan, i: usize) -> String {
    format!("10.200.{}.{}", lan.net, 101 + i)
}

fn run_one(which: &'static str, net: u8, sc: Scenario) -> Result {
    let fail = |note: String| Result {
        name: which,
        converge: None,
        per_prefix: 0.0,
        rss_kb: 0,
        cpu_s: 0.0,
        note,
        threads: String::new(),
    };
    let lan = Lan::new(net, 3);
    for i in 0..sc.senders() {
        lan.nodes[1].ip(&["addr", "add", &format!("{}/24", sender_addr(&lan, i)), "dev", "eth0"]);
    }
    let dir = TempDir::new(&format!("bench-{which}"));
    let reflector = matches!(sc, Scenario::Reflector { .. });
    let sender_as = |i: usize| if reflector { dut::DUT_AS } else { 65001 + i as u32 };
    let mut peers: Vec<dut::Peer> = (0..sc.senders())
        .map(|i| dut::Peer {
            name: format!("gen{i}"),
            addr: sender_addr(&lan, i),
            asn: sender_as(i),
        })
        .collect();
    let obs_as = if reflector { dut::DUT_AS } else { OBSERVER_AS };
    peers.push(dut::Peer {
        name: "obs".into(),
        addr: lan.v4(2),
        asn: obs_as,
    });
    let setup = dut::Setup {
        addr: lan.v4(0),
        reflector,
        peers,
    };
    let Some(dut) = dut::start(which, &dir, &lan.nodes[0], &setup) else {
        return fail("unknown device".into());
    };
    if let Some(cpus) = pinned() {
        if let Err(e) = pin(dut.pid(), &cpus) {
            return fail(format!("cannot pin to CPUs {cpus}: {e}"));
        }
    }
    let target: SocketAddr = format!("{}:179", lan.v4(0)).parse().expect("addr");
    let obs_ip: Ipv4Addr = lan.v4(2).parse().expect("ip");
    // In a feeds scenario the last sender wins: the others prepend their AS.
    let winner = sc.senders() - 1;
    let winner_as = bgp_wire::Asn(sender_as(winner));
    let want = sc.want();
    // The observer first, so the device has somewhere to send as routes arrive.
    let (obs_tx, obs_rx) = std::sync::mpsc::channel();
    let observer = lan.nodes[2].spawn(move || {
        let mut s = match Session::connect(obs_ip, target, obs_as) {
            Ok(s) => s,
            Err(e) => return Err(format!("observer: {e}")),
        };
        let _ = obs_tx.send(());
        let accept = |a: &rib::RouteAttrs| reflector || a.as_path.asns().nth(1) == Some(winner_as);
        observe_until(&mut s, want, Duration::from_secs(900), accept).map_err(|e| format!("observer: {e}"))
    });
    if obs_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        return fail("observer session never came up".into());
    }
    // Every sender connects, then all start sending at once.
    let barrier = Arc::new(Barrier::new(sc.senders() + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for i in 0..sc.senders() {
        let ip: Ipv4Addr = sender_addr(&lan, i).parse().expect("ip");
        let asn = sender_as(i);
        let routes = match sc {
            Scenario::Feeds { n, diverse: true, .. } if i == winner => generate_diverse(n, ip, &[asn]),
            Scenario::Feeds { n, diverse: true, .. } => generate_diverse(n, ip, &[asn, asn]),
            Scenario::Feeds { n, .. } if i == winner => generate_range(0, n, ip, &[asn], None),
            Scenario::Feeds { n, .. } => generate_range(0, n, ip, &[asn, asn], None),
            Scenario::Reflector { n, .. } => generate_range(i * n, n, ip, &[65001], Some(100)),
        };
        let (barrier, stop) = (barrier.clone(), stop.clone());
        senders.push(lan.nodes[1].spawn(move || {
            let s = Session::connect(ip, target, asn);
            barrier.wait();
            let mut s = s.map_err(|e| format!("sender {i}: {e}"))?;
            let drain = s.drain().map_err(|e| e.to_string())?;
            send_routes(&mut s, &routes).map_err(|e| format!("sender {i}: {e}"))?;
            // Stay up until the observer is done (keepalives for hold times
            // as short as GoBGP's 90 s).
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() > Duration::from_secs(20) {
                    s.send(&bgp_wire::Message::Keepalive).map_err(|e| e.to_string())?;
                    last = Instant::now();
                }
            }
            let _ = s.stream.shutdown(std::net::Shutdown::Both);
            let _ = drain.join();
            Ok::<(), String>(())
        }));
    }
    barrier.wait();
    let start = Instant::now();
    let done = observer.join().unwrap_or_else(|_| Err("observer panicked".into()));
    let (rss_kb, cpu_s) = interop::usage(dut.pid());
    let threads = if std::env::var_os("TERN_BENCH_THREADS").is_some() {
        thread_times(dut.pid())
    } else {
        String::new()
    };
    stop.store(true, Ordering::Relaxed);
    let mut note = done.as_ref().err().cloned().unwrap_or_default();
    for s in senders {
        if let Ok(Err(e)) = s.join() {
            if note.is_empty() {
                note = e;
            }
        }
    }
    Result {
        threads,
        name: which,
        per_prefix: done.as_ref().map_or(0.0, |o| o.announced as f64 / want.max(1) as f64),
        converge: done.ok().map(|o| o.done.saturating_duration_since(start)),
        rss_kb,
        cpu_s,
        note,
    }
}

/// `TERN_BENCH_CPUS=LIST` (as `taskset -c` takes it, e.g. `0`): the CPUs
/// the device is pinned to, to compare one core with all of them.
fn pinned() -> Option<String> {
    std::env::var("TERN_BENCH_CPUS").ok().filter(|c| !c.is_empty())
}

/// Pins every thread of `pid` to `cpus`, before the first route is sent
/// (threads it starts later inherit the affinity).
fn pin(pid: i32, cpus: &str) -> std::io::Result<()> {
    let pid = pid.to_string();
    let out = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid])
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Ok(())
}

/// How fast the generator alone pushes routes into a socket that discards them.
fn generator_rate(n: usize) -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").expect("sink");
    let addr = l.local_addr().expect("addr");
    let sink = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        while c.read(&mut buf).map(|k| k > 0).unwrap_or(false) {}
    });
    let routes = generate(n, Ipv4Addr::new(10, 0, 0, 1), 65001);
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let start = Instant::now();
    if let Ok(out) = encode_routes(&routes, &bgp_wire::SessionCtx::default()) {
        let _ = std::io::Write::write_all(&mut s, &out);
    }
    drop(s);
    let secs = start.elapsed().as_secs_f64();
    let _ = sink.join();
    n as f64 / secs
}

/// One line per thread of `pid` that ran over a millisecond: its name,
/// the time it ran and the time it was ready to run but had no CPU. What
/// shows whether a device was busy on one thread, or starved of a core.
fn thread_times(pid: i32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return String::new();
    };
    let mut lines = Vec::new();
    for t in tasks.flatten() {
        let p = t.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        // run time (ns), wait time (ns), time slices
        let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
        let v: Vec<u64> = stat.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if let [run, wait, slices, ..] = v[..] {
            if run > 1_000_000 {
                lines.push(format!(
                    "    thread {:<16} ran {:.3} s, waited for a CPU {:.3} s, {slices} slices",
                    comm.trim(),
                    run as f64 / 1e9,
                    wait as f64 / 1e9
                ));
            }
        }
    }
    lines.join("\n")
}

/// How fast the observer alone takes in a table that a socket hands it
/// as fast as it can: the least time any device's run can take.
fn observer_rate(n: usize) -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").expect("listener");
    let addr = l.local_addr().expect("addr");
    let routes = generate(n, Ipv4Addr::new(10, 0, 0, 1), 65001);
    let bytes = encode_routes(&routes, &bgp_wire::SessionCtx::default()).expect("encode");
    let feed = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        let _ = std::io::Write::write_all(&mut c, &bytes);
        // Open until the observer is done.
        let _ = c.read(&mut [0u8; 1]);
    });
    let mut s = Session::raw(Ipv4Addr::LOCALHOST, addr).expect("observer");
    let took = observe(&mut s, n, Duration::from_secs(300)).expect("observer reads");
    drop(s);
    let _ = feed.join();
    n as f64 / took.as_secs_f64()
}

/// The round with the median convergence time (a failed round counts as
/// slowest).
fn median(rounds: Vec<Result>) -> Option<Result> {
    interop::median_round(rounds, |r| r.converge)
}

const SCENARIOS: [&str; 5] = ["100k", "1m", "10x100k", "rr50x1k", "div1m"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenarios: Vec<Scenario> = match args.get(1).map(String::as_str) {
        None | Some("all") => SCENARIOS.iter().filter_map(|s| Scenario::parse(s)).collect(),
        Some(list) => list.split(',').filter_map(Scenario::parse).collect(),
    };
    if scenarios.is_empty() {
        eprintln!("usage: bench [all | SCENARIO,...] [tern,bird,gobgp,frr]\n  SCENARIO: N (1 peer x N), PxN (P peers x N), rrCxN (reflector, C clients x N), divN or divPxN (as N or PxN, one attribute set per 5 prefixes); e.g. 100k, 1m, 10x100k, rr50x1k, div1m");
        std::process::exit(2);
    }
    let duts: Vec<&'static str> = match args.get(2) {
        Some(list) => ["tern", "tern-base", "bird", "gobgp", "frr"]
            .into_iter()
            .filter(|d| list.split(',').any(|x| x == *d))
            .collect(),
        None => vec!["tern", "bird", "gobgp", "frr"],
    };
    let most = scenarios.iter().map(|s| s.want()).max().unwrap_or(0);
    println!(
        "generator into a sink: {:.0} routes/s ({most} routes)",
        generator_rate(most)
    );
    println!(
        "observer from a socket: {:.0} routes/s ({most} routes)",
        observer_rate(most)
    );
    if let Some(cpus) = pinned() {
        println!("devices pinned to CPUs {cpus} (TERN_BENCH_CPUS)");
    }
    let mut table = Vec::new();
    let mut net = 90u8;
    // This VM's speed drifts between runs: with several rounds the devices
    // take turns, and each one's median round is reported.
    let runs = interop::bench_runs();
    for sc in &scenarios {
        println!("\nscenario: {}", sc.describe());
        let mut rounds: Vec<Vec<Result>> = duts.iter().map(|_| Vec::new()).collect();
        for round in 0..runs {
            for (d, all) in duts.iter().zip(rounds.iter_mut()) {
                let r = run_one(d, net, *sc);
                net = net.wrapping_add(1).max(90);
                println!(
                    "  {:<6} {} rss {} kB cpu {:.2} s, {:.2} announcements per prefix {}{}",
                    r.name,
                    r.converge
                        .map_or("no convergence".into(), |t| format!("{:.2} s", t.as_secs_f64())),
                    r.rss_kb,
                    r.cpu_s,
                    r.per_prefix,
                    r.note,
                    if runs > 1 {
                        format!(" (round {})", round + 1)
                    } else {
                        String::new()
                    },
                );
                if !r.threads.is_empty() {
                    println!("{}", r.threads);
                }
                all.push(r);
            }
        }
        let results: Vec<Result> = rounds.into_iter().filter_map(median).collect();
        table.push((sc.label(), results));
    }
    println!(
        "\n| scenario | device | converge (s) | peak RSS (MB) | CPU (s) | announcements per prefix | tern time ratio | tern RSS ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (label, results) in &table {
        let tern = results
            .iter()
            .find(|r| r.name == "tern")
            .and_then(|r| r.converge.map(|c| (c, r.rss_kb)));
        for (i, r) in results.iter().enumerate() {
            let (tr, rr) = match (tern, r.converge) {
                (Some((tc, tm)), Some(c)) if r.name != "tern" => (
                    format!("{:.2}", tc.as_secs_f64() / c.as_secs_f64()),
                    format!("{:.2}", tm as f64 / r.rss_kb.max(1) as f64),
                ),
                _ => ("-".into(), "-".into()),
            };
            println!(
                "| {} | {} | {} | {:.1} | {:.2} | {:.2} | {tr} | {rr} |",
                if i == 0 { label.as_str() } else { "" },
                r.name,
                r.converge.map_or("-".into(), |t| format!("{:.2}", t.as_secs_f64())),
                r.rss_kb as f64 / 1024.0,
                r.cpu_s,
                r.per_prefix
            );
        }
    }
}
