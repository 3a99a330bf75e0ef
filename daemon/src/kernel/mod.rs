//! The kernel's routing table (BIRD's kernel protocol), over rtnetlink.
//!
//! Two threads, both blocking on their own netlink socket:
//! - the **writer** carries out what the engine's best-path stream asks
//!   (a prefix and its next hops, [`rib::fib`] decides them): installs,
//!   replaces and removes our routes (protocol `bird` by default) in
//!   batches, and acknowledges each batch so the engine's task sends the
//!   next only then (output to the kernel is bounded like output to a
//!   peer). On start it adopts the routes of our protocol the table
//!   already holds (`persist`): they stay untouched until the engine wants
//!   them otherwise, and those it never wants are removed only by
//!   [`KernelCmd::Sweep`], when graceful restart recovery ends.
//! - the **monitor** follows interfaces and addresses (for `show route`'s
//!   ` on IFACE` and the node's subnets) and, with `learn`, every route
//!   of the table that is not ours nor the kernel's own, from a dump and
//!   then notifications: no scan loop.

pub mod ifaces;
pub mod netlink;
pub mod routes;

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};

use bgp_wire::Prefix;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::route::{RouteMessage, RouteType};
use netlink_packet_route::RouteNetlinkMessage;
use rib::fib::NextHop;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{error, info, warn};

use crate::config::KernelSettings;
use crate::rde::RdeMsg;
use ifaces::Ifaces;
use netlink::Netlink;
use routes::{Seen, RTPROT_KERNEL};

/// The IPIP device tunnelled routes leave by (Calico's).
pub const TUNNEL_DEVICE: &str = "tunl0";

/// `RTNLGRP_*` multicast groups (linux/rtnetlink.h).
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV4_ROUTE: u32 = 7;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// What the engine's task tells the writer.
pub enum KernelCmd {
    /// Each prefix with the next hops it should have now (none: no route of ours).
    Apply(Vec<(Prefix, Vec<NextHop>)>),
    /// Recovery is over: routes adopted at start that nobody wants go.
    Sweep,
    /// Remove every route of ours (exit without `persist`), then answer.
    Flush(mpsc::Sender<()>),
}

/// Counters of the writer, for `show` commands and metrics.
#[derive(Debug, Default)]
pub struct KernelStats {
    pub installed: AtomicU64,
    pub failed: AtomicU64,
    pub adopted: AtomicU64,
}

/// The engine's side of the writer.
pub struct KernelWriter {
    pub tx: mpsc::Sender<KernelCmd>,
    pub stats: Arc<KernelStats>,
}

/// A route the kernel has that is not ours, as `show route` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned {
    pub kind: LearnedKind,
    /// Output interface of a single-path route.
    pub oif: Option<u32>,
    /// Next hops: gateway and interface index.
    pub hops: Vec<(IpAddr, u32)>,
    pub metric: u32,
    pub protocol: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnedKind {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// Starts the writer for `k`'s table. Our routes already there are
/// adopted before this returns.
pub fn spawn_writer(k: KernelSettings, rde: UnboundedSender<RdeMsg>) -> io::Result<KernelWriter> {
    let mut nl = Netlink::open(&[])?;
    let stats = Arc::new(KernelStats::default());
    let mut installed = HashMap::new();
    let tunnel = tunnel_index();
    for m in dump_routes(&mut nl)? {
        if let Some(s) = routes::seen(&m) {
            if s.table == k.table && s.protocol == k.protocol {
                installed.insert(s.prefix, fingerprint(&s.next_hops(tunnel)));
            }
        }
    }
    if !installed.is_empty() {
        info!(
            "kernel table {}: adopted {} routes of protocol {} left by an earlier run",
            k.table,
            installed.len(),
            k.protocol
        );
    }
    stats.adopted.store(installed.len() as u64, Ordering::Relaxed);
    stats.installed.store(installed.len() as u64, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel();
    let stale: HashSet<Prefix> = installed.keys().copied().collect();
    let w = Writer {
        k,
        nl,
        installed,
        stale,
        stats: stats.clone(),
        rde,
        tunnel_warned: false,
    };
    std::thread::Builder::new()
        .name("kernel".into())
        .spawn(move || w.run(rx))?;
    Ok(KernelWriter { tx, stats })
}

fn dump_routes(nl: &mut Netlink) -> io::Result<Vec<RouteMessage>> {
    let mut all = Vec::new();
    for family in [
        netlink_packet_route::AddressFamily::Inet,
        netlink_packet_route::AddressFamily::Inet6,
    ] {
        let mut m = RouteMessage::default();
        m.header.address_family = family;
        for x in nl.dump(RouteNetlinkMessage::GetRoute(m))? {
            if let RouteNetlinkMessage::NewRoute(r) = x {
                all.push(r);
            }
        }
    }
    Ok(all)
}

/// What identifies a route's next hops (sorted, as [`rib::fib`] and
/// [`routes::Seen::next_hops`] give them): a 64-bit hash with fixed keys,
/// so a route adopted from the kernel compares with the engine's.
fn fingerprint(hops: &[NextHop]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hops.hash(&mut h);
    h.finish()
}

fn tunnel_index() -> Option<u32> {
    let name = std::ffi::CString::new(TUNNEL_DEVICE).ok()?;
    // SAFETY: a valid NUL-terminated string; the call only reads it.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (i != 0).then_some(i)
}

struct Writer {
    k: KernelSettings,
    nl: Netlink,
    /// Our routes in the table, each with a fingerprint of its next hops
    /// (eight bytes, not a list: a full table is a lot of routes).
    installed: HashMap<Prefix, u64>,
    /// Adopted at start and not yet confirmed by the engine.
    stale: HashSet<Prefix>,
    stats: Arc<KernelStats>,
    rde: UnboundedSender<RdeMsg>,
    tunnel_warned: bool,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<KernelCmd>) {
        while let Ok(cmd) = rx.recv() {
            match cmd {
                KernelCmd::Apply(batch) => {
                    self.apply(batch);
                    let _ = self.rde.send(RdeMsg::KernelDone);
                }
                KernelCmd::Sweep => {
                    let gone: Vec<Prefix> = self.stale.drain().collect();
                    if !gone.is_empty() {
                        info!(
                            "kernel: removing {} routes of an earlier run nobody announced again",
                            gone.len()
                        );
                    }
                    self.write(gone.into_iter().map(|p| (p, Vec::new())).collect());
                }
                KernelCmd::Flush(done) => {
                    let all: Vec<Prefix> = self.installed.keys().copied().collect();
                    self.stale.clear();
                    self.write(all.into_iter().map(|p| (p, Vec::new())).collect());
                    let _ = done.send(());
                }
            }
        }
    }

    fn apply(&mut self, batch: Vec<(Prefix, Vec<NextHop>)>) {
        let mut work = Vec::with_capacity(batch.len());
        for (prefix, hops) in batch {
            if hops.is_empty() && self.stale.contains(&prefix) {
                // Left by the last run and not (yet) announced again: kept
                // until recovery ends.
                continue;
            }
            self.stale.remove(&prefix);
            if self.installed.get(&prefix) == Some(&fingerprint(&hops))
                || (hops.is_empty() && !self.installed.contains_key(&prefix))
            {
                continue;
            }
            work.push((prefix, hops));
        }
        self.write(work);
    }

    /// Installs or removes each prefix's route, in batches.
    fn write(&mut self, work: Vec<(Prefix, Vec<NextHop>)>) {
        if work.is_empty() {
            return;
        }
        let needs_tunnel = work.iter().any(|(_, h)| h.iter().any(|x| x.tunnel));
        let tunnel = if needs_tunnel { tunnel_index() } else { None };
        if needs_tunnel && tunnel.is_none() && !self.tunnel_warned {
            warn!("kernel: no {TUNNEL_DEVICE} device: IPIP routes are installed without the tunnel");
            self.tunnel_warned = true;
        }
        let requests = work
            .iter()
            .map(|(prefix, hops)| {
                if hops.is_empty() {
                    (RouteNetlinkMessage::DelRoute(routes::remove(&self.k, prefix)), 0)
                } else {
                    let hops: Vec<NextHop> = hops
                        .iter()
                        .map(|h| NextHop {
                            tunnel: h.tunnel && tunnel.is_some(),
                            ..*h
                        })
                        .collect();
                    let m = routes::install(&self.k, prefix, &hops, tunnel.unwrap_or(0));
                    (RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_REPLACE)
                }
            })
            .collect();
        let failures = match self.nl.batch(requests) {
            Ok(f) => f,
            Err(e) => {
                error!("kernel: netlink: {e}; {} route changes not made", work.len());
                self.stats.failed.fetch_add(work.len() as u64, Ordering::Relaxed);
                crate::metrics::metrics().kernel_failed.inc_by(work.len() as u64);
                return;
            }
        };
        let mut failed = vec![false; work.len()];
        let mut logged = 0;
        for f in &failures {
            let (prefix, hops) = &work[f.index];
            // Removing what is already gone is no failure.
            if hops.is_empty() && f.error.raw_os_error() == Some(libc::ESRCH) {
                continue;
            }
            failed[f.index] = true;
            if logged < 5 {
                let what = if hops.is_empty() { "remove" } else { "install" };
                error!("kernel: cannot {what} {prefix}: {}", f.error);
                logged += 1;
            }
        }
        let nfailed = failed.iter().filter(|x| **x).count();
        if nfailed > logged {
            error!("kernel: {} more route changes failed", nfailed - logged);
        }
        self.stats.failed.fetch_add(nfailed as u64, Ordering::Relaxed);
        crate::metrics::metrics().kernel_failed.inc_by(nfailed as u64);
        for ((prefix, hops), bad) in work.into_iter().zip(failed) {
            if hops.is_empty() {
                self.installed.remove(&prefix);
            } else if bad {
                // What the kernel holds now is unknown; a later change
                // replaces it.
                self.installed.remove(&prefix);
            } else {
                self.installed.insert(prefix, fingerprint(&hops));
            }
        }
        self.stats
            .installed
            .store(self.installed.len() as u64, Ordering::Relaxed);
        crate::metrics::metrics()
            .kernel_installed
            .set(i64::try_from(self.installed.len()).unwrap_or(i64::MAX));
    }
}

/// Starts the monitor: interfaces and addresses into `ifaces`, and with
/// `learn` (the table and our protocol), the table's other routes to the
/// engine. The first state is read before this returns.
pub fn spawn_monitor(
    learn: Option<KernelSettings>,
    ifaces: Arc<RwLock<Ifaces>>,
    rde: UnboundedSender<RdeMsg>,
) -> io::Result<()> {
    let mut groups = vec![RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR];
    if learn.is_some() {
        groups.extend([RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE]);
    }
    // Subscribed before the dump: nothing between the two is missed (a
    // change seen twice is harmless).
    let events = Netlink::open(&groups)?;
    let mut m = Monitor {
        learn,
        ifaces,
        rde,
        known: HashMap::new(),
    };
    m.resync()?;
    std::thread::Builder::new()
        .name("kernel-monitor".into())
        .spawn(move || m.run(events))?;
    Ok(())
}

/// Reads interfaces and addresses once (for the node's subnets at start).
pub fn read_ifaces() -> io::Result<Ifaces> {
    let mut nl = Netlink::open(&[])?;
    let mut ifaces = Ifaces::default();
    load_ifaces(&mut nl, &mut ifaces)?;
    Ok(ifaces)
}

fn load_ifaces(nl: &mut Netlink, ifaces: &mut Ifaces) -> io::Result<()> {
    for x in nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
        if let RouteNetlinkMessage::NewLink(l) = x {
            ifaces.link(&l, true);
        }
    }
    for x in nl.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))? {
        if let RouteNetlinkMessage::NewAddress(a) = x {
            ifaces.address(&a, true);
        }
    }
    Ok(())
}

/// Of a prefix's routes by metric, the one the kernel uses: the lowest.
fn preferred(by_metric: &HashMap<u32, Learned>) -> Option<Learned> {
    by_metric.iter().min_by_key(|(m, _)| **m).map(|(_, l)| l.clone())
}

struct Monitor {
    learn: Option<KernelSettings>,
    ifaces: Arc<RwLock<Ifaces>>,
    rde: UnboundedSender<RdeMsg>,
    /// Learned routes by prefix and metric (a prefix can have several).
    known: HashMap<Prefix, HashMap<u32, Learned>>,
}

impl Monitor {
    fn run(mut self, mut events: Netlink) {
        loop {
            match events.receive() {
                Ok(msgs) => {
                    for m in msgs {
                        self.event(m);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Notifications were lost: read the state again.
                    warn!("kernel: notifications overran; reading the tables again");
                    if let Err(e) = self.resync() {
                        error!("kernel: cannot read the tables: {e}");
                    }
                }
                Err(e) => {
                    error!("kernel: monitor stopped: {e}");
                    return;
                }
            }
            if self.rde.is_closed() {
                return;
            }
        }
    }

    /// Reads interfaces, addresses and routes afresh.
    fn resync(&mut self) -> io::Result<()> {
        let mut nl = Netlink::open(&[])?;
        let mut fresh = Ifaces::default();
        load_ifaces(&mut nl, &mut fresh)?;
        *self.ifaces.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        if self.learn.is_none() {
            return Ok(());
        }
        let mut now: HashMap<Prefix, HashMap<u32, Learned>> = HashMap::new();
        for r in dump_routes(&mut nl)? {
            if let Some((prefix, metric, l)) = self.learnable(&r) {
                now.entry(prefix).or_default().insert(metric, l);
            }
        }
        let gone: Vec<Prefix> = self.known.keys().filter(|p| !now.contains_key(p)).copied().collect();
        for p in gone {
            let _ = self.rde.send(RdeMsg::KernelLearned { prefix: p, route: None });
        }
        for (p, by_metric) in &now {
            let best = preferred(by_metric);
            let _ = self.rde.send(RdeMsg::KernelLearned {
                prefix: *p,
                route: best,
            });
        }
        self.known = now;
        Ok(())
    }

    fn event(&mut self, m: RouteNetlinkMessage) {
        match m {
            RouteNetlinkMessage::NewLink(l) => self.ifaces.write().unwrap_or_else(|e| e.into_inner()).link(&l, true),
            RouteNetlinkMessage::DelLink(l) => self.ifaces.write().unwrap_or_else(|e| e.into_inner()).link(&l, false),
            RouteNetlinkMessage::NewAddress(a) => {
                self.ifaces.write().unwrap_or_else(|e| e.into_inner()).address(&a, true)
            }
            RouteNetlinkMessage::DelAddress(a) => self
                .ifaces
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .address(&a, false),
            RouteNetlinkMessage::NewRoute(r) => {
                if let Some((prefix, metric, l)) = self.learnable(&r) {
                    let entry = self.known.entry(prefix).or_default();
                    entry.insert(metric, l);
                    let best = preferred(entry);
                    let _ = self.rde.send(RdeMsg::KernelLearned { prefix, route: best });
                }
            }
            RouteNetlinkMessage::DelRoute(r) => {
                if let Some((prefix, metric, _)) = self.learnable(&r) {
                    let Some(entry) = self.known.get_mut(&prefix) else {
                        return;
                    };
                    entry.remove(&metric);
                    let best = preferred(entry);
                    if entry.is_empty() {
                        self.known.remove(&prefix);
                    }
                    let _ = self.rde.send(RdeMsg::KernelLearned { prefix, route: best });
                }
            }
            _ => {}
        }
    }

    /// A route of the table we learn: not ours, not the kernel's own
    /// (`proto kernel`: connected subnets), and a plain destination.
    fn learnable(&self, r: &RouteMessage) -> Option<(Prefix, u32, Learned)> {
        let k = self.learn.as_ref()?;
        let s: Seen = routes::seen(r)?;
        if s.table != k.table || s.protocol == k.protocol || s.protocol == RTPROT_KERNEL {
            return None;
        }
        let kind = match s.kind {
            RouteType::Unicast => LearnedKind::Unicast,
            RouteType::BlackHole => LearnedKind::Blackhole,
            RouteType::Unreachable => LearnedKind::Unreachable,
            RouteType::Prohibit => LearnedKind::Prohibit,
            _ => return None,
        };
        let metric = r
            .attributes
            .iter()
            .find_map(|a| match a {
                netlink_packet_route::route::RouteAttribute::Priority(p) => Some(*p),
                _ => None,
            })
            .unwrap_or(0);
        Some((
            s.prefix,
            metric,
            Learned {
                kind,
                oif: s.oif,
                hops: s.hops.iter().map(|&(g, i, _)| (g, i)).collect(),
                metric,
                protocol: s.protocol,
            },
        ))
    }
}
