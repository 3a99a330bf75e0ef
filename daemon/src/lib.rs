//! tern's daemon crate: `ternd` (sessions, control socket) and `ternc`.
//!
//! Layout: [`config`] reads and checks the TOML file; [`session`] runs one
//! task per peer around the sans-IO `bgp_fsm::Peer` and does the socket
//! work it asks for; [`server`] accepts BGP connections and hands them to
//! their peer; [`ctl`] answers BIRD's control protocol on a Unix socket;
//! [`run`] starts and stops it all; [`decode`] is `ternc decode`.

pub mod client;
pub mod config;
pub mod ctl;
pub mod decode;
pub mod lab;
pub mod routes;
pub mod run;
pub mod server;
pub mod session;
pub mod sockopt;
pub mod status;
