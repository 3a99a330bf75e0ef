//! MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), RFC 4760 §3–4.
//!
//! ```text
//! MP_REACH_NLRI                          MP_UNREACH_NLRI
//! +-----------------------------------+  +-----------------------------------+
//! | AFI (2) | SAFI (1)                |  | AFI (2) | SAFI (1)                |
//! | Length of Next Hop (1)            |  | Withdrawn Routes (variable)       |
//! | Next Hop (variable)               |  +-----------------------------------+
//! | Reserved (1)                      |
//! | NLRI (variable)                   |
//! +-----------------------------------+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};

use crate::context::SessionCtx;
use crate::nlri::Nlri;
use crate::types::{Afi, Family, Safi};

/// The next hop of MP_REACH_NLRI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(untagged))]
pub enum NextHop {
    /// 4 octets: IPv4 families.
    V4(Ipv4Addr),
    /// 16 octets, or 32 with a link-local address (RFC 2545 §3); also
    /// IPv4 NLRI with an IPv6 next hop (RFC 8950).
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// Families whose next hop this codec does not interpret.
    Opaque(#[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))] Bytes),
}

impl NextHop {
    fn decode(family: Family, parent: &Bytes, v: &[u8]) -> Option<NextHop> {
        let v6 = |b: &[u8]| -> Ipv6Addr {
            let mut o = [0u8; 16];
            o.copy_from_slice(b);
            Ipv6Addr::from(o)
        };
        match (family.prefix_bits(), v.len()) {
            (Some(32), 4) => Some(NextHop::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
            (Some(_), 16) => Some(NextHop::V6 {
                global: v6(&v[..16]),
                link_local: None,
            }),
            (Some(_), 32) => Some(NextHop::V6 {
                global: v6(&v[..16]),
                link_local: Some(v6(&v[16..])),
            }),
            (Some(_), _) => None,
            (None, _) => Some(NextHop::Opaque(parent.slice_ref(v))),
        }
    }

    /// Bytes of the next hop on the wire.
    pub(crate) fn wire_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6 { link_local: None, .. } => 16,
            NextHop::V6 { .. } => 32,
            NextHop::Opaque(b) => b.len(),
        }
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), crate::EncodeError> {
        let at = crate::reader::len_start(buf, 1);
        match self {
            NextHop::V4(a) => buf.put_slice(&a.octets()),
            NextHop::V6 { global, link_local } => {
                buf.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    buf.put_slice(&ll.octets());
                }
            }
            NextHop::Opaque(b) => buf.put_slice(b),
        }
        crate::reader::len_finish(buf, at, 1, "MP next hop")
    }
}

/// MP_REACH_NLRI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MpReach {
    pub family: Family,
    pub next_hop: NextHop,
    pub nlri: Nlri,
}

/// MP_UNREACH_NLRI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Nlri,
}

impl MpUnreach {
    /// An MP_UNREACH with nothing in it is the End-of-RIB marker of its
    /// family (RFC 4724 §2).
    pub fn is_end_of_rib(&self) -> bool {
        self.withdrawn.is_empty()
    }
}

fn family_of(v: &[u8]) -> Family {
    Family::new(Afi(u16::from_be_bytes([v[0], v[1]])), Safi(v[2]))
}

/// Decodes MP_REACH_NLRI; `Err` carries why it is malformed, which resets
/// the session (RFC 7606 §7.11: the NLRI cannot be located reliably).
pub(crate) fn decode_reach(parent: &Bytes, v: &[u8], ctx: &SessionCtx) -> Result<MpReach, &'static str> {
    if v.len() < 5 {
        return Err("MP_REACH_NLRI shorter than 5 octets");
    }
    let family = family_of(v);
    let nh_len = usize::from(v[3]);
    let nh = v.get(4..4 + nh_len).ok_or("next hop overruns the attribute")?;
    // One reserved octet follows the next hop (RFC 4760 §3: ignored on receipt).
    let nlri = v.get(5 + nh_len..).ok_or("reserved octet missing")?;
    let next_hop = NextHop::decode(family, parent, nh).ok_or("next hop length does not fit the family")?;
    let nlri = Nlri::decode(family, ctx.add_path(family), parent.slice_ref(nlri)).map_err(|e| e.as_str())?;
    Ok(MpReach { family, next_hop, nlri })
}

/// Decodes MP_UNREACH_NLRI (RFC 7606 §7.12: shorter than 3 is malformed).
pub(crate) fn decode_unreach(parent: &Bytes, v: &[u8], ctx: &SessionCtx) -> Result<MpUnreach, &'static str> {
    if v.len() < 3 {
        return Err("MP_UNREACH_NLRI shorter than 3 octets");
    }
    let family = family_of(v);
    let withdrawn = Nlri::decode(family, ctx.add_path(family), parent.slice_ref(&v[3..])).map_err(|e| e.as_str())?;
    Ok(MpUnreach { family, withdrawn })
}

pub(crate) fn encode_reach(r: &MpReach, buf: &mut BytesMut) -> Result<(), crate::EncodeError> {
    buf.put_u16(r.family.afi.0);
    buf.put_u8(r.family.safi.0);
    r.next_hop.encode(buf)?;
    buf.put_u8(0);
    r.nlri.encode(buf);
    Ok(())
}

pub(crate) fn encode_unreach(u: &MpUnreach, buf: &mut BytesMut) {
    buf.put_u16(u.family.afi.0);
    buf.put_u8(u.family.safi.0);
    u.withdrawn.encode(buf);
}
