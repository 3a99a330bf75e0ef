//! Every path attribute this codec knows, one entry each (the idea of
//! BIRD's `bgp_attr_table`): its type code, BIRD's name for it, the flags
//! it must carry, what RFC 7606 does when it is malformed, and how it is
//! read, written and shown. Adding an attribute is a field of
//! [`PathAttributes`] (which also gives its JSON) and an entry here.

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::community::{self, Community, ExtCommunity, LargeCommunity};
use super::flags::{OPTIONAL as O, TRANSITIVE as T};
use super::values::{aggregator, aigp_well_formed, u32_exact, without_sets, Aggregator, Origin};
use super::{code, try_put_attr, AsPath, NextHop, PathAttributes};
use crate::context::SessionCtx;
use crate::error::{Action, AttrErrorKind, EncodeError};
use crate::types::{ClusterId, HexStr, RouterId};

const TAW: Action = Action::TreatAsWithdraw;
const DISCARD: Action = Action::AttributeDiscard;

/// Where a well-formed value went.
pub(super) enum Kept {
    /// Into its typed field of [`PathAttributes`] (or nowhere: AIGP).
    Typed,
    /// Checked only: the caller keeps its bytes to pass on.
    Raw,
}

type Decode = fn(&mut PathAttributes, &[u8], &SessionCtx) -> Result<Kept, AttrErrorKind>;
type Encode = fn(&PathAttributes, &mut AttrOut<'_>);
type Text = fn(&PathAttributes) -> Option<String>;

/// One known attribute type.
pub(super) struct Spec {
    pub code: u8,
    /// BIRD's name: `show route all` prints `BGP.<name>: <text>`.
    pub name: &'static str,
    /// Expected Optional and Transitive bits.
    pub flags: u8,
    /// RFC 7606 §7 verdict for a malformed value.
    pub action: Action,
    /// Reads a value. `None` for MP_REACH_NLRI and MP_UNREACH_NLRI, which
    /// are read apart: they need the whole message and reset the session
    /// (RFC 7606 §7.11, §7.12).
    pub decode: Option<Decode>,
    /// Writes the attribute if the set holds it (MP ones are written first,
    /// apart, RFC 7606 §5.1).
    pub encode: Encode,
    /// The value as BIRD 1.6 shows it, if the set holds it.
    pub text: Text,
}

/// Where an [`Encode`] writes: the attribute's header comes from its entry.
pub(super) struct AttrOut<'a> {
    buf: &'a mut BytesMut,
    code: u8,
    flags: u8,
    /// ASN width of the session: 2 or 4 octets.
    width: usize,
    result: Result<(), EncodeError>,
}

impl AttrOut<'_> {
    fn put(&mut self, value: impl FnOnce(&mut BytesMut)) {
        self.try_put(|b| {
            value(b);
            Ok(())
        })
    }

    fn try_put(&mut self, value: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>) {
        if self.result.is_ok() {
            self.result = try_put_attr(self.buf, self.flags, self.code, value);
        }
    }
}

fn width(ctx: &SessionCtx) -> usize {
    if ctx.four_octet_as {
        4
    } else {
        2
    }
}

fn put_aggregator(b: &mut BytesMut, g: &Aggregator, width: usize) {
    if width == 4 {
        b.put_u32(g.asn.0);
    } else {
        b.put_u16(g.asn.to_u16_or_trans());
    }
    b.put_slice(&g.address.octets());
}

fn joined<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

/// An extended community as BIRD 1.6 writes it: `(rt, ASN, value)` for
/// two-octet-AS route targets and origins, `(generic, 0x…, 0x…)` otherwise.
fn ext_community_text(e: &ExtCommunity) -> String {
    let b = e.0;
    let (hi, lo) = (
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    );
    let asn = u16::from_be_bytes([b[2], b[3]]);
    match (b[0], b[1]) {
        (0x00, 0x02) => format!("(rt, {asn}, {lo})"),
        (0x00, 0x03) => format!("(ro, {asn}, {lo})"),
        _ => format!("(generic, 0x{hi:x}, 0x{lo:x})"),
    }
}

/// The table, by type code: the order attributes are written in.
pub(super) const SPECS: &[Spec] = &[
    Spec {
        code: code::ORIGIN,
        name: "origin",
        flags: T,
        action: TAW,
        decode: Some(|a, v, _| {
            a.origin = Some(match v {
                [0] => Origin::Igp,
                [1] => Origin::Egp,
                [2] => Origin::Incomplete,
                [_] => return Err(AttrErrorKind::InvalidOrigin),
                _ => return Err(AttrErrorKind::BadLength),
            });
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(x) = a.origin {
                o.put(|b| b.put_u8(x as u8));
            }
        },
        text: |a| {
            a.origin.map(|o| {
                match o {
                    Origin::Igp => "IGP",
                    Origin::Egp => "EGP",
                    Origin::Incomplete => "Incomplete",
                }
                .to_string()
            })
        },
    },
    Spec {
        code: code::AS_PATH,
        name: "as_path",
        flags: T,
        action: TAW,
        decode: Some(|a, v, ctx| {
            let p = AsPath::decode(v, width(ctx)).ok_or(AttrErrorKind::MalformedAsPath)?;
            a.as_path = Some(without_sets(p)?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(p) = &a.as_path {
                let w = o.width;
                o.try_put(|b| p.encode(b, w));
            }
        },
        text: |a| a.as_path.as_ref().map(|p| p.to_string()),
    },
    Spec {
        code: code::NEXT_HOP,
        name: "next_hop",
        flags: T,
        action: TAW,
        decode: Some(|a, v, _| {
            a.next_hop = Some(Ipv4Addr::from(u32_exact(v)?));
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(n) = a.next_hop {
                o.put(|b| b.put_slice(&n.octets()));
            }
        },
        text: |a| a.next_hop.map(|n| n.to_string()),
    },
    Spec {
        code: code::MULTI_EXIT_DISC,
        name: "med",
        flags: O,
        action: TAW,
        decode: Some(|a, v, _| {
            a.med = Some(u32_exact(v)?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(m) = a.med {
                o.put(|b| b.put_u32(m));
            }
        },
        text: |a| a.med.map(|m| m.to_string()),
    },
    Spec {
        code: code::LOCAL_PREF,
        name: "local_pref",
        flags: T,
        action: TAW,
        decode: Some(|a, v, _| {
            a.local_pref = Some(u32_exact(v)?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(l) = a.local_pref {
                o.put(|b| b.put_u32(l));
            }
        },
        text: |a| a.local_pref.map(|l| l.to_string()),
    },
    Spec {
        code: code::ATOMIC_AGGREGATE,
        name: "atomic_aggr",
        flags: T,
        action: DISCARD,
        decode: Some(|a, v, _| {
            if !v.is_empty() {
                return Err(AttrErrorKind::BadLength);
            }
            a.atomic_aggregate = true;
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if a.atomic_aggregate {
                o.put(|_| ());
            }
        },
        text: |a| a.atomic_aggregate.then(String::new),
    },
    Spec {
        code: code::AGGREGATOR,
        name: "aggregator",
        flags: O | T,
        action: DISCARD,
        decode: Some(|a, v, ctx| {
            a.aggregator = Some(aggregator(v, width(ctx))?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(g) = a.aggregator {
                let w = o.width;
                o.put(|b| put_aggregator(b, &g, w));
            }
        },
        text: |a| a.aggregator.map(|g| format!("{} AS{}", g.address, g.asn)),
    },
    Spec {
        code: code::COMMUNITIES,
        name: "community",
        flags: O | T,
        action: TAW,
        decode: Some(|a, v, _| {
            a.communities = Some(
                community::decode_list::<4, _>(v, |c| Community(u32::from_be_bytes(*c)))
                    .ok_or(AttrErrorKind::BadLength)?,
            );
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(cs) = &a.communities {
                o.put(|b| community::encode_communities(b, cs));
            }
        },
        text: |a| {
            let cs = a.communities.as_deref().filter(|c| !c.is_empty())?;
            Some(joined(cs, |c| format!("({},{})", c.0 >> 16, c.0 & 0xffff)))
        },
    },
    Spec {
        code: code::ORIGINATOR_ID,
        name: "originator_id",
        flags: O,
        action: TAW,
        decode: Some(|a, v, _| {
            a.originator_id = Some(RouterId(Ipv4Addr::from(u32_exact(v)?)));
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(id) = a.originator_id {
                o.put(|b| b.put_slice(&id.0.octets()));
            }
        },
        text: |a| a.originator_id.map(|id| id.to_string()),
    },
    Spec {
        code: code::CLUSTER_LIST,
        name: "cluster_list",
        flags: O,
        action: TAW,
        decode: Some(|a, v, _| {
            a.cluster_list = Some(
                community::decode_list::<4, _>(v, |c| ClusterId(Ipv4Addr::from(*c))).ok_or(AttrErrorKind::BadLength)?,
            );
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(cl) = &a.cluster_list {
                o.put(|b| {
                    for id in cl {
                        b.put_slice(&id.0.octets());
                    }
                });
            }
        },
        text: |a| {
            let cl = a.cluster_list.as_deref().filter(|c| !c.is_empty())?;
            Some(joined(cl, |c| c.0.to_string()))
        },
    },
    Spec {
        code: code::MP_REACH_NLRI,
        // BIRD shows an MP next hop as it shows NEXT_HOP.
        name: "next_hop",
        flags: O,
        action: Action::SessionReset,
        decode: None,
        encode: |_, _| {},
        text: |a| {
            a.mp_reach.as_ref().map(|r| match &r.next_hop {
                NextHop::V4(n) => n.to_string(),
                NextHop::V6 {
                    global,
                    link_local: Some(ll),
                } => format!("{global} {ll}"),
                NextHop::V6 { global, .. } => global.to_string(),
                NextHop::Opaque(b) => HexStr(b).to_string(),
            })
        },
    },
    Spec {
        code: code::MP_UNREACH_NLRI,
        name: "mp_unreach_nlri",
        flags: O,
        action: Action::SessionReset,
        decode: None,
        encode: |_, _| {},
        text: |_| None,
    },
    Spec {
        code: code::EXTENDED_COMMUNITIES,
        name: "ext_community",
        flags: O | T,
        action: TAW,
        decode: Some(|a, v, _| {
            a.ext_communities =
                Some(community::decode_list::<8, _>(v, |c| ExtCommunity(*c)).ok_or(AttrErrorKind::BadLength)?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(e) = &a.ext_communities {
                o.put(|b| community::encode_ext(b, e));
            }
        },
        text: |a| {
            let e = a.ext_communities.as_deref().filter(|e| !e.is_empty())?;
            Some(joined(e, ext_community_text))
        },
    },
    // RFC 6793 §6: AS4_PATH and AS4_AGGREGATOR only come from OLD speakers;
    // from a NEW one they are discarded. §4.2.2: we send them only to an
    // OLD speaker, and only when some ASN did not fit (AS_TRANS stands in
    // for it): as decoded, or else derived from the real path.
    Spec {
        code: code::AS4_PATH,
        name: "as4_path",
        flags: O | T,
        action: DISCARD,
        decode: Some(|a, v, ctx| {
            if ctx.four_octet_as {
                return Err(AttrErrorKind::FromNewSpeaker);
            }
            let p = AsPath::decode(v, 4).ok_or(AttrErrorKind::MalformedAsPath)?;
            a.as4_path = Some(without_sets(p)?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if o.width != 2 {
                return;
            }
            if let Some(p) = a
                .as4_path
                .clone()
                .or_else(|| a.as_path.as_ref().and_then(AsPath::as4_path))
            {
                o.try_put(|b| p.encode(b, 4));
            }
        },
        text: |a| a.as4_path.as_ref().map(|p| p.to_string()),
    },
    Spec {
        code: code::AS4_AGGREGATOR,
        name: "as4_aggregator",
        flags: O | T,
        action: DISCARD,
        decode: Some(|a, v, ctx| {
            if ctx.four_octet_as {
                return Err(AttrErrorKind::FromNewSpeaker);
            }
            a.as4_aggregator = Some(aggregator(v, 4)?);
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if o.width != 2 {
                return;
            }
            let derived = a.aggregator.filter(|g| g.asn.0 > u32::from(u16::MAX));
            if let Some(g) = a.as4_aggregator.or(derived) {
                o.put(|b| put_aggregator(b, &g, 4));
            }
        },
        text: |a| a.as4_aggregator.map(|g| format!("{} AS{}", g.address, g.asn)),
    },
    // RFC 5701 §2 (RFC 7606 §7.15): 20-octet IPv6 address-specific
    // extended communities; checked, then passed on as received.
    Spec {
        code: code::IPV6_EXT_COMMUNITIES,
        name: "ipv6_ext_community",
        flags: O | T,
        action: TAW,
        decode: Some(|_, v, _| {
            if v.is_empty() || !v.len().is_multiple_of(20) {
                return Err(AttrErrorKind::BadLength);
            }
            Ok(Kept::Raw)
        }),
        encode: |_, _| {},
        text: |_| None,
    },
    // RFC 7311 §3.2: AIGP is only taken on sessions that enable it, which
    // none of ours does: a well-formed one is dropped, a malformed one too.
    Spec {
        code: code::AIGP,
        name: "aigp",
        flags: O,
        action: DISCARD,
        decode: Some(|_, v, _| {
            if !aigp_well_formed(v) {
                return Err(AttrErrorKind::MalformedTlv);
            }
            Ok(Kept::Typed)
        }),
        encode: |_, _| {},
        text: |_| None,
    },
    Spec {
        code: code::LARGE_COMMUNITY,
        name: "large_community",
        flags: O | T,
        action: TAW,
        decode: Some(|a, v, _| {
            a.large_communities = Some(
                community::decode_list::<12, _>(v, |c| LargeCommunity {
                    global: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                    local1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                    local2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                })
                .ok_or(AttrErrorKind::BadLength)?,
            );
            Ok(Kept::Typed)
        }),
        encode: |a, o| {
            if let Some(l) = &a.large_communities {
                o.put(|b| community::encode_large(b, l));
            }
        },
        text: |a| {
            let l = a.large_communities.as_deref().filter(|l| !l.is_empty())?;
            Some(joined(l, |c| format!("({}, {}, {})", c.global, c.local1, c.local2)))
        },
    },
    // RFC 9234 §5: ONLY_TO_CUSTOMER, 4 octets, else treat-as-withdraw;
    // without BGP roles configured it is passed on as received.
    Spec {
        code: code::ONLY_TO_CUSTOMER,
        name: "otc",
        flags: O | T,
        action: TAW,
        decode: Some(|_, v, _| {
            if v.len() != 4 {
                return Err(AttrErrorKind::BadLength);
            }
            Ok(Kept::Raw)
        }),
        encode: |_, _| {},
        text: |_| None,
    },
];

pub(super) fn spec(code: u8) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.code == code)
}

impl Spec {
    /// Writes this attribute of `a`, if present, for a session of `ctx`.
    pub(super) fn write(&self, a: &PathAttributes, buf: &mut BytesMut, ctx: &SessionCtx) -> Result<(), EncodeError> {
        let mut out = AttrOut {
            buf,
            code: self.code,
            flags: self.flags,
            width: width(ctx),
            result: Ok(()),
        };
        (self.encode)(a, &mut out);
        out.result
    }
}

impl PathAttributes {
    /// The attributes as BIRD 1.6's `show route all` lists them, by type
    /// code: (`BGP.` name, text). Attributes kept raw show as hex, by their
    /// name where we know it and as `attr_N` otherwise.
    pub fn bird_lines(&self) -> Vec<(String, String)> {
        let mut lines: Vec<(u8, String, String)> = SPECS
            .iter()
            .filter_map(|s| (s.text)(self).map(|t| (s.code, s.name.to_string(), t)))
            .collect();
        for u in &self.unknown {
            let name = spec(u.type_code).map_or_else(|| format!("attr_{}", u.type_code), |s| s.name.to_string());
            lines.push((u.type_code, name, HexStr(&u.value).to_string()));
        }
        lines.sort_by_key(|l| l.0);
        lines.into_iter().map(|(_, n, t)| (n, t)).collect()
    }
}
