//! `ternd`'s TOML configuration file: parsing and validation into the
//! [`Config`] model, with every error naming its line and field.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bgp_wire::{Asn, RouterId};
use serde::Deserialize;
use toml::Spanned;

use super::defaults;
use rib::fib::{Encap, Pool};

use super::model::{Config, KernelSettings, PeerSettings, StaticRoute};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    router_id: Spanned<String>,
    asn: Option<Spanned<u32>>,
    listen: Option<Spanned<Vec<String>>>,
    ctl_socket: Option<Spanned<String>>,
    metrics_listen: Option<Spanned<String>>,
    cluster_id: Option<Spanned<String>>,
    #[serde(default)]
    peer: Vec<RawPeer>,
    #[serde(default, rename = "static")]
    statics: Vec<RawStatic>,
    #[serde(default)]
    pool: Vec<RawPool>,
    local_subnets: Option<Spanned<Vec<String>>>,
    graceful_restart_wait: Option<Spanned<u64>>,
    kernel: Option<RawKernel>,
    #[serde(default)]
    advertise: Vec<RawAdvertise>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdvertise {
    prefix: Spanned<String>,
    communities: Spanned<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    table: Option<Spanned<u32>>,
    protocol: Option<Spanned<u8>>,
    learn: Option<bool>,
    persist: Option<bool>,
    merge_paths: Option<bool>,
    program_pool_routes: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatic {
    prefix: Spanned<String>,
    blackhole: Option<bool>,
    via: Option<Spanned<String>>,
    communities: Option<Spanned<Vec<String>>>,
    local_pref: Option<u32>,
    export: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    cidr: Spanned<String>,
    ipip: Option<Spanned<String>>,
    vxlan: Option<Spanned<String>>,
    export: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    name: Spanned<String>,
    address: Spanned<String>,
    port: Option<Spanned<u16>>,
    asn: Option<Spanned<u32>>,
    local_asn: Option<Spanned<u32>>,
    local_address: Option<Spanned<String>>,
    passive: Option<bool>,
    hold_time: Option<Spanned<u16>>,
    keepalive: Option<Spanned<u16>>,
    connect_retry: Option<Spanned<u64>>,
    error_wait: Option<Spanned<[u64; 2]>>,
    password: Option<Spanned<String>>,
    ttl_security: Option<Spanned<u8>>,
    description: Option<String>,
    graceful_restart: Option<Spanned<u16>>,
    add_path: Option<bool>,
    rr_client: Option<bool>,
    next_hop: Option<Spanned<String>>,
    local_address6: Option<Spanned<String>>,
    local_address4: Option<Spanned<String>>,
    allow_local_as: Option<u8>,
    max_prefixes: Option<Spanned<u64>>,
    max_prefixes_action: Option<Spanned<String>>,
    max_prefixes_restart: Option<Spanned<u64>>,
    #[serde(default)]
    import: Vec<Spanned<super::filter::RawRule>>,
    #[serde(default)]
    export: Vec<Spanned<super::filter::RawRule>>,
}

/// A configuration problem, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Collects every problem instead of stopping at the first.
pub(super) struct Errors<'a> {
    file: &'a str,
    text: &'a str,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    pub(super) fn at<T>(&mut self, s: &Spanned<T>, message: String) {
        self.list.push(ConfigError {
            file: self.file.to_string(),
            line: Some(line_of(self.text, s.span().start)),
            message,
        });
    }
}

/// A standard community `a:b` (RFC 1997), or a large one `a:b:c` (RFC 8092).
pub fn community(s: &str) -> Option<Result<bgp_wire::attributes::Community, bgp_wire::attributes::LargeCommunity>> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts[..] {
        [a, b] => {
            let (a, b) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
            Some(Ok(bgp_wire::attributes::Community(u32::from(a) << 16 | u32::from(b))))
        }
        [a, b, c] => Some(Err(bgp_wire::attributes::LargeCommunity {
            global: a.parse().ok()?,
            local1: b.parse().ok()?,
            local2: c.parse().ok()?,
        })),
        _ => None,
    }
}

/// A peer's prefix limit from `max_prefixes`, `max_prefixes_action`
/// ("warn" or "cease", the default) and `max_prefixes_restart` (seconds).
fn prefix_limit(p: &RawPeer, errs: &mut Errors) -> Option<super::model::PrefixLimit> {
    use super::model::{LimitAction, PrefixLimit};
    let Some(max) = &p.max_prefixes else {
        if let Some(a) = &p.max_prefixes_action {
            errs.at(a, "peer.max_prefixes_action: without max_prefixes".into());
        }
        if let Some(r) = &p.max_prefixes_restart {
            errs.at(r, "peer.max_prefixes_restart: without max_prefixes".into());
        }
        return None;
    };
    if *max.get_ref() == 0 {
        errs.at(max, "peer.max_prefixes: at least 1".into());
        return None;
    }
    let action = match p.max_prefixes_action.as_ref().map(|a| (a, a.get_ref().as_str())) {
        None | Some((_, "cease")) => LimitAction::Cease,
        Some((_, "warn")) => LimitAction::Warn,
        Some((a, other)) => {
            errs.at(
                a,
                format!("peer.max_prefixes_action: {other:?} is neither \"warn\" nor \"cease\""),
            );
            LimitAction::Cease
        }
    };
    let restart = match &p.max_prefixes_restart {
        Some(r) if action == LimitAction::Warn => {
            errs.at(
                r,
                "peer.max_prefixes_restart: only with max_prefixes_action = \"cease\"".into(),
            );
            None
        }
        Some(r) if *r.get_ref() == 0 => {
            errs.at(r, "peer.max_prefixes_restart: at least 1 second".into());
            None
        }
        Some(r) => Some(Duration::from_secs(*r.get_ref())),
        None => None,
    };
    Some(PrefixLimit {
        max: usize::try_from(*max.get_ref()).unwrap_or(usize::MAX),
        action,
        restart,
    })
}

/// An address of one family (`v6` or IPv4), or an error at its line.
fn of_family(errs: &mut Errors, field: &str, a: Option<&Spanned<String>>, v6: bool) -> Option<IpAddr> {
    let a = a?;
    match a.get_ref().parse::<IpAddr>() {
        Ok(x) if x.is_ipv6() == v6 => Some(x),
        _ => {
            let fam = if v6 { "IPv6" } else { "IPv4" };
            errs.at(a, format!("{field}: {:?} is not an {fam} address", a.get_ref()));
            None
        }
    }
}

/// A BIRD protocol name: letters, digits and `_`, not starting with a digit.
fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && n.len() <= 64
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            file: file.clone(),
            line: None,
            message: format!("cannot read: {e}"),
        }]
    })?;
    parse(&file, &text)
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Config, Vec<ConfigError>> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        vec![ConfigError {
            file: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        }]
    })?;
    let mut errs = Errors {
        file,
        text,
        list: Vec::new(),
    };
    let router_id = match raw.router_id.get_ref().parse::<Ipv4Addr>() {
        Ok(a) if !a.is_unspecified() => RouterId(a),
        _ => {
            errs.at(
                &raw.router_id,
                format!(
                    "router_id: {:?} is not a non-zero IPv4 address",
                    raw.router_id.get_ref()
                ),
            );
            RouterId(Ipv4Addr::UNSPECIFIED)
        }
    };
    let asn = match &raw.asn {
        Some(a) if *a.get_ref() == 0 => {
            errs.at(a, "asn: AS 0 is reserved (RFC 7607)".into());
            Asn(defaults::ASN)
        }
        Some(a) => Asn(*a.get_ref()),
        None => Asn(defaults::ASN),
    };
    let mut listen = Vec::new();
    match &raw.listen {
        None => listen.push(SocketAddr::new(
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            defaults::PORT,
        )),
        Some(l) => {
            for a in l.get_ref() {
                match a
                    .parse::<SocketAddr>()
                    .or_else(|_| a.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, defaults::PORT)))
                {
                    Ok(s) => listen.push(s),
                    Err(_) => errs.at(l, format!("listen: {a:?} is not an address or address:port")),
                }
            }
        }
    }
    let ctl_socket = PathBuf::from(
        raw.ctl_socket
            .as_ref()
            .map_or(defaults::CTL_SOCKET, |s| s.get_ref().as_str()),
    );
    let metrics_listen = raw
        .metrics_listen
        .as_ref()
        .and_then(|m| match m.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                errs.at(m, format!("metrics_listen: {:?} is not an address:port", m.get_ref()));
                None
            }
        });
    let mut peers = Vec::new();
    let mut names = HashSet::new();
    let mut addrs = HashSet::new();
    for p in raw.peer {
        let name = p.name.get_ref().clone();
        if !valid_name(&name) {
            errs.at(
                &p.name,
                format!("peer.name: {name:?} must be letters, digits and '_', not starting with a digit"),
            );
        } else if !names.insert(name.clone()) {
            errs.at(&p.name, format!("peer.name: {name:?} is configured twice"));
        }
        // An IPv6 link-local peer names its interface: `fe80::1%eth0`.
        let (text, interface) = match p.address.get_ref().split_once('%') {
            Some((a, i)) => (a, Some(i.to_string())),
            None => (p.address.get_ref().as_str(), None),
        };
        let address = match text.parse::<IpAddr>() {
            Ok(a) => a,
            Err(_) => {
                errs.at(
                    &p.address,
                    format!("peer.address: {:?} is not an IP address", p.address.get_ref()),
                );
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        };
        match (rib::fib::is_link_local(&address), &interface) {
            (true, None) => errs.at(
                &p.address,
                format!("peer.address: {address} is link-local: name its interface, as in \"{address}%eth0\""),
            ),
            (false, Some(_)) => errs.at(
                &p.address,
                "peer.address: only an IPv6 link-local address takes an interface (%IFACE)".into(),
            ),
            (true, Some(i)) if i.is_empty() || i.len() > 15 => {
                errs.at(&p.address, format!("peer.address: {i:?} is not an interface name"))
            }
            _ => {}
        }
        let port = p.port.as_ref().map_or(defaults::PORT, |s| *s.get_ref());
        if !addrs.insert((address, port)) {
            errs.at(
                &p.address,
                format!("peer.address: {address} port {port} is configured twice"),
            );
        }
        let peer_asn = match &p.asn {
            Some(a) if *a.get_ref() == 0 => {
                errs.at(a, "peer.asn: AS 0 is reserved (RFC 7607)".into());
                asn
            }
            Some(a) => Asn(*a.get_ref()),
            None => asn,
        };
        let local_address = match &p.local_address {
            None => None,
            Some(s) => match s.get_ref().parse::<IpAddr>() {
                Ok(a) if a.is_ipv4() == address.is_ipv4() => Some(a),
                Ok(_) => {
                    errs.at(
                        s,
                        "peer.local_address: not of the same family as the peer's address".into(),
                    );
                    None
                }
                Err(_) => {
                    errs.at(s, format!("peer.local_address: {:?} is not an IP address", s.get_ref()));
                    None
                }
            },
        };
        let hold_time = p.hold_time.as_ref().map_or(defaults::HOLD_TIME, |h| *h.get_ref());
        if let Some(h) = &p.hold_time {
            // RFC 4271 §4.2: zero, or at least three seconds.
            if matches!(*h.get_ref(), 1 | 2) {
                errs.at(
                    h,
                    "peer.hold_time: must be 0 or at least 3 seconds (RFC 4271 4.2)".into(),
                );
            }
        }
        if let Some(k) = &p.keepalive {
            if *k.get_ref() == 0 || (hold_time != 0 && *k.get_ref() > hold_time / 3) {
                errs.at(
                    k,
                    format!("peer.keepalive: must be between 1 and a third of the hold time ({hold_time})"),
                );
            }
        }
        if let Some(t) = &p.ttl_security {
            if *t.get_ref() == 0 {
                errs.at(t, "peer.ttl_security: the hop count is at least 1".into());
            }
        }
        if let Some(pw) = &p.password {
            if pw.get_ref().is_empty() || pw.get_ref().len() > 80 {
                errs.at(
                    pw,
                    "peer.password: TCP MD5 keys are 1 to 80 bytes (Linux TCP_MD5SIG_MAXKEYLEN)".into(),
                );
            }
        }
        if let Some(g) = &p.graceful_restart {
            if *g.get_ref() > 4095 {
                errs.at(
                    g,
                    "peer.graceful_restart: the restart time is at most 4095 seconds (RFC 4724 3)".into(),
                );
            }
        }
        let connect_retry = match &p.connect_retry {
            Some(c) if *c.get_ref() == 0 => {
                errs.at(c, "peer.connect_retry: at least 1 second".into());
                defaults::CONNECT_RETRY
            }
            Some(c) => Duration::from_secs(*c.get_ref()),
            None => defaults::CONNECT_RETRY,
        };
        let error_wait = match &p.error_wait {
            Some(w) if w.get_ref()[0] > w.get_ref()[1] => {
                errs.at(
                    w,
                    "peer.error_wait: [first, longest]: the first wait is the shorter".into(),
                );
                defaults::ERROR_WAIT
            }
            Some(w) => (w.get_ref()[0], w.get_ref()[1]),
            None => defaults::ERROR_WAIT,
        };
        let local_asn = match &p.local_asn {
            Some(a) if *a.get_ref() == 0 => {
                errs.at(a, "peer.local_asn: AS 0 is reserved (RFC 7607)".into());
                None
            }
            Some(a) => Some(Asn(*a.get_ref())),
            None => None,
        };
        let max_prefixes = prefix_limit(&p, &mut errs);
        let import = super::filter::rules(p.import, "peer.import", &mut errs);
        let export = super::filter::rules(p.export, "peer.export", &mut errs);
        peers.push(PeerSettings {
            import,
            export,
            name,
            address,
            interface,
            port,
            asn: peer_asn,
            local_asn,
            local_address,
            passive: p.passive.unwrap_or(false),
            hold_time,
            keepalive: p.keepalive.map(|k| *k.get_ref()),
            connect_retry,
            error_wait: (Duration::from_secs(error_wait.0), Duration::from_secs(error_wait.1)),
            password: p.password.map(|s| s.into_inner()),
            ttl_security: p.ttl_security.map(|t| *t.get_ref()),
            description: p.description,
            graceful_restart: Some(p.graceful_restart.map_or(defaults::GRACEFUL_RESTART, |g| *g.get_ref())),
            add_path: p.add_path.unwrap_or(defaults::ADD_PATH),
            rr_client: p.rr_client.unwrap_or(false),
            next_hop_self: match &p.next_hop {
                None => false,
                Some(n) if n.get_ref() == "self" => true,
                Some(n) if n.get_ref() == "keep" => false,
                Some(n) => {
                    errs.at(
                        n,
                        format!("peer.next_hop: {:?} is neither \"self\" nor \"keep\"", n.get_ref()),
                    );
                    false
                }
            },
            allow_local_as: p.allow_local_as.unwrap_or(0),
            local_address6: of_family(&mut errs, "peer.local_address6", p.local_address6.as_ref(), true),
            local_address4: of_family(&mut errs, "peer.local_address4", p.local_address4.as_ref(), false),
            max_prefixes,
        });
    }
    let cluster_id = raw
        .cluster_id
        .as_ref()
        .and_then(|c| match c.get_ref().parse::<Ipv4Addr>() {
            Ok(a) => Some(bgp_wire::ClusterId(a)),
            Err(_) => {
                errs.at(c, format!("cluster_id: {:?} is not an IPv4 address", c.get_ref()));
                None
            }
        });
    let mut statics = Vec::new();
    for st in &raw.statics {
        let Ok(prefix) = st.prefix.get_ref().parse::<bgp_wire::Prefix>() else {
            errs.at(
                &st.prefix,
                format!("static.prefix: {:?} is not a prefix", st.prefix.get_ref()),
            );
            continue;
        };
        let via = match (&st.via, st.blackhole.unwrap_or(false)) {
            (Some(v), false) => match v.get_ref().parse::<IpAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    errs.at(v, format!("static.via: {:?} is not an address", v.get_ref()));
                    None
                }
            },
            (None, true) => None,
            _ => {
                errs.at(&st.prefix, "static: give exactly one of blackhole = true or via".into());
                None
            }
        };
        let mut communities = Vec::new();
        if let Some(cs) = &st.communities {
            for c in cs.get_ref() {
                match c
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
                {
                    Some((a, b)) => {
                        communities.push(bgp_wire::attributes::Community(u32::from(a) << 16 | u32::from(b)))
                    }
                    None => errs.at(cs, format!("static.communities: {c:?} is not ASN:value")),
                }
            }
        }
        statics.push(StaticRoute {
            prefix,
            via,
            communities,
            local_pref: st.local_pref,
            export: st.export.unwrap_or(false),
        });
    }
    let mut pools = Vec::new();
    for p in &raw.pool {
        let mut encap = |field: &str, v: &Option<Spanned<String>>| match v.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("never") => Encap::Never,
            Some("always") => Encap::Always,
            Some("cross-subnet") => Encap::CrossSubnet,
            Some(other) => {
                if let Some(s) = v {
                    errs.at(
                        s,
                        format!("pool.{field}: {other:?} is not \"always\", \"cross-subnet\" or \"never\""),
                    );
                }
                Encap::Never
            }
        };
        let ipip = encap("ipip", &p.ipip);
        let vxlan = encap("vxlan", &p.vxlan);
        match p.cidr.get_ref().parse::<bgp_wire::Prefix>() {
            Ok(cidr) => {
                if ipip != Encap::Never && vxlan != Encap::Never {
                    errs.at(&p.cidr, "pool: IPIP and VXLAN cannot both be on".into());
                }
                pools.push(Pool {
                    cidr,
                    ipip,
                    vxlan,
                    export: p.export.unwrap_or(true),
                })
            }
            Err(_) => errs.at(&p.cidr, format!("pool.cidr: {:?} is not a prefix", p.cidr.get_ref())),
        }
    }
    let mut local_subnets = Vec::new();
    if let Some(l) = &raw.local_subnets {
        for s in l.get_ref() {
            match s.parse::<bgp_wire::Prefix>() {
                Ok(x) => local_subnets.push(x),
                Err(_) => errs.at(l, format!("local_subnets: {s:?} is not a prefix")),
            }
        }
    }
    let graceful_restart_wait = match &raw.graceful_restart_wait {
        Some(w) if *w.get_ref() == 0 || *w.get_ref() > 3600 => {
            errs.at(w, "graceful_restart_wait: between 1 and 3600 seconds".into());
            defaults::GRACEFUL_RESTART_WAIT
        }
        Some(w) => Duration::from_secs(*w.get_ref()),
        None => defaults::GRACEFUL_RESTART_WAIT,
    };
    let kernel = raw.kernel.as_ref().map(|k| {
        let table = k.table.as_ref().map_or(defaults::KERNEL_TABLE, |t| *t.get_ref());
        if let Some(t) = &k.table {
            // 0 is "unspecified", 253-255 are default/main/local only as
            // themselves; 255 (local) is the kernel's own.
            if matches!(*t.get_ref(), 0 | 255) {
                errs.at(t, "kernel.table: 0 and 255 (local) are not tables routes go to".into());
            }
        }
        let protocol = k.protocol.as_ref().map_or(defaults::KERNEL_PROTOCOL, |p| *p.get_ref());
        if let Some(p) = &k.protocol {
            // RFC-less but fixed: 0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static (rtnetlink.h).
            if *p.get_ref() <= 4 {
                errs.at(
                    p,
                    "kernel.protocol: 0 to 4 are the kernel's own (rtnetlink.h); Calico's BIRD uses 12".into(),
                );
            }
        }
        KernelSettings {
            table,
            protocol,
            learn: k.learn.unwrap_or(true),
            persist: k.persist.unwrap_or(true),
            merge_paths: k.merge_paths.unwrap_or(true),
            program_pool_routes: k.program_pool_routes.unwrap_or(true),
        }
    });
    let mut advertise = Vec::new();
    for a in &raw.advertise {
        let Ok(prefix) = a.prefix.get_ref().parse::<bgp_wire::Prefix>() else {
            errs.at(
                &a.prefix,
                format!("advertise.prefix: {:?} is not a prefix", a.prefix.get_ref()),
            );
            continue;
        };
        let mut ad = rib::Advertise {
            prefix,
            communities: Vec::new(),
            large: Vec::new(),
        };
        for c in a.communities.get_ref() {
            match community(c) {
                Some(Ok(x)) => ad.communities.push(x),
                Some(Err(l)) => ad.large.push(l),
                None => errs.at(
                    &a.communities,
                    format!("advertise.communities: {c:?} is neither ASN:value nor ASN:value:value"),
                ),
            }
        }
        advertise.push(ad);
    }
    if advertise.len() > rib::policy::MAX_ADVERTISE {
        errs.list.push(ConfigError {
            file: file.to_string(),
            line: None,
            message: format!("advertise: at most {} ranges", rib::policy::MAX_ADVERTISE),
        });
    }
    if errs.list.is_empty() {
        Ok(Config {
            router_id,
            asn,
            listen,
            ctl_socket,
            metrics_listen,
            cluster_id,
            peers,
            statics,
            pools,
            local_subnets,
            graceful_restart_wait,
            kernel,
            advertise,
        })
    } else {
        Err(errs.list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
router_id = "127.0.0.1"
asn = 64512
listen = ["127.0.0.1:1179"]
ctl_socket = "/tmp/tern.ctl"

[[peer]]
name = "Mesh_127_0_0_2"
address = "127.0.0.2"
port = 1179
"#;

    #[test]
    fn a_good_config_gets_calico_defaults() {
        let c = parse("t.toml", GOOD).unwrap();
        assert_eq!(c.router_id, RouterId(Ipv4Addr::new(127, 0, 0, 1)));
        let p = &c.peers[0];
        assert_eq!((p.asn, p.hold_time, p.port, p.passive), (Asn(64512), 240, 1179, false));
        assert_eq!(p.connect_retry, Duration::from_secs(5));
        assert_eq!(p.graceful_restart, Some(120));
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let bad = GOOD.replace("port = 1179", "port = 1179\nhold_time = 2\nbogus = 1");
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e[0].line, Some(12), "{e:?}");
        assert!(e[0].message.contains("bogus"), "{e:?}");
        let bad = GOOD.replace("port = 1179", "port = 1179\nhold_time = 2");
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(
            (e[0].line, e[0].to_string().contains("peer.hold_time")),
            (Some(11), true),
            "{e:?}"
        );
        let bad = GOOD
            .replace("\"127.0.0.2\"", "\"127.0.0.300\"")
            .replace("Mesh_127_0_0_2", "1bad");
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().any(|x| x.line == Some(8) && x.message.contains("peer.name")));
        assert!(e
            .iter()
            .any(|x| x.line == Some(9) && x.message.contains("peer.address")));
        let e = parse("t.toml", "router_id = 5").unwrap_err();
        assert_eq!(e[0].line, Some(1));
        let twice = format!("{GOOD}\n[[peer]]\nname = \"Mesh_127_0_0_2\"\naddress = \"127.0.0.3\"\n");
        assert!(parse("t.toml", &twice).unwrap_err()[0].message.contains("twice"));
    }

    #[test]
    fn prefix_limits() {
        use crate::config::model::{LimitAction, PrefixLimit};
        let c = parse(
            "t.toml",
            &format!("{GOOD}max_prefixes = 1000\nmax_prefixes_restart = 30\n"),
        )
        .unwrap();
        assert_eq!(
            c.peers[0].max_prefixes,
            Some(PrefixLimit {
                max: 1000,
                action: LimitAction::Cease,
                restart: Some(Duration::from_secs(30))
            })
        );
        let c = parse(
            "t.toml",
            &format!("{GOOD}max_prefixes = 5\nmax_prefixes_action = \"warn\"\n"),
        )
        .unwrap();
        assert_eq!(c.peers[0].max_prefixes.as_ref().unwrap().action, LimitAction::Warn);
        // It renders back to itself.
        let again = parse("t.toml", &crate::config::render::to_toml(&c)).unwrap();
        assert_eq!(again.peers[0].max_prefixes, c.peers[0].max_prefixes);
        for (extra, said) in [
            ("max_prefixes = 0\n", "peer.max_prefixes: at least 1"),
            (
                "max_prefixes = 5\nmax_prefixes_action = \"drop\"\n",
                "neither \"warn\" nor \"cease\"",
            ),
            (
                "max_prefixes = 5\nmax_prefixes_action = \"warn\"\nmax_prefixes_restart = 9\n",
                "only with",
            ),
            ("max_prefixes_restart = 9\n", "without max_prefixes"),
        ] {
            let e = parse("t.toml", &format!("{GOOD}{extra}")).unwrap_err();
            assert!(e[0].message.contains(said) && e[0].line.is_some(), "{extra}: {e:?}");
        }
    }

    #[test]
    fn kernel_pools_and_subnets() {
        let c = parse("t.toml", GOOD).unwrap();
        assert_eq!(c.kernel, None, "no [kernel]: no kernel table is touched");
        let top = format!(
            "local_subnets = [\"10.77.0.0/24\"]\ngraceful_restart_wait = 30\n{GOOD}\n[kernel]\nlearn = false\n\
             [[pool]]\ncidr = \"10.244.0.0/16\"\nipip = \"cross-subnet\"\n[[pool]]\ncidr = \"10.245.0.0/16\"\nvxlan = \"always\"\nexport = false\n"
        );
        let c = parse("t.toml", &top).unwrap();
        let k = c.kernel.clone().unwrap();
        assert_eq!(
            (k.table, k.protocol, k.learn, k.persist, k.merge_paths),
            (254, 12, false, true, true)
        );
        assert_eq!(c.graceful_restart_wait, Duration::from_secs(30));
        assert_eq!(c.local_subnets, vec!["10.77.0.0/24".parse().unwrap()]);
        assert_eq!(c.pools[0].ipip, Encap::CrossSubnet);
        assert_eq!((c.pools[1].vxlan, c.pools[1].export), (Encap::Always, false));
        assert_eq!(c.export_filter().disabled, vec!["10.245.0.0/16".parse().unwrap()]);
        let bad = top.replace("\"cross-subnet\"", "\"sometimes\"");
        let e = parse("t.toml", &bad).unwrap_err();
        assert!(e[0].message.contains("pool.ipip") && e[0].line == Some(18), "{e:?}");
        let bad = top.replace("learn = false", "protocol = 2");
        assert!(parse("t.toml", &bad).unwrap_err()[0]
            .message
            .contains("kernel.protocol"));
    }

    #[test]
    fn link_local_peers_name_their_interface() {
        let ll = GOOD.replace("\"127.0.0.2\"", "\"fe80::2%eth0\"");
        let c = parse("t.toml", &ll.replace("local_address = \"127.0.0.1\"\n", "")).unwrap();
        assert_eq!(c.peers[0].interface.as_deref(), Some("eth0"));
        assert_eq!(c.peers[0].address, "fe80::2".parse::<IpAddr>().unwrap());
        let e = parse("t.toml", &GOOD.replace("\"127.0.0.2\"", "\"fe80::2\"")).unwrap_err();
        assert!(e[0].message.contains("name its interface"), "{e:?}");
        let e = parse("t.toml", &GOOD.replace("\"127.0.0.2\"", "\"127.0.0.2%eth0\"")).unwrap_err();
        assert!(e[0].message.contains("only an IPv6 link-local"), "{e:?}");
    }
}
