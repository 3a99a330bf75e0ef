//! tern's daemon crate: `ternd` (sessions, routing, control socket) and
//! its client `ternc`.
//!
//! Tasks and channels (every arrow a tokio channel; `[n]` one per peer):
//!
//! ```text
//!                      listener ──TcpStream──▶ peer task[n] ◀──commands── control socket
//!                                               │    ▲                        │  ▲
//!   TCP ◀── writer[n] ◀── WriterMsg::Data ──────┘    │ ConnEvent              │  │ routes, counts,
//!    │         ▲                                     │                        │  │ memory (oneshot)
//!    │         │ WriterMsg::Updates         reader[n]┘ ◀── TCP                ▼  │
//!    │         │                            (a permit per UPDATE)        rde (thread):
//!    │         └──────────────────────────────────────────────────────── rib::Engine
//!    └── RdeMsg::Written ────────────────────────────────────────────────▶  ▲
//!                    peer task[n] ── RdeMsg::{Up, Down, Update, Refresh} ───┘
//! ```
//!
//! - A peer task ([`peer::task`]) owns the sans-IO `bgp_fsm::Peer`: it
//!   turns socket and timer happenings into FSM events and carries out the
//!   FSM's actions. Its connections ([`peer::conn`]) have a reader that
//!   frames messages and a writer that writes what the peer task and the
//!   engine queue.
//! - The engine's thread ([`rde`]) applies what sessions receive to
//!   `rib::Engine` and hands each writer the UPDATEs it produces. Output
//!   is bounded: the writer reports what it wrote, and the engine produces
//!   for a peer only while little is unwritten.
//! - [`control`] answers BIRD's control protocol; [`config`] is the
//!   configuration model, its file, its defaults and its differences;
//!   [`supervisor`] starts and stops it all.

pub mod calico;
pub mod config;
pub mod control;
pub mod kernel;
pub mod mailbox;
pub mod metrics;
pub mod peer;
pub mod rde;
pub mod reload;
pub mod supervisor;
