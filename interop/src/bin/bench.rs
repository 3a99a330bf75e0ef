//! Benchmark: ternd, BIRD 2, GoBGP and FRR as the device under test, one
//! after the other on the same generated routes, each in its own network
//! namespace with a route generator and an observer peer in theirs.
//!
//! `cargo run --release -p interop --bin bench -- [PREFIXES] [DUT,...]`
//! (default 100000 prefixes; DUTs tern,bird,gobgp,frr). Needs root.
//!
//! For each device: the time from the generator's first UPDATE until the
//! observer holds every route, the device's peak RSS and CPU seconds, and
//! ternd's ratio to each. The generator's own rate into a sink is printed
//! first, to show it is not the bottleneck.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use interop::netns::{Lan, Netns};
use interop::speaker::{generate, observe, send_routes, Session};
use interop::{ternd_bin, Proc, TempDir};

/// Runs `f` on a thread inside network namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let path = PathBuf::from("/var/run/netns").join(&ns.name);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("netns file");
        use std::os::fd::AsRawFd;
        // SAFETY: setns(2) on this thread only, with a namespace fd we opened.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

/// Peak RSS (kB) and CPU seconds of a process.
fn usage(pid: i32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // Fields after the command: state is [0]; utime [11], stime [12] in clock ticks.
    let ticks: u64 =
        f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0) + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf is a plain query.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (hwm, ticks as f64 / hz)
}

struct Result {
    name: &'static str,
    converge: Option<Duration>,
    rss_kb: u64,
    cpu_s: f64,
    note: String,
}

fn start_dut(which: &str, dir: &TempDir, lan: &Lan) -> Option<Proc> {
    let (dut, gen, obs) = (lan.v4(0), lan.v4(1), lan.v4(2));
    let ns = &lan.nodes[0];
    Some(match which {
        "tern" => {
            let conf = format!(
                "router_id = \"{dut}\"\nasn = 64512\nlisten = [\"{dut}:179\"]\nctl_socket = \"{}\"\n\
                 [[peer]]\nname = \"gen\"\naddress = \"{gen}\"\nasn = 65001\npassive = true\nadd_path = false\n\
                 [[peer]]\nname = \"obs\"\naddress = \"{obs}\"\nasn = 65002\npassive = true\nadd_path = false\n",
                dir.path("tern.ctl").display()
            );
            let cfg = dir.write("tern.toml", &conf);
            Proc::spawn(
                "ternd",
                ns.command(ternd_bin().to_str()?)
                    .arg("--config")
                    .arg(cfg)
                    .env("RUST_LOG", "warn"),
                dir.path("ternd.log"),
            )
        }
        "bird" => {
            let conf = format!(
                "router id {dut};\nprotocol device {{ }}\nprotocol direct {{ ipv4; interface \"eth0\"; }}\n\
                 protocol bgp gen {{ local {dut} as 64512; neighbor {gen} as 65001; passive on; ipv4 {{ import all; export none; }}; }}\n\
                 protocol bgp obs {{ local {dut} as 64512; neighbor {obs} as 65002; passive on; ipv4 {{ import none; export all; }}; }}\n"
            );
            let cfg = dir.write("bird.conf", &conf);
            Proc::spawn(
                "bird",
                ns.command("bird")
                    .arg("-f")
                    .arg("-c")
                    .arg(cfg)
                    .arg("-s")
                    .arg(dir.path("bird.ctl")),
                dir.path("bird.log"),
            )
        }
        "gobgp" => {
            let nb = |a: &str, asn: u32| {
                format!("[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{a}\"\n    peer-as = {asn}\n  [neighbors.transport.config]\n    passive-mode = true\n")
            };
            let conf = format!(
                "[global.config]\n  as = 64512\n  router-id = \"{dut}\"\n  local-address-list = [\"{dut}\"]\n{}{}",
                nb(&gen, 65001),
                nb(&obs, 65002)
            );
            let cfg = dir.write("gobgpd.toml", &conf);
            Proc::spawn(
                "gobgpd",
                ns.command("gobgpd").arg("-f").arg(cfg).args([
                    "--api-hosts",
                    "127.0.0.1:50299",
                    "--pprof-disable",
                    "-l",
                    "warn",
                ]),
                dir.path("gobgpd.log"),
            )
        }
        "frr" => {
            let conf = format!(
                "frr defaults traditional\nhostname dut\nrouter bgp 64512\n bgp router-id {dut}\n no bgp ebgp-requires-policy\n \
                 neighbor {gen} remote-as 65001\n neighbor {gen} passive\n neighbor {obs} remote-as 65002\n neighbor {obs} passive\nexit\n"
            );
            interop::Frr::start_in(dir, &conf, &dut, 179, Some(ns)).proc
        }
        _ => return None,
    })
}

fn run_one(which: &'static str, net: u8, n: usize) -> Result {
    let lan = Lan::new(net, 3);
    let dir = TempDir::new(&format!("bench-{which}"));
    let Some(dut) = start_dut(which, &dir, &lan) else {
        return Result {
            name: which,
            converge: None,
            rss_kb: 0,
            cpu_s: 0.0,
            note: "unknown".into(),
        };
    };
    let (dut_addr, gen_addr, obs_addr) = (lan.v4(0), lan.v4(1), lan.v4(2));
    let target: SocketAddr = format!("{dut_addr}:179").parse().expect("addr");
    let obs_ip: Ipv4Addr = obs_addr.parse().expect("ip");
    let gen_ip: Ipv4Addr = gen_addr.parse().expect("ip");
    // The observer first, so the device has somewhere to send as routes arrive.
    let (obs_tx, obs_rx) = std::sync::mpsc::channel();
    let observer = in_ns(&lan.nodes[2], move || {
        let mut s = match Session::connect(obs_ip, target, 65002) {
            Ok(s) => s,
            Err(e) => return Err(format!("observer: {e}")),
        };
        let _ = obs_tx.send(());
        observe(&mut s, n, Duration::from_secs(600)).map_err(|e| format!("observer: {e}"))
    });
    if obs_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        return Result {
            name: which,
            converge: None,
            rss_kb: 0,
            cpu_s: 0.0,
            note: "observer session never came up".into(),
        };
    }
    let routes = generate(n, gen_ip, 65001);
    let generator = in_ns(&lan.nodes[1], move || {
        let mut s = Session::connect(gen_ip, target, 65001).map_err(|e| format!("generator: {e}"))?;
        let start = Instant::now();
        send_routes(&mut s, &routes).map_err(|e| format!("generator: {e}"))?;
        // Keep the session up until the observer is done.
        std::thread::sleep(Duration::from_secs(1));
        Ok::<(Instant, Session), String>((start, s))
    });
    let t_obs = observer.join().unwrap_or_else(|_| Err("observer panicked".into()));
    let (rss_kb, cpu_s) = usage(dut.pid());
    let note = match (&t_obs, generator.join()) {
        (Err(e), _) => e.clone(),
        (_, Ok(Err(e))) => e,
        _ => String::new(),
    };
    Result {
        name: which,
        converge: t_obs.ok(),
        rss_kb,
        cpu_s,
        note,
    }
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
    let ups = rib::updates::pack(
        bgp_wire::Family::IPV4_UNICAST,
        &routes,
        &[],
        &bgp_wire::SessionCtx::default(),
    );
    let mut out = bytes::BytesMut::new();
    for u in ups {
        let _ = bgp_wire::Message::Update(Box::new(u)).encode(&mut out, &bgp_wire::SessionCtx::default());
    }
    let _ = std::io::Write::write_all(&mut s, &out);
    drop(s);
    let secs = start.elapsed().as_secs_f64();
    let _ = sink.join();
    n as f64 / secs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let duts: Vec<&'static str> = match args.get(2) {
        Some(list) => ["tern", "bird", "gobgp", "frr"]
            .into_iter()
            .filter(|d| list.split(',').any(|x| x == *d))
            .collect(),
        None => vec!["tern", "bird", "gobgp", "frr"],
    };
    println!("generator into a sink: {:.0} routes/s ({n} routes)", generator_rate(n));
    println!("scenario: one eBGP peer sends {n} IPv4 prefixes (4000 attribute sets); an eBGP observer receives them\n");
    let mut results = Vec::new();
    for (i, d) in duts.iter().enumerate() {
        let r = run_one(d, 90 + i as u8, n);
        println!(
            "  {:<6} {} rss {} kB cpu {:.2} s {}",
            r.name,
            r.converge
                .map_or("no convergence".into(), |t| format!("{:.2} s", t.as_secs_f64())),
            r.rss_kb,
            r.cpu_s,
            r.note
        );
        results.push(r);
    }
    let tern = results
        .iter()
        .find(|r| r.name == "tern")
        .and_then(|r| r.converge.map(|c| (c, r.rss_kb)));
    println!("\n| device | converge (s) | peak RSS (MB) | CPU (s) | tern time ratio | tern RSS ratio |");
    println!("|---|---|---|---|---|---|");
    for r in &results {
        let (tr, rr) = match (tern, r.converge) {
            (Some((tc, tm)), Some(c)) if r.name != "tern" => (
                format!("{:.2}", tc.as_secs_f64() / c.as_secs_f64()),
                format!("{:.2}", tm as f64 / r.rss_kb.max(1) as f64),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {:.1} | {:.2} | {tr} | {rr} |",
            r.name,
            r.converge.map_or("-".into(), |t| format!("{:.2}", t.as_secs_f64())),
            r.rss_kb as f64 / 1024.0,
            r.cpu_s
        );
    }
    let _ = Command::new("true").status();
}
