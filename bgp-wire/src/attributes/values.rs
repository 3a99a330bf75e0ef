//! Value decoders and encoders of the non-MP attributes. Each decoder says
//! only whether the value is well formed; the verdict comes from `SPECS`.

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::community::{self, Community, ExtCommunity, LargeCommunity};
use super::{code, put_attr, try_put_attr, AsPath, PathAttributes, SegmentType};
use crate::context::SessionCtx;
use crate::error::AttrErrorKind;
use crate::types::{Asn, ClusterId, RouterId};

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

fn u32_exact(v: &[u8]) -> Result<u32, AttrErrorKind> {
    let b: [u8; 4] = v.try_into().map_err(|_| AttrErrorKind::BadLength)?;
    Ok(u32::from_be_bytes(b))
}

fn aggregator(v: &[u8], width: usize) -> Result<Aggregator, AttrErrorKind> {
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

/// Where a well-formed value went.
pub(super) enum Kept {
    /// Into its typed field of [`PathAttributes`] (or nowhere: AIGP).
    Typed,
    /// Checked only: the caller keeps its bytes to pass on.
    Raw,
}

/// An AS path as RFC 9774 §3 allows it: no AS_SET, no AS_CONFED_SET.
fn without_sets(p: AsPath) -> Result<AsPath, AttrErrorKind> {
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
fn aigp_well_formed(mut v: &[u8]) -> bool {
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

/// Decodes the value of a known, non-MP attribute into `a`.
pub(super) fn decode_value(a: &mut PathAttributes, c: u8, v: &[u8], ctx: &SessionCtx) -> Result<Kept, AttrErrorKind> {
    let width = if ctx.four_octet_as { 4 } else { 2 };
    match c {
        code::ORIGIN => {
            a.origin = Some(match v {
                [0] => Origin::Igp,
                [1] => Origin::Egp,
                [2] => Origin::Incomplete,
                [_] => return Err(AttrErrorKind::InvalidOrigin),
                _ => return Err(AttrErrorKind::BadLength),
            })
        }
        code::AS_PATH => {
            a.as_path = Some(without_sets(
                AsPath::decode(v, width).ok_or(AttrErrorKind::MalformedAsPath)?,
            )?)
        }
        code::NEXT_HOP => a.next_hop = Some(Ipv4Addr::from(u32_exact(v)?)),
        code::MULTI_EXIT_DISC => a.med = Some(u32_exact(v)?),
        code::LOCAL_PREF => a.local_pref = Some(u32_exact(v)?),
        code::ATOMIC_AGGREGATE if v.is_empty() => a.atomic_aggregate = true,
        code::ATOMIC_AGGREGATE => return Err(AttrErrorKind::BadLength),
        code::AGGREGATOR => a.aggregator = Some(aggregator(v, width)?),
        code::COMMUNITIES => {
            a.communities = Some(
                community::decode_list::<4, _>(v, |c| Community(u32::from_be_bytes(*c)))
                    .ok_or(AttrErrorKind::BadLength)?,
            )
        }
        code::ORIGINATOR_ID => a.originator_id = Some(RouterId(Ipv4Addr::from(u32_exact(v)?))),
        code::CLUSTER_LIST => {
            a.cluster_list = Some(
                community::decode_list::<4, _>(v, |c| ClusterId(Ipv4Addr::from(*c))).ok_or(AttrErrorKind::BadLength)?,
            )
        }
        code::EXTENDED_COMMUNITIES => {
            a.ext_communities =
                Some(community::decode_list::<8, _>(v, |c| ExtCommunity(*c)).ok_or(AttrErrorKind::BadLength)?)
        }
        // RFC 6793 §6: AS4_PATH and AS4_AGGREGATOR only travel between
        // 2-octet speakers' neighbours; from a 4-octet speaker they are discarded.
        code::AS4_PATH if ctx.four_octet_as => return Err(AttrErrorKind::FromNewSpeaker),
        code::AS4_PATH => {
            a.as4_path = Some(without_sets(
                AsPath::decode(v, 4).ok_or(AttrErrorKind::MalformedAsPath)?,
            )?)
        }
        code::AS4_AGGREGATOR if ctx.four_octet_as => return Err(AttrErrorKind::FromNewSpeaker),
        code::AS4_AGGREGATOR => a.as4_aggregator = Some(aggregator(v, 4)?),
        code::LARGE_COMMUNITY => {
            a.large_communities = Some(
                community::decode_list::<12, _>(v, |c| LargeCommunity {
                    global: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                    local1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                    local2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                })
                .ok_or(AttrErrorKind::BadLength)?,
            )
        }
        code::IPV6_EXT_COMMUNITIES if !v.is_empty() && v.len().is_multiple_of(20) => return Ok(Kept::Raw),
        code::ONLY_TO_CUSTOMER if v.len() == 4 => return Ok(Kept::Raw),
        code::IPV6_EXT_COMMUNITIES | code::ONLY_TO_CUSTOMER => return Err(AttrErrorKind::BadLength),
        code::AIGP if aigp_well_formed(v) => {}
        code::AIGP => return Err(AttrErrorKind::MalformedTlv),
        _ => {}
    }
    Ok(Kept::Typed)
}

/// Appends attribute `c` of `a` if present, with flags `fl`.
pub(super) fn encode_value(
    a: &PathAttributes,
    c: u8,
    fl: u8,
    buf: &mut BytesMut,
    width: usize,
) -> Result<(), crate::EncodeError> {
    let put_agg = |b: &mut BytesMut, g: &Aggregator, w: usize| {
        if w == 4 {
            b.put_u32(g.asn.0);
        } else {
            b.put_u16(g.asn.to_u16_or_trans());
        }
        b.put_slice(&g.address.octets());
    };
    match c {
        code::ORIGIN => {
            if let Some(o) = a.origin {
                put_attr(buf, fl, c, |b| b.put_u8(o as u8));
            }
        }
        code::AS_PATH => {
            if let Some(p) = &a.as_path {
                try_put_attr(buf, fl, c, |b| p.encode(b, width))?;
            }
        }
        code::NEXT_HOP => {
            if let Some(n) = a.next_hop {
                put_attr(buf, fl, c, |b| b.put_slice(&n.octets()));
            }
        }
        code::MULTI_EXIT_DISC => {
            if let Some(m) = a.med {
                put_attr(buf, fl, c, |b| b.put_u32(m));
            }
        }
        code::LOCAL_PREF => {
            if let Some(l) = a.local_pref {
                put_attr(buf, fl, c, |b| b.put_u32(l));
            }
        }
        code::ATOMIC_AGGREGATE if a.atomic_aggregate => put_attr(buf, fl, c, |_| ()),
        code::AGGREGATOR => {
            if let Some(g) = &a.aggregator {
                put_attr(buf, fl, c, |b| put_agg(b, g, width));
            }
        }
        code::COMMUNITIES => {
            if let Some(cs) = &a.communities {
                put_attr(buf, fl, c, |b| community::encode_communities(b, cs));
            }
        }
        code::ORIGINATOR_ID => {
            if let Some(o) = a.originator_id {
                put_attr(buf, fl, c, |b| b.put_slice(&o.0.octets()));
            }
        }
        code::CLUSTER_LIST => {
            if let Some(cl) = &a.cluster_list {
                put_attr(buf, fl, c, |b| {
                    for id in cl {
                        b.put_slice(&id.0.octets());
                    }
                });
            }
        }
        code::EXTENDED_COMMUNITIES => {
            if let Some(e) = &a.ext_communities {
                put_attr(buf, fl, c, |b| community::encode_ext(b, e));
            }
        }
        // RFC 6793 §4.2.2: only toward an OLD speaker, and only when some
        // ASN did not fit (AS_TRANS stands in for it); as decoded, or else
        // derived from the real path and aggregator.
        code::AS4_PATH if width == 2 => {
            if let Some(p) = a
                .as4_path
                .clone()
                .or_else(|| a.as_path.as_ref().and_then(AsPath::as4_path))
            {
                try_put_attr(buf, fl, c, |b| p.encode(b, 4))?;
            }
        }
        code::AS4_AGGREGATOR if width == 2 => {
            let derived = a.aggregator.filter(|g| g.asn.0 > u32::from(u16::MAX));
            if let Some(g) = a.as4_aggregator.or(derived) {
                put_attr(buf, fl, c, |b| put_agg(b, &g, 4));
            }
        }
        code::LARGE_COMMUNITY => {
            if let Some(l) = &a.large_communities {
                put_attr(buf, fl, c, |b| community::encode_large(b, l));
            }
        }
        _ => {}
    }
    Ok(())
}
