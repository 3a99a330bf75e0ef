//! ROUTE-REFRESH message (RFC 2918 §3, RFC 7313 §3).
//!
//! ```text
//! 0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Subt. | SAFI  |
//! +-------+-------+-------+-------+
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, RouteRefreshError};
use crate::header::MARKER;
use crate::types::{Afi, Family, Safi};

/// Message subtypes (RFC 7313 §3).
pub const NORMAL: u8 = 0;
pub const BEGIN_OF_ROUTE_REFRESH: u8 = 1;
pub const END_OF_ROUTE_REFRESH: u8 = 2;

/// A ROUTE-REFRESH message. Unknown subtypes are kept; RFC 7313 §5 asks
/// the receiver to ignore them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RouteRefresh {
    pub family: Family,
    pub subtype: u8,
}

/// What a ROUTE-REFRESH asks or marks (RFC 7313 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshKind {
    /// Send me the family again (RFC 2918).
    Request,
    /// BoRR: a re-advertisement of the family begins.
    Begin,
    /// EoRR: it has ended; what was not re-advertised is gone.
    End,
    /// Reserved or unknown: ignored (RFC 7313 §5).
    Other(u8),
}

impl RouteRefresh {
    pub fn kind(&self) -> RefreshKind {
        match self.subtype {
            NORMAL => RefreshKind::Request,
            BEGIN_OF_ROUTE_REFRESH => RefreshKind::Begin,
            END_OF_ROUTE_REFRESH => RefreshKind::End,
            x => RefreshKind::Other(x),
        }
    }

    /// BoRR for `family` (RFC 7313 §4).
    pub fn begin(family: Family) -> RouteRefresh {
        RouteRefresh {
            family,
            subtype: BEGIN_OF_ROUTE_REFRESH,
        }
    }

    /// EoRR for `family` (RFC 7313 §4).
    pub fn end(family: Family) -> RouteRefresh {
        RouteRefresh {
            family,
            subtype: END_OF_ROUTE_REFRESH,
        }
    }

    pub fn decode(body: &Bytes) -> Result<RouteRefresh, DecodeError> {
        match body.as_ref() {
            &[a0, a1, subtype, safi] => Ok(RouteRefresh {
                family: Family::new(Afi(u16::from_be_bytes([a0, a1])), Safi(safi)),
                subtype,
            }),
            // RFC 7313 §5: a length other than 4 octets of body is 7/1,
            // with the whole message as data.
            _ => {
                let mut m = MARKER.to_vec();
                m.extend_from_slice(&u16::try_from(body.len() + 19).unwrap_or(u16::MAX).to_be_bytes());
                m.push(5);
                m.extend_from_slice(body);
                Err(DecodeError::RouteRefresh(RouteRefreshError::InvalidMessageLength(m)))
            }
        }
    }

    pub fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u16(self.family.afi.0);
        buf.put_u8(self.subtype);
        buf.put_u8(self.family.safi.0);
    }
}
