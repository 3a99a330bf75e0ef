//! Which received routes are usable (loop checks) and what each peer is
//! sent (iBGP split horizon, RFC 4456 reflection, eBGP rewriting).

use std::net::IpAddr;

use bgp_wire::attributes::{AsPath, Community, LargeCommunity};
use bgp_wire::{Afi, Asn, ClusterId, Family, Prefix, RouterId};

use crate::attrs::RouteAttrs;
use crate::decision::{Protocol, Route};
use crate::updates::Reflected;
use crate::PeerId;

/// This speaker, as the policy rules need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Local {
    pub asn: Asn,
    pub router_id: RouterId,
    /// Set when this speaker reflects routes (RFC 4456).
    pub cluster_id: Option<ClusterId>,
}

impl Local {
    /// The cluster identifier: configured, or the router ID (RFC 4456 §7).
    pub fn cluster(&self) -> ClusterId {
        self.cluster_id.unwrap_or(ClusterId(self.router_id.0))
    }
}

/// Which prefixes may be exported at all, whatever their route: when
/// pools are configured, only prefixes within one; and of the node's own
/// blocks only the block itself, nothing more specific within it (Calico's
/// `calico_aggr`: a workload's /32 or a stray more-specific stays inside
/// the node). Prefixes within a pool whose export is off (Calico's
/// `disableBGPExport`) are never exported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixFilter {
    pub pools: Vec<Prefix>,
    pub blocks: Vec<Prefix>,
    /// Pools not to be exported.
    pub disabled: Vec<Prefix>,
    /// Ranges exported whatever the pools say, with all within them
    /// (Calico's service ranges).
    pub advertised: Vec<Prefix>,
    /// Communities added to every exported route within a range
    /// (Calico's `prefixAdvertisements`); at most [`MAX_ADVERTISE`].
    pub advertise: Vec<Advertise>,
}

/// Communities for the exported routes within a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertise {
    pub prefix: Prefix,
    pub communities: Vec<Community>,
    pub large: Vec<LargeCommunity>,
}

/// How many `[[advertise]]` ranges there may be: which ones hold a prefix
/// is a bit each, part of the export cache's key.
pub const MAX_ADVERTISE: usize = 32;

impl PrefixFilter {
    pub fn allows(&self, p: &Prefix) -> bool {
        if self.disabled.iter().any(|d| d.contains(p)) {
            return false;
        }
        if self.advertised.iter().any(|a| a.contains(p)) {
            return true;
        }
        if !self.pools.is_empty() && !self.pools.iter().any(|pool| pool.contains(p)) {
            return false;
        }
        !self.blocks.iter().any(|b| b != p && b.contains(p))
    }

    /// Which [`Advertise`] ranges hold `p`, a bit each.
    pub fn tags(&self, p: &Prefix) -> u32 {
        self.advertise
            .iter()
            .take(MAX_ADVERTISE)
            .enumerate()
            .filter(|(_, a)| a.prefix.contains(p))
            .fold(0, |m, (i, _)| m | 1 << i)
    }

    /// Adds the communities of the ranges in `tags` to `out`, each once,
    /// in order (as confd's `apply_communities` adds them).
    pub fn apply(&self, tags: u32, out: &mut RouteAttrs) {
        for (i, a) in self.advertise.iter().enumerate().take(MAX_ADVERTISE) {
            if tags & 1 << i != 0 {
                out.communities.extend(a.communities.iter().copied());
                if !a.large.is_empty() {
                    out.rare.large_communities.extend(a.large.iter().copied());
                }
            }
        }
        out.communities.sort_unstable();
        out.communities.dedup();
        if !out.rare.large_communities.is_empty() {
            out.rare.large_communities.sort_unstable();
            out.rare.large_communities.dedup();
        }
    }

    /// Whether `route` to `p` may be exported. Routes learned from the
    /// kernel go out only within a pool (Calico's export filter accepts
    /// nothing else of them: a node's default route stays home).
    pub fn admits(&self, p: &Prefix, route: &Route) -> bool {
        if route.source.protocol == Protocol::Kernel && !self.pools.iter().any(|pool| pool.contains(p)) {
            return false;
        }
        self.allows(p)
    }
}

/// Why a received route cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// Our AS is on the path more often than allowed (RFC 4271 §9.1.2).
    AsLoop,
    /// ORIGINATOR_ID is our router ID (RFC 4456 §8).
    OriginatorIsUs,
    /// CLUSTER_LIST holds our cluster ID (RFC 4456 §8).
    ClusterLoop,
}

/// Loop checks on a received route. `allow_local_as` is how many times our
/// AS may appear (Calico's numAllowedLocalASNumbers; 0 = never).
pub fn check_import(local: &Local, attrs: &RouteAttrs, allow_local_as: usize) -> Result<(), Ineligible> {
    check_import_as(local, local.asn, attrs, allow_local_as)
}

/// [`check_import`] for a session with its own local AS (Calico's
/// `localASNumber`): that AS is ours on the path.
pub fn check_import_as(local: &Local, asn: Asn, attrs: &RouteAttrs, allow_local_as: usize) -> Result<(), Ineligible> {
    if attrs.as_path.asns().filter(|a| *a == asn).count() > allow_local_as {
        return Err(Ineligible::AsLoop);
    }
    if attrs.originator_id == Some(local.router_id) {
        return Err(Ineligible::OriginatorIsUs);
    }
    if local.cluster_id.is_some() && attrs.cluster_list.contains(&local.cluster()) {
        return Err(Ineligible::ClusterLoop);
    }
    Ok(())
}

/// The peer a route is to be sent to: who it is, and its export class.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub peer: PeerId,
    pub class: ExportClass,
}

/// What [`export`] makes of a route for any peer of this class: a target
/// without the peer's identity. Peers of one class (a reflector's clients,
/// a node's mesh peers) share every rewritten attribute set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportClass {
    pub ebgp: bool,
    pub rr_client: bool,
    /// Set NEXT_HOP to our address even over iBGP (`next_hop = "self"`).
    pub next_hop_self: bool,
    /// Our address on the session, used as next hop when we set it.
    pub local_address: IpAddr,
    /// Our next hop for IPv6 routes when the session runs over IPv4; when
    /// unset, the session address mapped into IPv6 (as FRR sends).
    pub local_address6: Option<IpAddr>,
    /// Our next hop for IPv4 routes when the session runs over IPv6. Unset,
    /// IPv4 routes are not sent over it: without the extended next hop
    /// capability (RFC 8950, not negotiated by us) an IPv4 route's next
    /// hop must be IPv4 (RFC 4760 §3; OpenBGPD answers 3/9 otherwise).
    pub local_address4: Option<IpAddr>,
    /// The AS we are towards this peer, when not the node's (Calico's
    /// `localASNumber`): what eBGP prepends.
    pub local_as: Option<Asn>,
    /// The peer's export rules (Calico's BGPFilter), if any.
    pub filter: Option<std::sync::Arc<crate::filter::RouteFilter>>,
}

impl Target {
    /// Split horizon: the peer a route came from never gets it back (it
    /// would drop it as a loop, or hold a useless copy; BIRD and OpenBGPD
    /// do the same). The one place this is decided.
    pub fn is_source_of(&self, route: &Route) -> bool {
        route.source.peer == Some(self.peer)
    }

    pub fn class(&self) -> ExportClass {
        self.class.clone()
    }
}

impl ExportClass {
    /// The next hop we announce for a route of `family`: it must be of the
    /// route's family, whatever the session's transport; `None` when we
    /// have none (an IPv4 route over IPv6 without `local_address4`).
    fn next_hop_self(&self, family: Family) -> Option<IpAddr> {
        match self.local_address {
            IpAddr::V4(a) if family.afi == Afi::IPV6 => {
                Some(self.local_address6.unwrap_or(IpAddr::V6(a.to_ipv6_mapped())))
            }
            IpAddr::V6(_) if family.afi == Afi::IPV4 => self.local_address4,
            a => Some(a),
        }
    }
}

/// What `to` is sent for `route` (of `family`), or `None` when it is not
/// sent at all.
pub fn export(local: &Local, route: &Route, family: Family, to: &Target) -> Option<RouteAttrs> {
    let src = &route.source;
    if to.is_source_of(route) {
        return None;
    }
    let c = &to.class;
    let a = &route.attrs;
    // RFC 1997: NO_ADVERTISE goes to nobody, NO_EXPORT stays in the AS.
    if a.communities.contains(&Community::NO_ADVERTISE) {
        return None;
    }
    if c.ebgp
        && (a.communities.contains(&Community::NO_EXPORT) || a.communities.contains(&Community::NO_EXPORT_SUBCONFED))
    {
        return None;
    }
    let from_ibgp = src.peer.is_some() && !src.ebgp;
    let mut reflect = false;
    if from_ibgp && !c.ebgp {
        // RFC 4271 §9.2: iBGP routes are not passed to iBGP peers, unless
        // we reflect (RFC 4456 §6): from a client to everyone, from a
        // non-client to clients only.
        if local.cluster_id.is_none() || !(src.rr_client || c.rr_client) {
            return None;
        }
        reflect = true;
    }
    let mut out = (**a).clone();
    // Optional attributes we do not know: transitive ones go on with the
    // Partial bit, non-transitive ones stop here (RFC 4271 §5).
    // Only when there are any: writing the rare part allocates it.
    if !a.rare.unknown.is_empty() {
        out.rare.unknown = a.rare.unknown.iter().filter_map(|u| u.for_propagation()).collect();
    }
    if c.ebgp {
        // RFC 4271 §5.1.2: prepend our AS; §5.1.3: we are the next hop;
        // §5.1.5: no LOCAL_PREF; §5.1.4: a MED from another AS is not passed on.
        out.as_path = prepend(&a.as_path, c.local_as.unwrap_or(local.asn));
        out.next_hop = Some(c.next_hop_self(family)?);
        out.local_pref = None;
        if src.peer.is_some() {
            out.med = None;
        }
        // RFC 4456 §8: these never leave the AS.
        out.originator_id = None;
        out.cluster_list.clear();
    } else {
        out.local_pref = Some(a.local_pref_or_default());
        if src.peer.is_none() || src.ebgp || c.next_hop_self || out.next_hop.is_none() {
            out.next_hop = Some(c.next_hop_self(family)?);
        }
        if reflect {
            reflection(local, route).apply(&mut out);
        }
    }
    Some(out)
}

/// RFC 4456 §8: ORIGINATOR_ID names the route's first iBGP speaker; our
/// cluster goes in front of CLUSTER_LIST.
fn reflection(local: &Local, route: &Route) -> Reflected {
    Reflected {
        originator_id: route.attrs.originator_id.unwrap_or(route.source.peer_router_id),
        cluster: local.cluster(),
    }
}

/// When [`export`] would send `to` the received set with only reflection's
/// two attributes added: what they are. That is a reflector's usual case
/// (an iBGP route between clients, next hop and LOCAL_PREF kept, nothing
/// unknown to strip), and then the set itself is sent, not a copy.
pub fn reflects_as_received(local: &Local, route: &Route, to: &Target) -> Option<Reflected> {
    let (src, a, c) = (&route.source, &route.attrs, &to.class);
    // The conditions under which `export` reflects...
    let reflect = src.peer.is_some()
        && !src.ebgp
        && !c.ebgp
        && local.cluster_id.is_some()
        && (src.rr_client || c.rr_client)
        && !to.is_source_of(route)
        && !a.communities.contains(&Community::NO_ADVERTISE);
    // ...and changes nothing else: the next hop stays, LOCAL_PREF is there,
    // no unknown attribute to filter.
    let unchanged = !c.next_hop_self && a.next_hop.is_some() && a.local_pref.is_some() && a.rare.unknown.is_empty();
    (reflect && unchanged).then(|| reflection(local, route))
}

fn prepend(p: &AsPath, asn: Asn) -> AsPath {
    crate::filter::prepend_all(p, &[asn])
}
