//! The peers: one task per configured peer ([`task`]) drives its
//! `bgp_fsm::Peer`; [`conn`] reads and writes each TCP connection;
//! [`listener`] accepts connections and hands each to its peer;
//! [`sockopt`] sets what std and tokio cannot (MD5, GTSM).
//!
//! This file is what the rest of the daemon sees of a peer: its handle,
//! the status it publishes for the control socket, and the commands it
//! takes.

pub mod conn;
pub mod last_error;
pub mod listener;
pub mod malformed;
pub mod sockopt;
pub mod task;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bgp_fsm::{Negotiated, State};
use bgp_wire::Asn;
use tokio::sync::oneshot;

use crate::mailbox;

/// A snapshot of one peer.
#[derive(Clone, Debug)]
pub struct PeerStatus {
    pub name: String,
    pub address: IpAddr,
    pub port: u16,
    pub peer_as: Asn,
    pub local_as: Asn,
    pub description: Option<String>,
    pub passive: bool,
    /// Administratively enabled.
    pub enabled: bool,
    /// The message given with the last `disable`.
    pub disable_message: Option<String>,
    pub state: State,
    /// When the protocol state (up / start / down) last changed.
    pub since: SystemTime,
    /// Why the last session or attempt ended, in words.
    pub last_error: Option<last_error::LastError>,
    pub negotiated: Option<Box<Negotiated>>,
    /// Our address on the Established connection.
    pub source: Option<SocketAddr>,
    pub hold_deadline: Option<Instant>,
    pub keepalive_deadline: Option<Instant>,
    pub connect_deadline: Option<Instant>,
    pub updates_received: u64,
    pub prefixes_received: u64,
}

impl PeerStatus {
    /// BIRD's protocol state: `up` with a session, `down` when disabled, else `start`.
    pub fn proto_state(&self) -> &'static str {
        if !self.enabled {
            "down"
        } else if self.state == State::Established {
            "up"
        } else {
            "start"
        }
    }

    /// BIRD's name of the BGP state: `Passive` for a passive peer waiting.
    pub fn bgp_state(&self) -> &'static str {
        match self.state {
            _ if !self.enabled => "Down",
            State::Active if self.passive => "Passive",
            s => s.as_str(),
        }
    }
}

/// Operator commands a peer task carries out.
#[derive(Debug)]
pub enum Command {
    Enable,
    /// With an optional shutdown communication (RFC 9003).
    Disable(Option<String>),
    Restart,
    /// Daemon shutdown: graceful-restart peers are left without a Cease.
    Shutdown,
    /// Daemon shutdown by the operator (`down`, `ternc shutdown`): every
    /// peer gets Cease / Administrative Shutdown.
    Decommission,
    /// A reload removed the peer (Cease / Peer De-configured) or changed
    /// what its session depends on (Cease / Other Configuration Change):
    /// the task ends; a changed peer gets a new one.
    Deconfigure {
        subcode: bgp_wire::CeaseSubcode,
    },
    /// A reload changed settings the session does not depend on; they
    /// apply from now on.
    Update(Box<crate::config::PeerSettings>),
    /// The engine holds more of the peer's routes than `max_prefixes`.
    PrefixLimit(rib::LimitEvent),
}

/// What a command did, in BIRD's words.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandResult {
    Done,
    AlreadyDone,
}

/// A peer as the rest of the daemon sees it.
#[derive(Clone)]
pub struct PeerHandle {
    pub id: rib::PeerId,
    pub name: String,
    pub address: IpAddr,
    /// The interface index of a link-local peer, when it exists.
    pub scope: Option<u32>,
    pub status: Arc<Mutex<PeerStatus>>,
    pub tx: PeerTx,
}

/// Everything that reaches a peer task, on its one channel (one queue per
/// peer, not one each for commands, accepted connections and connection
/// events: see [`mailbox`] for what a queue costs).
pub enum Input {
    Command(Command, oneshot::Sender<CommandResult>),
    Accepted(tokio::net::TcpStream),
    Conn(bgp_fsm::ConnId, conn::ConnEvent),
}

/// A sender to a peer task; each method says whether the task took it.
#[derive(Clone)]
pub struct PeerTx(mailbox::Sender<Input>);

impl PeerTx {
    pub fn command(&self, c: Command, reply: oneshot::Sender<CommandResult>) -> bool {
        self.0.send(Input::Command(c, reply)).is_ok()
    }

    pub fn accept(&self, s: tokio::net::TcpStream) -> bool {
        self.0.send(Input::Accepted(s)).is_ok()
    }

    pub fn conn(&self, id: bgp_fsm::ConnId, ev: conn::ConnEvent) -> bool {
        self.0.send(Input::Conn(id, ev)).is_ok()
    }
}

/// A peer task's channel.
pub fn channel() -> (PeerTx, mailbox::Receiver<Input>) {
    let (tx, rx) = mailbox::channel();
    (PeerTx(tx), rx)
}

impl PeerHandle {
    pub fn snapshot(&self) -> PeerStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Sends a command and waits for its result.
    pub async fn command(&self, c: Command) -> Option<CommandResult> {
        let (tx, rx) = oneshot::channel();
        if !self.tx.command(c, tx) {
            return None;
        }
        rx.await.ok()
    }
}
