//! NOTIFICATION message (RFC 4271 §4.5) with the shutdown communication
//! of RFC 8203 / RFC 9003.
//!
//! ```text
//! +---------------+---------------+----------------------------+
//! | Error code    | Error subcode |   Data (variable)          |
//! +---------------+---------------+----------------------------+
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, NotificationError};

pub const CEASE: u8 = 6;
pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
pub const ADMINISTRATIVE_RESET: u8 = 4;
/// Cease subcodes of RFC 4486 §4 for a peer removed or changed by
/// configuration.
pub const PEER_DECONFIGURED: u8 = 3;
pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;

/// A NOTIFICATION message.
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
    pub fn new(code: u8, subcode: u8, data: impl Into<Bytes>) -> Notification {
        Notification {
            code,
            subcode,
            data: data.into(),
        }
    }

    /// Cease with a shutdown communication (RFC 9003 §2: at most 255
    /// octets; longer text is cut at a character boundary).
    pub fn shutdown(subcode: u8, message: &str) -> Notification {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = BytesMut::with_capacity(end + 1);
        data.put_u8(end as u8);
        data.put_slice(&message.as_bytes()[..end]);
        Notification {
            code: CEASE,
            subcode,
            data: data.freeze(),
        }
    }

    /// The shutdown communication carried by Cease / Administrative
    /// Shutdown or Reset (RFC 9003 §2). `None` when the message is not one
    /// of those or carries no data.
    pub fn shutdown_communication(&self) -> Option<Result<&str, ShutdownCommError>> {
        if self.code != CEASE || !(self.subcode == ADMINISTRATIVE_SHUTDOWN || self.subcode == ADMINISTRATIVE_RESET) {
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

/// The name of a NOTIFICATION code and subcode.
pub fn describe(code: u8, subcode: u8) -> String {
    let (c, s) = match code {
        1 => (
            "Message Header Error",
            match subcode {
                1 => "Connection Not Synchronized",
                2 => "Bad Message Length",
                3 => "Bad Message Type",
                _ => "",
            },
        ),
        2 => (
            "OPEN Message Error",
            match subcode {
                1 => "Unsupported Version Number",
                2 => "Bad Peer AS",
                3 => "Bad BGP Identifier",
                4 => "Unsupported Optional Parameter",
                6 => "Unacceptable Hold Time",
                7 => "Unsupported Capability",
                11 => "Role Mismatch",
                _ => "",
            },
        ),
        3 => (
            "UPDATE Message Error",
            match subcode {
                1 => "Malformed Attribute List",
                2 => "Unrecognized Well-known Attribute",
                3 => "Missing Well-known Attribute",
                4 => "Attribute Flags Error",
                5 => "Attribute Length Error",
                6 => "Invalid ORIGIN Attribute",
                8 => "Invalid NEXT_HOP Attribute",
                9 => "Optional Attribute Error",
                10 => "Invalid Network Field",
                11 => "Malformed AS_PATH",
                _ => "",
            },
        ),
        4 => ("Hold Timer Expired", ""),
        5 => (
            "Finite State Machine Error",
            match subcode {
                1 => "Receive Unexpected Message in OpenSent State",
                2 => "Receive Unexpected Message in OpenConfirm State",
                3 => "Receive Unexpected Message in Established State",
                _ => "",
            },
        ),
        6 => (
            "Cease",
            match subcode {
                1 => "Maximum Number of Prefixes Reached",
                2 => "Administrative Shutdown",
                3 => "Peer De-configured",
                4 => "Administrative Reset",
                5 => "Connection Rejected",
                6 => "Other Configuration Change",
                7 => "Connection Collision Resolution",
                8 => "Out of Resources",
                9 => "Hard Reset",
                10 => "BFD Down",
                _ => "",
            },
        ),
        7 => (
            "ROUTE-REFRESH Message Error",
            match subcode {
                1 => "Invalid Message Length",
                _ => "",
            },
        ),
        8 => ("Send Hold Timer Expired", ""),
        _ => ("Unknown error code", ""),
    };
    if s.is_empty() && subcode != 0 {
        format!("{c} / subcode {subcode}")
    } else if s.is_empty() {
        c.to_string()
    } else {
        format!("{c} / {s}")
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
