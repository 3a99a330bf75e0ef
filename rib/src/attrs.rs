//! Route attributes as the RIB keeps them: interned, so every route with
//! the same attributes shares one `Arc`.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashTable;

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

/// Hands out one shared `Arc` per distinct attribute set. The interner
/// holds a reference to each; [`Interner::sweep`] drops the sets nobody
/// else holds and hands them back, so the caller can first forget what it
/// keyed on their addresses (the export cache) before their memory can be
/// reused. Nothing is dropped behind the caller's back.
#[derive(Default)]
pub struct Interner {
    /// Each set with its hash, so growing the table never hashes again.
    sets: HashTable<(u64, Arc<RouteAttrs>)>,
    /// Sets held after the last sweep: the next is due when the table has
    /// doubled since (amortised O(1) per insert).
    live_after_sweep: usize,
    /// Seeded per interner, so a peer cannot aim attribute sets at one
    /// hash value.
    hasher: hashbrown::DefaultHashBuilder,
}

impl Interner {
    /// The shared copy of `attrs`.
    pub fn intern(&mut self, attrs: RouteAttrs) -> Arc<RouteAttrs> {
        let hash = self.hasher.hash_one(&attrs);
        if let Some((_, found)) = self.sets.find(hash, |(h, a)| *h == hash && **a == attrs) {
            return found.clone();
        }
        let a = Arc::new(attrs);
        self.sets.insert_unique(hash, (hash, a.clone()), |(h, _)| *h);
        a
    }

    /// Whether enough sets may have died since the last sweep to make one
    /// worth its O(n) walk.
    pub fn sweep_due(&self) -> bool {
        self.sets.len() > 2 * self.live_after_sweep + 1024
    }

    /// Drops the sets only the interner holds, returning them (their last
    /// reference) to the caller.
    pub fn sweep(&mut self) -> Vec<Arc<RouteAttrs>> {
        let mut dead = Vec::new();
        self.sets.retain(|(_, a)| {
            if Arc::strong_count(a) == 1 {
                dead.push(a.clone());
                false
            } else {
                true
            }
        });
        self.live_after_sweep = self.sets.len();
        // Give back what a departed session's sets took.
        if self.sets.capacity() > 4 * self.sets.len() + 64 {
            self.sets.shrink_to(2 * self.sets.len(), |(h, _)| *h);
        }
        dead
    }

    /// Sets held, including any that died since the last sweep.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Bytes on the heap for the sets and their index (the attributes' own
    /// vectors not counted).
    pub fn heap_bytes(&self) -> usize {
        self.sets.capacity() * (std::mem::size_of::<(u64, Arc<RouteAttrs>)>() + 1)
            + self.sets.len() * (std::mem::size_of::<RouteAttrs>() + 16)
    }
}
