//! The answers as JSON, for `ternc --json` and scripts: the same typed
//! values [`super::bird`] renders as text. On the socket a JSON answer is
//! one line with code [`JSON_CODE`]; errors keep BIRD's codes and text.

use std::time::SystemTime;

use serde::Serializer;
use serde_json::{json, Value};

use super::query::{CtlError, Memory, Outcome, Protocol, RouteAnswer, Status};
use crate::rde::RouteView;

/// The reply code of a JSON answer (unused by BIRD).
pub const JSON_CODE: u16 = 1100;

/// Times as `YYYY-MM-DD HH:MM:SS`, local, as BIRD prints full times.
pub fn time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::bird::full_time(*t))
}

pub fn error(e: &CtlError) -> Value {
    json!({ "error": e.text(), "code": e.code() })
}

pub fn status(s: &Status) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

pub fn protocols(list: &[Protocol]) -> Value {
    json!({ "protocols": list })
}

pub fn memory(m: &Memory) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

pub fn outcomes(list: &[Outcome]) -> Value {
    json!({ "protocols": list })
}

pub fn routes(answer: &RouteAnswer) -> Value {
    match answer {
        RouteAnswer::Count { routes, networks } => json!({ "routes": routes, "networks": networks }),
        RouteAnswer::Routes(list) => json!({ "routes": list.iter().map(route).collect::<Vec<_>>() }),
    }
}

fn route(v: &RouteView) -> Value {
    let a = &v.attrs;
    let mut o = json!({
        "prefix": v.prefix.to_string(),
        "best": v.best,
        "protocol": v.from,
        "since": super::bird::full_time(v.since),
    });
    let m = o.as_object_mut().expect("an object");
    if v.blackhole() {
        m.insert("blackhole".into(), json!(true));
    } else if let Some(nh) = a.next_hop {
        m.insert("next_hop".into(), json!(nh.to_string()));
    }
    if let Some(f) = v.shown_from() {
        m.insert("from".into(), json!(f.to_string()));
    }
    if let Some(i) = &v.iface {
        m.insert("iface".into(), json!(i));
    }
    if let Some(k) = &v.kernel {
        let hops: Vec<String> = k.hops.iter().map(|(g, _)| g.to_string()).collect();
        m.insert(
            "kernel".into(),
            json!({
                "kind": format!("{:?}", k.kind).to_lowercase(),
                "next_hops": hops,
                "protocol": k.protocol,
                "metric": k.metric,
            }),
        );
    }
    if v.local {
        return o;
    }
    // The attributes as the codec serializes them (`ternc decode`'s shape:
    // as_path as segments, communities as strings), LOCAL_PREF as the
    // decision process reads it; the next hop is already above.
    let mut wire = rib::path_attributes(a, v.prefix.family());
    wire.local_pref = Some(a.local_pref_or_default());
    wire.next_hop = None;
    wire.mp_reach = None;
    if let Ok(Value::Object(fields)) = serde_json::to_value(&wire) {
        m.extend(fields);
    }
    o
}
