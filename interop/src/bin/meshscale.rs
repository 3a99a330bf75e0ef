//! Mesh scale: N Calico nodes in a full iBGP mesh, every node a real
//! speaker in a network namespace of its own.
//!
//! `cargo run --release -p interop --bin meshscale -- [N,...] [tern,bird1]`
//! (defaults: 50,200; both). Needs root.
//!
//! The nodes sit on one bridge (10.202.0.0/16, [`Lan::wide`]) and peer as
//! Calico's node-to-node mesh peers them: every node with every other, iBGP
//! in AS 64512, a node passive towards each peer whose address sorts
//! higher as a string. Each node originates its /26 block (10.244.0.0/14,
//! node i's is the i-th) and exports only pool blocks. tern's nodes get the
//! configuration `ternd lab` gives its mesh; BIRD 1.6.8's get confd's
//! `bgp_template` (its options and timers), a direct protocol for the LAN
//! so that next hops resolve, and no kernel protocol: neither speaker
//! writes a kernel table here, so what is measured is BGP alone.
//!
//! Reported per speaker and size: the time from starting the first node
//! until every node holds every block (converged), whether all nodes still
//! hold them all 10 s later (held), and per node the peak RSS (median and
//! largest) and CPU seconds (median), plus the sum of the nodes' peak RSS.
//! `TERN_BENCH_RUNS=K` runs each K times, in turns, and reports the median.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use interop::netns::Lan;
use interop::{arg_list as list, bird16, ternd_bin, Proc, TempDir};

const AS: u32 = 64512;

/// Ctrl-C or SIGTERM: stop waiting, so that every node and namespace is
/// removed on the way out.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}
/// The timers of confd's `bgp_template`.
const TIMERS: &str = "connect delay time 2; connect retry time 5; error wait time 5,30;";

/// Node i's block: the i-th /26 of 10.244.0.0/14.
fn block(i: usize) -> String {
    let n = i as u32 * 64;
    format!("10.{}.{}.{}/26", 244 + (n >> 16), (n >> 8) & 255, n & 255)
}

const POOL: &str = "10.244.0.0/14";

fn config(which: &str, lan: &Lan, i: usize, ctl: &Path) -> String {
    let n = lan.nodes.len();
    let me = lan.v4(i);
    match which {
        "tern" => {
            let mut c = format!(
                "router_id = \"{me}\"\nasn = {AS}\nlisten = [\"{me}:179\"]\nctl_socket = \"{}\"\n",
                ctl.display()
            );
            for j in (0..n).filter(|&j| j != i) {
                let them = lan.v4(j);
                c += &format!(
                    "\n[[peer]]\nname = \"Mesh_{}\"\naddress = \"{them}\"\nasn = {AS}\nlocal_address = \"{me}\"\npassive = {}\nconnect_retry = 5\n",
                    them.replace('.', "_"),
                    them > me
                );
            }
            c += &format!(
                "\n[[static]]\nprefix = \"{}\"\nblackhole = true\n\n[[pool]]\ncidr = \"{POOL}\"\n",
                block(i)
            );
            c
        }
        "bird1" => {
            let mut c = format!(
                "router id {me};\nprotocol device {{ scan time 2; }}\n\
                 protocol direct {{ interface \"eth0\"; }}\n\
                 protocol static {{ route {} blackhole; }}\n\
                 filter calico_export_to_bgp_peers {{ if ( net ~ {POOL} ) then {{ accept; }} reject; }}\n\
                 template bgp bgp_template {{ local as {AS}; source address {me}; gateway recursive;\n\
                 import all; export filter calico_export_to_bgp_peers; add paths on; graceful restart; {TIMERS} }}\n",
                block(i)
            );
            for j in (0..n).filter(|&j| j != i) {
                let them = lan.v4(j);
                c += &format!(
                    "protocol bgp Mesh_{} from bgp_template {{ neighbor {them} as {AS};{} }}\n",
                    them.replace('.', "_"),
                    if them > me { " passive on;" } else { "" }
                );
            }
            c
        }
        other => panic!("unknown speaker {other}"),
    }
}

fn start(which: &str, lan: &Lan, dir: &TempDir, i: usize) -> (Proc, PathBuf) {
    let ctl = dir.path(&format!("n{i}.ctl"));
    let cfg = dir.write(&format!("n{i}.conf"), &config(which, lan, i, &ctl));
    let log = dir.path(&format!("n{i}.log"));
    let ns = &lan.nodes[i];
    let p = match which {
        "tern" => Proc::spawn(
            "ternd",
            ns.command(ternd_bin().to_str().expect("path"))
                .arg("--config")
                .arg(&cfg)
                .env("RUST_LOG", "warn"),
            log,
        ),
        _ => Proc::spawn(
            "bird1.6",
            ns.command(&bird16()).args(["-f", "-c"]).arg(&cfg).arg("-s").arg(&ctl),
            log,
        ),
    };
    (p, ctl)
}

/// The reply to `cmd` on a node's control socket, in BIRD's protocol
/// (which both speak): its lines up to the last, codes and all.
fn query(ctl: &Path, cmd: &str) -> Option<Vec<String>> {
    let mut s = UnixStream::connect(ctl).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    // The greeting: "0001 BIRD … ready."
    r.read_line(&mut line).ok()?;
    s.write_all(format!("{cmd}\n").as_bytes()).ok()?;
    let mut lines = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        lines.push(line.trim_end().to_string());
        let b = line.as_bytes();
        if b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b' ' {
            return Some(lines);
        }
    }
}

/// The networks a node holds (`show route count`).
fn networks(ctl: &Path) -> Option<usize> {
    let last = query(ctl, "show route count")?.pop()?;
    last.split(" for ").nth(1)?.split_whitespace().next()?.parse().ok()
}

/// A node's sessions that are not up, as `show protocols` lists them.
fn not_up(ctl: &Path) -> Vec<String> {
    query(ctl, "show protocols")
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.contains("Mesh_") && !l.contains("Established"))
        .map(|l| {
            l.get(5..)
                .unwrap_or(&l)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[derive(Default)]
struct Outcome {
    converged: Option<Duration>,
    /// Nodes holding every block 10 s after convergence.
    held: usize,
    rss_kb: Vec<u64>,
    /// Private (anonymous) resident memory at the end: RSS less the
    /// program's file pages, which nodes on one host share.
    anon_kb: Vec<u64>,
    cpu_s: Vec<f64>,
    note: String,
}

fn median<T: Copy + PartialOrd>(v: &[T]) -> Option<T> {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// The kernel's ARP table is one for all namespaces, and by default it
/// refuses entries beyond 1024 ("neighbor table overflow"): a mesh of N
/// nodes on one host needs N × (N − 1). Raised for the run, put back on
/// drop; it is the setting Calico's docs have large clusters raise too.
struct NeighLimits(Vec<(PathBuf, String)>);

impl NeighLimits {
    fn at_least(nodes: usize) -> NeighLimits {
        let need = nodes * nodes;
        let mut old = Vec::new();
        for (name, want) in [("gc_thresh3", 4 * need), ("gc_thresh2", 2 * need), ("gc_thresh1", need)] {
            let p = PathBuf::from("/proc/sys/net/ipv4/neigh/default").join(name);
            let Ok(cur) = std::fs::read_to_string(&p) else { continue };
            if cur.trim().parse::<usize>().is_ok_and(|c| c < want) && std::fs::write(&p, want.to_string()).is_ok() {
                old.push((p, cur.trim().to_string()));
            }
        }
        NeighLimits(old)
    }
}

impl Drop for NeighLimits {
    fn drop(&mut self) {
        // In the reverse order: thresh1 <= thresh2 <= thresh3 throughout.
        for (p, v) in self.0.iter().rev() {
            let _ = std::fs::write(p, v);
        }
    }
}

fn run_one(which: &str, n: usize) -> Outcome {
    let _neigh = NeighLimits::at_least(n);
    let lan = Lan::wide(n);
    let dir = TempDir::new(&format!("meshscale-{which}"));
    let t0 = Instant::now();
    let mut nodes: Vec<(Proc, PathBuf)> = (0..n).map(|i| start(which, &lan, &dir, i)).collect();
    let limit = Duration::from_secs(120 + n as u64);
    let mut out = Outcome::default();
    // Nodes are checked in turn, each until it holds every block: a node
    // that has them all keeps them in a stable mesh, and asking only the
    // first one still short keeps the harness's own load small.
    // BIRD's table also holds the LAN (its direct protocol).
    let all = n + usize::from(which == "bird1");
    let mut next = 0;
    let mut since = Instant::now();
    let mut told = false;
    while next < n {
        if networks(&nodes[next].1) == Some(all) {
            next += 1;
            since = Instant::now();
            told = false;
            continue;
        }
        // A node that keeps the harness waiting says why.
        if !told && since.elapsed() > Duration::from_secs(20) {
            told = true;
            let down = not_up(&nodes[next].1);
            println!(
                "    node {next} ({}) still short at {:.0} s; {} sessions not up{}{}",
                lan.v4(next),
                t0.elapsed().as_secs_f64(),
                down.len(),
                if down.is_empty() { "" } else { ", e.g. " },
                down.iter().take(3).cloned().collect::<Vec<_>>().join(" | ")
            );
        }
        if STOP.load(Ordering::Relaxed) {
            out.note = "interrupted".into();
            break;
        }
        if t0.elapsed() > limit {
            out.note = format!("{next} of {n} nodes converged after {} s", limit.as_secs());
            break;
        }
        if let Ok(Some(st)) = nodes[next].0.child.try_wait() {
            out.note = format!("node {next} exited: {st}; {}", last_line(&nodes[next].0));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if next == n {
        out.converged = Some(t0.elapsed());
        std::thread::sleep(Duration::from_secs(10));
        out.held = nodes.iter().filter(|(_, ctl)| networks(ctl) == Some(all)).count();
    }
    for (p, _) in &nodes {
        let (rss, cpu) = interop::usage(p.pid());
        out.rss_kb.push(rss);
        out.anon_kb.push(interop::status_kb(p.pid(), "RssAnon"));
        out.cpu_s.push(cpu);
    }
    // Every node is told to stop first: each then exits in parallel.
    for (p, _) in &nodes {
        p.signal(libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_secs(1));
    nodes.clear();
    out
}

fn last_line(p: &Proc) -> String {
    p.log()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = list(args.get(1), "50,200")
        .iter()
        .filter_map(|s| s.parse().ok())
        .filter(|&n| (2..1024).contains(&n))
        .collect();
    let which = list(args.get(2), "tern,bird1");
    if sizes.is_empty() || which.iter().any(|w| !["tern", "bird1"].contains(&w.as_str())) {
        eprintln!("usage: meshscale [N,...] [tern,bird1]   (N from 2 to 1023)");
        std::process::exit(2);
    }
    let runs = interop::bench_runs();
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let mut rows = Vec::new();
    for &n in &sizes {
        let mut rounds: Vec<Vec<Outcome>> = which.iter().map(|_| Vec::new()).collect();
        for round in 0..runs {
            for (w, all) in which.iter().zip(rounds.iter_mut()) {
                if STOP.load(Ordering::Relaxed) {
                    break;
                }
                if w == "bird1" && !Path::new(&bird16()).exists() {
                    println!("  bird1: {} not found, skipped", bird16());
                    continue;
                }
                let o = run_one(w, n);
                println!(
                    "  {n} nodes {w:<6} converged {} s, held {}/{n}, rss per node median {} kB max {} kB, cpu per node median {:.2} s {}{}",
                    o.converged.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64())),
                    o.held,
                    median(&o.rss_kb).unwrap_or(0),
                    o.rss_kb.iter().max().copied().unwrap_or(0),
                    median(&o.cpu_s).unwrap_or(0.0),
                    o.note,
                    if runs > 1 { format!(" (round {})", round + 1) } else { String::new() }
                );
                all.push(o);
            }
        }
        for (w, all) in which.iter().zip(rounds) {
            if let Some(o) = interop::median_round(all, |o| o.converged) {
                rows.push((n, w.clone(), o));
            }
        }
    }
    println!(
        "\n| nodes | speaker | converged (s) | all blocks held 10 s later | peak RSS per node, median (MB) | largest (MB) | sum over nodes (MB) | private RSS per node at the end, median (MB) | CPU per node, median (s) | note |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (n, w, o) in &rows {
        println!(
            "| {n} | {} | {} | {}/{n} | {:.1} | {:.1} | {:.0} | {:.1} | {:.2} | {} |",
            if w == "bird1" { "BIRD 1.6.8" } else { "tern" },
            o.converged.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64())),
            o.held,
            median(&o.rss_kb).unwrap_or(0) as f64 / 1024.0,
            o.rss_kb.iter().max().copied().unwrap_or(0) as f64 / 1024.0,
            o.rss_kb.iter().sum::<u64>() as f64 / 1024.0,
            median(&o.anon_kb).unwrap_or(0) as f64 / 1024.0,
            median(&o.cpu_s).unwrap_or(0.0),
            o.note
        );
    }
}
