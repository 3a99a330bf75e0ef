//! `bgp-fsm`: the per-peer BGP-4 finite state machine (RFC 4271 §8), sans-IO.
//!
//! The FSM owns no socket and no clock. The daemon feeds it [`Event`]s —
//! start and stop, TCP connection outcomes, decoded messages, timer
//! expiries — and carries out the [`Action`]s it returns: connect, send,
//! close, (re)start or stop a timer, report a state change, hand an UPDATE
//! to the RIB. Timers are data: an action names the timer and its
//! duration; the daemon keeps the deadline and sends the expiry back.
//!
//! Covered: the six states; ConnectRetry with backoff and jitter (RFC 4271
//! §10), a refused attempt made again after the connect delay as BIRD does; hold time negotiation (0, or at least 3 s; 1–2 refused with 2/6) and
//! keepalive at a third of it; OPEN checks (peer AS 2/2, BGP Identifier 2/3,
//! no common family 2/7) and capability negotiation into the [`Negotiated`]
//! session parameters and the decode/encode contexts of `bgp-wire`;
//! connection collision detection (RFC 4271 §6.8, RFC 6286 §2.3); passive
//! peers; idle hold after errors, doubling up to a maximum and forgotten
//! after a stable session; the send hold timer (RFC 9687); FSM errors per
//! state (RFC 6608 subcodes); a new connection from a graceful restart peer
//! replacing its old session (RFC 4724 §4).
//!
//! Only complete messages reach the FSM (the daemon frames with
//! `bgp_wire::split_message`), so a peer that dribbles bytes never resets
//! the hold timer.

#![forbid(unsafe_code)]

mod config;
mod event;
mod negotiate;
mod peer;

pub use config::PeerConfig;
pub use event::{Action, ConnId, Direction, Event, SessionError, Timer};
pub use negotiate::{local_open, negotiate, Negotiated};
pub use peer::{Peer, State, ERROR_FORGET};
