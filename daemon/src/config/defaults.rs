//! Every default of the configuration, in one place. They are Calico's
//! BIRD settings (`bird.cfg.template`'s `bgp_template` and BIRD 1.6's own
//! defaults), so a tern node behaves like the BIRD node it replaces.

use std::time::Duration;

/// The AS of a node that names none (Calico's default).
pub const ASN: u32 = 64512;
/// The BGP port (RFC 4271 §8.2.1).
pub const PORT: u16 = 179;
/// Where the control socket is.
pub const CTL_SOCKET: &str = "/run/tern/tern.ctl";
/// Hold time we propose (BIRD's default).
pub const HOLD_TIME: u16 = 240;
/// Wait between outgoing connection attempts (`connect retry time 5`).
pub const CONNECT_RETRY: Duration = Duration::from_secs(5);
/// Graceful restart time we announce (BIRD's default, RFC 4724 §3).
pub const GRACEFUL_RESTART: u16 = 120;
/// Idle hold after an error, first and longest (`error wait time 5,30`).
pub const ERROR_WAIT: (u64, u64) = (5, 30);
/// ADD-PATH both ways (`add paths on`).
pub const ADD_PATH: bool = true;
/// Longest wait for peers' End-of-RIB after a restart (BIRD waits 240 s).
pub const GRACEFUL_RESTART_WAIT: Duration = Duration::from_secs(60);
/// The main routing table.
pub const KERNEL_TABLE: u32 = 254;
/// `RTPROT_BIRD`: Felix leaves routes of this protocol to BGP.
pub const KERNEL_PROTOCOL: u8 = 12;
