//! `rib`: BGP tables, best path selection, route reflection and export
//! rules. No I/O: the daemon feeds [`Engine`] what its sessions receive
//! and sends what it produces.
//!
//! - [`engine`]: the engine itself: inputs in, encoded UPDATEs and
//!   best-path changes out, in rounds that settle each prefix.
//! - [`out`]: one session's Adj-RIB-Out as a bit per prefix, its backlog
//!   and its bounded output.
//! - [`export`]: the export rules' results, cached per export class.
//! - [`attrs`]: route attributes, interned so equal sets share one `Arc`.
//! - [`decision`]: RFC 4271 §9.1.2.2 with RFC 4456 §9, returning the
//!   deciding step.
//! - [`table`]: every usable route per prefix (Adj-RIB-In of all peers)
//!   with the best first (Loc-RIB), in slots with stable numbers.
//! - [`policy`]: loop checks on import (AS_PATH with an allowed count of
//!   our AS, ORIGINATOR_ID, CLUSTER_LIST) and the export rules (split
//!   horizon, RFC 4456 reflection, eBGP prepend / next hop self / no
//!   LOCAL_PREF, NO_EXPORT / NO_ADVERTISE, unknown attributes).
//! - [`updates`]: what a received UPDATE means (treat-as-withdraw
//!   included), and packing changes into as few UPDATEs as fit.
//! - [`fib`]: what the kernel's forwarding table should hold for a
//!   prefix: next hops, ECMP, IPIP per pool.
//! - [`filter`]: per-peer import and export rules (Calico's BGPFilter).
//! - [`glob`]: BIRD's `*`/`?` patterns.
//! - [`bitset`]: sets of slot numbers.

#![forbid(unsafe_code)]

pub mod attrs;
pub mod bitset;
pub mod decision;
pub mod engine;
pub mod export;
pub mod fib;
pub mod filter;
pub mod glob;
pub mod out;
pub mod policy;
mod shared;
pub mod table;
pub mod updates;

/// A peer. The daemon numbers peers by name, once per process, so a peer
/// keeps its number across configuration reloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "peer {}", self.0)
    }
}

pub use attrs::{Interner, RouteAttrs};
pub use decision::{compare, IgpCost, Protocol, Reason, Route, Source};
pub use engine::{
    BestChange, Engine, LimitEvent, LocalRoute, MemoryCounts, PeerCounts, PeerPolicy, Session, SubscriberId,
};
pub use filter::{RouteFilter, Verdict};
pub use out::Transmit;
pub use policy::{
    check_import, check_import_as, export, Advertise, ExportClass, Ineligible, Local, PrefixFilter, Target,
};
pub use table::{Delta, PathRef, SlotId, Table};
pub use updates::{path_attributes, Change, Outgoing, Reflected};
