//! Watching a namespace's routing table through netlink notifications:
//! how many routes of a protocol were added and removed, and when, as the
//! kernel saw it (the kernel benchmark's clock stops here, not at a poll).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use crate::netns::Netns;
use bgp_wire::Prefix;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};

/// A route message's destination prefix.
fn destination(r: &RouteMessage) -> Option<Prefix> {
    r.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(x)) => {
            Prefix::new(std::net::IpAddr::V4(*x), r.header.destination_prefix_length)
        }
        RouteAttribute::Destination(RouteAddress::Inet6(x)) => {
            Prefix::new(std::net::IpAddr::V6(*x), r.header.destination_prefix_length)
        }
        _ => None,
    })
}

const RTNLGRP_IPV4_ROUTE: u32 = 7;

/// Counts of one protocol's routes added and removed in a namespace.
#[derive(Default)]
pub struct Watch {
    pub added: AtomicUsize,
    pub removed: AtomicUsize,
    /// When `added` reached `target_added`.
    pub added_at: Mutex<Option<Instant>>,
    pub target_added: AtomicUsize,
    /// When the last removal was seen.
    pub removed_at: Mutex<Option<Instant>>,
    /// Notifications lost (the socket overran).
    pub overruns: AtomicUsize,
    /// One prefix watched for ([`Watch::expect`]), and when it came.
    expected: Mutex<Option<(Prefix, Option<Instant>)>>,
}

impl Watch {
    /// Watches for `prefix` to be added (a route of it, announced anew:
    /// a daemon that replaces its routes on a scan announces them again,
    /// so counting any route would stop the clock early).
    pub fn expect(&self, prefix: Prefix) {
        *self.expected.lock().unwrap() = Some((prefix, None));
    }

    /// When the expected prefix was added, if it was.
    pub fn expected_at(&self) -> Option<Instant> {
        self.expected.lock().unwrap().and_then(|(_, at)| at)
    }

    pub fn reset(&self, target: usize) {
        self.added.store(0, Ordering::SeqCst);
        self.removed.store(0, Ordering::SeqCst);
        self.target_added.store(target, Ordering::SeqCst);
        *self.added_at.lock().unwrap() = None;
        *self.removed_at.lock().unwrap() = None;
    }
}

/// Watches IPv4 routes of `protocol` in `ns` on a thread of its own, for
/// as long as the process runs.
pub fn watch(ns: &Netns, protocol: u8) -> Arc<Watch> {
    let w = Arc::new(Watch::default());
    let shared = w.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let _ = ns.spawn(move || {
        let mut sock = Socket::new(NETLINK_ROUTE).expect("netlink socket");
        sock.bind_auto().expect("bind");
        // A full table's notifications at once: as much buffer as root may set.
        let size: libc::c_int = 512 << 20;
        // SAFETY: setsockopt on our own socket with a valid int.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&sock),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        sock.add_membership(RTNLGRP_IPV4_ROUTE).expect("membership");
        let _ = ready_tx.send(());
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match sock.recv(&mut &mut buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    shared.overruns.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                Err(_) => return,
            };
            let now = Instant::now();
            let mut data = &buf[..n];
            while data.len() >= 16 {
                let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
                if len < 16 || len > data.len() {
                    break;
                }
                if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[..len]) {
                    match m.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r))
                            if u8::from(r.header.protocol) == protocol =>
                        {
                            if let Some((want, at @ None)) = &mut *shared.expected.lock().unwrap() {
                                if destination(&r) == Some(*want) {
                                    *at = Some(now);
                                }
                            }
                            let a = shared.added.fetch_add(1, Ordering::SeqCst) + 1;
                            if a == shared.target_added.load(Ordering::SeqCst) {
                                *shared.added_at.lock().unwrap() = Some(now);
                            }
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r))
                            if u8::from(r.header.protocol) == protocol =>
                        {
                            shared.removed.fetch_add(1, Ordering::SeqCst);
                            *shared.removed_at.lock().unwrap() = Some(now);
                        }
                        _ => {}
                    }
                }
                data = &data[((len + 3) & !3).min(data.len())..];
            }
        }
    });
    let _ = ready_rx.recv();
    w
}
