//! The configuration as the daemon uses it: typed, validated, defaults
//! filled in. [`crate::config::toml`] builds it from a file; the Calico
//! datastore will build the same model.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use bgp_wire::{Asn, RouterId};
use rib::fib::{FibPolicy, Pool};
use rib::PeerId;

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub router_id: RouterId,
    pub asn: Asn,
    /// Addresses to listen on for BGP.
    pub listen: Vec<SocketAddr>,
    pub ctl_socket: PathBuf,
    /// Where Prometheus scrapes `/metrics`; off when `None`. Read at start.
    pub metrics_listen: Option<SocketAddr>,
    /// Set when this node reflects routes (RFC 4456).
    pub cluster_id: Option<bgp_wire::ClusterId>,
    pub peers: Vec<PeerSettings>,
    /// Routes this node originates.
    pub statics: Vec<StaticRoute>,
    /// Address pools: when any is configured, only routes within them are exported.
    pub pools: Vec<Pool>,
    /// The node's own subnets: `cross-subnet` pools tunnel only outside
    /// them. Empty: the subnets of the interface holding the router ID.
    pub local_subnets: Vec<bgp_wire::Prefix>,
    /// The longest wait for peers' End-of-RIB after our restart before
    /// routes left from our last run are removed from the kernel.
    pub graceful_restart_wait: Duration,
    /// The kernel's table; `None`: ternd touches no kernel table.
    pub kernel: Option<KernelSettings>,
    /// Communities added to exported routes within a range (Calico's
    /// `prefixAdvertisements`).
    pub advertise: Vec<rib::Advertise>,
}

/// How routes reach and come from the kernel (BIRD's kernel protocol).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSettings {
    /// The routing table (254: main).
    pub table: u32,
    /// The protocol number our routes carry (12, `bird`: Felix decides
    /// route ownership by it).
    pub protocol: u8,
    /// Learn the kernel's other routes (BIRD's `learn`).
    pub learn: bool,
    /// Leave our routes on exit and adopt them on start (BIRD's `persist`).
    pub persist: bool,
    /// Equal routes become one multipath route (BIRD's `merge paths`).
    pub merge_paths: bool,
    /// Install routes within pools (false: Felix programs them).
    pub program_pool_routes: bool,
}

/// A route from the configuration (e.g. a node's IPAM block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    pub prefix: bgp_wire::Prefix,
    /// `None`: blackhole.
    pub via: Option<IpAddr>,
    pub communities: Vec<bgp_wire::attributes::Community>,
    pub local_pref: Option<u32>,
    /// Exported even outside the pools, and anything within it (Calico's
    /// advertised service ranges: `net ~ <static route cidr>`).
    pub export: bool,
}

/// One configured peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSettings {
    /// The protocol name `show protocols` shows (`Mesh_127_0_0_2`); what
    /// identifies the peer across reloads.
    pub name: String,
    pub address: IpAddr,
    /// The interface of an IPv6 link-local peer (`fe80::1%eth0`).
    pub interface: Option<String>,
    pub port: u16,
    pub asn: Asn,
    /// Our AS towards this peer, when not the node's (Calico's
    /// `localASNumber`): in our OPEN, prepended towards an eBGP peer, and
    /// ours in the loop check.
    pub local_asn: Option<Asn>,
    pub local_address: Option<IpAddr>,
    pub passive: bool,
    pub hold_time: u16,
    pub keepalive: Option<u16>,
    pub connect_retry: Duration,
    /// Idle hold after an error: first, and at most (BIRD's `error wait time`).
    pub error_wait: (Duration, Duration),
    /// TCP MD5 signature key (RFC 2385).
    pub password: Option<String>,
    /// GTSM hop count (RFC 5082): send TTL 255, accept ≥ 256 − hops.
    pub ttl_security: Option<u8>,
    pub description: Option<String>,
    pub graceful_restart: Option<u16>,
    pub add_path: bool,
    /// A route reflection client of ours (RFC 4456).
    pub rr_client: bool,
    /// Always announce ourselves as next hop, also over iBGP.
    pub next_hop_self: bool,
    /// How often our AS may appear in a received AS_PATH (Calico's numAllowedLocalASNumbers).
    pub allow_local_as: u8,
    /// Our IPv6 next hop for IPv6 routes sent over an IPv4 session.
    pub local_address6: Option<IpAddr>,
    /// Our IPv4 next hop for IPv4 routes sent over an IPv6 session
    /// (without it they are not sent: RFC 8950 is not negotiated).
    pub local_address4: Option<IpAddr>,
    /// Rules for the routes the peer sends us and we send it (Calico's
    /// BGPFilter); `None` without rules.
    pub import: Option<std::sync::Arc<rib::RouteFilter>>,
    pub export: Option<std::sync::Arc<rib::RouteFilter>>,
    /// The most routes the peer may have us hold.
    pub max_prefixes: Option<PrefixLimit>,
}

/// A peer's prefix limit (`max_prefixes`, RFC 4486 §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixLimit {
    pub max: usize,
    pub action: LimitAction,
    /// With [`LimitAction::Cease`]: start the session again after this
    /// long; `None` leaves it down until the operator enables it.
    pub restart: Option<Duration>,
}

/// What crossing the limit does (`max_prefixes_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitAction {
    /// Log it, once per session; keep the routes.
    Warn,
    /// Cease / Maximum Number of Prefixes Reached, and the session ends.
    Cease,
}

impl Config {
    /// The FSM settings for one peer.
    pub fn fsm_config(&self, p: &PeerSettings) -> bgp_fsm::PeerConfig {
        let mut c = bgp_fsm::PeerConfig::new(p.local_asn.unwrap_or(self.asn), p.asn, self.router_id);
        c.hold_time = p.hold_time;
        c.keepalive = p.keepalive;
        c.passive = p.passive;
        c.connect_retry = p.connect_retry;
        c.error_wait = p.error_wait;
        c.graceful_restart = p.graceful_restart;
        c.add_path = p.add_path;
        c
    }

    /// The node's own blocks: its static routes inside a pool (Calico
    /// carves IPAM blocks out of pools). Each is exported, nothing more
    /// specific within it (`calico_aggr`).
    pub fn export_filter(&self) -> rib::PrefixFilter {
        let blocks = self
            .statics
            .iter()
            .map(|s| s.prefix)
            .filter(|p| self.pools.iter().any(|pool| pool.cidr != *p && pool.cidr.contains(p)))
            .collect();
        rib::PrefixFilter {
            pools: self.pools.iter().map(|p| p.cidr).collect(),
            blocks,
            disabled: self.pools.iter().filter(|p| !p.export).map(|p| p.cidr).collect(),
            advertised: self.statics.iter().filter(|s| s.export).map(|s| s.prefix).collect(),
            advertise: self.advertise.clone(),
        }
    }

    /// The rules for the kernel's table, with the node's own subnets
    /// (`local_subnets`, or those given when it names none).
    pub fn fib_policy(&self, k: &KernelSettings, found_subnets: &[bgp_wire::Prefix]) -> FibPolicy {
        FibPolicy {
            pools: self.pools.clone(),
            local_subnets: if self.local_subnets.is_empty() {
                found_subnets.to_vec()
            } else {
                self.local_subnets.clone()
            },
            merge_paths: k.merge_paths,
            program_pool_routes: k.program_pool_routes,
        }
    }

    /// This node, as the routing engine's rules need it.
    pub fn local(&self) -> rib::Local {
        rib::Local {
            asn: self.asn,
            router_id: self.router_id,
            cluster_id: self.cluster_id,
        }
    }
}

/// Numbers peers by name, once per process: a peer that stays in the
/// configuration keeps its number through reloads, and a number is never
/// given to another peer.
#[derive(Debug, Default)]
pub struct PeerIds {
    by_name: HashMap<String, PeerId>,
}

impl PeerIds {
    /// The number of the peer called `name`, given on first use.
    pub fn id(&mut self, name: &str) -> PeerId {
        let next = PeerId(self.by_name.len() as u32);
        *self.by_name.entry(name.to_string()).or_insert(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_keeps_its_number_and_numbers_are_never_reused() {
        let mut ids = PeerIds::default();
        let a = ids.id("Mesh_10_0_0_2");
        let b = ids.id("Mesh_10_0_0_3");
        assert_ne!(a, b);
        // A reload that drops the first and adds another: the second keeps
        // its number, the new one gets a fresh one.
        assert_eq!(ids.id("Mesh_10_0_0_3"), b);
        let c = ids.id("Mesh_10_0_0_4");
        assert!(c != a && c != b);
        assert_eq!(ids.id("Mesh_10_0_0_2"), a);
    }
}
