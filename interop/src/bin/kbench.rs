//! Kernel benchmark: how fast routes learned over BGP reach the kernel's
//! table, ternd beside BIRD 2's kernel protocol on the same routes in the
//! same run, with `ip -batch` of the same routes as the floor; and how
//! long a withdrawal on the wire takes to leave the kernel.
//!
//! `cargo run --release -p interop --bin kbench -- [10k,100k]` (root).
//! `TERN_BENCH_RUNS=K` rounds per device (default 3), taking turns; the
//! median round is reported.
//!
//! The device runs in one network namespace, a generator in another
//! connects over eBGP and sends N /24s (next hop on the shared subnet);
//! the clock runs from the generator's first byte until the kernel has
//! announced the N-th route of protocol 12 (`bird`) on netlink. Both
//! devices run as a Calico node does: ternd's `[kernel]` defaults (learn,
//! persist, merge paths), BIRD's `learn` with a 2 s scan.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bgp_wire::Prefix;
use interop::kernel::{watch, Watch};
use interop::netns::{Lan, Netns};
use interop::speaker::{generate, send_routes, send_withdrawals, Session};
use interop::{ternd_bin, Proc, TempDir};

const DEVICE_AS: u32 = 64512;
const PEER_AS: u32 = 65001;
/// Withdrawals timed one by one.
const WITHDRAWALS: usize = 20;

struct Round {
    install: Duration,
    withdraw_ms: Vec<f64>,
    rss_kb: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .first()
        .map_or("10k,100k", String::as_str)
        .split(',')
        .filter_map(|s| {
            let s = s.to_ascii_lowercase();
            match s.strip_suffix('k') {
                Some(v) => v.parse::<usize>().ok().map(|v| v * 1000),
                None => s.parse().ok(),
            }
        })
        .collect();
    let runs: usize = std::env::var("TERN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    if !interop::netns::available() {
        eprintln!("kbench needs root (network namespaces)");
        std::process::exit(2);
    }
    let lan = Lan::new(60, 2);
    let (dev, gen) = (&lan.nodes[0], &lan.nodes[1]);
    let watch = watch(dev, 12);
    let mut table = Vec::new();
    for &n in &sizes {
        println!("\n{n} routes, {runs} rounds per device, taking turns");
        let routes = generate(n, lan.v4(1).parse().unwrap(), PEER_AS);
        let mut rounds: Vec<(&str, Vec<Round>)> = vec![("ip -batch", vec![]), ("tern", vec![]), ("bird", vec![])];
        for r in 0..runs {
            for (name, got) in rounds.iter_mut() {
                flush(dev);
                let round = match *name {
                    "ip -batch" => ip_batch(dev, &lan, &routes, &watch),
                    which => device(which, dev, gen, &lan, &routes, &watch),
                };
                flush(dev);
                match round {
                    Some(x) => {
                        println!(
                            "  {name:<9} {:.3} s, {:.0} routes/s, withdrawal {} (round {})",
                            x.install.as_secs_f64(),
                            n as f64 / x.install.as_secs_f64(),
                            median(&x.withdraw_ms).map_or("-".into(), |m| format!("{m:.3} ms")),
                            r + 1
                        );
                        got.push(x);
                    }
                    None => println!("  {name:<9} failed (round {})", r + 1),
                }
            }
        }
        table.push((n, rounds));
    }
    println!("\n| routes | device | install (s) | routes/s | vs ip -batch | withdrawal on the wire to kernel (ms) | peak RSS (MB) |");
    println!("|---|---|---|---|---|---|---|");
    for (n, rounds) in &table {
        let floor = med_install(&rounds[0].1);
        for (name, got) in rounds {
            let Some(t) = med_install(got) else {
                println!("| {n} | {name} | failed | | | | |");
                continue;
            };
            let w: Vec<f64> = got.iter().flat_map(|r| r.withdraw_ms.iter().copied()).collect();
            let rss = {
                let mut v: Vec<u64> = got.iter().map(|r| r.rss_kb).collect();
                v.sort_unstable();
                v[v.len() / 2]
            };
            println!(
                "| {n} | {name} | {t:.3} | {:.0} | {} | {} | {} |",
                *n as f64 / t,
                floor.map_or("-".into(), |f| format!("{:.2}x", t / f)),
                median(&w).map_or("-".into(), |m| format!("{m:.3}")),
                if rss == 0 {
                    "-".into()
                } else {
                    format!("{:.1}", rss as f64 / 1024.0)
                }
            );
        }
    }
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn med_install(v: &[Round]) -> Option<f64> {
    median(&v.iter().map(|r| r.install.as_secs_f64()).collect::<Vec<_>>())
}

fn flush(ns: &Netns) {
    let _ = interop::run(ns.command("ip").args(["-4", "route", "flush", "proto", "bird"]));
}

/// Waits until the watch has seen `n` additions; when.
fn wait_added(w: &Watch, limit: Duration) -> Option<Instant> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Some(t) = *w.added_at.lock().unwrap() {
            return Some(t);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// The floor: `ip -batch` adding the same routes.
fn ip_batch(
    ns: &Netns,
    lan: &Lan,
    routes: &[(bgp_wire::NlriEntry, std::sync::Arc<rib::RouteAttrs>)],
    w: &Watch,
) -> Option<Round> {
    let dir = TempDir::new("kbench-ip");
    let nh = lan.v4(1);
    let text: String = routes
        .iter()
        .map(|(e, _)| format!("route add {} via {nh} proto bird\n", e.prefix))
        .collect();
    let file = dir.write("routes", &text);
    w.reset(routes.len());
    let start = Instant::now();
    let ok = ns.command("ip").arg("-batch").arg(&file).status().ok()?.success();
    let done = wait_added(w, Duration::from_secs(120))?;
    ok.then(|| Round {
        install: done - start,
        withdraw_ms: Vec::new(),
        rss_kb: 0,
    })
}

fn device(
    which: &str,
    dev: &Netns,
    gen: &Netns,
    lan: &Lan,
    routes: &[(bgp_wire::NlriEntry, std::sync::Arc<rib::RouteAttrs>)],
    w: &Watch,
) -> Option<Round> {
    let dir = TempDir::new("kbench-dev");
    let (me, peer) = (lan.v4(0), lan.v4(1));
    let proc = match which {
        "tern" => {
            let conf = format!(
                "router_id = \"{me}\"\nasn = {DEVICE_AS}\nlisten = [\"{me}:179\"]\nctl_socket = \"{}\"\n[kernel]\n\
                 [[peer]]\nname = \"gen\"\naddress = \"{peer}\"\nasn = {PEER_AS}\npassive = true\nadd_path = false\n",
                dir.path("tern.ctl").display()
            );
            let cfg = dir.write("tern.toml", &conf);
            Proc::spawn(
                "ternd",
                dev.command(ternd_bin().to_str()?)
                    .arg("--config")
                    .arg(cfg)
                    .env("RUST_LOG", "warn"),
                dir.path("ternd.log"),
            )
        }
        _ => {
            let conf = format!(
                "router id {me};\nprotocol device {{ }}\n\
                 protocol kernel {{ learn; scan time 2; ipv4 {{ import all; export all; }}; }}\n\
                 protocol bgp gen {{ local {me} as {DEVICE_AS}; neighbor {peer} as {PEER_AS}; passive on; ipv4 {{ import all; export none; }}; }}\n"
            );
            let cfg = dir.write("bird.conf", &conf);
            Proc::spawn(
                "bird",
                dev.command("bird")
                    .arg("-f")
                    .arg("-c")
                    .arg(cfg)
                    .arg("-s")
                    .arg(dir.path("bird.ctl")),
                dir.path("bird.log"),
            )
        }
    };
    let local: Ipv4Addr = peer.parse().ok()?;
    let to = SocketAddr::new(me.parse().ok()?, 179);
    let mut s = gen
        .spawn(move || Session::connect(local, to, PEER_AS))
        .join()
        .ok()?
        .ok()?;
    let drain = s.drain().ok()?;
    w.reset(routes.len());
    let start = Instant::now();
    send_routes(&mut s, routes).ok()?;
    let done = wait_added(w, Duration::from_secs(300));
    let Some(done) = done else {
        eprintln!(
            "{which}: {} of {} routes reached the kernel ({} overruns)\n{}",
            w.added.load(Ordering::SeqCst),
            routes.len(),
            w.overruns.load(Ordering::SeqCst),
            proc.log()
        );
        return None;
    };
    let install = done - start;
    // Withdrawals one at a time: from the UPDATE's write to the kernel's
    // notification of the removal.
    let mut withdraw_ms = Vec::new();
    for (e, _) in routes.iter().take(WITHDRAWALS) {
        let before = w.removed.load(Ordering::SeqCst);
        let t0 = Instant::now();
        send_withdrawals(&mut s, &[e.prefix as Prefix]).ok()?;
        let end = t0 + Duration::from_secs(10);
        while w.removed.load(Ordering::SeqCst) == before && Instant::now() < end {
            std::hint::spin_loop();
        }
        if let Some(t) = *w.removed_at.lock().unwrap() {
            if w.removed.load(Ordering::SeqCst) > before {
                withdraw_ms.push(t.saturating_duration_since(t0).as_secs_f64() * 1000.0);
            }
        }
    }
    let (rss_kb, _) = interop::usage(proc.pid());
    let _ = s.stream.shutdown(std::net::Shutdown::Both);
    let _ = drain.join();
    drop(proc);
    Some(Round {
        install,
        withdraw_ms,
        rss_kb,
    })
}
