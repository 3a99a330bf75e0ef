//! Small value types shared by every message: AS numbers, identifiers,
//! address families and prefixes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An autonomous system number, always held in its 4-octet form (RFC 6793).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Asn(pub u32);

impl Asn {
    /// AS_TRANS (RFC 6793 §9): stands in for a 4-octet AS where only two octets fit.
    pub const TRANS: Asn = Asn(23456);

    /// The 2-octet form of this AS: itself when it fits, AS_TRANS otherwise.
    pub fn to_u16_or_trans(self) -> u16 {
        u16::try_from(self.0).unwrap_or(23456)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A BGP Identifier (RFC 4271 §4.2, RFC 6286), also used for ORIGINATOR_ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct RouterId(pub Ipv4Addr);

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A route reflection cluster identifier (RFC 4456 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct ClusterId(pub Ipv4Addr);

/// Address Family Identifier (IANA registry). Open: unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (IANA registry). Open: unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
    pub const MULTICAST: Safi = Safi(2);
}

/// An AFI/SAFI pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Family {
    pub afi: Afi,
    pub safi: Safi,
}

impl Family {
    pub const IPV4_UNICAST: Family = Family {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
    };
    pub const IPV6_UNICAST: Family = Family {
        afi: Afi::IPV6,
        safi: Safi::UNICAST,
    };

    pub const fn new(afi: Afi, safi: Safi) -> Family {
        Family { afi, safi }
    }

    /// The address width in bits when this family's NLRI are plain IP
    /// prefixes that this codec decodes; `None` for other families, whose
    /// NLRI are carried as opaque bytes.
    pub fn prefix_bits(self) -> Option<u8> {
        match self {
            Family::IPV4_UNICAST => Some(32),
            Family {
                afi: Afi::IPV4,
                safi: Safi::MULTICAST,
            } => Some(32),
            Family::IPV6_UNICAST => Some(128),
            Family {
                afi: Afi::IPV6,
                safi: Safi::MULTICAST,
            } => Some(128),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Family::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            Family::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            Family { afi, safi } => write!(f, "afi{}-safi{}", afi.0, safi.0),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An IP prefix. Host bits are always zero: a received prefix with host
/// bits set is masked (reliability catalogue E4), so one route has one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prefix(IpNet);

/// One write per prefix: the derived hash feeds the enum tag, the address
/// and the length separately, and tables hash a prefix per route.
impl std::hash::Hash for Prefix {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self.0 {
            IpNet::V4(n) => h.write_u64(u64::from(u32::from(n.addr())) << 8 | u64::from(n.prefix_len())),
            IpNet::V6(n) => {
                h.write_u128(u128::from(n.addr()));
                h.write_u8(n.prefix_len());
            }
        }
    }
}

impl Prefix {
    /// Builds a prefix, masking host bits. `None` when `len` exceeds the address width.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        IpNet::new(addr, len).ok().map(|n| Prefix(n.trunc()))
    }

    pub fn v4(addr: Ipv4Addr, len: u8) -> Option<Prefix> {
        Ipv4Net::new(addr, len).ok().map(|n| Prefix(IpNet::V4(n.trunc())))
    }

    pub fn v6(addr: Ipv6Addr, len: u8) -> Option<Prefix> {
        Ipv6Net::new(addr, len).ok().map(|n| Prefix(IpNet::V6(n.trunc())))
    }

    /// A prefix from an address whose host bits are already zero.
    #[inline]
    pub(crate) fn from_masked_v4(addr: u32, len: u8) -> Option<Prefix> {
        Ipv4Net::new(Ipv4Addr::from(addr), len)
            .ok()
            .map(|n| Prefix(IpNet::V4(n)))
    }

    /// A prefix from an address whose host bits are already zero.
    #[inline]
    pub(crate) fn from_masked_v6(addr: u128, len: u8) -> Option<Prefix> {
        Ipv6Net::new(Ipv6Addr::from(addr), len)
            .ok()
            .map(|n| Prefix(IpNet::V6(n)))
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    pub fn addr(&self) -> IpAddr {
        self.0.addr()
    }

    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Whether `other` lies within this prefix (equal counts).
    pub fn contains(&self, other: &Prefix) -> bool {
        self.0.contains(&other.0)
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }

    /// The unicast family this prefix belongs to.
    pub fn family(&self) -> Family {
        if self.is_ipv4() {
            Family::IPV4_UNICAST
        } else {
            Family::IPV6_UNICAST
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Prefix {
    type Err = ipnet::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<IpNet>().map(|n| Prefix(n.trunc()))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An ADD-PATH path identifier (RFC 7911 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct PathId(pub u32);

/// Displays bytes as lowercase hex.
pub struct HexStr<'a>(pub &'a [u8]);

impl std::fmt::Display for HexStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
