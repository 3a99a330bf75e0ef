//! NOTIFICATION error codes and subcodes (RFC 4271 §4.5 and §6, RFC 4486,
//! RFC 5492, RFC 7313, RFC 8538, RFC 9234, RFC 9687), typed: what we send
//! is always one of these; what we receive is kept as its two octets and
//! read through [`NotifyKind::from_pair`].

/// Each subcode enum, declared once with its values and names: the type,
/// its reading from a received octet, and its words.
macro_rules! subcodes {
    ($($(#[$doc:meta])* $t:ident { $($(#[$vdoc:meta])* $v:ident = $n:literal => $name:literal),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $t {
            $($(#[$vdoc])* $v = $n),*
        }

        impl $t {
            pub fn from_u8(v: u8) -> Option<$t> {
                match v {
                    $($n => Some($t::$v),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self { $($t::$v => $name),* }
            }
        }
    )*};
}

subcodes! {
    /// Message Header Error subcodes (RFC 4271 §6.1).
    HeaderSubcode {
        ConnectionNotSynchronized = 1 => "Connection Not Synchronized",
        BadMessageLength = 2 => "Bad Message Length",
        BadMessageType = 3 => "Bad Message Type",
    }
    /// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234 §4.2).
    OpenSubcode {
        /// No subcode fits (a malformed capability or parameter list).
        Unspecific = 0 => "",
        UnsupportedVersionNumber = 1 => "Unsupported Version Number",
        BadPeerAs = 2 => "Bad Peer AS",
        BadBgpIdentifier = 3 => "Bad BGP Identifier",
        UnsupportedOptionalParameter = 4 => "Unsupported Optional Parameter",
        UnacceptableHoldTime = 6 => "Unacceptable Hold Time",
        UnsupportedCapability = 7 => "Unsupported Capability",
        RoleMismatch = 11 => "Role Mismatch",
    }
    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    UpdateSubcode {
        MalformedAttributeList = 1 => "Malformed Attribute List",
        UnrecognizedWellKnownAttribute = 2 => "Unrecognized Well-known Attribute",
        MissingWellKnownAttribute = 3 => "Missing Well-known Attribute",
        AttributeFlagsError = 4 => "Attribute Flags Error",
        AttributeLengthError = 5 => "Attribute Length Error",
        InvalidOriginAttribute = 6 => "Invalid ORIGIN Attribute",
        InvalidNextHopAttribute = 8 => "Invalid NEXT_HOP Attribute",
        OptionalAttributeError = 9 => "Optional Attribute Error",
        InvalidNetworkField = 10 => "Invalid Network Field",
        MalformedAsPath = 11 => "Malformed AS_PATH",
    }
    /// Finite State Machine Error subcodes (RFC 6608 §4).
    FsmSubcode {
        UnexpectedInOpenSent = 1 => "Receive Unexpected Message in OpenSent State",
        UnexpectedInOpenConfirm = 2 => "Receive Unexpected Message in OpenConfirm State",
        UnexpectedInEstablished = 3 => "Receive Unexpected Message in Established State",
    }
    /// Cease subcodes (RFC 4486 §4, RFC 8538 §5, RFC 9384).
    CeaseSubcode {
        MaximumPrefixesReached = 1 => "Maximum Number of Prefixes Reached",
        AdministrativeShutdown = 2 => "Administrative Shutdown",
        PeerDeconfigured = 3 => "Peer De-configured",
        AdministrativeReset = 4 => "Administrative Reset",
        ConnectionRejected = 5 => "Connection Rejected",
        OtherConfigurationChange = 6 => "Other Configuration Change",
        ConnectionCollisionResolution = 7 => "Connection Collision Resolution",
        OutOfResources = 8 => "Out of Resources",
        HardReset = 9 => "Hard Reset",
        BfdDown = 10 => "BFD Down",
    }
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
    RouteRefreshSubcode {
        InvalidMessageLength = 1 => "Invalid Message Length",
    }
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

    /// The subcode in words; empty for codes without subcodes.
    pub fn subcode_name(self) -> &'static str {
        match self {
            NotifyKind::Header(s) => s.name(),
            NotifyKind::Open(s) => s.name(),
            NotifyKind::Update(s) => s.name(),
            NotifyKind::Fsm(s) => s.name(),
            NotifyKind::Cease(s) => s.name(),
            NotifyKind::RouteRefresh(s) => s.name(),
            NotifyKind::HoldTimerExpired | NotifyKind::SendHoldTimerExpired => "",
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
    let s = NotifyKind::from_pair(code, subcode).map_or("", NotifyKind::subcode_name);
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
