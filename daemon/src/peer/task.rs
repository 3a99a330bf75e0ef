//! One tokio task per peer: it owns the sans-IO `bgp_fsm::Peer`, turns
//! socket and timer happenings into FSM events, and carries out the FSM's
//! actions. Protocol decisions stay in the FSM; this file only does I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bgp_fsm::{Action, ConnId, Event, Negotiated, Peer, SessionError, State, Timer};
use bgp_wire::{CeaseSubcode, Message, Notification, NotifyKind, SessionCtx};
use rib::PeerId;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::conn::{attach, Conn, ConnEvent, WriterMsg};
use super::last_error::{describe, LastError};
use super::malformed::{self, MalformedLog};
use super::sockopt;
use super::{Command, CommandResult, Input, PeerHandle, PeerStatus, PeerTx};
use crate::config::PeerSettings;
use crate::rde::RdeMsg;

struct Task {
    name: String,
    settings: PeerSettings,
    fsm: Peer,
    timers: HashMap<Timer, Instant>,
    conns: HashMap<ConnId, Conn>,
    /// This task's own channel: connections report on it, and the engine
    /// sends commands (a prefix limit) through it.
    tx: PeerTx,
    status: Arc<Mutex<PeerStatus>>,
    next_incoming: u64,
    /// The socket error of the last failed outgoing attempt, for `show protocols`.
    socket_error: Option<LastError>,
    /// Writers of connections we closed, flushing (a NOTIFICATION, say),
    /// and their readers, draining until the peer closes too.
    closing: Vec<tokio::task::JoinHandle<()>>,
    /// This peer's number for the routing engine.
    id: PeerId,
    rde: mpsc::UnboundedSender<RdeMsg>,
    /// Counts sessions, so UPDATEs meant for an earlier one are dropped.
    epoch: u64,
    /// Bounds the UPDATEs between our readers and the RIB.
    in_flight: Arc<tokio::sync::Semaphore>,
    /// The permit of the UPDATE being handled.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The peer's graceful restart capability in the session now up.
    peer_gr: Option<bgp_wire::capability::GracefulRestart>,
    /// Malformed input is logged at most once a minute.
    malformed: MalformedLog,
    /// When a session ended by its prefix limit starts again.
    limit_restart: Option<Instant>,
    /// This peer's Prometheus series.
    metrics: crate::metrics::PeerMetrics,
}

/// Starts the task of one peer and returns its handle.
pub fn spawn(
    id: PeerId,
    settings: PeerSettings,
    fsm_cfg: bgp_fsm::PeerConfig,
    seed: u64,
    rde: mpsc::UnboundedSender<RdeMsg>,
    in_flight: Arc<tokio::sync::Semaphore>,
) -> PeerHandle {
    let status = Arc::new(Mutex::new(PeerStatus {
        name: settings.name.clone(),
        address: settings.address,
        port: settings.port,
        peer_as: settings.asn,
        local_as: fsm_cfg.local_as,
        description: settings.description.clone(),
        passive: settings.passive,
        enabled: true,
        disable_message: None,
        state: State::Idle,
        since: SystemTime::now(),
        last_error: None,
        negotiated: None,
        source: None,
        hold_deadline: None,
        keepalive_deadline: None,
        connect_deadline: None,
        updates_received: 0,
        prefixes_received: 0,
    }));
    let (tx, rx) = super::channel();
    let handle = PeerHandle {
        id,
        name: settings.name.clone(),
        address: settings.address,
        scope: settings.interface.as_deref().and_then(super::sockopt::if_index),
        status: status.clone(),
        tx: tx.clone(),
    };
    let task = Task {
        name: settings.name.clone(),
        fsm: Peer::new(fsm_cfg, seed),
        settings,
        timers: HashMap::new(),
        conns: HashMap::new(),
        tx,
        status,
        next_incoming: 1,
        socket_error: None,
        closing: Vec::new(),
        id,
        peer_gr: None,
        rde,
        epoch: 0,
        in_flight,
        permit: None,
        malformed: MalformedLog::default(),
        limit_restart: None,
        metrics: crate::metrics::metrics().peer(&handle.name),
    };
    // Boxed, so that the task's future holds a pointer to it: an async
    // fn's arguments are stored in its future twice (rust-lang/rust#62958),
    // which made each peer task's future 2.3 kB instead of 0.4 kB.
    tokio::spawn(Box::new(task).run(rx));
    handle
}

/// Waits (a little) for a stopping peer's writers to flush and for the peer
/// to close its side after our NOTIFICATION; the peer task answers the stop
/// only then, and the daemon exits when every peer has answered. Exiting
/// first loses what is unwritten, and exiting with the peer's data unread
/// makes the kernel send RST, which can lose the NOTIFICATION too.
async fn finish(closing: Vec<tokio::task::JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    for r in closing {
        let _ = tokio::time::timeout_at(deadline, r).await;
    }
}

impl Task {
    /// Logs a problem with what the peer sent, unless one was logged in
    /// the last minute: a peer that keeps sending it cannot flood the log.
    fn log_malformed(&mut self, what: &str) {
        if let Some(n) = self.malformed.admit(Instant::now()) {
            warn!(peer = %self.name, "{what}{}", malformed::suppressed_note(n));
        }
    }

    async fn run(mut self: Box<Self>, mut input: crate::mailbox::Receiver<Input>) {
        self.feed(Event::Start);
        loop {
            let next = self.timers.values().copied().chain(self.limit_restart).min();
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                i = input.recv() => match i {
                    Some(Input::Command(cmd, reply)) => {
                        let stop = matches!(
                            cmd,
                            Command::Shutdown | Command::Decommission | Command::Deconfigure { .. }
                        );
                        let r = self.command(cmd);
                        if stop {
                            // Boxed: the future of this once-only wait would
                            // otherwise be part of every peer task's, all along.
                            Box::pin(finish(std::mem::take(&mut self.closing))).await;
                            let _ = reply.send(r);
                            return;
                        }
                        let _ = reply.send(r);
                    }
                    Some(Input::Accepted(stream)) => self.accepted(stream),
                    Some(Input::Conn(id, ev)) => self.conn_event(id, ev),
                    None => return,
                },
                _ = sleep => self.fire_timers(),
            }
            self.publish_timers();
        }
    }

    fn command(&mut self, cmd: Command) -> CommandResult {
        let enabled = self.status.lock().map(|s| s.enabled).unwrap_or(true);
        match cmd {
            Command::Enable if enabled => CommandResult::AlreadyDone,
            Command::Enable => {
                self.set_status(|s| {
                    s.enabled = true;
                    s.disable_message = None;
                    s.since = SystemTime::now();
                });
                self.feed(Event::Start);
                CommandResult::Done
            }
            Command::Disable(_) if !enabled => CommandResult::AlreadyDone,
            Command::Disable(msg) => {
                info!(peer = %self.name, "disabled{}", msg.as_ref().map(|m| format!(": {m}")).unwrap_or_default());
                let n = Notification::shutdown(CeaseSubcode::AdministrativeShutdown, msg.as_deref().unwrap_or(""));
                self.set_status(|s| {
                    s.enabled = false;
                    s.disable_message = msg.clone();
                    s.since = SystemTime::now();
                });
                self.feed(Event::Stop { notification: Some(n) });
                CommandResult::Done
            }
            Command::Restart => {
                info!(peer = %self.name, "restarted by the operator");
                let n = Notification::shutdown(CeaseSubcode::AdministrativeReset, "restart");
                self.feed(Event::Stop { notification: Some(n) });
                self.set_status(|s| s.enabled = true);
                self.feed(Event::Start);
                CommandResult::Done
            }
            Command::Decommission => {
                let n = Notification::shutdown(CeaseSubcode::AdministrativeShutdown, "ternd shut down by the operator");
                self.feed(Event::Stop { notification: Some(n) });
                CommandResult::Done
            }
            Command::Deconfigure { subcode } => {
                let n = Notification::new(NotifyKind::Cease(subcode), bytes::Bytes::new());
                info!(peer = %self.name, "{} by a reload", n.description());
                self.feed(Event::Stop { notification: Some(n) });
                CommandResult::Done
            }
            Command::PrefixLimit(ev) => {
                self.prefix_limit(ev);
                CommandResult::Done
            }
            Command::Update(settings) => {
                self.set_status(|s| s.description = settings.description.clone());
                self.settings = *settings;
                CommandResult::Done
            }
            Command::Shutdown => {
                // RFC 4724: a Cease makes a graceful-restart peer flush our
                // routes; close silently so it keeps them while we restart.
                let gr = self.fsm.negotiated().is_some_and(|n| n.graceful_restart.is_some());
                let n =
                    (!gr).then(|| Notification::shutdown(CeaseSubcode::AdministrativeShutdown, "ternd shutting down"));
                self.feed(Event::Stop { notification: n });
                CommandResult::Done
            }
        }
    }

    /// The peer crossed `max_prefixes`: a warning, or (RFC 4486 §4) Cease
    /// / Maximum Number of Prefixes Reached with the family and the limit,
    /// the peer down until the operator enables it or the restart time.
    fn prefix_limit(&mut self, ev: rib::LimitEvent) {
        let Some(limit) = self.settings.max_prefixes.clone() else {
            return;
        };
        if limit.action == crate::config::LimitAction::Warn {
            warn!(
                peer = %self.name,
                "{} routes held, over max_prefixes = {}: kept (max_prefixes_action = \"warn\")",
                ev.count, ev.limit
            );
            return;
        }
        let mut data = Vec::with_capacity(7);
        data.extend(ev.family.afi.0.to_be_bytes());
        data.push(ev.family.safi.0);
        data.extend(u32::try_from(ev.limit).unwrap_or(u32::MAX).to_be_bytes());
        let n = Notification::new(NotifyKind::Cease(CeaseSubcode::MaximumPrefixesReached), data);
        warn!(
            peer = %self.name,
            "{} routes held, over max_prefixes = {}: ending the session{}",
            ev.count,
            ev.limit,
            limit.restart.map(|r| format!(", again in {} s", r.as_secs())).unwrap_or_default()
        );
        self.set_status(|s| {
            s.enabled = false;
            s.disable_message = Some(format!("over max_prefixes = {}", ev.limit));
            s.since = SystemTime::now();
        });
        self.feed(Event::Stop { notification: Some(n) });
        self.limit_restart = limit.restart.map(|r| Instant::now() + r);
    }

    fn set_status(&self, f: impl FnOnce(&mut PeerStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    fn publish_timers(&self) {
        let est = self.fsm.established_conn();
        let t = &self.timers;
        self.set_status(|s| {
            s.hold_deadline = est.and_then(|c| t.get(&Timer::Hold(c)).copied());
            s.keepalive_deadline = est.and_then(|c| t.get(&Timer::Keepalive(c)).copied());
            s.connect_deadline = t.get(&Timer::ConnectRetry).copied();
        });
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        if self.limit_restart.is_some_and(|t| t <= now) {
            self.limit_restart = None;
            info!(peer = %self.name, "starting again after its prefix limit (max_prefixes_restart)");
            self.command(Command::Enable);
        }
        let due: Vec<Timer> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in due {
            self.timers.remove(&t);
            if matches!(t, Timer::Hold(_)) {
                warn!(peer = %self.name, "hold timer expired");
            }
            self.feed(Event::TimerExpired(t));
        }
    }

    fn accepted(&mut self, stream: TcpStream) {
        let id = ConnId::incoming(self.next_incoming);
        self.next_incoming += 1;
        if let Some(h) = self.settings.ttl_security {
            sockopt::set_gtsm(&stream, self.settings.address.is_ipv4(), h);
        }
        debug!(peer = %self.name, ?id, "connection accepted");
        self.attach(id, stream);
        self.feed(Event::Accepted(id));
    }

    fn conn_event(&mut self, id: ConnId, ev: ConnEvent) {
        match ev {
            ConnEvent::Connected(stream) => {
                if self.fsm.state() == State::Idle && !self.fsm.is_started() {
                    return;
                }
                self.socket_error = None;
                self.attach(id, stream);
                self.feed(Event::Connected(id));
            }
            ConnEvent::ConnectFailed(e) => {
                debug!(peer = %self.name, "connect failed: {e}");
                self.socket_error = Some(LastError::Socket(e.to_string()));
                self.feed(Event::ConnectionFailed(id));
            }
            ConnEvent::Frame(frame, permit) => {
                if !self.conns.contains_key(&id) {
                    return;
                }
                // Handed to the RIB with the UPDATE, or released below.
                self.permit = permit;
                let ctx = self.fsm.negotiated().map_or_else(SessionCtx::default, |n| n.rx_ctx());
                match Message::decode(&frame, &ctx) {
                    Ok(m) => {
                        if let Message::Update(u) = &m {
                            if !u.errors.is_empty() {
                                self.log_malformed(&format!(
                                    "RFC 7606: {}",
                                    malformed::describe_attr_errors(&u.errors)
                                ));
                            }
                        }
                        if let Message::Notification(n) = &m {
                            self.metrics.notifications_in.inc();
                            warn!(peer = %self.name, code = n.code, subcode = n.subcode, "received NOTIFICATION: {}", describe(n));
                            self.socket_error = Some(LastError::Received(n.clone()));
                        }
                        self.feed(Event::Received(id, m));
                    }
                    Err(e) => {
                        self.log_malformed(&format!("malformed message: {e}; bytes {}", malformed::excerpt(&frame)));
                        self.feed(Event::Malformed(id, e));
                    }
                }
                self.permit = None;
            }
            ConnEvent::Framing(e) => {
                if self.conns.contains_key(&id) {
                    self.log_malformed(&format!("framing error: {e:?}"));
                    self.feed(Event::Malformed(id, bgp_wire::DecodeError::Header(e)));
                }
            }
            ConnEvent::Closed(why) => {
                if self.conns.remove(&id).is_some() {
                    debug!(peer = %self.name, ?id, "connection closed: {}", why.as_deref().unwrap_or("by the peer"));
                    if self.fsm.established_conn() == Some(id) {
                        self.socket_error = Some(LastError::Socket(
                            why.clone().unwrap_or_else(|| "Connection closed".into()),
                        ));
                    }
                    self.feed(Event::ConnectionFailed(id));
                }
            }
            ConnEvent::Drained => {
                if self.conns.contains_key(&id) {
                    self.feed(Event::SendProgress(id));
                }
            }
        }
    }

    /// Starts the reader and writer of a connection.
    fn attach(&mut self, id: ConnId, stream: TcpStream) {
        let c = attach(
            id,
            self.id,
            stream,
            self.tx.clone(),
            self.rde.clone(),
            self.in_flight.clone(),
            self.metrics.updates_out.clone(),
        );
        self.conns.insert(id, c);
    }

    fn feed(&mut self, ev: Event) {
        let actions = self.fsm.handle(ev);
        for a in actions {
            self.act(a);
        }
    }

    fn act(&mut self, a: Action) {
        match a {
            Action::Connect(id) => self.connect(id),
            Action::Send(id, m) => {
                if let Message::Notification(n) = &m {
                    self.metrics.notifications_out.inc();
                    warn!(peer = %self.name, code = n.code, subcode = n.subcode, "sending NOTIFICATION: {}", describe(n));
                    self.socket_error = Some(LastError::Sent(n.clone()));
                }
                let ctx = match &m {
                    Message::Update(_) | Message::RouteRefresh(_) => {
                        self.fsm.negotiated().map_or_else(SessionCtx::default, |n| n.tx_ctx())
                    }
                    _ => SessionCtx::default(),
                };
                match m.to_bytes(&ctx) {
                    Ok(b) => {
                        if let Some(c) = self.conns.get(&id) {
                            let _ = c.tx.send(WriterMsg::Data(b));
                        }
                    }
                    Err(e) => warn!(peer = %self.name, "cannot encode {:?}: {e}", m.kind()),
                }
            }
            Action::Close(id) => {
                if let Some(c) = self.conns.remove(&id) {
                    // The writer flushes (a NOTIFICATION, say) and sends FIN.
                    // The reader keeps draining for a while: closing with
                    // unread data makes the kernel send RST, and a peer that
                    // gets RST may drop the NOTIFICATION we just sent.
                    let _ = c.tx.send(WriterMsg::Close);
                    let abort = c.reader.abort_handle();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        abort.abort();
                    });
                    self.closing.retain(|r| !r.is_finished());
                    self.closing.push(c.writer);
                    self.closing.push(c.reader);
                }
            }
            Action::StartTimer(t, d) => {
                self.timers.insert(t, Instant::now() + d);
            }
            Action::StopTimer(t) => {
                self.timers.remove(&t);
            }
            Action::StateChanged { from, to } => {
                info!(peer = %self.name, "state {} -> {}", from.as_str(), to.as_str());
                self.metrics.state(to);
                let err = self.last_error();
                self.set_status(|s| {
                    let was_up = s.state == State::Established;
                    s.state = to;
                    if was_up != (to == State::Established) {
                        s.since = SystemTime::now();
                    }
                    if to != State::Established {
                        s.negotiated = None;
                        s.source = None;
                        s.last_error = err;
                    } else {
                        s.last_error = None;
                    }
                });
            }
            Action::Established(n) => {
                info!(
                    peer = %self.name,
                    "session established: AS {}, id {}, hold {} s, families {:?}",
                    n.peer_as, n.peer_id, n.hold_time, n.families.iter().map(|f| f.to_string()).collect::<Vec<_>>()
                );
                let conn = self.fsm.established_conn().and_then(|c| self.conns.get(&c));
                let local = conn.and_then(|c| c.local);
                let out = conn.map(|c| c.tx.clone());
                self.socket_error = None;
                self.epoch += 1;
                self.peer_gr = n.graceful_restart.clone();
                if let (Some(addr), Some(out)) = (local, out) {
                    let session = self.session(&n, addr.ip().to_canonical());
                    if session.local_address.is_ipv6()
                        && session.local_address4.is_none()
                        && n.families.contains(&bgp_wire::Family::IPV4_UNICAST)
                    {
                        // Info, not a warning: a dual-stack Calico node has a
                        // session per family and means exactly this.
                        info!(
                            peer = %self.name,
                            "IPv4 routes are not sent over this IPv6 session: their next hop must be IPv4 \
                             without the extended next hop capability (RFC 8950); set local_address4"
                        );
                    }
                    let _ = self.rde.send(RdeMsg::Up {
                        peer: self.id,
                        epoch: self.epoch,
                        session: Box::new(session),
                        out,
                        control: self.tx.clone(),
                    });
                }
                self.set_status(|s| {
                    s.negotiated = Some(n);
                    s.source = local;
                });
            }
            Action::Down(e) => {
                info!(peer = %self.name, "session down: {}", LastError::from(&e));
                self.epoch += 1;
                // RFC 4724 §4.2: a session of a graceful-restart peer lost
                // without a NOTIFICATION: keep its routes while it restarts.
                let graceful = match (&e, self.peer_gr.take()) {
                    (SessionError::ConnectionClosed, Some(g)) if g.restart_time > 0 && !g.families.is_empty() => {
                        info!(
                            peer = %self.name,
                            "graceful restart: keeping its routes for up to {} s",
                            g.restart_time
                        );
                        Some(crate::rde::GracefulDown {
                            restart_time: std::time::Duration::from_secs(g.restart_time.into()),
                            families: g.families.iter().map(|f| f.family).collect(),
                        })
                    }
                    _ => None,
                };
                let _ = self.rde.send(RdeMsg::Down {
                    peer: self.id,
                    graceful,
                });
            }
            Action::Deliver(m) => match m {
                Message::Update(u) => {
                    let n = u.announced().count() as u64;
                    self.set_status(|s| {
                        s.updates_received += 1;
                        s.prefixes_received += n;
                    });
                    self.metrics.updates_in.inc();
                    self.metrics.prefixes_received.inc_by(n);
                    let _ = self.rde.send(RdeMsg::Update {
                        peer: self.id,
                        update: u,
                        permit: self.permit.take(),
                    });
                }
                Message::RouteRefresh(r) => {
                    let enhanced = self.fsm.negotiated().is_some_and(|n| n.enhanced_route_refresh);
                    let msg = match r.kind() {
                        bgp_wire::RefreshKind::Request => Some(RdeMsg::Refresh {
                            peer: self.id,
                            family: r.family,
                        }),
                        // RFC 7313 §4: BoRR and EoRR mean something only
                        // once enhanced route refresh was negotiated.
                        bgp_wire::RefreshKind::Begin | bgp_wire::RefreshKind::End if enhanced => {
                            Some(RdeMsg::RefreshMarker {
                                peer: self.id,
                                family: r.family,
                                begin: r.kind() == bgp_wire::RefreshKind::Begin,
                            })
                        }
                        // Reserved subtypes are ignored (RFC 7313 §5).
                        _ => None,
                    };
                    if let Some(m) = msg {
                        let _ = self.rde.send(m);
                    }
                }
                _ => {}
            },
        }
    }

    /// The session as the routing engine needs it.
    fn session(&self, n: &Negotiated, local_address: std::net::IpAddr) -> rib::Session {
        let s = &self.settings;
        rib::Session {
            families: n.families.clone(),
            ctx: n.tx_ctx(),
            ebgp: !n.is_ibgp(),
            peer_address: s.address,
            peer_router_id: n.peer_id,
            local_address,
            local_address6: s.local_address6,
            local_address4: s.local_address4,
            rr_client: s.rr_client,
            next_hop_self: s.next_hop_self,
            allow_local_as: s.allow_local_as,
            preserved: n
                .graceful_restart
                .iter()
                .flat_map(|g| g.families.iter())
                .filter(|f| f.flags & 0x80 != 0)
                .map(|f| f.family)
                .collect(),
            link: s.interface.as_deref().and_then(super::sockopt::if_index),
            local_as: s.local_asn,
            // Filled in by the engine's thread, which knows the interfaces.
            iface: None,
            import: s.import.clone(),
            export: s.export.clone(),
            enhanced_refresh: n.enhanced_route_refresh,
            max_prefixes: s.max_prefixes.as_ref().map(|l| l.max),
        }
    }

    fn last_error(&self) -> Option<LastError> {
        self.socket_error
            .clone()
            .or_else(|| self.fsm.last_error().map(LastError::from))
    }

    fn connect(&mut self, id: ConnId) {
        let s = self.settings.clone();
        let events = self.tx.clone();
        let timeout = s.connect_retry;
        tokio::spawn(async move {
            let r = tokio::time::timeout(timeout, sockopt::connect(&s)).await;
            let ev = match r {
                Ok(Ok(stream)) => ConnEvent::Connected(stream),
                Ok(Err(e)) => ConnEvent::ConnectFailed(sockopt::describe_io(&e)),
                Err(_) => ConnEvent::ConnectFailed("Connection timed out".into()),
            };
            events.conn(id, ev);
        });
    }
}
