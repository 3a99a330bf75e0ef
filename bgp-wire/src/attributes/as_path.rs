//! AS_PATH (type 2, RFC 4271 §4.3, §5.1.2) and AS4_PATH (type 17, RFC 6793).
//!
//! ```text
//! +----------------+----------------+---------------------------+
//! | segment type   | segment length | segment value (ASNs)      |
//! |   (1 octet)    |   (1 octet)    | length × 2 or 4 octets    |
//! +----------------+----------------+---------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use thin_vec::{thin_vec, ThinVec};

use crate::types::Asn;

/// Path segment types (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "kebab-case"))]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

impl SegmentType {
    fn from_u8(v: u8) -> Option<SegmentType> {
        Some(match v {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }
}

/// One path segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AsSegment {
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: SegmentType,
    /// A `ThinVec` (one word, its length beside the ASNs), as the
    /// segments: a table keeps one path per attribute set, and a full
    /// table has hundreds of thousands of sets.
    pub asns: ThinVec<Asn>,
}

impl AsSegment {
    /// ASNs this segment adds to the path length (RFC 4271 §9.1.2.2 a).
    pub(crate) fn count(&self) -> usize {
        match self.kind {
            SegmentType::Sequence => self.asns.len(),
            SegmentType::Set => 1,
            SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
        }
    }
}

/// An AS path: the segments in wire order, ASNs always 4-octet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct AsPath {
    pub segments: ThinVec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn sequence(asns: impl IntoIterator<Item = Asn>) -> AsPath {
        let asns: ThinVec<Asn> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: thin_vec![AsSegment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Path length for route selection (RFC 4271 §9.1.2.2 a: an AS_SET
    /// counts as 1; RFC 5065 §5.3: confederation segments count 0).
    pub fn route_len(&self) -> usize {
        self.segments.iter().map(AsSegment::count).sum()
    }

    /// Every ASN on the path, in order.
    pub fn asns(&self) -> impl Iterator<Item = Asn> + '_ {
        self.segments.iter().flat_map(|s| s.asns.iter().copied())
    }

    /// Decodes a path with ASNs of `width` octets (2 or 4). `None` when a
    /// segment has an unknown type, zero length, overruns the attribute, or
    /// holds AS 0 (RFC 7606 §7.2, RFC 7607 §2).
    pub fn decode(mut v: &[u8], width: usize) -> Option<AsPath> {
        let mut segments = ThinVec::new();
        while !v.is_empty() {
            let (&[t, n], rest) = v.split_first_chunk::<2>()?;
            let kind = SegmentType::from_u8(t)?;
            if n == 0 {
                return None;
            }
            let body = rest.get(..usize::from(n) * width)?;
            v = &rest[body.len()..];
            let mut asns = ThinVec::with_capacity(usize::from(n));
            if width == 4 {
                for c in body.chunks_exact(4) {
                    asns.push(Asn(u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
                }
            } else {
                for c in body.chunks_exact(2) {
                    asns.push(Asn(u32::from(u16::from_be_bytes([c[0], c[1]]))));
                }
            }
            if asns.contains(&Asn(0)) {
                return None;
            }
            segments.push(AsSegment { kind, asns });
        }
        Some(AsPath { segments })
    }

    /// Appends the path with ASNs of `width` octets; with 2, ASNs beyond
    /// 16 bits become AS_TRANS (RFC 6793 §4.2.2). A sequence longer than
    /// 255 ASNs is split into consecutive sequences, which mean the same;
    /// a longer set has no wire form.
    pub fn encode(&self, buf: &mut BytesMut, width: usize) -> Result<(), crate::EncodeError> {
        for s in &self.segments {
            if s.asns.len() > 255 && !matches!(s.kind, SegmentType::Sequence | SegmentType::ConfedSequence) {
                return Err(crate::EncodeError::FieldTooLong("AS_SET of more than 255 ASNs"));
            }
            for chunk in s.asns.chunks(255) {
                buf.put_u8(s.kind as u8);
                buf.put_u8(chunk.len() as u8); // chunks(255)
                for a in chunk {
                    if width == 4 {
                        buf.put_u32(a.0);
                    } else {
                        buf.put_u16(a.to_u16_or_trans());
                    }
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for AsPath {
    /// BIRD's notation: `64512 64513 {64514 64515}`, confederation
    /// segments in parentheses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for s in &self.segments {
            let (open, close) = match s.kind {
                SegmentType::Sequence => ("", ""),
                SegmentType::Set => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("({", "})"),
            };
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}
