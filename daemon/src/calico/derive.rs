//! What confd derived for one node's BIRD, derived for ternd: identity and
//! AS, the node-to-node mesh with Calico's passive rule, route reflector
//! clusters, BGPPeers (global, node-specific, by selector, and the
//! reverse peerings), the node's blocks, pools and advertised service
//! ranges (`../shared/docs/calico.md` §1, v3.31 templates and §3.3's
//! peering algorithm). Names are confd's: `Mesh_10_0_0_2`,
//! `Node_fd00__2`, `Global_10_0_0_9_port_1179`.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use bgp_wire::{Asn, ClusterId, Prefix, RouterId};
use rib::fib::{Encap, Pool};

use super::peering::{peer, peer_ip, Want};
use super::resources::{BgpConfigurationSpec, BgpPeer, Node, ResourceError, Resources};
use super::selector::Selector;
use crate::config::{defaults, Config, KernelSettings, StaticRoute};

/// Where the rendered node's control socket is (calico-node's path for
/// BIRD's, beside which `--ctl-dir` serves bird.ctl and bird6.ctl).
pub const CALICO_CTL: &str = "/var/run/calico/tern.ctl";

pub(super) fn err(resource: impl Into<String>, message: impl Into<String>) -> ResourceError {
    ResourceError {
        resource: resource.into(),
        message: message.into(),
    }
}

/// A node's BGP address: the address and its subnet.
fn address(n: &Node, v6: bool) -> Result<Option<(IpAddr, Prefix)>, ResourceError> {
    let Some(b) = &n.spec.bgp else { return Ok(None) };
    let (field, text) = if v6 {
        ("spec.bgp.ipv6Address", &b.ipv6_address)
    } else {
        ("spec.bgp.ipv4Address", &b.ipv4_address)
    };
    let Some(t) = text.as_deref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        err(
            format!("Node {}", n.metadata.name),
            format!("{field}: {t:?} is not ADDRESS/LENGTH"),
        )
    };
    let (a, len) = match t.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().map_err(|_| bad())?),
        None => (t, if v6 { 128 } else { 32 }),
    };
    let ip: IpAddr = a.parse().map_err(|_| bad())?;
    if ip.is_ipv6() != v6 {
        return Err(bad());
    }
    let net = Prefix::new(ip, len).ok_or_else(bad)?;
    let net = Prefix::new(net.net().trunc().addr(), len).ok_or_else(bad)?;
    Ok(Some((ip, net)))
}

fn encap(who: &str, field: &str, v: Option<&str>) -> Result<Encap, ResourceError> {
    match v.unwrap_or("Never") {
        "Always" => Ok(Encap::Always),
        "CrossSubnet" => Ok(Encap::CrossSubnet),
        "Never" | "" => Ok(Encap::Never),
        other => Err(err(
            who,
            format!("{field}: {other:?} is not Always, CrossSubnet or Never"),
        )),
    }
}

/// One node's view of the cluster.
pub(super) struct Cluster<'a> {
    pub(super) r: &'a Resources,
    pub(super) global: BgpConfigurationSpec,
}

impl Cluster<'_> {
    fn node_config(&self, n: &Node) -> Option<&BgpConfigurationSpec> {
        self.r.config(&format!("node.{}", n.metadata.name))
    }

    fn asn_of(&self, n: &Node) -> u32 {
        n.spec
            .bgp
            .as_ref()
            .and_then(|b| b.as_number)
            .or(self.global.as_number)
            .map_or(defaults::ASN, |a| a.0)
    }

    fn port_of(&self, n: &Node) -> u16 {
        self.node_config(n)
            .and_then(|c| c.listen_port)
            .or(self.global.listen_port)
            .unwrap_or(defaults::PORT)
    }

    fn cluster_of(n: &Node) -> Option<&str> {
        n.spec
            .bgp
            .as_ref()
            .and_then(|b| b.route_reflector_cluster_id.as_deref())
            .filter(|c| !c.is_empty())
    }

    fn selects(&self, who: &str, field: &str, sel: &str, n: &Node) -> Result<bool, ResourceError> {
        let s = Selector::parse(sel).map_err(|e| err(who, format!("{field}: {e}")))?;
        Ok(s.matches(&n.metadata.labels))
    }
}

/// The ternd configuration node `name` runs, from `r`.
pub fn derive(r: &Resources, name: &str) -> Result<Config, ResourceError> {
    let me = r
        .nodes
        .iter()
        .find(|n| n.metadata.name == name)
        .ok_or_else(|| err(format!("Node {name}"), "no such node in the input"))?;
    let c = Cluster {
        r,
        global: r.config("default").cloned().unwrap_or_default(),
    };
    // Every node's addresses are checked, whether this node peers with it
    // or not: a malformed resource is an error wherever it is.
    for n in &r.nodes {
        address(n, false)?;
        address(n, true)?;
    }
    for f in &r.filters {
        super::bgpfilter::check(f)?;
    }
    let who_me = format!("Node {name}");
    let v4 = address(me, false)?;
    let v6 = address(me, true)?;
    let Some((IpAddr::V4(rid), _)) = v4 else {
        return Err(err(
            who_me,
            "spec.bgp.ipv4Address: a node needs an IPv4 address (its router ID)",
        ));
    };
    let my_asn = c.asn_of(me);
    let my_cluster = Cluster::cluster_of(me).map(str::to_string);
    let cluster_id = match &my_cluster {
        Some(t) => Some(ClusterId(t.parse::<Ipv4Addr>().map_err(|_| {
            err(
                format!("Node {name}"),
                format!("spec.bgp.routeReflectorClusterID: {t:?} is not an IPv4 address"),
            )
        })?)),
        None => None,
    };
    let my = |ip: &IpAddr| if ip.is_ipv4() { v4.map(|x| x.0) } else { v6.map(|x| x.0) };
    let mut wants: Vec<Want> = Vec::new();

    // (a) The mesh: every other node that is no reflector, unless we are one.
    let mesh = c.global.node_to_node_mesh_enabled.unwrap_or(true) && my_cluster.is_none();
    if mesh {
        let mut others: Vec<&Node> = r.nodes.iter().filter(|n| n.metadata.name != name).collect();
        others.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for n in others {
            if Cluster::cluster_of(n).is_some() {
                continue;
            }
            for v6 in [false, true] {
                if let Some((ip, _)) = address(n, v6)? {
                    if my(&ip).is_some() && my(&ip) != Some(ip) {
                        wants.push(Want {
                            kind: "Mesh",
                            ip,
                            port: Some(c.port_of(n)),
                            asn: c.asn_of(n),
                            calico_node: true,
                            cluster: None,
                            resource: None,
                        });
                    }
                }
            }
        }
    }

    // (c) BGPPeers: global ones first, then this node's.
    let mut peers: Vec<&BgpPeer> = r.peers.iter().collect();
    peers.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for global_pass in [true, false] {
        for p in &peers {
            let who = format!("BGPPeer {}", p.metadata.name);
            let s = &p.spec;
            let global = s.node.is_none() && s.node_selector.is_none();
            if global != global_pass {
                continue;
            }
            let mine = match (&s.node, &s.node_selector) {
                (Some(n), _) => n == name,
                (None, Some(sel)) => c.selects(&who, "spec.nodeSelector", sel, me)?,
                (None, None) => true,
            };
            if !mine {
                continue;
            }
            let kind = if global { "Global" } else { "Node" };
            if s.local_workload_selector.is_some() {
                // Felix evaluates the selector and names the workloads it
                // selects in its endpoint status files; we peer with those.
                let asn = s
                    .as_number
                    .ok_or_else(|| err(&who, "spec.asNumber: needed with localWorkloadSelector"))?
                    .0;
                for w in r.workloads.iter().filter(|w| w.bgp_peer == p.metadata.name) {
                    for ip in [w.ipv4, w.ipv6].into_iter().flatten() {
                        wants.push(Want {
                            kind: "Local_Workload",
                            ip,
                            port: None,
                            asn,
                            calico_node: false,
                            cluster: None,
                            resource: Some((*p).clone()),
                        });
                    }
                }
            } else if let Some(sel) = &s.peer_selector {
                for n in &r.nodes {
                    if n.metadata.name == name || !c.selects(&who, "spec.peerSelector", sel, n)? {
                        continue;
                    }
                    for v6 in [false, true] {
                        if let Some((ip, _)) = address(n, v6)? {
                            wants.push(Want {
                                kind,
                                ip,
                                port: Some(c.port_of(n)),
                                asn: s.as_number.map_or_else(|| c.asn_of(n), |a| a.0),
                                calico_node: true,
                                cluster: Cluster::cluster_of(n).map(str::to_string),
                                resource: Some((*p).clone()),
                            });
                        }
                    }
                }
            } else if let Some(t) = &s.peer_ip {
                let (ip, port) = peer_ip(&who, t)?;
                let asn = s
                    .as_number
                    .ok_or_else(|| err(&who, "spec.asNumber: needed with peerIP"))?
                    .0;
                let node = r.nodes.iter().find(|n| {
                    [false, true]
                        .iter()
                        .any(|v6| address(n, *v6).ok().flatten().is_some_and(|a| a.0 == ip))
                });
                wants.push(Want {
                    kind,
                    ip,
                    port: port.or_else(|| node.filter(|n| c.asn_of(n) == asn).map(|n| c.port_of(n))),
                    asn,
                    calico_node: node.is_some(),
                    cluster: node.and_then(Cluster::cluster_of).map(str::to_string),
                    resource: Some((*p).clone()),
                });
            } else {
                return Err(err(who, "spec: give peerIP or peerSelector"));
            }
        }
    }
    // Reverse peerings (§3.3 step 3): a BGPPeer that selects this node as
    // its peer makes this node peer with the nodes it applies to.
    for p in &peers {
        let who = format!("BGPPeer {}", p.metadata.name);
        let s = &p.spec;
        if s.reverse_peering.as_deref() == Some("Manual") || s.local_workload_selector.is_some() {
            continue;
        }
        let selected = match (&s.peer_selector, &s.peer_ip) {
            (Some(sel), _) => c.selects(&who, "spec.peerSelector", sel, me)?,
            (None, Some(t)) => {
                let (ip, _) = peer_ip(&who, t)?;
                my(&ip) == Some(ip) && s.as_number.is_none_or(|a| a.0 == my_asn)
            }
            _ => false,
        };
        if !selected {
            continue;
        }
        for n in &r.nodes {
            if n.metadata.name == name {
                continue;
            }
            let applies = match (&s.node, &s.node_selector) {
                (Some(x), _) => *x == n.metadata.name,
                (None, Some(sel)) => c.selects(&who, "spec.nodeSelector", sel, n)?,
                (None, None) => true,
            };
            if !applies {
                continue;
            }
            for v6 in [false, true] {
                if let Some((ip, _)) = address(n, v6)? {
                    wants.push(Want {
                        kind: "Node",
                        ip,
                        port: Some(c.port_of(n)),
                        asn: c.asn_of(n),
                        calico_node: true,
                        cluster: Cluster::cluster_of(n).map(str::to_string),
                        resource: Some((*p).clone()),
                    });
                }
            }
        }
    }

    let mut seen = HashSet::new();
    let mut out_peers = Vec::new();
    // (peer, gateway): reachableBy, a route to the peer through it.
    let mut reach: Vec<(IpAddr, IpAddr)> = Vec::new();
    for w in wants {
        // Only to peers of a family this node speaks, never to ourselves,
        // and the first peering to an address and port wins.
        let Some(local) = my(&w.ip) else { continue };
        if local == w.ip || !seen.insert((w.ip, w.port.unwrap_or(defaults::PORT))) {
            continue;
        }
        if let Some(bp) = &w.resource {
            if let Some(gw) = bp.spec.reachable_by.as_deref().filter(|g| !g.is_empty()) {
                let who = format!("BGPPeer {}", bp.metadata.name);
                let gw: IpAddr = gw
                    .parse()
                    .ok()
                    .filter(|g: &IpAddr| g.is_ipv4() == w.ip.is_ipv4())
                    .ok_or_else(|| {
                        err(
                            &who,
                            format!("spec.reachableBy: {gw:?} is not an address of the peer's family"),
                        )
                    })?;
                reach.push((w.ip, gw));
            }
        }
        out_peers.push(peer(&c, &w, local, my_asn, my_cluster.as_deref())?);
    }

    let mut statics = Vec::new();
    for a in &r.affinities {
        let who = format!("BlockAffinity {}", a.metadata.name);
        if a.spec.node != name || !matches!(a.spec.state.as_deref(), None | Some("confirmed") | Some("")) {
            continue;
        }
        if matches!(a.spec.deleted.as_ref().and_then(|d| d.as_bool()), Some(true)) {
            continue;
        }
        let p: Prefix = a
            .spec
            .cidr
            .parse()
            .map_err(|_| err(&who, format!("spec.cidr: {:?} is not a prefix", a.spec.cidr)))?;
        // confd leaves out host-length blocks.
        if p.prefix_len() == if p.is_ipv4() { 32 } else { 128 } {
            continue;
        }
        statics.push(StaticRoute {
            prefix: p,
            via: None,
            communities: Vec::new(),
            local_pref: None,
            export: false,
        });
    }
    // bird_aggr's `route <peer>/32 via <reachableBy>`: into the kernel
    // (the peer is reached through that gateway), never exported.
    for (ip, gw) in reach {
        let host = Prefix::new(ip, if ip.is_ipv4() { 32 } else { 128 }).expect("a host prefix");
        if !statics.iter().any(|s: &StaticRoute| s.prefix == host) {
            statics.push(StaticRoute {
                prefix: host,
                via: Some(gw),
                communities: Vec::new(),
                local_pref: None,
                export: false,
            });
        }
    }
    for (field, list) in [
        ("spec.serviceClusterIPs", &c.global.service_cluster_ips),
        ("spec.serviceExternalIPs", &c.global.service_external_ips),
        ("spec.serviceLoadBalancerIPs", &c.global.service_load_balancer_ips),
    ] {
        for x in list {
            let p: Prefix = x.cidr.parse().map_err(|_| {
                err(
                    "BGPConfiguration default",
                    format!("{field}: {:?} is not a prefix", x.cidr),
                )
            })?;
            if !statics.iter().any(|s: &StaticRoute| s.prefix == p) {
                statics.push(StaticRoute {
                    prefix: p,
                    via: None,
                    communities: Vec::new(),
                    local_pref: None,
                    export: true,
                });
            }
        }
    }
    // (h) prefixAdvertisements: the node's own BGPConfiguration wins over
    // the default; community names are the default's `communities`.
    let own = format!("node.{name}");
    let (adv_from, advs) = match r.config(&own).filter(|x| !x.prefix_advertisements.is_empty()) {
        Some(x) => (format!("BGPConfiguration {own}"), &x.prefix_advertisements),
        None => ("BGPConfiguration default".to_string(), &c.global.prefix_advertisements),
    };
    let mut advertise = Vec::new();
    for a in advs {
        let prefix: Prefix = a.cidr.parse().map_err(|_| {
            err(
                &adv_from,
                format!("spec.prefixAdvertisements: {:?} is not a prefix", a.cidr),
            )
        })?;
        let mut ad = rib::Advertise {
            prefix,
            communities: Vec::new(),
            large: Vec::new(),
        };
        for name_or_value in &a.communities {
            let value = c
                .global
                .communities
                .iter()
                .find(|n| &n.name == name_or_value)
                .map_or(name_or_value.as_str(), |n| n.value.as_str());
            match crate::config::toml::community(value) {
                Some(Ok(x)) => ad.communities.push(x),
                Some(Err(l)) => ad.large.push(l),
                None => {
                    return Err(err(
                        &adv_from,
                        format!("spec.prefixAdvertisements: {name_or_value:?} is no community name nor a:b or a:b:c"),
                    ))
                }
            }
        }
        ad.communities.sort_unstable();
        ad.communities.dedup();
        ad.large.sort_unstable();
        ad.large.dedup();
        advertise.push(ad);
    }

    let mut pools = Vec::new();
    let mut ps: Vec<_> = r.pools.iter().collect();
    ps.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for p in ps {
        let who = format!("IPPool {}", p.metadata.name);
        let cidr: Prefix = p
            .spec
            .cidr
            .parse()
            .map_err(|_| err(&who, format!("spec.cidr: {:?} is not a prefix", p.spec.cidr)))?;
        pools.push(Pool {
            cidr,
            ipip: encap(&who, "spec.ipipMode", p.spec.ipip_mode.as_deref())?,
            vxlan: encap(&who, "spec.vxlanMode", p.spec.vxlan_mode.as_deref())?,
            export: !p.spec.disable_bgp_export,
        });
    }

    let port = c.port_of(me);
    let listen = match c.global.bind_mode.as_deref() {
        Some("NodeIP") => [v4.map(|x| x.0), v6.map(|x| x.0)]
            .into_iter()
            .flatten()
            .map(|ip| std::net::SocketAddr::new(ip, port))
            .collect(),
        _ => vec![std::net::SocketAddr::new(
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            port,
        )],
    };
    Ok(Config {
        router_id: RouterId(rid),
        asn: Asn(my_asn),
        listen,
        ctl_socket: CALICO_CTL.into(),
        metrics_listen: None,
        cluster_id,
        peers: out_peers,
        statics,
        pools,
        local_subnets: [v4, v6].into_iter().flatten().map(|x| x.1).collect(),
        graceful_restart_wait: defaults::GRACEFUL_RESTART_WAIT,
        kernel: Some(KernelSettings {
            table: defaults::KERNEL_TABLE,
            protocol: defaults::KERNEL_PROTOCOL,
            learn: true,
            persist: true,
            merge_paths: true,
            program_pool_routes: true,
        }),
        advertise,
    })
}
