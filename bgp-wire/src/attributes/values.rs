//! The value types of ORIGIN and AGGREGATOR, and the checks the entries of
//! [`super::table`] share. Each check says only whether a value is well
//! formed; the verdict comes from the table.

use std::net::Ipv4Addr;

use super::{AsPath, SegmentType};
use crate::error::AttrErrorKind;
use crate::types::Asn;

/// ORIGIN values (RFC 4271 §5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "kebab-case"))]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// AGGREGATOR / AS4_AGGREGATOR (RFC 4271 §5.1.7, RFC 6793 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Aggregator {
    pub asn: Asn,
    pub address: Ipv4Addr,
}

pub(super) fn u32_exact(v: &[u8]) -> Result<u32, AttrErrorKind> {
    let b: [u8; 4] = v.try_into().map_err(|_| AttrErrorKind::BadLength)?;
    Ok(u32::from_be_bytes(b))
}

pub(super) fn aggregator(v: &[u8], width: usize) -> Result<Aggregator, AttrErrorKind> {
    if v.len() != width + 4 {
        return Err(AttrErrorKind::BadLength);
    }
    let (a, addr) = v.split_at(width);
    let asn = if width == 4 {
        u32_exact(a)?
    } else {
        u32::from(u16::from_be_bytes([a[0], a[1]]))
    };
    if asn == 0 {
        return Err(AttrErrorKind::ZeroAs); // RFC 7607 §2
    }
    Ok(Aggregator {
        asn: Asn(asn),
        address: Ipv4Addr::from(u32_exact(addr)?),
    })
}

/// An AS path as RFC 9774 §3 allows it: no AS_SET, no AS_CONFED_SET.
pub(super) fn without_sets(p: AsPath) -> Result<AsPath, AttrErrorKind> {
    let set = p
        .segments
        .iter()
        .any(|s| matches!(s.kind, SegmentType::Set | SegmentType::ConfedSet));
    if set {
        Err(AttrErrorKind::AsSet)
    } else {
        Ok(p)
    }
}

/// RFC 7311 §3: TLVs of type, 2-octet length (header included) and value;
/// the AIGP TLV (type 1) is 11 octets and appears at most once.
pub(super) fn aigp_well_formed(mut v: &[u8]) -> bool {
    let mut aigp_tlvs = 0;
    while !v.is_empty() {
        let Some((&[t, l0, l1], _)) = v.split_first_chunk::<3>() else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len < 3 || len > v.len() || (t == 1 && len != 11) {
            return false;
        }
        aigp_tlvs += usize::from(t == 1);
        v = &v[len..];
    }
    aigp_tlvs <= 1
}
