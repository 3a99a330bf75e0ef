//! The BGP listeners: accept connections and hand each to the task of the
//! peer whose address it comes from. Connections from anyone else are
//! closed at once and logged.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tracing::{info, warn};

use super::PeerHandle;
use crate::config::Config;

/// Binds every configured listen address. Fails when none can be bound.
pub fn bind(cfg: &Config) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    let mut last_err = None;
    for addr in &cfg.listen {
        match bind_one(cfg, *addr) {
            Ok(l) => {
                info!("listening for BGP on {addr}");
                out.push(l);
            }
            Err(e) => {
                warn!("cannot listen on {addr}: {e}");
                last_err = Some(e);
            }
        }
    }
    match (out.is_empty(), last_err) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}

fn bind_one(cfg: &Config, addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    // MD5 keys are per peer address, set on the listening socket (RFC 2385).
    for p in &cfg.peers {
        if let Some(key) = &p.password {
            let peer = match (addr, p.address) {
                (SocketAddr::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
                (SocketAddr::V4(_), IpAddr::V6(_)) => continue,
                (_, a) => a,
            };
            super::sockopt::set_md5(&sock, peer, key)?;
        }
    }
    // GTSM (RFC 5082): when every peer reached through this listener uses
    // TTL security, the listener itself drops low-TTL packets, so nothing
    // slips in before the accepted socket gets its own minimum. (With mixed
    // peers the minimum is set on each accepted socket right after accept.)
    let same_family: Vec<_> = cfg
        .peers
        .iter()
        .filter(|p| p.address.is_ipv4() == addr.is_ipv4() || addr.ip().is_unspecified())
        .collect();
    if !same_family.is_empty() && same_family.iter().all(|p| p.ttl_security.is_some()) {
        let hops = same_family.iter().filter_map(|p| p.ttl_security).max().unwrap_or(1);
        super::sockopt::set_gtsm(&sock, addr.is_ipv4(), hops);
    }
    sock.bind(addr)?;
    sock.listen(128)
}

/// Accepts on `listener` forever.
pub async fn serve(listener: TcpListener, peers: Arc<std::sync::RwLock<Vec<PeerHandle>>>) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = from.ip().to_canonical();
        // A link-local address is only unique with its interface.
        let scope = match from {
            SocketAddr::V6(a) => a.scope_id(),
            SocketAddr::V4(_) => 0,
        };
        let peer = peers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.address == ip && p.scope.is_none_or(|s| scope == 0 || s == scope))
            .cloned();
        match peer {
            Some(p) => {
                p.tx.accept(stream);
            }
            None => {
                warn!("refused connection from {from}: not a configured peer");
                drop(stream);
            }
        }
    }
}
