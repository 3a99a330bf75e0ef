//! ternd against BIRD 2 on loopback, checked through both sides' CLIs
//! (BIRD's birdc, and birdc against ternd's control socket).

use std::time::Duration;

use interop::{missing, tcp_sessions, wait_for, Bird, TempDir, Ternd};

const UP: Duration = Duration::from_secs(40);

/// ternd at `me`:`port`, one peer named `name` at `peer`:`peer_port`.
fn tern_conf(me: &str, port: u16, name: &str, peer: &str, peer_port: u16, peer_as: u32, passive: bool) -> String {
    format!(
        r#"router_id = "{me}"
asn = 64512
listen = ["{me}:{port}"]
ctl_socket = "{{CTL}}"

[[peer]]
name = "{name}"
address = "{peer}"
port = {peer_port}
asn = {peer_as}
local_address = "{me}"
passive = {passive}
hold_time = 6
connect_retry = 2
"#
    )
}

/// BIRD at `me`:`port` with one BGP protocol `tern` towards `peer`:`peer_port`.
fn bird_conf(me: &str, port: u16, peer: &str, peer_port: u16, local_as: u32, passive: bool) -> String {
    format!(
        r#"router id {me};
protocol device {{ }}
protocol bgp tern {{
  local {me} port {port} as {local_as};
  neighbor {peer} port {peer_port} as 64512;
  strict bind yes;
  passive {p};
  hold time 6;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 4;
  graceful restart on;
  ipv4 {{ import all; export none; add paths on; }};
  ipv6 {{ import all; export none; add paths on; }};
}}
"#,
        p = if passive { "on" } else { "off" }
    )
}

fn both_established(t: &Ternd, tname: &str, b: &Bird) -> bool {
    t.bgp_state(tname).as_deref() == Some("Established") && b.bgp_state("tern").as_deref() == Some("Established")
}

fn session(
    me: &str,
    bird_at: &str,
    port: u16,
    tern_passive: bool,
    bird_passive: bool,
) -> (TempDir, Ternd, Bird, String) {
    session_with_hold(me, bird_at, port, tern_passive, bird_passive, 6)
}

fn session_with_hold(
    me: &str,
    bird_at: &str,
    port: u16,
    tern_passive: bool,
    bird_passive: bool,
    hold: u16,
) -> (TempDir, Ternd, Bird, String) {
    let dir = TempDir::new("bird");
    let name = format!("Mesh_{}", bird_at.replace('.', "_"));
    let conf = tern_conf(me, port, &name, bird_at, port, 64512, tern_passive)
        .replace("hold_time = 6", &format!("hold_time = {hold}"));
    let t = Ternd::start(&dir, &conf);
    let bconf =
        bird_conf(bird_at, port, me, port, 64512, bird_passive).replace("hold time 6;", &format!("hold time {hold};"));
    let b = Bird::start(&dir, &bconf);
    (dir, t, b, name)
}

#[test]
fn tern_connects_and_bird_accepts_and_it_stays_up() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.10.1", "127.0.10.2", 11790, false, true);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    let since = t.birdc(&format!("show protocols {name}"));
    // Hold time 6 s: keepalives every 2 s; four intervals later it is the same session.
    std::thread::sleep(Duration::from_secs(8));
    assert!(both_established(&t, &name, &b), "{}", t.birdc("show protocols all"));
    assert_eq!(t.birdc(&format!("show protocols {name}")), since, "no flap");
    assert_eq!(tcp_sessions("127.0.10.1", "127.0.10.2"), 1);
}

#[test]
fn bird_connects_and_tern_accepts() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.11.1", "127.0.11.2", 11791, true, false);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    let ours = t.birdc(&format!("show protocols all {name}"));
    assert!(ours.contains("Source address:   127.0.11.1"), "{ours}");
}

#[test]
fn negotiated_capabilities_match_what_both_announced() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.12.1", "127.0.12.2", 11792, false, true);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    let theirs = b.birdc("show protocols all tern");
    // BIRD 2 lists what ternd announced under "Neighbor capabilities".
    let caps = theirs
        .split("Neighbor capabilities")
        .nth(1)
        .and_then(|s| s.split("Session:").next())
        .unwrap_or("");
    for c in [
        "AF announced: ipv4 ipv6",
        "Route refresh",
        "Enhanced refresh",
        "Extended message",
        "Graceful restart",
        "AF supported: ipv4 ipv6",
        "4-octet AS numbers",
        "RX: ipv4 ipv6",
        "TX: ipv4 ipv6",
    ] {
        assert!(caps.contains(c), "BIRD sees no {c:?} from ternd: {theirs}");
    }
    let session = theirs
        .lines()
        .find(|l| l.contains("Session:"))
        .unwrap_or_default()
        .to_string();
    assert!(session.contains("internal") && session.contains("AS4"), "{theirs}");
    assert_eq!(
        theirs.matches("State:          UP").count(),
        2,
        "IPv4 and IPv6 channels up: {theirs}"
    );
    let ours = t.birdc(&format!("show protocols all {name}"));
    let caps = ours
        .lines()
        .find(|l| l.contains("Neighbor caps:"))
        .unwrap_or_default()
        .to_string();
    for c in ["refresh", "restart-able", "AS4", "add-path-rx", "add-path-tx"] {
        assert!(
            caps.split_whitespace().any(|w| w == c),
            "ternd sees no {c} from BIRD: {ours}"
        );
    }
    assert!(
        ours.contains("Neighbor AS:      64512") && ours.contains("Neighbor ID:      127.0.12.2"),
        "{ours}"
    );
}

#[test]
fn a_collision_ends_with_exactly_one_session() {
    if missing(&["bird", "birdc", "ss"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.13.1", "127.0.13.2", 11793, false, false);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    assert!(both_established(&t, &name, &b));
    assert_eq!(tcp_sessions("127.0.13.1", "127.0.13.2"), 1, "{}", t.proc.log());
}

#[test]
fn a_peer_with_the_wrong_as_is_refused_with_2_2() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let dir = TempDir::new("bird-as");
    let name = "Mesh_127_0_14_2";
    // ternd expects AS 64999; BIRD is AS 64512.
    let t = Ternd::start(
        &dir,
        &tern_conf("127.0.14.1", 11794, name, "127.0.14.2", 11794, 64999, false),
    );
    let b = Bird::start(&dir, &bird_conf("127.0.14.2", 11794, "127.0.14.1", 11794, 64512, true));
    let info = wait_for(UP, "BIRD to report the refusal", || {
        let out = b.birdc("show protocols all tern");
        out.contains("Bad peer AS").then_some(out)
    });
    assert!(info.contains("Received: Bad peer AS"), "{info}");
    assert!(t.proc.log().contains("code=2 subcode=2"), "{}", t.proc.log());
    assert_ne!(t.bgp_state(name).as_deref(), Some("Established"));
}

#[test]
fn a_frozen_peer_is_dropped_by_the_hold_timer_and_comes_back() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session_with_hold("127.0.15.1", "127.0.15.2", 11795, false, true, 3);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    b.proc.signal(libc_sigstop());
    wait_for(Duration::from_secs(10), "ternd's hold timer to expire", || {
        (t.bgp_state(&name).as_deref() != Some("Established")).then_some(())
    });
    let log = t.proc.log();
    assert!(
        log.contains("hold timer expired") && log.contains("code=4 subcode=0"),
        "{log}"
    );
    b.proc.signal(libc_sigcont());
    wait_for(Duration::from_secs(60), "the session to come back", || {
        both_established(&t, &name, &b).then_some(())
    });
}

fn libc_sigstop() -> i32 {
    19
}

fn libc_sigcont() -> i32 {
    18
}

#[test]
fn disable_enable_restart_through_birdc_do_what_they_say() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.16.1", "127.0.16.2", 11796, false, true);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    let out = t.birdc(&format!("disable {name} \"maintenance window\""));
    assert!(out.contains(&format!("{name}: disabled")), "{out}");
    let theirs = wait_for(Duration::from_secs(10), "BIRD to see the shutdown", || {
        let o = b.birdc("show protocols all tern");
        o.contains("Administrative shutdown").then_some(o)
    });
    assert!(
        theirs.contains("maintenance window") || theirs.contains("Administrative shutdown"),
        "{theirs}"
    );
    let row = t.birdc("show protocols");
    assert!(
        row.lines()
            .any(|l| l.starts_with(&name) && l.split_whitespace().nth(3) == Some("down")),
        "{row}"
    );
    assert!(t.birdc(&format!("disable {name}")).contains("already disabled"));
    assert!(t.birdc(&format!("enable {name}")).contains(&format!("{name}: enabled")));
    wait_for(UP, "Established again after enable", || {
        both_established(&t, &name, &b).then_some(())
    });
    assert!(t
        .birdc(&format!("restart {name}"))
        .contains(&format!("{name}: restarted")));
    wait_for(Duration::from_secs(10), "BIRD to see the reset", || {
        b.birdc("show protocols all tern")
            .contains("Administrative reset")
            .then_some(())
    });
    wait_for(UP, "Established again after restart", || {
        both_established(&t, &name, &b).then_some(())
    });
}

#[test]
fn bird_1_6_birdc_reads_ternd() {
    // BIRD 1.6.8's client, unpacked from Debian's `bird` package by the test command.
    let client = std::env::var("BIRD16_BIRDC").unwrap_or_else(|_| "/opt/tern-bird1.6/usr/sbin/birdc".into());
    if !std::path::Path::new(&client).exists() {
        assert!(
            std::env::var_os("TERN_REQUIRE_PEERS").is_none(),
            "BIRD 1.6.8 birdc not found at {client}"
        );
        eprintln!("skipping: no BIRD 1.6.8 birdc at {client}");
        return;
    }
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.17.1", "127.0.17.2", 11797, false, true);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    let out = interop::birdc(&client, &t.ctl, "show protocols");
    assert!(
        out.contains("name     proto    table    state  since       info"),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with(&name) && l.contains("Established")),
        "{out}"
    );
    let all = interop::birdc(&client, &t.ctl, &format!("show protocols all {name}"));
    assert!(
        all.contains("BGP state:          Established") && all.contains("Neighbor address: 127.0.17.2"),
        "{all}"
    );
    let status = interop::birdc(&client, &t.ctl, "show status");
    assert!(status.lines().next().unwrap_or("").starts_with("BIRD"), "{status}");
}

fn ternc(t: &Ternd, args: &[&str]) -> (String, bool) {
    let bin = interop::ternd_bin().with_file_name("ternc");
    let out = std::process::Command::new(bin)
        .arg("--socket")
        .arg(&t.ctl)
        .args(args)
        .output()
        .expect("ternc runs");
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success())
}

#[test]
fn ternc_shows_protocols_as_text_and_json_and_shutdown_sends_a_cease() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.18.1", "127.0.18.2", 11798, false, true);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    let (text, ok) = ternc(&t, &["show", "protocols"]);
    assert!(
        ok && text.contains("name     proto    table    state  since       info"),
        "{text}"
    );
    let (json, ok) = ternc(&t, &["--json", "show", "protocols", "all", &name]);
    assert!(ok, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["protocols"][0]["name"], name.as_str());
    assert_eq!(v["protocols"][0]["bgp_state"], "Established");
    assert_eq!(v["protocols"][0]["neighbor_address"], "127.0.18.2");
    let (json, _) = ternc(&t, &["--json", "show", "status"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["router_id"], "127.0.18.1");
    let (err, ok) = ternc(&t, &["show", "protocols", "Nope"]);
    assert!(!ok && err.contains("Nope is not a protocol"), "{err}");
    // An explicit shutdown decommissions: BIRD gets Cease / Administrative Shutdown.
    let (out, ok) = ternc(&t, &["shutdown"]);
    assert!(ok && out.contains("Shutdown requested"), "{out}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let theirs = b.birdc("show protocols all tern");
        if theirs.contains("Administrative shutdown") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "BIRD saw no Cease:\n{theirs}\n{}\n{}",
            t.proc.log(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigterm_leaves_a_graceful_restart_peer_without_a_cease() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let (_d, t, b, name) = session("127.0.19.1", "127.0.19.2", 11799, false, true);
    wait_for(UP, "Established on both sides", || {
        both_established(&t, &name, &b).then_some(())
    });
    t.proc.signal(15);
    let out = wait_for(Duration::from_secs(10), "BIRD to notice the closed session", || {
        let o = b.birdc("show protocols all tern");
        (!o.contains("Established")).then_some(o)
    });
    assert!(
        !out.contains("Administrative shutdown") && !out.contains("Received:"),
        "no NOTIFICATION: {out}"
    );
    let log = b.log();
    assert!(
        log.contains("graceful restart") || log.contains("Graceful restart") || out.contains("Connection closed"),
        "{log}\n{out}"
    );
}

#[test]
fn tcp_md5_signatures_protect_the_session() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    // Matching keys: the session comes up.
    let dir = TempDir::new("md5");
    let name = "Mesh_127_0_21_2";
    let conf = tern_conf("127.0.21.1", 11801, name, "127.0.21.2", 11801, 64512, false) + "password = \"s3cret\"\n";
    let t = Ternd::start(&dir, &conf);
    let b = Bird::start(
        &dir,
        &bird_conf("127.0.21.2", 11801, "127.0.21.1", 11801, 64512, true)
            .replace("hold time 6;", "hold time 6;\n  password \"s3cret\";"),
    );
    wait_for(UP, "Established with MD5", || {
        both_established(&t, name, &b).then_some(())
    });
    drop((t, b));
    // Different keys: no session, and nothing reaches BGP.
    let dir = TempDir::new("md5-bad");
    let conf = tern_conf(
        "127.0.22.1",
        11802,
        "Mesh_127_0_22_2",
        "127.0.22.2",
        11802,
        64512,
        false,
    ) + "password = \"s3cret\"\n";
    let t = Ternd::start(&dir, &conf);
    let b = Bird::start(
        &dir,
        &bird_conf("127.0.22.2", 11802, "127.0.22.1", 11802, 64512, true)
            .replace("hold time 6;", "hold time 6;\n  password \"other\";"),
    );
    std::thread::sleep(Duration::from_secs(8));
    assert_ne!(t.bgp_state("Mesh_127_0_22_2").as_deref(), Some("Established"));
    assert_ne!(b.bgp_state("tern").as_deref(), Some("Established"));
}

#[test]
fn ttl_security_accepts_ttl_255_and_drops_the_rest() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let gtsm = |net: u8, port: u16, bird_ttl: &str| {
        let dir = TempDir::new("gtsm");
        let (me, peer) = (format!("127.0.{net}.1"), format!("127.0.{net}.2"));
        let name = format!("Mesh_127_0_{net}_2");
        let conf = tern_conf(&me, port, &name, &peer, port, 64512, true) + "ttl_security = 1\n";
        let t = Ternd::start(&dir, &conf);
        let b = Bird::start(
            &dir,
            &bird_conf(&peer, port, &me, port, 64512, false)
                .replace("hold time 6;", &format!("hold time 6;\n  {bird_ttl}")),
        );
        (dir, t, b, name)
    };
    // BIRD sends with TTL 255 (GTSM on both sides): up.
    let (_d, t, b, name) = gtsm(24, 11804, "ttl security on;");
    wait_for(UP, "Established with GTSM", || {
        both_established(&t, &name, &b).then_some(())
    });
    // BIRD sends with the default TTL: ternd's kernel drops it (IP_MINTTL 255).
    let (_d2, t2, b2, name2) = gtsm(25, 11805, "ttl security off;");
    std::thread::sleep(Duration::from_secs(8));
    assert_ne!(
        t2.bgp_state(&name2).as_deref(),
        Some("Established"),
        "{}",
        t2.birdc("show protocols all")
    );
    assert_ne!(b2.bgp_state("tern").as_deref(), Some("Established"));
}

#[test]
fn ipv6_transport() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    let dir = TempDir::new("v6");
    let name = "Mesh_1";
    let conf = format!(
        r#"router_id = "127.0.26.1"
asn = 64512
listen = ["[::1]:11806"]
ctl_socket = "{{CTL}}"

[[peer]]
name = "{name}"
address = "::1"
port = 11807
local_address = "::1"
hold_time = 3
connect_retry = 2
"#
    );
    let t = Ternd::start(&dir, &conf);
    let b = Bird::start(
        &dir,
        &bird_conf("127.0.26.2", 11807, "::1", 11806, 64512, true)
            .replace("local 127.0.26.2 port 11807", "local ::1 port 11807")
            // IPv4 routes over an IPv6 session need an IPv4 next hop.
            .replace("ipv4 { import all;", "ipv4 { next hop address 127.0.26.2; import all;"),
    );
    wait_for(UP, "Established over IPv6", || {
        both_established(&t, name, &b).then_some(())
    });
    assert!(t
        .birdc(&format!("show protocols all {name}"))
        .contains("Neighbor address: ::1"));
}

#[test]
fn connections_from_unconfigured_addresses_are_closed_at_once() {
    let dir = TempDir::new("stranger");
    let t = Ternd::start(
        &dir,
        &tern_conf("127.0.27.1", 11808, "Mesh_127_0_27_2", "127.0.27.2", 11808, 64512, true),
    );
    // From loopback the source is 127.0.0.1, which is no peer.
    let mut s = std::net::TcpStream::connect("127.0.27.1:11808").expect("TCP connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut s, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    wait_for(Duration::from_secs(5), "the refusal in ternd's log", || {
        t.proc.log().contains("not a configured peer").then_some(())
    });
}

#[test]
fn json_answers_carry_what_the_text_shows() {
    if missing(&["bird", "birdc"]) {
        return;
    }
    // BIRD 2 sends one route with every kind of community and a MED.
    let dir = TempDir::new("json");
    let name = "Mesh_127_0_28_2";
    let t = Ternd::start(
        &dir,
        &tern_conf("127.0.28.1", 11809, name, "127.0.28.2", 11809, 64512, false),
    );
    let export = "export filter { bgp_med = 5; bgp_community.add((65000,7)); \
                  bgp_large_community.add((64512,1,2)); bgp_ext_community.add((rt,65000,9)); accept; };";
    let b = Bird::start(
        &dir,
        &(bird_conf("127.0.28.2", 11809, "127.0.28.1", 11809, 64512, true).replace(
            "ipv4 { import all; export none;",
            &format!("ipv4 {{ import all; {export}"),
        ) + "protocol static { ipv4; route 10.77.0.0/24 blackhole; }\n"),
    );
    wait_for(UP, "the route from BIRD", || {
        (both_established(&t, name, &b) && t.birdc("show route").contains("10.77.0.0/24")).then_some(())
    });

    let (json, ok) = ternc(&t, &["--json", "show", "protocols", "all", name]);
    assert!(ok, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let p = &v["protocols"][0];
    assert_eq!(p["name"], name);
    assert_eq!(p["proto"], "BGP");
    assert_eq!(p["state"], "up");
    assert_eq!(p["bgp_state"], "Established");
    assert_eq!(p["neighbor_address"], "127.0.28.2");
    assert_eq!(p["neighbor_as"], 64512);
    assert_eq!(p["routes"]["imported"], 1);
    assert_eq!(p["session"]["neighbor_id"], "127.0.28.2");
    assert_eq!(p["session"]["source_address"], "127.0.28.1");
    assert_eq!(p["session"]["hold_timer"][1], 6);
    let text = t.birdc(&format!("show protocols all {name}"));
    assert!(text.contains("Routes:         1 imported"), "{text}");

    let (json, ok) = ternc(&t, &["--json", "show", "route", "all"]);
    assert!(ok, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let r = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["prefix"] == "10.77.0.0/24")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(r["protocol"], name);
    assert_eq!(r["best"], true);
    assert_eq!(r["next_hop"], "127.0.28.2");
    assert_eq!(r["origin"], "igp");
    assert_eq!(r["as_path"], serde_json::json!([]));
    assert_eq!(r["med"], 5);
    assert_eq!(r["local_pref"], 100);
    assert_eq!(r["communities"], serde_json::json!(["65000:7"]));
    assert_eq!(r["large_communities"], serde_json::json!(["64512:1:2"]));
    assert_eq!(r["ext_communities"], serde_json::json!(["rt:65000:9"]));
    let text = t.birdc("show route all for 10.77.0.1");
    for line in [
        "BGP.med: 5",
        "BGP.community: (65000,7)",
        "BGP.ext_community: (rt, 65000, 9)",
        "BGP.large_community: (64512, 1, 2)",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }

    // A pattern of many stars is matched in linear time. The bound is
    // loose (a birdc process per query, on a loaded CI machine): a
    // backtracking matcher would take far longer than any bound.
    for pattern in ["*".repeat(40), format!("{}Z", "*M".repeat(20))] {
        let started = std::time::Instant::now();
        let out = t.birdc(&format!("show protocols \"{pattern}\""));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{pattern}: {:?}",
            started.elapsed()
        );
        assert_eq!(out.contains(name), !pattern.ends_with('Z'), "{pattern}: {out}");
    }
}
