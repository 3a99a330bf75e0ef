//! The RIB task: one tokio task owning the `rib` table. Peer tasks hand it
//! what they receive and get back the UPDATEs to send; the decisions are
//! the `rib` crate's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bgp_fsm::Negotiated;
use bgp_wire::attributes::Origin;
use bgp_wire::{Family, Prefix, SessionCtx, Update};
use rib::adj_out::{by_family, AdjRibOut, Change};
use rib::{check_import, export, Interner, Local, Route, RouteAttrs, Source, Table, Target};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::config::Config;

/// A peer's number: its position in the configuration.
pub type PeerId = u32;

/// Where the RIB sends a session its UPDATEs, tagged with the session's
/// epoch so a batch meant for an earlier session is never sent on a new one.
pub type UpdateSender = mpsc::UnboundedSender<(u64, Vec<Update>)>;

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
    Update { peer: PeerId, update: Box<Update> },
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

struct PeerState {
    source: Arc<Source>,
    target: Target,
    families: Vec<Family>,
    ctx: SessionCtx,
    out: AdjRibOut,
    epoch: u64,
    tx: UpdateSender,
}

struct Rib {
    local: Local,
    table: Table,
    interner: Interner,
    peers: HashMap<PeerId, PeerState>,
    names: Vec<String>,
    settings: Vec<crate::config::PeerSettings>,
    pools: Vec<Prefix>,
    static_source: Arc<Source>,
    /// What export() made of a (route attributes, source, peer): most
    /// routes share attribute sets, so each set is rewritten and interned
    /// once per peer, not once per prefix. The weak references tell
    /// whether a cached entry still belongs to the live allocations.
    exported: HashMap<(usize, usize, PeerId, bool), ExportCache>,
}

struct ExportCache {
    attrs: std::sync::Weak<RouteAttrs>,
    source: std::sync::Weak<Source>,
    out: Option<Arc<RouteAttrs>>,
}

fn covers(pool: &Prefix, p: &Prefix) -> bool {
    pool.is_ipv4() == p.is_ipv4() && pool.prefix_len() <= p.prefix_len() && pool.net().contains(&p.net())
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
    let mut rib = Rib {
        local: Local {
            asn: cfg.asn,
            router_id: cfg.router_id,
            cluster_id: cfg.cluster_id,
        },
        table: Table::new(),
        interner: Interner::default(),
        peers: HashMap::new(),
        names: cfg.peers.iter().map(|p| p.name.clone()).collect(),
        settings: cfg.peers.clone(),
        pools: cfg.pools.clone(),
        static_source,
        exported: HashMap::new(),
    };
    for s in &cfg.statics {
        let attrs = rib.interner.intern(RouteAttrs {
            origin: Some(Origin::Igp),
            next_hop: s.via,
            local_pref: s.local_pref,
            communities: s.communities.clone(),
            ..RouteAttrs::default()
        });
        let route = Route {
            source: rib.static_source.clone(),
            path_id: 0,
            attrs,
            igp_cost: None,
            since: now_secs(),
        };
        rib.table.update(s.prefix, route);
    }
    tokio::spawn(rib.run(rx));
    tx
}

impl Rib {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<RibMsg>) {
        while let Some(m) = rx.recv().await {
            match m {
                RibMsg::Up {
                    peer,
                    epoch,
                    negotiated,
                    local_address,
                    tx,
                } => self.up(peer, epoch, &negotiated, local_address, tx),
                RibMsg::Down { peer } => self.down(peer),
                RibMsg::Update { peer, update } => self.update(peer, &update),
                RibMsg::Refresh { peer, family } => self.refresh(peer, family),
                RibMsg::Query(q, reply) => {
                    let _ = reply.send(self.query(&q));
                }
                RibMsg::Counts(reply) => {
                    let _ = reply.send(self.counts());
                }
            }
        }
    }

    fn exportable(&self, p: &Prefix) -> bool {
        self.pools.is_empty() || self.pools.iter().any(|pool| covers(pool, p))
    }

    /// What `peer` should have for `prefix` now.
    fn wanted(&mut self, peer: PeerId, prefix: &Prefix) -> Option<Arc<RouteAttrs>> {
        let st = self.peers.get(&peer)?;
        if !st.families.contains(&prefix.family()) || !self.exportable(prefix) {
            return None;
        }
        let best = self.table.best(prefix)?;
        // The family is part of the key: the next hop depends on it.
        let key = (
            Arc::as_ptr(&best.attrs) as usize,
            Arc::as_ptr(&best.source) as usize,
            peer,
            prefix.is_ipv4(),
        );
        if let Some(c) = self.exported.get(&key) {
            let live = c.attrs.upgrade().is_some_and(|a| Arc::ptr_eq(&a, &best.attrs))
                && c.source.upgrade().is_some_and(|s| Arc::ptr_eq(&s, &best.source));
            if live {
                return c.out.clone();
            }
        }
        let (weak_attrs, weak_source) = (Arc::downgrade(&best.attrs), Arc::downgrade(&best.source));
        let out = self.export_one(prefix, peer);
        if self.exported.len() > 4 * self.interner.len().max(1024) {
            self.exported
                .retain(|_, c| c.attrs.strong_count() > 0 && c.source.strong_count() > 0);
        }
        self.exported.insert(
            key,
            ExportCache {
                attrs: weak_attrs,
                source: weak_source,
                out: out.clone(),
            },
        );
        out
    }

    /// export() of the best route to `prefix` for `peer`, interned.
    fn export_one(&mut self, prefix: &Prefix, peer: PeerId) -> Option<Arc<RouteAttrs>> {
        let st = self.peers.get(&peer)?;
        let best = self.table.best(prefix)?;
        let out = export(&self.local, best, prefix.family(), &st.target)?;
        Some(self.interner.intern(out))
    }

    fn send(&mut self, peer: PeerId, changes: Vec<Change>, eor: bool) {
        let Some(st) = self.peers.get(&peer) else { return };
        let mut ups = Vec::new();
        for fc in by_family(&changes) {
            if let Some(f) = fc.family {
                ups.extend(rib::updates::pack(f, &fc.announce, &fc.withdraw, &st.ctx));
            }
        }
        if eor {
            // RFC 4724 §2: End-of-RIB after the initial table, per family.
            ups.extend(st.families.iter().map(|f| Update::end_of_rib(*f)));
        }
        if !ups.is_empty() {
            let _ = st.tx.send((st.epoch, ups));
        }
    }

    /// Re-evaluates `prefixes` for every peer and sends what changed.
    fn propagate(&mut self, prefixes: &[Prefix]) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            let mut changes = Vec::new();
            for p in prefixes {
                let want = self.wanted(id, p);
                if let Some(st) = self.peers.get_mut(&id) {
                    if let Some(c) = st.out.set(*p, want) {
                        changes.push(c);
                    }
                }
            }
            self.send(id, changes, false);
        }
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
        self.peers.insert(
            peer,
            PeerState {
                source,
                target,
                families: n.families.clone(),
                ctx: n.tx_ctx(),
                out: AdjRibOut::default(),
                epoch,
                tx,
            },
        );
        let prefixes: Vec<Prefix> = self.table.prefixes().copied().collect();
        let mut changes = Vec::new();
        for p in &prefixes {
            let want = self.wanted(peer, p);
            if let Some(st) = self.peers.get_mut(&peer) {
                if let Some(c) = st.out.set(*p, want) {
                    changes.push(c);
                }
            }
        }
        debug!(peer = %s.name, "sending the initial table: {} routes", changes.len());
        self.send(peer, changes, true);
    }

    fn down(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        let changed = self.table.remove_peer(peer);
        self.propagate(&changed);
    }

    fn update(&mut self, peer: PeerId, u: &Update) {
        let Some(st) = self.peers.get(&peer) else { return };
        let source = st.source.clone();
        let allow = self
            .settings
            .get(peer as usize)
            .map_or(0, |s| usize::from(s.allow_local_as));
        let mut r = rib::updates::received(u);
        let mut changed = Vec::new();
        for (_, e) in &r.withdrawn {
            let id = e.path_id.map_or(0, |p| p.0);
            if self.table.withdraw(&e.prefix, Some(peer), id) {
                changed.push(e.prefix);
            }
        }
        // One UPDATE carries one attribute set per field: check and intern
        // each once, not once per prefix.
        let mut prepare = |a: Option<RouteAttrs>| -> Option<Arc<RouteAttrs>> {
            let mut a = a?;
            // Import: eBGP routes get the default preference (RFC 4271 §5.1.5:
            // LOCAL_PREF is not taken from external peers).
            if source.ebgp {
                a.local_pref = None;
            }
            let usable = check_import(&self.local, &a, allow).is_ok() && a.next_hop.is_some();
            usable.then(|| self.interner.intern(a))
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
            let changed_best = match attrs {
                Some(a) => {
                    let route = Route {
                        source: source.clone(),
                        path_id: id,
                        attrs: a,
                        igp_cost: None,
                        since: now,
                    };
                    self.table.update(e.prefix, route)
                }
                None => {
                    // A looped route replaces and so withdraws an earlier one.
                    self.table.withdraw(&e.prefix, Some(peer), id)
                }
            };
            if changed_best {
                changed.push(e.prefix);
            }
        }
        self.propagate(&changed);
    }

    fn refresh(&mut self, peer: PeerId, family: Family) {
        let Some(st) = self.peers.get(&peer) else { return };
        let changes: Vec<Change> = st
            .out
            .all()
            .filter(|(p, _)| p.family() == family)
            .map(|(p, a)| Change::Announce(*p, a.clone()))
            .collect();
        self.send(peer, changes, false);
    }

    fn counts(&self) -> HashMap<PeerId, Counts> {
        let mut c: HashMap<PeerId, Counts> = HashMap::new();
        for p in self.table.prefixes() {
            for (i, r) in self.table.routes(p).iter().enumerate() {
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
            c.entry(*id).or_default().exported = st.out.len();
        }
        c
    }

    fn query(&self, q: &Query) -> Vec<RouteView> {
        let mut prefixes: Vec<Prefix> = self.table.prefixes().copied().collect();
        prefixes.sort();
        let mut out = Vec::new();
        for p in prefixes {
            if let Query::For(a) = q {
                if !p.net().contains(a) {
                    continue;
                }
            }
            for (i, r) in self.table.routes(&p).iter().enumerate() {
                let from = match r.source.peer {
                    Some(id) => self.names.get(id as usize).cloned().unwrap_or_default(),
                    None => "static1".to_string(),
                };
                if let Query::Protocol(n) = q {
                    if &from != n {
                        continue;
                    }
                }
                let since = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(r.since);
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

/// Seconds since the Unix epoch, for `Route::since`.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The identifier shown for a route learned from a reflector: where it
/// came from when that is not its next hop.
pub fn shown_from(v: &RouteView) -> Option<IpAddr> {
    match (v.from_address, v.attrs.next_hop) {
        (Some(a), Some(nh)) if a != nh => Some(a),
        _ => None,
    }
}
