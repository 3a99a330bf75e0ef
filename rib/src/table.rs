//! The table: every usable route per prefix (Adj-RIB-In after import
//! checks, all peers together) and the best one of each (Loc-RIB).

use std::collections::HashMap;

use bgp_wire::Prefix;

use crate::decision::{best, Route};
use crate::PeerId;

/// Routes to one prefix, the best first once [`Table`] has placed it.
#[derive(Debug, Default)]
struct Dest {
    routes: Vec<Route>,
}

/// Adj-RIB-In of every peer and the Loc-RIB, keyed by prefix.
#[derive(Debug, Default)]
pub struct Table {
    dests: HashMap<Prefix, Dest>,
    routes: usize,
}

fn same_path(r: &Route, peer: Option<PeerId>, path_id: u32) -> bool {
    r.source.peer == peer && r.path_id == path_id
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// Puts the best route first; returns whether the best changed.
    fn reselect(d: &mut Dest, before: Option<(Option<PeerId>, u32, *const crate::RouteAttrs)>) -> bool {
        if let Some(i) = best(&d.routes) {
            d.routes.swap(0, i);
        }
        let after = d
            .routes
            .first()
            .map(|r| (r.source.peer, r.path_id, std::sync::Arc::as_ptr(&r.attrs)));
        before != after
    }

    fn best_key(d: &Dest) -> Option<(Option<PeerId>, u32, *const crate::RouteAttrs)> {
        d.routes
            .first()
            .map(|r| (r.source.peer, r.path_id, std::sync::Arc::as_ptr(&r.attrs)))
    }

    /// Adds or replaces the route of (`route.source.peer`, `route.path_id`).
    /// Returns whether the prefix's best route changed.
    pub fn update(&mut self, prefix: Prefix, route: Route) -> bool {
        let d = self.dests.entry(prefix).or_default();
        let before = Self::best_key(d);
        match d
            .routes
            .iter_mut()
            .find(|r| same_path(r, route.source.peer, route.path_id))
        {
            Some(r) => *r = route,
            None => {
                d.routes.push(route);
                self.routes += 1;
            }
        }
        Self::reselect(d, before)
    }

    /// Removes one path. Returns whether the best route changed.
    pub fn withdraw(&mut self, prefix: &Prefix, peer: Option<PeerId>, path_id: u32) -> bool {
        let Some(d) = self.dests.get_mut(prefix) else {
            return false;
        };
        let before = Self::best_key(d);
        let n = d.routes.len();
        d.routes.retain(|r| !same_path(r, peer, path_id));
        self.routes -= n - d.routes.len();
        let changed = Self::reselect(d, before);
        if d.routes.is_empty() {
            self.dests.remove(prefix);
        }
        changed
    }

    /// Removes every route of a peer (session down). Returns the prefixes
    /// whose best route changed.
    pub fn remove_peer(&mut self, peer: PeerId) -> Vec<Prefix> {
        let mut changed = Vec::new();
        let mut removed = 0;
        self.dests.retain(|p, d| {
            let before = Self::best_key(d);
            let n = d.routes.len();
            d.routes.retain(|r| r.source.peer != Some(peer));
            removed += n - d.routes.len();
            if Self::reselect(d, before) {
                changed.push(*p);
            }
            !d.routes.is_empty()
        });
        self.routes -= removed;
        changed
    }

    /// The best route to `prefix`.
    pub fn best(&self, prefix: &Prefix) -> Option<&Route> {
        self.dests.get(prefix).and_then(|d| d.routes.first())
    }

    /// Every route to `prefix`, the best first.
    pub fn routes(&self, prefix: &Prefix) -> &[Route] {
        self.dests.get(prefix).map_or(&[], |d| &d.routes)
    }

    /// Prefixes with at least one route.
    pub fn prefixes(&self) -> impl Iterator<Item = &Prefix> {
        self.dests.keys()
    }

    /// Number of prefixes (networks).
    pub fn len(&self) -> usize {
        self.dests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
    }

    /// Number of routes (paths) over all prefixes.
    pub fn route_count(&self) -> usize {
        self.routes
    }
}
