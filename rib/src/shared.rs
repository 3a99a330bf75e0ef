//! Update groups in their simplest form: peers that are to be sent the
//! same changes in the same session setting get one encoding, and share
//! its bytes.
//!
//! Peers of one export class that keep up with the table (a reflector's
//! clients at steady state, a mesh node's peers) are told the same
//! changes in the same order, so the slices of changes they produce in a
//! round come out equal. The first peer's UPDATEs are remembered here, and
//! every later peer whose slice equals it is handed the same `Bytes`: one
//! encoding instead of one per peer, and one buffer in memory however
//! many writers still have it to write. Peers that fell behind produce
//! other slices and encode their own, as before; nothing has to track who
//! is in step with whom.

use std::collections::VecDeque;

use bgp_wire::{Family, SessionCtx};
use bytes::Bytes;

use crate::updates::Change;

/// Slices remembered: a round gives a peer at most a few (its room is
/// [`crate::out::OUT_HIGH`] at most), and peers take their turns one after
/// another.
const RECENT: usize = 16;

/// One slice and what it was encoded to.
struct Slice {
    ctx: SessionCtx,
    eor: Vec<Family>,
    changes: Vec<Change>,
    bytes: Bytes,
}

/// Recently encoded slices. Cleared after every round, so what it holds
/// beyond the writers' own queues is at most [`RECENT`] slices.
#[derive(Default)]
pub(crate) struct Encoded {
    recent: VecDeque<Slice>,
    /// Slices handed out again instead of being encoded.
    pub shared: u64,
    /// Slices encoded while more than one session was up.
    pub encoded: u64,
    /// Sessions up: with one, nothing is remembered.
    pub sessions: usize,
}

impl Encoded {
    /// The bytes a slice equal to `changes` (then End-of-RIB for `eor`)
    /// was encoded to for a session like `ctx`, if one was.
    pub fn find(&mut self, ctx: &SessionCtx, changes: &[Change], eor: &[Family]) -> Option<Bytes> {
        let hit = self
            .recent
            .iter()
            .find(|s| s.changes.len() == changes.len() && s.eor == eor && s.ctx == *ctx && s.changes == changes)?
            .bytes
            .clone();
        self.shared += 1;
        Some(hit)
    }

    /// Whether a slice could be shared at all: more than one session.
    pub fn worth_keeping(&self) -> bool {
        self.sessions > 1
    }

    /// Remembers what `changes` (as produced, before writing sorted them)
    /// were encoded to.
    pub fn keep(&mut self, ctx: &SessionCtx, changes: Vec<Change>, eor: &[Family], bytes: &Bytes) {
        self.encoded += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(Slice {
            ctx: ctx.clone(),
            eor: eor.to_vec(),
            changes,
            bytes: bytes.clone(),
        });
    }

    /// Forgets every slice (the round is over; the bytes live on in the
    /// writers' queues only).
    pub fn clear(&mut self) {
        self.recent = VecDeque::new();
    }
}
