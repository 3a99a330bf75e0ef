//! What one peer's session is configured to do.

use std::time::Duration;

use bgp_wire::{Asn, Family, RouterId};

/// Session settings of one peer. Defaults follow Calico's BIRD
/// configuration, so a tern node behaves like the BIRD node it replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub local_as: Asn,
    pub peer_as: Asn,
    pub router_id: RouterId,
    /// Hold time we propose (RFC 4271 §4.2): 0, or at least 3 seconds.
    pub hold_time: u16,
    /// Keepalive interval; `None` means one third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// Never connect out; wait for the peer (RFC 4271 §8.1.1 PassiveTcpEstablishment).
    pub passive: bool,
    /// Delay before the first outgoing connection after a start (BIRD's `connect delay time`).
    pub connect_delay: Duration,
    /// Wait between outgoing connection attempts (ConnectRetryTime).
    pub connect_retry: Duration,
    /// Idle hold after an error: starts at the first value, doubles on each
    /// further error, never beyond the second (BIRD's `error wait time`).
    pub error_wait: (Duration, Duration),
    /// Hold timer in OpenSent (RFC 4271 §8.2.2 suggests 4 minutes).
    pub open_hold: Duration,
    /// RFC 9687 send hold timer: drop a peer that stops reading.
    pub send_hold: bool,
    /// Families announced with the multiprotocol capability.
    pub families: Vec<Family>,
    pub route_refresh: bool,
    pub extended_message: bool,
    /// Graceful restart (RFC 4724): restart time announced, `None` = off.
    pub graceful_restart: Option<u16>,
    /// We have restarted (the R bit, RFC 4724 §3): peers need not wait
    /// for our End-of-RIB before sending theirs.
    pub restarting: bool,
    /// Our forwarding state survives a restart or a session reset (each
    /// family's F bit): peers keep our routes while we come back.
    pub forwarding_preserved: bool,
    /// ADD-PATH both ways for every announced family (Calico's `add paths on`).
    pub add_path: bool,
}

impl PeerConfig {
    /// A peer with Calico's BIRD defaults: hold 240 s, keepalive 80 s,
    /// connect delay 2 s, connect retry 5 s, error wait 5–30 s, IPv4 and IPv6
    /// unicast, route refresh, graceful restart (120 s) and ADD-PATH.
    pub fn new(local_as: Asn, peer_as: Asn, router_id: RouterId) -> PeerConfig {
        PeerConfig {
            local_as,
            peer_as,
            router_id,
            hold_time: 240,
            keepalive: None,
            passive: false,
            connect_delay: Duration::from_secs(2),
            connect_retry: Duration::from_secs(5),
            error_wait: (Duration::from_secs(5), Duration::from_secs(30)),
            open_hold: Duration::from_secs(240),
            send_hold: true,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            route_refresh: true,
            extended_message: true,
            graceful_restart: Some(120),
            restarting: false,
            forwarding_preserved: false,
            add_path: true,
        }
    }

    /// Internal peer (same AS).
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.peer_as
    }
}
