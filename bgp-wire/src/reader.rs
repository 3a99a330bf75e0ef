//! nom plumbing: the parsers of this crate work on complete, already framed
//! slices, so the only failure nom itself reports is "ran out of bytes".
//! Each call site turns that into the typed error its field calls for.

use nom::error::{ErrorKind, ParseError};

/// The input ended before the field did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short;

impl<I> ParseError<I> for Short {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        Short
    }
    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, Short>;

pub(crate) fn u8_(i: &[u8]) -> PResult<'_, u8> {
    nom::number::complete::be_u8(i)
}

pub(crate) fn u16_(i: &[u8]) -> PResult<'_, u16> {
    nom::number::complete::be_u16(i)
}

pub(crate) fn take(n: usize) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |i| nom::bytes::complete::take(n)(i)
}

/// A field prefixed by a two-octet length.
pub(crate) fn len16_data(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(u16_)(i)
}

/// Runs `p` and maps running out of input to `err`.
pub(crate) fn need<'a, T, E>(r: PResult<'a, T>, err: impl FnOnce() -> E) -> Result<(&'a [u8], T), E> {
    r.map_err(|_| err())
}

/// Writes a length placeholder and fills it in when the body is done
/// (the rustls length-prefix guard idea, as a pair of functions).
pub(crate) fn len_start(buf: &mut bytes::BytesMut, width: usize) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[0u8; 2][..width]);
    at
}

/// Fills the placeholder at `at` with the number of bytes written since.
/// Fails when the length does not fit in `width` octets.
pub(crate) fn len_finish(
    buf: &mut bytes::BytesMut,
    at: usize,
    width: usize,
    what: &'static str,
) -> Result<(), crate::EncodeError> {
    let len = buf.len() - at - width;
    if width == 1 {
        let l = u8::try_from(len).map_err(|_| crate::EncodeError::FieldTooLong(what))?;
        buf[at] = l;
    } else {
        let l = u16::try_from(len).map_err(|_| crate::EncodeError::FieldTooLong(what))?;
        buf[at..at + 2].copy_from_slice(&l.to_be_bytes());
    }
    Ok(())
}
