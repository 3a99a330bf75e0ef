//! What goes into the state machine and what comes out of it.
//!
//! The RFC 4271 §8.1 event numbers are noted beside the events they
//! correspond to. Optional events the FSM does not use (DelayOpen,
//! automatic stop, the TCP events of the passive opener before accept) have
//! no variant.

use std::time::Duration;

use bgp_wire::{DecodeError, Message, Notification};

use crate::negotiate::Negotiated;

/// Who opened a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// We connected to the peer.
    Outgoing,
    /// The peer connected to us.
    Incoming,
}

/// One TCP connection of a peer. Outgoing ids are handed out by the FSM
/// (in [`Action::Connect`]); incoming ids by the daemon that accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub dir: Direction,
    pub seq: u64,
}

impl ConnId {
    pub fn incoming(seq: u64) -> ConnId {
        ConnId {
            dir: Direction::Incoming,
            seq,
        }
    }
}

/// The timers of a peer (RFC 4271 §8) and of its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// ConnectRetryTimer: time to (re)try an outgoing connection.
    ConnectRetry,
    /// IdleHoldTimer: wait after an error before starting again (§8.1.1 DampPeerOscillations).
    IdleHold,
    /// After this long Established, earlier errors are forgotten and the
    /// idle hold goes back to its minimum.
    ErrorForget,
    /// HoldTimer of one connection.
    Hold(ConnId),
    /// KeepaliveTimer of one connection.
    Keepalive(ConnId),
    /// SendHoldTimer of one connection (RFC 9687).
    SendHold(ConnId),
}

/// An input to the FSM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// ManualStart (1), or ManualStart_with_PassiveTcpEstablishment (4) for a passive peer.
    Start,
    /// ManualStop (2). `notification` is sent on every open connection
    /// before it closes; `None` closes without one (graceful restart).
    Stop { notification: Option<Notification> },
    /// ConnectRetryTimer_Expires (9), HoldTimer_Expires (10),
    /// KeepaliveTimer_Expires (11), IdleHoldTimer_Expires (13), and the
    /// send hold and error forget timers.
    TimerExpired(Timer),
    /// Tcp_CR_Acked (16): our outgoing connection is up.
    Connected(ConnId),
    /// TcpConnectionConfirmed (17): the daemon accepted a connection from
    /// this peer's address.
    Accepted(ConnId),
    /// TcpConnectionFails (18): the connection failed or was closed by the peer.
    ConnectionFailed(ConnId),
    /// A complete message arrived: BGPOpen (19), NotifMsg (25),
    /// KeepAliveMsg (26), UpdateMsg (27), ROUTE-REFRESH.
    Received(ConnId, Message),
    /// A message did not decode: BGPHeaderErr (21), BGPOpenMsgErr (22),
    /// UpdateMsgErr (28).
    Malformed(ConnId, DecodeError),
    /// Everything queued on the connection was written: the peer is reading
    /// (RFC 9687 restarts the send hold timer).
    SendProgress(ConnId),
}

/// Why a session left Established, or why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// We sent this NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The connection closed or failed without a NOTIFICATION.
    ConnectionClosed,
    /// Stopped by the operator.
    Stopped,
}

/// An output of the FSM: what the I/O side must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open an outgoing TCP connection; answer with `Connected` or `ConnectionFailed`.
    Connect(ConnId),
    /// Send a message on a connection.
    Send(ConnId, Message),
    /// Close a connection once what was queued on it is sent.
    Close(ConnId),
    /// (Re)start a timer to fire after the duration.
    StartTimer(Timer, Duration),
    StopTimer(Timer),
    /// The peer's state changed.
    StateChanged {
        from: crate::State,
        to: crate::State,
    },
    /// The session is up with these parameters; from now on messages are
    /// decoded and encoded with its contexts.
    Established(Box<Negotiated>),
    /// The Established session ended.
    Down(SessionError),
    /// An UPDATE or ROUTE-REFRESH from the Established session, for the RIB.
    Deliver(Message),
}
