//! UPDATEs written straight into a buffer, for a speaker that sends many
//! prefixes: each attribute set is encoded once, then prefixes are
//! appended until the message is full. The bytes are those
//! [`crate::Message::encode`] writes for the same UPDATEs (MP_REACH_NLRI
//! and MP_UNREACH_NLRI first, RFC 7606 §5.1; Extended Length only when a
//! value needs it), without building an [`crate::Update`] per message.

use bytes::{BufMut, BytesMut};

use crate::attributes::{code, flags, try_put_attr, PathAttributes};
use crate::header::{finish_header, start_header, HEADER_LEN};
use crate::nlri::push_entry;
use crate::{EncodeError, Family, MessageType, NlriEntry, SessionCtx};

/// The Withdrawn Routes Length and Total Path Attribute Length fields.
const LENGTHS: usize = 4;
/// An attribute's header with Extended Length, and MP_(UN)REACH's AFI and SAFI.
const MP_HEAD: usize = 4 + 3;

/// Appends UPDATE messages to a buffer, for one session.
pub struct UpdateWriter<'a> {
    buf: &'a mut BytesMut,
    ctx: &'a SessionCtx,
    /// The attributes of the current set, encoded (MP_REACH_NLRI apart).
    attrs: BytesMut,
    /// The NLRI of the message being filled.
    nlri: BytesMut,
}

/// One kind of message being filled.
#[derive(Clone, Copy)]
enum Kind<'a> {
    Withdraw,
    Announce(&'a PathAttributes),
}

impl<'a> UpdateWriter<'a> {
    pub fn new(buf: &'a mut BytesMut, ctx: &'a SessionCtx) -> UpdateWriter<'a> {
        UpdateWriter {
            buf,
            ctx,
            attrs: BytesMut::new(),
            nlri: BytesMut::new(),
        }
    }

    /// Withdrawals of `family`, in as few messages as fit.
    pub fn withdraw(
        &mut self,
        family: Family,
        entries: impl IntoIterator<Item = NlriEntry>,
    ) -> Result<(), EncodeError> {
        self.attrs.clear();
        self.fill(family, Kind::Withdraw, entries)
    }

    /// Announcements of `family` sharing `attrs`, in as few messages as
    /// fit. Outside IPv4 unicast `attrs.mp_reach` gives the next hop (its
    /// NLRI is not used).
    pub fn announce(
        &mut self,
        family: Family,
        attrs: &PathAttributes,
        entries: impl IntoIterator<Item = NlriEntry>,
    ) -> Result<(), EncodeError> {
        self.attrs.clear();
        attrs.encode_rest(&mut self.attrs, self.ctx)?;
        self.fill(family, Kind::Announce(attrs), entries)
    }

    /// Room for NLRI in one message of `kind`.
    fn room(&self, family: Family, kind: Kind) -> usize {
        let mut fixed = HEADER_LEN + LENGTHS + self.attrs.len();
        if family != Family::IPV4_UNICAST {
            fixed += MP_HEAD;
            if let Kind::Announce(a) = kind {
                // Next hop length, next hop, reserved octet.
                fixed += 2 + a.mp_reach.as_ref().map_or(0, |r| r.next_hop.wire_len());
            }
        }
        self.ctx.max_message_len().saturating_sub(fixed)
    }

    fn fill(
        &mut self,
        family: Family,
        kind: Kind,
        entries: impl IntoIterator<Item = NlriEntry>,
    ) -> Result<(), EncodeError> {
        let add_path = self.ctx.add_path(family);
        let room = self.room(family, kind);
        self.nlri.clear();
        for e in entries {
            let len = 1 + usize::from(e.prefix.prefix_len()).div_ceil(8) + if add_path { 4 } else { 0 };
            if !self.nlri.is_empty() && self.nlri.len() + len > room {
                self.message(family, kind)?;
                self.nlri.clear();
            }
            push_entry(&mut self.nlri, &e, add_path);
        }
        if !self.nlri.is_empty() {
            self.message(family, kind)?;
        }
        Ok(())
    }

    /// Writes one message with the NLRI gathered.
    fn message(&mut self, family: Family, kind: Kind) -> Result<(), EncodeError> {
        let at = start_header(self.buf, MessageType::Update);
        let r = self.body(family, kind);
        if r.is_err() {
            self.buf.truncate(at);
            return r;
        }
        finish_header(self.buf, at, MessageType::Update, self.ctx)
    }

    fn body(&mut self, family: Family, kind: Kind) -> Result<(), EncodeError> {
        let (buf, nlri, attrs) = (&mut *self.buf, &self.nlri, &self.attrs);
        let v4 = family == Family::IPV4_UNICAST;
        match kind {
            Kind::Withdraw if v4 => {
                buf.put_u16(u16::try_from(nlri.len()).map_err(|_| EncodeError::FieldTooLong("withdrawn routes"))?);
                buf.put_slice(nlri);
                buf.put_u16(0);
            }
            Kind::Announce(_) if v4 => {
                buf.put_u16(0);
                buf.put_u16(u16::try_from(attrs.len()).map_err(|_| EncodeError::FieldTooLong("path attributes"))?);
                buf.put_slice(attrs);
                buf.put_slice(nlri);
            }
            _ => {
                // MP_REACH_NLRI around the NLRI (MP_UNREACH_NLRI to
                // withdraw), then the other attributes.
                let next_hop = match kind {
                    Kind::Withdraw => None,
                    Kind::Announce(a) => Some(
                        &a.mp_reach
                            .as_ref()
                            .ok_or(EncodeError::MissingField("MP_REACH_NLRI next hop"))?
                            .next_hop,
                    ),
                };
                let code = if next_hop.is_some() {
                    code::MP_REACH_NLRI
                } else {
                    code::MP_UNREACH_NLRI
                };
                buf.put_u16(0);
                let at = buf.len();
                buf.put_u16(0);
                try_put_attr(buf, flags::OPTIONAL, code, |b| {
                    b.put_u16(family.afi.0);
                    b.put_u8(family.safi.0);
                    if let Some(nh) = next_hop {
                        nh.encode(b)?;
                        // Reserved (RFC 4760 §3).
                        b.put_u8(0);
                    }
                    b.put_slice(nlri);
                    Ok(())
                })?;
                buf.put_slice(attrs);
                fill_len(buf, at)?;
            }
        }
        Ok(())
    }
}

/// Fills the Total Path Attribute Length field at `at`.
fn fill_len(buf: &mut BytesMut, at: usize) -> Result<(), EncodeError> {
    let len = u16::try_from(buf.len() - at - 2).map_err(|_| EncodeError::FieldTooLong("path attributes"))?;
    buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::{AsPath, MpReach, MpUnreach, NextHop, Origin};
    use crate::{Asn, Message, Nlri, Prefix, Update};

    fn p(s: &str) -> NlriEntry {
        NlriEntry::new(s.parse::<Prefix>().unwrap())
    }

    /// Encodes `u` the ordinary way.
    fn encoded(u: Update, ctx: &SessionCtx) -> Vec<u8> {
        Message::Update(Box::new(u)).to_bytes(ctx).unwrap().to_vec()
    }

    #[test]
    fn the_same_bytes_as_an_encoded_update() {
        let ctx = SessionCtx::default();
        let v4 = [p("10.0.1.0/24"), p("10.2.0.0/16"), p("192.0.2.128/25")];
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(65001), Asn(4_200_000_000)])),
            next_hop: Some("10.0.0.1".parse().unwrap()),
            ..PathAttributes::default()
        };
        let six = [p("2001:db8::/32"), p("2001:db8:1::/48")];
        let attrs6 = PathAttributes {
            next_hop: None,
            mp_reach: Some(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
                nlri: Nlri::empty(Family::IPV6_UNICAST, false),
            }),
            ..attrs.clone()
        };
        let mut buf = BytesMut::new();
        let mut w = UpdateWriter::new(&mut buf, &ctx);
        w.announce(Family::IPV4_UNICAST, &attrs, v4).unwrap();
        w.announce(Family::IPV6_UNICAST, &attrs6, six).unwrap();
        w.withdraw(Family::IPV4_UNICAST, v4).unwrap();
        w.withdraw(Family::IPV6_UNICAST, six).unwrap();
        let mut want = encoded(
            Update {
                attributes: attrs.clone(),
                nlri: Nlri::from_entries(Family::IPV4_UNICAST, false, &v4),
                ..Update::default()
            },
            &ctx,
        );
        let mut with6 = attrs6.clone();
        if let Some(r) = &mut with6.mp_reach {
            r.nlri = Nlri::from_entries(Family::IPV6_UNICAST, false, &six);
        }
        want.extend(encoded(
            Update {
                attributes: with6,
                ..Update::default()
            },
            &ctx,
        ));
        want.extend(encoded(
            Update {
                withdrawn: Nlri::from_entries(Family::IPV4_UNICAST, false, &v4),
                ..Update::default()
            },
            &ctx,
        ));
        want.extend(encoded(
            Update {
                attributes: PathAttributes {
                    mp_unreach: Some(MpUnreach {
                        family: Family::IPV6_UNICAST,
                        withdrawn: Nlri::from_entries(Family::IPV6_UNICAST, false, &six),
                    }),
                    ..PathAttributes::default()
                },
                ..Update::default()
            },
            &ctx,
        ));
        assert_eq!(buf.to_vec(), want);
    }

    #[test]
    fn a_message_is_never_longer_than_the_session_allows() {
        let ctx = SessionCtx::default();
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(65001)])),
            next_hop: Some("10.0.0.1".parse().unwrap()),
            ..PathAttributes::default()
        };
        let many: Vec<NlriEntry> = (0..5000u32)
            .map(|i| NlriEntry::new(Prefix::v4((0x0a00_0000 | (i << 8)).into(), 24).unwrap()))
            .collect();
        let mut buf = BytesMut::new();
        UpdateWriter::new(&mut buf, &ctx)
            .announce(Family::IPV4_UNICAST, &attrs, many.iter().copied())
            .unwrap();
        let mut n = 0;
        let mut sizes = Vec::new();
        while let Some(f) = crate::split_message(&mut buf, &ctx).unwrap() {
            sizes.push(f.len());
            let Message::Update(u) = Message::decode(&f, &ctx).unwrap() else {
                panic!()
            };
            n += u.nlri.len();
        }
        assert_eq!(n, 5000);
        assert!(sizes.iter().all(|s| *s <= 4096), "{sizes:?}");
        // Full messages but the last: 5000 × 4 bytes need five.
        assert_eq!(sizes.len(), 5, "{sizes:?}");
    }
}
