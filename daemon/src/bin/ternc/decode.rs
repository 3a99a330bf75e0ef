//! `ternc decode`: raw BGP messages in, one JSON object per message out.
//!
//! Each object has `index` (0-based position in the stream), `offset`
//! (byte offset of the message), `length`, and `type` (`open`, `update`,
//! `notification`, `keepalive`, `route-refresh`) with the decoded fields.
//! A malformed message adds `error` (in words), `action` (`session-reset`,
//! `treat-as-withdraw` or `attribute-discard`) and, where a NOTIFICATION
//! would be sent, `notification: {code, subcode, data}`. An UPDATE whose
//! routes are treated as withdrawn or whose attributes were discarded
//! still lists its prefixes, and `errors` names each attribute problem
//! (with the NOTIFICATION RFC 4271 alone would have sent, as `rfc4271`).
//! Decoding goes on with the next message whenever the header's length can
//! still be trusted.

use bgp_wire::{
    header::HEADER_LEN, Action, Asn, DecodeError, Message, MessageType, NotifyError, Open, RouterId, SessionCtx,
};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// What one decoded stream looked like.
pub struct Outcome {
    /// One JSON object per message (or per undecodable remainder).
    pub objects: Vec<Value>,
    /// Every message decoded without any problem.
    pub clean: bool,
}

fn notification_json(n: &NotifyError) -> Value {
    json!({ "code": n.code, "subcode": n.subcode, "data": hex::encode(&n.data) })
}

fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "open",
        2 => "update",
        3 => "notification",
        4 => "keepalive",
        5 => "route-refresh",
        _ => return None,
    })
}

/// The session an OPEN is checked against, as ternd's FSM checks it.
pub struct OpenCheck {
    pub local_as: Asn,
    /// The AS configured for the peer; `None` takes the OPEN's own.
    pub peer_as: Option<Asn>,
    pub router_id: RouterId,
}

impl OpenCheck {
    /// What the session would answer to `open`: the NOTIFICATION that
    /// refuses it (bad peer AS, unacceptable hold time, bad BGP identifier,
    /// a malformed capability it acts on, no family in common), or `None`.
    /// The same function decides it in ternd (`bgp_fsm::negotiate`).
    fn refusal(&self, open: &Open) -> Option<NotifyError> {
        let cfg = bgp_fsm::PeerConfig::new(self.local_as, self.peer_as.unwrap_or(open.asn()), self.router_id);
        bgp_fsm::negotiate(&cfg, &bgp_fsm::local_open(&cfg), open).err()
    }
}

/// Decodes every message of `stream` under `ctx`.
pub fn decode_stream(stream: &Bytes, ctx: &SessionCtx, check: &OpenCheck) -> Outcome {
    let mut objects = Vec::new();
    let mut clean = true;
    let mut offset = 0usize;
    let mut index = 0usize;
    while offset < stream.len() {
        let rest = stream.slice(offset..);
        let mut obj = Map::new();
        obj.insert("index".into(), json!(index));
        obj.insert("offset".into(), json!(offset));
        if rest.len() < HEADER_LEN {
            clean = false;
            obj.insert(
                "error".into(),
                json!(format!("{} trailing bytes, too few for a header", rest.len())),
            );
            obj.insert("trailing".into(), json!(hex::encode(&rest)));
            objects.push(Value::Object(obj));
            break;
        }
        let declared = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        if let Some(name) = type_name(rest[18]) {
            obj.insert("type".into(), json!(name));
        }
        // The header's own checks decide whether the length can be trusted.
        let len = match bgp_wire::parse_header(&rest, ctx) {
            Ok(Some(h)) => Some(usize::from(h.length)),
            Ok(None) => None,
            Err(e) => {
                clean = false;
                let err = DecodeError::Header(e.clone());
                add_error(&mut obj, &err);
                // A bad marker or type with a usable length keeps framing;
                // a bad length does not.
                let usable = !matches!(e, bgp_wire::HeaderError::BadMessageLength(_))
                    && (HEADER_LEN..=rest.len()).contains(&declared);
                obj.insert("length".into(), json!(declared));
                objects.push(Value::Object(obj));
                if !usable {
                    break;
                }
                offset += declared;
                index += 1;
                continue;
            }
        };
        let Some(len) = len.filter(|l| *l <= rest.len()) else {
            clean = false;
            obj.insert("length".into(), json!(declared));
            obj.insert(
                "error".into(),
                json!(format!("message truncated: {} of {declared} bytes", rest.len())),
            );
            objects.push(Value::Object(obj));
            break;
        };
        obj.insert("length".into(), json!(len));
        let frame = rest.slice(..len);
        match Message::decode(&frame, ctx) {
            Ok(m) => {
                if let Some(n) = match &m {
                    Message::Open(o) => check.refusal(o),
                    _ => None,
                } {
                    clean = false;
                    let words = bgp_wire::notification::describe(n.code, n.subcode);
                    obj.insert("error".into(), json!(format!("OPEN refused: {words}")));
                    obj.insert("action".into(), json!(Action::SessionReset.as_str()));
                    obj.insert("notification".into(), notification_json(&n));
                }
                if let Message::Update(u) = &m {
                    if let Some(action) = u.action() {
                        clean = false;
                        obj.insert("action".into(), json!(action.as_str()));
                        let errs: Vec<Value> = u
                            .errors
                            .iter()
                            .map(|e| {
                                json!({
                                    "attribute": e.type_code,
                                    "error": e.to_string(),
                                    "action": e.action.as_str(),
                                    "data": hex::encode(&e.data),
                                    // What RFC 4271 alone would have sent; RFC 7606 sends nothing.
                                    "rfc4271": { "code": 3, "subcode": e.rfc4271_notification().subcode },
                                })
                            })
                            .collect();
                        obj.insert("errors".into(), Value::Array(errs));
                        if action == Action::TreatAsWithdraw {
                            let p: Vec<String> = u.announced().map(|(_, e)| e.prefix.to_string()).collect();
                            obj.insert("treat_as_withdraw".into(), json!(p));
                        }
                    }
                }
                if let Ok(Value::Object(fields)) = serde_json::to_value(&m) {
                    obj.extend(fields);
                }
            }
            Err(e) => {
                clean = false;
                add_error(&mut obj, &e);
                if rest[18] == MessageType::Update as u8 {
                    add_update_prefixes(&mut obj, &frame, ctx);
                }
            }
        }
        objects.push(Value::Object(obj));
        offset += len;
        index += 1;
    }
    Outcome { objects, clean }
}

fn add_error(obj: &mut Map<String, Value>, e: &DecodeError) {
    obj.insert("error".into(), json!(e.to_string()));
    obj.insert("action".into(), json!(e.action().as_str()));
    match e.notification() {
        Some(n) => obj.insert("notification".into(), notification_json(&n)),
        None => obj.insert("notification".into(), Value::Null),
    };
}

/// For an UPDATE that resets the session, still list the prefixes its
/// fields hold where they parse, so an operator sees what was affected.
fn add_update_prefixes(obj: &mut Map<String, Value>, frame: &Bytes, ctx: &SessionCtx) {
    let body = frame.slice(HEADER_LEN..);
    let field = |raw: &[u8]| {
        bgp_wire::Nlri::decode(
            bgp_wire::Family::IPV4_UNICAST,
            ctx.add_path(bgp_wire::Family::IPV4_UNICAST),
            body.slice_ref(raw),
        )
        .ok()
        .map(|n| n.prefixes().map(|p| p.to_string()).collect::<Vec<_>>())
    };
    let Some(wl) = body.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
        return;
    };
    let Some(w) = body.get(2..2 + wl) else { return };
    if let Some(p) = field(w) {
        obj.insert("withdrawn".into(), json!(p));
    }
    let Some(tl) = body
        .get(2 + wl..4 + wl)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return;
    };
    if let Some(n) = body.get(4 + wl + tl..) {
        if let Some(p) = field(n) {
            obj.insert("nlri".into(), json!(p));
        }
    }
}

/// Reads hex text: whitespace, `:` separators and `#` comments to the end
/// of a line are ignored.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(digits.trim_start_matches("0x")).map_err(|e| format!("bad hex input: {e}"))
}
