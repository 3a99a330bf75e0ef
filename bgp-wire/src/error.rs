//! Typed decode errors and the action each one causes.
//!
//! Header, OPEN, NOTIFICATION and ROUTE-REFRESH problems always end the
//! session with the NOTIFICATION of RFC 4271 §6 (and RFC 7313 §5). UPDATE
//! problems are classified per RFC 7606: only framing problems end the
//! session ([`UpdateError`]); attribute problems ([`AttrError`]) are carried
//! inside the decoded [`crate::Update`] with their treat-as-withdraw or
//! attribute-discard verdict, so the routes they affect are never lost.

use std::fmt;

use crate::notify::{HeaderSubcode, NotifyKind, OpenSubcode, RouteRefreshSubcode, UpdateSubcode};

/// The error-handling approaches of RFC 7606 §2, weakest first, so that
/// `max()` picks the one to apply when several errors meet (§3.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Drop the attribute, process the routes (RFC 7606 §2).
    AttributeDiscard,
    /// Handle every route in the UPDATE as withdrawn (RFC 7606 §2).
    TreatAsWithdraw,
    /// Send NOTIFICATION and close the session (RFC 4271 §6).
    SessionReset,
}

impl Action {
    /// The name scripts match on in `ternc decode` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AttributeDiscard => "attribute-discard",
            Action::TreatAsWithdraw => "treat-as-withdraw",
            Action::SessionReset => "session-reset",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A NOTIFICATION error code, subcode and data (RFC 4271 §4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyError {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl NotifyError {
    pub fn new(kind: NotifyKind, data: impl Into<Vec<u8>>) -> NotifyError {
        NotifyError {
            code: kind.code(),
            subcode: kind.subcode(),
            data: data.into(),
        }
    }
}

/// Message header errors (RFC 4271 §6.1): framing is lost with them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The marker is not all ones: 1/1.
    ConnectionNotSynchronized,
    /// The length is outside 19..=max or below the type's minimum: 1/2, data = the length.
    BadMessageLength(u16),
    /// Unknown message type: 1/3, data = the type.
    BadMessageType(u8),
}

/// OPEN message errors (RFC 4271 §6.2, RFC 5492, RFC 9072).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Version other than 4: 2/1, data = the highest version we support.
    UnsupportedVersion(u8),
    /// An optional parameter other than Capabilities: 2/4.
    UnsupportedOptionalParameter(u8),
    /// Optional parameter or capability lengths that do not add up: 2/0.
    MalformedOptionalParameters(&'static str),
}

/// UPDATE errors that RFC 7606 resolves by session reset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateError {
    /// Withdrawn Routes Length or Total Path Attribute Length overrun the
    /// message (RFC 7606 §3.b), or a duplicate MP_REACH/MP_UNREACH (§3.g): 3/1.
    MalformedAttributeList(&'static str),
    /// A prefix in the Withdrawn Routes or NLRI field cannot be parsed
    /// (RFC 4271 §6.3, RFC 7606 §3.i, §5.3): 3/10.
    InvalidNetworkField(&'static str),
    /// MP_REACH_NLRI / MP_UNREACH_NLRI cannot be parsed (RFC 7606 §7.11,
    /// §5.3; RFC 4760 §7): 3/9 with the attribute as data.
    MalformedMpAttribute {
        type_code: u8,
        reason: &'static str,
        data: Vec<u8>,
    },
    /// An attribute error that would have been treat-as-withdraw, in an
    /// UPDATE that carries no reachable NLRI to withdraw (RFC 7606 §5.2).
    NoNlriToWithdraw(AttrError),
}

/// A NOTIFICATION that cannot be decoded. RFC 4271 §6.4: it cannot be
/// answered; the connection is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationError {
    TooShort,
}

/// ROUTE-REFRESH errors (RFC 7313 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteRefreshError {
    /// Message length other than 23: 7/1, data = the whole message.
    InvalidMessageLength(Vec<u8>),
}

/// Any error that ends the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Header(HeaderError),
    Open(OpenError),
    Update(UpdateError),
    Notification(NotificationError),
    RouteRefresh(RouteRefreshError),
}

impl DecodeError {
    /// What the receiver does: every `DecodeError` ends the session.
    pub fn action(&self) -> Action {
        Action::SessionReset
    }

    /// The NOTIFICATION we send for it, `None` when none may be sent
    /// (an undecodable NOTIFICATION, RFC 4271 §6.4).
    pub fn notification(&self) -> Option<NotifyError> {
        Some(match self {
            DecodeError::Header(h) => match h {
                HeaderError::ConnectionNotSynchronized => {
                    NotifyError::new(NotifyKind::Header(HeaderSubcode::ConnectionNotSynchronized), [])
                }
                HeaderError::BadMessageLength(l) => {
                    NotifyError::new(NotifyKind::Header(HeaderSubcode::BadMessageLength), l.to_be_bytes())
                }
                HeaderError::BadMessageType(t) => {
                    NotifyError::new(NotifyKind::Header(HeaderSubcode::BadMessageType), [*t])
                }
            },
            DecodeError::Open(o) => match o {
                OpenError::UnsupportedVersion(_) => NotifyError::new(
                    NotifyKind::Open(OpenSubcode::UnsupportedVersionNumber),
                    4u16.to_be_bytes(),
                ),
                OpenError::UnsupportedOptionalParameter(_) => {
                    NotifyError::new(NotifyKind::Open(OpenSubcode::UnsupportedOptionalParameter), [])
                }
                OpenError::MalformedOptionalParameters(_) => {
                    NotifyError::new(NotifyKind::Open(OpenSubcode::Unspecific), [])
                }
            },
            DecodeError::Update(u) => match u {
                UpdateError::MalformedAttributeList(_) => {
                    NotifyError::new(NotifyKind::Update(UpdateSubcode::MalformedAttributeList), [])
                }
                UpdateError::InvalidNetworkField(_) => {
                    NotifyError::new(NotifyKind::Update(UpdateSubcode::InvalidNetworkField), [])
                }
                UpdateError::MalformedMpAttribute { data, .. } => {
                    NotifyError::new(NotifyKind::Update(UpdateSubcode::OptionalAttributeError), data.clone())
                }
                UpdateError::NoNlriToWithdraw(a) => a.rfc4271_notification(),
            },
            DecodeError::Notification(_) => return None,
            DecodeError::RouteRefresh(RouteRefreshError::InvalidMessageLength(m)) => NotifyError::new(
                NotifyKind::RouteRefresh(RouteRefreshSubcode::InvalidMessageLength),
                m.clone(),
            ),
        })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Header(HeaderError::ConnectionNotSynchronized) => {
                f.write_str("header: marker is not all ones")
            }
            DecodeError::Header(HeaderError::BadMessageLength(l)) => {
                write!(f, "header: bad message length {l}")
            }
            DecodeError::Header(HeaderError::BadMessageType(t)) => {
                write!(f, "header: unknown message type {t}")
            }
            DecodeError::Open(OpenError::UnsupportedVersion(v)) => {
                write!(f, "open: unsupported version {v}")
            }
            DecodeError::Open(OpenError::UnsupportedOptionalParameter(t)) => {
                write!(f, "open: unsupported optional parameter {t}")
            }
            DecodeError::Open(OpenError::MalformedOptionalParameters(r)) => {
                write!(f, "open: malformed optional parameters: {r}")
            }
            DecodeError::Update(UpdateError::MalformedAttributeList(r)) => {
                write!(f, "update: malformed attribute list: {r}")
            }
            DecodeError::Update(UpdateError::InvalidNetworkField(r)) => {
                write!(f, "update: invalid network field: {r}")
            }
            DecodeError::Update(UpdateError::MalformedMpAttribute { type_code, reason, .. }) => {
                write!(f, "update: malformed attribute {type_code}: {reason}")
            }
            DecodeError::Update(UpdateError::NoNlriToWithdraw(a)) => {
                write!(f, "update: {a}, and no reachable NLRI to withdraw (RFC 7606 5.2)")
            }
            DecodeError::Notification(NotificationError::TooShort) => {
                f.write_str("notification: shorter than 21 bytes")
            }
            DecodeError::RouteRefresh(RouteRefreshError::InvalidMessageLength(m)) => {
                write!(f, "route-refresh: invalid message length {}", m.len())
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// What is wrong with one path attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrErrorKind {
    /// The attribute's length is wrong for its type (RFC 4271 3/5).
    BadLength,
    /// Optional/Transitive/Partial flags contradict the type (3/4, RFC 7606 §3.c).
    BadFlags,
    /// ORIGIN value other than 0, 1, 2 (3/6).
    InvalidOrigin,
    /// AS_PATH segments that do not parse, or AS 0 (3/11, RFC 7607).
    MalformedAsPath,
    /// AS 0 in AGGREGATOR (RFC 7607).
    ZeroAs,
    /// The attribute overruns the attribute list, or the list ends in a
    /// fragment (RFC 7606 §4): parsing of the list stops there.
    Framing,
    /// A second copy of a non-MP attribute (RFC 7606 §3.g): discarded.
    Duplicate,
    /// A well-known mandatory attribute is missing (3/3, RFC 7606 §3.d).
    MissingWellKnown,
    /// A well-known attribute we do not know (3/2).
    UnrecognizedWellKnown,
    /// AS4_PATH / AS4_AGGREGATOR from a 4-octet speaker (RFC 6793 §6).
    FromNewSpeaker,
    /// Attribute type 0 is reserved.
    ReservedType,
    /// An AS_SET or AS_CONFED_SET in AS_PATH or AS4_PATH (RFC 9774 §3:
    /// treat-as-withdraw, whatever the attribute's own verdict).
    AsSet,
    /// A TLV-structured value (AIGP, RFC 7311 §3) whose TLVs do not parse.
    MalformedTlv,
}

impl AttrErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            AttrErrorKind::BadLength => "bad attribute length",
            AttrErrorKind::BadFlags => "bad attribute flags",
            AttrErrorKind::InvalidOrigin => "invalid ORIGIN value",
            AttrErrorKind::MalformedAsPath => "malformed AS path",
            AttrErrorKind::ZeroAs => "AS 0",
            AttrErrorKind::Framing => "attribute overruns the attribute list",
            AttrErrorKind::Duplicate => "duplicate attribute",
            AttrErrorKind::MissingWellKnown => "missing well-known attribute",
            AttrErrorKind::UnrecognizedWellKnown => "unrecognized well-known attribute",
            AttrErrorKind::FromNewSpeaker => "AS4 attribute from a 4-octet AS speaker",
            AttrErrorKind::ReservedType => "reserved attribute type 0",
            AttrErrorKind::AsSet => "AS_SET or AS_CONFED_SET in the AS path (RFC 9774)",
            AttrErrorKind::MalformedTlv => "malformed TLV",
        }
    }
}

/// One attribute problem and the RFC 7606 verdict it earns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrError {
    /// The attribute type code concerned.
    pub type_code: u8,
    pub kind: AttrErrorKind,
    /// Treat-as-withdraw or attribute-discard; never session reset here.
    pub action: Action,
    /// The attribute as received (flags, type, length, value) where it
    /// could be delimited, for the RFC 4271 NOTIFICATION data and logs.
    pub data: Vec<u8>,
}

impl AttrError {
    /// The NOTIFICATION RFC 4271 §6.3 prescribes for this problem, sent
    /// only when RFC 7606 escalates to session reset (§5.2).
    pub fn rfc4271_notification(&self) -> NotifyError {
        use UpdateSubcode as U;
        let subcode = match self.kind {
            AttrErrorKind::BadLength => U::AttributeLengthError,
            AttrErrorKind::BadFlags => U::AttributeFlagsError,
            AttrErrorKind::InvalidOrigin => U::InvalidOriginAttribute,
            AttrErrorKind::MalformedAsPath | AttrErrorKind::AsSet => U::MalformedAsPath,
            AttrErrorKind::ZeroAs => U::OptionalAttributeError,
            AttrErrorKind::Framing | AttrErrorKind::Duplicate => U::MalformedAttributeList,
            AttrErrorKind::MissingWellKnown => U::MissingWellKnownAttribute,
            AttrErrorKind::UnrecognizedWellKnown => U::UnrecognizedWellKnownAttribute,
            AttrErrorKind::FromNewSpeaker | AttrErrorKind::ReservedType | AttrErrorKind::MalformedTlv => {
                U::OptionalAttributeError
            }
        };
        let data = match self.kind {
            AttrErrorKind::MissingWellKnown => vec![self.type_code],
            AttrErrorKind::MalformedAsPath
            | AttrErrorKind::AsSet
            | AttrErrorKind::Framing
            | AttrErrorKind::Duplicate => Vec::new(),
            _ => self.data.clone(),
        };
        NotifyError::new(NotifyKind::Update(subcode), data)
    }
}

impl fmt::Display for AttrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attribute {}: {} ({})",
            self.type_code,
            self.kind.as_str(),
            self.action
        )
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The message would exceed the maximum length of the session.
    TooLong { len: usize, max: usize },
    /// A field holds a value that has no wire form (e.g. an AS_PATH
    /// segment of more than 255 ASNs, a NOTIFICATION data of 64 KiB).
    FieldTooLong(&'static str),
    /// A field the message needs is absent (e.g. the next hop of an
    /// announcement outside IPv4 unicast).
    MissingField(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLong { len, max } => {
                write!(f, "message of {len} bytes exceeds the maximum of {max}")
            }
            EncodeError::FieldTooLong(what) => write!(f, "{what} is too long to encode"),
            EncodeError::MissingField(what) => write!(f, "{what} is missing"),
        }
    }
}

impl std::error::Error for EncodeError {}
