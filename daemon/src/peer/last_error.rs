//! Why a peer's last session or attempt ended, typed; its text is what
//! BIRD 1.6 shows under `show protocols` (`Socket: Connection refused`,
//! `Received: Cease / Administrative Shutdown`, `Error: Hold Timer
//! Expired`), the text Calico's tools and `ternc ready` read.

use std::fmt;

use bgp_fsm::SessionError;
use bgp_wire::Notification;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastError {
    /// The connection failed or closed: the operating system's words.
    Socket(String),
    /// The peer sent this NOTIFICATION.
    Received(Notification),
    /// We sent this NOTIFICATION.
    Sent(Notification),
    /// Stopped by us, without a NOTIFICATION.
    Stopped,
}

impl From<&SessionError> for LastError {
    fn from(e: &SessionError) -> LastError {
        match e {
            SessionError::NotificationSent(n) => LastError::Sent(n.clone()),
            SessionError::NotificationReceived(n) => LastError::Received(n.clone()),
            SessionError::ConnectionClosed => LastError::Socket("Connection closed".into()),
            SessionError::Stopped => LastError::Stopped,
        }
    }
}

/// A NOTIFICATION in words, with its shutdown communication (RFC 9003).
pub fn describe(n: &Notification) -> String {
    match n.shutdown_communication() {
        Some(Ok(text)) if !text.is_empty() => format!("{} ({text:?})", n.description()),
        _ => n.description(),
    }
}

impl fmt::Display for LastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastError::Socket(why) => write!(f, "Socket: {why}"),
            LastError::Received(n) => write!(f, "Received: {}", describe(n)),
            LastError::Sent(n) => write!(f, "Error: {}", describe(n)),
            LastError::Stopped => f.write_str("Stopped"),
        }
    }
}
