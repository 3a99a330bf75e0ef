//! RFC 4271 §8.2.2 state × event, table-driven: every state the FSM can be
//! in meets every event class, and the resulting state and NOTIFICATION are
//! checked against the RFC.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::{Action, ConnId, Direction, Event, Peer, PeerConfig, SessionError, State, Timer};
use bgp_wire::{
    Asn, Capability, CeaseSubcode, DecodeError, Family, HeaderError, Message, Notification, NotifyKind, Open,
    OpenError, RouteRefresh, RouterId, UpdateError,
};

const OUT1: ConnId = ConnId {
    dir: Direction::Outgoing,
    seq: 1,
};
const IN1: ConnId = ConnId {
    dir: Direction::Incoming,
    seq: 1,
};

fn cfg() -> PeerConfig {
    PeerConfig::new(Asn(64512), Asn(64513), RouterId(Ipv4Addr::new(10, 0, 0, 1)))
}

/// The peer's OPEN: AS 64513, the given identifier and hold time.
fn peer_open(id: [u8; 4], hold: u16) -> Open {
    Open::new(
        Asn(64513),
        hold,
        RouterId(Ipv4Addr::from(id)),
        vec![
            Capability::Multiprotocol {
                family: Family::IPV4_UNICAST,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs { asn: Asn(64513) },
        ],
    )
}

fn valid_open() -> Message {
    Message::Open(peer_open([10, 0, 0, 2], 90))
}

/// The states a peer can be brought to, and how.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Start {
    Idle,
    IdleHold,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

fn bring(to: Start) -> Peer {
    let mut p = Peer::new(cfg(), 7);
    if to == Start::Idle {
        return p;
    }
    p.handle(Event::Start);
    if to == Start::Active {
        assert_eq!(p.state(), State::Active);
        return p;
    }
    p.handle(Event::TimerExpired(Timer::ConnectRetry));
    if to == Start::Connect {
        assert_eq!(p.state(), State::Connect);
        return p;
    }
    if to == Start::IdleHold {
        p.handle(Event::Connected(OUT1));
        p.handle(Event::Received(OUT1, Message::Keepalive)); // 5/1: error
        assert_eq!(p.state(), State::Idle);
        return p;
    }
    p.handle(Event::Connected(OUT1));
    if to == Start::OpenSent {
        assert_eq!(p.state(), State::OpenSent);
        return p;
    }
    p.handle(Event::Received(OUT1, valid_open()));
    if to == Start::OpenConfirm {
        assert_eq!(p.state(), State::OpenConfirm);
        return p;
    }
    p.handle(Event::Received(OUT1, Message::Keepalive));
    assert_eq!(p.state(), State::Established);
    p
}

fn sent_notification(actions: &[Action]) -> Option<(u8, u8)> {
    actions.iter().find_map(|a| match a {
        Action::Send(_, Message::Notification(n)) => Some((n.code, n.subcode)),
        _ => None,
    })
}

fn ev(name: &str) -> Event {
    let cease = Notification::shutdown(CeaseSubcode::AdministrativeShutdown, "bye");
    match name {
        "Start" => Event::Start,
        "Stop" => Event::Stop {
            notification: Some(cease),
        },
        "ConnectRetry" => Event::TimerExpired(Timer::ConnectRetry),
        "IdleHold" => Event::TimerExpired(Timer::IdleHold),
        "Hold" => Event::TimerExpired(Timer::Hold(OUT1)),
        "Keepalive" => Event::TimerExpired(Timer::Keepalive(OUT1)),
        "SendHold" => Event::TimerExpired(Timer::SendHold(OUT1)),
        "Connected" => Event::Connected(OUT1),
        "Accepted" => Event::Accepted(IN1),
        "ConnFails" => Event::ConnectionFailed(OUT1),
        "Open" => Event::Received(OUT1, valid_open()),
        "KeepaliveMsg" => Event::Received(OUT1, Message::Keepalive),
        "UpdateMsg" => Event::Received(OUT1, Message::Update(Box::default())),
        "NotifMsg" => Event::Received(
            OUT1,
            Message::Notification(Notification::new(
                NotifyKind::Cease(CeaseSubcode::AdministrativeReset),
                Vec::new(),
            )),
        ),
        "RouteRefresh" => Event::Received(
            OUT1,
            Message::RouteRefresh(RouteRefresh {
                family: Family::IPV4_UNICAST,
                subtype: 0,
            }),
        ),
        "HeaderErr" => Event::Malformed(OUT1, DecodeError::Header(HeaderError::ConnectionNotSynchronized)),
        "OpenErr" => Event::Malformed(OUT1, DecodeError::Open(OpenError::UnsupportedOptionalParameter(3))),
        "UpdateErr" => Event::Malformed(OUT1, DecodeError::Update(UpdateError::MalformedAttributeList("test"))),
        _ => unreachable!("{name}"),
    }
}

/// (from, event, resulting state, NOTIFICATION sent)
type Row = (Start, &'static str, State, Option<(u8, u8)>);

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // Idle (stopped): only Start does anything; a connection is refused (RFC 4486 Cease/5).
    (Start::Idle, "Start", State::Active, None),
    (Start::Idle, "Stop", State::Idle, None),
    (Start::Idle, "ConnectRetry", State::Idle, None),
    (Start::Idle, "IdleHold", State::Idle, None),
    (Start::Idle, "Hold", State::Idle, None),
    (Start::Idle, "Keepalive", State::Idle, None),
    (Start::Idle, "SendHold", State::Idle, None),
    (Start::Idle, "Connected", State::Idle, None),
    (Start::Idle, "Accepted", State::Idle, Some((6, 5))),
    (Start::Idle, "ConnFails", State::Idle, None),
    (Start::Idle, "Open", State::Idle, None),
    (Start::Idle, "KeepaliveMsg", State::Idle, None),
    (Start::Idle, "UpdateMsg", State::Idle, None),
    (Start::Idle, "NotifMsg", State::Idle, None),
    (Start::Idle, "RouteRefresh", State::Idle, None),
    (Start::Idle, "HeaderErr", State::Idle, None),
    (Start::Idle, "OpenErr", State::Idle, None),
    (Start::Idle, "UpdateErr", State::Idle, None),
    // Idle holding after an error: IdleHoldTimer expiry is the automatic start.
    (Start::IdleHold, "Start", State::Idle, None),
    (Start::IdleHold, "Stop", State::Idle, None),
    (Start::IdleHold, "ConnectRetry", State::Idle, None),
    (Start::IdleHold, "IdleHold", State::Active, None),
    (Start::IdleHold, "Accepted", State::Idle, Some((6, 5))),
    (Start::IdleHold, "Open", State::Idle, None),
    // Connect: outgoing connection in progress.
    (Start::Connect, "Start", State::Connect, None),
    (Start::Connect, "Stop", State::Idle, None),
    (Start::Connect, "ConnectRetry", State::Connect, None),
    (Start::Connect, "IdleHold", State::Connect, None),
    (Start::Connect, "Hold", State::Connect, None),
    (Start::Connect, "Keepalive", State::Connect, None),
    (Start::Connect, "SendHold", State::Connect, None),
    (Start::Connect, "Connected", State::OpenSent, None),
    (Start::Connect, "Accepted", State::OpenSent, None),
    (Start::Connect, "ConnFails", State::Active, None),
    (Start::Connect, "Open", State::Connect, None),
    (Start::Connect, "KeepaliveMsg", State::Connect, None),
    (Start::Connect, "UpdateMsg", State::Connect, None),
    (Start::Connect, "NotifMsg", State::Connect, None),
    (Start::Connect, "RouteRefresh", State::Connect, None),
    (Start::Connect, "HeaderErr", State::Connect, None),
    (Start::Connect, "OpenErr", State::Connect, None),
    (Start::Connect, "UpdateErr", State::Connect, None),
    // Active: waiting for the retry timer or an incoming connection.
    (Start::Active, "Start", State::Active, None),
    (Start::Active, "Stop", State::Idle, None),
    (Start::Active, "ConnectRetry", State::Connect, None),
    (Start::Active, "IdleHold", State::Active, None),
    (Start::Active, "Hold", State::Active, None),
    (Start::Active, "Connected", State::Active, None),
    (Start::Active, "Accepted", State::OpenSent, None),
    (Start::Active, "ConnFails", State::Active, None),
    (Start::Active, "Open", State::Active, None),
    (Start::Active, "UpdateMsg", State::Active, None),
    (Start::Active, "HeaderErr", State::Active, None),
    // OpenSent: our OPEN is out; only the peer's OPEN may come.
    (Start::OpenSent, "Start", State::OpenSent, None),
    (Start::OpenSent, "Stop", State::Idle, Some((6, 2))),
    (Start::OpenSent, "ConnectRetry", State::OpenSent, None),
    (Start::OpenSent, "IdleHold", State::OpenSent, None),
    (Start::OpenSent, "Hold", State::Idle, Some((4, 0))),
    (Start::OpenSent, "Keepalive", State::OpenSent, None),
    (Start::OpenSent, "SendHold", State::Idle, Some((8, 0))),
    (Start::OpenSent, "Connected", State::OpenSent, None),
    (Start::OpenSent, "Accepted", State::OpenSent, None),
    (Start::OpenSent, "ConnFails", State::Active, None),
    (Start::OpenSent, "Open", State::OpenConfirm, None),
    (Start::OpenSent, "KeepaliveMsg", State::Idle, Some((5, 1))),
    (Start::OpenSent, "UpdateMsg", State::Idle, Some((5, 1))),
    (Start::OpenSent, "NotifMsg", State::Idle, None),
    (Start::OpenSent, "RouteRefresh", State::Idle, Some((5, 1))),
    (Start::OpenSent, "HeaderErr", State::Idle, Some((1, 1))),
    (Start::OpenSent, "OpenErr", State::Idle, Some((2, 4))),
    (Start::OpenSent, "UpdateErr", State::Idle, Some((3, 1))),
    // OpenConfirm: waiting for the peer's KEEPALIVE.
    (Start::OpenConfirm, "Start", State::OpenConfirm, None),
    (Start::OpenConfirm, "Stop", State::Idle, Some((6, 2))),
    (Start::OpenConfirm, "ConnectRetry", State::OpenConfirm, None),
    (Start::OpenConfirm, "IdleHold", State::OpenConfirm, None),
    (Start::OpenConfirm, "Hold", State::Idle, Some((4, 0))),
    (Start::OpenConfirm, "Keepalive", State::OpenConfirm, None),
    (Start::OpenConfirm, "SendHold", State::Idle, Some((8, 0))),
    (Start::OpenConfirm, "Accepted", State::OpenConfirm, None),
    (Start::OpenConfirm, "Connected", State::OpenConfirm, None),
    (Start::OpenConfirm, "ConnFails", State::Idle, None),
    (Start::OpenConfirm, "Open", State::Idle, Some((5, 2))),
    (Start::OpenConfirm, "KeepaliveMsg", State::Established, None),
    (Start::OpenConfirm, "UpdateMsg", State::Idle, Some((5, 2))),
    (Start::OpenConfirm, "NotifMsg", State::Idle, None),
    (Start::OpenConfirm, "RouteRefresh", State::Idle, Some((5, 2))),
    (Start::OpenConfirm, "HeaderErr", State::Idle, Some((1, 1))),
    (Start::OpenConfirm, "OpenErr", State::Idle, Some((2, 4))),
    (Start::OpenConfirm, "UpdateErr", State::Idle, Some((3, 1))),
    // Established.
    (Start::Established, "Start", State::Established, None),
    (Start::Established, "Stop", State::Idle, Some((6, 2))),
    (Start::Established, "ConnectRetry", State::Established, None),
    (Start::Established, "IdleHold", State::Established, None),
    (Start::Established, "Hold", State::Idle, Some((4, 0))),
    (Start::Established, "Keepalive", State::Established, None),
    (Start::Established, "SendHold", State::Idle, Some((8, 0))),
    (Start::Established, "Connected", State::Established, None),
    (Start::Established, "Accepted", State::Established, None),
    (Start::Established, "ConnFails", State::Idle, None),
    (Start::Established, "Open", State::Idle, Some((5, 3))),
    (Start::Established, "KeepaliveMsg", State::Established, None),
    (Start::Established, "UpdateMsg", State::Established, None),
    (Start::Established, "NotifMsg", State::Idle, None),
    (Start::Established, "RouteRefresh", State::Established, None),
    (Start::Established, "HeaderErr", State::Idle, Some((1, 1))),
    (Start::Established, "OpenErr", State::Idle, Some((2, 4))),
    (Start::Established, "UpdateErr", State::Idle, Some((3, 1))),
];

#[test]
fn every_state_meets_every_event_as_rfc_4271_section_8_says() {
    for &(from, event, to, notification) in TABLE {
        let mut p = bring(from);
        let actions = p.handle(ev(event));
        assert_eq!(p.state(), to, "{from:?} + {event}: {actions:#?}");
        assert_eq!(
            sent_notification(&actions),
            notification,
            "{from:?} + {event}: {actions:#?}"
        );
    }
    // Every event name is exercised from the states where it can matter.
    for from in [
        Start::Idle,
        Start::Connect,
        Start::OpenSent,
        Start::OpenConfirm,
        Start::Established,
    ] {
        let n = TABLE.iter().filter(|r| r.0 == from).count();
        assert!(n >= 17, "{from:?} has only {n} rows");
    }
}

#[test]
fn established_session_reports_and_delivers() {
    let mut p = bring(Start::OpenConfirm);
    let a = p.handle(Event::Received(OUT1, Message::Keepalive));
    let neg = a
        .iter()
        .find_map(|a| {
            if let Action::Established(n) = a {
                Some(n.clone())
            } else {
                None
            }
        })
        .expect("Established action");
    assert_eq!(neg.hold_time, 90, "the smaller of 240 and 90");
    assert_eq!(neg.keepalive, 30, "a third of the hold time");
    assert_eq!(neg.families, vec![Family::IPV4_UNICAST]);
    assert!(neg.route_refresh && neg.four_octet_as);
    assert!(a.contains(&Action::StartTimer(Timer::Hold(OUT1), Duration::from_secs(90))));
    let a = p.handle(Event::Received(OUT1, Message::Update(Box::default())));
    assert!(matches!(a.last(), Some(Action::Deliver(Message::Update(_)))));
    assert!(
        a.contains(&Action::StartTimer(Timer::Hold(OUT1), Duration::from_secs(90))),
        "UPDATE restarts hold"
    );
    let a = p.handle(Event::Received(
        OUT1,
        Message::Notification(Notification::new(
            NotifyKind::Cease(CeaseSubcode::AdministrativeShutdown),
            Vec::new(),
        )),
    ));
    assert!(a
        .iter()
        .any(|a| matches!(a, Action::Down(SessionError::NotificationReceived(n)) if n.subcode == 2)));
    assert!(a.contains(&Action::Close(OUT1)));
}

#[test]
fn open_checks_send_the_right_notification() {
    let cases: Vec<(Open, (u8, u8))> = vec![
        (
            Open::new(Asn(64999), 90, RouterId(Ipv4Addr::new(10, 0, 0, 2)), vec![]),
            (2, 2),
        ),
        (
            Open::new(Asn(0), 90, RouterId(Ipv4Addr::new(10, 0, 0, 2)), vec![]),
            (2, 2),
        ),
        (peer_open([10, 0, 0, 2], 1), (2, 6)),
        (peer_open([10, 0, 0, 2], 2), (2, 6)),
        (peer_open([0, 0, 0, 0], 90), (2, 3)),
        (
            Open::new(
                Asn(64513),
                90,
                RouterId(Ipv4Addr::new(10, 0, 0, 2)),
                vec![Capability::Multiprotocol {
                    family: Family::new(bgp_wire::Afi(25), bgp_wire::Safi(70)),
                }],
            ),
            (2, 7),
        ),
    ];
    for (open, want) in cases {
        let mut p = bring(Start::OpenSent);
        let a = p.handle(Event::Received(OUT1, Message::Open(open.clone())));
        assert_eq!(sent_notification(&a), Some(want), "{open:?}");
        assert_eq!(p.state(), State::Idle);
    }
    // Bad peer AS carries the 2-octet My AS as data.
    let mut p = bring(Start::OpenSent);
    let a = p.handle(Event::Received(
        OUT1,
        Message::Open(Open::new(Asn(64999), 90, RouterId(Ipv4Addr::new(10, 0, 0, 2)), vec![])),
    ));
    assert!(a
        .iter()
        .any(|a| matches!(a, Action::Send(_, Message::Notification(n)) if n.data[..] == 64999u16.to_be_bytes())));
    // Hold time 0 and 3 are accepted; 0 means no keepalives at all.
    for hold in [0u16, 3] {
        let mut p = bring(Start::OpenSent);
        let a = p.handle(Event::Received(OUT1, Message::Open(peer_open([10, 0, 0, 2], hold))));
        assert_eq!(p.state(), State::OpenConfirm, "hold {hold}");
        let keepalive_armed = a
            .iter()
            .any(|a| matches!(a, Action::StartTimer(Timer::Keepalive(_), _)));
        assert_eq!(keepalive_armed, hold != 0, "hold {hold}");
        let send_hold_armed = a.iter().any(|a| matches!(a, Action::StartTimer(Timer::SendHold(_), _)));
        assert_eq!(send_hold_armed, hold != 0, "RFC 9687: no send hold with hold 0");
    }
    // iBGP peer with our own identifier: 2/3; eBGP may share it (RFC 6286).
    let mut ibgp = cfg();
    ibgp.peer_as = Asn(64512);
    let mut p = Peer::new(ibgp, 1);
    p.handle(Event::Start);
    p.handle(Event::Accepted(IN1));
    let a = p.handle(Event::Received(
        IN1,
        Message::Open(Open::new(Asn(64512), 90, RouterId(Ipv4Addr::new(10, 0, 0, 1)), vec![])),
    ));
    assert_eq!(sent_notification(&a), Some((2, 3)));
    let mut p = bring(Start::OpenSent);
    p.handle(Event::Received(OUT1, Message::Open(peer_open([10, 0, 0, 1], 90))));
    assert_eq!(p.state(), State::OpenConfirm);
}

#[test]
fn passive_peer_never_connects_and_waits_in_active() {
    let mut c = cfg();
    c.passive = true;
    let mut p = Peer::new(c, 3);
    let a = p.handle(Event::Start);
    assert_eq!(p.state(), State::Active);
    assert!(!a
        .iter()
        .any(|a| matches!(a, Action::StartTimer(Timer::ConnectRetry, _))));
    let a = p.handle(Event::TimerExpired(Timer::ConnectRetry));
    assert!(!a.iter().any(|a| matches!(a, Action::Connect(_))));
    p.handle(Event::Accepted(IN1));
    assert_eq!(p.state(), State::OpenSent);
}

fn timer_of(a: &[Action], t: Timer) -> Option<Duration> {
    a.iter().find_map(|a| match a {
        Action::StartTimer(x, d) if *x == t => Some(*d),
        _ => None,
    })
}

#[test]
fn errors_hold_the_peer_idle_longer_each_time_and_a_stable_session_forgets() {
    let mut p = bring(Start::Connect);
    let mut waits = Vec::new();
    let mut conn = OUT1;
    for _ in 0..6 {
        p.handle(Event::Connected(conn));
        let a = p.handle(Event::TimerExpired(Timer::Hold(conn)));
        let d = timer_of(&a, Timer::IdleHold).expect("idle hold after an error");
        waits.push(d);
        assert_eq!(p.state(), State::Idle);
        p.handle(Event::TimerExpired(Timer::IdleHold));
        let a = p.handle(Event::TimerExpired(Timer::ConnectRetry));
        conn = a
            .iter()
            .find_map(|a| if let Action::Connect(c) = a { Some(*c) } else { None })
            .expect("reconnects");
    }
    // 5 s, 10 s, 20 s, then 30 s at most; each jittered to 75–100 %.
    let nominal = [5u64, 10, 20, 30, 30, 30];
    for (d, n) in waits.iter().zip(nominal) {
        let n = Duration::from_secs(n);
        assert!(*d <= n && *d >= n.mul_f64(0.75), "{waits:?}");
    }
    // Established for ERROR_FORGET resets it to 5 s.
    let mut p = bring(Start::Established);
    p.handle(Event::TimerExpired(Timer::Hold(OUT1)));
    p.handle(Event::TimerExpired(Timer::IdleHold));
    p.handle(Event::TimerExpired(Timer::ConnectRetry));
    let out2 = ConnId {
        dir: Direction::Outgoing,
        seq: 2,
    };
    p.handle(Event::Connected(out2));
    p.handle(Event::Received(out2, valid_open()));
    let a = p.handle(Event::Received(out2, Message::Keepalive));
    assert_eq!(timer_of(&a, Timer::ErrorForget), Some(bgp_fsm::ERROR_FORGET));
    p.handle(Event::TimerExpired(Timer::ErrorForget));
    let a = p.handle(Event::TimerExpired(Timer::Hold(out2)));
    assert!(timer_of(&a, Timer::IdleHold).unwrap() <= Duration::from_secs(5));
}

#[test]
fn a_refused_attempt_is_made_again_after_the_connect_delay() {
    let mut p = Peer::new(cfg(), 11);
    let a = p.handle(Event::Start);
    let first = timer_of(&a, Timer::ConnectRetry).unwrap();
    assert!(
        first <= Duration::from_secs(2) && first >= Duration::from_millis(1500),
        "connect delay 2 s"
    );
    // ConnectRetry bounds each attempt: 5 s, then 10 s after the first
    // failure, then 20 s at most.
    let nominal = [5u64, 10, 20, 20, 20];
    for (seq, n) in (1..=5).zip(nominal) {
        let id = ConnId {
            dir: Direction::Outgoing,
            seq,
        };
        let a = p.handle(Event::TimerExpired(Timer::ConnectRetry));
        assert!(a.contains(&Action::Connect(id)));
        let bound = timer_of(&a, Timer::ConnectRetry).unwrap();
        let n = Duration::from_secs(n);
        assert!(bound <= n && bound >= n.mul_f64(0.75), "attempt {seq}: {bound:?}");
        // Refused: the next attempt after the connect delay, every time,
        // as BIRD makes it.
        let a = p.handle(Event::ConnectionFailed(id));
        assert_eq!(p.state(), State::Active);
        let next = timer_of(&a, Timer::ConnectRetry).expect("a next attempt");
        assert!(
            next <= Duration::from_secs(2) && next >= Duration::from_millis(1500),
            "attempt {seq}: {next:?}"
        );
        assert_eq!(p.connect_retry_counter(), seq as u32);
    }
}

#[test]
fn an_attempt_without_answer_is_given_up_and_made_again() {
    let mut p = Peer::new(cfg(), 5);
    p.handle(Event::Start);
    let a = p.handle(Event::TimerExpired(Timer::ConnectRetry));
    assert!(a.contains(&Action::Connect(OUT1)));
    // No answer within ConnectRetry: that attempt goes, the next starts.
    let a = p.handle(Event::TimerExpired(Timer::ConnectRetry));
    assert!(a.iter().any(|x| matches!(x, Action::Connect(c) if c.seq == 2)), "{a:?}");
    assert_eq!(p.state(), State::Connect);
}

#[test]
fn stop_without_notification_closes_silently_for_graceful_restart() {
    let mut p = bring(Start::Established);
    let a = p.handle(Event::Stop { notification: None });
    assert_eq!(sent_notification(&a), None);
    assert!(a.contains(&Action::Close(OUT1)));
    assert!(a.contains(&Action::Down(SessionError::Stopped)));
    assert_eq!(p.state(), State::Idle);
    // And after a stop nothing restarts by itself.
    let a = p.handle(Event::TimerExpired(Timer::IdleHold));
    assert!(a.is_empty());
}

#[test]
fn update_and_route_refresh_reach_the_rib_only_when_established() {
    let mut p = bring(Start::Established);
    let a = p.handle(Event::Received(OUT1, Message::Update(Box::default())));
    assert_eq!(a.iter().filter(|a| matches!(a, Action::Deliver(_))).count(), 1);
    let a = p.handle(Event::Received(
        OUT1,
        Message::RouteRefresh(RouteRefresh {
            family: Family::IPV4_UNICAST,
            subtype: 0,
        }),
    ));
    assert_eq!(a.iter().filter(|a| matches!(a, Action::Deliver(_))).count(), 1);
}
