//! A peer that sends 100k routes and drops its session, 1000 times: ternd
//! gives back what each session took. Its RSS after the last flap is
//! within 5 % of its RSS after the first, and `show memory` counts exactly
//! what the live sessions need (calico#11137 is this failure in bird6).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use interop::speaker::{generate_range, send_routes, Session};
use interop::{status_kb, wait_for, TempDir, Ternd};

const FLAPS: usize = 1000;
const ROUTES: usize = 100_000;

fn conf(port: u16) -> String {
    format!(
        r#"router_id = "127.0.62.1"
asn = 64512
listen = ["127.0.62.1:{port}"]
ctl_socket = "{{CTL}}"

[[peer]]
name = "flapper"
address = "127.0.62.2"
asn = 65001
passive = true
error_wait = [0, 0]

[[peer]]
name = "observer"
address = "127.0.62.3"
asn = 65002
passive = true

[[static]]
prefix = "10.244.1.0/26"
blackhole = true
"#
    )
}

/// `show memory`'s counts, by name (sizes left out: they are the part
/// that may legitimately vary).
fn counts(t: &Ternd) -> Vec<(String, u64)> {
    t.birdc("show memory")
        .lines()
        .filter_map(|l| {
            let (name, n) = l.trim().rsplit_once(' ')?;
            let name = name.trim().trim_end_matches(':').to_string();
            let n = n.parse::<u64>().ok()?;
            (!name.ends_with("kB") && !name.contains("tables") && name != "Total").then_some((name, n))
        })
        .collect()
}

fn count(c: &[(String, u64)], name: &str) -> u64 {
    c.iter()
        .find(|(n, _)| n == name)
        .map_or_else(|| panic!("no {name} in {c:?}"), |x| x.1)
}

fn imported(t: &Ternd) -> Option<u64> {
    let out = t.birdc("show protocols all flapper");
    let l = out.lines().find(|l| l.contains("Routes:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// Connects, retrying while ternd still holds the last session down.
fn connect(port: u16, asn: u32) -> Session {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Session::connect(
            Ipv4Addr::new(127, 0, 62, 2),
            format!("127.0.62.1:{port}").parse().unwrap(),
            asn,
        ) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot connect: {e}"),
        }
    }
}

#[test]
fn a_thousand_flaps_of_a_100k_route_session_leave_nothing_behind() {
    if interop::missing(&["birdc"]) {
        return;
    }
    let port = 11862;
    let dir = TempDir::new("soak");
    let t = Ternd::start(&dir, &conf(port));
    let pid = t.proc.pid();
    // An observer that takes every route and every withdrawal.
    let obs = Session::connect(
        Ipv4Addr::new(127, 0, 62, 3),
        format!("127.0.62.1:{port}").parse().unwrap(),
        65002,
    )
    .expect("observer session");
    let obs_drain = obs.drain().expect("observer reader");
    let obs_ka = obs.keepalives().expect("observer keepalives");
    let nh = Ipv4Addr::new(127, 0, 62, 2);
    // A few tables that differ in their attribute sets, so churned sets
    // must really go, not merely be found again.
    let tables: Vec<_> = (0..4)
        .map(|k| generate_range(0, ROUTES, nh, &vec![65001; k + 1], None))
        .collect();
    let idle = counts(&t);
    let mut first: Option<(u64, Vec<(String, u64)>)> = None;
    let started = Instant::now();
    for flap in 0..FLAPS {
        let mut s = connect(port, 65001);
        let drain = s.drain().expect("reader");
        send_routes(&mut s, &tables[flap % tables.len()]).expect("send");
        wait_for(Duration::from_secs(30), "every route imported", || {
            (imported(&t) == Some(ROUTES as u64)).then_some(())
        });
        let _ = s.stream.shutdown(std::net::Shutdown::Both);
        drop(s);
        let _ = drain.join();
        // Everything back where it was before: routes, sets, caches, and
        // the observer told (no backlog, nothing unwritten).
        wait_for(Duration::from_secs(30), "the session's routes gone", || {
            (counts(&t) == idle).then_some(())
        });
        // Let the writers hand back their buffers.
        std::thread::sleep(Duration::from_millis(50));
        let rss = status_kb(pid, "VmRSS");
        if std::env::var_os("SOAK_VERBOSE").is_some() {
            let out = std::process::Command::new(interop::ternd_bin().with_file_name("ternc"))
                .arg("--socket")
                .arg(&t.ctl)
                .args(["--json", "show", "memory"])
                .output()
                .expect("ternc");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            eprintln!("flap {}: RSS {rss} kB, heap in use {} B", flap + 1, v["heap_in_use"]);
        }
        let c = counts(&t);
        match &first {
            None => {
                eprintln!("after the first flap: RSS {rss} kB, {c:?}");
                first = Some((rss, c));
            }
            Some((rss1, c1)) => {
                assert_eq!(&c, c1, "flap {}: the engine holds more than after the first", flap + 1);
                if flap % 200 == 199 || std::env::var_os("SOAK_VERBOSE").is_some() {
                    eprintln!("after flap {}: RSS {rss} kB ({:+.1} %)", flap + 1, pct(rss, *rss1));
                }
            }
        }
    }
    let (rss1, c1) = first.expect("flapped");
    let rss = status_kb(pid, "VmRSS");
    eprintln!(
        "{FLAPS} flaps of {ROUTES} routes in {:.0?}: RSS {rss1} kB after the first, {rss} kB after the last ({:+.1} %)",
        started.elapsed(),
        pct(rss, rss1)
    );
    assert!(
        rss * 100 <= rss1 * 105,
        "RSS grew from {rss1} kB to {rss} kB over {FLAPS} flaps"
    );
    // Exactly what the live sessions need: the static route, its set, and
    // its export to the observer; nothing of the flapping session.
    assert_eq!(count(&c1, "Prefixes"), 1);
    assert_eq!(count(&c1, "Attribute sets"), 1);
    assert_eq!(count(&c1, "Export cache"), 1);
    assert_eq!(count(&c1, "Export sets"), 1);
    assert_eq!(count(&c1, "Empty slots"), 0);
    assert_eq!(count(&c1, "Backlog"), 0);
    assert_eq!(c1, idle, "the same as before the first flap");
    let _ = obs.stream.shutdown(std::net::Shutdown::Both);
    let _ = (obs_drain.join(), obs_ka.join());
}

fn pct(now: u64, then: u64) -> f64 {
    (now as f64 / then.max(1) as f64 - 1.0) * 100.0
}
