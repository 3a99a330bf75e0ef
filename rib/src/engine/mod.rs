//! The routing engine: the table, import checks, export rules and export
//! cache behind one sans-IO interface. Inputs are what sessions and the
//! node do (a session up with what it negotiated, down, an UPDATE, a
//! ROUTE-REFRESH, local routes, new rules, bytes written); outputs are
//! encoded UPDATEs per session ([`Engine::take_transmits`]) and, for other
//! consumers (the kernel next), the prefixes whose best path changed
//! ([`Engine::poll_best`]). Time is an input, as in `bgp-fsm`.
//!
//! Changes are gathered into a *round*: everything applied since the last
//! round, a set of slots whose best changed (and of ADD-PATH paths that
//! changed). The caller runs a round once no more UPDATEs are on their
//! way, or when [`Engine::round_due`] says the oldest change has waited
//! [`MAX_DEFER`]. A prefix changed by several peers within a round is sent
//! once, in its settled state: when ten feeds announce one table at once,
//! a receiver gets each final best path, not each intermediate winner.
//! When input pauses, as it does between the UPDATEs of a node's routine
//! changes, the round runs at once: nothing waits on a timer.
//!
//! Memory does not grow with churn: a round is two bits and four bytes
//! per changed slot, a peer that cannot keep up keeps a bit per slot it
//! still has to be told ([`crate::out`]), and the interners and export
//! cache are swept of whatever no route or session holds.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_wire::attributes::{Community, Origin};
use bgp_wire::{Family, Prefix, RouterId, SessionCtx, Update};
use hashbrown::{HashMap, HashSet};

use crate::attrs::{Interner, RouteAttrs};
use crate::bitset::Bitset;
use crate::decision::{IgpCost, Protocol, Route, Source};
use crate::export::Exports;
use crate::filter::{RouteFilter, Verdict};
use crate::out::{PeerOut, Transmit};
use crate::policy::{check_import_as, ExportClass, Local, PrefixFilter, Target};
use crate::table::{Delta, Table};
use crate::updates::{received, Change};
use crate::PeerId;

mod graceful;
mod rounds;

/// How long a change may wait for its round while input keeps coming
/// (well inside RFC 4271 §9.2.1.1's advertisement interval: 5 s iBGP,
/// 30 s eBGP).
pub const MAX_DEFER: Duration = Duration::from_secs(2);

/// An established session, as the engine needs it: what was negotiated
/// and how the peer is configured.
#[derive(Clone, Debug)]
pub struct Session {
    /// Families negotiated (RFC 4760).
    pub families: Vec<Family>,
    /// How UPDATEs to the peer are encoded, including the families in
    /// which we send ADD-PATH (RFC 7911).
    pub ctx: SessionCtx,
    pub ebgp: bool,
    pub peer_address: IpAddr,
    pub peer_router_id: RouterId,
    /// Our address on the session: the next hop we announce when we set it.
    pub local_address: IpAddr,
    /// Our next hop for IPv6 routes over an IPv4 session.
    pub local_address6: Option<IpAddr>,
    /// Our next hop for IPv4 routes over an IPv6 session.
    pub local_address4: Option<IpAddr>,
    /// A route reflection client of ours (RFC 4456).
    pub rr_client: bool,
    /// Always announce ourselves as next hop, also over iBGP.
    pub next_hop_self: bool,
    /// How often our AS may appear in a received AS_PATH.
    pub allow_local_as: u8,
    /// Families whose forwarding state the peer kept through its restart
    /// (F bits of its graceful restart capability, RFC 4724 §3).
    pub preserved: Vec<Family>,
    /// The interface of a session over IPv6 link-local addresses.
    pub link: Option<u32>,
    /// Our AS on this session when not the node's (Calico's `localASNumber`).
    pub local_as: Option<bgp_wire::Asn>,
    /// The interface the session runs over, where known (what filters
    /// match a received route's interface against).
    pub iface: Option<Arc<str>>,
    /// Rules for what the peer sends us and what we send it.
    pub import: Option<Arc<RouteFilter>>,
    pub export: Option<Arc<RouteFilter>>,
    /// Enhanced route refresh (RFC 7313) was negotiated.
    pub enhanced_refresh: bool,
    /// The most routes the peer may have us hold (RFC 4486 §4); crossing
    /// it is reported once per session by [`Engine::take_limit_events`].
    pub max_prefixes: Option<usize>,
}

/// A session that crossed its prefix limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitEvent {
    pub peer: PeerId,
    /// The family of the UPDATE that crossed it.
    pub family: Family,
    /// Routes held from the peer then.
    pub count: usize,
    pub limit: usize,
}

/// A peer's rules that a reload can change without a new session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerPolicy {
    pub rr_client: bool,
    pub next_hop_self: bool,
    pub allow_local_as: u8,
    pub local_address6: Option<IpAddr>,
    pub local_address4: Option<IpAddr>,
    /// New export rules: the peer is sent what they now allow. (New
    /// import rules need the peer's routes again: a new session.)
    pub export: Option<Arc<RouteFilter>>,
}

/// A route this node originates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalRoute {
    /// `None`: a blackhole (Calico's IPAM blocks).
    pub next_hop: Option<IpAddr>,
    pub communities: Vec<Community>,
    pub local_pref: Option<u32>,
}

/// `Routes: N imported, M exported, P preferred`, per peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PeerCounts {
    pub imported: usize,
    pub exported: usize,
    pub preferred: usize,
}

/// What the engine holds, counted exactly (after a sweep).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MemoryCounts {
    pub prefixes: usize,
    pub routes: usize,
    /// Slots emptied but kept for peers that still have to be told.
    pub empty_slots: usize,
    /// Distinct received and local attribute sets.
    pub attribute_sets: usize,
    /// Distinct attribute sets as rewritten for export.
    pub export_sets: usize,
    pub export_cache: usize,
    pub export_classes: usize,
    pub sessions: usize,
    /// Routes held by peers from us, over all sessions.
    pub exported: usize,
    /// Prefixes peers still have to be told, over all sessions.
    pub backlog: usize,
    /// Bytes handed to sessions, not yet written.
    pub queued_bytes: usize,
    /// Heap bytes of the table, interners, cache and per-peer sets.
    pub heap_bytes: usize,
}

/// A prefix whose best route changed, for a consumer such as the kernel.
#[derive(Clone, Debug)]
pub struct BestChange {
    pub prefix: Prefix,
    /// Every route to the prefix now, the best first; empty when the
    /// prefix is gone.
    pub routes: Vec<Route>,
}

impl BestChange {
    /// The best route now, `None` when the prefix is gone.
    pub fn best(&self) -> Option<&Route> {
        self.routes.first()
    }
}

/// Whether a received NEXT_HOP can ever be used (RFC 4271 §6.3: one that
/// is the receiving speaker's own address is semantically incorrect):
/// not unspecified, multicast or broadcast, not our own address on the
/// session, and not a loopback address unless the peer itself is reached
/// over loopback (`ternd lab` runs its nodes on 127.100.0.x; from any
/// other peer, 127/8 or ::1 would point the route back into this host).
/// Such a route is kept out of the table, as a looped one is, and the
/// session stays up (RFC 7606 §7.3).
fn valid_next_hop(nh: IpAddr, ours: IpAddr, peer: Option<IpAddr>) -> bool {
    let bad = match nh {
        IpAddr::V4(a) => a.is_unspecified() || a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
    };
    let local_peer = peer.is_some_and(|p| p.is_loopback() || p.to_canonical().is_loopback());
    !bad && nh != ours && (local_peer || !nh.to_canonical().is_loopback())
}

/// The path identifier that keeps a route learned from the kernel apart
/// from a static route to the same prefix (both are the node's own).
const KERNEL_PATH: u32 = 1;

/// A consumer of best-path changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriberId(usize);

#[derive(Default)]
struct Subscriber {
    pending: Bitset,
}

/// Changes gathered for the next round.
#[derive(Default)]
struct Window {
    /// Slots whose best route changed.
    best: Bitset,
    /// Slots with any change, for consumers of best-path changes (a
    /// second equal path changes a multipath route, not the best).
    changed: Bitset,
    /// ADD-PATH paths that changed, as (slot, identifier), kept only while
    /// an ADD-PATH session is up.
    paths: Vec<(u32, u32)>,
    seen: HashSet<(u32, u32)>,
    opened: Option<Instant>,
}

/// The routing engine. See the module documentation.
pub struct Engine {
    local: Local,
    filter: PrefixFilter,
    table: Table,
    interner: Interner,
    exports: Exports,
    local_source: Arc<Source>,
    kernel_source: Arc<Source>,
    /// Kernel routes' sources by device, for filters on the interface;
    /// swept when no route holds one.
    kernel_sources: HashMap<Arc<str>, Arc<Source>>,
    peers: BTreeMap<PeerId, Peer>,
    add_path_sessions: usize,
    window: Window,
    subscribers: Vec<Subscriber>,
    /// Emptied slots, released once no peer or consumer needs them.
    zombies: Vec<u32>,
    transmits: Vec<Transmit>,
    /// Reused buffer of changes being packed.
    scratch: Vec<Change>,
    /// Slices encoded for one peer, shared with the next that is sent the
    /// same (update groups, [`crate::shared`]).
    encoded: crate::shared::Encoded,
    /// Routes of this node: imported and preferred counts.
    local_counts: PeerCounts,
    /// Peers in graceful restart (RFC 4724 §4.2): their routes kept, stale.
    stale: BTreeMap<PeerId, graceful::Stale>,
    /// Enhanced route refreshes a peer is sending us (between its BoRR and
    /// EoRR, RFC 7313 §4): what it has announced again so far.
    refreshing: HashMap<(PeerId, Family), HashSet<(Prefix, u32)>>,
    /// Prefix limits crossed, not yet taken by the caller.
    limit_events: Vec<LimitEvent>,
    /// The Unix time of `clock.0`, for route ages.
    clock: (Instant, u32),
}

/// A session as the engine keeps it.
struct Peer {
    out: PeerOut,
    source: Arc<Source>,
    allow_local_as: usize,
    /// Our AS on the session when not the node's.
    local_as: Option<bgp_wire::Asn>,
    /// Rules for the routes it sends us.
    import: Option<Arc<RouteFilter>>,
    /// Imported and preferred routes (exported ones are `out`'s).
    counts: PeerCounts,
    max_prefixes: Option<usize>,
    /// The limit was crossed in this session (and reported).
    over_limit: bool,
}

impl Engine {
    /// An engine for a node with identity `local`, exporting what
    /// `filter` allows. `now` and `unix_now` tie the clock input to wall
    /// time, for route ages.
    pub fn new(local: Local, filter: PrefixFilter, now: Instant, unix_now: u32) -> Engine {
        let local_source = Arc::new(Source {
            peer: None,
            protocol: Protocol::Static,
            peer_address: None,
            peer_router_id: local.router_id,
            ebgp: false,
            rr_client: false,
            link: None,
            iface: None,
        });
        let kernel_source = Arc::new(Source {
            protocol: Protocol::Kernel,
            ..(*local_source).clone()
        });
        Engine {
            local,
            filter,
            table: Table::new(),
            interner: Interner::default(),
            exports: Exports::default(),
            local_source,
            kernel_source,
            kernel_sources: HashMap::new(),
            peers: BTreeMap::new(),
            add_path_sessions: 0,
            window: Window::default(),
            subscribers: Vec::new(),
            zombies: Vec::new(),
            transmits: Vec::new(),
            scratch: Vec::new(),
            encoded: Default::default(),
            local_counts: PeerCounts::default(),
            stale: BTreeMap::new(),
            refreshing: HashMap::new(),
            limit_events: Vec::new(),
            clock: (now, unix_now),
        }
    }

    fn unix(&self, now: Instant) -> u32 {
        let secs = now.saturating_duration_since(self.clock.0).as_secs();
        self.clock.1.saturating_add(u32::try_from(secs).unwrap_or(u32::MAX))
    }

    // ---- inputs ------------------------------------------------------------

    /// A session came up (`epoch` tells it from earlier sessions of the
    /// peer): it is sent the table, then End-of-RIB.
    pub fn peer_up(&mut self, peer: PeerId, epoch: u64, s: Session, now: Instant) {
        if self.peers.contains_key(&peer) {
            self.peer_down(peer, now);
        }
        let counts = self.reestablished(peer, &s.preserved, now);
        self.refreshing.retain(|(p, _), _| *p != peer);
        let source = Arc::new(Source {
            peer: Some(peer),
            protocol: Protocol::Bgp,
            peer_address: Some(s.peer_address),
            peer_router_id: s.peer_router_id,
            ebgp: s.ebgp,
            rr_client: s.rr_client,
            link: s.link,
            iface: s.iface.clone(),
        });
        let target = Target {
            peer,
            class: ExportClass {
                ebgp: s.ebgp,
                rr_client: s.rr_client,
                next_hop_self: s.next_hop_self,
                local_address: s.local_address,
                local_address6: s.local_address6,
                local_address4: s.local_address4,
                local_as: s.local_as,
                filter: s.export.clone().filter(|f| !f.is_empty()),
            },
        };
        let class = self.exports.join(&target);
        let mut out = PeerOut::new(peer, epoch, target, class, s.families, s.ctx);
        out.enhanced_refresh = s.enhanced_refresh;
        if !out.add_path.is_empty() {
            self.add_path_sessions += 1;
        }
        out.mark_all(&self.table, None);
        self.peers.insert(
            peer,
            Peer {
                out,
                source,
                allow_local_as: usize::from(s.allow_local_as),
                local_as: s.local_as,
                import: s.import.clone().filter(|f| !f.is_empty()),
                counts,
                max_prefixes: s.max_prefixes,
                over_limit: false,
            },
        );
        self.share_output();
        self.drain(peer);
    }

    /// Gives every session its share of the output budget.
    fn share_output(&mut self) {
        let high = crate::out::out_high(self.peers.len());
        for p in self.peers.values_mut() {
            p.out.high = high;
        }
    }

    /// The session went down: its routes go, and what it was owed.
    pub fn peer_down(&mut self, peer: PeerId, now: Instant) {
        if !self.peers.contains_key(&peer) && !self.stale.contains_key(&peer) {
            return;
        }
        self.remove_routes(peer, |_, _| true, now);
        self.refreshing.retain(|(p, _), _| *p != peer);
        self.finish(peer);
        self.close_session(peer);
    }

    /// Removes the routes of `peer` that `pick` selects, applying the
    /// changes in slices: a big table's removal never sits in memory whole.
    fn remove_routes(&mut self, peer: PeerId, pick: impl FnMut(&Prefix, &Route) -> bool, now: Instant) {
        let mut deltas = Vec::new();
        let mut table = std::mem::take(&mut self.table);
        table.remove_where(peer, pick, |d| {
            deltas.push(d);
            if deltas.len() >= 4096 {
                for d in deltas.drain(..) {
                    self.record(&d, now);
                }
            }
        });
        self.table = table;
        for d in deltas.drain(..) {
            self.record(&d, now);
        }
    }

    /// Forgets a session's output side; its routes are dealt with apart.
    fn close_session(&mut self, peer: PeerId) -> Option<Peer> {
        let p = self.peers.remove(&peer)?;
        self.share_output();
        if !p.out.add_path.is_empty() {
            self.add_path_sessions -= 1;
        }
        self.transmits.retain(|t| t.peer != peer);
        if !self
            .stale
            .get(&peer)
            .is_some_and(|s| s.sources.iter().any(|x| Arc::ptr_eq(x, &p.source)))
        {
            self.exports.forget_source(&p.source);
        }
        self.exports.leave(p.out.class);
        self.sweep();
        Some(p)
    }

    /// An UPDATE from `peer`'s session.
    pub fn update(&mut self, peer: PeerId, u: &Update, now: Instant) {
        if let Some(f) = u.end_of_rib_family() {
            self.sweep_stale(peer, Some(f), now);
        }
        let Some(p) = self.peers.get(&peer) else { return };
        let source = p.source.clone();
        let allow = p.allow_local_as;
        let local_as = p.local_as;
        let import = p.import.clone();
        let ours = p.out.target.class.local_address;
        let peer_address = source.peer_address;
        let since = self.unix(now);
        let mut r = received(u);
        for (_, e) in &r.withdrawn {
            let id = e.path_id.map_or(0, |p| p.0);
            if let Some(d) = self.table.withdraw(&e.prefix, Some(peer), id) {
                self.record(&d, now);
            }
        }
        // One UPDATE carries one attribute set per field: check and intern
        // each once, not once per prefix.
        let (local, interner) = (&self.local, &mut self.interner);
        let mut prepare = |a: Option<RouteAttrs>| -> Option<Arc<RouteAttrs>> {
            let mut a = a?;
            // RFC 4271 §5.1.5: LOCAL_PREF is not taken from external peers;
            // RFC 4456 §8: ORIGINATOR_ID and CLUSTER_LIST never leave an AS.
            // From an eBGP peer they are discarded (RFC 7606 §7.5, §7.9,
            // §7.10): not passed on, and not a loop that withdraws the route.
            if source.ebgp {
                a.local_pref = None;
                a.originator_id = None;
                a.cluster_list.clear();
            }
            let asn = local_as.unwrap_or(local.asn);
            let usable = check_import_as(local, asn, &a, allow).is_ok()
                && a.next_hop.is_some_and(|nh| valid_next_hop(nh, ours, peer_address));
            usable.then(|| interner.intern(a))
        };
        let has_v4 = r.attrs_v4.is_some();
        let (v4, mp) = (prepare(r.attrs_v4.take()), prepare(r.attrs_mp.take()));
        for (f, e) in &r.announced {
            let id = e.path_id.map_or(0, |p| p.0);
            let from_field = *f == Family::IPV4_UNICAST && !u.nlri.is_empty() && has_v4;
            let attrs = if from_field {
                v4.clone()
            } else {
                mp.clone().or_else(|| v4.clone())
            };
            let route = attrs.map(|a| Route {
                source: source.clone(),
                path_id: id,
                out_id: 0,
                attrs: a,
                igp_cost: IgpCost::UNKNOWN,
                since,
            });
            // The peer's import rules (Calico's BGPFilter): rejected is
            // as withdrawn; an accepting rule may change the route.
            let route = match (route, &import) {
                (Some(mut r), Some(f)) => match f.check(&e.prefix, &r, source.ebgp) {
                    Verdict::Reject => None,
                    Verdict::Accept(i) if f.changes(i) => {
                        let mut a = (*r.attrs).clone();
                        f.apply(i, &mut a);
                        r.attrs = self.interner.intern(a);
                        Some(r)
                    }
                    _ => Some(r),
                },
                (r, _) => r,
            };
            if let Some(again) = self.refreshing.get_mut(&(peer, *f)) {
                again.insert((e.prefix, id));
            }
            let d = match route {
                Some(r) => Some(self.table.update(e.prefix, r)),
                // A looped route replaces, and so withdraws, an earlier one.
                None => self.table.withdraw(&e.prefix, Some(peer), id),
            };
            if let Some(d) = d {
                self.record(&d, now);
            }
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            if let (Some(limit), false, Some((family, _))) = (p.max_prefixes, p.over_limit, r.announced.first()) {
                if p.counts.imported > limit {
                    p.over_limit = true;
                    self.limit_events.push(LimitEvent {
                        peer,
                        family: *family,
                        count: p.counts.imported,
                        limit,
                    });
                }
            }
        }
        if self.interner.sweep_due() {
            self.sweep();
        }
    }

    /// Sessions that crossed their prefix limit since the last call, each
    /// once per session: what to do about it is the caller's (warn, or end
    /// the session with Cease / Maximum Number of Prefixes Reached).
    pub fn take_limit_events(&mut self) -> Vec<LimitEvent> {
        std::mem::take(&mut self.limit_events)
    }

    /// A ROUTE-REFRESH (RFC 2918): the peer is sent the family again,
    /// between BoRR and EoRR when enhanced refresh was negotiated.
    pub fn refresh(&mut self, peer: PeerId, family: Family) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        if p.out.mode(family).is_none() {
            return;
        }
        p.out.refresh(&self.table, family, &mut self.transmits);
        self.drain(peer);
    }

    /// The peer's BoRR (`begin`) or EoRR for `family` (RFC 7313 §4): from
    /// its BoRR on, what it announces is noted; at its EoRR, its routes of
    /// the family that it did not announce again are gone.
    pub fn refresh_marker(&mut self, peer: PeerId, family: Family, begin: bool, now: Instant) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        if begin {
            self.refreshing.insert((peer, family), HashSet::new());
            return;
        }
        let Some(again) = self.refreshing.remove(&(peer, family)) else {
            return;
        };
        self.remove_routes(
            peer,
            |prefix, r| prefix.family() == family && !again.contains(&(*prefix, r.path_id)),
            now,
        );
    }

    /// Originates (or replaces) a route of this node.
    pub fn add_local(&mut self, prefix: Prefix, r: LocalRoute, now: Instant) {
        let source = self.local_source.clone();
        self.originate(prefix, r, source, 0, now);
    }

    /// Stops originating a route.
    pub fn remove_local(&mut self, prefix: &Prefix, now: Instant) {
        if let Some(d) = self.table.withdraw(prefix, None, 0) {
            self.record(&d, now);
        }
    }

    /// A route the kernel's table holds that is not ours (BIRD's `learn`):
    /// the node's own, exported within pools only
    /// ([`PrefixFilter::admits`]). We announce ourselves as its next hop.
    pub fn add_kernel(&mut self, prefix: Prefix, iface: Option<&str>, now: Instant) {
        let source = match iface {
            None => self.kernel_source.clone(),
            Some(name) => match self.kernel_sources.get(name) {
                Some(s) => s.clone(),
                None => {
                    let name: Arc<str> = Arc::from(name);
                    let s = Arc::new(Source {
                        iface: Some(name.clone()),
                        ..(*self.kernel_source).clone()
                    });
                    self.kernel_sources.insert(name, s.clone());
                    s
                }
            },
        };
        self.originate(prefix, LocalRoute::default(), source, KERNEL_PATH, now);
    }

    /// The kernel's table lost a route we had learned from it.
    pub fn remove_kernel(&mut self, prefix: &Prefix, now: Instant) {
        if let Some(d) = self.table.withdraw(prefix, None, KERNEL_PATH) {
            self.record(&d, now);
        }
    }

    fn originate(&mut self, prefix: Prefix, r: LocalRoute, source: Arc<Source>, path_id: u32, now: Instant) {
        let attrs = self.interner.intern(RouteAttrs {
            origin: Some(Origin::Igp),
            next_hop: r.next_hop,
            local_pref: r.local_pref,
            communities: r.communities.into(),
            ..RouteAttrs::default()
        });
        let route = Route {
            source,
            path_id,
            out_id: 0,
            attrs,
            igp_cost: IgpCost::UNKNOWN,
            since: self.unix(now),
        };
        let d = self.table.update(prefix, route);
        self.record(&d, now);
    }

    /// New identity or export rules: every peer is told again what it
    /// should hold (withdrawals included).
    pub fn set_policy(&mut self, local: Local, filter: PrefixFilter) {
        self.local = local;
        self.filter = filter;
        self.exports.clear();
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            if let Some(p) = self.peers.get_mut(&id) {
                p.out.mark_all(&self.table, None);
            }
            self.drain(id);
        }
    }

    /// A peer's export and import rules changed (a reload): what it is sent
    /// is evaluated again, and with another reflection role its routes are
    /// taken as from a client (or not) from now on. The session stays up.
    pub fn set_peer_policy(&mut self, peer: PeerId, pp: PeerPolicy, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.allow_local_as = usize::from(pp.allow_local_as);
        let mut target = p.out.target.clone();
        target.class.rr_client = pp.rr_client;
        target.class.next_hop_self = pp.next_hop_self;
        target.class.local_address6 = pp.local_address6;
        target.class.local_address4 = pp.local_address4;
        target.class.filter = pp.export.clone().filter(|f| !f.is_empty());
        let old_source = p.source.clone();
        if target != p.out.target {
            let old = p.out.class;
            p.out.target = target.clone();
            p.out.class = self.exports.join(&target);
            self.exports.leave(old);
        }
        if old_source.rr_client != pp.rr_client {
            let source = Arc::new(Source {
                rr_client: pp.rr_client,
                ..(*old_source).clone()
            });
            if let Some(p) = self.peers.get_mut(&peer) {
                p.source = source.clone();
            }
            let mine: Vec<(Prefix, Route)> = self
                .table
                .iter()
                .flat_map(|(prefix, routes)| {
                    routes
                        .iter()
                        .filter(|r| Arc::ptr_eq(&r.source, &old_source))
                        .map(move |r| (prefix, r.clone()))
                })
                .collect();
            for (prefix, r) in mine {
                let d = self.table.update(
                    prefix,
                    Route {
                        source: source.clone(),
                        ..r
                    },
                );
                self.record(&d, now);
            }
            self.exports.forget_source(&old_source);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.out.mark_all(&self.table, None);
        }
        self.drain(peer);
    }

    /// `bytes` of UPDATEs from this engine were written to `peer`'s session.
    pub fn written(&mut self, peer: PeerId, epoch: u64, bytes: usize) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        if p.out.epoch != epoch {
            return;
        }
        p.out.queued = p.out.queued.saturating_sub(bytes);
        if p.out.backlogged() && p.out.low() {
            self.drain(peer);
            self.release_zombies();
        }
    }

    // ---- queries -----------------------------------------------------------

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub fn local(&self) -> &Local {
        &self.local
    }

    /// Route counters of a session (zero when it is down).
    pub fn counts(&self, peer: PeerId) -> PeerCounts {
        self.peers.get(&peer).map_or_else(PeerCounts::default, |p| PeerCounts {
            exported: p.out.exported,
            ..p.counts
        })
    }

    /// Imported and preferred counts of this node's own routes.
    pub fn local_counts(&self) -> PeerCounts {
        self.local_counts
    }

    /// Batches of changes that could not all be encoded, over all sessions
    /// (an attribute set with no wire form); the caller logs when it grows.
    pub fn encode_failures(&self) -> u64 {
        self.peers.values().map(|p| p.out.encode_failures).sum()
    }

    /// Whether a session's output is stalled: its writer has not caught up.
    pub fn is_full(&self, peer: PeerId) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.out.full())
    }

    /// Slices of UPDATEs encoded while more than one session was up, and
    /// those handed to a further session instead of being encoded again.
    pub fn encodings(&self) -> (u64, u64) {
        (self.encoded.encoded, self.encoded.shared)
    }

    /// What the engine holds; sweeps first, so the counts are exact.
    pub fn memory(&mut self) -> MemoryCounts {
        self.sweep();
        let mut m = MemoryCounts {
            prefixes: self.table.len(),
            routes: self.table.route_count(),
            empty_slots: self.table.empty_slots(),
            attribute_sets: self.interner.len(),
            export_sets: self.exports.sets(),
            export_cache: self.exports.len(),
            export_classes: self.exports.classes(),
            sessions: self.peers.len(),
            heap_bytes: self.table.heap_bytes() + self.interner.heap_bytes() + self.exports.heap_bytes(),
            ..MemoryCounts::default()
        };
        for p in self.peers.values() {
            m.exported += p.out.held();
            m.backlog += p.out.dirty.len();
            m.queued_bytes += p.out.queued;
            m.heap_bytes += p.out.heap_bytes();
        }
        m
    }

    // ---- internals ---------------------------------------------------------

    /// Notes one table change for the next round and the counters.
    fn record(&mut self, d: &Delta, now: Instant) {
        if d.is_noop() {
            return;
        }
        match (d.before.map(|r| r.peer), d.after.map(|r| r.peer)) {
            (None, Some(p)) => self.count(p, |c| c.imported += 1),
            (Some(p), None) => self.count(p, |c| c.imported -= 1),
            _ => {}
        }
        if let Some((old, new)) = &d.best {
            if let Some(o) = old {
                self.count(o.peer, |c| c.preferred -= 1);
            }
            if let Some(n) = new {
                self.count(n.peer, |c| c.preferred += 1);
            }
            self.window.best.insert(d.slot.0);
            if new.is_none() {
                self.zombies.push(d.slot.0);
            }
        }
        if !self.subscribers.is_empty() {
            self.window.changed.insert(d.slot.0);
        }
        if self.add_path_sessions > 0 {
            let key = (d.slot.0, d.out_id());
            if self.window.seen.insert(key) {
                self.window.paths.push(key);
            }
        }
        self.window.opened.get_or_insert(now);
    }

    fn count(&mut self, peer: Option<PeerId>, f: impl FnOnce(&mut PeerCounts)) {
        match peer {
            None => f(&mut self.local_counts),
            Some(id) => {
                if let Some(p) = self.peers.get_mut(&id) {
                    f(&mut p.counts);
                }
            }
        }
    }

    /// Drops attribute sets no route holds, and the cache entries keyed on
    /// them, before their memory can be reused.
    fn sweep(&mut self) {
        // A device's source with no route left (a pod gone) goes too.
        // Its export cache entries go first: the cache knows a source by
        // its address, which a new source may reuse.
        let exports = &mut self.exports;
        self.kernel_sources.retain(|_, s| {
            let held = Arc::strong_count(s) > 1;
            if !held {
                exports.forget_source(s);
            }
            held
        });
        let dead = self.interner.sweep();
        self.exports.forget_attrs(&dead);
        drop(dead);
        self.exports.sweep();
    }
}
