//! Route attributes as the RIB keeps them: interned, so every route with
//! the same attributes shares one `Arc`.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashTable;
use thin_vec::ThinVec;

use bgp_wire::attributes::{Aggregator, AsPath, Community, ExtCommunity, LargeCommunity, Origin, RawAttribute};
use bgp_wire::{ClusterId, RouterId};

/// The path attributes of a route (the NLRI-carrying MP attributes are not
/// attributes of a route). The next hop is per family: IPv4 routes may
/// have an IPv6 next hop (RFC 8950).
///
/// Laid out for a table with as many sets as a fifth of its prefixes (a
/// real full table): lists that most sets carry are `ThinVec`s (one word
/// here, nothing allocated when empty), and the attributes few routes
/// carry sit behind one pointer ([`RareAttrs`]). 72 bytes, where plain
/// `Vec`s of everything took 200.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouteAttrs {
    pub origin: Option<Origin>,
    pub atomic_aggregate: bool,
    pub as_path: AsPath,
    pub next_hop: Option<IpAddr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: ThinVec<Community>,
    pub originator_id: Option<RouterId>,
    pub cluster_list: ThinVec<ClusterId>,
    pub rare: RareAttrs,
}

/// The attributes few routes carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rare {
    pub aggregator: Option<Aggregator>,
    pub ext_communities: Vec<ExtCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    /// Optional attributes we do not interpret, as received.
    pub unknown: Vec<RawAttribute>,
}

static NO_RARE: Rare = Rare {
    aggregator: None,
    ext_communities: Vec::new(),
    large_communities: Vec::new(),
    unknown: Vec::new(),
};

/// [`Rare`] behind a pointer that is null while they are all absent.
/// Reads see an empty [`Rare`] then; a write allocates, and
/// [`RouteAttrs::compact`] gives an empty one back. Equality and hashing
/// go by the contents, so an empty box equals none.
#[derive(Clone, Debug, Default)]
pub struct RareAttrs(Option<Box<Rare>>);

impl std::ops::Deref for RareAttrs {
    type Target = Rare;
    fn deref(&self) -> &Rare {
        self.0.as_deref().unwrap_or(&NO_RARE)
    }
}

impl std::ops::DerefMut for RareAttrs {
    fn deref_mut(&mut self) -> &mut Rare {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for RareAttrs {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for RareAttrs {}

impl std::hash::Hash for RareAttrs {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}

impl From<Rare> for RareAttrs {
    fn from(r: Rare) -> RareAttrs {
        let mut r = RareAttrs(Some(Box::new(r)));
        r.compact();
        r
    }
}

impl RareAttrs {
    /// Lets an empty box go.
    fn compact(&mut self) {
        if self.0.as_deref().is_some_and(|r| *r == NO_RARE) {
            self.0 = None;
        }
    }
}

impl RouteAttrs {
    /// Frees what the set does not use: spare capacity of its lists (a
    /// list grown by pushes keeps up to half again) and an empty
    /// [`RareAttrs`]. Interned sets are compacted.
    pub fn compact(&mut self) {
        self.communities.shrink_to_fit();
        self.cluster_list.shrink_to_fit();
        self.as_path.segments.shrink_to_fit();
        for s in &mut self.as_path.segments {
            s.asns.shrink_to_fit();
        }
        self.rare.compact();
    }

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
    pub fn intern(&mut self, mut attrs: RouteAttrs) -> Arc<RouteAttrs> {
        let hash = self.hasher.hash_one(&attrs);
        if let Some((_, found)) = self.sets.find(hash, |(h, a)| *h == hash && **a == attrs) {
            return found.clone();
        }
        attrs.compact();
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
        self.sets.allocation_size() + self.sets.len() * (std::mem::size_of::<RouteAttrs>() + 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attributes::LargeCommunity;

    #[test]
    fn a_set_is_small() {
        assert_eq!(std::mem::size_of::<RouteAttrs>(), 72);
    }

    #[test]
    fn an_emptied_rare_part_equals_none_and_is_let_go() {
        let plain = RouteAttrs::default();
        let mut touched = RouteAttrs::default();
        touched.rare.large_communities.push(LargeCommunity {
            global: 1,
            local1: 2,
            local2: 3,
        });
        assert_ne!(plain, touched);
        touched.rare.large_communities.clear();
        assert_eq!(plain, touched, "an empty rare part is no rare part");
        let mut i = Interner::default();
        let a = i.intern(plain);
        let b = i.intern(touched);
        assert!(Arc::ptr_eq(&a, &b), "both intern to one set");
        assert!(b.rare.0.is_none(), "the interned set holds no empty box");
    }
}
