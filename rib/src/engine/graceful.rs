//! Graceful restart, receiving side (RFC 4724 §4.2): when a peer that
//! announced graceful restart loses its session without a NOTIFICATION,
//! its routes stay (stale) in the table, and so in the kernel and towards
//! other peers, while it restarts. When it is back, what it sends
//! replaces them; End-of-RIB for a family, or the caller's timer, removes
//! what it did not send again.
//!
//! A route is stale when its source is not the peer's current session:
//! routes of a session lost, of one before it that was lost before its
//! End-of-RIB (two restarts in quick succession), or, while the peer is
//! away, all of them.

use std::sync::Arc;
use std::time::Instant;

use bgp_wire::Family;

use super::{Engine, PeerCounts};
use crate::decision::Source;
use crate::PeerId;

/// A peer in graceful restart.
pub(super) struct Stale {
    /// Families whose stale routes are still kept.
    families: Vec<Family>,
    /// Sessions whose routes may still be in the table.
    pub(super) sources: Vec<Arc<Source>>,
}

impl Engine {
    /// The session of `peer` was lost without a NOTIFICATION, and the peer
    /// announced graceful restart for `families`: their routes are kept,
    /// stale, until it is back with End-of-RIB or [`Engine::stale_timeout`].
    /// Routes of other families go at once.
    pub fn peer_lost(&mut self, peer: PeerId, families: &[Family], now: Instant) {
        let Some(source) = self.peers.get(&peer).map(|p| p.source.clone()) else {
            return;
        };
        self.remove_routes(peer, |p, _| !families.contains(&p.family()), now);
        let st = self.stale.entry(peer).or_insert_with(|| Stale {
            families: Vec::new(),
            sources: Vec::new(),
        });
        st.families = families.to_vec();
        st.sources.push(source);
        self.close_session(peer);
        if self.stale.get(&peer).is_some_and(|s| s.families.is_empty()) {
            self.finish(peer);
        }
    }

    /// Whether `peer` has stale routes.
    pub fn is_stale(&self, peer: PeerId) -> bool {
        self.stale.contains_key(&peer)
    }

    /// A new session of a peer in graceful restart: families whose
    /// forwarding state it did not keep (no F bit now, RFC 4724 §4.2) lose
    /// their stale routes at once. Returns the peer's route counts.
    pub(super) fn reestablished(&mut self, peer: PeerId, preserved: &[Family], now: Instant) -> PeerCounts {
        if let Some(st) = self.stale.get_mut(&peer) {
            let gone: Vec<Family> = st.families.iter().filter(|f| !preserved.contains(f)).copied().collect();
            st.families.retain(|f| preserved.contains(f));
            if !gone.is_empty() {
                self.remove_routes(peer, |p, _| gone.contains(&p.family()), now);
            }
            if self.stale.get(&peer).is_some_and(|s| s.families.is_empty()) {
                self.finish(peer);
            }
        }
        // Its stale routes count as its own until they go.
        let mut counts = PeerCounts::default();
        for (_, routes) in self.table.iter() {
            for (i, r) in routes.iter().enumerate() {
                if r.source.peer == Some(peer) {
                    counts.imported += 1;
                    if i == 0 {
                        counts.preferred += 1;
                    }
                }
            }
        }
        counts
    }

    /// End-of-RIB for `family` from `peer`, or with `None` the end of the
    /// wait: stale routes (of the family) that were not sent again go.
    pub(super) fn sweep_stale(&mut self, peer: PeerId, family: Option<Family>, now: Instant) {
        let Some(st) = self.stale.get_mut(&peer) else { return };
        match family {
            Some(f) => st.families.retain(|x| *x != f),
            None => st.families.clear(),
        }
        let current = self.peers.get(&peer).map(|p| p.source.clone());
        let is_stale = |r: &crate::decision::Route| current.as_ref().is_none_or(|c| !Arc::ptr_eq(c, &r.source));
        self.remove_routes(peer, |p, r| family.is_none_or(|f| p.family() == f) && is_stale(r), now);
        if self.stale.get(&peer).is_some_and(|s| s.families.is_empty()) {
            self.finish(peer);
        }
    }

    /// The caller's timer for `peer` ran out (its restart time while it
    /// was away, or a longer wait for its End-of-RIB once back).
    pub fn stale_timeout(&mut self, peer: PeerId, now: Instant) {
        self.sweep_stale(peer, None, now);
    }

    /// Graceful restart of `peer` is over: the lost sessions' cache
    /// entries go.
    pub(super) fn finish(&mut self, peer: PeerId) {
        if let Some(st) = self.stale.remove(&peer) {
            for s in &st.sources {
                self.exports.forget_source(s);
            }
            self.sweep();
        }
    }
}
