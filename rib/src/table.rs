//! The table: every usable route per prefix (Adj-RIB-In after import
//! checks, all peers together) and the best one of each (Loc-RIB).
//!
//! Layout, for memory: prefixes and their routes live in one dense `Vec`
//! of slots; a hash index of 4-byte slot numbers finds them. A hash map of
//! whole slots would leave half its (large) buckets empty after each
//! doubling and touch every page of them; here the empty part of the
//! index is small and the `Vec`'s unused capacity is never touched. A
//! prefix with one route (most of them) keeps it inline, not on the heap.
//! A slot names its prefix in 12 bytes ([`Key`]): an IPv4 prefix inline,
//! an IPv6 one by its place in a side table, so that a slot is 48 bytes.
//!
//! A slot keeps its number for as long as it exists, so per-peer state can
//! be sets of slot numbers ([`crate::bitset`]). A prefix whose last route
//! goes leaves its slot empty but indexed until the owner
//! [`Table::release`]s it: peers that have not yet been told may still
//! hold the prefix, and the slot number is how they find it.

use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

use bgp_wire::Prefix;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::cmp::Ordering;

use crate::decision::{best, compare, IgpCost, Route};
use crate::PeerId;

/// A slot's number: stable while the slot exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u32);

/// The routes to one prefix, the best first. No route at all is an empty
/// `Many` (no allocation): a third variant would cost every slot 8 bytes.
#[derive(Debug)]
enum Paths {
    One(Route),
    Many(Vec<Route>),
}

impl Paths {
    const EMPTY: Paths = Paths::Many(Vec::new());

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
        match std::mem::replace(self, Paths::EMPTY) {
            Paths::Many(v) if v.is_empty() => *self = Paths::One(r),
            Paths::One(first) => *self = Paths::Many(vec![first, r]),
            Paths::Many(mut v) => {
                // Exactly as long as needed: doubling would leave a third
                // of the table's route memory unused on average.
                v.reserve_exact(1);
                v.push(r);
                *self = Paths::Many(v);
            }
        }
    }

    /// Removes the route at `i`.
    fn remove(&mut self, i: usize) -> Route {
        match std::mem::replace(self, Paths::EMPTY) {
            Paths::One(r) => r,
            Paths::Many(mut v) => {
                let r = v.remove(i);
                *self = match v.len() {
                    0 => Paths::EMPTY,
                    1 => v.pop().map_or(Paths::EMPTY, Paths::One),
                    _ => {
                        v.shrink_to_fit();
                        Paths::Many(v)
                    }
                };
                r
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
    key: Key,
    paths: Paths,
}

/// A slot's prefix and ADD-PATH high mark in 12 bytes. A [`Prefix`] is 18,
/// and with the 32 of a route that rounds a slot up to 56 bytes; this way
/// it is 48, 8 MB less per million prefixes. An IPv6 address does not fit,
/// so it lives in [`Table::v6`] and the key holds its place there.
#[derive(Clone, Copy, Debug)]
struct Key {
    /// The prefix length; an IPv6 prefix's plus [`V6`].
    len: u8,
    /// The highest ADD-PATH identifier a path of this slot was given since
    /// the slot was made: a peer may hold any identifier up to it.
    /// [`FREE`] marks a released slot.
    high_id: u32,
    /// An IPv4 prefix's address, or an IPv6 prefix's place in `Table::v6`.
    addr: u32,
}

/// Added to an IPv6 prefix's length in [`Key::len`]: IPv4 lengths are
/// 0..=32, IPv6 ones then 64..=192. (Not a flag bit: /128 has the top bit.)
const V6: u8 = 64;

impl Key {
    fn is(&self, v6: &[u128], p: &Prefix) -> bool {
        match p.addr() {
            IpAddr::V4(a) => self.len == p.prefix_len() && self.addr == u32::from(a),
            IpAddr::V6(a) => self.len == p.prefix_len() + V6 && v6[self.addr as usize] == u128::from(a),
        }
    }

    fn prefix(&self, v6: &[u128]) -> Prefix {
        let p = if self.len < V6 {
            Prefix::v4(Ipv4Addr::from(self.addr), self.len)
        } else {
            Prefix::v6(Ipv6Addr::from(v6[self.addr as usize]), self.len - V6)
        };
        // Made from a valid prefix, so its length fits.
        p.expect("a slot's prefix")
    }
}

/// `Slot::high_id` of a released slot (no path gets this identifier).
const FREE: u32 = u32::MAX;

/// A path as a change names it: who sent it, its identifiers, and which
/// attribute set it has. Not the route itself: a [`Route`] holds two
/// `Arc`s, and cloning one for a change and dropping it again is four
/// atomic operations, each of which waits for the stores before it to
/// drain. Taking in a full table those waited on the writes of the new
/// slots and took an eighth of the engine's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRef {
    pub peer: Option<PeerId>,
    /// The path identifier as received.
    pub path_id: u32,
    /// The ADD-PATH identifier it is sent with.
    pub out_id: u32,
    /// The address of its attribute set: equal only for the same set, as
    /// both routes compared are alive when their references are taken
    /// and compared (a change keeps the route it replaced until then).
    attrs: usize,
    igp_cost: IgpCost,
}

impl PathRef {
    fn of(r: &Route) -> PathRef {
        PathRef {
            peer: r.source.peer,
            path_id: r.path_id,
            out_id: r.out_id,
            attrs: std::sync::Arc::as_ptr(&r.attrs) as usize,
            igp_cost: r.igp_cost,
        }
    }
}

/// What one change did to a prefix: the path that changed, before and
/// after, and the best route before and after when that changed.
#[derive(Clone, Debug)]
pub struct Delta {
    pub slot: SlotId,
    pub prefix: Prefix,
    /// The path before the change (`None`: it is new).
    pub before: Option<PathRef>,
    /// The path after the change (`None`: it is gone).
    pub after: Option<PathRef>,
    /// The best route before and after, when it changed.
    pub best: Option<(Option<PathRef>, Option<PathRef>)>,
}

impl Delta {
    pub fn best_changed(&self) -> bool {
        self.best.is_some()
    }

    /// The path was replaced by an identical one (the same sender, path
    /// and attribute set): nothing changed.
    pub fn is_noop(&self) -> bool {
        self.best.is_none() && self.before == self.after
    }

    /// The ADD-PATH identifier of the path that changed.
    pub fn out_id(&self) -> u32 {
        self.after.or(self.before).map_or(0, |r| r.out_id)
    }
}

/// Puts `x` in a released place of `items` (listed in `free`), or at the
/// end: where it went.
fn place<T>(items: &mut Vec<T>, free: &mut Vec<u32>, x: T) -> u32 {
    match free.pop() {
        Some(i) => {
            items[i as usize] = x;
            i
        }
        None => {
            items.push(x);
            (items.len() - 1) as u32
        }
    }
}

/// Takes path `j` out of `slot`, the slot of `prefix`.
fn take_path(slot: &mut Slot, prefix: Prefix, i: u32, j: usize) -> Delta {
    let old_best = PathRef::of(&slot.paths.as_slice()[0]);
    let removed = slot.paths.remove(j);
    // Only the loss of the best needs a new selection.
    if j == 0 {
        slot.paths.reselect();
    }
    let new_best = slot.paths.as_slice().first().map(PathRef::of);
    let best = (Some(old_best) != new_best).then_some((Some(old_best), new_best));
    let before = Some(PathRef::of(&removed));
    // Dropped only now: while `old_best` is compared, its set is alive.
    drop(removed);
    Delta {
        slot: SlotId(i),
        prefix,
        before,
        after: None,
        best,
    }
}

/// Adj-RIB-In of every peer and the Loc-RIB, keyed by prefix.
#[derive(Default)]
pub struct Table {
    index: HashTable<u32>,
    slots: Vec<Slot>,
    /// Released slots, for reuse.
    free: Vec<u32>,
    /// The addresses of IPv6 slots' prefixes ([`Key::addr`]).
    v6: Vec<u128>,
    /// Places in `v6` released with their slots, for reuse.
    v6_free: Vec<u32>,
    hasher: DefaultHashBuilder,
    /// Times the index was built ([`Table::grow_index`]).
    #[cfg(test)]
    index_builds: u32,
    routes: usize,
    prefixes: usize,
    /// Of `prefixes`, the IPv6 ones (for per-family counts without a walk).
    prefixes_v6: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("prefixes", &self.prefixes)
            .field("routes", &self.routes)
            .field("slots", &self.slots.len())
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
            .find(h, |&i| self.slots[i as usize].key.is(&self.v6, prefix))
            .map(|&i| i as usize)
    }

    /// The prefix of slot `i`.
    fn prefix_at(&self, i: usize) -> Prefix {
        self.slots[i].key.prefix(&self.v6)
    }

    /// The slot of `prefix`, also when it is empty and not yet released.
    pub fn slot(&self, prefix: &Prefix) -> Option<SlotId> {
        self.find(prefix).map(|i| SlotId(i as u32))
    }

    /// Adds or replaces the route of (`route.source.peer`, `route.path_id`).
    /// A new path gets the lowest ADD-PATH identifier not in use for the
    /// prefix (RFC 7911 §3: unique per prefix and sender).
    pub fn update(&mut self, prefix: Prefix, mut route: Route) -> Delta {
        if self.index.len() == self.index.capacity() {
            self.grow_index();
        }
        let h = self.hasher.hash_one(prefix);
        let Table {
            index,
            slots,
            free,
            v6,
            v6_free,
            hasher,
            routes,
            prefixes,
            prefixes_v6,
            ..
        } = self;
        let entry = index.entry(
            h,
            |&i| slots[i as usize].key.is(v6, &prefix),
            |&i| hasher.hash_one(slots[i as usize].key.prefix(v6)),
        );
        let i = match entry {
            Entry::Vacant(v) => {
                let key = match prefix.addr() {
                    IpAddr::V4(a) => Key {
                        len: prefix.prefix_len(),
                        high_id: 0,
                        addr: u32::from(a),
                    },
                    IpAddr::V6(a) => Key {
                        len: prefix.prefix_len() + V6,
                        high_id: 0,
                        addr: place(v6, v6_free, u128::from(a)),
                    },
                };
                let slot = Slot {
                    key,
                    paths: Paths::EMPTY,
                };
                let i = place(slots, free, slot);
                v.insert(i);
                i
            }
            Entry::Occupied(o) => *o.get(),
        };
        let slot = &mut slots[i as usize];
        let old_best = slot.paths.as_slice().first().map(PathRef::of);
        if old_best.is_none() {
            *prefixes += 1;
            *prefixes_v6 += usize::from(prefix.family() == bgp_wire::Family::IPV6_UNICAST);
        }
        let existing = slot
            .paths
            .as_slice()
            .iter()
            .position(|r| r.source.peer == route.source.peer && r.path_id == route.path_id);
        // The route replaced is kept until the end: its attribute set
        // must stay alive while `PathRef`s are compared.
        let (replaced, after) = match existing {
            Some(j) => {
                let r = &mut slot.paths.as_mut_slice()[j];
                route.out_id = r.out_id;
                let after = PathRef::of(&route);
                let old = std::mem::replace(r, route);
                if j == 0 {
                    // The best changed: every route competes again.
                    slot.paths.reselect();
                } else {
                    slot.paths.promote(j);
                }
                (Some(old), after)
            }
            None => {
                let used = |id: u32| slot.paths.as_slice().iter().any(|r| r.out_id == id);
                route.out_id = (1..FREE).find(|id| !used(*id)).unwrap_or(FREE - 1);
                slot.key.high_id = slot.key.high_id.max(route.out_id);
                let after = PathRef::of(&route);
                slot.paths.push(route);
                *routes += 1;
                slot.paths.promote(slot.paths.as_slice().len() - 1);
                (None, after)
            }
        };
        let new_best = PathRef::of(&slot.paths.as_slice()[0]);
        let best = (old_best != Some(new_best)).then_some((old_best, Some(new_best)));
        let before = replaced.as_ref().map(PathRef::of);
        drop(replaced);
        Delta {
            slot: SlotId(i),
            prefix,
            before,
            after: Some(after),
            best,
        }
    }

    /// Makes room in the index for at least one more prefix, building it
    /// anew from the slots in their order. Left to itself the index would
    /// rehash its entries in bucket order, and each would look up its
    /// slot's key at random: at a million prefixes those slots are 48 MB,
    /// past any cache, and the growths took a sixth of the engine's time
    /// taking in a full table. Read in order, the slots stream through
    /// the cache; only the new index (5 bytes a bucket) is written at
    /// random. Sized for twice what it holds, as hashbrown grows: twice
    /// the buckets when entries filled it. When released prefixes' marks
    /// (tombstones) filled it instead, the new one is as large or smaller,
    /// and still as many inserts away from the next build as it holds, so
    /// churn at one size cannot rebuild it on every insert.
    fn grow_index(&mut self) {
        let mut index = HashTable::with_capacity((2 * self.index.len()).max(8));
        for (i, s) in self.slots.iter().enumerate() {
            if s.key.high_id != FREE {
                let h = self.hasher.hash_one(s.key.prefix(&self.v6));
                // Sized above, so it does not grow here.
                index.insert_unique(h, i as u32, |&j| {
                    self.hasher.hash_one(self.slots[j as usize].key.prefix(&self.v6))
                });
            }
        }
        debug_assert_eq!(index.len(), self.index.len());
        self.index = index;
        #[cfg(test)]
        {
            self.index_builds += 1;
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

    fn remove_path(&mut self, i: usize, j: usize) -> Delta {
        self.routes -= 1;
        let prefix = self.prefix_at(i);
        let d = take_path(&mut self.slots[i], prefix, i as u32, j);
        if self.slots[i].paths.as_slice().is_empty() {
            self.prefixes -= 1;
            self.prefixes_v6 -= usize::from(prefix.family() == bgp_wire::Family::IPV6_UNICAST);
        }
        d
    }

    /// Removes every route of a peer (session down), handing `f` one delta
    /// per path: one pass over the slots, nothing collected.
    pub fn remove_peer_with(&mut self, peer: PeerId, f: impl FnMut(Delta)) {
        self.remove_where(peer, |_, _| true, f);
    }

    /// Removes the routes of a peer that `pick` selects (graceful
    /// restart: the stale ones, of one family), streaming as
    /// [`Table::remove_peer_with`] does.
    pub fn remove_where(
        &mut self,
        peer: PeerId,
        mut pick: impl FnMut(&Prefix, &Route) -> bool,
        mut f: impl FnMut(Delta),
    ) {
        for i in 0..self.slots.len() {
            if self.slots[i].paths.as_slice().is_empty() {
                continue;
            }
            let prefix = self.prefix_at(i);
            while let Some(j) = self.slots[i]
                .paths
                .as_slice()
                .iter()
                .position(|r| r.source.peer == Some(peer) && pick(&prefix, r))
            {
                f(self.remove_path(i, j));
            }
        }
    }

    /// [`Table::remove_peer_with`], collected.
    pub fn remove_peer(&mut self, peer: PeerId) -> Vec<Delta> {
        let mut out = Vec::new();
        self.remove_peer_with(peer, |d| out.push(d));
        out
    }

    /// Frees an empty slot for reuse: its prefix leaves the index. Whether
    /// it was freed (a slot that gained a route meanwhile is kept).
    pub fn release(&mut self, slot: SlotId) -> bool {
        let i = slot.0 as usize;
        match self.slots.get(i) {
            Some(s) if s.paths.as_slice().is_empty() && s.key.high_id != FREE => {}
            _ => return false,
        }
        let h = self.hasher.hash_one(self.prefix_at(i));
        if let Ok(e) = self.index.find_entry(h, |&x| x as usize == i) {
            e.remove();
        }
        let key = &mut self.slots[i].key;
        if key.len >= V6 {
            self.v6_free.push(key.addr);
        }
        // Marked free, so a second release of the same number is a no-op.
        key.high_id = FREE;
        self.free.push(slot.0);
        true
    }

    /// The prefix of a slot (also of an empty one).
    pub fn prefix_of(&self, slot: SlotId) -> Option<Prefix> {
        self.slots
            .get(slot.0 as usize)
            .filter(|s| s.key.high_id != FREE)
            .map(|s| s.key.prefix(&self.v6))
    }

    /// The routes of a slot, the best first (none when empty or free).
    pub fn paths_of(&self, slot: SlotId) -> &[Route] {
        self.slots.get(slot.0 as usize).map_or(&[], |s| s.paths.as_slice())
    }

    /// The highest ADD-PATH identifier given out in a slot.
    pub fn high_id(&self, slot: SlotId) -> u32 {
        self.slots
            .get(slot.0 as usize)
            .filter(|s| s.key.high_id != FREE)
            .map_or(0, |s| s.key.high_id)
    }

    /// Slot numbers in use or free: every slot number is below this.
    pub fn slot_count(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Slots that hold no route but are not released yet.
    pub fn empty_slots(&self) -> usize {
        self.slots.len() - self.free.len() - self.prefixes
    }

    /// The best route to `prefix`.
    pub fn best(&self, prefix: &Prefix) -> Option<&Route> {
        self.routes(prefix).first()
    }

    /// Every route to `prefix`, the best first.
    pub fn routes(&self, prefix: &Prefix) -> &[Route] {
        self.find(prefix).map_or(&[], |i| self.slots[i].paths.as_slice())
    }

    /// Every prefix with its routes, the best first, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Prefix, &[Route])> {
        self.slots
            .iter()
            .filter(|s| !s.paths.as_slice().is_empty())
            .map(|s| (s.key.prefix(&self.v6), s.paths.as_slice()))
    }

    /// Every prefix with at least one route, with its slot.
    pub fn slots(&self) -> impl Iterator<Item = (SlotId, Prefix)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.paths.as_slice().is_empty())
            .map(|(i, s)| (SlotId(i as u32), s.key.prefix(&self.v6)))
    }

    /// Prefixes with at least one route.
    pub fn prefixes(&self) -> impl Iterator<Item = Prefix> + '_ {
        self.iter().map(|(p, _)| p)
    }

    /// Number of prefixes (networks) with at least one route.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    /// Of [`Table::len`], the IPv4 and the IPv6 prefixes.
    pub fn len_by_family(&self) -> (usize, usize) {
        (self.prefixes - self.prefixes_v6, self.prefixes_v6)
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Number of routes (paths) over all prefixes.
    pub fn route_count(&self) -> usize {
        self.routes
    }

    /// Bytes on the heap: slots, their index, and paths beyond the first.
    /// Hash tables count their allocation, not `capacity()`: that is items
    /// plus room left, and tombstones, which fall where the random seed puts
    /// them, take room without changing the bytes held.
    pub fn heap_bytes(&self) -> usize {
        let many: usize = self
            .slots
            .iter()
            .map(|s| match &s.paths {
                Paths::Many(v) => v.capacity() * std::mem::size_of::<Route>(),
                _ => 0,
            })
            .sum();
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.index.allocation_size()
            + self.free.capacity() * 4
            + self.v6.capacity() * 16
            + self.v6_free.capacity() * 4
            + many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_stays_48_bytes() {
        // One per prefix: every byte here is a megabyte per million
        // prefixes. The route sits inline, the prefix and ADD-PATH high
        // mark in 12 bytes, and "no route" costs no tag of its own.
        assert_eq!(std::mem::size_of::<Slot>(), 48);
    }

    fn route(peer: u32) -> Route {
        let source = crate::decision::Source {
            peer: Some(PeerId(peer)),
            protocol: crate::decision::Protocol::Bgp,
            peer_address: None,
            peer_router_id: bgp_wire::RouterId(Ipv4Addr::LOCALHOST),
            ebgp: true,
            rr_client: false,
            link: None,
            iface: None,
        };
        Route {
            source: std::sync::Arc::new(source),
            path_id: 0,
            out_id: 0,
            attrs: Default::default(),
            igp_cost: IgpCost::UNKNOWN,
            since: 0,
        }
    }

    fn v4(i: u32) -> Prefix {
        Prefix::v4(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap()
    }

    #[test]
    fn the_index_grows_by_doubling_and_churn_does_not_rebuild_it_each_time() {
        let mut t = Table::new();
        let mut n = 0;
        // Up to an index that is exactly full.
        while n < 50_000 || t.index.len() < t.index.capacity() {
            t.update(v4(n), route(1));
            n += 1;
        }
        // From 16 buckets to 65536 or more, doubling: at most 13 builds.
        assert!(t.index_builds <= 13, "{} builds", t.index_builds);
        let grown = t.index_builds;
        // Churn at that size: a prefix goes, then another comes. A
        // released prefix leaves a tombstone in a full index, so each
        // insert finds it full; a build must buy as many inserts as the
        // index holds, not one.
        for i in 0..200_000u32 {
            let d = t.withdraw(&v4(i), Some(PeerId(1)), 0).expect("held");
            assert!(t.release(d.slot));
            t.update(v4(n + i), route(1));
        }
        assert_eq!(t.len() as u32, n);
        assert!(
            t.index_builds - grown <= 10,
            "{} builds under churn",
            t.index_builds - grown
        );
        for i in 200_000..n + 200_000 {
            assert!(t.best(&v4(i)).is_some(), "{}", v4(i));
        }
        assert!(t.best(&v4(199_999)).is_none());
    }
}
