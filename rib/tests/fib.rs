//! What the kernel is given for a prefix: pool encapsulation, ECMP, and
//! routes that are never installed.

use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::attributes::{AsPath, Origin};
use bgp_wire::{Asn, Prefix, RouterId};
use rib::fib::{Encap, FibPolicy, NextHop, Pool};
use rib::{IgpCost, PeerId, Protocol, Route, RouteAttrs, Source};

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn bgp(peer: u32, nh: &str, as_path: &[u32]) -> Route {
    let source = Arc::new(Source {
        peer: Some(PeerId(peer)),
        protocol: Protocol::Bgp,
        peer_address: Some(ip(nh)),
        peer_router_id: RouterId(format!("1.1.1.{peer}").parse().unwrap()),
        ebgp: false,
        rr_client: false,
        link: None,
        iface: None,
    });
    route(source, Some(ip(nh)), as_path)
}

fn route(source: Arc<Source>, nh: Option<IpAddr>, as_path: &[u32]) -> Route {
    Route {
        source,
        path_id: 0,
        out_id: 0,
        attrs: Arc::new(RouteAttrs {
            origin: Some(Origin::Igp),
            as_path: AsPath::sequence(as_path.iter().map(|a| Asn(*a))),
            next_hop: nh,
            ..RouteAttrs::default()
        }),
        igp_cost: IgpCost::UNKNOWN,
        since: 0,
    }
}

fn hop(gw: &str, tunnel: bool) -> NextHop {
    NextHop {
        gateway: ip(gw),
        tunnel,
        dev: None,
    }
}

fn policy() -> FibPolicy {
    let pool = |cidr: &str, ipip, vxlan| Pool {
        ipip,
        vxlan,
        ..Pool::plain(p(cidr))
    };
    FibPolicy {
        pools: vec![
            pool("10.244.0.0/16", Encap::Always, Encap::Never),
            pool("10.245.0.0/16", Encap::CrossSubnet, Encap::Never),
            pool("10.246.0.0/16", Encap::Never, Encap::Never),
            pool("10.247.0.0/16", Encap::Never, Encap::Always),
            pool("fd00:244::/48", Encap::Always, Encap::Never),
        ],
        local_subnets: vec![p("10.77.0.0/24")],
        merge_paths: true,
        program_pool_routes: true,
    }
}

#[test]
fn each_pool_mode_gives_its_next_hop() {
    let f = policy();
    let near = [bgp(1, "10.77.0.2", &[])];
    let far = [bgp(1, "10.78.0.2", &[])];
    assert_eq!(
        f.next_hops(&p("10.244.1.0/26"), &near),
        [hop("10.77.0.2", true)],
        "IPIP always"
    );
    assert_eq!(
        f.next_hops(&p("10.245.1.0/26"), &near),
        [hop("10.77.0.2", false)],
        "cross-subnet, same subnet"
    );
    assert_eq!(
        f.next_hops(&p("10.245.1.0/26"), &far),
        [hop("10.78.0.2", true)],
        "cross-subnet, off-subnet"
    );
    assert_eq!(
        f.next_hops(&p("10.246.1.0/26"), &far),
        [hop("10.78.0.2", false)],
        "no encapsulation"
    );
    assert!(f.next_hops(&p("10.247.1.0/26"), &far).is_empty(), "VXLAN is Felix's");
    assert_eq!(
        f.next_hops(&p("192.0.2.0/24"), &far),
        [hop("10.78.0.2", false)],
        "outside the pools"
    );
    let v6 = [bgp(1, "fd00::2", &[])];
    assert_eq!(
        f.next_hops(&p("fd00:244:0:1::/122"), &v6),
        [hop("fd00::2", false)],
        "no IPIP for IPv6"
    );
    let off = FibPolicy {
        program_pool_routes: false,
        ..policy()
    };
    assert!(
        off.next_hops(&p("10.244.1.0/26"), &near).is_empty(),
        "pool routes left to Felix"
    );
    assert_eq!(
        off.next_hops(&p("192.0.2.0/24"), &near).len(),
        1,
        "others still installed"
    );
}

#[test]
fn equal_routes_merge_and_compose_with_ipip() {
    let f = policy();
    let routes = [bgp(2, "10.78.0.3", &[]), bgp(1, "10.78.0.2", &[])];
    assert_eq!(
        f.next_hops(&p("10.244.1.0/26"), &routes),
        [hop("10.78.0.2", true), hop("10.78.0.3", true)]
    );
    // A longer AS_PATH is not equal: the best alone.
    let routes = [bgp(2, "10.78.0.3", &[]), bgp(1, "10.78.0.2", &[65001])];
    assert_eq!(f.next_hops(&p("10.244.1.0/26"), &routes), [hop("10.78.0.3", true)]);
    // Without merge_paths, one next hop; the same next hop twice is one.
    let routes = [bgp(2, "10.78.0.3", &[]), bgp(1, "10.78.0.2", &[])];
    let single = FibPolicy {
        merge_paths: false,
        ..policy()
    };
    assert_eq!(single.next_hops(&p("10.244.1.0/26"), &routes).len(), 1);
    let same = [bgp(2, "10.78.0.3", &[]), bgp(1, "10.78.0.3", &[])];
    assert_eq!(f.next_hops(&p("10.244.1.0/26"), &same).len(), 1);
}

#[test]
fn the_nodes_own_routes_are_never_installed_but_a_static_via_a_gateway_is() {
    let f = policy();
    let own = Arc::new(Source {
        peer: None,
        protocol: Protocol::Static,
        peer_address: None,
        peer_router_id: RouterId("9.9.9.9".parse().unwrap()),
        ebgp: false,
        rr_client: false,
        link: None,
        iface: None,
    });
    let kernel = Arc::new(Source {
        protocol: Protocol::Kernel,
        ..(*own).clone()
    });
    let block = [route(own, None, &[]), bgp(1, "10.78.0.2", &[])];
    assert!(
        f.next_hops(&p("10.244.1.0/26"), &block).is_empty(),
        "our static block wins"
    );
    let learned = [route(kernel, None, &[]), bgp(1, "10.78.0.2", &[])];
    assert!(
        f.next_hops(&p("10.244.1.5/32"), &learned).is_empty(),
        "Felix's route stays"
    );
    assert!(f.next_hops(&p("10.244.1.5/32"), &[]).is_empty(), "gone");
    // Calico's reachableBy: the peer through its gateway, as BIRD's kernel
    // protocol installs the static protocol's route.
    let own = block[0].source.clone();
    let reach = [route(own, Some(ip("10.78.0.1")), &[])];
    assert_eq!(f.next_hops(&p("172.20.0.9/32"), &reach), [hop("10.78.0.1", false)]);
}
