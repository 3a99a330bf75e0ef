//! OpenBGPD 7.7 (Debian's `openbgpd`), a strict peer, against ternd in
//! network namespaces: the session and routes both ways; a refresh it
//! asks for comes back between Begin- and End-of-RR, as the enhanced route
//! refresh we announce promises (RFC 7313); a route it sends with our own
//! address as next hop is not taken (RFC 4271 §6.3), and the session
//! stays up; over IPv6, IPv4 routes go with an IPv4 next hop
//! (`local_address4`) or not at all, never with a 16-byte one it refuses.

use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{wait_for, OpenBgpd, TempDir, Ternd};

/// How a test's session runs.
#[derive(Default)]
struct Setup<'a> {
    /// Over IPv6 (IPv4 unicast negotiated too), else IPv4.
    v6: bool,
    /// More keys for ternd's peer.
    tern_peer: &'a str,
    /// More lines for OpenBGPD's configuration (filter rules).
    bgpd: &'a str,
    /// More lines for OpenBGPD's global section (networks).
    global: &'a str,
}

/// ternd (AS 64512, a static to export in each family) and OpenBGPD (AS
/// 65010, announcing 10.10.0.0/24) in two namespaces, their session up.
fn setup(net: u8, s: Setup) -> (Lan, Ternd, OpenBgpd, Vec<TempDir>) {
    let lan = Lan::new(net, 2);
    let (t, o) = if s.v6 {
        (lan.v6(0), lan.v6(1))
    } else {
        (lan.v4(0), lan.v4(1))
    };
    let listen = if s.v6 { format!("[{t}]:179") } else { format!("{t}:179") };
    let dt = TempDir::new("obgpd-tern");
    let tern = Ternd::start_in(
        &dt,
        &format!(
            "router_id = \"{}\"\nasn = 64512\nlisten = [\"{listen}\"]\nctl_socket = \"{{CTL}}\"\n\
             [[static]]\nprefix = \"10.20.0.0/24\"\nblackhole = true\nexport = true\n\
             [[static]]\nprefix = \"fd00:20::/64\"\nblackhole = true\nexport = true\n\
             [[peer]]\nname = \"obgpd\"\naddress = \"{o}\"\nasn = 65010\nlocal_address = \"{t}\"\nconnect_retry = 1\n{}",
            lan.v4(0),
            s.tern_peer
        ),
        Some(&lan.nodes[0]),
    );
    let families = if s.v6 {
        "  announce IPv4 unicast\n  announce IPv6 unicast\n"
    } else {
        ""
    };
    let dob = TempDir::new("obgpd");
    let bgpd = OpenBgpd::start_in(
        &dob,
        &format!(
            "AS 65010\nrouter-id {}\nlisten on {o}\nnetwork 10.10.0.0/24\n{}\
             neighbor {t} {{\n  remote-as 64512\n  descr \"tern\"\n  announce enhanced refresh yes\n{families}}}\n\
             allow from any\nallow to any\n{}",
            lan.v4(1),
            s.global,
            s.bgpd
        ),
        &lan.nodes[1],
    );
    wait_for(Duration::from_secs(30), "the session with OpenBGPD", || {
        (tern.bgp_state("obgpd").as_deref() == Some("Established")).then_some(())
    });
    (lan, tern, bgpd, vec![dt, dob])
}

#[test]
fn routes_both_ways_and_enhanced_refresh_markers() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    let (_lan, tern, bgpd, _dirs) = setup(57, Setup::default());
    wait_for(Duration::from_secs(20), "routes both ways", || {
        (tern.birdc("show route").contains("10.10.0.0/24") && bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24"))
            .then_some(())
    });
    let rib = bgpd.bgpctl(&["show", "rib", "10.20.0.0/24"]);
    assert!(rib.contains("64512 i"), "{rib}");
    assert_eq!(bgpd.counter("tern", "Begin-of-RR"), Some((0, 0)));
    // OpenBGPD asks for the table again: with enhanced route refresh
    // negotiated, it must come between BoRR and EoRR.
    let out = bgpd.bgpctl(&["neighbor", "tern", "refresh"]);
    assert!(out.contains("request processed"), "{out}");
    wait_for(Duration::from_secs(10), "BoRR and EoRR at OpenBGPD", || {
        (bgpd.counter("tern", "Begin-of-RR") == Some((0, 1)) && bgpd.counter("tern", "End-of-RR") == Some((0, 1)))
            .then_some(())
    });
    // The refresh changed nothing: the route is still there, still up.
    assert!(bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24"));
    assert_eq!(tern.bgp_state("obgpd").as_deref(), Some("Established"));
}

#[test]
fn a_route_with_our_own_address_as_next_hop_is_not_taken() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    // OpenBGPD rewrites the next hop of what it sends us to our address;
    // a second route keeps its own next hop. (OpenBGPD will not set a
    // loopback next hop: rib/tests/refresh.rs has that case.)
    let lan_tern = "10.200.58.1";
    let (_lan, tern, bgpd, _dirs) = setup(
        58,
        Setup {
            global: "network 10.12.0.0/24\n",
            bgpd: &format!("match to any prefix 10.10.0.0/24 set nexthop {lan_tern}\n"),
            ..Setup::default()
        },
    );
    wait_for(Duration::from_secs(20), "the route with a usable next hop", || {
        tern.birdc("show route").contains("10.12.0.0/24").then_some(())
    });
    wait_for(Duration::from_secs(20), "our route at OpenBGPD", || {
        bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24").then_some(())
    });
    // OpenBGPD has sent its route (its counters say so); we did not take it.
    wait_for(Duration::from_secs(10), "OpenBGPD's UPDATE", || {
        bgpd.counter("tern", "Updates")
            .filter(|(sent, _)| *sent >= 1)
            .map(|_| ())
    });
    std::thread::sleep(Duration::from_secs(1));
    let routes = tern.birdc("show route");
    assert!(!routes.contains("10.10.0.0/24"), "{routes}");
    assert_eq!(tern.bgp_state("obgpd").as_deref(), Some("Established"));
}

#[test]
fn ipv4_routes_over_ipv6_go_with_an_ipv4_next_hop_or_not_at_all() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    // No IPv4 next hop configured: the IPv4 route is not sent (a 16-byte
    // next hop without RFC 8950 is what OpenBGPD answered with 3/9), the
    // IPv6 one is, the session stays up, and the log says why.
    let (_lan, tern, bgpd, _dirs) = setup(
        59,
        Setup {
            v6: true,
            ..Setup::default()
        },
    );
    wait_for(Duration::from_secs(20), "our IPv6 route at OpenBGPD", || {
        bgpd.bgpctl(&["show", "rib"]).contains("fd00:20::/64").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let rib = bgpd.bgpctl(&["show", "rib"]);
    assert!(!rib.contains("10.20.0.0/24"), "{rib}");
    assert_eq!(
        bgpd.counter("tern", "Notifications"),
        Some((0, 0)),
        "no NOTIFICATION either way"
    );
    assert_eq!(tern.bgp_state("obgpd").as_deref(), Some("Established"));
    assert!(tern.proc.log().contains("set local_address4"), "{}", tern.proc.log());
    drop((tern, bgpd));

    // With local_address4: the IPv4 route goes, with that next hop.
    let (lan, _tern, bgpd, _dirs) = setup(
        63,
        Setup {
            v6: true,
            tern_peer: "local_address4 = \"10.200.63.1\"\n",
            ..Setup::default()
        },
    );
    wait_for(Duration::from_secs(20), "our IPv4 route at OpenBGPD", || {
        bgpd.bgpctl(&["show", "rib"]).contains("10.20.0.0/24").then_some(())
    });
    let rib = bgpd.bgpctl(&["show", "rib", "10.20.0.0/24"]);
    assert!(rib.contains(&lan.v4(0)), "next hop {}: {rib}", lan.v4(0));
    assert_eq!(bgpd.counter("tern", "Notifications"), Some((0, 0)));
}

#[test]
fn four_octet_asns_cross_two_octet_sessions_whole() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    // ternd A in AS 4200000001 and ternd B in AS 64512, each on a 2-octet
    // session with OpenBGPD (AS 65010, `announce as-4byte no`); ternd C in
    // AS 4200000002 behind A on a 4-octet session. A must send AS4_PATH
    // beside AS_TRANS (without it OpenBGPD answered 3/11, and C's AS is
    // lost on the way); B must read 65010 4200000001 from AS_PATH and
    // AS4_PATH, not 65010 23456.
    let lan = Lan::new(64, 4);
    let (a, o, b, c) = (lan.v4(0), lan.v4(1), lan.v4(2), lan.v4(3));
    let tern = |i: usize, asn: u32, prefix: &str, peers: &str, dir: &TempDir| {
        Ternd::start_in(
            dir,
            &format!(
                "router_id = \"{me}\"\nasn = {asn}\nlisten = [\"{me}:179\"]\nctl_socket = \"{{CTL}}\"\n\
                 [[static]]\nprefix = \"{prefix}\"\nblackhole = true\nexport = true\n{peers}",
                me = lan.v4(i)
            ),
            Some(&lan.nodes[i]),
        )
    };
    let peer = |name: &str, addr: &str, asn: u32| {
        format!("[[peer]]\nname = \"{name}\"\naddress = \"{addr}\"\nasn = {asn}\nconnect_retry = 1\n")
    };
    let (da, db, dc, dob) = (
        TempDir::new("as4-a"),
        TempDir::new("as4-b"),
        TempDir::new("as4-c"),
        TempDir::new("as4-obgpd"),
    );
    let ta = tern(
        0,
        4_200_000_001,
        "10.20.0.0/24",
        &(peer("obgpd", &o, 65010) + &peer("c", &c, 4_200_000_002)),
        &da,
    );
    let tb = tern(2, 64512, "10.30.0.0/24", &peer("obgpd", &o, 65010), &db);
    let _tc = tern(3, 4_200_000_002, "10.40.0.0/24", &peer("a", &a, 4_200_000_001), &dc);
    let bgpd = OpenBgpd::start_in(
        &dob,
        &format!(
            "AS 65010\nrouter-id {o}\nlisten on {o}\n\
             neighbor {a} {{\n  remote-as 4200000001\n  descr \"a\"\n  announce as-4byte no\n}}\n\
             neighbor {b} {{\n  remote-as 64512\n  descr \"b\"\n  announce as-4byte no\n}}\n\
             allow from any\nallow to any\n"
        ),
        &lan.nodes[1],
    );
    wait_for(Duration::from_secs(30), "both sessions", || {
        (ta.bgp_state("obgpd").as_deref() == Some("Established")
            && tb.bgp_state("obgpd").as_deref() == Some("Established"))
        .then_some(())
    });
    wait_for(Duration::from_secs(20), "A's route at B", || {
        tb.birdc("show route").contains("10.20.0.0/24").then_some(())
    });
    let rib = bgpd.bgpctl(&["show", "rib", "10.20.0.0/24"]);
    assert!(rib.contains("4200000001 i"), "OpenBGPD reads A's real AS: {rib}");
    let at_b = tb.birdc("show route all for 10.20.0.1");
    assert!(at_b.contains("BGP.as_path: 65010 4200000001"), "{at_b}");
    // C's route: only AS4_PATH can tell OpenBGPD and B that C is 4200000002.
    wait_for(Duration::from_secs(20), "C's route at B", || {
        tb.birdc("show route").contains("10.40.0.0/24").then_some(())
    });
    let rib = bgpd.bgpctl(&["show", "rib", "10.40.0.0/24"]);
    assert!(
        rib.contains("4200000001 4200000002 i"),
        "OpenBGPD reads C's real AS: {rib}"
    );
    let at_b = tb.birdc("show route all for 10.40.0.1");
    assert!(at_b.contains("BGP.as_path: 65010 4200000001 4200000002"), "{at_b}");
    // The other way, nothing to translate, and A sees B's route.
    wait_for(Duration::from_secs(20), "B's route at A", || {
        ta.birdc("show route all")
            .contains("BGP.as_path: 65010 64512")
            .then_some(())
    });
    for peer in ["a", "b"] {
        assert_eq!(bgpd.counter(peer, "Notifications"), Some((0, 0)), "{peer}");
    }
    assert_eq!(ta.bgp_state("obgpd").as_deref(), Some("Established"));
}

#[test]
fn reflection_add_path_and_md5_with_openbgpd_as_a_client() {
    if skip_without(&["bgpd", "bgpctl"]) {
        return;
    }
    // ternd reflects (cluster 10.200.65.1) for OpenBGPD, over MD5 and with
    // ADD-PATH, and for two ternd clients B and C that both originate
    // 10.50.0.0/24 (B also 10.30.0.0/24). OpenBGPD must hold both paths of
    // 10.50.0.0/24, B's route with ORIGINATOR_ID and CLUSTER_LIST, and B
    // must get OpenBGPD's route.
    let lan = Lan::new(65, 4);
    let (rr, o) = (lan.v4(0), lan.v4(1));
    let client = |i: usize| {
        format!(
            "[[peer]]\nname = \"c{i}\"\naddress = \"{}\"\nasn = 64512\nrr_client = true\nadd_path = true\nconnect_retry = 1\n",
            lan.v4(i)
        )
    };
    let dr = TempDir::new("obgpd-rr");
    let reflector = Ternd::start_in(
        &dr,
        &format!(
            "router_id = \"{rr}\"\nasn = 64512\ncluster_id = \"{rr}\"\nlisten = [\"{rr}:179\"]\nctl_socket = \"{{CTL}}\"\n\
             [[peer]]\nname = \"obgpd\"\naddress = \"{o}\"\nasn = 64512\nrr_client = true\nadd_path = true\n\
             password = \"s3cret\"\nconnect_retry = 1\n{}{}",
            client(2),
            client(3)
        ),
        Some(&lan.nodes[0]),
    );
    let node = |i: usize, prefixes: &[&str], dir: &TempDir| {
        let me = lan.v4(i);
        let statics: String = prefixes
            .iter()
            .map(|p| format!("[[static]]\nprefix = \"{p}\"\nblackhole = true\nexport = true\n"))
            .collect();
        Ternd::start_in(
            dir,
            &format!(
                "router_id = \"{me}\"\nasn = 64512\nlisten = [\"{me}:179\"]\nctl_socket = \"{{CTL}}\"\n{statics}\
                 [[peer]]\nname = \"rr\"\naddress = \"{rr}\"\nasn = 64512\nconnect_retry = 1\n"
            ),
            Some(&lan.nodes[i]),
        )
    };
    let (db, dc, dob) = (
        TempDir::new("obgpd-b"),
        TempDir::new("obgpd-c"),
        TempDir::new("obgpd-o"),
    );
    let b = node(2, &["10.30.0.0/24", "10.50.0.0/24"], &db);
    let _c = node(3, &["10.50.0.0/24"], &dc);
    let bgpd = OpenBgpd::start_in(
        &dob,
        &format!(
            "AS 64512\nrouter-id {o}\nlisten on {o}\nnetwork 10.10.0.0/24\n\
             neighbor {rr} {{\n  remote-as 64512\n  descr \"rr\"\n  tcp md5sig password s3cret\n  \
             announce add-path recv yes\n}}\nallow from any\nallow to any\n"
        ),
        &lan.nodes[1],
    );
    wait_for(Duration::from_secs(30), "the reflector's three sessions", || {
        ["obgpd", "c2", "c3"]
            .iter()
            .all(|p| reflector.bgp_state(p).as_deref() == Some("Established"))
            .then_some(())
    });
    let out = reflector.birdc("show protocols all obgpd");
    assert!(out.contains("add-path"), "ADD-PATH negotiated with OpenBGPD: {out}");
    let paths = wait_for(
        Duration::from_secs(20),
        "both paths of 10.50.0.0/24 at OpenBGPD",
        || {
            let r = bgpd.bgpctl(&["show", "rib", "10.50.0.0/24"]);
            (r.matches("10.50.0.0/24").count() >= 2).then_some(r)
        },
    );
    for nh in [lan.v4(2), lan.v4(3)] {
        assert!(paths.contains(&nh), "next hop {nh}: {paths}");
    }
    let detail = wait_for(Duration::from_secs(20), "B's route at OpenBGPD", || {
        let r = bgpd.bgpctl(&["show", "rib", "detail", "10.30.0.0/24"]);
        r.contains("10.30.0.0/24").then_some(r)
    });
    let cluster = detail.lines().find(|l| l.contains("Cluster Id List:")).unwrap_or("");
    assert!(
        detail.contains(&format!("Originator Id: {}", lan.v4(2))) && cluster.trim().ends_with(&rr),
        "{detail}"
    );
    wait_for(Duration::from_secs(20), "OpenBGPD's route at B", || {
        b.birdc("show route").contains("10.10.0.0/24").then_some(())
    });
    assert_eq!(bgpd.counter("rr", "Notifications"), Some((0, 0)));
}
