//! A network of sessions around one engine, for the engine's tests: peers
//! come up, announce and withdraw as UPDATEs, and what each is sent is
//! decoded the way a peer would and kept.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bgp_wire::attributes::{AsPath, Origin};
use bgp_wire::{split_message, Asn, Family, Message, NlriEntry, PathId, Prefix, RouterId, SessionCtx};
use bytes::BytesMut;
use rib::updates::{pack, received};
use rib::{Engine, Local, PeerId, PrefixFilter, RouteAttrs, RouteFilter, Session};

pub fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// Peer `n`'s address: 10.0.0.n, counting on into 10.0.1.0 and beyond.
pub fn addr(n: u32) -> String {
    format!("10.0.{}.{}", n / 256, n % 256)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// What one receiving session has been told.
#[derive(Default)]
pub struct Got {
    /// What it holds now: entry → first AS of the path (our AS for eBGP
    /// receivers comes first, so the origin AS is the last).
    pub held: BTreeMap<(Prefix, Option<u32>), RouteAttrs>,
    /// Every announcement, in the order it came.
    pub order: Vec<(Prefix, Option<u32>)>,
    pub announced: usize,
    pub withdrawn: usize,
    pub eor: Vec<Family>,
    /// Bytes received and not yet "written" (the session is stalled).
    pub unacked: Vec<(u64, usize)>,
    /// ROUTE-REFRESH messages received (BoRR, EoRR), each with the number
    /// of announcements received before it.
    pub markers: Vec<(bgp_wire::RefreshKind, Family, usize)>,
}

pub struct Net {
    pub e: Engine,
    pub now: Instant,
    pub ctx: HashMap<PeerId, SessionCtx>,
    pub got: HashMap<PeerId, Got>,
    pub stalled: Vec<PeerId>,
    pub epoch: u64,
    /// Import and export rules for the sessions brought up next.
    pub rules: (Option<Arc<RouteFilter>>, Option<Arc<RouteFilter>>),
    /// Sessions brought up next negotiate enhanced route refresh.
    pub enhanced_refresh: bool,
    /// Sessions brought up next run over IPv6 (fd00::n, ours fd00::100),
    /// with this IPv4 next hop for IPv4 routes.
    pub transport6: Option<Option<IpAddr>>,
    /// The prefix limit of sessions brought up next.
    pub max_prefixes: Option<usize>,
}

pub const US: u32 = 64512;

impl Net {
    pub fn new() -> Net {
        Net::with(None, PrefixFilter::default())
    }

    pub fn with(cluster: Option<&str>, filter: PrefixFilter) -> Net {
        let local = Local {
            asn: Asn(US),
            router_id: RouterId("10.0.0.100".parse().unwrap()),
            cluster_id: cluster.map(|c| bgp_wire::ClusterId(c.parse().unwrap())),
        };
        let now = Instant::now();
        Net {
            e: Engine::new(local, filter, now, 1_700_000_000),
            now,
            ctx: HashMap::new(),
            got: HashMap::new(),
            stalled: Vec::new(),
            epoch: 0,
            rules: (None, None),
            enhanced_refresh: false,
            transport6: None,
            max_prefixes: None,
        }
    }

    /// Brings up peer `n` (address [`addr`]): eBGP in AS 65000+n, or iBGP.
    pub fn up(&mut self, n: u32, ebgp: bool, add_path: bool) {
        self.up_as(n, ebgp, add_path, false)
    }

    pub fn up_as(&mut self, n: u32, ebgp: bool, add_path: bool, rr_client: bool) {
        let ctx = SessionCtx {
            four_octet_as: true,
            add_path: if add_path {
                vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            } else {
                vec![]
            },
            extended_message: false,
        };
        self.epoch += 1;
        self.ctx.insert(PeerId(n), ctx.clone());
        self.got.insert(PeerId(n), Got::default());
        let s = Session {
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            ctx,
            ebgp,
            peer_address: match self.transport6 {
                Some(_) => ip(&format!("fd00::{n}")),
                None => ip(&addr(n)),
            },
            peer_router_id: RouterId(addr(n).parse().unwrap()),
            local_address: match self.transport6 {
                Some(_) => ip("fd00::100"),
                None => ip("10.0.0.100"),
            },
            local_address6: None,
            local_address4: self.transport6.flatten(),
            rr_client,
            next_hop_self: false,
            allow_local_as: 0,
            preserved: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            link: None,
            local_as: None,
            iface: None,
            import: self.rules.0.clone(),
            export: self.rules.1.clone(),
            enhanced_refresh: self.enhanced_refresh,
            max_prefixes: self.max_prefixes,
        };
        self.e.peer_up(PeerId(n), self.epoch, s, self.now);
        self.deliver();
    }

    pub fn down(&mut self, n: u32) {
        self.e.peer_down(PeerId(n), self.now);
        self.got.remove(&PeerId(n));
        self.ctx.remove(&PeerId(n));
    }

    /// Peer `n` announces `prefixes` with an AS path of `len` ASes, all
    /// `first_as`, optionally under ADD-PATH identifier `id`.
    pub fn announce(&mut self, n: u32, prefixes: &[&str], first_as: u32, len: usize, id: Option<u32>) {
        self.announce_with(n, prefixes, first_as, len, id, |_| {})
    }

    pub fn announce_with(
        &mut self,
        n: u32,
        prefixes: &[&str],
        first_as: u32,
        len: usize,
        id: Option<u32>,
        f: impl Fn(&mut RouteAttrs),
    ) {
        let mut a = RouteAttrs {
            origin: Some(Origin::Igp),
            as_path: AsPath::sequence((0..len).map(|_| Asn(first_as))),
            next_hop: Some(ip(&addr(n))),
            local_pref: Some(100),
            ..RouteAttrs::default()
        };
        f(&mut a);
        let a = Arc::new(a);
        let entries: Vec<(NlriEntry, Arc<RouteAttrs>)> = prefixes
            .iter()
            .map(|s| {
                (
                    NlriEntry {
                        prefix: p(s),
                        path_id: id.map(PathId),
                    },
                    a.clone(),
                )
            })
            .collect();
        let ctx = SessionCtx {
            add_path: if id.is_some() {
                vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            } else {
                vec![]
            },
            ..SessionCtx::default()
        };
        for fam in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            let of: Vec<_> = entries
                .iter()
                .filter(|(e, _)| e.prefix.family() == fam)
                .cloned()
                .collect();
            for u in pack(fam, &of, &[], &ctx) {
                self.e.update(PeerId(n), &u, self.now);
            }
        }
    }

    pub fn withdraw(&mut self, n: u32, prefixes: &[&str], id: Option<u32>) {
        let entries: Vec<NlriEntry> = prefixes
            .iter()
            .map(|s| NlriEntry {
                prefix: p(s),
                path_id: id.map(PathId),
            })
            .collect();
        let ctx = SessionCtx {
            add_path: if id.is_some() {
                vec![Family::IPV4_UNICAST]
            } else {
                vec![]
            },
            ..SessionCtx::default()
        };
        for u in pack(Family::IPV4_UNICAST, &[], &entries, &ctx) {
            self.e.update(PeerId(n), &u, self.now);
        }
    }

    /// Runs a round and hands every session what it was sent.
    pub fn round(&mut self) {
        self.e.round();
        self.deliver();
    }

    /// Decodes what the engine produced; sessions not stalled write it
    /// at once (which may let the engine produce more).
    pub fn deliver(&mut self) {
        loop {
            let tx = self.e.take_transmits();
            if tx.is_empty() {
                return;
            }
            for t in tx {
                let ctx = self.ctx[&t.peer].clone();
                let got = self.got.get_mut(&t.peer).unwrap();
                let mut buf = BytesMut::from(&t.bytes[..]);
                while let Some(frame) = split_message(&mut buf, &ctx).unwrap() {
                    let u = match Message::decode(&frame, &ctx).unwrap() {
                        Message::Update(u) => u,
                        Message::RouteRefresh(r) => {
                            got.markers.push((r.kind(), r.family, got.announced));
                            continue;
                        }
                        m => panic!("only UPDATEs and ROUTE-REFRESHes: {m:?}"),
                    };
                    if let Some(f) = u.end_of_rib_family() {
                        got.eor.push(f);
                        continue;
                    }
                    let r = received(&u);
                    for (_, e) in &r.withdrawn {
                        got.withdrawn += 1;
                        got.held.remove(&(e.prefix, e.path_id.map(|x| x.0)));
                    }
                    for (_, e) in &r.announced {
                        got.announced += 1;
                        got.order.push((e.prefix, e.path_id.map(|x| x.0)));
                        let a = r.attrs_v4.clone().or(r.attrs_mp.clone()).unwrap();
                        got.held.insert((e.prefix, e.path_id.map(|x| x.0)), a);
                    }
                }
                assert!(buf.is_empty(), "whole messages only");
                if self.stalled.contains(&t.peer) {
                    got.unacked.push((t.epoch, t.bytes.len()));
                } else {
                    self.e.written(t.peer, t.epoch, t.bytes.len());
                }
            }
        }
    }

    pub fn stall(&mut self, n: u32) {
        self.stalled.push(PeerId(n));
    }

    /// The stalled session's writer catches up, one write at a time.
    pub fn resume(&mut self, n: u32) {
        self.stalled.retain(|x| *x != PeerId(n));
        let unacked = std::mem::take(&mut self.got.get_mut(&PeerId(n)).unwrap().unacked);
        for (epoch, len) in unacked {
            self.e.written(PeerId(n), epoch, len);
            self.deliver();
        }
    }

    pub fn got(&self, n: u32) -> &Got {
        &self.got[&PeerId(n)]
    }

    /// The AS path peer `n` holds for `prefix` (without ADD-PATH).
    pub fn path(&self, n: u32, prefix: &str) -> Option<String> {
        self.got(n).held.get(&(p(prefix), None)).map(|a| a.as_path.to_string())
    }

    /// The prefixes peer `n` holds, in order.
    pub fn held(&self, n: u32) -> Vec<String> {
        self.got(n).held.keys().map(|(p, _)| p.to_string()).collect()
    }

    pub fn reset_counts(&mut self, n: u32) {
        let g = self.got.get_mut(&PeerId(n)).unwrap();
        (g.announced, g.withdrawn) = (0, 0);
    }
}
