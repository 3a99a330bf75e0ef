//! NOTIFICATION message (RFC 4271 §4.5) with the shutdown communication
//! of RFC 8203 / RFC 9003.
//!
//! ```text
//! +---------------+---------------+----------------------------+
//! | Error code    | Error subcode |   Data (variable)          |
//! +---------------+---------------+----------------------------+
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, NotificationError, NotifyError};
pub use crate::notify::describe;
use crate::notify::{CeaseSubcode, NotifyKind};

/// A NOTIFICATION message. Code and subcode are kept as received (a peer
/// may send any); [`Notification::kind`] reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Bytes,
}

/// Why a shutdown communication could not be read (RFC 9003 §2: it must
/// then be logged, never interpreted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownCommError {
    /// The length octet says more than the data holds.
    BadLength,
    /// Not valid UTF-8.
    InvalidUtf8,
}

impl Notification {
    pub fn new(kind: NotifyKind, data: impl Into<Bytes>) -> Notification {
        Notification {
            code: kind.code(),
            subcode: kind.subcode(),
            data: data.into(),
        }
    }

    /// What the code and subcode mean, when they are ones we know.
    pub fn kind(&self) -> Option<NotifyKind> {
        NotifyKind::from_pair(self.code, self.subcode)
    }

    /// Cease with a shutdown communication (RFC 9003 §2: at most 255
    /// octets; longer text is cut at a character boundary).
    pub fn shutdown(subcode: CeaseSubcode, message: &str) -> Notification {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = BytesMut::with_capacity(end + 1);
        data.put_u8(end as u8);
        data.put_slice(&message.as_bytes()[..end]);
        Notification::new(NotifyKind::Cease(subcode), data.freeze())
    }

    /// The shutdown communication carried by Cease / Administrative
    /// Shutdown or Reset (RFC 9003 §2). `None` when the message is not one
    /// of those or carries no data.
    pub fn shutdown_communication(&self) -> Option<Result<&str, ShutdownCommError>> {
        if !matches!(
            self.kind(),
            Some(NotifyKind::Cease(
                CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset
            ))
        ) {
            return None;
        }
        let (&len, text) = self.data.split_first()?;
        Some(match text.get(..usize::from(len)) {
            None => Err(ShutdownCommError::BadLength),
            Some(t) => std::str::from_utf8(t).map_err(|_| ShutdownCommError::InvalidUtf8),
        })
    }

    /// The code and subcode in words (RFC 4271 §4.5, RFC 4486, RFC 8538, RFC 9687).
    pub fn description(&self) -> String {
        describe(self.code, self.subcode)
    }

    pub fn decode(body: &Bytes) -> Result<Notification, DecodeError> {
        match body.get(..2) {
            Some(&[code, subcode]) => Ok(Notification {
                code,
                subcode,
                data: body.slice(2..),
            }),
            _ => Err(DecodeError::Notification(NotificationError::TooShort)),
        }
    }

    pub fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u8(self.code);
        buf.put_u8(self.subcode);
        buf.put_slice(&self.data);
    }
}

impl From<NotifyError> for Notification {
    fn from(e: NotifyError) -> Notification {
        Notification {
            code: e.code,
            subcode: e.subcode,
            data: e.data.into(),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Notification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Notification", 5)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("subcode", &self.subcode)?;
        st.serialize_field("description", &self.description())?;
        st.serialize_field("data", &crate::serde_util::HexStr(&self.data))?;
        match self.shutdown_communication() {
            Some(Ok(text)) => st.serialize_field("shutdown_communication", text)?,
            Some(Err(ShutdownCommError::BadLength)) => {
                st.serialize_field("shutdown_communication_error", "bad length")?
            }
            Some(Err(ShutdownCommError::InvalidUtf8)) => {
                st.serialize_field("shutdown_communication_error", "invalid UTF-8")?
            }
            None => {}
        }
        st.end()
    }
}
