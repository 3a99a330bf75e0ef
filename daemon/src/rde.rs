//! The route decision engine's task: a thin tokio shell around
//! [`rib::Engine`] on a thread of its own. Peer tasks send it what their
//! sessions receive; it applies everything queued, runs a round once no
//! UPDATE is on its way (no reader holds a permit of [`in_flight`]) or a
//! change has waited [`rib::engine::MAX_DEFER`], and hands each session's
//! writer the UPDATEs the engine produced. The decisions are all the
//! engine's.
//!
//! The thread is its own: the engine is the daemon's one CPU-bound part,
//! so it never holds up the runtime's I/O, and every table allocation
//! comes from one thread's heap, where what a departed session freed is
//! reused by the next one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

use bgp_wire::{Family, Prefix, Update};
use rib::fib::FibPolicy;
use rib::{Engine, LocalRoute, MemoryCounts, PeerCounts, PeerId, Protocol, RouteAttrs, SubscriberId};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::kernel::ifaces::Ifaces;
use crate::kernel::{KernelCmd, KernelWriter};
use crate::peer::conn::{WriterMsg, WriterTx};

/// The name `show route` gives the node's own routes (BIRD's first
/// static protocol).
pub const STATIC_PROTOCOL: &str = "static1";
/// The name `show route` gives routes learned from the kernel (BIRD's
/// first kernel protocol).
pub const KERNEL_PROTOCOL: &str = "kernel1";

/// What the rest of the daemon tells the engine's task.
pub enum RdeMsg {
    /// A session is up: send it the table, then End-of-RIB, through `out`.
    Up {
        peer: PeerId,
        epoch: u64,
        session: Box<rib::Session>,
        out: WriterTx,
        /// The peer task's commands, for what the engine decides about
        /// the session (its prefix limit).
        control: crate::peer::PeerTx,
    },
    /// The session went down: its routes go, or with `graceful` stay
    /// (stale) while the peer restarts.
    Down {
        peer: PeerId,
        graceful: Option<GracefulDown>,
    },
    /// The wait for a restarting peer (armed as `generation`) is over.
    StaleTimeout { peer: PeerId, generation: u64 },
    /// An UPDATE from the session.
    Update {
        peer: PeerId,
        update: Box<Update>,
        /// Held until the UPDATE is applied (see [`in_flight`]).
        permit: Option<OwnedSemaphorePermit>,
    },
    /// A ROUTE-REFRESH: send everything of the family again.
    Refresh { peer: PeerId, family: Family },
    /// The peer's BoRR (`begin`) or EoRR (RFC 7313).
    RefreshMarker { peer: PeerId, family: Family, begin: bool },
    /// A writer wrote `bytes` of the engine's UPDATEs for session `epoch`.
    Written { peer: PeerId, epoch: u64, bytes: usize },
    /// `show route`.
    Routes(RouteQuery, oneshot::Sender<Vec<RouteView>>),
    /// Route counters per session, for `show protocols all`.
    Counts(oneshot::Sender<HashMap<PeerId, PeerCounts>>),
    /// Prefixes in the table per family, for metrics: (family, count).
    RibSize(oneshot::Sender<Vec<(String, i64)>>),
    /// What the engine holds, for `show memory`.
    Memory(oneshot::Sender<MemoryCounts>),
    /// The kernel writer carried out a batch: it can take the next.
    KernelDone,
    /// The kernel's table has (`Some`) or lost (`None`) a route not ours.
    KernelLearned {
        prefix: Prefix,
        route: Option<crate::kernel::Learned>,
    },
    /// The longest wait for graceful restart recovery is over.
    RecoveryTimeout,
    /// Whether graceful restart recovery is in progress, for `show status`.
    Recovery(oneshot::Sender<Option<RecoveryView>>),
    /// Exit without `persist`: remove our routes from the kernel, then answer.
    FlushKernel(oneshot::Sender<()>),
    /// A reload: the new configuration, the peers' names, and peers whose
    /// rules changed with their session kept.
    Reconfigure {
        cfg: Box<Config>,
        names: HashMap<PeerId, String>,
        peers: Vec<(PeerId, rib::PeerPolicy)>,
    },
}

/// A graceful-restart peer lost its session (RFC 4724 §4.2).
#[derive(Clone, Debug)]
pub struct GracefulDown {
    /// The restart time it announced: how long it may take to come back.
    pub restart_time: std::time::Duration,
    /// The families whose routes it asked us to keep.
    pub families: Vec<Family>,
}

/// How long a restarting peer that is back may take to send End-of-RIB
/// before its stale routes go (BIRD's `stale time`-like bound).
const STALE_WAIT: std::time::Duration = std::time::Duration::from_secs(360);

/// Graceful restart recovery, as `show status` reports it.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryView {
    /// Peers whose End-of-RIB we still wait for.
    pub waiting: usize,
    /// Seconds left and in all of the wait.
    pub left: u64,
    pub total: u64,
}

/// Which routes `show route` wants.
#[derive(Clone, Debug)]
pub enum RouteQuery {
    All,
    For(IpAddr),
    Protocol(String),
}

/// One route, as `show route` prints it.
#[derive(Clone, Debug)]
pub struct RouteView {
    pub prefix: Prefix,
    pub best: bool,
    /// Protocol name: a peer's name, [`STATIC_PROTOCOL`] or [`KERNEL_PROTOCOL`].
    pub from: String,
    /// The interface the next hop is reached on (BIRD's ` on IFACE`).
    pub iface: Option<String>,
    /// A route learned from the kernel.
    pub kernel: Option<crate::kernel::Learned>,
    pub from_address: Option<IpAddr>,
    pub since: SystemTime,
    pub attrs: Arc<RouteAttrs>,
    /// Originated by this node (not learned from a peer).
    pub local: bool,
}

impl RouteView {
    /// A route of ours without a next hop: a blackhole.
    pub fn blackhole(&self) -> bool {
        match &self.kernel {
            Some(k) => k.kind == crate::kernel::LearnedKind::Blackhole,
            None => self.local && self.attrs.next_hop.is_none(),
        }
    }

    /// The identifier shown for a route learned from a reflector: where it
    /// came from when that is not its next hop.
    pub fn shown_from(&self) -> Option<IpAddr> {
        match (self.from_address, self.attrs.next_hop) {
            (Some(a), Some(nh)) if a != nh => Some(a),
            _ => None,
        }
    }
}

/// UPDATEs received but not yet applied, over all peers, at most. Readers
/// take a permit per UPDATE and stop reading when none is left, so a flood
/// waits in the peers' TCP windows, not in our memory (BIRD, with one
/// thread, reads only as fast as it works, to the same effect). Few: what
/// they hold sits in the session thread's malloc arena, apart from the
/// engine's. bench, median of 3, two cores: 100k 14.9 MB with 64 in
/// flight, 15.3 with 256 (BIRD 2 in the same runs: 15.1, 14.9); diverse 1M
/// 1.90 and 2.27 s.
const IN_FLIGHT: usize = 64;

/// Permits of applied UPDATEs handed back at a time, while more are
/// queued. Each hand-back can wake a reader, and so the session thread:
/// one at a time, the two threads woke each other once per UPDATE, and a
/// table of small UPDATEs (one attribute set per 5 prefixes) spent a sixth
/// of the engine's time in those wake-ups.
const PERMITS_BACK: usize = 16;

/// The permits of UPDATEs between the readers and the engine.
pub fn in_flight() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(IN_FLIGHT))
}

/// Starts the engine's thread with the configuration's routes and rules;
/// `names` names the peers for `show route`; `in_flight` tells it when
/// more UPDATEs are on their way. With a `[kernel]` section it also starts
/// the kernel's writer and monitor ([`crate::kernel`]); `restarted` (`-R`)
/// or routes of ours found in the kernel start graceful restart recovery.
pub fn spawn(
    cfg: &Config,
    names: HashMap<PeerId, String>,
    in_flight: Arc<Semaphore>,
    restarted: bool,
) -> std::io::Result<mpsc::UnboundedSender<RdeMsg>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    let now = Instant::now();
    let mut engine = Engine::new(cfg.local(), cfg.export_filter(), now, unix);
    for s in &cfg.statics {
        let r = LocalRoute {
            next_hop: s.via,
            communities: s.communities.clone(),
            local_pref: s.local_pref,
        };
        engine.add_local(s.prefix, r, now);
    }
    let ifaces = Arc::new(RwLock::new(Ifaces::default()));
    // With a kernel table, interfaces and routes are followed as they
    // change; without, `show route` reads the interfaces when asked (a
    // reflector need not keep a thread for it).
    let follow = cfg.kernel.is_some();
    if follow {
        let learn = cfg.kernel.clone().filter(|k| k.learn);
        if let Err(e) = crate::kernel::spawn_monitor(learn, ifaces.clone(), tx.clone()) {
            warn!("kernel: cannot follow interfaces and routes: {e}");
        }
    }
    let mut fib = None;
    let mut recovery = None;
    if let Some(k) = &cfg.kernel {
        let writer = crate::kernel::spawn_writer(k.clone(), tx.clone())?;
        let found = ifaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .subnets_of(IpAddr::V4(cfg.router_id.0));
        let policy = cfg.fib_policy(k, &found);
        info!(
            "kernel table {} (protocol {}): local subnets {:?}",
            k.table, k.protocol, policy.local_subnets
        );
        if restarted || writer.stats.adopted.load(Ordering::Relaxed) > 0 {
            recovery = Some(Recovery {
                waiting: names.keys().copied().collect(),
                started: now,
                wait: cfg.graceful_restart_wait,
                timed_out: false,
            });
        }
        fib = Some(Fib {
            sub: engine.subscribe(),
            policy,
            writer,
            in_flight: 0,
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let timer = tx.downgrade();
    let shell = Shell {
        engine,
        names,
        outs: HashMap::new(),
        controls: HashMap::new(),
        in_flight,
        applied: Vec::with_capacity(PERMITS_BACK),
        trim: false,
        encode_failures: 0,
        ifaces,
        learned: HashMap::new(),
        fib,
        recovery,
        timer: tx.downgrade(),
        stale_timers: HashMap::new(),
        cfg: cfg.clone(),
    };
    // The engine's thread takes its malloc arena at its first allocation
    // (see ternd's `two_malloc_arenas`): glibc gives it main's unless that
    // is locked at the time, so the spawner waits here rather than
    // allocating meanwhile. Only speed depends on it.
    let (attached, has_attached) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new().name("rde".into()).spawn(move || {
        std::hint::black_box(Box::new(0u64));
        let _ = attached.send(());
        rt.block_on(async move {
            if let Some(r) = &shell.recovery {
                let wait = r.wait;
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    if let Some(tx) = timer.upgrade() {
                        let _ = tx.send(RdeMsg::RecoveryTimeout);
                    }
                });
            }
            shell.run(rx).await
        })
    })?;
    let _ = has_attached.recv_timeout(std::time::Duration::from_secs(1));
    Ok(tx)
}

/// The kernel's side of the engine: the best-path stream's consumer.
struct Fib {
    sub: SubscriberId,
    policy: FibPolicy,
    writer: KernelWriter,
    /// Batches given to the writer and not yet carried out.
    in_flight: usize,
}

/// Batches of kernel changes the writer may hold: enough to keep it busy,
/// few enough that what waits is the engine's bit per prefix.
const KERNEL_IN_FLIGHT: usize = 2;
/// Prefixes per batch to the kernel.
const KERNEL_BATCH: usize = 2048;

/// Graceful restart recovery (RFC 4724 §4.1, BIRD's `-R`): routes of ours
/// left in the kernel by the last run stay until every peer has sent its
/// End-of-RIB, or the wait is over.
struct Recovery {
    waiting: std::collections::HashSet<PeerId>,
    started: Instant,
    wait: std::time::Duration,
    timed_out: bool,
}

struct Shell {
    engine: Engine,
    names: HashMap<PeerId, String>,
    /// Each session's writer, with the session's epoch.
    outs: HashMap<PeerId, (u64, WriterTx)>,
    /// Each session's peer task, for what the engine decides about it.
    controls: HashMap<PeerId, crate::peer::PeerTx>,
    in_flight: Arc<Semaphore>,
    /// Permits of UPDATEs applied, handed back [`PERMITS_BACK`] at a time
    /// or when the queue is empty.
    applied: Vec<OwnedSemaphorePermit>,
    /// A session went: free memory is given back once output is idle.
    trim: bool,
    /// Encoding failures already logged.
    encode_failures: u64,
    ifaces: Arc<RwLock<Ifaces>>,
    /// Routes learned from the kernel, as `show route` shows them.
    learned: HashMap<Prefix, crate::kernel::Learned>,
    fib: Option<Fib>,
    recovery: Option<Recovery>,
    /// The engine's own channel, for its timers (weak: the channel closes
    /// when the rest of the daemon lets go).
    timer: mpsc::WeakUnboundedSender<RdeMsg>,
    /// The generation of each restarting peer's timer.
    stale_timers: HashMap<PeerId, u64>,
    /// The configuration running, for reloads.
    cfg: Config,
}

impl Shell {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<RdeMsg>) {
        loop {
            // Everything queued is applied before the round.
            loop {
                match rx.try_recv() {
                    Ok(m) => {
                        self.handle(m);
                        if self.engine.round_due(Instant::now()) {
                            self.round();
                        }
                    }
                    Err(TryRecvError::Empty) => {
                        // Before waiting: a permit held here would read as
                        // an UPDATE still on its way.
                        self.applied.clear();
                        break;
                    }
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            let next = match self.engine.round_deadline() {
                // More UPDATEs are on their way (a reader holds a permit):
                // wait for them, so a prefix several sessions change at
                // once goes out settled; but never past the deadline.
                Some(deadline) if self.in_flight.available_permits() < IN_FLIGHT => {
                    match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                        Ok(m) => m,
                        Err(_) => {
                            self.round();
                            continue;
                        }
                    }
                }
                Some(_) => {
                    self.round();
                    continue;
                }
                None => rx.recv().await,
            };
            match next {
                Some(m) => self.handle(m),
                None => return,
            }
        }
    }

    fn round(&mut self) {
        self.engine.round();
        self.flush();
    }

    fn handle(&mut self, m: RdeMsg) {
        let now = Instant::now();
        match m {
            RdeMsg::Update { peer, update, permit } => {
                if update.end_of_rib_family().is_some() {
                    if let Some(r) = &mut self.recovery {
                        r.waiting.remove(&peer);
                    }
                }
                self.engine.update(peer, &update, now);
                self.applied.extend(permit);
                if self.applied.len() >= PERMITS_BACK {
                    self.applied.clear();
                }
                for ev in self.engine.take_limit_events() {
                    if let Some(c) = self.controls.get(&ev.peer) {
                        let (tx, _) = oneshot::channel();
                        c.command(crate::peer::Command::PrefixLimit(ev), tx);
                    }
                }
            }
            RdeMsg::KernelDone => {
                if let Some(f) = &mut self.fib {
                    f.in_flight = f.in_flight.saturating_sub(1);
                }
            }
            RdeMsg::KernelLearned { prefix, route } => match route {
                Some(l) => {
                    let iface = {
                        let ifaces = self.ifaces.read().unwrap_or_else(|e| e.into_inner());
                        l.oif
                            .or(l.hops.first().map(|h| h.1))
                            .and_then(|i| ifaces.name(i))
                            .map(str::to_string)
                    };
                    if self.learned.insert(prefix, l).is_none() {
                        self.engine.add_kernel(prefix, iface.as_deref(), now);
                    }
                }
                None => {
                    if self.learned.remove(&prefix).is_some() {
                        self.engine.remove_kernel(&prefix, now);
                    }
                }
            },
            RdeMsg::RecoveryTimeout => {
                if let Some(r) = &mut self.recovery {
                    r.timed_out = true;
                    info!(
                        "graceful restart: the wait of {} s is over; {} peers did not send End-of-RIB",
                        r.wait.as_secs(),
                        r.waiting.len()
                    );
                }
            }
            RdeMsg::Reconfigure { cfg, names, peers } => {
                self.names = names;
                self.reconfigure(*cfg, now);
                for (peer, pp) in peers {
                    self.engine.set_peer_policy(peer, pp, now);
                }
            }
            RdeMsg::FlushKernel(reply) => {
                self.flush_kernel();
                let _ = reply.send(());
            }
            RdeMsg::Recovery(reply) => {
                let v = self.recovery.as_ref().map(|r| RecoveryView {
                    waiting: r.waiting.len(),
                    left: r.wait.saturating_sub(r.started.elapsed()).as_secs(),
                    total: r.wait.as_secs(),
                });
                let _ = reply.send(v);
            }
            RdeMsg::Up {
                peer,
                epoch,
                session,
                out,
                control,
            } => {
                self.outs.insert(peer, (epoch, out));
                self.controls.insert(peer, control);
                let mut session = *session;
                // The session's interface, for filters on a route's
                // interface: the link of a link-local peer, or the one
                // whose subnet holds the peer.
                let ifaces = self.ifaces.read().unwrap_or_else(|e| e.into_inner());
                session.iface = match session.link {
                    Some(i) => ifaces.name(i),
                    None => ifaces.iface_for(session.peer_address),
                }
                .map(Arc::from);
                drop(ifaces);
                self.engine.peer_up(peer, epoch, session, now);
                if self.engine.is_stale(peer) {
                    // Back: its stale routes stay until its End-of-RIB.
                    self.arm_stale_timer(peer, STALE_WAIT);
                }
                debug!(peer = %self.name(peer), "session up: sending the table");
            }
            RdeMsg::Down { peer, graceful } => {
                self.outs.remove(&peer);
                self.controls.remove(&peer);
                match graceful {
                    Some(g) => {
                        self.engine.peer_lost(peer, &g.families, now);
                        if self.engine.is_stale(peer) {
                            self.arm_stale_timer(peer, g.restart_time);
                        }
                    }
                    None => self.engine.peer_down(peer, now),
                }
                self.trim = true;
            }
            RdeMsg::StaleTimeout { peer, generation } => {
                if self.stale_timers.get(&peer) == Some(&generation) && self.engine.is_stale(peer) {
                    info!(peer = %self.name(peer), "graceful restart: the wait is over; its stale routes go");
                    self.engine.stale_timeout(peer, now);
                }
            }
            RdeMsg::Refresh { peer, family } => self.engine.refresh(peer, family),
            RdeMsg::RefreshMarker { peer, family, begin } => self.engine.refresh_marker(peer, family, begin, now),
            RdeMsg::Written { peer, epoch, bytes } => self.engine.written(peer, epoch, bytes),
            RdeMsg::Routes(q, reply) => {
                if self.fib.is_none() {
                    if let Ok(now) = crate::kernel::read_ifaces() {
                        *self.ifaces.write().unwrap_or_else(|e| e.into_inner()) = now;
                    }
                }
                let _ = reply.send(self.routes(&q));
            }
            RdeMsg::Counts(reply) => {
                let c = self.names.keys().map(|id| (*id, self.engine.counts(*id))).collect();
                let _ = reply.send(c);
            }
            RdeMsg::RibSize(reply) => {
                let (v4, v6) = self.engine.table().len_by_family();
                let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
                let _ = reply.send(vec![
                    (Family::IPV4_UNICAST.to_string(), n(v4)),
                    (Family::IPV6_UNICAST.to_string(), n(v6)),
                ]);
            }
            RdeMsg::Memory(reply) => {
                let _ = reply.send(self.engine.memory());
            }
        }
        self.flush();
        if self.trim && self.engine.output_idle() {
            // A session went, and the others have been told and have
            // written it all: what its routes and their withdrawals took
            // is free now. Give the pages back rather than keep them
            // resident until reused.
            // SAFETY: malloc_trim only returns free memory to the kernel.
            unsafe { libc::malloc_trim(0) };
            self.trim = false;
        }
    }

    /// Hands each session's writer what the engine produced for it.
    fn flush(&mut self) {
        let failures = self.engine.encode_failures();
        if failures > self.encode_failures {
            error!(
                "{} batches of UPDATEs could not be fully encoded (an attribute set with no wire form)",
                failures - self.encode_failures
            );
        }
        self.encode_failures = failures;
        for t in self.engine.take_transmits() {
            match self.outs.get(&t.peer) {
                Some((epoch, out)) if *epoch == t.epoch => {
                    let _ = out.send(WriterMsg::Updates {
                        epoch: t.epoch,
                        bytes: t.bytes,
                    });
                }
                _ => error!(peer = %self.name(t.peer), "UPDATEs for a session that is gone"),
            }
        }
        self.feed_kernel();
    }

    /// Gives the kernel's writer what changed, while it has room, and ends
    /// recovery once the table is settled and given.
    fn feed_kernel(&mut self) {
        let Some(f) = &mut self.fib else { return };
        while f.in_flight < KERNEL_IN_FLIGHT {
            let batch = self.engine.poll_best(f.sub, KERNEL_BATCH);
            if batch.is_empty() {
                break;
            }
            let work = batch
                .iter()
                .map(|c| (c.prefix, f.policy.next_hops(&c.prefix, &c.routes)))
                .collect();
            if f.writer.tx.send(KernelCmd::Apply(work)).is_err() {
                error!("kernel: the writer is gone");
                break;
            }
            f.in_flight += 1;
        }
        let over = self
            .recovery
            .as_ref()
            .is_some_and(|r| r.waiting.is_empty() || r.timed_out);
        if over && self.engine.subscriber_idle(f.sub) {
            let r = self.recovery.take().expect("checked");
            info!(
                "graceful restart recovery done after {} ms",
                r.started.elapsed().as_millis()
            );
            let _ = f.writer.tx.send(KernelCmd::Sweep);
        }
    }

    /// Applies a reload's routes and rules: static routes added, changed
    /// and removed, new export rules (every session is told what it should
    /// now hold, without a new session), new kernel rules (every prefix is
    /// given to the kernel again).
    fn reconfigure(&mut self, new: Config, now: Instant) {
        let old = std::mem::replace(&mut self.cfg, new);
        let new = &self.cfg;
        for s in &old.statics {
            if !new.statics.iter().any(|t| t.prefix == s.prefix) {
                self.engine.remove_local(&s.prefix, now);
            }
        }
        for s in &new.statics {
            if !old.statics.iter().any(|o| {
                o.prefix == s.prefix && o.via == s.via && o.communities == s.communities && o.local_pref == s.local_pref
            }) {
                let r = LocalRoute {
                    next_hop: s.via,
                    communities: s.communities.clone(),
                    local_pref: s.local_pref,
                };
                self.engine.add_local(s.prefix, r, now);
            }
        }
        if (old.local(), old.export_filter()) != (new.local(), new.export_filter()) {
            self.engine.set_policy(new.local(), new.export_filter());
        }
        if let (Some(f), Some(k)) = (&mut self.fib, &new.kernel) {
            let found = self
                .ifaces
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .subnets_of(IpAddr::V4(new.router_id.0));
            let policy = new.fib_policy(k, &found);
            if policy != f.policy {
                f.policy = policy;
                self.engine.resend(f.sub);
            }
        }
    }

    /// Starts (or restarts) the wait for a restarting peer.
    fn arm_stale_timer(&mut self, peer: PeerId, wait: std::time::Duration) {
        let generation = self.stale_timers.get(&peer).map_or(1, |g| g + 1);
        self.stale_timers.insert(peer, generation);
        let tx = self.timer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(tx) = tx.upgrade() {
                let _ = tx.send(RdeMsg::StaleTimeout { peer, generation });
            }
        });
    }

    /// Removes every route of ours from the kernel (exit without `persist`).
    fn flush_kernel(&mut self) {
        if let Some(f) = &self.fib {
            let (tx, rx) = std::sync::mpsc::channel();
            if f.writer.tx.send(KernelCmd::Flush(tx)).is_ok() {
                let _ = rx.recv_timeout(std::time::Duration::from_secs(10));
            }
        }
    }

    fn name(&self, peer: PeerId) -> &str {
        self.names.get(&peer).map_or("?", String::as_str)
    }

    fn routes(&self, q: &RouteQuery) -> Vec<RouteView> {
        let table = self.engine.table();
        let ifaces = self.ifaces.read().unwrap_or_else(|e| e.into_inner());
        let mut prefixes: Vec<(Prefix, &[rib::Route])> = table.iter().collect();
        prefixes.sort_unstable_by_key(|(p, _)| *p);
        let mut out = Vec::new();
        for (p, routes) in prefixes {
            if let RouteQuery::For(a) = q {
                if !p.net().contains(a) {
                    continue;
                }
            }
            for (i, r) in routes.iter().enumerate() {
                let from = match (r.source.peer, r.source.protocol) {
                    (Some(id), _) => self.name(id).to_string(),
                    (None, Protocol::Kernel) => KERNEL_PROTOCOL.to_string(),
                    (None, _) => STATIC_PROTOCOL.to_string(),
                };
                if let RouteQuery::Protocol(n) = q {
                    if &from != n {
                        continue;
                    }
                }
                let kernel = (r.source.protocol == Protocol::Kernel)
                    .then(|| self.learned.get(&p).cloned())
                    .flatten();
                let iface = match &kernel {
                    Some(k) => k
                        .oif
                        .or(k.hops.first().map(|h| h.1))
                        .and_then(|i| ifaces.name(i))
                        .map(str::to_string),
                    None => r.attrs.next_hop.and_then(|nh| match r.source.link {
                        // A link-local next hop is on the session's interface.
                        Some(i) if rib::fib::is_link_local(&nh) => ifaces.name(i).map(str::to_string),
                        _ => ifaces.iface_for(nh).map(str::to_string),
                    }),
                };
                out.push(RouteView {
                    prefix: p,
                    best: i == 0,
                    from,
                    iface,
                    kernel,
                    from_address: r.source.peer_address,
                    since: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(r.since.into()),
                    attrs: r.attrs.clone(),
                    local: r.source.peer.is_none(),
                });
            }
        }
        if let RouteQuery::For(_) = q {
            // `show route for ADDR`: the longest match only.
            if let Some(longest) = out.iter().map(|v| v.prefix.prefix_len()).max() {
                out.retain(|v| v.prefix.prefix_len() == longest);
            }
        }
        out
    }
}
