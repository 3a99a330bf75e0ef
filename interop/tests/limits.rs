//! Per-peer prefix limits against a live ternd: a peer that sends more
//! routes than `max_prefixes` gets Cease / Maximum Number of Prefixes
//! Reached with the family and the limit (RFC 4486 §4), the session stays
//! down until `max_prefixes_restart`, then comes back; with
//! `max_prefixes_action = "warn"` the routes are kept and the log says so.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bgp_wire::{CeaseSubcode, Message, NotifyKind};
use interop::speaker::{generate, send_routes, Session};
use interop::{wait_for, TempDir, Ternd};

const PORT: u16 = 11811;

/// ternd on 127.0.`net`.1 with one passive peer, `flood`, at 127.0.`net`.2.
fn ternd(dir: &TempDir, net: u8, peer_keys: &str) -> (Ternd, Ipv4Addr, SocketAddr) {
    let t = Ternd::start(
        dir,
        &format!(
            "router_id = \"127.0.{net}.1\"\nasn = 64512\nlisten = [\"127.0.{net}.1:{PORT}\"]\nctl_socket = \"{{CTL}}\"\n\
             [[peer]]\nname = \"flood\"\naddress = \"127.0.{net}.2\"\nasn = 65001\npassive = true\n{peer_keys}"
        ),
    );
    (
        t,
        Ipv4Addr::new(127, 0, net, 2),
        format!("127.0.{net}.1:{PORT}").parse().unwrap(),
    )
}

#[test]
fn over_the_limit_the_session_ends_with_cease_1_and_comes_back() {
    let dir = TempDir::new("limit-cease");
    let (t, me, tern_addr) = ternd(&dir, 34, "max_prefixes = 100\nmax_prefixes_restart = 3\n");
    let mut s = Session::connect(me, tern_addr, 65001).expect("session");
    let routes = generate(150, me, 65001);
    send_routes(&mut s, &routes).unwrap();
    let n = loop {
        match s.recv_within(Duration::from_secs(10)).expect("ternd answers") {
            Some(Message::Notification(n)) => break n,
            Some(_) => continue,
            None => panic!("no NOTIFICATION; {}", t.birdc("show protocols all flood")),
        }
    };
    let ended = Instant::now();
    assert_eq!(
        n.kind(),
        Some(NotifyKind::Cease(CeaseSubcode::MaximumPrefixesReached)),
        "{n:?}"
    );
    // AFI 1, SAFI 1, the limit (RFC 4486 §4).
    assert_eq!(&n.data[..], &[0, 1, 1, 0, 0, 0, 100], "{n:?}");
    let out = t.birdc("show protocols all flood");
    assert!(out.contains("over max_prefixes = 100"), "{out}");
    assert!(!t.birdc("show route count").contains("150 of 150"));
    assert!(t
        .proc
        .log()
        .contains("over max_prefixes = 100: ending the session, again in 3 s"));
    // Down until the restart time, then the peer may come back.
    drop(s);
    let mut back = wait_for(Duration::from_secs(20), "the session again", || {
        Session::connect(me, tern_addr, 65001).ok()
    });
    let waited = ended.elapsed();
    assert!(waited >= Duration::from_millis(2500), "came back after {waited:?}");
    send_routes(&mut back, &routes[..50]).unwrap();
    wait_for(Duration::from_secs(10), "50 routes held", || {
        t.birdc("show route count").contains("50 of 50").then_some(())
    });
    assert_eq!(t.bgp_state("flood").as_deref(), Some("Established"));
}

#[test]
fn with_warn_the_routes_are_kept_and_logged_once() {
    let dir = TempDir::new("limit-warn");
    let (t, me, tern_addr) = ternd(&dir, 35, "max_prefixes = 100\nmax_prefixes_action = \"warn\"\n");
    let mut s = Session::connect(me, tern_addr, 65001).expect("session");
    s.keepalives().unwrap();
    send_routes(&mut s, &generate(150, me, 65001)).unwrap();
    wait_for(Duration::from_secs(10), "150 routes held", || {
        t.birdc("show route count").contains("150 of 150").then_some(())
    });
    assert_eq!(t.bgp_state("flood").as_deref(), Some("Established"));
    let log = t.proc.log();
    assert_eq!(log.matches("over max_prefixes = 100: kept").count(), 1, "{log}");
}
