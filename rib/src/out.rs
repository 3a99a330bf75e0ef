//! One peer's side of the Adj-RIB-Out (RFC 4271 §3.2), without a copy of
//! the routes: a bit per prefix says whether the peer holds a route from
//! us, and what it holds is always what the export rules make of the
//! table's current best (or, with ADD-PATH, of each path). So anything we
//! send is computed from the table as it is now, never from a queue of
//! earlier changes: a peer that falls behind is simply told the latest
//! state of every prefix that changed meanwhile ([`PeerOut::dirty`]).
//!
//! Output is bounded: bytes handed to the session and not yet written
//! count against the peer's high mark ([`out_high`], at most
//! [`OUT_HIGH`]); above it nothing more is produced for the peer
//! (OpenBGPD's XOFF, BIRD's cork) until its writer has drained.

use bgp_wire::{Family, NlriEntry, PathId, Prefix, RouteRefresh, SessionCtx, Update};
use bytes::Bytes;
use hashbrown::HashSet;

use crate::bitset::Bitset;
use crate::decision::Route;
use crate::export::{ClassId, Exports};
use crate::filter::Verdict;
use crate::policy::{Local, PrefixFilter, Target};
use crate::shared::Encoded;
use crate::table::{SlotId, Table};
use crate::updates::{write_changes, Change, Outgoing};
use crate::PeerId;

/// Bytes produced for a peer but not yet written, above which the peer
/// gets nothing more until its writer drains; production resumes at half.
pub const OUT_HIGH: usize = 64 * 1024;
/// The least high mark, however many sessions share [`OUT_BUDGET`].
pub const OUT_MIN: usize = 4 * 1024;
/// Unwritten bytes allowed over all sessions. A reflector with thousands
/// of clients that read slower than it produces would otherwise hold
/// `OUT_HIGH` for each (128 MB for 2000); with up to 64 sessions each
/// has the whole of it.
///
/// A round produces for every session before their writers catch up, so
/// this is what a large reflector's peak holds in unwritten UPDATEs.
/// Against 8 MB with at least 8 kB each (`rrscale`, two rounds each, one
/// run): peak RSS 25 MB instead of 30 at 1000 clients and 42 instead of 52
/// at 2000, for 10-20 % more time and CPU (more round trips between the
/// engine and the writers).
pub const OUT_BUDGET: usize = 4 << 20;

/// Each session's high mark when `sessions` share the budget.
pub fn out_high(sessions: usize) -> usize {
    (OUT_BUDGET / sessions.max(1)).clamp(OUT_MIN, OUT_HIGH)
}
/// Changes packed into UPDATEs at a time.
const SLICE: usize = 1024;

/// Encoded UPDATEs for a session.
#[derive(Clone, Debug)]
pub struct Transmit {
    pub peer: PeerId,
    /// The session they are for (a later session must never get them).
    pub epoch: u64,
    pub bytes: Bytes,
}

/// What the export of one prefix needs besides the peer.
pub(crate) struct Ctx<'a> {
    pub table: &'a Table,
    pub exports: &'a mut Exports,
    pub local: &'a Local,
    pub filter: &'a PrefixFilter,
    /// Slices encoded for earlier peers, to share with later ones.
    pub encoded: &'a mut Encoded,
}

/// One established session's output state.
pub(crate) struct PeerOut {
    pub id: PeerId,
    pub epoch: u64,
    pub target: Target,
    pub class: ClassId,
    pub families: Vec<Family>,
    /// Families in which we send several paths (ADD-PATH, RFC 7911).
    pub add_path: Vec<Family>,
    pub ctx: SessionCtx,
    /// Per slot: the peer holds our route (without ADD-PATH), or our path
    /// with identifier 1 (with ADD-PATH).
    held: Bitset,
    /// ADD-PATH paths held with identifiers above 1: (slot, identifier).
    held_more: HashSet<(u32, u32)>,
    /// Routes the peer holds from us (`show protocols all`).
    pub exported: usize,
    /// Slots whose latest state the peer still has to be told.
    pub dirty: Bitset,
    /// Where the next walk over `dirty` starts: slots go out in order.
    cursor: u32,
    /// End-of-RIB is due once the initial table is out (RFC 4724 §2).
    eor_pending: bool,
    /// Enhanced route refresh was negotiated (RFC 7313): a refresh we
    /// answer is framed by BoRR and EoRR.
    pub enhanced_refresh: bool,
    /// Families whose EoRR is due once the refresh is out.
    eorr_pending: Vec<Family>,
    /// Bytes handed to the session, not yet written.
    pub queued: usize,
    /// Above this many queued bytes nothing more is produced ([`out_high`]).
    pub high: usize,
    /// Batches of changes that could not all be encoded.
    pub encode_failures: u64,
}

impl PeerOut {
    pub fn new(id: PeerId, epoch: u64, target: Target, class: ClassId, families: Vec<Family>, ctx: SessionCtx) -> Self {
        PeerOut {
            id,
            epoch,
            target,
            class,
            add_path: ctx.add_path.clone(),
            families,
            ctx,
            held: Bitset::new(),
            held_more: HashSet::new(),
            exported: 0,
            dirty: Bitset::new(),
            cursor: 0,
            eor_pending: true,
            enhanced_refresh: false,
            eorr_pending: Vec::new(),
            queued: 0,
            high: OUT_HIGH,
            encode_failures: 0,
        }
    }

    /// Whether routes of `family` go to this peer, and with ADD-PATH or not.
    pub fn mode(&self, family: Family) -> Option<bool> {
        self.families.contains(&family).then(|| self.add_path.contains(&family))
    }

    /// No room for more output now.
    pub fn full(&self) -> bool {
        self.queued >= self.high
    }

    /// Changes to pack before the UPDATEs are encoded and counted: fewer
    /// when little room is left, so that a slice of distinct attribute
    /// sets (one UPDATE each, about 64 bytes) does not overshoot the high
    /// mark many times over.
    /// With the whole [`OUT_HIGH`] (up to 64 sessions) slices stay
    /// whole: smaller ones pack worse, and cost a reflector of 50 clients
    /// a fifth more time.
    fn slice(&self) -> usize {
        if self.high >= OUT_HIGH {
            return SLICE;
        }
        (self.high.saturating_sub(self.queued) / 64).clamp(16, SLICE)
    }

    /// Room again: production resumes once the writer is down to this.
    pub fn low(&self) -> bool {
        self.queued <= self.high / 2
    }

    /// Behind: some slots still to be told.
    pub fn backlogged(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Slots whose paths the peer holds, counting each held path.
    pub fn held(&self) -> usize {
        self.held.len() + self.held_more.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.held.heap_bytes() + self.dirty.heap_bytes() + self.held_more.allocation_size()
    }

    fn holds(&self, slot: u32, id: u32) -> bool {
        if id <= 1 {
            self.held.contains(slot)
        } else {
            self.held_more.contains(&(slot, id))
        }
    }

    fn set_held(&mut self, slot: u32, id: u32, on: bool) {
        let changed = match (id <= 1, on) {
            (true, true) => self.held.insert(slot),
            (true, false) => self.held.remove(slot),
            (false, true) => self.held_more.insert((slot, id)),
            (false, false) => self.held_more.remove(&(slot, id)),
        };
        if changed {
            if on {
                self.exported += 1;
            } else {
                self.exported -= 1;
            }
        }
    }

    /// Tells the peer `want` for one NLRI entry: an announcement, or a
    /// withdrawal when it holds something and should not.
    fn put(&mut self, slot: u32, prefix: Prefix, id: Option<u32>, want: Option<Outgoing>, out: &mut Vec<Change>) {
        let entry = NlriEntry {
            prefix,
            path_id: id.map(PathId),
        };
        let bit = id.unwrap_or(1);
        match want {
            Some(a) => {
                out.push(Change::send(entry, a));
                self.set_held(slot, bit, true);
            }
            None if self.holds(slot, bit) => {
                out.push(Change::withdraw(entry));
                self.set_held(slot, bit, false);
            }
            None => {}
        }
    }

    /// Everything the peer should now hold of one slot: the best route, or
    /// with ADD-PATH every exported path (and withdrawals of paths gone).
    pub fn emit_slot(&mut self, c: &mut Ctx, slot: u32, out: &mut Vec<Change>) {
        let sid = SlotId(slot);
        let Some(prefix) = c.table.prefix_of(sid) else { return };
        let family = prefix.family();
        let Some(add_path) = self.mode(family) else { return };
        let routes = c.table.paths_of(sid);
        let tags = c.filter.tags(&prefix);
        if !add_path {
            let want = routes.first().and_then(|r| self.wanted(c, &prefix, r, tags));
            self.put(slot, prefix, None, want, out);
            return;
        }
        let mut present: Vec<u32> = Vec::with_capacity(routes.len());
        for r in routes {
            present.push(r.out_id);
            let want = self.wanted(c, &prefix, r, tags);
            self.put(slot, prefix, Some(r.out_id), want, out);
        }
        present.sort_unstable();
        for id in 1..=c.table.high_id(sid) {
            if present.binary_search(&id).is_err() {
                self.put(slot, prefix, Some(id), None, out);
            }
        }
    }

    /// What the peer should now hold of one ADD-PATH path.
    pub fn emit_path(&mut self, c: &mut Ctx, slot: u32, id: u32, out: &mut Vec<Change>) {
        let sid = SlotId(slot);
        let Some(prefix) = c.table.prefix_of(sid) else { return };
        let family = prefix.family();
        if self.mode(family) != Some(true) {
            return;
        }
        let tags = c.filter.tags(&prefix);
        let want = c
            .table
            .paths_of(sid)
            .iter()
            .find(|r| r.out_id == id)
            .and_then(|r| self.wanted(c, &prefix, r, tags));
        self.put(slot, prefix, Some(id), want, out);
    }

    /// What the peer is sent for `r` to `prefix`: its export rules
    /// (Calico's BGPFilter) first, then the node's; `None` for nothing.
    fn wanted(&self, c: &mut Ctx, prefix: &Prefix, r: &Route, tags: u32) -> Option<Outgoing> {
        let class = &self.target.class;
        let verdict = match &class.filter {
            Some(f) => f.check(prefix, r, class.ebgp),
            None => Verdict::Default,
        };
        match verdict {
            Verdict::Reject => None,
            Verdict::Default if !c.filter.admits(prefix, r) => None,
            v => c
                .exports
                .export(c.local, r, prefix.family(), &self.target, self.class, c.filter, tags, v),
        }
    }

    /// Tells the peer about `slots` (best changes) and `paths` (ADD-PATH
    /// path changes) of one round, as long as there is room; the rest
    /// becomes backlog.
    pub fn take_round(
        &mut self,
        c: &mut Ctx,
        slots: &Bitset,
        paths: &[(u32, u32)],
        out: &mut Vec<Change>,
        tx: &mut Vec<Transmit>,
    ) {
        if self.backlogged() || self.full() {
            self.defer(slots, 0, paths);
            return;
        }
        let any_plain = self.families.iter().any(|f| !self.add_path.contains(f));
        if any_plain {
            for s in slots.iter() {
                if self.full() {
                    self.defer(slots, s, paths);
                    return self.flush(c, out, tx);
                }
                self.emit_slot_if_plain(c, s, out);
                if out.len() >= self.slice() {
                    self.flush(c, out, tx);
                }
            }
        }
        if !self.add_path.is_empty() {
            for (i, &(s, id)) in paths.iter().enumerate() {
                if self.full() {
                    self.defer(&Bitset::new(), 0, &paths[i..]);
                    return self.flush(c, out, tx);
                }
                self.emit_path(c, s, id, out);
                if out.len() >= self.slice() {
                    self.flush(c, out, tx);
                }
            }
        }
        self.flush(c, out, tx);
    }

    fn emit_slot_if_plain(&mut self, c: &mut Ctx, slot: u32, out: &mut Vec<Change>) {
        let plain = c
            .table
            .prefix_of(SlotId(slot))
            .is_some_and(|p| self.mode(p.family()) == Some(false));
        if plain {
            self.emit_slot(c, slot, out);
        }
    }

    /// Remembers slots (those of `slots` from `from` on) to tell later:
    /// the latest state goes out then.
    fn defer(&mut self, slots: &Bitset, from: u32, paths: &[(u32, u32)]) {
        for s in slots.iter_from(from) {
            self.dirty.insert(s);
        }
        if !self.add_path.is_empty() {
            for &(s, _) in paths {
                self.dirty.insert(s);
            }
        }
    }

    /// Marks every slot below `n` (of `family`, or all) to be told again:
    /// a new session's table, a ROUTE-REFRESH (RFC 2918), new rules.
    pub fn mark_all(&mut self, table: &Table, family: Option<Family>) {
        match family {
            None => self.dirty.fill(table.slot_count()),
            Some(f) => {
                for (s, p) in table.slots() {
                    if p.family() == f {
                        self.dirty.insert(s.0);
                    }
                }
            }
        }
        self.cursor = 0;
    }

    /// Works off the backlog in slot order while there is room; sends
    /// End-of-RIB once the initial table is out.
    pub fn drain(&mut self, c: &mut Ctx, out: &mut Vec<Change>, tx: &mut Vec<Transmit>) {
        while !self.full() {
            let next = self.dirty.next_from(self.cursor).or_else(|| self.dirty.next_from(0));
            let Some(s) = next else { break };
            self.dirty.remove(s);
            self.cursor = s + 1;
            self.emit_slot(c, s, out);
            if out.len() >= self.slice() {
                self.flush(c, out, tx);
            }
        }
        let done = self.dirty.is_empty();
        if done {
            // A backlog once worked off gives its memory back.
            self.dirty.clear();
            self.cursor = 0;
        }
        if done && self.eor_pending {
            self.eor_pending = false;
            self.flush_with_eor(c, out, tx);
        } else {
            self.flush(c, out, tx);
        }
        if done && !self.eor_pending && !self.eorr_pending.is_empty() {
            // RFC 7313 §4: EoRR once the whole family has gone out again.
            let ends: Vec<RouteRefresh> = self.eorr_pending.drain(..).map(RouteRefresh::end).collect();
            self.markers(&ends, tx);
        }
    }

    /// A ROUTE-REFRESH from the peer asks for `family` again: with
    /// enhanced route refresh, BoRR goes first and EoRR follows the
    /// family (RFC 7313 §4). The caller drains.
    pub fn refresh(&mut self, table: &Table, family: Family, tx: &mut Vec<Transmit>) {
        if self.enhanced_refresh {
            self.markers(&[RouteRefresh::begin(family)], tx);
            if !self.eorr_pending.contains(&family) {
                self.eorr_pending.push(family);
            }
        }
        self.mark_all(table, Some(family));
    }

    /// Queues ROUTE-REFRESH messages (BoRR, EoRR) behind what is queued.
    fn markers(&mut self, m: &[RouteRefresh], tx: &mut Vec<Transmit>) {
        let mut buf = bytes::BytesMut::new();
        for r in m {
            let _ = bgp_wire::Message::RouteRefresh(*r).encode(&mut buf, &self.ctx);
        }
        self.queued += buf.len();
        tx.push(Transmit {
            peer: self.id,
            epoch: self.epoch,
            bytes: buf.freeze(),
        });
    }

    fn flush(&mut self, c: &mut Ctx, out: &mut Vec<Change>, tx: &mut Vec<Transmit>) {
        self.encode(c, out, &[], tx);
    }

    fn flush_with_eor(&mut self, c: &mut Ctx, out: &mut Vec<Change>, tx: &mut Vec<Transmit>) {
        let families = self.families.clone();
        self.encode(c, out, &families, tx);
    }

    /// Writes `out` as UPDATEs (then End-of-RIB for `eor`) and queues
    /// their bytes for the session; an earlier peer's bytes when it was
    /// sent the same ([`Encoded`]).
    fn encode(&mut self, c: &mut Ctx, out: &mut Vec<Change>, eor: &[Family], tx: &mut Vec<Transmit>) {
        if out.is_empty() && eor.is_empty() {
            return;
        }
        let bytes = match c.encoded.find(&self.ctx, out, eor) {
            Some(b) => b,
            None => {
                // Remembered as produced: writing sorts them.
                let as_produced = c.encoded.worth_keeping().then(|| out.clone());
                let b = self.write(out, eor);
                if let Some(changes) = as_produced {
                    c.encoded.keep(&self.ctx, changes, eor, &b);
                }
                b
            }
        };
        out.clear();
        if bytes.is_empty() {
            return;
        }
        self.queued += bytes.len();
        tx.push(Transmit {
            peer: self.id,
            epoch: self.epoch,
            bytes,
        });
    }

    /// `out` as UPDATEs, then End-of-RIB for `eor`.
    fn write(&mut self, out: &mut [Change], eor: &[Family]) -> Bytes {
        let mut buf = bytes::BytesMut::new();
        if write_changes(out, &self.ctx, &mut buf).is_err() {
            // Only an attribute set with no wire form (an AS_PATH segment
            // over 255 ASes, say) gets here; what is written stays.
            self.encode_failures += 1;
        }
        for f in eor {
            // End-of-RIB (RFC 4724 §2) always fits.
            let _ = bgp_wire::Message::Update(Box::new(Update::end_of_rib(*f))).encode(&mut buf, &self.ctx);
        }
        if self.high < OUT_HIGH {
            fitted(buf)
        } else {
            buf.freeze()
        }
    }
}

/// The bytes of `buf` in an allocation of their size when it grew well
/// past them: what waits for a slow peer then costs what it says (a
/// buffer that doubled as it filled can be nearly half empty, and
/// thousands of sessions each hold one). Only where sessions share the
/// budget: the copy costs time that a few sessions need not spend.
fn fitted(buf: bytes::BytesMut) -> Bytes {
    if buf.capacity() - buf.len() > 1024 {
        Bytes::copy_from_slice(&buf)
    } else {
        buf.freeze()
    }
}
