//! The RIB task: one tokio task owning the `rib` table. Peer tasks hand it
//! what they receive and get back the UPDATEs to send; the decisions are
//! the `rib` crate's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use bgp_fsm::Negotiated;
use bgp_wire::attributes::Origin;
use bgp_wire::{Family, Prefix, SessionCtx, Update};
use rib::adj_out::{announcements, by_family, change_for, coalesce, net_best, Change};
use rib::{
    check_import, export, Delta, IgpCost, Interner, Local, PrefixFilter, Route, RouteAttrs, Source, Table, Target,
};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::config::Config;

/// A peer's number: its position in the configuration.
pub type PeerId = u32;

/// Where the RIB sends a session its UPDATEs, encoded for the session
/// (wire bytes are the smallest form to queue), tagged with the session's
/// epoch so a batch meant for an earlier session is never sent on a new one.
pub type UpdateSender = mpsc::UnboundedSender<(u64, bytes::Bytes)>;

/// What a peer task tells the RIB task.
pub enum RibMsg {
    /// The session is up: send it the table, then End-of-RIB.
    Up {
        peer: PeerId,
        epoch: u64,
        negotiated: Box<Negotiated>,
        local_address: IpAddr,
        tx: UpdateSender,
    },
    /// The session went down: its routes go.
    Down { peer: PeerId },
    /// An UPDATE from the session.
    Update {
        peer: PeerId,
        update: Box<Update>,
        /// Held until the UPDATE is applied (see [`in_flight`]).
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    /// A ROUTE-REFRESH: send everything of the family again.
    Refresh { peer: PeerId, family: Family },
    /// A question from the control socket.
    Query(Query, oneshot::Sender<Vec<RouteView>>),
    /// Route counters per peer, for `show protocols all`.
    Counts(oneshot::Sender<HashMap<PeerId, Counts>>),
}

/// `Routes: N imported, M exported, P preferred`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub imported: usize,
    pub exported: usize,
    pub preferred: usize,
}

/// Which routes `show route` wants.
#[derive(Clone, Debug)]
pub enum Query {
    All,
    For(IpAddr),
    Protocol(String),
}

/// One route, as `show route` prints it.
#[derive(Clone, Debug)]
pub struct RouteView {
    pub prefix: Prefix,
    pub best: bool,
    /// Protocol name: a peer's name, or `static1`.
    pub from: String,
    pub from_address: Option<IpAddr>,
    pub since: SystemTime,
    pub attrs: Arc<RouteAttrs>,
    pub blackhole: bool,
}

/// Changes handed to a peer at a time while a batch is propagated.
const SEND_SLICE: usize = 512;

/// UPDATEs received but not yet applied, over all peers, at most. Readers
/// take a permit per UPDATE and stop reading when none is left, so a flood
/// waits in the peers' TCP windows, not in our memory (BIRD, with one
/// thread, reads only as fast as it works, to the same effect).
pub fn in_flight() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(1024))
}

/// Table changes propagated together at most (bounds the batch's memory
/// and the delay of the first change in it).
const MAX_BATCH: usize = 16_384;

struct PeerState {
    source: Arc<Source>,
    target: Target,
    families: Vec<Family>,
    /// Families in which the peer takes several paths (we send ADD-PATH).
    add_path: Vec<Family>,
    ctx: SessionCtx,
    /// Routes the peer now holds from us (`show protocols all`).
    exported: usize,
    /// Its export class (see [`Exporter::class`]).
    class: u32,
    epoch: u64,
    tx: UpdateSender,
}

impl PeerState {
    /// Packs `changes` into UPDATEs and hands them to the session.
    fn send(&self, changes: Vec<Change>, eor: bool) {
        let mut ups = Vec::new();
        for fc in by_family(changes) {
            if let Some(f) = fc.family {
                ups.extend(rib::updates::pack(f, &fc.announce, &fc.withdraw, &self.ctx));
            }
        }
        if eor {
            // RFC 4724 §2: End-of-RIB after the initial table, per family.
            ups.extend(self.families.iter().map(|f| Update::end_of_rib(*f)));
        }
        if ups.is_empty() {
            return;
        }
        let mut buf = bytes::BytesMut::new();
        for u in ups {
            if let Err(e) = bgp_wire::Message::Update(Box::new(u)).encode(&mut buf, &self.ctx) {
                tracing::warn!("cannot encode an UPDATE: {e}");
            }
        }
        let _ = self.tx.send((self.epoch, buf.freeze()));
    }

    /// Whether routes to `prefix` go to this peer at all, and with
    /// ADD-PATH or not.
    fn takes(&self, prefix: &Prefix) -> Option<bool> {
        let f = prefix.family();
        self.families.contains(&f).then(|| self.add_path.contains(&f))
    }
}

/// export() with its results interned and remembered: most routes share
/// attribute sets, so each set is rewritten once per peer class and
/// family, not once per prefix. Keys are the addresses of the route's
/// attribute and source allocations; each entry holds weak references to
/// both, which keep the allocations (not the values) alive, so no other
/// attribute set can appear at a cached address while the entry exists.
struct Exporter {
    local: Local,
    interner: Interner,
    cache: hashbrown::HashMap<(usize, usize, u32, bool), Cached>,
    classes: Vec<Target>,
    /// Cache size at which dead entries are swept out.
    sweep_at: usize,
}

struct Cached {
    attrs: Weak<RouteAttrs>,
    source: Weak<Source>,
    out: Option<Arc<RouteAttrs>>,
}

impl Exporter {
    /// The class of `target`: peers that differ only in who they are get
    /// the same rewritten attributes, so they share cache entries (a
    /// reflector's clients, a node's mesh peers).
    fn class(&mut self, target: &Target) -> u32 {
        let t = Target {
            peer: 0,
            ..target.clone()
        };
        match self.classes.iter().position(|c| *c == t) {
            Some(i) => i as u32,
            None => {
                self.classes.push(t);
                (self.classes.len() - 1) as u32
            }
        }
    }

    fn export(&mut self, route: &Route, family: Family, target: &Target, class: u32) -> Option<Arc<RouteAttrs>> {
        // The one rule that depends on the peer itself, checked before the
        // cache shared by its class: never back to where it came from.
        if route.source.peer == Some(target.peer) {
            return None;
        }
        // The family is part of the key: the next hop depends on it.
        let key = (
            Arc::as_ptr(&route.attrs) as usize,
            Arc::as_ptr(&route.source) as usize,
            class,
            family == Family::IPV4_UNICAST,
        );
        // An entry's weak references keep its allocations from being
        // reused, so an address in the key is still the same route's.
        if let Some(c) = self.cache.get(&key) {
            return c.out.clone();
        }
        let out = export(&self.local, route, family, target).map(|a| self.interner.intern(a));
        if self.cache.len() >= self.sweep_at {
            // Drop entries of gone allocations; sweep again only when the
            // cache has doubled, so the cost per insert stays constant.
            self.cache
                .retain(|_, c| c.attrs.strong_count() > 0 && c.source.strong_count() > 0);
            self.sweep_at = (2 * self.cache.len()).max(4096);
        }
        self.cache.insert(
            key,
            Cached {
                attrs: Arc::downgrade(&route.attrs),
                source: Arc::downgrade(&route.source),
                out: out.clone(),
            },
        );
        out
    }
}

/// UPDATEs applied but not yet propagated, with their permits.
#[derive(Default)]
struct Batch {
    deltas: Vec<Delta>,
    permits: Vec<tokio::sync::OwnedSemaphorePermit>,
}

struct Rib {
    table: Table,
    exporter: Exporter,
    peers: HashMap<PeerId, PeerState>,
    names: Vec<String>,
    settings: Vec<crate::config::PeerSettings>,
    filter: PrefixFilter,
    /// Prefixes of the batch being propagated, to spot one touched twice.
    seen: hashbrown::HashSet<Prefix>,
}

/// Starts the RIB task with the configuration's static routes.
pub fn spawn(cfg: &Config) -> mpsc::UnboundedSender<RibMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    let static_source = Arc::new(Source {
        peer: None,
        peer_address: None,
        peer_router_id: cfg.router_id,
        ebgp: false,
        rr_client: false,
    });
    // The node's own blocks are its static routes inside a pool (Calico
    // carves IPAM blocks out of pools): each is exported, nothing more
    // specific within it (calico_aggr).
    let blocks = cfg
        .statics
        .iter()
        .map(|s| s.prefix)
        .filter(|p| cfg.pools.iter().any(|pool| pool != p && pool.contains(p)))
        .collect();
    let mut rib = Rib {
        table: Table::new(),
        exporter: Exporter {
            local: Local {
                asn: cfg.asn,
                router_id: cfg.router_id,
                cluster_id: cfg.cluster_id,
            },
            interner: Interner::default(),
            cache: hashbrown::HashMap::new(),
            sweep_at: 4096,
            classes: Vec::new(),
        },
        peers: HashMap::new(),
        names: cfg.peers.iter().map(|p| p.name.clone()).collect(),
        settings: cfg.peers.clone(),
        filter: PrefixFilter {
            pools: cfg.pools.clone(),
            blocks,
        },
        seen: hashbrown::HashSet::new(),
    };
    for s in &cfg.statics {
        let attrs = rib.exporter.interner.intern(RouteAttrs {
            origin: Some(Origin::Igp),
            next_hop: s.via,
            local_pref: s.local_pref,
            communities: s.communities.clone(),
            ..RouteAttrs::default()
        });
        let route = Route {
            source: static_source.clone(),
            path_id: 0,
            out_id: 0,
            attrs,
            igp_cost: IgpCost::UNKNOWN,
            since: now_secs(),
        };
        rib.table.update(s.prefix, route);
    }
    tokio::spawn(rib.run(rx));
    tx
}

impl Rib {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<RibMsg>) {
        let mut batch = Batch::default();
        while let Some(first) = rx.recv().await {
            // UPDATEs that queued up while we worked are applied together
            // and propagated once: each peer then gets one batch, in which
            // a prefix that changed several times counts once (as BIRD's
            // export buckets do).
            let mut next = Some(first);
            while let Some(m) = next.take() {
                self.handle(m, &mut batch);
                if batch.deltas.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.flush(&mut batch);
        }
    }

    /// An UPDATE joins the batch; anything else first flushes it, so
    /// messages keep their order.
    fn handle(&mut self, m: RibMsg, batch: &mut Batch) {
        if !matches!(m, RibMsg::Update { .. }) {
            self.flush(batch);
        }
        match m {
            RibMsg::Update { peer, update, permit } => {
                self.update(peer, &update, &mut batch.deltas);
                batch.permits.extend(permit);
            }
            RibMsg::Up {
                peer,
                epoch,
                negotiated,
                local_address,
                tx,
            } => self.up(peer, epoch, &negotiated, local_address, tx),
            RibMsg::Down { peer } => self.down(peer),
            RibMsg::Refresh { peer, family } => self.refresh(peer, family),
            RibMsg::Query(q, reply) => {
                let _ = reply.send(self.query(&q));
            }
            RibMsg::Counts(reply) => {
                let _ = reply.send(self.counts());
            }
        }
    }

    /// Propagates the batch, then releases its permits together: one
    /// wake-up of the readers per batch, not one per UPDATE.
    fn flush(&mut self, batch: &mut Batch) {
        self.propagate(&batch.deltas);
        batch.deltas.clear();
        batch.permits.clear();
    }

    /// Whether some prefix comes twice in `deltas`.
    fn repeats(&mut self, deltas: &[Delta]) -> bool {
        if deltas.len() < 2 {
            return false;
        }
        self.seen.clear();
        !deltas.iter().all(|d| self.seen.insert(d.prefix))
    }

    /// Tells every peer what `deltas` change for it.
    fn propagate(&mut self, deltas: &[Delta]) {
        if deltas.is_empty() {
            return;
        }
        let repeats = self.repeats(deltas);
        // Peers without ADD-PATH need only the net change of each best
        // route over the batch.
        let net: Vec<Delta>;
        let best_changes: &[Delta] = if repeats {
            net = net_best(deltas);
            &net
        } else {
            deltas
        };
        let Rib {
            peers,
            exporter,
            filter,
            ..
        } = self;
        let mut sts: Vec<&mut PeerState> = peers.values_mut().collect();
        let mut changes: Vec<Vec<Change>> = sts.iter().map(|_| Vec::new()).collect();
        // Delta by delta, so that a route's export is looked up once per
        // peer class, not once per peer (split horizon aside): the class,
        // the route's attribute and source addresses, the result.
        let mut memo: Vec<(u32, usize, usize, Option<Arc<RouteAttrs>>)> = Vec::new();
        for d in best_changes {
            if d.best.is_none() || !filter.allows(&d.prefix) {
                continue;
            }
            memo.clear();
            let family = d.prefix.family();
            for (st, out) in sts.iter_mut().zip(changes.iter_mut()) {
                if st.takes(&d.prefix) != Some(false) {
                    continue;
                }
                let (target, class) = (&st.target, st.class);
                let mut export = |r: &Route| {
                    if r.source.peer == Some(target.peer) {
                        return None;
                    }
                    let (a, s) = (Arc::as_ptr(&r.attrs) as usize, Arc::as_ptr(&r.source) as usize);
                    if let Some(m) = memo.iter().find(|m| m.0 == class && m.1 == a && m.2 == s) {
                        return m.3.clone();
                    }
                    let e = exporter.export(r, family, target, class);
                    memo.push((class, a, s, e.clone()));
                    e
                };
                if let Some((c, n)) = change_for(d, false, &mut export) {
                    st.exported = st.exported.saturating_add_signed(isize::from(n));
                    out.push(c);
                    // Sent in slices: a batch's changes for every peer at
                    // once would be a lot to hold on a reflector.
                    if out.len() >= SEND_SLICE {
                        st.send(std::mem::take(out), false);
                    }
                }
            }
        }
        // ADD-PATH peers, path by path.
        for (st, out) in sts.iter_mut().zip(changes.iter_mut()) {
            if st.add_path.is_empty() {
                continue;
            }
            for d in deltas {
                if st.takes(&d.prefix) != Some(true) || !filter.allows(&d.prefix) {
                    continue;
                }
                let family = d.prefix.family();
                let (target, class) = (&st.target, st.class);
                if let Some((c, n)) = change_for(d, true, |r| exporter.export(r, family, target, class)) {
                    st.exported = st.exported.saturating_add_signed(isize::from(n));
                    out.push(c);
                }
            }
            if repeats {
                coalesce(out);
            }
        }
        for (st, out) in sts.iter().zip(changes) {
            st.send(out, false);
        }
    }

    /// Everything `peer` should hold of `family` (all families: `None`).
    fn full_table(&mut self, peer: PeerId, family: Option<Family>) -> Vec<Change> {
        let Rib {
            peers,
            exporter,
            filter,
            table,
            ..
        } = self;
        let Some(st) = peers.get(&peer) else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        for (p, routes) in table.iter() {
            if family.is_some_and(|f| f != p.family()) || !filter.allows(p) {
                continue;
            }
            let Some(add_path) = st.takes(p) else { continue };
            let f = p.family();
            let (target, class) = (&st.target, st.class);
            changes.extend(announcements(*p, routes, add_path, |r| {
                exporter.export(r, f, target, class)
            }));
        }
        changes
    }

    fn up(&mut self, peer: PeerId, epoch: u64, n: &Negotiated, local_address: IpAddr, tx: UpdateSender) {
        let Some(s) = self.settings.get(peer as usize).cloned() else {
            return;
        };
        let ebgp = !n.is_ibgp();
        let source = Arc::new(Source {
            peer: Some(peer),
            peer_address: Some(s.address),
            peer_router_id: n.peer_id,
            ebgp,
            rr_client: s.rr_client,
        });
        let target = Target {
            peer,
            ebgp,
            rr_client: s.rr_client,
            next_hop_self: s.next_hop_self,
            local_address,
            local_address6: s.local_address6,
        };
        let ctx = n.tx_ctx();
        let class = self.exporter.class(&target);
        self.peers.insert(
            peer,
            PeerState {
                source,
                target,
                families: n.families.clone(),
                add_path: ctx.add_path.clone(),
                ctx,
                exported: 0,
                class,
                epoch,
                tx,
            },
        );
        let changes = self.full_table(peer, None);
        debug!(peer = %s.name, "sending the initial table: {} routes", changes.len());
        if let Some(st) = self.peers.get_mut(&peer) {
            st.exported = changes.len();
            st.send(changes, true);
        }
    }

    fn down(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        let deltas = self.table.remove_peer(peer);
        self.propagate(&deltas);
    }

    /// Applies one UPDATE to the table, adding what changed to `deltas`.
    fn update(&mut self, peer: PeerId, u: &Update, deltas: &mut Vec<Delta>) {
        let Some(st) = self.peers.get(&peer) else { return };
        let source = st.source.clone();
        let allow = self
            .settings
            .get(peer as usize)
            .map_or(0, |s| usize::from(s.allow_local_as));
        let mut r = rib::updates::received(u);
        for (_, e) in &r.withdrawn {
            let id = e.path_id.map_or(0, |p| p.0);
            deltas.extend(self.table.withdraw(&e.prefix, Some(peer), id));
        }
        // One UPDATE carries one attribute set per field: check and intern
        // each once, not once per prefix.
        let (local, interner) = (&self.exporter.local, &mut self.exporter.interner);
        let mut prepare = |a: Option<RouteAttrs>| -> Option<Arc<RouteAttrs>> {
            let mut a = a?;
            // Import: eBGP routes get the default preference (RFC 4271 §5.1.5:
            // LOCAL_PREF is not taken from external peers).
            if source.ebgp {
                a.local_pref = None;
            }
            let usable = check_import(local, &a, allow).is_ok() && a.next_hop.is_some();
            usable.then(|| interner.intern(a))
        };
        let has_v4 = r.attrs_v4.is_some();
        let (v4, mp) = (prepare(r.attrs_v4.take()), prepare(r.attrs_mp.take()));
        let now = now_secs();
        for (f, e) in &r.announced {
            let id = e.path_id.map_or(0, |p| p.0);
            let from_field = *f == Family::IPV4_UNICAST && !u.nlri.is_empty() && has_v4;
            let attrs = if from_field {
                v4.clone()
            } else {
                mp.clone().or_else(|| v4.clone())
            };
            match attrs {
                Some(a) => {
                    let route = Route {
                        source: source.clone(),
                        path_id: id,
                        out_id: 0,
                        attrs: a,
                        igp_cost: IgpCost::UNKNOWN,
                        since: now,
                    };
                    deltas.push(self.table.update(e.prefix, route));
                }
                // A looped route replaces and so withdraws an earlier one.
                None => deltas.extend(self.table.withdraw(&e.prefix, Some(peer), id)),
            }
        }
    }

    fn refresh(&mut self, peer: PeerId, family: Family) {
        let changes = self.full_table(peer, Some(family));
        if let Some(st) = self.peers.get(&peer) {
            st.send(changes, false);
        }
    }

    fn counts(&self) -> HashMap<PeerId, Counts> {
        let mut c: HashMap<PeerId, Counts> = HashMap::new();
        for (_, routes) in self.table.iter() {
            for (i, r) in routes.iter().enumerate() {
                if let Some(id) = r.source.peer {
                    let e = c.entry(id).or_default();
                    e.imported += 1;
                    if i == 0 {
                        e.preferred += 1;
                    }
                }
            }
        }
        for (id, st) in &self.peers {
            c.entry(*id).or_default().exported = st.exported;
        }
        c
    }

    fn query(&self, q: &Query) -> Vec<RouteView> {
        let mut prefixes: Vec<(Prefix, &[Route])> = self.table.iter().map(|(p, r)| (*p, r)).collect();
        prefixes.sort_unstable_by_key(|(p, _)| *p);
        let mut out = Vec::new();
        for (p, routes) in prefixes {
            if let Query::For(a) = q {
                if !p.net().contains(a) {
                    continue;
                }
            }
            for (i, r) in routes.iter().enumerate() {
                let from = match r.source.peer {
                    Some(id) => self.names.get(id as usize).cloned().unwrap_or_default(),
                    None => "static1".to_string(),
                };
                if let Query::Protocol(n) = q {
                    if &from != n {
                        continue;
                    }
                }
                let since = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(r.since.into());
                out.push(RouteView {
                    prefix: p,
                    best: i == 0,
                    from,
                    from_address: r.source.peer_address,
                    since,
                    attrs: r.attrs.clone(),
                    blackhole: r.source.peer.is_none() && r.attrs.next_hop.is_none(),
                });
            }
        }
        if let Query::For(_) = q {
            // `show route for ADDR`: the longest match only.
            if let Some(longest) = out.iter().map(|v| v.prefix.prefix_len()).max() {
                out.retain(|v| v.prefix.prefix_len() == longest);
            }
        }
        out
    }
}

/// Seconds since the Unix epoch, for `Route::since` (32 bits: until 2106).
fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// The identifier shown for a route learned from a reflector: where it
/// came from when that is not its next hop.
pub fn shown_from(v: &RouteView) -> Option<IpAddr> {
    match (v.from_address, v.attrs.next_hop) {
        (Some(a), Some(nh)) if a != nh => Some(a),
        _ => None,
    }
}
