//! The message enum and whole-message decode / encode.

use bytes::{Bytes, BytesMut};

use crate::context::SessionCtx;
use crate::error::{DecodeError, HeaderError};
use crate::header::{finish_header, parse_header, start_header, MessageType, HEADER_LEN};
use crate::{Notification, Open, RouteRefresh, Update};

/// Any BGP message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "type", rename_all = "kebab-case")
)]
pub enum Message {
    Open(Open),
    Update(Box<Update>),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Decodes one complete message, header included (as split off by
    /// [`crate::split_message`]). Trailing bytes beyond the header's
    /// length are a length error.
    pub fn decode(frame: &Bytes, ctx: &SessionCtx) -> Result<Message, DecodeError> {
        let header = parse_header(frame, ctx)
            .map_err(DecodeError::Header)?
            .ok_or(DecodeError::Header(HeaderError::BadMessageLength(frame.len() as u16)))?;
        if usize::from(header.length) != frame.len() {
            return Err(DecodeError::Header(HeaderError::BadMessageLength(header.length)));
        }
        Ok(match header.kind {
            MessageType::Update => Message::Update(Box::new(Update::decode_in(frame, &frame[HEADER_LEN..], ctx)?)),
            MessageType::Open => Message::Open(Open::decode(&frame.slice(HEADER_LEN..))?),
            MessageType::Notification => Message::Notification(Notification::decode(&frame.slice(HEADER_LEN..))?),
            MessageType::Keepalive => Message::Keepalive,
            MessageType::RouteRefresh => Message::RouteRefresh(RouteRefresh::decode(&frame.slice(HEADER_LEN..))?),
        })
    }

    /// Appends the whole message to `buf`. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut BytesMut, ctx: &SessionCtx) -> Result<(), crate::EncodeError> {
        let kind = self.kind();
        let at = start_header(buf, kind);
        let r = match self {
            Message::Open(o) => o.encode_body(buf),
            Message::Update(u) => u.encode_body(buf, ctx),
            Message::Notification(n) => {
                n.encode_body(buf);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(r) => {
                r.encode_body(buf);
                Ok(())
            }
        };
        if let Err(e) = r {
            buf.truncate(at);
            return Err(e);
        }
        finish_header(buf, at, kind, ctx)
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self, ctx: &SessionCtx) -> Result<Bytes, crate::EncodeError> {
        let mut b = BytesMut::new();
        self.encode(&mut b, ctx)?;
        Ok(b.freeze())
    }
}
