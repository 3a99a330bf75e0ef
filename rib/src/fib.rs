//! What the kernel's forwarding table should hold for a prefix, given its
//! routes: the rules of Calico's `calico_kernel_programming` filter and
//! BIRD's kernel protocol, decided here so that the daemon's netlink code
//! only carries them out.
//!
//! - Only routes learned over BGP are installed; a prefix whose best route
//!   is the node's own (a static block, a route learned from the kernel)
//!   gets nothing from us: the kernel already has what it needs.
//! - `merge_paths` (BIRD's `merge paths on`): every BGP route as good as
//!   the best up to the IGP cost step is a next hop of one multipath route.
//! - Per pool: IPIP `always` goes `via NH dev tunl0 onlink`;
//!   `cross-subnet` does so only for a next hop outside the node's own
//!   subnets; a VXLAN pool is never installed (Felix programs it); with
//!   `program_pool_routes` off no pool route is installed (Calico ≥ 3.33
//!   programs them in Felix). IPIP composes with ECMP: each next hop is
//!   tunnelled on its own (BIRD cannot: calico#4462).

use std::net::IpAddr;

use bgp_wire::Prefix;

use crate::decision::{compare, Protocol, Reason, Route};

/// How a pool's traffic is encapsulated (Calico's `ipipMode` /
/// `vxlanMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encap {
    #[default]
    Never,
    Always,
    /// Only towards next hops outside the node's own subnets.
    CrossSubnet,
}

/// An address pool (Calico's IPPool).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pool {
    pub cidr: Prefix,
    pub ipip: Encap,
    pub vxlan: Encap,
    /// Exported to peers (false: Calico's `disableBGPExport`).
    pub export: bool,
}

impl Pool {
    /// A pool without encapsulation, exported.
    pub fn plain(cidr: Prefix) -> Pool {
        Pool {
            cidr,
            ipip: Encap::Never,
            vxlan: Encap::Never,
            export: true,
        }
    }
}

/// The rules for the kernel's table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FibPolicy {
    pub pools: Vec<Pool>,
    /// The node's own subnets: `cross-subnet` pools tunnel only outside them.
    pub local_subnets: Vec<Prefix>,
    /// Equal routes become one multipath route.
    pub merge_paths: bool,
    /// Routes within a pool are installed (false: left to Felix).
    pub program_pool_routes: bool,
}

/// One next hop of an installed route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextHop {
    pub gateway: IpAddr,
    /// Through the IPIP tunnel device, `onlink`.
    pub tunnel: bool,
    /// The interface of an IPv6 link-local gateway (the session's).
    pub dev: Option<u32>,
}

impl FibPolicy {
    /// The pool a prefix lies in: the most specific that holds it.
    pub fn pool_of(&self, p: &Prefix) -> Option<&Pool> {
        self.pools
            .iter()
            .filter(|pool| pool.cidr.contains(p))
            .max_by_key(|pool| pool.cidr.prefix_len())
    }

    /// The next hops the kernel should route `prefix` through, sorted;
    /// empty when we should install nothing for it. `routes` are the
    /// prefix's routes, best first.
    pub fn next_hops(&self, prefix: &Prefix, routes: &[Route]) -> Vec<NextHop> {
        let Some(best) = routes.first() else { return Vec::new() };
        let v4 = prefix.family().afi == bgp_wire::Afi::IPV4;
        // A static route through a gateway goes to the kernel, as BIRD's
        // kernel protocol takes Calico's static protocol (a reachableBy
        // peer's route through its gateway). Blocks (blackholes) and
        // what we learned from the kernel stay out.
        if best.source.protocol == Protocol::Static {
            return best
                .attrs
                .next_hop
                .filter(|g| g.is_ipv4() == v4 && !is_link_local(g))
                .map(|gateway| {
                    vec![NextHop {
                        gateway,
                        tunnel: false,
                        dev: None,
                    }]
                })
                .unwrap_or_default();
        }
        if best.source.protocol != Protocol::Bgp {
            return Vec::new();
        }
        let pool = self.pool_of(prefix);
        if pool.is_some() && !self.program_pool_routes {
            return Vec::new();
        }
        if pool.is_some_and(|p| p.vxlan != Encap::Never) {
            // VXLAN routes are Felix's; the pool is still advertised.
            return Vec::new();
        }
        let ipip = pool.map_or(Encap::Never, |p| p.ipip);
        let mut hops: Vec<NextHop> = routes
            .iter()
            .take(if self.merge_paths { usize::MAX } else { 1 })
            .filter(|r| std::ptr::eq(*r, best) || mergeable(best, r))
            .filter_map(|r| Some((r.attrs.next_hop?, r.source.link)))
            // A next hop of the other family needs RFC 8950 routes
            // (RTA_VIA), which are not installed.
            .filter(|(nh, _)| nh.is_ipv4() == v4)
            // A link-local gateway means something only with its
            // interface: the session's.
            .filter(|(nh, link)| !is_link_local(nh) || link.is_some())
            .map(|(gateway, link)| NextHop {
                gateway,
                dev: if is_link_local(&gateway) { link } else { None },
                tunnel: v4
                    && match ipip {
                        Encap::Never => false,
                        Encap::Always => true,
                        Encap::CrossSubnet => !self.local_subnets.iter().any(|s| s.net().contains(&gateway)),
                    },
            })
            .collect();
        hops.sort_unstable();
        hops.dedup_by_key(|h| h.gateway);
        hops
    }
}

/// An IPv6 link-local address (fe80::/10): it means something only on
/// one interface.
pub fn is_link_local(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80)
}

/// Whether `r` is as good as `best` for forwarding: both learned over BGP
/// and equal in every step before the IGP cost's tie-breakers (BIRD's
/// `bgp_rte_mergable`: preference, LOCAL_PREF, AS_PATH length, ORIGIN,
/// MED, eBGP/iBGP, IGP cost).
fn mergeable(best: &Route, r: &Route) -> bool {
    if r.source.protocol != Protocol::Bgp {
        return false;
    }
    matches!(
        compare(best, r).1,
        Reason::RouterId | Reason::ClusterListLength | Reason::PeerAddress | Reason::PathId | Reason::Equal
    )
}
