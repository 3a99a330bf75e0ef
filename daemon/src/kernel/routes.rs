//! Routes as rtnetlink carries them: the messages that install and remove
//! ours, and what a dumped or announced route is.

use std::net::IpAddr;

use bgp_wire::Prefix;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop, RouteNextHopFlags,
    RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;
use rib::fib::NextHop;

use crate::config::KernelSettings;

/// `RTPROT_KERNEL`: routes the kernel made for its addresses; never learned.
pub const RTPROT_KERNEL: u8 = 2;

fn header(k: &KernelSettings, prefix: &Prefix) -> RouteHeader {
    RouteHeader {
        address_family: if prefix.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        },
        destination_prefix_length: prefix.prefix_len(),
        // Tables past 255 go in RTA_TABLE; the header's field says "see there".
        table: u8::try_from(k.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC),
        protocol: RouteProtocol::from(k.protocol),
        kind: RouteType::Unicast,
        ..RouteHeader::default()
    }
}

fn addr(a: IpAddr) -> RouteAddress {
    RouteAddress::from(a)
}

/// Installs (or replaces) our route to `prefix` through `hops`; a
/// tunnelled hop goes out of `tunnel` (the IPIP device's index) `onlink`.
pub fn install(k: &KernelSettings, prefix: &Prefix, hops: &[NextHop], tunnel: u32) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header = header(k, prefix);
    m.header.scope = RouteScope::Universe;
    m.attributes.push(RouteAttribute::Destination(addr(prefix.addr())));
    m.attributes.push(RouteAttribute::Table(k.table));
    match hops {
        [one] => {
            m.attributes.push(RouteAttribute::Gateway(addr(one.gateway)));
            if one.tunnel {
                m.attributes.push(RouteAttribute::Oif(tunnel));
                m.header.flags = RouteFlags::Onlink;
            } else if let Some(dev) = one.dev {
                m.attributes.push(RouteAttribute::Oif(dev));
            }
        }
        many => {
            let list = many
                .iter()
                .map(|h| {
                    let mut nh = RouteNextHop::default();
                    nh.attributes.push(RouteAttribute::Gateway(addr(h.gateway)));
                    if h.tunnel {
                        nh.interface_index = tunnel;
                        nh.flags = RouteNextHopFlags::Onlink;
                    } else if let Some(dev) = h.dev {
                        nh.interface_index = dev;
                    }
                    nh
                })
                .collect();
            m.attributes.push(RouteAttribute::MultiPath(list));
        }
    }
    m
}

/// Removes our route to `prefix` (only ours: the protocol must match).
pub fn remove(k: &KernelSettings, prefix: &Prefix) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header = header(k, prefix);
    m.header.scope = RouteScope::NoWhere;
    m.attributes.push(RouteAttribute::Destination(addr(prefix.addr())));
    m.attributes.push(RouteAttribute::Table(k.table));
    m
}

/// A route of the kernel's table, as far as we care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub prefix: Prefix,
    pub table: u32,
    pub protocol: u8,
    pub kind: RouteType,
    /// The output interface of a single-path route.
    pub oif: Option<u32>,
    /// Each next hop, with its interface and whether it is `onlink`.
    pub hops: Vec<(IpAddr, u32, bool)>,
}

impl Seen {
    /// Our next hops as [`NextHop`]s: a hop `onlink` out of `tunnel` is a
    /// tunnelled one.
    pub fn next_hops(&self, tunnel: Option<u32>) -> Vec<NextHop> {
        let mut v: Vec<NextHop> = self
            .hops
            .iter()
            .map(|&(gateway, ifindex, onlink)| NextHop {
                gateway,
                tunnel: onlink && Some(ifindex) == tunnel,
                dev: (rib::fib::is_link_local(&gateway) && ifindex != 0).then_some(ifindex),
            })
            .collect();
        v.sort_unstable();
        v
    }
}

/// What a dumped or announced route is; `None` for routes that are not
/// plain destinations (cloned, cache, other families).
pub fn seen(m: &RouteMessage) -> Option<Seen> {
    let h = &m.header;
    if h.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let mut dst = None;
    let mut table = u32::from(h.table);
    let mut oif = None;
    let mut gateway = None;
    let mut hops = Vec::new();
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(x)) => dst = Some(IpAddr::V4(*x)),
            RouteAttribute::Destination(RouteAddress::Inet6(x)) => dst = Some(IpAddr::V6(*x)),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Gateway(g) => gateway = ip(g),
            RouteAttribute::MultiPath(list) => {
                for nh in list {
                    for x in &nh.attributes {
                        if let RouteAttribute::Gateway(g) = x {
                            if let Some(g) = ip(g) {
                                hops.push((g, nh.interface_index, nh.flags.contains(RouteNextHopFlags::Onlink)));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let prefix = match (dst, h.address_family) {
        (Some(a), _) => Prefix::new(a, h.destination_prefix_length)?,
        (None, AddressFamily::Inet) => Prefix::new(IpAddr::V4(0.into()), 0)?,
        (None, AddressFamily::Inet6) => Prefix::new(IpAddr::V6(0.into()), 0)?,
        _ => return None,
    };
    if let Some(g) = gateway {
        hops.push((g, oif.unwrap_or(0), h.flags.contains(RouteFlags::Onlink)));
    }
    Some(Seen {
        prefix,
        table,
        protocol: u8::from(h.protocol),
        kind: h.kind,
        oif,
        hops,
    })
}

fn ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(x) => Some(IpAddr::V4(*x)),
        RouteAddress::Inet6(x) => Some(IpAddr::V6(*x)),
        _ => None,
    }
}
