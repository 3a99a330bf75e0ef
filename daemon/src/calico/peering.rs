//! One peering of a node, as confd wrote its BIRD protocol: the name
//! (`Mesh_…`, `Node_…`, `Global_…`, `Local_Workload_…`, `_port_N`), the
//! passive rule, reflection clients, and every BGPPeer knob of calico.md
//! §1(e) as a [`PeerSettings`].

use std::net::IpAddr;
use std::time::Duration;

use bgp_wire::Asn;

use super::derive::{err, Cluster};
use super::resources::{BgpPeer, ResourceError};
use crate::config::{defaults, PeerSettings};

/// A peering to add, before it becomes [`PeerSettings`].
pub(super) struct Want {
    pub kind: &'static str,
    pub ip: IpAddr,
    pub port: Option<u16>,
    pub asn: u32,
    /// The peer is a Calico node (in that cluster, if any).
    pub calico_node: bool,
    pub cluster: Option<String>,
    pub resource: Option<BgpPeer>,
}

/// A Go duration (`10s`, `2m0s`, `1h30m`, `1.5s`) in whole seconds.
fn seconds(who: &str, field: &str, t: &str) -> Result<u64, ResourceError> {
    let bad = || err(who, format!("{field}: {t:?} is not a duration like 90s or 2m0s"));
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    if t.is_empty() {
        return Err(bad());
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap_or('s'));
        }
        let v: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += v * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total.round() as u64)
}

/// confd's protocol name suffix for an address: `.` and `:` become `_`.
fn name_of(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "_")
}

/// `peerIP`: `10.0.0.1`, `10.0.0.1:1179`, `fd00::1`, `[fd00::1]:1179`.
pub(super) fn peer_ip(who: &str, t: &str) -> Result<(IpAddr, Option<u16>), ResourceError> {
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    match t.parse::<std::net::SocketAddr>() {
        Ok(s) => Ok((s.ip(), Some(s.port()))),
        Err(_) => Err(err(
            who,
            format!("spec.peerIP: {t:?} is not an address or address:port"),
        )),
    }
}

pub(super) fn peer(
    c: &Cluster,
    w: &Want,
    local: IpAddr,
    my_asn: u32,
    my_cluster: Option<&str>,
) -> Result<PeerSettings, ResourceError> {
    let port = w.port.unwrap_or(defaults::PORT);
    let mut name = format!("{}_{}", w.kind, name_of(w.ip));
    if w.kind != "Mesh" && port != defaults::PORT {
        name += &format!("_port_{port}");
    }
    // Calico's localASNumber: our AS towards this peer, and the AS that
    // decides whether it is iBGP (and so a reflection client).
    let local_asn = w.resource.as_ref().and_then(|r| r.spec.local_as_number).map(|a| a.0);
    let effective = local_asn.unwrap_or(my_asn);
    let mut p = PeerSettings {
        name,
        address: w.ip,
        interface: None,
        port,
        asn: Asn(w.asn),
        local_asn: local_asn.filter(|a| *a != my_asn).map(Asn),
        local_address: Some(local),
        // Calico's rule: passive towards a node whose address, as a
        // string, sorts higher (mesh and global peers that are nodes).
        passive: w.calico_node && w.kind != "Node" && w.ip.to_string() > local.to_string(),
        hold_time: defaults::HOLD_TIME,
        keepalive: None,
        connect_retry: defaults::CONNECT_RETRY,
        error_wait: (
            Duration::from_secs(defaults::ERROR_WAIT.0),
            Duration::from_secs(defaults::ERROR_WAIT.1),
        ),
        password: None,
        ttl_security: None,
        description: None,
        graceful_restart: Some(defaults::GRACEFUL_RESTART),
        add_path: defaults::ADD_PATH,
        // (b): on a reflector, every iBGP peer outside its cluster is a client.
        rr_client: my_cluster.is_some() && w.asn == effective && w.cluster.as_deref() != my_cluster,
        next_hop_self: false,
        allow_local_as: 0,
        local_address6: None,
        local_address4: None,
        max_prefixes: None,
        import: None,
        export: None,
    };
    let g = &c.global;
    match &w.resource {
        None => {
            // The mesh: the mesh password and restart time.
            if let Some(r) = &g.node_mesh_password {
                p.password = c.r.secret(r);
            }
            if let Some(t) = &g.node_mesh_max_restart_time {
                p.graceful_restart =
                    Some(seconds("BGPConfiguration default", "spec.nodeMeshMaxRestartTime", t)? as u16);
            }
        }
        Some(bp) => {
            let who = format!("BGPPeer {}", bp.metadata.name);
            let s = &bp.spec;
            if let Some(r) = &s.password {
                p.password = c.r.secret(r);
            }
            if s.source_address.as_deref() == Some("None") || w.kind == "Local_Workload" {
                p.local_address = None;
            }
            // The workload connects to us (confd: `passive on`).
            if w.kind == "Local_Workload" {
                p.passive = true;
            }
            if let Some(t) = &s.max_restart_time {
                p.graceful_restart = Some(seconds(&who, "spec.maxRestartTime", t)?.min(4095) as u16);
            }
            if let Some(t) = &s.keepalive_time {
                p.keepalive = Some(seconds(&who, "spec.keepaliveTime", t)?.min(u64::from(u16::MAX)) as u16);
            }
            p.ttl_security = s.ttl_security.filter(|t| *t > 0);
            (p.import, p.export) = super::bgpfilter::rules(c.r, &who, &s.filters)?;
            p.allow_local_as = s.num_allowed_local_as_numbers.unwrap_or(0);
            p.next_hop_self = match s.next_hop_mode.as_deref() {
                Some("Self") => true,
                Some("Keep") | Some("Auto") | None => false,
                Some(other) => {
                    return Err(err(
                        who,
                        format!("spec.nextHopMode: {other:?} is not Auto, Self or Keep"),
                    ))
                }
            };
        }
    }
    Ok(p)
}
