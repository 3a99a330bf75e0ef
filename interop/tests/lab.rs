//! `ternd lab` converges in every topology, and routes reflected between
//! ternd nodes carry ORIGINATOR_ID and CLUSTER_LIST as RFC 4456 says.

use std::process::Command;
use std::time::Duration;

use interop::{wait_for, TempDir, Ternd};

fn lab(topology: &str, nodes: usize, net: u8, port: u16) {
    let out = Command::new(interop::ternd_bin())
        .args([
            "lab",
            "--topology",
            topology,
            "--nodes",
            &nodes.to_string(),
            "--duration",
            "0",
            "--timeout",
            "60",
        ])
        .args(["--net", &format!("101.{net}"), "--port", &port.to_string()])
        .output()
        .expect("ternd lab runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains(&format!("converged: every node has all {nodes} blocks")),
        "{text}"
    );
    for i in 2..=nodes {
        assert!(
            text.contains(&format!("10.244.{i}.0/26")),
            "node 1 has block {i}: {text}"
        );
    }
}

#[test]
fn lab_mesh_converges() {
    lab("mesh", 4, 1, 12301);
}

#[test]
fn lab_route_reflectors_converge() {
    lab("rr", 5, 2, 12302);
}

#[test]
fn lab_as_per_node_converges() {
    lab("as-per-node", 4, 3, 12303);
}

fn node(me: &str, peers: &[(&str, bool)], cluster: bool, block: u8) -> String {
    let mut c = format!("router_id = \"{me}\"\nasn = 64512\nlisten = [\"{me}:12310\"]\nctl_socket = \"{{CTL}}\"\n");
    if cluster {
        c += "cluster_id = \"244.0.0.1\"\n";
    }
    for (p, client) in peers {
        c += &format!(
            "[[peer]]\nname = \"Node_{}\"\naddress = \"{p}\"\nport = 12310\nlocal_address = \"{me}\"\npassive = {}\nrr_client = {client}\nconnect_retry = 2\n",
            p.replace('.', "_"),
            *p > me
        );
    }
    c + &format!("[[static]]\nprefix = \"10.244.{block}.0/26\"\nblackhole = true\n")
}

#[test]
fn reflected_routes_carry_originator_id_and_cluster_list() {
    let (rr, a, b) = ("127.0.31.1", "127.0.31.2", "127.0.31.3");
    let (d1, d2, d3) = (TempDir::new("rr"), TempDir::new("rr"), TempDir::new("rr"));
    let _r = Ternd::start(&d1, &node(rr, &[(a, true), (b, true)], true, 1));
    let _a = Ternd::start(&d2, &node(a, &[(rr, false)], false, 2));
    let cb = Ternd::start(&d3, &node(b, &[(rr, false)], false, 3));
    let all = wait_for(Duration::from_secs(40), "client b to learn a's block", || {
        let out = cb.birdc("show route all for 10.244.2.1");
        out.contains("10.244.2.0/26").then_some(out)
    });
    assert!(all.contains(&format!("BGP.originator_id: {a}")), "{all}");
    assert!(all.contains("BGP.cluster_list: 244.0.0.1"), "{all}");
    assert!(
        all.contains(&format!("BGP.next_hop: {a}")),
        "the reflector keeps the next hop: {all}"
    );
    assert!(all.contains(&format!("from {rr}")), "learned from the reflector: {all}");
}

/// `ternd lab --netns`: real kernels, pods that ping each other, also
/// through a `kill -9` and restart of one node.
#[test]
fn lab_netns_pods_reach_each_other_through_a_restart() {
    if interop::netns::skip_without(&["ip", "ping"]) {
        return;
    }
    let out = Command::new(interop::ternd_bin())
        .args(["lab", "--netns", "--nodes", "4", "--duration", "0", "--timeout", "60"])
        .args(["--restart-node", "2"])
        .output()
        .expect("ternd lab --netns runs");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("ping: every pod reaches every other (12 pairs)"),
        "{text}"
    );
    assert!(
        text.contains("10.244.2.0/26 via 10.199.0.2 dev eth0 proto bird"),
        "{text}"
    );
    assert!(text.contains("10.244.1.10/32     dev cali1 [kernel1"), "{text}");
    let worst = text
        .lines()
        .find(|l| l.starts_with("ping during the restart"))
        .and_then(|l| l.split("at most ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(worst.is_some_and(|w| w <= 1), "at most one lost ping per pair: {text}");
}
