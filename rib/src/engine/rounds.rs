//! Rounds: what changed since the last one goes to every session and
//! consumer at once, settled; sessions that fell behind work off their
//! backlog as their writers drain; emptied slots are freed once nobody
//! still has to be told about them.

use std::collections::BTreeMap;
use std::time::Instant;

use hashbrown::HashSet;

use super::{BestChange, Engine, Peer, Subscriber, SubscriberId, MAX_DEFER};
use crate::out::{Ctx, PeerOut, Transmit};
use crate::table::SlotId;
use crate::updates::Change;
use crate::PeerId;

impl Engine {
    /// Whether changes have waited long enough that a round should run
    /// even though more input is on its way.
    pub fn round_due(&self, now: Instant) -> bool {
        self.round_deadline().is_some_and(|t| now >= t)
    }

    /// When the waiting changes must go out at the latest.
    pub fn round_deadline(&self) -> Option<Instant> {
        self.window.opened.map(|t| t + MAX_DEFER)
    }

    /// Changes are waiting for a round.
    pub fn round_pending(&self) -> bool {
        self.window.opened.is_some()
    }

    /// Tells every session and consumer what changed since the last round.
    pub fn round(&mut self) {
        if self.window.opened.take().is_none() {
            return;
        }
        let slots = std::mem::take(&mut self.window.best);
        let changed = std::mem::take(&mut self.window.changed);
        let paths = std::mem::take(&mut self.window.paths);
        self.window.seen.clear();
        let (peers, mut c, scratch, transmits) = self.parts();
        for p in peers.values_mut() {
            p.out.take_round(&mut c, &slots, &paths, scratch, transmits);
            if p.out.backlogged() && p.out.low() {
                p.out.drain(&mut c, scratch, transmits);
            }
        }
        // What the round's slices are still needed for is in the writers'
        // queues; drains until the next round may share among themselves.
        c.encoded.clear();
        for s in self.subscribers.iter_mut() {
            for slot in changed.iter() {
                s.pending.insert(slot);
            }
        }
        if self.window.seen.capacity() > 4096 {
            self.window.seen = HashSet::new();
        }
        self.release_zombies();
    }

    /// Every encoded UPDATE waiting, in order.
    pub fn take_transmits(&mut self) -> Vec<Transmit> {
        std::mem::take(&mut self.transmits)
    }

    /// A new consumer of best-path changes; it starts with every prefix.
    pub fn subscribe(&mut self) -> SubscriberId {
        let mut s = Subscriber::default();
        for (slot, _) in self.table.slots() {
            s.pending.insert(slot.0);
        }
        self.subscribers.push(s);
        SubscriberId(self.subscribers.len() - 1)
    }

    /// Up to `max` prefixes whose routes changed since the consumer last
    /// asked, each with its routes now, the best first.
    pub fn poll_best(&mut self, sub: SubscriberId, max: usize) -> Vec<BestChange> {
        let Some(s) = self.subscribers.get_mut(sub.0) else {
            return Vec::new();
        };
        let now: Vec<u32> = s.pending.iter().take(max).collect();
        for &slot in &now {
            s.pending.remove(slot);
        }
        if s.pending.is_empty() {
            s.pending.clear();
        }
        let out = now
            .iter()
            .filter_map(|&slot| {
                let prefix = self.table.prefix_of(SlotId(slot))?;
                let routes = self.table.paths_of(SlotId(slot)).to_vec();
                Some(BestChange { prefix, routes })
            })
            .collect();
        self.release_zombies();
        out
    }

    /// The consumer is to be given every prefix again (its rules changed).
    pub fn resend(&mut self, sub: SubscriberId) {
        if let Some(s) = self.subscribers.get_mut(sub.0) {
            for (slot, _) in self.table.slots() {
                s.pending.insert(slot.0);
            }
        }
    }

    /// The consumer has been given every change so far (none is waiting
    /// for a round either).
    pub fn subscriber_idle(&self, sub: SubscriberId) -> bool {
        self.window.opened.is_none() && self.subscribers.get(sub.0).is_none_or(|s| s.pending.is_empty())
    }

    /// Every session has been told everything and has written it.
    pub fn output_idle(&self) -> bool {
        self.window.opened.is_none()
            && self.transmits.is_empty()
            && self.peers.values().all(|p| p.out.queued == 0 && !p.out.backlogged())
    }

    /// Works off a peer's backlog as far as its room allows.
    pub(super) fn drain(&mut self, peer: PeerId) {
        let (peers, mut c, scratch, transmits) = self.parts();
        if let Some(p) = peers.get_mut(&peer) {
            p.out.drain(&mut c, scratch, transmits);
        }
    }

    /// The sessions, and apart from them what producing for one takes.
    #[allow(clippy::type_complexity)]
    fn parts(
        &mut self,
    ) -> (
        &mut BTreeMap<PeerId, Peer>,
        Ctx<'_>,
        &mut Vec<Change>,
        &mut Vec<Transmit>,
    ) {
        let Engine {
            peers,
            table,
            exports,
            local,
            filter,
            transmits,
            scratch,
            encoded,
            ..
        } = self;
        encoded.sessions = peers.len();
        let c = Ctx {
            table,
            exports,
            local,
            filter,
            encoded,
        };
        (peers, c, scratch, transmits)
    }

    /// Frees emptied slots nobody still has to be told about. Peers that
    /// took their last round told themselves (an empty slot withdraws
    /// whatever they held); only backlogged peers and consumers can still
    /// need one.
    pub(super) fn release_zombies(&mut self) {
        if self.zombies.is_empty() {
            return;
        }
        let Engine {
            zombies,
            table,
            peers,
            subscribers,
            window,
            ..
        } = self;
        let behind: Vec<&PeerOut> = peers.values().map(|p| &p.out).filter(|o| o.backlogged()).collect();
        zombies.retain(|&s| {
            let slot = SlotId(s);
            if !table.paths_of(slot).is_empty() || table.prefix_of(slot).is_none() {
                return false;
            }
            let needed = window.best.contains(s)
                || window.changed.contains(s)
                || behind.iter().any(|o| o.dirty.contains(s))
                || subscribers.iter().any(|x| x.pending.contains(s));
            if !needed {
                table.release(slot);
            }
            needed
        });
        if zombies.capacity() > 4096 && zombies.len() < zombies.capacity() / 4 {
            zombies.shrink_to_fit();
        }
    }
}
