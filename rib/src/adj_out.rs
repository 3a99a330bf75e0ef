//! Adj-RIB-Out of one peer: what it was last sent, so that only changes go
//! out, a route that stops being exported is withdrawn, and a
//! ROUTE-REFRESH can be answered with everything.

use std::collections::HashMap;
use std::sync::Arc;

use bgp_wire::{Family, NlriEntry, Prefix};

use crate::attrs::RouteAttrs;

/// Routes sent to one peer, by prefix (one path per prefix for now).
#[derive(Debug, Default)]
pub struct AdjRibOut {
    sent: HashMap<Prefix, Arc<RouteAttrs>>,
}

/// A change to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Announce(Prefix, Arc<RouteAttrs>),
    Withdraw(Prefix),
}

impl AdjRibOut {
    /// Records what the peer should now have for `prefix` (`None`: nothing)
    /// and returns the change to send, if any. Attributes compare by value,
    /// so re-exporting the same route sends nothing.
    pub fn set(&mut self, prefix: Prefix, attrs: Option<Arc<RouteAttrs>>) -> Option<Change> {
        match attrs {
            Some(a) => {
                if self
                    .sent
                    .get(&prefix)
                    .is_some_and(|old| Arc::ptr_eq(old, &a) || **old == *a)
                {
                    return None;
                }
                self.sent.insert(prefix, a.clone());
                Some(Change::Announce(prefix, a))
            }
            None => self.sent.remove(&prefix).map(|_| Change::Withdraw(prefix)),
        }
    }

    /// Everything sent, for a ROUTE-REFRESH (RFC 2918) or a new session.
    pub fn all(&self) -> impl Iterator<Item = (&Prefix, &Arc<RouteAttrs>)> {
        self.sent.iter()
    }

    /// Forgets everything (session down).
    pub fn clear(&mut self) {
        self.sent.clear();
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}

/// The changes of one family, as [`crate::updates::pack`] takes them.
#[derive(Debug, Default)]
pub struct FamilyChanges {
    pub family: Option<Family>,
    pub announce: Vec<(NlriEntry, Arc<RouteAttrs>)>,
    pub withdraw: Vec<NlriEntry>,
}

/// Splits changes by family.
pub fn by_family(changes: &[Change]) -> Vec<FamilyChanges> {
    let mut out: Vec<FamilyChanges> = Vec::new();
    for c in changes {
        let (p, a) = match c {
            Change::Announce(p, a) => (*p, Some(a.clone())),
            Change::Withdraw(p) => (*p, None),
        };
        let f = p.family();
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
        match a {
            Some(a) => out[i].announce.push((NlriEntry::new(p), a)),
            None => out[i].withdraw.push(NlriEntry::new(p)),
        }
    }
    out
}
