//! The node's interfaces and addresses, kept current from netlink: what
//! `show route` names as ` on IFACE` (Calico's route parser needs it) and
//! the node's own subnets when the configuration names none.

use std::collections::HashMap;
use std::net::IpAddr;

use bgp_wire::Prefix;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};

/// Interface names by index, and every address with its subnet.
#[derive(Clone, Debug, Default)]
pub struct Ifaces {
    names: HashMap<u32, String>,
    /// (address, its subnet, interface index)
    addrs: Vec<(IpAddr, Prefix, u32)>,
}

impl Ifaces {
    pub fn name(&self, index: u32) -> Option<&str> {
        self.names.get(&index).map(String::as_str)
    }

    /// The interface a next hop is reached on: the one whose subnet holds
    /// it (the most specific), as BIRD resolves a gateway.
    pub fn iface_for(&self, nh: IpAddr) -> Option<&str> {
        self.addrs
            .iter()
            .filter(|(_, net, _)| net.net().contains(&nh))
            .max_by_key(|(_, net, _)| net.prefix_len())
            .and_then(|(_, _, i)| self.name(*i))
    }

    /// The subnets of the interface that holds `addr`.
    pub fn subnets_of(&self, addr: IpAddr) -> Vec<Prefix> {
        let Some(&(_, _, index)) = self.addrs.iter().find(|(a, _, _)| *a == addr) else {
            return Vec::new();
        };
        let mut v: Vec<Prefix> = self
            .addrs
            .iter()
            .filter(|(_, net, i)| *i == index && net.prefix_len() < if net.is_ipv4() { 32 } else { 128 })
            .map(|(_, net, _)| *net)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn link(&mut self, m: &LinkMessage, present: bool) {
        let index = m.header.index;
        if !present {
            self.names.remove(&index);
            self.addrs.retain(|(_, _, i)| *i != index);
            return;
        }
        for a in &m.attributes {
            if let LinkAttribute::IfName(n) = a {
                self.names.insert(index, n.clone());
            }
        }
    }

    pub fn address(&mut self, m: &AddressMessage, present: bool) {
        let index = m.header.index;
        // IPv4 point-to-point addresses carry the peer in IFA_ADDRESS and
        // our own in IFA_LOCAL; otherwise both are ours.
        let mut local = None;
        let mut address = None;
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(x) => local = Some(*x),
                AddressAttribute::Address(x) => address = Some(*x),
                _ => {}
            }
        }
        let Some(addr) = local.or(address) else { return };
        let Some(net) = Prefix::new(addr, m.header.prefix_len) else {
            return;
        };
        // The subnet: the address with its host bits cleared.
        let Some(net) = Prefix::new(net.net().trunc().addr(), net.prefix_len()) else {
            return;
        };
        self.addrs.retain(|(a, _, i)| !(*a == addr && *i == index));
        if present {
            self.addrs.push((addr, net, index));
        }
    }
}
