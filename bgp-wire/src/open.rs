//! OPEN message (RFC 4271 §4.2, RFC 5492, RFC 6793, RFC 9072).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Optional Parameters (variable)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 9072 extended form: Opt Parm Len is non-zero and the next octet is
//! 255; then a 2-octet length follows and every parameter has a 2-octet
//! length. Detection looks at that octet, never at Opt Parm Len = 255.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::capability::Capability;
use crate::error::{DecodeError, OpenError};
use crate::reader::{need, take, u16_, u8_};
use crate::types::{Asn, RouterId};

/// Optional parameter type 2 (RFC 5492 §4). The only one in use: type 1
/// (authentication) is deprecated (RFC 5492).
pub const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072 §2: marks the extended optional parameters form.
const PARAM_EXTENDED: u8 = 255;

/// An OPEN message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    /// The 2-octet My Autonomous System field: AS_TRANS when the real AS
    /// does not fit ([`Open::asn`] gives the real one).
    pub my_as: u16,
    pub hold_time: u16,
    pub router_id: RouterId,
    /// The optional parameters, each a list of capabilities. Kept as
    /// received: some speakers send one capability per parameter, others
    /// all in one.
    pub params: Vec<Vec<Capability>>,
    /// Whether the RFC 9072 extended form is (to be) used. Encoding also
    /// switches to it by itself when the parameters exceed 255 bytes.
    pub extended_params: bool,
}

impl Open {
    /// An OPEN for `asn` with all capabilities in one parameter.
    pub fn new(asn: Asn, hold_time: u16, router_id: RouterId, capabilities: Vec<Capability>) -> Open {
        Open {
            my_as: asn.to_u16_or_trans(),
            hold_time,
            router_id,
            params: if capabilities.is_empty() {
                Vec::new()
            } else {
                vec![capabilities]
            },
            extended_params: false,
        }
    }

    /// Every capability, in order of appearance.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flatten()
    }

    /// The sender's AS: the 4-octet AS capability when present (RFC 6793
    /// §4.1, also when My AS disagrees: reliability decision B8), My AS otherwise.
    pub fn asn(&self) -> Asn {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs { asn } => Some(*asn),
                _ => None,
            })
            .unwrap_or(Asn(u32::from(self.my_as)))
    }

    /// Decodes an OPEN body (the bytes after the header).
    pub fn decode(body: &Bytes) -> Result<Open, DecodeError> {
        let malformed = |why| DecodeError::Open(OpenError::MalformedOptionalParameters(why));
        // The header check guarantees at least 10 body bytes.
        let short = || DecodeError::Header(crate::error::HeaderError::BadMessageLength(0));
        let (i, version) = need(u8_(body), short)?;
        if version != 4 {
            return Err(DecodeError::Open(OpenError::UnsupportedVersion(version)));
        }
        let (i, my_as) = need(u16_(i), short)?;
        let (i, hold_time) = need(u16_(i), short)?;
        let (i, id) = need(take(4)(i), short)?;
        let router_id = RouterId(Ipv4Addr::new(id[0], id[1], id[2], id[3]));
        let (i, opt_len) = need(u8_(i), short)?;

        let mut params = Vec::new();
        let extended_params = opt_len != 0 && i.first() == Some(&PARAM_EXTENDED);
        let mut rest = if extended_params {
            // RFC 9072 §2: Non-Ext OP Len MUST be ignored; the extended length rules.
            let (i, _) = need(u8_(i), || malformed("extended parameters"))?;
            let (i, ext_len) = need(u16_(i), || malformed("extended parameters length missing"))?;
            if usize::from(ext_len) != i.len() {
                return Err(malformed("extended parameters length does not match the message"));
            }
            i
        } else {
            if usize::from(opt_len) != i.len() {
                return Err(malformed("optional parameters length does not match the message"));
            }
            i
        };
        while !rest.is_empty() {
            let (i, ptype) = need(u8_(rest), || malformed("parameter type"))?;
            let (i, plen) = if extended_params {
                need(u16_(i), || malformed("parameter length"))?
            } else {
                need(u8_(i), || malformed("parameter length")).map(|(i, l)| (i, u16::from(l)))?
            };
            let (i, value) = need(take(usize::from(plen))(i), || malformed("parameter overruns the list"))?;
            rest = i;
            if ptype != PARAM_CAPABILITIES {
                return Err(DecodeError::Open(OpenError::UnsupportedOptionalParameter(ptype)));
            }
            params.push(decode_capabilities(body, value).map_err(malformed)?);
        }
        Ok(Open {
            my_as,
            hold_time,
            router_id,
            params,
            extended_params,
        })
    }

    /// Appends the OPEN body.
    pub fn encode_body(&self, buf: &mut BytesMut) -> Result<(), crate::EncodeError> {
        buf.put_u8(4);
        buf.put_u16(self.my_as);
        buf.put_u16(self.hold_time);
        buf.put_slice(&self.router_id.0.octets());
        let mut encoded = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let mut b = BytesMut::new();
            for c in p {
                c.encode(&mut b)?;
            }
            encoded.push(b);
        }
        let short_len: usize = encoded.iter().map(|p| p.len() + 2).sum();
        if self.extended_params || short_len > 255 {
            buf.put_u8(PARAM_EXTENDED);
            buf.put_u8(PARAM_EXTENDED);
            let at = crate::reader::len_start(buf, 2);
            for p in &encoded {
                buf.put_u8(PARAM_CAPABILITIES);
                let l = u16::try_from(p.len()).map_err(|_| crate::EncodeError::FieldTooLong("optional parameter"))?;
                buf.put_u16(l);
                buf.put_slice(p);
            }
            crate::reader::len_finish(buf, at, 2, "optional parameters")
        } else {
            let at = crate::reader::len_start(buf, 1);
            for p in &encoded {
                buf.put_u8(PARAM_CAPABILITIES);
                buf.put_u8(p.len() as u8); // < 256: the sum above is at most 255
                buf.put_slice(p);
            }
            crate::reader::len_finish(buf, at, 1, "optional parameters")
        }
    }
}

/// Splits a Capabilities parameter into capabilities, each decoded from a
/// sub-slice of exactly its own length.
fn decode_capabilities(body: &Bytes, mut v: &[u8]) -> Result<Vec<Capability>, &'static str> {
    let mut caps = Vec::new();
    while !v.is_empty() {
        let (i, code) = need(u8_(v), || "capability code")?;
        let (i, len) = need(u8_(i), || "capability length missing")?;
        let (i, value) = need(take(usize::from(len))(i), || "capability overruns its parameter")?;
        v = i;
        caps.push(Capability::decode(code, body.slice_ref(value)));
    }
    Ok(caps)
}

#[cfg(feature = "serde")]
impl serde::Serialize for Open {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let caps: Vec<&Capability> = self.capabilities().collect();
        let mut st = s.serialize_struct("Open", 7)?;
        st.serialize_field("version", &4)?;
        st.serialize_field("my_as", &self.my_as)?;
        st.serialize_field("asn", &self.asn())?;
        st.serialize_field("hold_time", &self.hold_time)?;
        st.serialize_field("router_id", &self.router_id)?;
        st.serialize_field("extended_params", &self.extended_params)?;
        st.serialize_field("capabilities", &caps)?;
        st.end()
    }
}
