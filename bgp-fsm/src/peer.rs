//! The per-peer finite state machine of RFC 4271 §8.2, with connection
//! collision detection (§6.8, RFC 6286 §2.3).
//!
//! A peer holds at most one outgoing and one incoming connection. Each
//! connection runs its own OpenSent → OpenConfirm → Established sequence;
//! the peer's state, as `show protocols` reports it, is the most advanced
//! of them (Connect while an outgoing connection is pending, Active while
//! waiting, Idle when stopped or holding after an error).

use std::time::Duration;

use bgp_wire::{CeaseSubcode, DecodeError, FsmSubcode, Message, Notification, NotifyKind, Open};

use crate::config::PeerConfig;
use crate::event::{Action, ConnId, Direction, Event, SessionError, Timer};
use crate::negotiate::{local_open, negotiate, Negotiated};

/// The six states of RFC 4271 §8.2.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

/// Where one connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    /// Outgoing TCP connection in progress.
    Connecting,
    OpenSent,
    OpenConfirm,
    Established,
}

#[derive(Clone, Debug)]
struct Conn {
    id: ConnId,
    state: ConnState,
    negotiated: Option<Box<Negotiated>>,
}

/// How long the send hold timer waits (RFC 9687 §3: the greater of
/// 8 minutes and twice the negotiated hold time).
fn send_hold_time(hold: u16) -> Duration {
    Duration::from_secs(480.max(2 * u64::from(hold)))
}

/// Sessions Established this long forget earlier errors (BIRD's `error forget time`).
pub const ERROR_FORGET: Duration = Duration::from_secs(300);

/// The FSM of one peer.
#[derive(Debug)]
pub struct Peer {
    cfg: PeerConfig,
    open: Open,
    started: bool,
    idle_holding: bool,
    conns: Vec<Conn>,
    next_seq: u64,
    state: State,
    /// Consecutive failed attempts since the last Established (ConnectRetryCounter).
    connect_retry_counter: u32,
    /// Idle hold to use after the next error.
    error_wait: Duration,
    rng: u64,
    last_error: Option<SessionError>,
}

impl Peer {
    /// A stopped peer. `seed` drives the timer jitter (RFC 4271 §10), so a
    /// test can replay a run exactly.
    pub fn new(cfg: PeerConfig, seed: u64) -> Peer {
        let open = local_open(&cfg);
        let error_wait = cfg.error_wait.0;
        Peer {
            cfg,
            open,
            started: false,
            idle_holding: false,
            conns: Vec::new(),
            next_seq: 1,
            state: State::Idle,
            connect_retry_counter: 0,
            error_wait,
            rng: seed | 1,
            last_error: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }

    /// The OPEN we send.
    pub fn local_open(&self) -> &Open {
        &self.open
    }

    /// The parameters of the Established session, if there is one.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.conns
            .iter()
            .find(|c| c.state == ConnState::Established)
            .and_then(|c| c.negotiated.as_deref())
    }

    /// The connection carrying the Established session.
    pub fn established_conn(&self) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|c| c.state == ConnState::Established)
            .map(|c| c.id)
    }

    /// Why the last session or attempt ended.
    pub fn last_error(&self) -> Option<&SessionError> {
        self.last_error.as_ref()
    }

    /// Whether the peer is administratively started.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Consecutive failures since the last Established.
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// Feeds one event; returns what to do, in order.
    pub fn handle(&mut self, ev: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            Event::Start => self.start(&mut out),
            Event::Stop { notification } => self.stop(notification, &mut out),
            Event::TimerExpired(t) => self.timer(t, &mut out),
            Event::Connected(id) => self.connected(id, &mut out),
            Event::Accepted(id) => self.accepted(id, &mut out),
            Event::ConnectionFailed(id) => self.conn_failed(id, &mut out),
            Event::Received(id, m) => self.received(id, m, &mut out),
            Event::Malformed(id, e) => self.malformed(id, e, &mut out),
            Event::SendProgress(id) => {
                if let Some(c) = self.conn(id) {
                    if matches!(c.state, ConnState::OpenConfirm | ConnState::Established) {
                        self.arm_send_hold(id, &mut out);
                    }
                }
            }
        }
        self.update_state(&mut out);
        out
    }

    // ---- helpers ---------------------------------------------------------

    /// RFC 4271 §10: timers are jittered to 75–100 % of their value.
    fn jitter(&mut self, d: Duration) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let f = 0.75 + (self.rng % 1000) as f64 / 4000.0;
        d.mul_f64(f)
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.iter().find(|c| c.id == id)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    fn update_state(&mut self, out: &mut Vec<Action>) {
        let best = self.conns.iter().map(|c| c.state).max_by_key(|s| match s {
            ConnState::Connecting => 0,
            ConnState::OpenSent => 1,
            ConnState::OpenConfirm => 2,
            ConnState::Established => 3,
        });
        let to = match best {
            _ if !self.started || self.idle_holding => State::Idle,
            Some(ConnState::Established) => State::Established,
            Some(ConnState::OpenConfirm) => State::OpenConfirm,
            Some(ConnState::OpenSent) => State::OpenSent,
            Some(ConnState::Connecting) => State::Connect,
            None => State::Active,
        };
        if to != self.state {
            out.push(Action::StateChanged { from: self.state, to });
            self.state = to;
        }
    }

    fn stop_conn_timers(id: ConnId, out: &mut Vec<Action>) {
        out.push(Action::StopTimer(Timer::Hold(id)));
        out.push(Action::StopTimer(Timer::Keepalive(id)));
        out.push(Action::StopTimer(Timer::SendHold(id)));
    }

    /// Drops a connection, sending `notification` first when given.
    fn drop_conn(&mut self, id: ConnId, notification: Option<Notification>, out: &mut Vec<Action>) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let c = self.conns.remove(pos);
        if let Some(n) = notification {
            if c.state != ConnState::Connecting {
                out.push(Action::Send(id, Message::Notification(n)));
            }
        }
        out.push(Action::Close(id));
        Self::stop_conn_timers(id, out);
    }

    /// Schedules the next outgoing attempt after `after` (jittered), unless passive.
    fn schedule_connect(&mut self, after: Duration, out: &mut Vec<Action>) {
        if self.cfg.passive {
            return;
        }
        let d = self.jitter(after);
        out.push(Action::StartTimer(Timer::ConnectRetry, d));
    }

    /// A session or attempt failed: every connection goes, and the peer
    /// waits in Idle for the idle hold time, which doubles on each error
    /// (RFC 4271 §8.1.1 DampPeerOscillations).
    fn fail(&mut self, err: SessionError, out: &mut Vec<Action>) {
        let was_established = self.conns.iter().any(|c| c.state == ConnState::Established);
        for id in self.conns.iter().map(|c| c.id).collect::<Vec<_>>() {
            self.drop_conn(id, None, out);
        }
        if was_established {
            out.push(Action::Down(err.clone()));
            out.push(Action::StopTimer(Timer::ErrorForget));
        }
        self.last_error = Some(err);
        self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
        out.push(Action::StopTimer(Timer::ConnectRetry));
        if self.started {
            self.idle_holding = true;
            let d = self.jitter(self.error_wait);
            out.push(Action::StartTimer(Timer::IdleHold, d));
            self.error_wait = (self.error_wait * 2).min(self.cfg.error_wait.1);
        }
    }

    /// ConnectRetryTime grows with consecutive failures: ×1, ×2, ×4 at most.
    /// It bounds an attempt that gets no answer; a refused one is made
    /// again after the connect delay instead ([`Peer::conn_failed`]).
    fn retry_interval(&self) -> Duration {
        self.cfg.connect_retry * (1u32 << self.connect_retry_counter.min(2))
    }

    /// Sends `n` on `id`, closes it and fails the peer.
    fn fail_with(&mut self, id: ConnId, n: Notification, out: &mut Vec<Action>) {
        out.push(Action::Send(id, Message::Notification(n.clone())));
        self.fail(SessionError::NotificationSent(n), out);
    }

    fn arm_send_hold(&mut self, id: ConnId, out: &mut Vec<Action>) {
        let hold = self
            .conn(id)
            .and_then(|c| c.negotiated.as_ref())
            .map_or(self.cfg.hold_time, |n| n.hold_time);
        // RFC 9687 §4: not used when the negotiated hold time is zero.
        if self.cfg.send_hold && hold != 0 {
            out.push(Action::StartTimer(Timer::SendHold(id), send_hold_time(hold)));
        }
    }

    // ---- events ----------------------------------------------------------

    fn start(&mut self, out: &mut Vec<Action>) {
        if self.started {
            return; // RFC 4271 §8.2.2: ManualStart outside Idle is ignored.
        }
        self.started = true;
        self.idle_holding = false;
        self.connect_retry_counter = 0;
        self.error_wait = self.cfg.error_wait.0;
        self.schedule_connect(self.cfg.connect_delay, out);
    }

    fn stop(&mut self, notification: Option<Notification>, out: &mut Vec<Action>) {
        let was_established = self.conns.iter().any(|c| c.state == ConnState::Established);
        for id in self.conns.iter().map(|c| c.id).collect::<Vec<_>>() {
            self.drop_conn(id, notification.clone(), out);
        }
        if was_established {
            out.push(Action::Down(SessionError::Stopped));
        }
        self.started = false;
        self.idle_holding = false;
        self.connect_retry_counter = 0;
        self.last_error = Some(SessionError::Stopped);
        for t in [Timer::ConnectRetry, Timer::IdleHold, Timer::ErrorForget] {
            out.push(Action::StopTimer(t));
        }
    }

    fn timer(&mut self, t: Timer, out: &mut Vec<Action>) {
        match t {
            Timer::IdleHold => {
                // IdleHoldTimer_Expires (13): the automatic restart.
                if self.started && self.idle_holding {
                    self.idle_holding = false;
                    self.schedule_connect(Duration::ZERO, out);
                }
            }
            Timer::ConnectRetry => {
                if !self.started || self.idle_holding || self.cfg.passive {
                    return;
                }
                // Connect state: drop the attempt that did not complete and retry (§8.2.2).
                if let Some(old) = self
                    .conns
                    .iter()
                    .find(|c| c.state == ConnState::Connecting)
                    .map(|c| c.id)
                {
                    self.drop_conn(old, None, out);
                    self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
                }
                // Only one session at a time: no new attempt while another connection progresses.
                if self.conns.iter().any(|c| c.id.dir == Direction::Outgoing) {
                    return;
                }
                let id = ConnId {
                    dir: Direction::Outgoing,
                    seq: self.next_seq,
                };
                self.next_seq += 1;
                self.conns.push(Conn {
                    id,
                    state: ConnState::Connecting,
                    negotiated: None,
                });
                out.push(Action::Connect(id));
                let retry = self.retry_interval();
                self.schedule_connect(retry, out);
            }
            Timer::ErrorForget => {
                if self.conns.iter().any(|c| c.state == ConnState::Established) {
                    self.error_wait = self.cfg.error_wait.0;
                }
            }
            Timer::Hold(id) => {
                if self.conn(id).is_some_and(|c| c.state != ConnState::Connecting) {
                    self.fail_with(id, Notification::new(NotifyKind::HoldTimerExpired, Vec::new()), out);
                }
            }
            Timer::Keepalive(id) => {
                let Some(c) = self.conn(id) else { return };
                if matches!(c.state, ConnState::OpenConfirm | ConnState::Established) {
                    let ka = c.negotiated.as_ref().map_or(0, |n| n.keepalive);
                    out.push(Action::Send(id, Message::Keepalive));
                    if ka > 0 {
                        let d = self.jitter(Duration::from_secs(u64::from(ka)));
                        out.push(Action::StartTimer(Timer::Keepalive(id), d));
                    }
                }
            }
            Timer::SendHold(id) => {
                if self.conn(id).is_some_and(|c| c.state != ConnState::Connecting) {
                    // RFC 9687 §4: Send Hold Timer Expired, sent best-effort.
                    self.fail_with(id, Notification::new(NotifyKind::SendHoldTimerExpired, Vec::new()), out);
                }
            }
        }
    }

    /// A connection is up: send our OPEN and wait for the peer's in OpenSent.
    fn open_sent(&mut self, id: ConnId, out: &mut Vec<Action>) {
        out.push(Action::Send(id, Message::Open(self.open.clone())));
        out.push(Action::StartTimer(Timer::Hold(id), self.cfg.open_hold));
    }

    fn connected(&mut self, id: ConnId, out: &mut Vec<Action>) {
        match self.conn_mut(id) {
            Some(c) if c.state == ConnState::Connecting => c.state = ConnState::OpenSent,
            // Already up: nothing new.
            Some(_) => return,
            // Not a connection we are waiting for (stopped meanwhile): close it.
            None => {
                out.push(Action::Close(id));
                return;
            }
        }
        out.push(Action::StopTimer(Timer::ConnectRetry));
        self.open_sent(id, out);
    }

    fn accepted(&mut self, id: ConnId, out: &mut Vec<Action>) {
        if self.started && !self.idle_holding {
            // A peer opens one connection at a time: an earlier incoming one
            // still negotiating is stale (the peer gave up on it). An
            // Established one stays until the new OPEN shows whether the peer
            // restarted gracefully (decided in `open_received`).
            let stale: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|c| c.id.dir == Direction::Incoming && c.state != ConnState::Established)
                .map(|c| c.id)
                .collect();
            for old in stale {
                self.drop_conn(old, None, out);
            }
        }
        if !self.started || self.idle_holding {
            // RFC 4486 §4 / RFC 4271 §8.2.2 Idle: refuse with Connection Rejected.
            out.push(Action::Send(
                id,
                Message::Notification(Notification::new(
                    NotifyKind::Cease(CeaseSubcode::ConnectionRejected),
                    Vec::new(),
                )),
            ));
            out.push(Action::Close(id));
            return;
        }
        self.conns.push(Conn {
            id,
            state: ConnState::OpenSent,
            negotiated: None,
        });
        self.open_sent(id, out);
    }

    fn conn_failed(&mut self, id: ConnId, out: &mut Vec<Action>) {
        let Some(c) = self.conn(id) else { return };
        match c.state {
            ConnState::Connecting => {
                // Connect + TcpConnectionFails: back to Active (§8.2.2). The
                // next attempt comes after the connect delay, as BIRD makes
                // it (`connect delay time`), not after what is left of
                // ConnectRetry, which grows: a peer refuses while its
                // speaker is still starting, and a mesh whose nodes start
                // one after another comes up that much sooner.
                self.conns.retain(|c| c.id != id);
                self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
                self.last_error = Some(SessionError::ConnectionClosed);
                out.push(Action::StopTimer(Timer::ConnectRetry));
                self.schedule_connect(self.cfg.connect_delay, out);
            }
            ConnState::OpenSent if self.conns.len() > 1 => {
                // The other connection carries on.
                self.drop_conn(id, None, out);
            }
            ConnState::OpenSent => {
                // OpenSent + TcpConnectionFails: back to Active, retry later (§8.2.2).
                self.drop_conn(id, None, out);
                self.last_error = Some(SessionError::ConnectionClosed);
                let retry = self.retry_interval();
                self.schedule_connect(retry, out);
            }
            ConnState::OpenConfirm | ConnState::Established => {
                if c.state == ConnState::OpenConfirm && self.conns.len() > 1 {
                    self.drop_conn(id, None, out);
                } else {
                    self.fail(SessionError::ConnectionClosed, out);
                }
            }
        }
    }

    fn malformed(&mut self, id: ConnId, e: DecodeError, out: &mut Vec<Action>) {
        // Nothing can arrive on a connection that is not up yet.
        if self.conn(id).is_none_or(|c| c.state == ConnState::Connecting) {
            return;
        }
        match e.notification() {
            Some(n) => self.fail_with(id, Notification::from(n), out),
            None => self.fail(SessionError::ConnectionClosed, out),
        }
    }

    fn received(&mut self, id: ConnId, m: Message, out: &mut Vec<Action>) {
        let Some(c) = self.conn(id).filter(|c| c.state != ConnState::Connecting) else {
            return;
        };
        let state = c.state;
        // A NOTIFICATION ends the connection in every state (NotifMsg, 25).
        if let Message::Notification(n) = m {
            if self.conns.len() > 1 && state != ConnState::Established {
                self.drop_conn(id, None, out);
            } else {
                self.fail(SessionError::NotificationReceived(n), out);
            }
            return;
        }
        match (state, m) {
            (ConnState::Connecting, _) => {}
            (ConnState::OpenSent, Message::Open(theirs)) => self.open_received(id, theirs, out),
            // RFC 6608: an unexpected message in OpenSent is FSM error 5/1 ...
            (ConnState::OpenSent, _) => self.fail_with(
                id,
                Notification::new(NotifyKind::Fsm(FsmSubcode::UnexpectedInOpenSent), Vec::new()),
                out,
            ),
            (ConnState::OpenConfirm, Message::Keepalive) => self.established(id, out),
            // ... 5/2 in OpenConfirm ...
            (ConnState::OpenConfirm, _) => self.fail_with(
                id,
                Notification::new(NotifyKind::Fsm(FsmSubcode::UnexpectedInOpenConfirm), Vec::new()),
                out,
            ),
            (ConnState::Established, Message::Keepalive) => self.restart_hold(id, out),
            (ConnState::Established, m @ Message::Update(_)) => {
                self.restart_hold(id, out);
                out.push(Action::Deliver(m));
            }
            (ConnState::Established, m @ Message::RouteRefresh(_)) => {
                // RFC 2918 §4: without the negotiated capability it is ignored.
                if self.negotiated().is_some_and(|n| n.route_refresh) {
                    out.push(Action::Deliver(m));
                }
            }
            // ... and 5/3 in Established.
            (ConnState::Established, _) => self.fail_with(
                id,
                Notification::new(NotifyKind::Fsm(FsmSubcode::UnexpectedInEstablished), Vec::new()),
                out,
            ),
        }
    }

    fn restart_hold(&mut self, id: ConnId, out: &mut Vec<Action>) {
        let hold = self
            .conn(id)
            .and_then(|c| c.negotiated.as_ref())
            .map_or(0, |n| n.hold_time);
        if hold > 0 {
            out.push(Action::StartTimer(
                Timer::Hold(id),
                Duration::from_secs(u64::from(hold)),
            ));
        }
    }

    /// OpenSent + BGPOpen (19): check it, then resolve any collision.
    fn open_received(&mut self, id: ConnId, theirs: Open, out: &mut Vec<Action>) {
        let neg = match negotiate(&self.cfg, &self.open, &theirs) {
            Ok(n) => n,
            Err(e) => return self.fail_with(id, Notification::from(e), out),
        };
        // RFC 4271 §6.8 / RFC 6286 §2.3: with two connections, keep the one
        // opened by the side with the higher BGP Identifier (as a number),
        // or with equal identifiers by the side with the larger AS.
        let others: Vec<(ConnId, ConnState)> = self
            .conns
            .iter()
            .filter(|c| c.id != id)
            .map(|c| (c.id, c.state))
            .collect();
        for (other, other_state) in others {
            match other_state {
                ConnState::Established => {
                    let gr = self
                        .conn(other)
                        .and_then(|c| c.negotiated.as_ref())
                        .is_some_and(|n| n.graceful_restart.is_some());
                    if gr {
                        // RFC 4724 §4: a new connection from a graceful restart
                        // peer means the old session is gone; its routes go stale.
                        self.drop_conn(other, None, out);
                        out.push(Action::Down(SessionError::ConnectionClosed));
                        out.push(Action::StopTimer(Timer::ErrorForget));
                    } else {
                        // CollisionDetectEstablishedState is off: the new connection yields.
                        self.drop_conn(
                            id,
                            Some(Notification::new(
                                NotifyKind::Cease(CeaseSubcode::ConnectionCollisionResolution),
                                Vec::new(),
                            )),
                            out,
                        );
                        return;
                    }
                }
                ConnState::OpenConfirm | ConnState::OpenSent => {
                    let (local, remote) = (u32::from(self.cfg.router_id.0), u32::from(theirs.router_id.0));
                    let keep_outgoing = if local == remote {
                        self.cfg.local_as > neg.peer_as
                    } else {
                        local > remote
                    };
                    let loser = if (id.dir == Direction::Outgoing) == keep_outgoing {
                        other
                    } else {
                        id
                    };
                    self.drop_conn(
                        loser,
                        Some(Notification::new(
                            NotifyKind::Cease(CeaseSubcode::ConnectionCollisionResolution),
                            Vec::new(),
                        )),
                        out,
                    );
                    if loser == id {
                        return;
                    }
                }
                ConnState::Connecting => {
                    // An attempt still in progress is no longer needed.
                    self.drop_conn(other, None, out);
                    out.push(Action::StopTimer(Timer::ConnectRetry));
                }
            }
        }
        let (hold, ka) = (neg.hold_time, neg.keepalive);
        if let Some(c) = self.conn_mut(id) {
            c.state = ConnState::OpenConfirm;
            c.negotiated = Some(Box::new(neg));
        }
        out.push(Action::Send(id, Message::Keepalive));
        if hold > 0 {
            out.push(Action::StartTimer(
                Timer::Hold(id),
                Duration::from_secs(u64::from(hold)),
            ));
            let d = self.jitter(Duration::from_secs(u64::from(ka)));
            out.push(Action::StartTimer(Timer::Keepalive(id), d));
        } else {
            // Hold time 0: no hold timer and no keepalives (RFC 4271 §4.4).
            out.push(Action::StopTimer(Timer::Hold(id)));
        }
        self.arm_send_hold(id, out);
    }

    /// OpenConfirm + KeepAliveMsg (26).
    fn established(&mut self, id: ConnId, out: &mut Vec<Action>) {
        let Some(c) = self.conn_mut(id) else { return };
        c.state = ConnState::Established;
        let neg = c.negotiated.clone();
        self.restart_hold(id, out);
        self.connect_retry_counter = 0;
        self.last_error = None;
        out.push(Action::StopTimer(Timer::ConnectRetry));
        out.push(Action::StartTimer(Timer::ErrorForget, ERROR_FORGET));
        if let Some(n) = neg {
            out.push(Action::Established(n));
        }
    }
}
