//! Socket options BGP needs that std and tokio do not offer: TCP MD5
//! signatures (RFC 2385, Linux TCP_MD5SIG), GTSM (RFC 5082, IP_MINTTL /
//! IPV6_MINHOPCOUNT), and a bound on what the kernel holds unsent
//! (TCP_NOTSENT_LOWAT).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use tokio::net::{TcpSocket, TcpStream};

use crate::config::PeerSettings;

const TCP_MD5SIG: libc::c_int = 14;
const TCP_MD5SIG_MAXKEYLEN: usize = 80;
const IP_MINTTL: libc::c_int = 21;
const IPV6_MINHOPCOUNT: libc::c_int = 73;

/// `struct tcp_md5sig` of linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: u32,
    key: [u8; TCP_MD5SIG_MAXKEYLEN],
}

fn setsockopt<T>(fd: i32, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live value of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets (or with an empty key, removes) the MD5 key used with `peer` on a
/// socket, listening or connecting.
pub fn set_md5(fd: &impl AsRawFd, peer: IpAddr, key: &str) -> io::Result<()> {
    let key = key.as_bytes();
    if key.len() > TCP_MD5SIG_MAXKEYLEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "MD5 key longer than 80 bytes",
        ));
    }
    // SAFETY: all-zero is a valid `sockaddr_storage` and `TcpMd5Sig`.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    match peer {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut sig.addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
        }
        IpAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut sig.addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
        }
    }
    sig.keylen = key.len() as u16;
    sig.key[..key.len()].copy_from_slice(key);
    setsockopt(fd.as_raw_fd(), libc::IPPROTO_TCP, TCP_MD5SIG, &sig)
}

/// GTSM (RFC 5082): send with TTL 255 and accept only 256 − `hops` or more.
pub fn set_gtsm(fd: &impl AsRawFd, v4: bool, hops: u8) {
    let min: libc::c_int = 256 - libc::c_int::from(hops.max(1));
    let ttl: libc::c_int = 255;
    let fd = fd.as_raw_fd();
    let r = if v4 {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl)
            .and_then(|_| setsockopt(fd, libc::IPPROTO_IP, IP_MINTTL, &min))
    } else {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl)
            .and_then(|_| setsockopt(fd, libc::IPPROTO_IPV6, IPV6_MINHOPCOUNT, &min))
    };
    if let Err(e) = r {
        tracing::warn!("cannot set TTL security: {e}");
    }
}

/// Bytes not yet sent that the kernel holds for a BGP connection, at
/// most: beyond it the socket is not writable, so a peer that reads slowly
/// leaves the rest in the engine, which sends the latest state of each
/// prefix when the peer catches up, not a queue of superseded UPDATEs.
const NOTSENT_LOWAT: libc::c_int = 128 * 1024;

/// Limits what the kernel queues unsent on a connection (Linux
/// TCP_NOTSENT_LOWAT); see [`NOTSENT_LOWAT`].
pub fn set_notsent_lowat(fd: &impl AsRawFd) {
    if let Err(e) = setsockopt(
        fd.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_NOTSENT_LOWAT,
        &NOTSENT_LOWAT,
    ) {
        tracing::warn!("cannot limit unsent bytes: {e}");
    }
}

/// Opens an outgoing BGP connection to a peer, with its source address,
/// MD5 key and TTL security.
pub async fn connect(p: &PeerSettings) -> io::Result<TcpStream> {
    let sock = if p.address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(key) = &p.password {
        set_md5(&sock, p.address, key)?;
    }
    if let Some(h) = p.ttl_security {
        set_gtsm(&sock, p.address.is_ipv4(), h);
    }
    let scope = match &p.interface {
        Some(i) => if_index(i).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("No interface {i}")))?,
        None => 0,
    };
    if let Some(local) = p.local_address {
        sock.bind(scoped(local, 0, scope))?;
    }
    sock.connect(scoped(p.address, p.port, scope)).await
}

/// A socket address; an IPv6 link-local one carries its interface.
fn scoped(a: IpAddr, port: u16, scope: u32) -> SocketAddr {
    match a {
        IpAddr::V6(v6) if rib::fib::is_link_local(&a) => {
            SocketAddr::V6(std::net::SocketAddrV6::new(v6, port, 0, scope))
        }
        _ => SocketAddr::new(a, port),
    }
}

/// The index of interface `name`, if there is one.
pub fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated string; the call only reads it.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// An I/O error as BIRD words it: the system's text without "(os error N)".
pub fn describe_io(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
