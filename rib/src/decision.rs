//! The BGP decision process (RFC 4271 §9.1.2.2, with RFC 4456 §9 for
//! route reflection): which of two routes to one prefix is better, and why.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::RouterId;

use crate::attrs::RouteAttrs;

/// What kind of source a route has: BIRD's protocol types, as `show
/// route` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Learned from a BGP session.
    Bgp,
    /// From the configuration (Calico's blocks and service ranges).
    Static,
    /// Learned from the kernel's table (Felix's workload routes).
    Kernel,
}

/// Where a route came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The peer, or `None` for a route we originate.
    pub peer: Option<crate::PeerId>,
    pub protocol: Protocol,
    pub peer_address: Option<IpAddr>,
    pub peer_router_id: RouterId,
    /// Learned over eBGP.
    pub ebgp: bool,
    /// The peer is our route reflection client.
    pub rr_client: bool,
    /// The interface index of a session over IPv6 link-local addresses:
    /// where a link-local next hop of its routes is.
    pub link: Option<u32>,
    /// The interface the route leaves by, where known: a kernel route's
    /// device, a session's interface (what filters match by name).
    pub iface: Option<Arc<str>>,
}

/// The IGP cost to a route's next hop (RFC 4271 §9.1.2.2 e), where known.
/// Four bytes rather than an `Option<u32>`'s eight: a table holds a
/// route per path, and this keeps [`Route`] at 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IgpCost(u32);

impl IgpCost {
    pub const UNKNOWN: IgpCost = IgpCost(u32::MAX);

    /// A known cost; the largest value is kept for "unknown".
    pub fn known(cost: u32) -> IgpCost {
        IgpCost(cost.min(u32::MAX - 1))
    }

    pub fn get(self) -> Option<u32> {
        (self != Self::UNKNOWN).then_some(self.0)
    }
}

impl Default for IgpCost {
    fn default() -> IgpCost {
        IgpCost::UNKNOWN
    }
}

/// One route to a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub source: Arc<Source>,
    /// ADD-PATH path identifier as received (0 without ADD-PATH).
    pub path_id: u32,
    /// The ADD-PATH path identifier this path is sent with (RFC 7911):
    /// assigned by [`crate::Table`] when the path is added, kept while it
    /// is replaced.
    pub out_id: u32,
    pub attrs: Arc<RouteAttrs>,
    /// IGP cost to the next hop, where known.
    pub igp_cost: IgpCost,
    /// When the route last changed, in seconds since the Unix epoch; set
    /// by the caller (the library keeps no clock), shown by `show route`.
    pub since: u32,
}

/// The step that decided between two routes (for `show route` and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// §9.1.2.2 before (a): locally originated routes win.
    Local,
    /// §9.1.2.1: the highest degree of preference (LOCAL_PREF).
    LocalPref,
    /// (a) the shortest AS_PATH.
    AsPathLength,
    /// (b) the lowest ORIGIN.
    Origin,
    /// (c) the lowest MED, between routes from the same neighbouring AS.
    Med,
    /// (d) eBGP-learned over iBGP-learned.
    Ebgp,
    /// (e) the lowest IGP cost to the next hop.
    IgpCost,
    /// (f) the lowest BGP Identifier; ORIGINATOR_ID stands in for it when
    /// present (RFC 4456 §9).
    RouterId,
    /// RFC 4456 §9: the shorter CLUSTER_LIST.
    ClusterListLength,
    /// (g) the lowest peer address.
    PeerAddress,
    /// ADD-PATH: the lowest path identifier from the same peer.
    PathId,
    /// Identical in every respect.
    Equal,
}

/// Compares two routes to the same prefix: `Less` means `a` is better.
/// Steps are taken in order and only as far as needed: most comparisons
/// end at LOCAL_PREF or the AS_PATH length.
pub fn compare(a: &Route, b: &Route) -> (Ordering, Reason) {
    macro_rules! step {
        ($o:expr, $r:expr) => {
            let o = $o;
            if o != Ordering::Equal {
                return (o, $r);
            }
        };
    }
    if Arc::ptr_eq(&a.attrs, &b.attrs) && Arc::ptr_eq(&a.source, &b.source) && a.path_id == b.path_id {
        return (Ordering::Equal, Reason::Equal);
    }
    let (x, y) = (&a.attrs, &b.attrs);
    let local = |r: &Route| r.source.peer.is_none();
    step!(local(b).cmp(&local(a)), Reason::Local);
    step!(
        y.local_pref_or_default().cmp(&x.local_pref_or_default()),
        Reason::LocalPref
    );
    step!(x.as_path.route_len().cmp(&y.as_path.route_len()), Reason::AsPathLength);
    step!(
        x.origin.map_or(2, |o| o as u8).cmp(&y.origin.map_or(2, |o| o as u8)),
        Reason::Origin
    );
    // MED counts only between routes through the same neighbouring AS
    // (RFC 4271 §9.1.2.2 c); a missing MED is 0. Not transitive over three
    // routes from different ASes: the order of comparison matters, as in
    // BIRD.
    if x.neighbor_as() == y.neighbor_as() {
        step!(x.med.unwrap_or(0).cmp(&y.med.unwrap_or(0)), Reason::Med);
    }
    step!(b.source.ebgp.cmp(&a.source.ebgp), Reason::Ebgp);
    if let (Some(p), Some(q)) = (a.igp_cost.get(), b.igp_cost.get()) {
        step!(p.cmp(&q), Reason::IgpCost);
    }
    step!(
        u32::from(x.originator_id.unwrap_or(a.source.peer_router_id).0)
            .cmp(&u32::from(y.originator_id.unwrap_or(b.source.peer_router_id).0)),
        Reason::RouterId
    );
    step!(
        x.cluster_list.len().cmp(&y.cluster_list.len()),
        Reason::ClusterListLength
    );
    step!(a.source.peer_address.cmp(&b.source.peer_address), Reason::PeerAddress);
    step!(a.path_id.cmp(&b.path_id), Reason::PathId);
    (Ordering::Equal, Reason::Equal)
}

/// The index of the best route, comparing in order (as BIRD does).
pub fn best(routes: &[Route]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, r) in routes.iter().enumerate() {
        match best {
            None => best = Some(i),
            Some(b) if compare(r, &routes[b]).0 == Ordering::Less => best = Some(i),
            _ => {}
        }
    }
    best
}
