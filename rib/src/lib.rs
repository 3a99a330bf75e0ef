//! `rib`: BGP tables, best path selection, route reflection and export
//! rules. No I/O: the daemon feeds it routes and asks what to send.
//!
//! - [`attrs`]: route attributes, interned so equal sets share one `Arc`.
//! - [`decision`]: RFC 4271 §9.1.2.2 with RFC 4456 §9, returning the
//!   deciding step.
//! - [`table`]: every usable route per prefix (Adj-RIB-In of all peers)
//!   with the best first (Loc-RIB).
//! - [`policy`]: loop checks on import (AS_PATH with an allowed count of
//!   our AS, ORIGINATOR_ID, CLUSTER_LIST) and the export rules (iBGP split
//!   horizon, RFC 4456 reflection, eBGP prepend / next hop self / no
//!   LOCAL_PREF, NO_EXPORT / NO_ADVERTISE, unknown attributes).
//!
//! - [`updates`]: what a received UPDATE means (treat-as-withdraw
//!   included), and packing changes into as few UPDATEs as fit.
//! - [`adj_out`]: Adj-RIB-Out as a function of the Loc-RIB: what each
//!   peer is sent for a table change, the best path or (ADD-PATH) every
//!   path.

pub mod adj_out;
pub mod attrs;
pub mod decision;
pub mod policy;
pub mod table;
pub mod updates;

/// A peer, as the daemon numbers them.
pub type PeerId = u32;

pub use adj_out::Change;
pub use attrs::{Interner, RouteAttrs};
pub use decision::{compare, IgpCost, Reason, Route, Source};
pub use policy::{check_import, export, Ineligible, Local, PrefixFilter, Target};
pub use table::{Delta, Table};
