//! Per-peer route filters (Calico's BGPFilter): ordered rules, each a
//! match and an action, applied to the routes a peer sends us (import) or
//! we send it (export). The first rule that matches decides; a rule that
//! accepts may first change the route (add a community, prepend to the AS
//! path, set its priority). When no rule matches, the peer's default
//! applies: import accepts, export follows the node's export rules
//! ([`crate::PrefixFilter`]). An accepting export rule exports the route
//! even where those rules would not, as Calico's generated BIRD function
//! `accept`s before `calico_export_to_bgp_peers` runs.

use bgp_wire::attributes::{AsPath, AsSegment, Community, LargeCommunity, SegmentType};
use bgp_wire::{Asn, Prefix};

use crate::attrs::RouteAttrs;
use crate::decision::{Protocol, Route};

/// How a rule's CIDR is compared with the route's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    /// Within the CIDR (or equal), with a length in the rule's range.
    In,
    NotIn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Accept,
    Reject,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerType {
    Ebgp,
    Ibgp,
}

/// A standard (RFC 1997) or large (RFC 8092) community.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnyCommunity {
    Standard(Community),
    Large(LargeCommunity),
}

/// What an accepting rule changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    AddCommunity(AnyCommunity),
    /// The path starts with these, in this order.
    PrependAsPath(Vec<Asn>),
    /// Calico's route priority (a kernel metric: lower is preferred),
    /// carried in LOCAL_PREF as 2^31 − 1 − priority.
    SetPriority(u32),
}

/// One rule. Every criterion given must hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The rule is for IPv6 routes (Calico's `…V6` lists), else IPv4.
    pub ipv6: bool,
    pub cidr: Option<(Prefix, MatchOp)>,
    /// Prefix lengths `In` accepts: from the CIDR's own length (or
    /// `min`) to the family's longest (or `max`).
    pub min_len: Option<u8>,
    pub max_len: Option<u8>,
    /// Only routes learned from BGP peers (Calico's `source: RemotePeers`).
    pub remote_only: bool,
    /// A glob on the route's interface (`eth*`).
    pub interface: Option<String>,
    pub peer_type: Option<PeerType>,
    pub community: Option<AnyCommunity>,
    pub as_path_prefix: Vec<Asn>,
    pub priority: Option<u32>,
    pub action: Action,
    pub ops: Vec<Op>,
}

/// A peer's import or export rules, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouteFilter {
    pub rules: Vec<Rule>,
}

/// What the rules say of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// No rule matched: the default applies.
    Default,
    Reject,
    /// Rule number N accepted it (its operations apply).
    Accept(u16),
}

/// The priority Calico gives a route without one (FelixConfiguration's
/// `ipv4NormalRoutePriority` default).
pub const NORMAL_PRIORITY: u32 = 1024;
const PRIORITY_BASE: u32 = 2_147_483_647;

/// A route's priority: from its LOCAL_PREF when it came from BGP with
/// one, else the normal priority.
pub fn priority(route: &Route) -> u32 {
    match route.attrs.local_pref {
        Some(lp) if route.source.protocol == Protocol::Bgp => PRIORITY_BASE.saturating_sub(lp),
        _ => NORMAL_PRIORITY,
    }
}

impl Rule {
    fn matches(&self, prefix: &Prefix, route: &Route, ebgp: bool) -> bool {
        if self.ipv6 == prefix.is_ipv4() {
            return false;
        }
        if let Some((cidr, op)) = &self.cidr {
            let within = || {
                let longest = if !prefix.is_ipv4() { 128 } else { 32 };
                let (lo, hi) = (
                    self.min_len.unwrap_or(cidr.prefix_len()),
                    self.max_len.unwrap_or(longest),
                );
                cidr.contains(prefix) && (lo..=hi).contains(&prefix.prefix_len())
            };
            let hit = match op {
                MatchOp::Equal => prefix == cidr,
                MatchOp::NotEqual => prefix != cidr,
                MatchOp::In => within(),
                MatchOp::NotIn => !within(),
            };
            if !hit {
                return false;
            }
        }
        if self.remote_only && route.source.protocol != Protocol::Bgp {
            return false;
        }
        if let Some(g) = &self.interface {
            match &route.source.iface {
                Some(name) if crate::glob::matches(g, name) => {}
                _ => return false,
            }
        }
        match self.peer_type {
            Some(PeerType::Ebgp) if !ebgp => return false,
            Some(PeerType::Ibgp) if ebgp => return false,
            _ => {}
        }
        let a = &route.attrs;
        match self.community {
            Some(AnyCommunity::Standard(c)) if !a.communities.contains(&c) => return false,
            Some(AnyCommunity::Large(c)) if !a.rare.large_communities.contains(&c) => return false,
            _ => {}
        }
        if !self.as_path_prefix.is_empty() {
            let mut path = a.as_path.asns();
            if !self.as_path_prefix.iter().all(|want| path.next() == Some(*want)) {
                return false;
            }
        }
        if self.priority.is_some_and(|p| p != priority(route)) {
            return false;
        }
        true
    }
}

impl RouteFilter {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The verdict on `route` to `prefix`, towards or from a peer that is
    /// `ebgp` or not.
    pub fn check(&self, prefix: &Prefix, route: &Route, ebgp: bool) -> Verdict {
        for (i, r) in self.rules.iter().enumerate() {
            if r.matches(prefix, route, ebgp) {
                return match r.action {
                    Action::Reject => Verdict::Reject,
                    Action::Accept => Verdict::Accept(i as u16),
                };
            }
        }
        Verdict::Default
    }

    /// Whether accepting rule `i` changes the route.
    pub fn changes(&self, i: u16) -> bool {
        self.rules.get(usize::from(i)).is_some_and(|r| !r.ops.is_empty())
    }

    /// Applies accepting rule `i`'s operations to `a`, in order.
    pub fn apply(&self, i: u16, a: &mut RouteAttrs) {
        let Some(r) = self.rules.get(usize::from(i)) else {
            return;
        };
        for op in &r.ops {
            match op {
                Op::AddCommunity(AnyCommunity::Standard(c)) => {
                    if !a.communities.contains(c) {
                        a.communities.push(*c);
                        a.communities.sort_unstable();
                    }
                }
                Op::AddCommunity(AnyCommunity::Large(c)) => {
                    if !a.rare.large_communities.contains(c) {
                        a.rare.large_communities.push(*c);
                        a.rare.large_communities.sort_unstable();
                    }
                }
                Op::PrependAsPath(asns) => a.as_path = prepend_all(&a.as_path, asns),
                Op::SetPriority(p) => a.local_pref = Some(PRIORITY_BASE.saturating_sub(*p)),
            }
        }
    }
}

/// `asns` in front of `p`, in their order.
pub(crate) fn prepend_all(p: &AsPath, asns: &[Asn]) -> AsPath {
    let mut segments = p.segments.clone();
    for asn in asns.iter().rev() {
        match segments.first_mut() {
            Some(s) if s.kind == SegmentType::Sequence && s.asns.len() < 255 => s.asns.insert(0, *asn),
            _ => segments.insert(
                0,
                AsSegment {
                    kind: SegmentType::Sequence,
                    asns: [*asn].into(),
                },
            ),
        }
    }
    AsPath { segments }
}
