//! Our OPEN, the checks of the peer's OPEN (RFC 4271 §6.2, RFC 6286,
//! RFC 6793, RFC 5492) and what the two together negotiate.

use std::net::Ipv4Addr;

use bgp_wire::capability::{AddPathFamily, AddPathMode, GrFamily, GracefulRestart};
use bgp_wire::{Asn, Capability, Family, NotifyError, NotifyKind, Open, OpenSubcode, RouterId, SessionCtx};

use crate::config::PeerConfig;

/// What both OPEN messages together decided for one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_as: Asn,
    pub peer_id: RouterId,
    /// Negotiated hold time in seconds; 0 disables hold and keepalive timers.
    pub hold_time: u16,
    /// Seconds between our KEEPALIVEs; 0 with a hold time of 0.
    pub keepalive: u16,
    pub four_octet_as: bool,
    /// Families both announced (IPv4 unicast when neither sent MP capabilities).
    pub families: Vec<Family>,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    /// The peer may send us messages up to 65535 bytes (we announced it).
    pub extended_message_rx: bool,
    /// We may send messages up to 65535 bytes (both announced it).
    pub extended_message_tx: bool,
    /// The peer's graceful restart capability, if both announced one.
    pub graceful_restart: Option<GracefulRestart>,
    /// Families whose NLRI carry path identifiers from the peer to us.
    pub add_path_rx: Vec<Family>,
    /// Families whose NLRI carry path identifiers from us to the peer.
    pub add_path_tx: Vec<Family>,
    /// The peer's OPEN as received.
    pub peer_open: Open,
    /// The OPEN we sent.
    pub local_open: Open,
}

impl Negotiated {
    /// The context to decode what the peer sends.
    pub fn rx_ctx(&self) -> SessionCtx {
        SessionCtx {
            four_octet_as: self.four_octet_as,
            add_path: self.add_path_rx.clone(),
            extended_message: self.extended_message_rx,
        }
    }

    /// The context to encode what we send.
    pub fn tx_ctx(&self) -> SessionCtx {
        SessionCtx {
            four_octet_as: self.four_octet_as,
            add_path: self.add_path_tx.clone(),
            extended_message: self.extended_message_tx,
        }
    }

    /// Whether the peer is internal.
    pub fn is_ibgp(&self) -> bool {
        self.local_open.asn() == self.peer_as
    }
}

/// The OPEN we send to a peer configured by `cfg`.
pub fn local_open(cfg: &PeerConfig) -> Open {
    let mut caps: Vec<Capability> = cfg
        .families
        .iter()
        .map(|&family| Capability::Multiprotocol { family })
        .collect();
    if cfg.route_refresh {
        caps.push(Capability::RouteRefresh);
        caps.push(Capability::EnhancedRouteRefresh);
    }
    if cfg.extended_message {
        caps.push(Capability::ExtendedMessage);
    }
    if let Some(restart_time) = cfg.graceful_restart {
        let fwd = if cfg.forwarding_preserved { 0x80 } else { 0 };
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: if cfg.restarting { 0x8 } else { 0 },
            restart_time: restart_time.min(0x0fff),
            families: cfg
                .families
                .iter()
                .map(|&family| GrFamily { family, flags: fwd })
                .collect(),
        }));
    }
    caps.push(Capability::FourOctetAs { asn: cfg.local_as });
    if cfg.add_path {
        caps.push(Capability::AddPath {
            families: cfg
                .families
                .iter()
                .map(|&family| AddPathFamily {
                    family,
                    mode: AddPathMode::Both,
                })
                .collect(),
        });
    }
    Open::new(cfg.local_as, cfg.hold_time, cfg.router_id, caps)
}

fn families_of(o: &Open) -> Vec<Family> {
    let v: Vec<Family> = o
        .capabilities()
        .filter_map(|c| match c {
            Capability::Multiprotocol { family } => Some(*family),
            _ => None,
        })
        .collect();
    // RFC 4760 §8: without the capability a speaker supports IPv4 unicast only.
    if v.is_empty() {
        vec![Family::IPV4_UNICAST]
    } else {
        v
    }
}

fn has(o: &Open, f: impl Fn(&Capability) -> bool) -> bool {
    o.capabilities().any(f)
}

fn add_path_modes(o: &Open) -> Vec<AddPathFamily> {
    o.capabilities()
        .filter_map(|c| match c {
            Capability::AddPath { families } => Some(families.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Capabilities whose malformed value ends the session.
const STRICT_CAPABILITIES: [u8; 6] = [
    bgp_wire::capability::CAP_MULTIPROTOCOL,
    bgp_wire::capability::CAP_ROUTE_REFRESH,
    bgp_wire::capability::CAP_EXTENDED_MESSAGE,
    bgp_wire::capability::CAP_FOUR_OCTET_AS,
    bgp_wire::capability::CAP_ADD_PATH,
    bgp_wire::capability::CAP_ENHANCED_ROUTE_REFRESH,
];

/// Checks the peer's OPEN against our configuration and the OPEN we sent.
/// `Err` is the NOTIFICATION to send.
pub fn negotiate(cfg: &PeerConfig, ours: &Open, theirs: &Open) -> Result<Negotiated, NotifyError> {
    // A capability we act on whose value does not parse (a 4-octet AS of
    // 2 bytes, a multiprotocol of 3): what the peer meant is unknown, so
    // the session cannot start (BIRD and FRR send the same 2/0). Graceful
    // restart, long-lived GR, FQDN and extended next hop are only ignored
    // (RFC 4724 §3; we act on none of the others).
    if let Some(c) = theirs
        .capabilities()
        .find(|c| matches!(c, Capability::Malformed { code, .. } if STRICT_CAPABILITIES.contains(code)))
    {
        let mut data = bytes::BytesMut::new();
        let _ = c.encode(&mut data);
        return Err(NotifyError::new(
            NotifyKind::Open(OpenSubcode::Unspecific),
            data.to_vec(),
        ));
    }
    // RFC 4271 §6.2 Bad Peer AS: data is the 2-octet My AS field. RFC 6793:
    // the real AS comes from the capability; RFC 7607: AS 0 is never valid.
    let peer_as = theirs.asn();
    if peer_as != cfg.peer_as || peer_as.0 == 0 {
        return Err(NotifyError::new(
            NotifyKind::Open(OpenSubcode::BadPeerAs),
            theirs.my_as.to_be_bytes(),
        ));
    }
    // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds."
    if theirs.hold_time == 1 || theirs.hold_time == 2 {
        return Err(NotifyError::new(
            NotifyKind::Open(OpenSubcode::UnacceptableHoldTime),
            theirs.hold_time.to_be_bytes(),
        ));
    }
    // RFC 6286 §2.2: zero is invalid; an internal peer may not share our identifier.
    if theirs.router_id.0 == Ipv4Addr::UNSPECIFIED || (cfg.is_ibgp() && theirs.router_id == cfg.router_id) {
        return Err(NotifyError::new(
            NotifyKind::Open(OpenSubcode::BadBgpIdentifier),
            theirs.router_id.0.octets(),
        ));
    }
    let our_families = families_of(ours);
    let families: Vec<Family> = families_of(theirs)
        .into_iter()
        .filter(|f| our_families.contains(f))
        .collect();
    if families.is_empty() {
        // RFC 5492 §5: nothing in common to carry; data = the capabilities we need.
        let mut data = bytes::BytesMut::new();
        for f in &our_families {
            let _ = Capability::Multiprotocol { family: *f }.encode(&mut data);
        }
        return Err(NotifyError::new(
            NotifyKind::Open(OpenSubcode::UnsupportedCapability),
            data.to_vec(),
        ));
    }
    let hold_time = ours.hold_time.min(theirs.hold_time);
    let keepalive = if hold_time == 0 {
        0
    } else {
        cfg.keepalive.unwrap_or(hold_time / 3).clamp(1, hold_time / 3)
    };
    let four = |o: &Open| has(o, |c| matches!(c, Capability::FourOctetAs { .. }));
    let rr = |o: &Open| has(o, |c| matches!(c, Capability::RouteRefresh));
    let err = |o: &Open| has(o, |c| matches!(c, Capability::EnhancedRouteRefresh));
    let ext = |o: &Open| has(o, |c| matches!(c, Capability::ExtendedMessage));
    // RFC 4724 §3: of several graceful restart capabilities, the last counts.
    let gr = |o: &Open| {
        o.capabilities()
            .filter_map(|c| match c {
                Capability::GracefulRestart(g) => Some(g.clone()),
                _ => None,
            })
            .last()
    };
    let (mine, peer) = (add_path_modes(ours), add_path_modes(theirs));
    let ap = |rx: bool| -> Vec<Family> {
        families
            .iter()
            .copied()
            .filter(|f| {
                let m = mine.iter().find(|m| m.family == *f).map(|m| m.mode);
                let p = peer.iter().find(|m| m.family == *f).map(|m| m.mode);
                match (m, p) {
                    (Some(m), Some(p)) if rx => m.can_receive() && p.can_send(),
                    (Some(m), Some(p)) => m.can_send() && p.can_receive(),
                    _ => false,
                }
            })
            .collect()
    };
    Ok(Negotiated {
        peer_as,
        peer_id: theirs.router_id,
        hold_time,
        keepalive,
        four_octet_as: four(ours) && four(theirs),
        route_refresh: rr(ours) && rr(theirs),
        enhanced_route_refresh: err(ours) && err(theirs),
        extended_message_rx: ext(ours),
        extended_message_tx: ext(ours) && ext(theirs),
        graceful_restart: gr(ours).and(gr(theirs)),
        add_path_rx: ap(true),
        add_path_tx: ap(false),
        families,
        peer_open: theirs.clone(),
        local_open: ours.clone(),
    })
}

#[cfg(test)]
mod gr_tests {
    use super::*;
    use bgp_wire::{Asn, RouterId};

    fn gr(cfg: &PeerConfig) -> GracefulRestart {
        local_open(cfg)
            .capabilities()
            .find_map(|c| match c {
                Capability::GracefulRestart(g) => Some(g.clone()),
                _ => None,
            })
            .expect("graceful restart announced")
    }

    #[test]
    fn restart_and_forwarding_bits_are_separate() {
        let mut cfg = PeerConfig::new(Asn(64512), Asn(64512), RouterId("10.0.0.1".parse().unwrap()));
        let g = gr(&cfg);
        assert_eq!((g.flags, g.families[0].flags), (0, 0));
        // A node whose routes stay in the kernel: F on every reconnect, so
        // a strict peer keeps our routes through a session reset.
        cfg.forwarding_preserved = true;
        let g = gr(&cfg);
        assert_eq!(
            (g.restart_state(), g.families.iter().all(|f| f.flags == 0x80)),
            (false, true)
        );
        cfg.restarting = true;
        assert!(gr(&cfg).restart_state());
    }
}

#[cfg(test)]
mod malformed_capability_tests {
    use super::*;
    use bgp_wire::{Asn, RouterId};
    use bytes::Bytes;

    fn theirs(cap: Capability) -> Open {
        Open::new(
            Asn(65001),
            90,
            RouterId("10.0.0.2".parse().unwrap()),
            vec![
                Capability::Multiprotocol {
                    family: Family::IPV4_UNICAST,
                },
                cap,
            ],
        )
    }

    #[test]
    fn a_malformed_capability_we_act_on_ends_the_session_others_are_ignored() {
        let cfg = PeerConfig::new(Asn(64512), Asn(65001), RouterId("10.0.0.1".parse().unwrap()));
        let ours = local_open(&cfg);
        let bad = |code, v: &'static [u8]| Capability::Malformed {
            code,
            value: Bytes::from_static(v),
        };
        for code in STRICT_CAPABILITIES {
            let e = negotiate(&cfg, &ours, &theirs(bad(code, &[1, 2, 3]))).unwrap_err();
            assert_eq!((e.code, e.subcode), (2, 0), "capability {code}");
            assert_eq!(e.data[..2], [code, 3]);
        }
        // Graceful restart of a bad length: ignored (RFC 4724 §3).
        let n = negotiate(&cfg, &ours, &theirs(bad(64, &[1, 2, 3]))).unwrap();
        assert!(n.graceful_restart.is_none());
    }
}
