//! NOTIFICATION error codes and subcodes (RFC 4271 §4.5 and §6, RFC 4486,
//! RFC 5492, RFC 7313, RFC 8538, RFC 9234, RFC 9687), typed: what we send
//! is always one of these; what we receive is kept as its two octets and
//! read through [`NotifyKind::from_pair`].

/// Message Header Error subcodes (RFC 4271 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderSubcode {
    ConnectionNotSynchronized = 1,
    BadMessageLength = 2,
    BadMessageType = 3,
}

/// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenSubcode {
    /// No subcode fits (a malformed capability or parameter list).
    Unspecific = 0,
    UnsupportedVersionNumber = 1,
    BadPeerAs = 2,
    BadBgpIdentifier = 3,
    UnsupportedOptionalParameter = 4,
    UnacceptableHoldTime = 6,
    UnsupportedCapability = 7,
    RoleMismatch = 11,
}

/// UPDATE Message Error subcodes (RFC 4271 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpdateSubcode {
    MalformedAttributeList = 1,
    UnrecognizedWellKnownAttribute = 2,
    MissingWellKnownAttribute = 3,
    AttributeFlagsError = 4,
    AttributeLengthError = 5,
    InvalidOriginAttribute = 6,
    InvalidNextHopAttribute = 8,
    OptionalAttributeError = 9,
    InvalidNetworkField = 10,
    MalformedAsPath = 11,
}

/// Finite State Machine Error subcodes (RFC 6608 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FsmSubcode {
    UnexpectedInOpenSent = 1,
    UnexpectedInOpenConfirm = 2,
    UnexpectedInEstablished = 3,
}

/// Cease subcodes (RFC 4486 §4, RFC 8538 §5, RFC 9384).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CeaseSubcode {
    MaximumPrefixesReached = 1,
    AdministrativeShutdown = 2,
    PeerDeconfigured = 3,
    AdministrativeReset = 4,
    ConnectionRejected = 5,
    OtherConfigurationChange = 6,
    ConnectionCollisionResolution = 7,
    OutOfResources = 8,
    HardReset = 9,
    BfdDown = 10,
}

/// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteRefreshSubcode {
    InvalidMessageLength = 1,
}

/// A NOTIFICATION's meaning: its error code with the subcode of that code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyKind {
    Header(HeaderSubcode),
    Open(OpenSubcode),
    Update(UpdateSubcode),
    HoldTimerExpired,
    Fsm(FsmSubcode),
    Cease(CeaseSubcode),
    RouteRefresh(RouteRefreshSubcode),
    /// RFC 9687.
    SendHoldTimerExpired,
}

/// Every subcode enum: its value and name, and the subcode of a value.
macro_rules! subcodes {
    ($($t:ident { $($v:ident => $name:literal),* $(,)? })*) => {$(
        impl $t {
            pub fn from_u8(v: u8) -> Option<$t> {
                [$($t::$v),*].into_iter().find(|s| *s as u8 == v)
            }
            pub fn name(self) -> &'static str {
                match self { $($t::$v => $name),* }
            }
        }
    )*};
}

subcodes! {
    HeaderSubcode {
        ConnectionNotSynchronized => "Connection Not Synchronized",
        BadMessageLength => "Bad Message Length",
        BadMessageType => "Bad Message Type",
    }
    OpenSubcode {
        Unspecific => "",
        UnsupportedVersionNumber => "Unsupported Version Number",
        BadPeerAs => "Bad Peer AS",
        BadBgpIdentifier => "Bad BGP Identifier",
        UnsupportedOptionalParameter => "Unsupported Optional Parameter",
        UnacceptableHoldTime => "Unacceptable Hold Time",
        UnsupportedCapability => "Unsupported Capability",
        RoleMismatch => "Role Mismatch",
    }
    UpdateSubcode {
        MalformedAttributeList => "Malformed Attribute List",
        UnrecognizedWellKnownAttribute => "Unrecognized Well-known Attribute",
        MissingWellKnownAttribute => "Missing Well-known Attribute",
        AttributeFlagsError => "Attribute Flags Error",
        AttributeLengthError => "Attribute Length Error",
        InvalidOriginAttribute => "Invalid ORIGIN Attribute",
        InvalidNextHopAttribute => "Invalid NEXT_HOP Attribute",
        OptionalAttributeError => "Optional Attribute Error",
        InvalidNetworkField => "Invalid Network Field",
        MalformedAsPath => "Malformed AS_PATH",
    }
    FsmSubcode {
        UnexpectedInOpenSent => "Receive Unexpected Message in OpenSent State",
        UnexpectedInOpenConfirm => "Receive Unexpected Message in OpenConfirm State",
        UnexpectedInEstablished => "Receive Unexpected Message in Established State",
    }
    CeaseSubcode {
        MaximumPrefixesReached => "Maximum Number of Prefixes Reached",
        AdministrativeShutdown => "Administrative Shutdown",
        PeerDeconfigured => "Peer De-configured",
        AdministrativeReset => "Administrative Reset",
        ConnectionRejected => "Connection Rejected",
        OtherConfigurationChange => "Other Configuration Change",
        ConnectionCollisionResolution => "Connection Collision Resolution",
        OutOfResources => "Out of Resources",
        HardReset => "Hard Reset",
        BfdDown => "BFD Down",
    }
    RouteRefreshSubcode {
        InvalidMessageLength => "Invalid Message Length",
    }
}

impl NotifyKind {
    pub fn code(self) -> u8 {
        match self {
            NotifyKind::Header(_) => 1,
            NotifyKind::Open(_) => 2,
            NotifyKind::Update(_) => 3,
            NotifyKind::HoldTimerExpired => 4,
            NotifyKind::Fsm(_) => 5,
            NotifyKind::Cease(_) => 6,
            NotifyKind::RouteRefresh(_) => 7,
            NotifyKind::SendHoldTimerExpired => 8,
        }
    }

    pub fn subcode(self) -> u8 {
        match self {
            NotifyKind::Header(s) => s as u8,
            NotifyKind::Open(s) => s as u8,
            NotifyKind::Update(s) => s as u8,
            NotifyKind::Fsm(s) => s as u8,
            NotifyKind::Cease(s) => s as u8,
            NotifyKind::RouteRefresh(s) => s as u8,
            NotifyKind::HoldTimerExpired | NotifyKind::SendHoldTimerExpired => 0,
        }
    }

    /// The meaning of a received (code, subcode), if it has one we know.
    pub fn from_pair(code: u8, subcode: u8) -> Option<NotifyKind> {
        Some(match code {
            1 => NotifyKind::Header(HeaderSubcode::from_u8(subcode)?),
            2 => NotifyKind::Open(OpenSubcode::from_u8(subcode)?),
            3 => NotifyKind::Update(UpdateSubcode::from_u8(subcode)?),
            4 => NotifyKind::HoldTimerExpired,
            5 => NotifyKind::Fsm(FsmSubcode::from_u8(subcode)?),
            6 => NotifyKind::Cease(CeaseSubcode::from_u8(subcode)?),
            7 => NotifyKind::RouteRefresh(RouteRefreshSubcode::from_u8(subcode)?),
            8 => NotifyKind::SendHoldTimerExpired,
            _ => return None,
        })
    }
}

/// The name of an error code.
pub fn code_name(code: u8) -> &'static str {
    match code {
        1 => "Message Header Error",
        2 => "OPEN Message Error",
        3 => "UPDATE Message Error",
        4 => "Hold Timer Expired",
        5 => "Finite State Machine Error",
        6 => "Cease",
        7 => "ROUTE-REFRESH Message Error",
        8 => "Send Hold Timer Expired",
        _ => "Unknown error code",
    }
}

/// A code and subcode in words: `Cease / Administrative Shutdown`; a
/// subcode we do not know is given as a number.
pub fn describe(code: u8, subcode: u8) -> String {
    let c = code_name(code);
    let s = NotifyKind::from_pair(code, subcode)
        .map(|k| match k {
            NotifyKind::Header(s) => s.name(),
            NotifyKind::Open(s) => s.name(),
            NotifyKind::Update(s) => s.name(),
            NotifyKind::Fsm(s) => s.name(),
            NotifyKind::Cease(s) => s.name(),
            NotifyKind::RouteRefresh(s) => s.name(),
            NotifyKind::HoldTimerExpired | NotifyKind::SendHoldTimerExpired => "",
        })
        .unwrap_or("");
    if s.is_empty() && subcode != 0 {
        format!("{c} / subcode {subcode}")
    } else if s.is_empty() {
        c.to_string()
    } else {
        format!("{c} / {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_and_read_as_words() {
        for (c, s) in [
            (1, 2),
            (2, 0),
            (2, 7),
            (3, 11),
            (4, 0),
            (5, 3),
            (6, 2),
            (6, 10),
            (7, 1),
            (8, 0),
        ] {
            let k = NotifyKind::from_pair(c, s).unwrap();
            assert_eq!((k.code(), k.subcode()), (c, s));
        }
        assert_eq!(NotifyKind::from_pair(3, 7), None, "3/7 is deprecated");
        assert_eq!(describe(6, 2), "Cease / Administrative Shutdown");
        assert_eq!(describe(2, 0), "OPEN Message Error");
        assert_eq!(describe(6, 99), "Cease / subcode 99");
        assert_eq!(describe(4, 0), "Hold Timer Expired");
    }
}
