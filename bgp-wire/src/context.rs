//! The negotiated session context that decoding and encoding depend on.

use crate::types::Family;

/// What the two speakers negotiated in their OPEN messages and that changes
/// how bytes are read: produced by the session's capability negotiation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCtx {
    /// Both sides announced the 4-octet AS capability (RFC 6793): AS_PATH
    /// and AGGREGATOR carry 4-octet ASNs.
    pub four_octet_as: bool,
    /// Families for which NLRI carry an ADD-PATH path identifier in this
    /// direction (RFC 7911 §3: we receive them where we announced receive and
    /// the peer announced send).
    pub add_path: Vec<Family>,
    /// We announced the Extended Message capability (RFC 8654): UPDATE,
    /// NOTIFICATION and ROUTE-REFRESH may be up to 65535 bytes.
    pub extended_message: bool,
}

impl Default for SessionCtx {
    /// A modern session before ADD-PATH: 4-octet AS, standard lengths.
    fn default() -> Self {
        SessionCtx {
            four_octet_as: true,
            add_path: Vec::new(),
            extended_message: false,
        }
    }
}

impl SessionCtx {
    /// Whether NLRI of `family` carry path identifiers.
    pub fn add_path(&self, family: Family) -> bool {
        self.add_path.contains(&family)
    }

    /// Largest UPDATE / NOTIFICATION / ROUTE-REFRESH on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            crate::header::MAX_EXTENDED_LEN
        } else {
            crate::header::MAX_LEN
        }
    }
}
