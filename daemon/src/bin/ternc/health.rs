//! `ternc live` and `ternc ready`: calico-node's `-bird-live` and
//! `-bird-ready` checks (`node/pkg/health/bird/bird.go`), with one
//! difference: a failure names each peer and the reason, where Calico
//! prints only "BGP not established with …" (calico#2905 and its kin).
//!
//! Rules, as Calico's: only protocols named `Global_…`, `Node_…` or
//! `Mesh_…` count. No such peer: ready. Within the first `threshold`
//! seconds of the daemon's life every peer must be Established, and
//! graceful restart recovery must be over; after that, one Established
//! peer is enough.

use std::path::Path;

use serde_json::Value;

use crate::client;

/// A check's verdict and its words.
pub struct Verdict {
    pub ok: bool,
    pub text: String,
}

fn ask(socket: &Path, command: &str) -> Result<Value, String> {
    let reply = client::query(socket, &format!("json {command}")).map_err(|e| {
        format!(
            "cannot talk to ternd on {}: {e} (is it running, and is this its socket?)",
            socket.display()
        )
    })?;
    let v = client::json(&reply);
    match v.get("error") {
        Some(e) => Err(format!("ternd answered {command:?} with an error: {e}")),
        None => Ok(v),
    }
}

/// Liveness: the control socket answers `show status` as BIRD does.
pub fn live(socket: &Path) -> Verdict {
    match client::query(socket, "show status") {
        Ok(r) if client::text(&r).starts_with("BIRD") => Verdict {
            ok: true,
            text: format!("live: {}", client::text(&r).lines().next().unwrap_or_default()),
        },
        Ok(r) => Verdict {
            ok: false,
            text: format!("not live: unexpected answer to show status: {}", client::text(&r)),
        },
        Err(e) => Verdict {
            ok: false,
            text: format!("not live: no answer on {}: {e}", socket.display()),
        },
    }
}

fn calico_peer(name: &str) -> bool {
    ["Global_", "Node_", "Mesh_"]
        .iter()
        .any(|p| name.starts_with(p) && name.len() > p.len())
}

/// One peer, in words: name, address, state, since when, why.
fn describe(p: &Value) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
    let addr = p
        .get("neighbor_address")
        .and_then(Value::as_str)
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    let why = match s("info") {
        "" => String::new(),
        i => format!(": {i}"),
    };
    format!("{}{addr} is {} since {}{why}", s("name"), s("bgp_state"), s("since"))
}

/// Readiness, with Calico's rules; `threshold` seconds of fresh start.
pub fn ready(socket: &Path, threshold: u64) -> Verdict {
    let fail = |text: String| Verdict { ok: false, text };
    let status = match ask(socket, "show status") {
        Ok(v) => v,
        Err(e) => return fail(format!("not ready: {e}")),
    };
    let protocols = match ask(socket, "show protocols all") {
        Ok(v) => v,
        Err(e) => return fail(format!("not ready: {e}")),
    };
    let peers: Vec<&Value> = protocols
        .get("protocols")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|p| p.get("name").and_then(Value::as_str).is_some_and(calico_peer))
                .collect()
        })
        .unwrap_or_default();
    if peers.is_empty() {
        return Verdict {
            ok: true,
            text: "ready: no BGP peers".into(),
        };
    }
    let up = |p: &&Value| p.get("bgp_state").and_then(Value::as_str) == Some("Established");
    let down: Vec<&&Value> = peers.iter().filter(|p| !up(p)).collect();
    let uptime = status.get("uptime").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let fresh = uptime < threshold;
    let list = |v: &[&&Value]| v.iter().map(|p| format!("\n  {}", describe(p))).collect::<String>();
    if fresh {
        if !down.is_empty() {
            return fail(format!(
                "not ready: BGP not established with {} of {} peers (started {uptime} s ago: all must be up){}",
                down.len(),
                peers.len(),
                list(&down)
            ));
        }
        if let Some(r) = status.get("recovery").filter(|r| !r.is_null()) {
            return fail(format!(
                "not ready: graceful restart recovery in progress: waiting for End-of-RIB from {} peers, {} of {} s left",
                r.get("waiting").and_then(Value::as_u64).unwrap_or(0),
                r.get("left").and_then(Value::as_u64).unwrap_or(0),
                r.get("total").and_then(Value::as_u64).unwrap_or(0),
            ));
        }
    } else if down.len() == peers.len() {
        return fail(format!("not ready: no BGP peer is established{}", list(&down)));
    }
    let mut text = format!(
        "ready: {} of {} peers Established",
        peers.len() - down.len(),
        peers.len()
    );
    text += &list(&down);
    Verdict { ok: true, text }
}
