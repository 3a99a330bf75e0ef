//! UPDATE message (RFC 4271 §4.3) with RFC 7606 error handling.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use bytes::{Bytes, BytesMut};

use crate::attributes::{code, PathAttributes};
use crate::context::SessionCtx;
use crate::error::{Action, AttrError, AttrErrorKind, DecodeError, UpdateError};
use crate::nlri::{Nlri, NlriEntry, NlriIter};
use crate::reader::{len16_data, need};
use crate::types::Family;

/// An UPDATE message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// IPv4 unicast prefixes withdrawn in the Withdrawn Routes field.
    pub withdrawn: Nlri,
    pub attributes: PathAttributes,
    /// IPv4 unicast prefixes announced in the NLRI field.
    pub nlri: Nlri,
    /// Problems RFC 7606 resolves without a session reset. When
    /// [`Update::action`] is treat-as-withdraw, every announced prefix of
    /// this UPDATE is to be handled as withdrawn.
    pub errors: Vec<AttrError>,
}

impl Default for Update {
    fn default() -> Update {
        Update {
            withdrawn: Nlri::empty(Family::IPV4_UNICAST, false),
            attributes: PathAttributes::default(),
            nlri: Nlri::empty(Family::IPV4_UNICAST, false),
            errors: Vec::new(),
        }
    }
}

impl Update {
    /// The End-of-RIB marker of `family` (RFC 4724 §2).
    pub fn end_of_rib(family: Family) -> Update {
        let mut u = Update::default();
        if family != Family::IPV4_UNICAST {
            u.attributes.mp_unreach = Some(crate::attributes::MpUnreach {
                family,
                withdrawn: Nlri::empty(family, false),
            });
        }
        u
    }

    /// The family whose End-of-RIB this is, if it is one: an UPDATE with
    /// nothing at all (IPv4 unicast), or only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() || !self.errors.is_empty() {
            return None;
        }
        let a = &self.attributes;
        match &a.mp_unreach {
            None if a.is_empty() => Some(Family::IPV4_UNICAST),
            Some(u) if u.is_end_of_rib() => {
                let only = PathAttributes {
                    mp_unreach: None,
                    ..a.clone()
                };
                only.is_empty().then_some(u.family)
            }
            _ => None,
        }
    }

    /// The strongest RFC 7606 action among [`Update::errors`], if any.
    pub fn action(&self) -> Option<Action> {
        self.errors.iter().map(|e| e.action).max()
    }

    /// Announced entries by family: the NLRI field, then MP_REACH_NLRI.
    pub fn announced(&self) -> Entries<'_> {
        Entries {
            first: self.nlri.iter(),
            second: self.attributes.mp_reach.as_ref().map(|r| (r.family, r.nlri.iter())),
        }
    }

    /// Withdrawn entries by family: the Withdrawn Routes field, then MP_UNREACH_NLRI.
    pub fn withdrawals(&self) -> Entries<'_> {
        Entries {
            first: self.withdrawn.iter(),
            second: self
                .attributes
                .mp_unreach
                .as_ref()
                .map(|u| (u.family, u.withdrawn.iter())),
        }
    }

    fn has_reachable_nlri(&self) -> bool {
        !self.nlri.is_empty() || self.attributes.mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty())
    }

    /// Decodes an UPDATE body (the bytes after the header).
    pub fn decode(body: &Bytes, ctx: &SessionCtx) -> Result<Update, DecodeError> {
        Self::decode_in(body, body, ctx)
    }

    /// Decodes `body`, a sub-slice of `parent` (the whole frame when called
    /// from [`crate::Message::decode`]): kept fields are slices of `parent`.
    pub(crate) fn decode_in(parent: &Bytes, body: &[u8], ctx: &SessionCtx) -> Result<Update, DecodeError> {
        let fail = |e| DecodeError::Update(e);
        // RFC 7606 §3.b: lengths that overrun the message reset the session.
        let (i, withdrawn) = need(len16_data(body), || {
            fail(UpdateError::MalformedAttributeList(
                "withdrawn routes length overruns the message",
            ))
        })?;
        let (nlri, attrs) = need(len16_data(i), || {
            fail(UpdateError::MalformedAttributeList(
                "path attribute length overruns the message",
            ))
        })?;
        let v4 = Family::IPV4_UNICAST;
        let add_path = ctx.add_path(v4);
        let nlri_field = |raw: &[u8]| {
            Nlri::decode(v4, add_path, parent.slice_ref(raw))
                .map_err(|e| fail(UpdateError::InvalidNetworkField(e.as_str())))
        };
        let withdrawn = nlri_field(withdrawn)?;
        let nlri = nlri_field(nlri)?;
        let (attributes, errors) = PathAttributes::decode_in(parent, attrs, ctx).map_err(fail)?;
        let mut u = Update {
            withdrawn,
            attributes,
            nlri,
            errors,
        };
        u.check_mandatory();
        // RFC 7606 §5.2: with no reachable NLRI there is nothing to treat as
        // withdrawn, so any error stronger than attribute discard resets.
        if !u.has_reachable_nlri() {
            if let Some(e) = u.errors.iter().find(|e| e.action > Action::AttributeDiscard) {
                return Err(fail(UpdateError::NoNlriToWithdraw(e.clone())));
            }
        }
        Ok(u)
    }

    /// RFC 7606 §3.d: a missing well-known mandatory attribute is
    /// treat-as-withdraw. NEXT_HOP is needed only for the NLRI field.
    fn check_mandatory(&mut self) {
        if !self.has_reachable_nlri() || self.errors.iter().any(|e| e.kind == AttrErrorKind::Framing) {
            return;
        }
        let a = &self.attributes;
        let mut missing = Vec::new();
        if a.origin.is_none() {
            missing.push(code::ORIGIN);
        }
        if a.as_path.is_none() {
            missing.push(code::AS_PATH);
        }
        if a.next_hop.is_none() && !self.nlri.is_empty() {
            missing.push(code::NEXT_HOP);
        }
        for c in missing {
            // Present but malformed is already reported.
            if !self.errors.iter().any(|e| e.type_code == c) {
                self.errors.push(AttrError {
                    type_code: c,
                    kind: AttrErrorKind::MissingWellKnown,
                    action: Action::TreatAsWithdraw,
                    data: vec![c],
                });
            }
        }
    }

    /// Appends the UPDATE body.
    pub fn encode_body(&self, buf: &mut BytesMut, ctx: &SessionCtx) -> Result<(), crate::EncodeError> {
        let at = crate::reader::len_start(buf, 2);
        self.withdrawn.encode(buf);
        crate::reader::len_finish(buf, at, 2, "withdrawn routes")?;
        let at = crate::reader::len_start(buf, 2);
        self.attributes.encode(buf, ctx)?;
        crate::reader::len_finish(buf, at, 2, "path attributes")?;
        self.nlri.encode(buf);
        Ok(())
    }
}

/// The entries of the IPv4 field, then those of the MP attribute. A plain
/// two-part iterator: the per-prefix path stays as short as `NlriIter`'s.
pub struct Entries<'a> {
    first: NlriIter<'a>,
    second: Option<(Family, NlriIter<'a>)>,
}

impl Iterator for Entries<'_> {
    type Item = (Family, NlriEntry);

    #[inline]
    fn next(&mut self) -> Option<(Family, NlriEntry)> {
        if let Some(e) = self.first.next() {
            return Some((Family::IPV4_UNICAST, e));
        }
        let (f, it) = self.second.as_mut()?;
        it.next().map(|e| (*f, e))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Update {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Update", 4)?;
        st.serialize_field("withdrawn", &self.withdrawn)?;
        st.serialize_field("attributes", &self.attributes)?;
        st.serialize_field("nlri", &self.nlri)?;
        if let Some(f) = self.end_of_rib_family() {
            st.serialize_field("end_of_rib", &f)?;
        }
        st.end()
    }
}
