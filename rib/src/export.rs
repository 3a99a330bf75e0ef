//! [`policy::export`] with its results remembered: most routes share
//! attribute sets, so each set is rewritten once per export class and
//! address family, not once per prefix and peer.
//!
//! Entries are keyed by the addresses of the route's attribute set and
//! source. Both stay allocated while their entry exists because the
//! engine removes entries before it drops the last reference: a dead
//! source's entries go when its session goes ([`Exports::forget_source`]),
//! a dead attribute set's when the interner sweeps it
//! ([`Exports::forget_attrs`]), a class's when its last peer leaves. So
//! the cache holds exactly what the live routes and sessions need.
//!
//! It is bounded ([`CACHE_MAX`]): a table whose sets are as diverse as a
//! real one (a set per five prefixes) would otherwise keep a rewritten
//! copy of every set for as long as the route lives, which is most of
//! what the copy costs. Routes go out in slot order, and prefixes that
//! share a set mostly lie together, so a cache that forgets everything
//! when full still answers most lookups.

use std::sync::Arc;

use bgp_wire::Family;
use hashbrown::HashMap;

use crate::attrs::{Interner, RouteAttrs};
use crate::decision::{Route, Source};
use crate::filter::Verdict;
use crate::policy::{export, reflects_as_received, ExportClass, Local, PrefixFilter, Target};
use crate::updates::Outgoing;

/// Entries kept before the cache starts afresh: 7/8 of 16k, the most a
/// hash table of 16k buckets holds (about 0.7 MB of index), so the index
/// never doubles to 32k buckets on the last few entries. With `1 << 14`
/// it did, and while it grew both tables were alive: in rr50x1k, 2 MB of
/// the peak heap was this index. bench, median of 3 in one run, 16k
/// against 64k: div1m 130.3 / 146.6 MB in 2.46 / 2.61 s.
pub const CACHE_MAX: usize = (1 << 14) / 8 * 7;

/// An export class's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassId(u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    attrs: usize,
    source: usize,
    class: ClassId,
    /// The next hop we set depends on the route's family.
    ipv4: bool,
    /// The `[[advertise]]` ranges that hold the prefix.
    tags: u32,
    /// The export rule that accepted the route and changes it, if any.
    rule: Option<u16>,
}

/// Export classes, the cache, and the rewritten attribute sets.
#[derive(Default)]
pub struct Exports {
    cache: HashMap<Key, Option<Arc<RouteAttrs>>>,
    /// Classes with the number of peers in each; `None`: a free number.
    classes: Vec<Option<(ExportClass, usize)>>,
    /// The rewritten sets, interned apart from received ones (an export
    /// equal to its input would otherwise keep its own input alive).
    out: Interner,
}

impl Exports {
    /// Enters a peer into the class of `target`.
    pub fn join(&mut self, target: &Target) -> ClassId {
        let class = target.class();
        if let Some(i) = self
            .classes
            .iter()
            .position(|c| c.as_ref().is_some_and(|(k, _)| *k == class))
        {
            if let Some((_, n)) = &mut self.classes[i] {
                *n += 1;
            }
            return ClassId(i as u32);
        }
        let i = match self.classes.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.classes.push(None);
                self.classes.len() - 1
            }
        };
        self.classes[i] = Some((class, 1));
        ClassId(i as u32)
    }

    /// A peer of `class` left; the class and its entries go with its last peer.
    pub fn leave(&mut self, class: ClassId) {
        let Some(Some((_, n))) = self.classes.get_mut(class.0 as usize) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            self.classes[class.0 as usize] = None;
            self.cache.retain(|k, _| k.class != class);
            self.trim();
            self.sweep();
        }
    }

    /// What `target` (a peer of `class`) is sent for `route` of `family`,
    /// within the `[[advertise]]` ranges `tags` of `filter`.
    #[allow(clippy::too_many_arguments)]
    pub fn export(
        &mut self,
        local: &Local,
        route: &Route,
        family: Family,
        target: &Target,
        class: ClassId,
        filter: &PrefixFilter,
        tags: u32,
        verdict: Verdict,
    ) -> Option<Outgoing> {
        // The one rule that depends on the peer itself, before the cache
        // its class shares.
        if target.is_source_of(route) {
            return None;
        }
        let key = Key {
            attrs: Arc::as_ptr(&route.attrs) as usize,
            source: Arc::as_ptr(&route.source) as usize,
            class,
            ipv4: family == Family::IPV4_UNICAST,
            tags,
            rule: None,
        };
        // A rule's operations change the route before the export rules
        // see it: a prepended AS goes after ours towards an eBGP peer.
        let rules = target.class.filter.as_deref();
        let changed = match (verdict, rules) {
            (Verdict::Accept(i), Some(f)) if f.changes(i) => {
                let mut a = (*route.attrs).clone();
                f.apply(i, &mut a);
                Some((i, a))
            }
            _ => None,
        };
        if changed.is_none() && tags == 0 {
            if let Some(r) = reflects_as_received(local, route, target) {
                // Nothing to rewrite, nothing to remember.
                return Some(Outgoing {
                    attrs: route.attrs.clone(),
                    reflected: Some(r),
                });
            }
        }
        let key = Key {
            rule: changed.as_ref().map(|(i, _)| *i),
            ..key
        };
        if let Some(out) = self.cache.get(&key) {
            return out.clone().map(Outgoing::plain);
        }
        let changed_route;
        let route = match changed {
            Some((_, a)) => {
                changed_route = Route {
                    attrs: Arc::new(a),
                    ..route.clone()
                };
                &changed_route
            }
            None => route,
        };
        if self.cache.len() >= CACHE_MAX {
            // Start afresh; rewritten sets that messages still hold stay
            // (and are found again by the interner while they do).
            self.cache.clear();
            self.sweep();
        }
        let out = export(local, route, family, target).map(|mut a| {
            if tags != 0 {
                filter.apply(tags, &mut a);
            }
            self.out.intern(a)
        });
        self.cache.insert(key, out.clone());
        out.map(Outgoing::plain)
    }

    /// Drops the entries of a source about to be dropped (its session went).
    pub fn forget_source(&mut self, source: &Arc<Source>) {
        let p = Arc::as_ptr(source) as usize;
        self.cache.retain(|k, _| k.source != p);
        self.trim();
    }

    /// Gives back what a departed session's entries took.
    fn trim(&mut self) {
        if self.cache.capacity() > 4 * self.cache.len() + 64 {
            self.cache.shrink_to(2 * self.cache.len());
        }
    }

    /// Drops the entries of attribute sets about to be dropped.
    pub fn forget_attrs(&mut self, dead: &[Arc<RouteAttrs>]) {
        if dead.is_empty() {
            return;
        }
        let gone: hashbrown::HashSet<usize> = dead.iter().map(|a| Arc::as_ptr(a) as usize).collect();
        self.cache.retain(|k, _| !gone.contains(&k.attrs));
        self.trim();
    }

    /// Forgets everything (the rules changed).
    pub fn clear(&mut self) {
        self.cache = HashMap::new();
        self.sweep();
    }

    /// Drops rewritten sets no entry or message holds any more.
    pub fn sweep(&mut self) {
        drop(self.out.sweep());
    }

    /// Cache entries.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Rewritten attribute sets held.
    pub fn sets(&self) -> usize {
        self.out.len()
    }

    /// Classes with at least one peer.
    pub fn classes(&self) -> usize {
        self.classes.iter().flatten().count()
    }

    pub fn heap_bytes(&self) -> usize {
        self.cache.allocation_size() + self.out.heap_bytes()
    }
}
