//! Capabilities advertisement (RFC 5492) and the capabilities tern uses.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! +------------------------------+
//! ```
//!
//! A capability whose value does not parse is kept as
//! [`Capability::Malformed`] with its bytes: RFC 5492 lets a speaker ignore
//! what it does not understand, RFC 4724 §3 asks to ignore a malformed
//! graceful-restart capability, and a 4-octet AS capability of the wrong
//! length must never be read from the next one (GoBGP GHSA-gjrg-jjr3-56cm).
//! The session decides what a malformed capability means.

use bytes::{BufMut, Bytes, BytesMut};

use crate::types::{Afi, Asn, Family, Safi};

pub const CAP_MULTIPROTOCOL: u8 = 1;
pub const CAP_ROUTE_REFRESH: u8 = 2;
pub const CAP_EXTENDED_NEXT_HOP: u8 = 5;
pub const CAP_EXTENDED_MESSAGE: u8 = 6;
pub const CAP_GRACEFUL_RESTART: u8 = 64;
pub const CAP_FOUR_OCTET_AS: u8 = 65;
pub const CAP_ADD_PATH: u8 = 69;
pub const CAP_ENHANCED_ROUTE_REFRESH: u8 = 70;
pub const CAP_LONG_LIVED_GR: u8 = 71;
pub const CAP_FQDN: u8 = 73;

/// One capability.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "name", rename_all = "kebab-case")
)]
pub enum Capability {
    /// RFC 4760 §8.
    Multiprotocol { family: Family },
    /// RFC 2918.
    RouteRefresh,
    /// RFC 8950: NLRI of a family with next hops of another AFI.
    ExtendedNextHop { entries: Vec<ExtendedNextHop> },
    /// RFC 8654.
    ExtendedMessage,
    /// RFC 4724 §3 (with the RFC 8538 N bit).
    GracefulRestart(GracefulRestart),
    /// RFC 6793 §3.
    FourOctetAs { asn: Asn },
    /// RFC 7911 §4.
    AddPath { families: Vec<AddPathFamily> },
    /// RFC 7313.
    EnhancedRouteRefresh,
    /// RFC 9494.
    LongLivedGracefulRestart { families: Vec<LlgrFamily> },
    /// draft-walton-bgp-hostname-capability: host and domain name.
    Fqdn {
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::lossy"))]
        hostname: Bytes,
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::lossy"))]
        domain: Bytes,
    },
    /// A capability this codec does not interpret, kept byte for byte.
    Unknown {
        code: u8,
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))]
        value: Bytes,
    },
    /// A known capability whose value does not parse, kept byte for byte.
    Malformed {
        code: u8,
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))]
        value: Bytes,
    },
}

/// One entry of the extended next hop capability (RFC 8950 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ExtendedNextHop {
    pub nlri_afi: Afi,
    /// Two octets wide in this capability, unlike elsewhere.
    pub nlri_safi: u16,
    pub next_hop_afi: Afi,
}

/// The graceful restart capability (RFC 4724 §3, RFC 8538 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GracefulRestart {
    /// The four Restart Flags bits (R = 0x8, N = 0x4).
    pub flags: u8,
    /// Restart Time in seconds, 12 bits.
    pub restart_time: u16,
    pub families: Vec<GrFamily>,
}

impl GracefulRestart {
    /// R bit: the sender has restarted (RFC 4724 §3).
    pub fn restart_state(&self) -> bool {
        self.flags & 0x8 != 0
    }
    /// N bit: NOTIFICATION messages are covered by graceful restart (RFC 8538).
    pub fn notification(&self) -> bool {
        self.flags & 0x4 != 0
    }
}

/// A family in the graceful restart capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GrFamily {
    pub family: Family,
    /// Flags for the family; 0x80 = forwarding state preserved (F bit).
    pub flags: u8,
}

impl GrFamily {
    pub fn forwarding_preserved(&self) -> bool {
        self.flags & 0x80 != 0
    }
}

/// Send/Receive field of ADD-PATH (RFC 7911 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "kebab-case"))]
pub enum AddPathMode {
    Receive = 1,
    Send = 2,
    Both = 3,
}

impl AddPathMode {
    pub fn can_receive(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
    pub fn can_send(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// A family in the ADD-PATH capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AddPathFamily {
    pub family: Family,
    pub mode: AddPathMode,
}

/// A family in the long-lived graceful restart capability (RFC 9494 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LlgrFamily {
    pub family: Family,
    pub flags: u8,
    /// Long-lived stale time in seconds, 24 bits.
    pub stale_time: u32,
}

impl Capability {
    /// The capability code this value is sent with.
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol { .. } => CAP_MULTIPROTOCOL,
            Capability::RouteRefresh => CAP_ROUTE_REFRESH,
            Capability::ExtendedNextHop { .. } => CAP_EXTENDED_NEXT_HOP,
            Capability::ExtendedMessage => CAP_EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => CAP_GRACEFUL_RESTART,
            Capability::FourOctetAs { .. } => CAP_FOUR_OCTET_AS,
            Capability::AddPath { .. } => CAP_ADD_PATH,
            Capability::EnhancedRouteRefresh => CAP_ENHANCED_ROUTE_REFRESH,
            Capability::LongLivedGracefulRestart { .. } => CAP_LONG_LIVED_GR,
            Capability::Fqdn { .. } => CAP_FQDN,
            Capability::Unknown { code, .. } | Capability::Malformed { code, .. } => *code,
        }
    }

    /// Decodes one capability value. Never fails: a value that does not
    /// parse becomes [`Capability::Malformed`].
    pub fn decode(code: u8, value: Bytes) -> Capability {
        Self::parse(code, &value).unwrap_or(Capability::Malformed { code, value })
    }

    fn parse(code: u8, v: &Bytes) -> Option<Capability> {
        let family = |c: &[u8]| Family::new(Afi(u16::from_be_bytes([c[0], c[1]])), Safi(c[3]));
        Some(match code {
            CAP_MULTIPROTOCOL if v.len() == 4 => Capability::Multiprotocol { family: family(v) },
            CAP_ROUTE_REFRESH if v.is_empty() => Capability::RouteRefresh,
            CAP_EXTENDED_MESSAGE if v.is_empty() => Capability::ExtendedMessage,
            CAP_ENHANCED_ROUTE_REFRESH if v.is_empty() => Capability::EnhancedRouteRefresh,
            CAP_FOUR_OCTET_AS if v.len() == 4 => Capability::FourOctetAs {
                asn: Asn(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
            },
            CAP_EXTENDED_NEXT_HOP if !v.is_empty() && v.len().is_multiple_of(6) => Capability::ExtendedNextHop {
                entries: v
                    .chunks_exact(6)
                    .map(|c| ExtendedNextHop {
                        nlri_afi: Afi(u16::from_be_bytes([c[0], c[1]])),
                        nlri_safi: u16::from_be_bytes([c[2], c[3]]),
                        next_hop_afi: Afi(u16::from_be_bytes([c[4], c[5]])),
                    })
                    .collect(),
            },
            CAP_GRACEFUL_RESTART if v.len() >= 2 && (v.len() - 2).is_multiple_of(4) => {
                let head = u16::from_be_bytes([v[0], v[1]]);
                Capability::GracefulRestart(GracefulRestart {
                    flags: (head >> 12) as u8,
                    restart_time: head & 0x0fff,
                    families: v[2..]
                        .chunks_exact(4)
                        .map(|c| GrFamily {
                            family: Family::new(Afi(u16::from_be_bytes([c[0], c[1]])), Safi(c[2])),
                            flags: c[3],
                        })
                        .collect(),
                })
            }
            CAP_ADD_PATH if !v.is_empty() && v.len().is_multiple_of(4) => {
                let mut families = Vec::with_capacity(v.len() / 4);
                for c in v.chunks_exact(4) {
                    let mode = match c[3] {
                        1 => AddPathMode::Receive,
                        2 => AddPathMode::Send,
                        3 => AddPathMode::Both,
                        _ => return None,
                    };
                    let family = Family::new(Afi(u16::from_be_bytes([c[0], c[1]])), Safi(c[2]));
                    families.push(AddPathFamily { family, mode });
                }
                Capability::AddPath { families }
            }
            CAP_LONG_LIVED_GR if v.len().is_multiple_of(7) => Capability::LongLivedGracefulRestart {
                families: v
                    .chunks_exact(7)
                    .map(|c| LlgrFamily {
                        family: Family::new(Afi(u16::from_be_bytes([c[0], c[1]])), Safi(c[2])),
                        flags: c[3],
                        stale_time: u32::from_be_bytes([0, c[4], c[5], c[6]]),
                    })
                    .collect(),
            },
            CAP_FQDN => {
                let hl = usize::from(*v.first()?);
                let hostname = v.get(1..1 + hl)?;
                let dl = usize::from(*v.get(1 + hl)?);
                let domain = v.get(2 + hl..2 + hl + dl)?;
                if v.len() != 2 + hl + dl {
                    return None;
                }
                Capability::Fqdn {
                    hostname: v.slice_ref(hostname),
                    domain: v.slice_ref(domain),
                }
            }
            CAP_MULTIPROTOCOL
            | CAP_ROUTE_REFRESH
            | CAP_EXTENDED_MESSAGE
            | CAP_ENHANCED_ROUTE_REFRESH
            | CAP_FOUR_OCTET_AS
            | CAP_EXTENDED_NEXT_HOP
            | CAP_GRACEFUL_RESTART
            | CAP_ADD_PATH
            | CAP_LONG_LIVED_GR => return None,
            _ => Capability::Unknown { code, value: v.clone() },
        })
    }

    /// Appends code, length and value.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), crate::EncodeError> {
        buf.put_u8(self.code());
        let at = crate::reader::len_start(buf, 1);
        let put_family = |buf: &mut BytesMut, f: Family| {
            buf.put_u16(f.afi.0);
            buf.put_u8(f.safi.0);
        };
        match self {
            Capability::Multiprotocol { family } => {
                buf.put_u16(family.afi.0);
                buf.put_u8(0);
                buf.put_u8(family.safi.0);
            }
            Capability::RouteRefresh | Capability::ExtendedMessage | Capability::EnhancedRouteRefresh => {}
            Capability::ExtendedNextHop { entries } => {
                for e in entries {
                    buf.put_u16(e.nlri_afi.0);
                    buf.put_u16(e.nlri_safi);
                    buf.put_u16(e.next_hop_afi.0);
                }
            }
            Capability::GracefulRestart(gr) => {
                buf.put_u16((u16::from(gr.flags & 0xf) << 12) | (gr.restart_time & 0x0fff));
                for f in &gr.families {
                    put_family(buf, f.family);
                    buf.put_u8(f.flags);
                }
            }
            Capability::FourOctetAs { asn } => buf.put_u32(asn.0),
            Capability::AddPath { families } => {
                for f in families {
                    put_family(buf, f.family);
                    buf.put_u8(f.mode as u8);
                }
            }
            Capability::LongLivedGracefulRestart { families } => {
                for f in families {
                    put_family(buf, f.family);
                    buf.put_u8(f.flags);
                    buf.put_slice(&f.stale_time.to_be_bytes()[1..]);
                }
            }
            Capability::Fqdn { hostname, domain } => {
                for part in [hostname, domain] {
                    let l = u8::try_from(part.len()).map_err(|_| crate::EncodeError::FieldTooLong("FQDN"))?;
                    buf.put_u8(l);
                    buf.put_slice(part);
                }
            }
            Capability::Unknown { value, .. } | Capability::Malformed { value, .. } => buf.put_slice(value),
        }
        crate::reader::len_finish(buf, at, 1, "capability")
    }
}
