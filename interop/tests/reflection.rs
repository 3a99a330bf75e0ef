//! Route reflection, per-node AS and export filters, in network
//! namespaces: (b) ternd reflecting for BIRD, FRR and GoBGP clients; (c)
//! BIRD reflecting for ternd clients; (d) two reflectors with one cluster
//! ID; (e) eBGP between ternd and FRR; ADD-PATH reflection of every path;
//! the pool and `calico_aggr` filters. Checked through each
//! implementation's own CLI.

use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{run, wait_for, Bird, Frr, Proc, TempDir, Ternd};

const CONVERGE: Duration = Duration::from_secs(60);

/// The head of a ternd config: router `me` in `asn`, listening on port 179.
fn tern_node(me: &str, asn: u32) -> String {
    format!("router_id = \"{me}\"\nasn = {asn}\nlisten = [\"{me}:179\"]\nctl_socket = \"{{CTL}}\"\n")
}

/// A route reflector's head (cluster 244.0.0.1).
fn tern_reflector(me: &str) -> String {
    tern_node(me, 64512) + "cluster_id = \"244.0.0.1\"\n"
}

/// A blackhole static route: a node's block.
fn tern_block(prefix: &str) -> String {
    format!("[[static]]\nprefix = \"{prefix}\"\nblackhole = true\n")
}

fn tern_peer(name: &str, addr: &str, me: &str, asn: u32, passive: bool, rr_client: bool) -> String {
    format!(
        "[[peer]]\nname = \"{name}\"\naddress = \"{addr}\"\nasn = {asn}\nlocal_address = \"{me}\"\npassive = {passive}\nrr_client = {rr_client}\nhold_time = 9\nconnect_retry = 2\n"
    )
}

fn bird_client(me: &str, rr: &str, block: &str) -> String {
    format!(
        r#"router id {me};
protocol device {{ }}
protocol direct {{ ipv4; interface "eth0"; }}
protocol static s4 {{ ipv4; route {block} blackhole; }}
protocol bgp reflector {{
  local {me} as 64512;
  neighbor {rr} as 64512;
  hold time 9;
  connect delay time 1;
  connect retry time 2;
  ipv4 {{ import all; export where source = RTS_STATIC; next hop self; }};
}}
"#
    )
}

#[test]
fn ternd_reflects_between_bird_frr_and_gobgp_clients() {
    if skip_without(&["bird", "birdc", "gobgpd", "gobgp", "/usr/lib/frr/bgpd", "vtysh", "ip"]) {
        return;
    }
    let lan = Lan::new(42, 4);
    let (rr, bird, frr, gob) = (lan.v4(0), lan.v4(1), lan.v4(2), lan.v4(3));
    let dir = TempDir::new("rr-t");
    let mut conf = tern_reflector(&rr);
    for (i, a) in [&bird, &frr, &gob].iter().enumerate() {
        conf += &tern_peer(&format!("Node_{}", i + 2), a, &rr, 64512, true, true);
    }
    conf += &tern_block("10.244.1.0/26");
    let t = Ternd::start_in(&dir, &conf, Some(&lan.nodes[0]));
    let dir_b = TempDir::new("rr-b");
    let b = Bird::start_in(&dir_b, &bird_client(&bird, &rr, "10.244.2.0/26"), Some(&lan.nodes[1]));
    let dir_f = TempDir::new("rr-f");
    let fconf = format!(
        "frr defaults traditional\nhostname rr-client\nlog stdout informational\nrouter bgp 64512\n bgp router-id {frr}\n no bgp network import-check\n neighbor {rr} remote-as 64512\n neighbor {rr} update-source {frr}\n neighbor {rr} timers 3 9\n neighbor {rr} timers connect 2\n address-family ipv4 unicast\n  network 10.244.3.0/26\n exit-address-family\nexit\n"
    );
    let f = Frr::start_in(&dir_f, &fconf, &frr, 179, Some(&lan.nodes[2]));
    let vtysh = |cmd: &str| f.vtysh(cmd);
    let dir_g = TempDir::new("rr-g");
    let gconf = format!(
        "[global.config]\n  as = 64512\n  router-id = \"{gob}\"\n  local-address-list = [\"{gob}\"]\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{rr}\"\n    peer-as = 64512\n  [neighbors.transport.config]\n    local-address = \"{gob}\"\n  [neighbors.timers.config]\n    hold-time = 9\n    connect-retry = 2\n"
    );
    let gcfg = dir_g.write("gobgpd.toml", &gconf);
    let _g = Proc::spawn(
        "gobgpd",
        lan.nodes[3]
            .command("gobgpd")
            .arg("-f")
            .arg(&gcfg)
            .args(["--api-hosts", "127.0.0.1:50201", "--pprof-disable"]),
        dir_g.path("gobgpd.log"),
    );
    let gobgp = |args: &[&str]| run(lan.nodes[3].command("gobgp").args(["-p", "50201"]).args(args));
    wait_for(Duration::from_secs(20), "GoBGP's API", || {
        gobgp(&["global"]).contains("AS").then_some(())
    });
    let out = gobgp(&["global", "rib", "-a", "ipv4", "add", "10.244.4.0/26", "nexthop", &gob]);
    assert!(!out.contains("rror"), "{out}");

    // Every client gets every other client's block, reflected.
    wait_for(CONVERGE, "BIRD to get the blocks of FRR and GoBGP", || {
        let o = b.birdc("show route");
        (o.contains("10.244.3.0/26") && o.contains("10.244.4.0/26") && o.contains("10.244.1.0/26")).then_some(())
    });
    let from_frr = b.birdc("show route 10.244.3.0/26 all");
    assert!(from_frr.contains(&format!("BGP.originator_id: {frr}")), "{from_frr}");
    assert!(from_frr.contains("BGP.cluster_list: 244.0.0.1"), "{from_frr}");
    assert!(
        from_frr.contains(&format!("BGP.next_hop: {frr}")),
        "reflection keeps the next hop: {from_frr}"
    );
    wait_for(CONVERGE, "FRR to get the blocks of BIRD and GoBGP", || {
        let o = vtysh("show bgp ipv4 unicast json");
        (o.contains("10.244.2.0/26") && o.contains("10.244.4.0/26")).then_some(())
    });
    let o = vtysh("show bgp ipv4 unicast 10.244.4.0/26 json");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap_or_else(|e| panic!("{e}: {o}"));
    let path = &v["paths"][0];
    assert_eq!(path["originatorId"], gob.as_str(), "{o}");
    assert_eq!(path["clusterList"]["list"][0], "244.0.0.1", "{o}");
    wait_for(CONVERGE, "GoBGP to get the blocks of BIRD and FRR", || {
        let o = gobgp(&["global", "rib", "-a", "ipv4"]);
        (o.contains("10.244.2.0/26") && o.contains("10.244.3.0/26")).then_some(())
    });
    let o = gobgp(&["global", "rib", "-a", "ipv4", "10.244.2.0/26", "-j"]);
    assert!(
        o.contains(&bird) && o.contains("244.0.0.1"),
        "GoBGP sees ORIGINATOR_ID and CLUSTER_LIST: {o}"
    );
    // And the reflector's own view: one route per client block.
    let ours = t.birdc("show route count");
    assert!(ours.contains("4 of 4 routes for 4 networks"), "{ours}");
}

#[test]
fn bird_reflects_between_ternd_clients() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(43, 3);
    let (rr, c1, c2) = (lan.v4(0), lan.v4(1), lan.v4(2));
    let dir_b = TempDir::new("brr");
    let bird = format!(
        r#"router id {rr};
protocol device {{ }}
protocol direct {{ ipv4; interface "eth0"; }}
template bgp clients {{
  local {rr} as 64512;
  rr client;
  rr cluster id 244.0.0.2;
  hold time 9;
  passive on;
  ipv4 {{ import all; export all; }};
}}
protocol bgp c1 from clients {{ neighbor {c1} as 64512; }}
protocol bgp c2 from clients {{ neighbor {c2} as 64512; }}
"#
    );
    let _b = Bird::start_in(&dir_b, &bird, Some(&lan.nodes[0]));
    let client = |me: &str, block: u8| {
        tern_node(me, 64512)
            + &tern_peer("Node_rr", &rr, me, 64512, false, false)
            + &tern_block(&format!("10.244.{block}.0/26"))
    };
    let (d1, d2) = (TempDir::new("brr-1"), TempDir::new("brr-2"));
    let t1 = Ternd::start_in(&d1, &client(&c1, 1), Some(&lan.nodes[1]));
    let _t2 = Ternd::start_in(&d2, &client(&c2, 2), Some(&lan.nodes[2]));
    let all = wait_for(CONVERGE, "client 1 to get client 2's block", || {
        let o = t1.birdc("show route all for 10.244.2.1");
        o.contains("10.244.2.0/26").then_some(o)
    });
    assert!(all.contains(&format!("BGP.originator_id: {c2}")), "{all}");
    assert!(all.contains("BGP.cluster_list: 244.0.0.2"), "{all}");
    assert!(all.contains(&format!("BGP.next_hop: {c2}")), "{all}");
}

#[test]
fn ebgp_between_ternd_and_frr_with_an_as_per_node() {
    if skip_without(&["/usr/lib/frr/bgpd", "vtysh", "ip"]) {
        return;
    }
    let lan = Lan::new(44, 2);
    let (me, frr) = (lan.v4(0), lan.v4(1));
    let dir = TempDir::new("ebgp");
    let conf =
        tern_node(&me, 65001) + &tern_peer("Node_frr", &frr, &me, 65002, false, false) + &tern_block("10.244.1.0/26");
    let t = Ternd::start_in(&dir, &conf, Some(&lan.nodes[0]));
    let dir_f = TempDir::new("ebgp-f");
    let fconf = format!(
        "frr defaults traditional\nhostname ebgp\nlog stdout informational\nrouter bgp 65002\n bgp router-id {frr}\n no bgp ebgp-requires-policy\n no bgp network import-check\n neighbor {me} remote-as 65001\n neighbor {me} update-source {frr}\n neighbor {me} timers 3 9\n neighbor {me} timers connect 2\n address-family ipv4 unicast\n  network 10.244.2.0/26\n exit-address-family\nexit\n"
    );
    let f = Frr::start_in(&dir_f, &fconf, &frr, 179, Some(&lan.nodes[1]));
    let vtysh = |cmd: &str| f.vtysh(cmd);
    let ours = wait_for(CONVERGE, "ternd to learn FRR's block", || {
        let o = t.birdc("show route all for 10.244.2.1");
        o.contains("10.244.2.0/26").then_some(o)
    });
    assert!(
        ours.contains("BGP.as_path: 65002") && ours.contains("[AS65002i]"),
        "{ours}"
    );
    let o = wait_for(CONVERGE, "FRR to learn ternd's block", || {
        let o = vtysh("show bgp ipv4 unicast 10.244.1.0/26 json");
        o.contains("\"paths\"").then_some(o)
    });
    let v: serde_json::Value = serde_json::from_str(&o).unwrap_or_else(|e| panic!("{e}: {o}"));
    let path = &v["paths"][0];
    assert_eq!(
        path["aspath"]["string"], "65001",
        "ternd prepends its AS over eBGP: {o}"
    );
    assert_eq!(path["nexthops"][0]["ip"], me.as_str(), "next hop self over eBGP: {o}");
    assert!(
        path.get("locPrf").is_none() || path["locPrf"] == 100,
        "no LOCAL_PREF sent over eBGP: {o}"
    );
}

#[test]
fn two_reflectors_with_one_cluster_id_do_not_loop() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(45, 4);
    let (r1, r2, bird, c) = (lan.v4(0), lan.v4(1), lan.v4(2), lan.v4(3));
    let reflector = |me: &str, other: &str| {
        tern_reflector(me)
            + &tern_peer("Node_rr", other, me, 64512, other > me, false)
            + &tern_peer("Node_bird", &bird, me, 64512, true, true)
            + &tern_peer("Node_c", &c, me, 64512, true, true)
    };
    let (d1, d2, d3, d4) = (
        TempDir::new("2rr"),
        TempDir::new("2rr"),
        TempDir::new("2rr"),
        TempDir::new("2rr"),
    );
    let t1 = Ternd::start_in(&d1, &reflector(&r1, &r2), Some(&lan.nodes[0]));
    let t2 = Ternd::start_in(&d2, &reflector(&r2, &r1), Some(&lan.nodes[1]));
    let b = Bird::start_in(
        &d3,
        &(bird_client(&bird, &r1, "10.244.3.0/26")
            + &format!(
                "protocol bgp reflector2 {{\n  local {bird} as 64512;\n  neighbor {r2} as 64512;\n  hold time 9;\n  connect delay time 1;\n  connect retry time 2;\n  ipv4 {{ import all; export where source = RTS_STATIC; next hop self; }};\n}}\n"
            )),
        Some(&lan.nodes[2]),
    );
    let client = tern_node(&c, 64512)
        + &tern_peer("Node_rr1", &r1, &c, 64512, false, false)
        + &tern_peer("Node_rr2", &r2, &c, 64512, false, false)
        + &tern_block("10.244.4.0/26");
    let tc = Ternd::start_in(&d4, &client, Some(&lan.nodes[3]));
    wait_for(CONVERGE, "each client to have the other's block", || {
        (b.birdc("show route").contains("10.244.4.0/26") && tc.birdc("show route").contains("10.244.3.0/26"))
            .then_some(())
    });
    // Every reflector holds only the client's own path for each block: the
    // copy the other reflector reflects carries cluster 244.0.0.1 and is
    // dropped (RFC 4456 §8), so nothing loops.
    std::thread::sleep(Duration::from_secs(3));
    for t in [&t1, &t2] {
        let count = t.birdc("show route count");
        assert!(count.contains("2 of 2 routes for 2 networks"), "{count}");
    }
    // The client hears its peer's block from both reflectors, both reflected once.
    let all = tc.birdc("show route all for 10.244.3.1");
    assert_eq!(all.matches("BGP.cluster_list: 244.0.0.1\n").count(), 2, "{all}");
    let before = tc.birdc("show route");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(tc.birdc("show route"), before, "stable: no loop, no flap");
}

#[test]
fn ternd_reflects_every_path_to_add_path_clients() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    // Calico advertises service ranges from every node: with ADD-PATH
    // (Calico's `add paths on`) the reflector passes on each node's path,
    // so clients can spread the traffic (RFC 7911).
    let lan = Lan::new(46, 5);
    let (rr, o1, o2, rx, tc) = (lan.v4(0), lan.v4(1), lan.v4(2), lan.v4(3), lan.v4(4));
    let dir = TempDir::new("ap-rr");
    let mut conf = tern_reflector(&rr);
    for (i, a) in [&o1, &o2, &rx, &tc].iter().enumerate() {
        conf += &tern_peer(&format!("Node_{}", i + 2), a, &rr, 64512, true, true);
    }
    let _t = Ternd::start_in(&dir, &conf, Some(&lan.nodes[0]));
    let (d1, d2, d3, d4) = (
        TempDir::new("ap-1"),
        TempDir::new("ap-2"),
        TempDir::new("ap-rx"),
        TempDir::new("ap-t"),
    );
    let _b1 = Bird::start_in(&d1, &bird_client(&o1, &rr, "10.101.0.0/16"), Some(&lan.nodes[1]));
    let _b2 = Bird::start_in(&d2, &bird_client(&o2, &rr, "10.101.0.0/16"), Some(&lan.nodes[2]));
    let receiver = format!(
        r#"router id {rx};
protocol device {{ }}
protocol direct {{ ipv4; interface "eth0"; }}
protocol bgp reflector {{
  local {rx} as 64512;
  neighbor {rr} as 64512;
  hold time 9;
  connect delay time 1;
  connect retry time 2;
  ipv4 {{ import all; export none; add paths rx; }};
}}
"#
    );
    let b = Bird::start_in(&d3, &receiver, Some(&lan.nodes[3]));
    let client = tern_node(&tc, 64512) + &tern_peer("Node_rr", &rr, &tc, 64512, false, false);
    let t = Ternd::start_in(&d4, &client, Some(&lan.nodes[4]));
    let shown = wait_for(CONVERGE, "BIRD to hold both paths of 10.101.0.0/16", || {
        let o = b.birdc("show route 10.101.0.0/16 all");
        (o.contains(&format!("BGP.next_hop: {o1}")) && o.contains(&format!("BGP.next_hop: {o2}"))).then_some(o)
    });
    assert_eq!(shown.matches("BGP.cluster_list: 244.0.0.1").count(), 2, "{shown}");
    let ours = wait_for(CONVERGE, "the ternd client to hold both paths", || {
        let o = t.birdc("show route for 10.101.0.1 all");
        (o.contains(&format!("BGP.next_hop: {o1}")) && o.contains(&format!("BGP.next_hop: {o2}"))).then_some(o)
    });
    assert_eq!(ours.matches("BGP.originator_id:").count(), 2, "{ours}");
    // One path goes: the other stays, alone.
    drop(_b1);
    let left = wait_for(CONVERGE, "BIRD to drop the first node's path", || {
        let o = b.birdc("show route 10.101.0.0/16 all");
        (!o.contains(&format!("BGP.next_hop: {o1}")) && o.contains(&format!("BGP.next_hop: {o2}"))).then_some(o)
    });
    assert_eq!(left.matches("BGP.next_hop:").count(), 1, "{left}");
}

#[test]
fn ternd_exports_its_block_but_nothing_beneath_it_and_only_pool_routes() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    // Calico's export filter: routes within the pools only, and of the
    // node's own block the block itself, nothing more specific
    // (`calico_aggr`, ../shared/docs/calico.md §1(g)).
    let lan = Lan::new(47, 2);
    let (me, bird) = (lan.v4(0), lan.v4(1));
    let dir = TempDir::new("aggr");
    let conf = tern_node(&me, 64512)
        + &tern_peer("Node_bird", &bird, &me, 65002, false, false)
        + "[[pool]]\ncidr = \"10.244.0.0/16\"\n"
        + &tern_block("10.244.1.0/26")
        + &tern_block("10.244.1.8/29")
        + &tern_block("192.0.2.0/24");
    let t = Ternd::start_in(&dir, &conf, Some(&lan.nodes[0]));
    let dir_b = TempDir::new("aggr-b");
    let bconf = format!(
        r#"router id {bird};
protocol device {{ }}
protocol direct {{ ipv4; interface "eth0"; }}
protocol bgp node {{
  local {bird} as 65002;
  neighbor {me} as 64512;
  hold time 9;
  passive on;
  ipv4 {{ import all; export none; }};
}}
"#
    );
    let b = Bird::start_in(&dir_b, &bconf, Some(&lan.nodes[1]));
    wait_for(CONVERGE, "BIRD to get the block", || {
        b.birdc("show route").contains("10.244.1.0/26").then_some(())
    });
    // Give anything else that would come a moment to arrive.
    std::thread::sleep(Duration::from_secs(2));
    let theirs = b.birdc("show route");
    assert!(!theirs.contains("10.244.1.8/29"), "nothing beneath the block: {theirs}");
    assert!(!theirs.contains("192.0.2.0/24"), "outside every pool: {theirs}");
    let ours = t.birdc("show route");
    for p in ["10.244.1.0/26", "10.244.1.8/29", "192.0.2.0/24"] {
        assert!(ours.contains(p), "ternd keeps {p} itself: {ours}");
    }
    let counts = t.birdc("show protocols all Node_bird");
    assert!(counts.contains("0 imported, 1 exported"), "{counts}");
}
