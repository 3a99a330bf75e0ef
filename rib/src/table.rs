//! The table: every usable route per prefix (Adj-RIB-In after import
//! checks, all peers together) and the best one of each (Loc-RIB).
//!
//! Layout, for memory: prefixes and their routes live in one dense `Vec`
//! of slots; a hash index of 4-byte slot numbers finds them. A hash map of
//! whole slots would leave half its (large) buckets empty after each
//! doubling and touch every page of them; here the empty part of the
//! index is small and the `Vec`'s unused capacity is never touched. A
//! prefix with one route (most of them) keeps it inline, not on the heap.

use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

use bgp_wire::Prefix;

use std::cmp::Ordering;

use crate::decision::{best, compare, Route};
use crate::PeerId;

/// The routes to one prefix, the best first.
#[derive(Debug)]
enum Paths {
    One(Route),
    Many(Vec<Route>),
}

impl Paths {
    fn as_slice(&self) -> &[Route] {
        match self {
            Paths::One(r) => std::slice::from_ref(r),
            Paths::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Route] {
        match self {
            Paths::One(r) => std::slice::from_mut(r),
            Paths::Many(v) => v,
        }
    }

    fn push(&mut self, r: Route) {
        match self {
            Paths::Many(v) => {
                // Exactly as long as needed: doubling would leave a third
                // of the table's route memory unused on average.
                v.reserve_exact(1);
                v.push(r)
            }
            Paths::One(_) => {
                let Paths::One(first) = std::mem::replace(self, Paths::Many(Vec::with_capacity(2))) else {
                    unreachable!()
                };
                *self = Paths::Many(vec![first, r]);
            }
        }
    }

    /// Removes the route at `i`; `None` when it was the last one.
    fn remove(self, i: usize) -> (Option<Paths>, Route) {
        match self {
            Paths::One(r) => (None, r),
            Paths::Many(mut v) => {
                let r = v.remove(i);
                let rest = match v.len() {
                    0 => None,
                    1 => v.pop().map(Paths::One),
                    _ => Some(Paths::Many(v)),
                };
                (rest, r)
            }
        }
    }

    /// Puts route `i` first if it beats the current best: enough when only
    /// route `i` changed and it was not the best.
    fn promote(&mut self, i: usize) {
        if let Paths::Many(v) = self {
            if i > 0 && compare(&v[i], &v[0]).0 == Ordering::Less {
                v.swap(0, i);
            }
        }
    }

    /// Puts the best route first, comparing them all.
    fn reselect(&mut self) {
        if let Paths::Many(v) = self {
            if let Some(i) = best(v) {
                v.swap(0, i);
            }
        }
    }
}

#[derive(Debug)]
struct Slot {
    prefix: Prefix,
    paths: Paths,
}

/// What one change did to a prefix: the path that changed, before and
/// after, and the best route before and after when that changed. The
/// daemon turns it into what each peer is sent (see
/// [`crate::adj_out::change_for`]).
#[derive(Clone, Debug)]
pub struct Delta {
    pub prefix: Prefix,
    /// The path before the change (`None`: it is new).
    pub before: Option<Route>,
    /// The path after the change (`None`: it is gone).
    pub after: Option<Route>,
    /// The best route before and after, when it changed.
    pub best: Option<(Option<Route>, Option<Route>)>,
}

impl Delta {
    pub fn best_changed(&self) -> bool {
        self.best.is_some()
    }
}

/// Whether two optional routes are the same path with the same attributes.
pub(crate) fn same(a: Option<&Route>, b: Option<&Route>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.source.peer == b.source.peer && a.path_id == b.path_id && std::sync::Arc::ptr_eq(&a.attrs, &b.attrs)
        }
        _ => false,
    }
}

/// Takes path `j` out of `slot`; returns the change and whether the slot
/// is now empty (its paths are then an empty list, for the caller to drop).
fn take_path(slot: &mut Slot, j: usize) -> (Delta, bool) {
    let old_best = slot.paths.as_slice()[0].clone();
    let paths = std::mem::replace(&mut slot.paths, Paths::Many(Vec::new()));
    let (rest, removed) = paths.remove(j);
    let new_best = rest.map(|mut p| {
        // Only the loss of the best needs a new selection.
        if j == 0 {
            p.reselect();
        }
        let b = p.as_slice()[0].clone();
        slot.paths = p;
        b
    });
    let emptied = new_best.is_none();
    let best = (!same(Some(&old_best), new_best.as_ref())).then_some((Some(old_best), new_best));
    let delta = Delta {
        prefix: slot.prefix,
        before: Some(removed),
        after: None,
        best,
    };
    (delta, emptied)
}

/// Adj-RIB-In of every peer and the Loc-RIB, keyed by prefix.
#[derive(Default)]
pub struct Table {
    index: HashTable<u32>,
    slots: Vec<Slot>,
    hasher: DefaultHashBuilder,
    routes: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("prefixes", &self.slots.len())
            .field("routes", &self.routes)
            .finish()
    }
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    fn find(&self, prefix: &Prefix) -> Option<usize> {
        let h = self.hasher.hash_one(prefix);
        self.index
            .find(h, |&i| self.slots[i as usize].prefix == *prefix)
            .map(|&i| i as usize)
    }

    /// Adds or replaces the route of (`route.source.peer`, `route.path_id`).
    /// A new path gets the lowest ADD-PATH identifier not in use for the
    /// prefix (RFC 7911 §3: unique per prefix and sender).
    pub fn update(&mut self, prefix: Prefix, mut route: Route) -> Delta {
        let h = self.hasher.hash_one(prefix);
        let Table {
            index,
            slots,
            hasher,
            routes,
        } = self;
        let entry = index.entry(
            h,
            |&i| slots[i as usize].prefix == prefix,
            |&i| hasher.hash_one(slots[i as usize].prefix),
        );
        let slot = match entry {
            Entry::Vacant(v) => {
                route.out_id = 1;
                v.insert(slots.len() as u32);
                slots.push(Slot {
                    prefix,
                    paths: Paths::One(route.clone()),
                });
                *routes += 1;
                return Delta {
                    prefix,
                    before: None,
                    after: Some(route.clone()),
                    best: Some((None, Some(route))),
                };
            }
            Entry::Occupied(o) => &mut slots[*o.get() as usize],
        };
        let old_best = slot.paths.as_slice()[0].clone();
        let existing = slot
            .paths
            .as_slice()
            .iter()
            .position(|r| r.source.peer == route.source.peer && r.path_id == route.path_id);
        let before = match existing {
            Some(i) => {
                let r = &mut slot.paths.as_mut_slice()[i];
                route.out_id = r.out_id;
                let old = std::mem::replace(r, route.clone());
                if i == 0 {
                    // The best changed: every route competes again.
                    slot.paths.reselect();
                } else {
                    slot.paths.promote(i);
                }
                Some(old)
            }
            None => {
                let used = |id: u32| slot.paths.as_slice().iter().any(|r| r.out_id == id);
                route.out_id = (1..).find(|id| !used(*id)).unwrap_or(u32::MAX);
                slot.paths.push(route.clone());
                *routes += 1;
                slot.paths.promote(slot.paths.as_slice().len() - 1);
                None
            }
        };
        let new_best = &slot.paths.as_slice()[0];
        let best = (!same(Some(&old_best), Some(new_best))).then(|| (Some(old_best), Some(new_best.clone())));
        Delta {
            prefix,
            before,
            after: Some(route),
            best,
        }
    }

    /// Removes one path; `None` when there was no such path.
    pub fn withdraw(&mut self, prefix: &Prefix, peer: Option<PeerId>, path_id: u32) -> Option<Delta> {
        let i = self.find(prefix)?;
        let j = self.slots[i]
            .paths
            .as_slice()
            .iter()
            .position(|r| r.source.peer == peer && r.path_id == path_id)?;
        Some(self.remove_path(i, j))
    }

    /// Removes path `j` of slot `i`, and the slot when it was the last.
    fn remove_path(&mut self, i: usize, j: usize) -> Delta {
        self.routes -= 1;
        let (delta, emptied) = take_path(&mut self.slots[i], j);
        if emptied {
            self.remove_slot(i);
        }
        delta
    }

    /// Drops slot `i`: the last slot moves into its place.
    fn remove_slot(&mut self, i: usize) {
        let h = self.hasher.hash_one(self.slots[i].prefix);
        if let Ok(e) = self.index.find_entry(h, |&x| x as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        if i != last {
            let hl = self.hasher.hash_one(self.slots[last].prefix);
            if let Some(x) = self.index.find_mut(hl, |&x| x as usize == last) {
                *x = i as u32;
            }
        }
        self.slots.swap_remove(i);
    }

    /// Removes every route of a peer (session down), one delta per path.
    /// One pass over the slots; emptied slots go at the end and the index
    /// is rebuilt once, rather than fixed up slot by slot.
    pub fn remove_peer(&mut self, peer: PeerId) -> Vec<Delta> {
        let mut out = Vec::new();
        let mut emptied = false;
        for slot in &mut self.slots {
            while let Some(j) = slot.paths.as_slice().iter().position(|r| r.source.peer == Some(peer)) {
                let (d, gone) = take_path(slot, j);
                out.push(d);
                self.routes -= 1;
                if gone {
                    emptied = true;
                    break;
                }
            }
        }
        if emptied {
            self.slots.retain(|s| !s.paths.as_slice().is_empty());
            let Table {
                index, slots, hasher, ..
            } = self;
            index.clear();
            for (i, s) in slots.iter().enumerate() {
                index.insert_unique(hasher.hash_one(s.prefix), i as u32, |&k| {
                    hasher.hash_one(slots[k as usize].prefix)
                });
            }
        }
        out
    }

    /// The best route to `prefix`.
    pub fn best(&self, prefix: &Prefix) -> Option<&Route> {
        self.routes(prefix).first()
    }

    /// Every route to `prefix`, the best first.
    pub fn routes(&self, prefix: &Prefix) -> &[Route] {
        self.find(prefix).map_or(&[], |i| self.slots[i].paths.as_slice())
    }

    /// Every prefix with its routes, the best first, in no set order.
    pub fn iter(&self) -> impl Iterator<Item = (&Prefix, &[Route])> {
        self.slots.iter().map(|s| (&s.prefix, s.paths.as_slice()))
    }

    /// Prefixes with at least one route.
    pub fn prefixes(&self) -> impl Iterator<Item = &Prefix> {
        self.slots.iter().map(|s| &s.prefix)
    }

    /// Number of prefixes (networks).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Number of routes (paths) over all prefixes.
    pub fn route_count(&self) -> usize {
        self.routes
    }
}
