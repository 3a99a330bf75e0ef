//! Path attributes (RFC 4271 §4.3, §5) and their RFC 7606 error handling.
//!
//! ```text
//! +---------------+---------------+--------------------------------+
//! | Attr. Flags   | Attr. Type    | Length (1, or 2 if Extended)   |
//! +---------------+---------------+--------------------------------+
//! | Value (Length octets)                                          |
//! +----------------------------------------------------------------+
//! ```
//!
//! [`table`] is the single table of the types this codec knows: per type,
//! the flags it must carry, what RFC 7606 does when it is malformed, and how
//! it is read, written and shown. This file walks the attribute list.

mod as4;
mod as_path;
mod community;
mod mp;
mod table;
mod values;

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

pub use as_path::{AsPath, AsSegment, SegmentType};
pub use community::{Community, ExtCommunity, LargeCommunity};
pub use mp::{MpReach, MpUnreach, NextHop};
pub use values::{Aggregator, Origin};

use crate::context::SessionCtx;
use crate::error::{Action, AttrError, AttrErrorKind, UpdateError};
use crate::types::{ClusterId, RouterId};

/// Attribute flag bits (RFC 4271 §4.3). The low four bits are ignored on
/// receipt and zero when sent.
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const IPV6_EXT_COMMUNITIES: u8 = 25;
    pub const AIGP: u8 = 26;
    pub const LARGE_COMMUNITY: u8 = 32;
    pub const ONLY_TO_CUSTOMER: u8 = 35;
}

use flags::{OPTIONAL as O, TRANSITIVE as T};
use table::{spec, Kept, SPECS};

const TAW: Action = Action::TreatAsWithdraw;
const DISCARD: Action = Action::AttributeDiscard;

/// An attribute this codec does not interpret, kept with its flags and
/// bytes so that it can be passed on unchanged (RFC 4271 §5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RawAttribute {
    /// Flags as received, less the Extended Length bit and the low nibble.
    pub flags: u8,
    pub type_code: u8,
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))]
    pub value: Bytes,
}

impl RawAttribute {
    /// The attribute as it is to be passed to another peer: optional
    /// transitive ones with the Partial bit set, optional non-transitive
    /// ones not at all (RFC 4271 §5, §9.1.3).
    pub fn for_propagation(&self) -> Option<RawAttribute> {
        // One we checked (in SPECS) was recognized here: its Partial bit
        // says only what earlier speakers did (RFC 4271 §5).
        let partial = if spec(self.type_code).is_some() {
            0
        } else {
            flags::PARTIAL
        };
        (self.flags & (O | T) == O | T).then(|| RawAttribute {
            flags: self.flags | partial,
            ..self.clone()
        })
    }
}

/// The path attributes of an UPDATE, typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PathAttributes {
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub origin: Option<Origin>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub as_path: Option<AsPath>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub next_hop: Option<Ipv4Addr>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub med: Option<u32>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub local_pref: Option<u32>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub atomic_aggregate: bool,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub aggregator: Option<Aggregator>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub communities: Option<Vec<Community>>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub originator_id: Option<RouterId>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cluster_list: Option<Vec<ClusterId>>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mp_reach: Option<MpReach>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mp_unreach: Option<MpUnreach>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ext_communities: Option<Vec<ExtCommunity>>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub as4_path: Option<AsPath>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub as4_aggregator: Option<Aggregator>,
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub large_communities: Option<Vec<LargeCommunity>>,
    /// Attributes passed on as received, in the order received: those this
    /// codec does not know, and those it checks but does not read
    /// (IPv6 address-specific extended communities, ONLY_TO_CUSTOMER).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub unknown: Vec<RawAttribute>,
}

/// A set of seen type codes.
struct Seen([u64; 4]);

impl Seen {
    /// Marks `c`; returns whether it was already there.
    fn insert(&mut self, c: u8) -> bool {
        let (w, b) = (usize::from(c >> 6), 1u64 << (c & 63));
        let had = self.0[w] & b != 0;
        self.0[w] |= b;
        had
    }
}

impl PathAttributes {
    /// Decodes the Path Attributes field. Problems RFC 7606 resolves by
    /// treat-as-withdraw or attribute discard are returned beside the
    /// attributes; only those that end the session are an `Err`.
    pub fn decode(raw: &Bytes, ctx: &SessionCtx) -> Result<(PathAttributes, Vec<AttrError>), UpdateError> {
        Self::decode_in(raw, raw, ctx)
    }

    /// Decodes `section`, a sub-slice of `parent`: values that are kept
    /// (MP NLRI, unknown attributes) become slices of `parent`, the rest is
    /// read in place, so a whole UPDATE costs one or two reference counts.
    pub(crate) fn decode_in(
        parent: &Bytes,
        section: &[u8],
        ctx: &SessionCtx,
    ) -> Result<(PathAttributes, Vec<AttrError>), UpdateError> {
        let mut attrs = PathAttributes::default();
        let mut errors = Vec::new();
        let mut seen = Seen([0; 4]);
        let mut rest: &[u8] = section;
        while !rest.is_empty() {
            let whole = rest;
            // RFC 7606 §4: a fragment too short for a header, or a value that
            // overruns the field, is treat-as-withdraw; the Total Path
            // Attribute Length still locates the NLRI, so parsing stops here.
            let framing = |code: u8| AttrError {
                type_code: code,
                kind: AttrErrorKind::Framing,
                action: TAW,
                data: whole.to_vec(),
            };
            let Some((&[fl, code], tail)) = rest.split_first_chunk::<2>() else {
                errors.push(framing(0));
                break;
            };
            let ext = fl & flags::EXTENDED_LENGTH != 0;
            let (len, tail) = if ext {
                match tail.split_first_chunk::<2>() {
                    Some((l, t)) => (usize::from(u16::from_be_bytes(*l)), t),
                    None => {
                        errors.push(framing(code));
                        break;
                    }
                }
            } else {
                match tail.split_first() {
                    Some((&l, t)) => (usize::from(l), t),
                    None => {
                        errors.push(framing(code));
                        break;
                    }
                }
            };
            let Some(value) = tail.get(..len) else {
                errors.push(framing(code));
                break;
            };
            rest = &tail[len..];
            let header_len = if ext { 4 } else { 3 };
            let whole = &whole[..header_len + len];

            if seen.insert(code) {
                // RFC 7606 §3.g: a repeated MP attribute resets the session,
                // any other repeat is discarded and the first copy kept.
                if code == code::MP_REACH_NLRI || code == code::MP_UNREACH_NLRI {
                    return Err(UpdateError::MalformedAttributeList(
                        "MP_REACH_NLRI or MP_UNREACH_NLRI appears twice",
                    ));
                }
                errors.push(AttrError {
                    type_code: code,
                    kind: AttrErrorKind::Duplicate,
                    action: DISCARD,
                    data: whole.to_vec(),
                });
                continue;
            }
            let err = |kind, action| AttrError {
                type_code: code,
                kind,
                action,
                data: whole.to_vec(),
            };
            let Some(spec) = spec(code) else {
                match code {
                    // Type 0 is reserved: nothing may rely on it (BIRD discards it too).
                    0 => errors.push(err(AttrErrorKind::ReservedType, DISCARD)),
                    // A well-known type we do not know: RFC 4271 would send
                    // 3/2; we treat-as-withdraw as BIRD 2 does (reliability C18).
                    _ if fl & O == 0 => errors.push(err(AttrErrorKind::UnrecognizedWellKnown, TAW)),
                    _ => attrs.unknown.push(RawAttribute {
                        flags: fl & (O | T | flags::PARTIAL),
                        type_code: code,
                        value: parent.slice_ref(value),
                    }),
                }
                continue;
            };
            // RFC 4271 §4.3: Partial is 0 on well-known and optional
            // non-transitive attributes; RFC 7606 §3.c: a flags mismatch
            // takes the attribute's own verdict.
            let partial_ok = spec.flags == O | T;
            let bad_flags = fl & (O | T) != spec.flags || (!partial_ok && fl & flags::PARTIAL != 0);
            if spec.action == Action::SessionReset {
                let decoded = if bad_flags {
                    Err("attribute flags do not match its type")
                } else if code == code::MP_REACH_NLRI {
                    mp::decode_reach(parent, value, ctx).map(|r| attrs.mp_reach = Some(r))
                } else {
                    mp::decode_unreach(parent, value, ctx).map(|u| attrs.mp_unreach = Some(u))
                };
                decoded.map_err(|reason| UpdateError::MalformedMpAttribute {
                    type_code: code,
                    reason,
                    data: whole.to_vec(),
                })?;
                continue;
            }
            if bad_flags {
                errors.push(err(AttrErrorKind::BadFlags, spec.action));
                continue;
            }
            let Some(decode) = spec.decode else { continue };
            match decode(&mut attrs, value, ctx) {
                // RFC 9774 §3: an AS_SET withdraws, from AS4_PATH too.
                Err(AttrErrorKind::AsSet) => errors.push(err(AttrErrorKind::AsSet, TAW)),
                Err(kind) => errors.push(err(kind, spec.action)),
                Ok(Kept::Typed) => {}
                Ok(Kept::Raw) => attrs.unknown.push(RawAttribute {
                    flags: fl & (O | T | flags::PARTIAL),
                    type_code: code,
                    value: parent.slice_ref(value),
                }),
            }
        }
        Ok((attrs, errors))
    }

    /// Appends the Path Attributes field: MP_REACH_NLRI and MP_UNREACH_NLRI
    /// first (RFC 7606 §5.1), then the rest by type code.
    pub fn encode(&self, buf: &mut BytesMut, ctx: &SessionCtx) -> Result<(), crate::EncodeError> {
        if let Some(r) = &self.mp_reach {
            try_put_attr(buf, O, code::MP_REACH_NLRI, |b| mp::encode_reach(r, b))?;
        }
        if let Some(u) = &self.mp_unreach {
            try_put_attr(buf, O, code::MP_UNREACH_NLRI, |b| {
                mp::encode_unreach(u, b);
                Ok(())
            })?;
        }
        self.encode_rest(buf, ctx)
    }

    /// Appends every attribute but MP_REACH_NLRI and MP_UNREACH_NLRI, by
    /// type code.
    pub(crate) fn encode_rest(&self, buf: &mut BytesMut, ctx: &SessionCtx) -> Result<(), crate::EncodeError> {
        let mut unknown = self.unknown.iter().peekable();
        for s in SPECS {
            while let Some(u) = unknown.next_if(|u| u.type_code < s.code) {
                try_put_attr(buf, u.flags, u.type_code, |b| {
                    b.put_slice(&u.value);
                    Ok(())
                })?;
            }
            s.write(self, buf, ctx)?;
        }
        for u in unknown {
            try_put_attr(buf, u.flags, u.type_code, |b| {
                b.put_slice(&u.value);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Whether any attribute is present.
    pub fn is_empty(&self) -> bool {
        *self == PathAttributes::default()
    }
}

/// Writes one attribute: the value is encoded first and the Extended
/// Length bit is set only when the value needs it.
pub(crate) fn try_put_attr(
    buf: &mut BytesMut,
    fl: u8,
    code: u8,
    value: impl FnOnce(&mut BytesMut) -> Result<(), crate::EncodeError>,
) -> Result<(), crate::EncodeError> {
    let start = buf.len();
    buf.put_u8(fl & !(flags::EXTENDED_LENGTH | 0x0f));
    buf.put_u8(code);
    buf.put_u8(0);
    let at = buf.len();
    if let Err(e) = value(buf) {
        buf.truncate(start);
        return Err(e);
    }
    let len = buf.len() - at;
    if len <= 255 {
        buf[at - 1] = len as u8;
        return Ok(());
    }
    let Ok(l) = u16::try_from(len) else {
        buf.truncate(start);
        return Err(crate::EncodeError::FieldTooLong("path attribute"));
    };
    buf[start] |= flags::EXTENDED_LENGTH;
    // Make room for the second length octet.
    buf.put_u8(0);
    buf.copy_within(at..at + len, at + 1);
    buf[at - 1..at + 1].copy_from_slice(&l.to_be_bytes());
    Ok(())
}
