//! COMMUNITIES (type 8, RFC 1997), EXTENDED_COMMUNITIES (type 16,
//! RFC 4360) and LARGE_COMMUNITY (type 32, RFC 8092).

use bytes::{BufMut, BytesMut};

/// A standard community, `ASN:value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    pub const LLGR_STALE: Community = Community(0xffff_0006);
    pub const NO_LLGR: Community = Community(0xffff_0007);
}

impl std::fmt::Display for Community {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

/// An extended community, kept as its 8 octets: an unknown type or
/// subtype is not an error (RFC 7606 §7.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

impl std::fmt::Display for ExtCommunity {
    /// Two-octet-AS route targets and origins as `rt:ASN:value` /
    /// `ro:ASN:value`, everything else as hex.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        let asn = u16::from_be_bytes([b[2], b[3]]);
        let val = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        match (b[0], b[1]) {
            (0x00, 0x02) => write!(f, "rt:{asn}:{val}"),
            (0x00, 0x03) => write!(f, "ro:{asn}:{val}"),
            _ => write!(f, "{}", crate::types::HexStr(&b)),
        }
    }
}

/// A large community, `global:local1:local2` (RFC 8092 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

impl std::fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

#[cfg(feature = "serde")]
mod ser {
    macro_rules! as_display {
        ($($t:ty),*) => {$(
            impl serde::Serialize for $t {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(self)
                }
            }
        )*};
    }
    as_display!(super::Community, super::ExtCommunity, super::LargeCommunity);
}

/// Splits `v` into `N`-octet items; `None` unless the length is a
/// non-zero multiple of `N` (RFC 7606 §7.8, §7.14, RFC 8092 §6).
pub(crate) fn decode_list<const N: usize, T>(v: &[u8], f: impl Fn(&[u8; N]) -> T) -> Option<Vec<T>> {
    if v.is_empty() || !v.len().is_multiple_of(N) {
        return None;
    }
    let (chunks, _) = v.as_chunks::<N>();
    Some(chunks.iter().map(f).collect())
}

pub(crate) fn encode_communities(buf: &mut BytesMut, c: &[Community]) {
    for x in c {
        buf.put_u32(x.0);
    }
}

pub(crate) fn encode_ext(buf: &mut BytesMut, c: &[ExtCommunity]) {
    for x in c {
        buf.put_slice(&x.0);
    }
}

pub(crate) fn encode_large(buf: &mut BytesMut, c: &[LargeCommunity]) {
    for x in c {
        buf.put_u32(x.global);
        buf.put_u32(x.local1);
        buf.put_u32(x.local2);
    }
}
