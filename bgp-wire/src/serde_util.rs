//! Helpers for the optional `serde` feature (used by `ternc decode`).

/// Serializes bytes as a lowercase hex string.
pub(crate) fn hex<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&HexStr(b))
}

/// Serializes bytes as text, invalid UTF-8 replaced.
pub(crate) fn lossy<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

pub use crate::types::HexStr;

impl serde::Serialize for HexStr<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
