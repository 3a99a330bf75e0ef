//! The 19-byte message header and framing (RFC 4271 §4.1, §6.1; RFC 8654).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           Marker (16)                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::{Bytes, BytesMut};

use crate::context::SessionCtx;
use crate::error::HeaderError;

pub const HEADER_LEN: usize = 19;
/// RFC 4271 §4: the largest message without Extended Message.
pub const MAX_LEN: usize = 4096;
/// RFC 8654 §4: the largest message after Extended Message.
pub const MAX_EXTENDED_LEN: usize = 65535;
pub const MARKER: [u8; 16] = [0xff; 16];

/// The message types this codec knows (RFC 4271 §4.1, RFC 2918).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

impl MessageType {
    fn from_u8(t: u8) -> Option<MessageType> {
        Some(match t {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    /// Smallest valid length of a message of this type (RFC 4271 §4.2–4.4).
    fn min_len(self) -> usize {
        match self {
            MessageType::Open => 29,
            MessageType::Update => 23,
            // A NOTIFICATION too short for its code and subcode is a
            // NOTIFICATION error, which RFC 4271 §6.4 forbids answering.
            MessageType::Notification | MessageType::Keepalive | MessageType::RouteRefresh => HEADER_LEN,
        }
    }

    /// Largest valid length: OPEN and KEEPALIVE never exceed 4096, even
    /// after Extended Message (RFC 8654 §3).
    fn max_len(self, ctx: &SessionCtx) -> usize {
        match self {
            MessageType::Open | MessageType::Keepalive => MAX_LEN,
            _ => ctx.max_message_len(),
        }
    }
}

/// A validated message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Total message length, header included.
    pub length: u16,
    pub kind: MessageType,
}

/// Reads and checks a header from the start of `buf`. `Ok(None)` when
/// fewer than 19 bytes are there yet. The checks are made on the header
/// alone, so an oversized length is refused before its body is buffered.
pub fn parse_header(buf: &[u8], ctx: &SessionCtx) -> Result<Option<Header>, HeaderError> {
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    if head[..16] != MARKER {
        return Err(HeaderError::ConnectionNotSynchronized);
    }
    let length = u16::from_be_bytes([head[16], head[17]]);
    let len = usize::from(length);
    if !(HEADER_LEN..=MAX_EXTENDED_LEN).contains(&len) {
        return Err(HeaderError::BadMessageLength(length));
    }
    let kind = MessageType::from_u8(head[18]).ok_or(HeaderError::BadMessageType(head[18]))?;
    if len < kind.min_len() || len > kind.max_len(ctx) {
        return Err(HeaderError::BadMessageLength(length));
    }
    if kind == MessageType::Keepalive && len != HEADER_LEN {
        return Err(HeaderError::BadMessageLength(length));
    }
    Ok(Some(Header { length, kind }))
}

/// Splits one complete message (header included) off the front of a
/// receive buffer. `Ok(None)` until the whole message has arrived, so a
/// peer that dribbles bytes never produces a message early (and a session
/// counts only complete messages as received).
pub fn split_message(buf: &mut BytesMut, ctx: &SessionCtx) -> Result<Option<Bytes>, HeaderError> {
    match parse_header(buf, ctx)? {
        Some(h) if buf.len() >= usize::from(h.length) => Ok(Some(buf.split_to(usize::from(h.length)).freeze())),
        _ => Ok(None),
    }
}

/// Writes a header with a zero length; [`finish_header`] fills it in.
pub(crate) fn start_header(buf: &mut BytesMut, kind: MessageType) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&MARKER);
    buf.extend_from_slice(&[0, 0, kind as u8]);
    at
}

/// Fills in the length of the message started at `at`, checking it
/// against the largest length the session allows for its type.
pub(crate) fn finish_header(
    buf: &mut BytesMut,
    at: usize,
    kind: MessageType,
    ctx: &SessionCtx,
) -> Result<(), crate::EncodeError> {
    let len = buf.len() - at;
    let max = kind.max_len(ctx);
    if len > max {
        buf.truncate(at);
        return Err(crate::EncodeError::TooLong { len, max });
    }
    let l = u16::try_from(len).map_err(|_| crate::EncodeError::TooLong { len, max })?;
    buf[at + 16..at + 18].copy_from_slice(&l.to_be_bytes());
    Ok(())
}
