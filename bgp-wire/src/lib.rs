//! `bgp-wire`: the BGP-4 message codec of tern. No I/O.
//!
//! Architecture: a message is framed on its 19-byte header first
//! ([`split_message`], [`parse_header`]); its body is then decoded with
//! the negotiated [`SessionCtx`] into a typed [`Message`]. Decoding never
//! panics. Errors that end the session are a [`DecodeError`], which maps
//! to its NOTIFICATION ([`DecodeError::notification`]); UPDATE attribute
//! problems that RFC 7606 resolves otherwise are kept in
//! [`Update::errors`] with their action, beside the routes they affect.
//! NLRI are validated once and kept zero-copy ([`Nlri`]).
//!
//! Supported: RFC 4271 (BGP-4), RFC 4760 (MP-BGP), RFC 2545 (IPv6 next
//! hops), RFC 6793 (4-octet AS), RFC 5492 (capabilities), RFC 2918 and
//! RFC 7313 (route refresh), RFC 4724 (graceful restart), RFC 8538,
//! RFC 9494 (LLGR capability), RFC 7911 (ADD-PATH), RFC 8654 (extended
//! messages), RFC 9072 (extended optional parameters), RFC 8950
//! (extended next hop capability), RFC 1997, RFC 4360, RFC 8092
//! (communities), RFC 4456 (ORIGINATOR_ID, CLUSTER_LIST), RFC 8203 /
//! RFC 9003 (shutdown communication), RFC 7606 (revised error handling),
//! RFC 7607 (AS 0).

#![forbid(unsafe_code)]

pub mod attributes;
pub mod capability;
mod context;
mod error;
pub mod header;
mod message;
mod nlri;
pub mod notification;
pub mod notify;
mod open;
mod reader;
pub mod route_refresh;
#[cfg(feature = "serde")]
pub mod serde_util;
mod types;
mod update;
pub mod writer;

pub use attributes::PathAttributes;
pub use capability::Capability;
pub use context::SessionCtx;
pub use error::{
    Action, AttrError, AttrErrorKind, DecodeError, EncodeError, HeaderError, NotificationError, NotifyError, OpenError,
    RouteRefreshError, UpdateError,
};
pub use header::{parse_header, split_message, Header, MessageType};
pub use message::Message;
pub use nlri::{Nlri, NlriEntry, NlriError, NlriIter};
pub use notification::Notification;
pub use notify::{
    CeaseSubcode, FsmSubcode, HeaderSubcode, NotifyKind, OpenSubcode, RouteRefreshSubcode, UpdateSubcode,
};
pub use open::Open;
pub use route_refresh::{RefreshKind, RouteRefresh};
pub use types::{Afi, Asn, ClusterId, Family, HexStr, PathId, Prefix, RouterId, Safi};
pub use update::{Entries, Update};
pub use writer::UpdateWriter;
