//! Adj-RIB-Out (RFC 4271 §3.2) without a copy per peer. What a peer has
//! been sent is a function of the Loc-RIB and that peer's export rules,
//! so instead of storing it, each table change ([`Delta`]) is run through
//! the rules twice, before and after, and the difference is sent. A full
//! send (new session, ROUTE-REFRESH per RFC 2918) walks the table. This is
//! how BIRD works too, and it saves a map entry per route and peer.
//!
//! Without ADD-PATH a peer gets the best route of each prefix; with
//! ADD-PATH send negotiated (RFC 7911) it gets every path that passes
//! export, each under the identifier the table gave it.

use hashbrown::HashMap;
use std::sync::Arc;

use bgp_wire::{Family, NlriEntry, PathId, Prefix};

use crate::attrs::RouteAttrs;
use crate::decision::Route;
use crate::table::{same, Delta};

/// A change to send: announce (with attributes) or withdraw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub entry: NlriEntry,
    pub attrs: Option<Arc<RouteAttrs>>,
}

impl Change {
    pub fn announce(entry: NlriEntry, attrs: Arc<RouteAttrs>) -> Change {
        Change {
            entry,
            attrs: Some(attrs),
        }
    }

    pub fn withdraw(entry: NlriEntry) -> Change {
        Change { entry, attrs: None }
    }
}

fn entry(prefix: Prefix, add_path: bool, r: &Route) -> NlriEntry {
    NlriEntry {
        prefix,
        path_id: add_path.then_some(PathId(r.out_id)),
    }
}

/// What a peer is sent for one table change, and how the count of
/// routes exported to it moves (+1, 0, -1). `add_path`: the peer takes
/// several paths per prefix. `export` gives what a route becomes for this
/// peer (`None`: not sent); it must return interned attributes, so that
/// equal sets compare by pointer and an unchanged export sends nothing.
pub fn change_for(
    d: &Delta,
    add_path: bool,
    mut export: impl FnMut(&Route) -> Option<Arc<RouteAttrs>>,
) -> Option<(Change, i8)> {
    let (old, new) = if add_path {
        (d.before.as_ref(), d.after.as_ref())
    } else {
        let (o, n) = d.best.as_ref()?;
        (o.as_ref(), n.as_ref())
    };
    let e = entry(d.prefix, add_path, new.or(old)?);
    match (old.and_then(&mut export), new.and_then(&mut export)) {
        (None, None) => None,
        (Some(a), Some(b)) if Arc::ptr_eq(&a, &b) => None,
        (Some(_), Some(b)) => Some((Change::announce(e, b), 0)),
        (None, Some(b)) => Some((Change::announce(e, b), 1)),
        (Some(_), None) => Some((Change::withdraw(e), -1)),
    }
}

/// Everything a peer is sent for one prefix (`routes`, the best first):
/// the best route, or with ADD-PATH every exported path.
pub fn announcements<'a>(
    prefix: Prefix,
    routes: &'a [Route],
    add_path: bool,
    mut export: impl FnMut(&Route) -> Option<Arc<RouteAttrs>> + 'a,
) -> impl Iterator<Item = Change> + 'a {
    let take = if add_path { routes.len() } else { routes.len().min(1) };
    routes[..take]
        .iter()
        .filter_map(move |r| export(r).map(|a| Change::announce(entry(prefix, add_path, r), a)))
}

/// The net change of each prefix's best route over a batch of deltas (the
/// first route before, the last after), in the order prefixes first
/// appear, without the prefixes that ended where they began: all that a
/// peer without ADD-PATH needs from the batch. Path changes are dropped.
pub fn net_best(deltas: &[Delta]) -> Vec<Delta> {
    let mut at: HashMap<Prefix, usize> = HashMap::with_capacity(deltas.len());
    let mut out: Vec<Delta> = Vec::new();
    for d in deltas {
        let Some((old, new)) = &d.best else { continue };
        match at.get(&d.prefix) {
            Some(&i) => {
                if let Some(b) = &mut out[i].best {
                    b.1 = new.clone();
                }
            }
            None => {
                at.insert(d.prefix, out.len());
                out.push(Delta {
                    prefix: d.prefix,
                    before: None,
                    after: None,
                    best: Some((old.clone(), new.clone())),
                });
            }
        }
    }
    out.retain(|d| d.best.as_ref().is_some_and(|(o, n)| !same(o.as_ref(), n.as_ref())));
    out
}

/// Keeps only the last change per NLRI entry (prefix and path identifier),
/// in the order entries first appeared. Needed when one batch touched a
/// prefix twice: the UPDATEs send withdrawals before announcements, so an
/// announce-then-withdraw pair would otherwise arrive the wrong way round.
pub fn coalesce(changes: &mut Vec<Change>) {
    let mut at: HashMap<NlriEntry, usize> = HashMap::with_capacity(changes.len());
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    for c in changes.drain(..) {
        match at.get(&c.entry) {
            Some(&i) => out[i] = c,
            None => {
                at.insert(c.entry, out.len());
                out.push(c);
            }
        }
    }
    *changes = out;
}

/// The changes of one family, as [`crate::updates::pack`] takes them.
#[derive(Debug, Default)]
pub struct FamilyChanges {
    pub family: Option<Family>,
    pub announce: Vec<(NlriEntry, Arc<RouteAttrs>)>,
    pub withdraw: Vec<NlriEntry>,
}

/// Splits changes by family.
pub fn by_family(changes: Vec<Change>) -> Vec<FamilyChanges> {
    let mut out: Vec<FamilyChanges> = Vec::new();
    for c in changes {
        let f = c.entry.prefix.family();
        let i = match out.iter().position(|x| x.family == Some(f)) {
            Some(i) => i,
            None => {
                out.push(FamilyChanges {
                    family: Some(f),
                    ..FamilyChanges::default()
                });
                out.len() - 1
            }
        };
        match c.attrs {
            Some(a) => out[i].announce.push((c.entry, a)),
            None => out[i].withdraw.push(c.entry),
        }
    }
    out
}
