//! `metrics_listen`: a scrape of `/metrics` while two ternds exchange
//! routes says what `show protocols all` and `show route count` say, and
//! counts the session's messages and a flap; during a `ternd lab` run, a
//! reflector's scrape agrees with its `show protocols all` for every client.

use std::io::{Read, Write};
use std::time::Duration;

use interop::{wait_for, TempDir, Ternd};

const PORT: u16 = 11813;

fn node(dir: &TempDir, me: &str, peer: &str, extra: &str, statics: &[&str]) -> Ternd {
    let statics: String = statics
        .iter()
        .map(|p| format!("[[static]]\nprefix = \"{p}\"\nblackhole = true\nexport = true\n"))
        .collect();
    Ternd::start(
        dir,
        &format!(
            "router_id = \"{me}\"\nasn = 64512\nlisten = [\"{me}:{PORT}\"]\nctl_socket = \"{{CTL}}\"\n{extra}{statics}\
             [[peer]]\nname = \"peer\"\naddress = \"{peer}\"\nport = {PORT}\nlocal_address = \"{me}\"\nconnect_retry = 1\n\
             error_wait = [1, 1]\n"
        ),
    )
}

fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("metrics listener");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    out
}

/// The value of the series `name{labels}` (labels as written, sorted).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// `Routes:         N imported, M exported, P preferred`, while Established.
fn routes(t: &Ternd) -> Option<(f64, f64)> {
    let out = t.birdc("show protocols all peer");
    let line = out.lines().find(|l| l.contains("Routes:"))?;
    let n: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    Some((n[0], n[1]))
}

#[test]
fn a_scrape_agrees_with_show_protocols_and_counts_a_flap() {
    let (da, db) = (TempDir::new("metrics-a"), TempDir::new("metrics-b"));
    let metrics = "127.0.36.1:11814";
    let a = node(
        &da,
        "127.0.36.1",
        "127.0.36.2",
        &format!("metrics_listen = \"{metrics}\"\n"),
        &["10.36.1.0/24", "fd00:36::/64"],
    );
    let b = node(
        &db,
        "127.0.36.2",
        "127.0.36.1",
        "",
        &["10.36.2.0/24", "10.36.3.0/24", "fd00:36:2::/64"],
    );
    wait_for(Duration::from_secs(30), "B's three routes at A", || {
        (routes(&a)?.0 == 3.0).then_some(())
    });
    let text = scrape(metrics);
    let (imported, exported) = routes(&a).expect("Established");
    assert_eq!(value(&text, "tern_peer_up{peer=\"peer\"}"), 1.0);
    assert_eq!(value(&text, "tern_peer_state{peer=\"peer\"}"), 6.0);
    assert_eq!(value(&text, "tern_peer_prefixes_accepted{peer=\"peer\"}"), imported);
    assert_eq!(value(&text, "tern_peer_prefixes_advertised{peer=\"peer\"}"), exported);
    assert_eq!(value(&text, "tern_peer_prefixes_received_total{peer=\"peer\"}"), 3.0);
    assert!(value(&text, "tern_peer_updates_total{peer=\"peer\",direction=\"Received\"}") >= 2.0);
    assert!(value(&text, "tern_peer_updates_total{peer=\"peer\",direction=\"Sent\"}") >= 2.0);
    assert!(value(&text, "tern_peer_established_since_seconds{peer=\"peer\"}") > 1.7e9);
    // Two IPv4 and one IPv6 prefix of B, one of each of A's own.
    assert_eq!(value(&text, "tern_rib_prefixes{family=\"ipv4-unicast\"}"), 3.0);
    assert_eq!(value(&text, "tern_rib_prefixes{family=\"ipv6-unicast\"}"), 2.0);
    let count = a.birdc("show route count");
    assert!(count.contains("for 5 networks"), "{count}");
    assert!(value(&text, "tern_process_resident_memory_bytes") > 1e6);
    assert_eq!(value(&text, "tern_peer_flaps_total{peer=\"peer\"}"), 0.0);

    // A ends the session (disable: Cease): a flap, a NOTIFICATION sent,
    // B's routes gone; enabled again, it is back.
    let out = a.birdc("disable peer");
    assert!(out.contains("peer: disabled"), "{out}");
    wait_for(Duration::from_secs(20), "the session down in the metrics", || {
        let t = scrape(metrics);
        (value(&t, "tern_peer_up{peer=\"peer\"}") == 0.0).then_some(())
    });
    let text = scrape(metrics);
    assert_eq!(value(&text, "tern_peer_flaps_total{peer=\"peer\"}"), 1.0);
    assert_eq!(value(&text, "tern_peer_established_since_seconds{peer=\"peer\"}"), 0.0);
    assert_eq!(value(&text, "tern_rib_prefixes{family=\"ipv4-unicast\"}"), 1.0);
    assert_eq!(value(&text, "tern_peer_prefixes_accepted{peer=\"peer\"}"), 0.0);
    assert_eq!(
        value(&text, "tern_peer_notifications_total{peer=\"peer\",direction=\"Sent\"}"),
        1.0,
        "our Cease"
    );
    a.birdc("enable peer");
    wait_for(Duration::from_secs(30), "the session back", || {
        let t = scrape(metrics);
        (value(&t, "tern_peer_up{peer=\"peer\"}") == 1.0
            && value(&t, "tern_peer_prefixes_accepted{peer=\"peer\"}") == 3.0)
            .then_some(())
    });
    assert_eq!(value(&scrape(metrics), "tern_peer_flaps_total{peer=\"peer\"}"), 1.0);
    drop(b);
    // The Grafana dashboard asks only for series that exist.
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../contrib/grafana/tern.json")).unwrap();
    let names = regex::Regex::new(r"tern_[a-z_]+").unwrap();
    let text = scrape(metrics);
    for m in names.find_iter(&dashboard) {
        let name = m.as_str();
        assert!(
            text.contains(&format!("\n{name}")),
            "the dashboard's {name} is not served"
        );
    }
    // Anything but /metrics is not found.
    let mut s = std::net::TcpStream::connect(metrics).unwrap();
    s.write_all(b"GET /other HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
}

#[test]
fn during_a_lab_run_the_reflectors_scrape_agrees_with_show_protocols() {
    let nodes = 6;
    let mut child = std::process::Command::new(interop::ternd_bin())
        .args(["lab", "--topology", "rr", "--nodes", &nodes.to_string()])
        .args(["--net", "101.5", "--port", "12305", "--metrics-port", "12320"])
        .args(["--duration", "15", "--timeout", "12"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ternd lab runs");
    let ctl = std::env::temp_dir()
        .join(format!("ternd-lab-{}", child.id()))
        .join("node1.ctl");
    let metrics = "127.101.5.1:12320";
    // Converged: the first reflector holds every node's block.
    wait_for(Duration::from_secs(12), "the lab to converge", || {
        let count = interop::birdc("birdc", &ctl, "show route count");
        count.contains(&format!("for {nodes} networks")).then_some(())
    });
    let text = scrape(metrics);
    let all = interop::birdc("birdc", &ctl, "show protocols all");
    let mut peers = 0;
    for block in all.split("\n\n").filter(|b| b.contains("BGP state:")) {
        let row = block
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("BGP"))
            .unwrap_or_else(|| panic!("{block}"));
        let name = row.split_whitespace().next().unwrap().to_string();
        let line = block
            .lines()
            .find(|l| l.contains("Routes:"))
            .unwrap_or_else(|| panic!("{block}"));
        let n: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.trim_end_matches(',').parse().ok())
            .collect();
        let series = |m: &str| format!("{m}{{peer=\"{name}\"}}");
        assert_eq!(value(&text, &series("tern_peer_up")), 1.0, "{name}");
        assert_eq!(
            value(&text, &series("tern_peer_prefixes_accepted")),
            n[0],
            "{name}: {line}"
        );
        assert_eq!(
            value(&text, &series("tern_peer_prefixes_advertised")),
            n[1],
            "{name}: {line}"
        );
        assert!(
            value(&text, &series("tern_peer_prefixes_received_total")) >= n[0],
            "{name}"
        );
        peers += 1;
    }
    assert_eq!(peers, nodes - 1, "{all}");
    assert_eq!(value(&text, "tern_rib_prefixes{family=\"ipv4-unicast\"}"), nodes as f64);
    // The lab stops its nodes itself at --duration.
    let _ = child.wait();
}

#[test]
fn the_command_line_turns_metrics_on_without_the_file() {
    let dir = TempDir::new("metrics-flag");
    let t = Ternd::start_args(
        &dir,
        "router_id = \"127.0.37.1\"\nasn = 64512\nlisten = [\"127.0.37.1:11815\"]\nctl_socket = \"{CTL}\"\n\
         [[static]]\nprefix = \"10.37.0.0/24\"\nblackhole = true\n",
        None,
        &["--metrics-listen", "127.0.37.1:11816"],
    );
    let text = wait_for(Duration::from_secs(10), "the metrics listener", || {
        std::net::TcpStream::connect("127.0.37.1:11816")
            .ok()
            .map(|_| scrape("127.0.37.1:11816"))
    });
    assert_eq!(value(&text, "tern_rib_prefixes{family=\"ipv4-unicast\"}"), 1.0);
    assert!(t.birdc("show route count").contains("1 of 1 routes"));
}
