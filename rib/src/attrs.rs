//! Route attributes as the RIB keeps them: interned, so every route with
//! the same attributes shares one `Arc`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Weak};

use bgp_wire::attributes::{Aggregator, AsPath, Community, ExtCommunity, LargeCommunity, Origin, RawAttribute};
use bgp_wire::{ClusterId, RouterId};

/// The path attributes of a route (the NLRI-carrying MP attributes are not
/// attributes of a route). The next hop is per family: IPv4 routes may
/// have an IPv6 next hop (RFC 8950).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouteAttrs {
    pub origin: Option<Origin>,
    pub as_path: AsPath,
    pub next_hop: Option<IpAddr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub originator_id: Option<RouterId>,
    pub cluster_list: Vec<ClusterId>,
    pub ext_communities: Vec<ExtCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    /// Optional attributes we do not interpret, as received.
    pub unknown: Vec<RawAttribute>,
}

impl RouteAttrs {
    /// LOCAL_PREF for route selection: 100 when absent (BIRD's and
    /// Calico's default).
    pub fn local_pref_or_default(&self) -> u32 {
        self.local_pref.unwrap_or(100)
    }

    /// The neighbouring AS the route came through (the first AS of the
    /// path), for the MED comparison of RFC 4271 §9.1.2.2 (c).
    pub fn neighbor_as(&self) -> Option<bgp_wire::Asn> {
        self.as_path
            .segments
            .iter()
            .find(|s| matches!(s.kind, bgp_wire::attributes::SegmentType::Sequence))
            .and_then(|s| s.asns.first().copied())
    }
}

/// Hands out one shared `Arc` per distinct attribute set. Entries whose
/// routes are all gone are dropped by [`Interner::sweep`] (or replaced on
/// the next lookup), so churned attribute sets do not pile up.
#[derive(Default)]
pub struct Interner {
    set: HashSet<WeakKey>,
    inserts_since_sweep: usize,
    /// Seeded per interner, so a peer cannot aim attribute sets at one
    /// hash value.
    hasher: hashbrown::DefaultHashBuilder,
}

/// A weak entry hashed and compared by the attributes it points to.
struct WeakKey {
    hash: u64,
    weak: Weak<RouteAttrs>,
}

impl std::hash::Hash for WeakKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash);
    }
}

impl PartialEq for WeakKey {
    fn eq(&self, other: &WeakKey) -> bool {
        self.hash == other.hash
            && match (self.weak.upgrade(), other.weak.upgrade()) {
                (Some(a), Some(b)) => a == b,
                _ => Weak::ptr_eq(&self.weak, &other.weak),
            }
    }
}

impl Eq for WeakKey {}

impl Interner {
    /// The shared copy of `attrs`.
    pub fn intern(&mut self, attrs: RouteAttrs) -> Arc<RouteAttrs> {
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, &attrs);
        let probe = Arc::new(attrs);
        let key = WeakKey {
            hash,
            weak: Arc::downgrade(&probe),
        };
        if let Some(found) = self.set.get(&key).and_then(|k| k.weak.upgrade()) {
            return found;
        }
        // A dead entry with equal hash may linger: replace it.
        self.set.replace(key);
        self.inserts_since_sweep += 1;
        // Sweep when the set may have doubled: amortised O(1) per insert.
        if self.inserts_since_sweep > 1024 && self.inserts_since_sweep > self.set.len() {
            self.sweep();
        }
        probe
    }

    /// Drops entries no route uses any more.
    pub fn sweep(&mut self) {
        self.set.retain(|k| k.weak.strong_count() > 0);
        self.inserts_since_sweep = 0;
    }

    /// Entries held, live or not yet swept: an upper bound of [`Self::len`]
    /// that costs nothing.
    pub fn entries(&self) -> usize {
        self.set.len()
    }

    /// Live distinct attribute sets (counts them: O(n)).
    pub fn len(&self) -> usize {
        self.set.iter().filter(|k| k.weak.strong_count() > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
