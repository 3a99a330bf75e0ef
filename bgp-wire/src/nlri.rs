//! NLRI and withdrawn-routes fields (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3).
//!
//! ```text
//! +---------------------------+
//! | Path Identifier (4 octets)|   only when ADD-PATH is negotiated
//! +---------------------------+
//! |   Length (1 octet)        |
//! +---------------------------+
//! |   Prefix (variable)       |
//! +---------------------------+
//! ```
//!
//! A block of NLRI is validated once when decoded and then kept as the
//! received bytes (a `Bytes` slice of the message, no copy, no per-prefix
//! allocation); [`Nlri::iter`] yields typed prefixes on demand. This keeps a
//! full-table load from ever being bound by decoding.

use bytes::{BufMut, Bytes, BytesMut};

use crate::types::{Family, PathId, Prefix};

/// A validated run of NLRI of one family.
#[derive(Clone, Debug)]
pub struct Nlri {
    family: Family,
    add_path: bool,
    count: u32,
    /// Bytes per entry when every entry has the same prefix length (the
    /// common packed case), else 0: iteration then strides without reading
    /// each length to find the next entry.
    stride: u8,
    raw: Bytes,
}

/// One NLRI entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NlriEntry {
    pub path_id: Option<PathId>,
    pub prefix: Prefix,
}

impl NlriEntry {
    pub fn new(prefix: Prefix) -> NlriEntry {
        NlriEntry { path_id: None, prefix }
    }
}

/// Why a run of NLRI does not parse (RFC 7606 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NlriError {
    /// A prefix length beyond the address width.
    PrefixTooLong,
    /// The last entry runs past the end of the field.
    Truncated,
}

impl NlriError {
    pub fn as_str(self) -> &'static str {
        match self {
            NlriError::PrefixTooLong => "prefix length exceeds the address width",
            NlriError::Truncated => "prefix runs past the end of the field",
        }
    }
}

impl Nlri {
    /// An empty run.
    pub fn empty(family: Family, add_path: bool) -> Nlri {
        Nlri {
            family,
            add_path,
            count: 0,
            stride: 0,
            raw: Bytes::new(),
        }
    }

    /// Validates `raw` as NLRI of `family`. NLRI of families whose prefixes
    /// this codec does not decode are kept opaque and not validated.
    pub fn decode(family: Family, add_path: bool, raw: Bytes) -> Result<Nlri, NlriError> {
        let Some(bits) = family.prefix_bits() else {
            return Ok(Nlri {
                family,
                add_path,
                count: 0,
                stride: 0,
                raw,
            });
        };
        let (count, stride) = validate(&raw, bits, add_path)?;
        Ok(Nlri {
            family,
            add_path,
            count,
            stride,
            raw,
        })
    }

    /// Encodes entries into a new run. Entries of another family than
    /// `family` are skipped; path identifiers are written only with `add_path`.
    pub fn from_entries<'a>(family: Family, add_path: bool, entries: impl IntoIterator<Item = &'a NlriEntry>) -> Nlri {
        let mut buf = BytesMut::new();
        let mut count = 0;
        for e in entries {
            if e.prefix.family().afi != family.afi {
                continue;
            }
            push_entry(&mut buf, e, add_path);
            count += 1;
        }
        Nlri {
            family,
            add_path,
            count,
            stride: 0,
            raw: buf.freeze(),
        }
    }

    /// A run of plain prefixes (no path identifiers).
    pub fn from_prefixes(family: Family, prefixes: &[Prefix]) -> Nlri {
        let entries: Vec<NlriEntry> = prefixes.iter().copied().map(NlriEntry::new).collect();
        Nlri::from_entries(family, false, &entries)
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn add_path(&self) -> bool {
        self.add_path
    }

    /// Number of entries (0 for opaque families).
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The bytes as they go on the wire.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Whether the entries are decodable prefixes (IPv4/IPv6 unicast or multicast).
    pub fn is_opaque(&self) -> bool {
        self.family.prefix_bits().is_none()
    }

    /// The entries, in wire order. Empty for opaque families.
    pub fn iter(&self) -> NlriIter<'_> {
        let bits = self.family.prefix_bits().unwrap_or(0);
        let rest: &[u8] = if bits == 0 { &[] } else { &self.raw };
        NlriIter {
            rest,
            v6: bits == 128,
            add_path: self.add_path,
            stride: usize::from(self.stride),
        }
    }

    /// The entries' prefixes, in wire order.
    pub fn prefixes(&self) -> impl Iterator<Item = Prefix> + '_ {
        self.iter().map(|e| e.prefix)
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.raw);
    }
}

/// Two runs are equal when they hold the same entries: the bytes may
/// differ only in host bits, which decoding masks.
impl PartialEq for Nlri {
    fn eq(&self, other: &Nlri) -> bool {
        if self.family != other.family || self.add_path != other.add_path {
            return false;
        }
        if self.is_opaque() {
            return self.raw == other.raw;
        }
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl Eq for Nlri {}

pub(crate) fn push_entry(buf: &mut BytesMut, e: &NlriEntry, add_path: bool) {
    if add_path {
        buf.put_u32(e.path_id.map_or(0, |p| p.0));
    }
    let len = e.prefix.prefix_len();
    buf.put_u8(len);
    let n = usize::from(len).div_ceil(8);
    match e.prefix.addr() {
        std::net::IpAddr::V4(a) => buf.put_slice(&a.octets()[..n]),
        std::net::IpAddr::V6(a) => buf.put_slice(&a.octets()[..n]),
    }
}

/// Checks every entry of a run; returns how many there are and, when all
/// share one prefix length, the bytes per entry.
fn validate(raw: &[u8], bits: u8, add_path: bool) -> Result<(u32, u8), NlriError> {
    let head = if add_path { 4 } else { 0 };
    // Fast path: if the first length repeats at every stride to the exact
    // end, the run is valid. These loads are independent of each other,
    // unlike the serial walk, whose every step waits for a length byte.
    if let Some(&len) = raw.get(head) {
        let stride = head + 1 + usize::from(len).div_ceil(8);
        if len <= bits
            && raw.len().is_multiple_of(stride)
            && raw.len() / stride <= u32::MAX as usize
            && raw[head..].iter().step_by(stride).all(|&l| l == len)
        {
            return Ok(((raw.len() / stride) as u32, stride as u8));
        }
    }
    let mut rest = raw;
    let mut count = 0u32;
    while !rest.is_empty() {
        rest = rest.get(head..).ok_or(NlriError::Truncated)?;
        let (&len, tail) = rest.split_first().ok_or(NlriError::Truncated)?;
        if len > bits {
            return Err(NlriError::PrefixTooLong);
        }
        let n = usize::from(len).div_ceil(8);
        rest = tail.get(n..).ok_or(NlriError::Truncated)?;
        count += 1;
    }
    Ok((count, 0))
}

/// Iterator over a validated run.
pub struct NlriIter<'a> {
    rest: &'a [u8],
    v6: bool,
    add_path: bool,
    stride: usize,
}

impl Iterator for NlriIter<'_> {
    type Item = NlriEntry;

    #[inline]
    fn next(&mut self) -> Option<NlriEntry> {
        let mut r = self.rest;
        let path_id = if self.add_path {
            let (id, tail) = r.split_first_chunk::<4>()?;
            r = tail;
            Some(PathId(u32::from_be_bytes(*id)))
        } else {
            None
        };
        let (&len, tail) = r.split_first()?;
        let n = usize::from(len).div_ceil(8);
        let body = tail.get(..n)?;
        // With a uniform stride the next entry's place does not wait for
        // this entry's length byte.
        self.rest = if self.stride != 0 {
            self.rest.get(self.stride..)?
        } else {
            &tail[n..]
        };
        // Validated on decode: n ≤ 4 (16) and len ≤ 32 (128). Host bits are
        // masked here, and the loop stays free of memcpy calls.
        let prefix = if self.v6 {
            let a = match tail.first_chunk::<16>() {
                Some(c) => u128::from_be_bytes(*c),
                None => body
                    .iter()
                    .enumerate()
                    .fold(0, |a, (i, b)| a | u128::from(*b) << (120 - 8 * i)),
            };
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            Prefix::from_masked_v6(a & mask, len)?
        } else {
            // Read four bytes at once where the buffer has them: the mask
            // drops whatever follows the prefix's own octets.
            let a = match tail.first_chunk::<4>() {
                Some(c) => u32::from_be_bytes(*c),
                None => body
                    .iter()
                    .enumerate()
                    .fold(0, |a, (i, b)| a | u32::from(*b) << (24 - 8 * i)),
            };
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            Prefix::from_masked_v4(a & mask, len)?
        };
        Some(NlriEntry { path_id, prefix })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Nlri {
    /// Plain runs as a list of CIDR strings; ADD-PATH runs as a list of
    /// `{"path_id", "prefix"}`; opaque families as a hex string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        if self.is_opaque() {
            return crate::serde_util::hex(&self.raw, s);
        }
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for e in self.iter() {
            match e.path_id {
                Some(id) => seq.serialize_element(&serde_json_like::PathEntry {
                    path_id: id.0,
                    prefix: e.prefix,
                })?,
                None => seq.serialize_element(&e.prefix)?,
            }
        }
        seq.end()
    }
}

#[cfg(feature = "serde")]
mod serde_json_like {
    #[derive(serde::Serialize)]
    pub(super) struct PathEntry {
        pub path_id: u32,
        pub prefix: crate::types::Prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(hex: &[u8], add_path: bool) -> Result<Vec<String>, NlriError> {
        let n = Nlri::decode(Family::IPV4_UNICAST, add_path, Bytes::copy_from_slice(hex))?;
        let v: Vec<String> = n
            .iter()
            .map(|e| format!("{}#{}", e.prefix, e.path_id.map_or(0, |p| p.0)))
            .collect();
        assert_eq!(v.len(), n.len());
        Ok(v)
    }

    #[test]
    fn uniform_runs_take_the_stride_path_and_agree_with_the_walk() {
        // Three /24s: uniform.
        assert_eq!(
            run(&[24, 10, 0, 1, 24, 10, 0, 2, 24, 10, 0, 3], false).unwrap(),
            ["10.0.1.0/24#0", "10.0.2.0/24#0", "10.0.3.0/24#0"]
        );
        // With path ids.
        assert_eq!(
            run(&[0, 0, 0, 7, 26, 10, 0, 1, 64, 0, 0, 0, 8, 26, 10, 0, 1, 128], true).unwrap(),
            ["10.0.1.64/26#7", "10.0.1.128/26#8"]
        );
        // Same first length, a different one later: the serial walk decides.
        assert_eq!(
            run(&[24, 10, 0, 1, 16, 10, 1, 8, 10], false).unwrap(),
            ["10.0.1.0/24#0", "10.1.0.0/16#0", "10.0.0.0/8#0"]
        );
        // Looks uniform but the last entry is cut short.
        assert_eq!(run(&[24, 10, 0, 1, 24, 10, 0], false), Err(NlriError::Truncated));
        // Uniform spacing but a too-long length inside.
        assert_eq!(run(&[33, 1, 2, 3, 4, 5], false), Err(NlriError::PrefixTooLong));
        // Host bits masked on the stride path too; /0 entries.
        assert_eq!(
            run(&[23, 10, 0, 3, 23, 10, 0, 5], false).unwrap(),
            ["10.0.2.0/23#0", "10.0.4.0/23#0"]
        );
        assert_eq!(
            run(&[0, 0, 0], false).unwrap(),
            ["0.0.0.0/0#0", "0.0.0.0/0#0", "0.0.0.0/0#0"]
        );
    }
}
