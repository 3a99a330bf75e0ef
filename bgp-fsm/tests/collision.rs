//! Connection collisions (RFC 4271 §6.8, RFC 6286 §2.3), with two FSMs
//! wired back to back: messages go through the real codec, timers run on a
//! virtual clock. When both sides connect at once, exactly one session
//! must survive, on the same TCP connection at both ends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::{Action, ConnId, Event, Peer, PeerConfig, State, Timer};
use bgp_wire::{Asn, Message, RouterId, SessionCtx};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    A,
    B,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

struct Net {
    peers: HashMap<Side, Peer>,
    /// (side, its connection) → the other side's end of the same TCP connection.
    links: HashMap<(Side, ConnId), ConnId>,
    queue: VecDeque<(Side, Event)>,
    timers: BTreeMap<(Side, String), (u64, Timer)>,
    now_ms: u64,
    next_incoming: u64,
    notifications: Vec<(Side, u8, u8)>,
}

impl Net {
    fn new(a: PeerConfig, b: PeerConfig) -> Net {
        let mut peers = HashMap::new();
        peers.insert(Side::A, Peer::new(a, 1));
        peers.insert(Side::B, Peer::new(b, 2));
        Net {
            peers,
            links: HashMap::new(),
            queue: VecDeque::new(),
            timers: BTreeMap::new(),
            now_ms: 0,
            next_incoming: 100,
            notifications: Vec::new(),
        }
    }

    fn apply(&mut self, side: Side, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Connect(id) => {
                    let inc = ConnId::incoming(self.next_incoming);
                    self.next_incoming += 1;
                    self.links.insert((side, id), inc);
                    self.links.insert((side.other(), inc), id);
                    self.queue.push_back((side.other(), Event::Accepted(inc)));
                    self.queue.push_back((side, Event::Connected(id)));
                }
                Action::Send(id, m) => {
                    if let Message::Notification(n) = &m {
                        self.notifications.push((side, n.code, n.subcode));
                    }
                    let Some(&there) = self.links.get(&(side, id)) else {
                        continue;
                    };
                    // Through the real codec, both ways.
                    let bytes = m.to_bytes(&SessionCtx::default()).expect("encodes");
                    let back = Message::decode(&bytes, &SessionCtx::default()).expect("decodes");
                    self.queue.push_back((side.other(), Event::Received(there, back)));
                }
                Action::Close(id) => {
                    if let Some(there) = self.links.remove(&(side, id)) {
                        self.links.remove(&(side.other(), there));
                        self.queue.push_back((side.other(), Event::ConnectionFailed(there)));
                    }
                }
                Action::StartTimer(t, d) => {
                    self.timers
                        .insert((side, format!("{t:?}")), (self.now_ms + d.as_millis() as u64, t));
                }
                Action::StopTimer(t) => {
                    self.timers.remove(&(side, format!("{t:?}")));
                }
                _ => {}
            }
        }
    }

    fn event(&mut self, side: Side, ev: Event) {
        let actions = self.peers.get_mut(&side).unwrap().handle(ev);
        self.apply(side, actions);
    }

    /// Runs until `until_ms` of virtual time.
    fn run(&mut self, until_ms: u64) {
        loop {
            while let Some((side, ev)) = self.queue.pop_front() {
                self.event(side, ev);
            }
            let next = self
                .timers
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, v)| (k.clone(), *v));
            match next {
                Some((key, (at, t))) if at <= until_ms => {
                    self.timers.remove(&key);
                    self.now_ms = at;
                    self.event(key.0, Event::TimerExpired(t));
                }
                _ => return,
            }
        }
    }

    fn state(&self, side: Side) -> State {
        self.peers[&side].state()
    }

    /// Both established on the two ends of one TCP connection.
    fn one_session(&self) -> bool {
        let (Some(a), Some(b)) = (
            self.peers[&Side::A].established_conn(),
            self.peers[&Side::B].established_conn(),
        ) else {
            return false;
        };
        self.links.get(&(Side::A, a)) == Some(&b) && self.links.len() == 2
    }
}

fn cfg(local: u32, peer: u32, id: [u8; 4]) -> PeerConfig {
    let mut c = PeerConfig::new(Asn(local), Asn(peer), RouterId(Ipv4Addr::from(id)));
    c.hold_time = 9;
    c
}

/// Starts both and fires both connect timers before anything else happens.
fn simultaneous(a: PeerConfig, b: PeerConfig) -> Net {
    let mut net = Net::new(a, b);
    net.event(Side::A, Event::Start);
    net.event(Side::B, Event::Start);
    net.timers.clear();
    net.event(Side::A, Event::TimerExpired(Timer::ConnectRetry));
    net.event(Side::B, Event::TimerExpired(Timer::ConnectRetry));
    net
}

#[test]
fn both_sides_connecting_at_once_leaves_exactly_one_session() {
    let mut net = simultaneous(cfg(64512, 64513, [10, 0, 0, 1]), cfg(64513, 64512, [10, 0, 0, 2]));
    net.run(60_000);
    assert_eq!(
        (net.state(Side::A), net.state(Side::B)),
        (State::Established, State::Established)
    );
    assert!(net.one_session(), "links: {:?}", net.links);
    // The connection B (higher identifier) opened survived; the other was
    // closed with Cease / Connection Collision Resolution.
    let b_conn = net.peers[&Side::B].established_conn().unwrap();
    assert_eq!(b_conn.dir, bgp_fsm::Direction::Outgoing);
    assert!(
        net.notifications.iter().any(|&(_, c, s)| (c, s) == (6, 7)),
        "{:?}",
        net.notifications
    );
    // And it stays up through many keepalive intervals (hold 9 s, keepalive 3 s).
    net.run(300_000);
    assert!(net.one_session());
    assert!(
        !net.notifications.iter().any(|&(_, c, _)| c == 4),
        "no hold timer expiry: {:?}",
        net.notifications
    );
}

#[test]
fn equal_identifiers_keep_the_connection_of_the_larger_as() {
    let mut net = simultaneous(cfg(64512, 65000, [10, 0, 0, 9]), cfg(65000, 64512, [10, 0, 0, 9]));
    net.run(60_000);
    assert!(net.one_session(), "links: {:?}", net.links);
    // B has the larger AS: its outgoing connection is kept.
    assert_eq!(
        net.peers[&Side::B].established_conn().unwrap().dir,
        bgp_fsm::Direction::Outgoing
    );
}

#[test]
fn lower_identifier_keeps_the_peers_connection() {
    let mut net = simultaneous(cfg(64512, 64513, [10, 0, 0, 200]), cfg(64513, 64512, [10, 0, 0, 3]));
    net.run(60_000);
    assert!(net.one_session());
    assert_eq!(
        net.peers[&Side::A].established_conn().unwrap().dir,
        bgp_fsm::Direction::Outgoing
    );
}

#[test]
fn a_second_connection_to_an_established_peer_is_refused() {
    let mut a = cfg(64512, 64513, [10, 0, 0, 1]);
    a.graceful_restart = None;
    let mut b = cfg(64513, 64512, [10, 0, 0, 2]);
    b.graceful_restart = None;
    b.passive = true;
    let mut net = Net::new(a, b);
    net.event(Side::A, Event::Start);
    net.event(Side::B, Event::Start);
    net.run(10_000);
    assert!(net.one_session());
    let before = net.peers[&Side::A].established_conn();
    // A third party (a restarted A without graceful restart) connects to B.
    let intruder = ConnId::incoming(999);
    let actions = net.peers.get_mut(&Side::B).unwrap().handle(Event::Accepted(intruder));
    assert!(actions
        .iter()
        .any(|x| matches!(x, Action::Send(id, Message::Open(_)) if *id == intruder)));
    let open = net.peers[&Side::A].local_open().clone();
    let actions = net
        .peers
        .get_mut(&Side::B)
        .unwrap()
        .handle(Event::Received(intruder, Message::Open(open)));
    assert!(actions.iter().any(
        |x| matches!(x, Action::Send(id, Message::Notification(n)) if *id == intruder && (n.code, n.subcode) == (6, 7))
    ));
    assert!(actions.contains(&Action::Close(intruder)));
    assert_eq!(net.state(Side::B), State::Established);
    assert_eq!(net.peers[&Side::A].established_conn(), before);
}

#[test]
fn a_graceful_restart_peer_reconnecting_replaces_its_old_session() {
    let a = cfg(64512, 64513, [10, 0, 0, 1]);
    let mut b = cfg(64513, 64512, [10, 0, 0, 2]);
    b.passive = true;
    let mut net = Net::new(a, b);
    net.event(Side::A, Event::Start);
    net.event(Side::B, Event::Start);
    net.run(10_000);
    assert!(net.one_session());
    let old = net.peers[&Side::B].established_conn().unwrap();
    let fresh = ConnId::incoming(999);
    let bpeer = net.peers.get_mut(&Side::B).unwrap();
    bpeer.handle(Event::Accepted(fresh));
    let open = net.peers[&Side::A].local_open().clone();
    let bpeer = net.peers.get_mut(&Side::B).unwrap();
    let actions = bpeer.handle(Event::Received(fresh, Message::Open(open)));
    assert!(actions.contains(&Action::Close(old)), "{actions:#?}");
    assert!(actions.iter().any(|x| matches!(x, Action::Down(_))));
    assert_eq!(bpeer.state(), State::OpenConfirm);
    bpeer.handle(Event::Received(fresh, Message::Keepalive));
    assert_eq!(bpeer.established_conn(), Some(fresh));
}

#[test]
fn a_frozen_peer_is_dropped_by_the_hold_timer_and_comes_back() {
    let mut net = Net::new(cfg(64512, 64513, [10, 0, 0, 1]), cfg(64513, 64512, [10, 0, 0, 2]));
    net.event(Side::A, Event::Start);
    net.event(Side::B, Event::Start);
    net.run(20_000);
    assert!(net.one_session());
    // Freeze B: its timers stop and nothing it would send arrives.
    let frozen: Vec<_> = net.timers.keys().filter(|k| k.0 == Side::B).cloned().collect();
    let saved: Vec<_> = frozen
        .iter()
        .map(|k| (k.clone(), net.timers.remove(k).unwrap()))
        .collect();
    let t0 = net.now_ms;
    // Run A alone for 15 s: its hold timer (9 s) fires.
    loop {
        let next = net
            .timers
            .iter()
            .min_by_key(|(_, (at, _))| *at)
            .map(|(k, v)| (k.clone(), *v));
        let Some((key, (at, t))) = next else { break };
        if at > t0 + 15_000 {
            break;
        }
        net.timers.remove(&key);
        net.now_ms = at;
        let actions = net.peers.get_mut(&Side::A).unwrap().handle(Event::TimerExpired(t));
        for a in &actions {
            if let Action::Send(_, Message::Notification(n)) = a {
                net.notifications.push((Side::A, n.code, n.subcode));
            }
        }
        // A's messages to B are lost while B is frozen; timers still count.
        let kept: Vec<Action> = actions
            .into_iter()
            .filter(|a| matches!(a, Action::StartTimer(..) | Action::StopTimer(_)))
            .collect();
        net.apply(Side::A, kept);
    }
    assert!(net.notifications.contains(&(Side::A, 4, 0)), "{:?}", net.notifications);
    assert_ne!(net.state(Side::A), State::Established);
    // Thaw B: it notices the closed connection and both come back.
    for (k, (_, t)) in saved {
        net.timers.insert(k, (net.now_ms + 1, t));
    }
    for (k, v) in net.links.clone() {
        if k.0 == Side::A {
            net.links.remove(&k);
            net.links.remove(&(Side::B, v));
            net.queue.push_back((Side::B, Event::ConnectionFailed(v)));
        }
    }
    net.run(net.now_ms + 60_000);
    assert!(net.one_session(), "{:?} {:?}", net.state(Side::A), net.state(Side::B));
    let _ = Duration::ZERO;
}
