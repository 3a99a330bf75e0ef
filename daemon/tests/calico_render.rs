//! `ternd calico render`: resources written for these tests
//! (`fixtures/calico/*/resources.yaml`) render to the configuration each
//! node must run, which `ternd --check-config` accepts, and which means
//! what confd's BIRD configuration meant: the same peers, with the same
//! address, port, AS, passive side, reflection, password, timers; the
//! same blocks, pools and advertised ranges. `TERN_BLESS=1` rewrites the
//! expected files after a reviewed change.

use std::path::PathBuf;
use std::process::Command;

use daemon::calico::{derive::derive, resources::Resources};
use daemon::config::{Config, PeerSettings};

fn case(name: &str) -> PathBuf {
    fixtures::data_dir().parent().unwrap().join("calico").join(name)
}

fn render(case_name: &str, node: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ternd"))
        .args(["calico", "render", "--node", node, "--resources"])
        .arg(case(case_name).join("resources.yaml"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn derived(case_name: &str, node: &str) -> Config {
    let mut r = Resources::default();
    let path = case(case_name).join("resources.yaml");
    r.add_text("resources.yaml", &std::fs::read_to_string(path).unwrap())
        .unwrap();
    derive(&r, node).unwrap()
}

fn peer<'a>(c: &'a Config, name: &str) -> &'a PeerSettings {
    c.peers.iter().find(|p| p.name == name).unwrap_or_else(|| {
        panic!(
            "no peer {name}: {:?}",
            c.peers.iter().map(|p| &p.name).collect::<Vec<_>>()
        )
    })
}

#[test]
fn every_node_renders_as_expected_and_checks() {
    for (c, nodes) in [
        ("mesh", ["kube-master", "kube-node-1", "kube-node-2"]),
        ("reflector", ["kube-master", "kube-node-1", "kube-node-2"]),
    ] {
        for n in nodes {
            let (ok, text, err) = render(c, n);
            assert!(ok, "{c}/{n}: {err}");
            let want = case(c).join(format!("{n}.toml"));
            if std::env::var_os("TERN_BLESS").is_some() {
                std::fs::write(&want, &text).unwrap();
            }
            assert_eq!(text, std::fs::read_to_string(&want).unwrap(), "{c}/{n}");
            // What is printed reads back as what was derived.
            assert_eq!(
                daemon::config::parse("rendered", &text).unwrap(),
                derived(c, n),
                "{c}/{n}"
            );
            let check = Command::new(env!("CARGO_BIN_EXE_ternd"))
                .arg("--check-config")
                .arg(&want)
                .output()
                .unwrap();
            assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
        }
    }
}

#[test]
fn the_mesh_means_what_confds_mesh_meant() {
    let m = derived("mesh", "kube-master");
    assert_eq!(
        (m.router_id.to_string(), m.asn.0, m.cluster_id),
        ("10.192.0.2".into(), 64512, None)
    );
    // Calico's passive rule: passive towards a higher address as a string.
    let n1 = peer(&m, "Mesh_10_192_0_3");
    assert!(n1.passive, "\"10.192.0.3\" > \"10.192.0.2\"");
    let n2 = peer(&m, "Mesh_10_192_0_10");
    assert!(!n2.passive, "\"10.192.0.10\" < \"10.192.0.2\" as strings");
    // The other node's own port and AS; our address as the source.
    assert_eq!((n2.port, n2.asn.0), (1179, 64513));
    assert_eq!(n1.local_address, Some("10.192.0.2".parse().unwrap()));
    // The mesh password from the Secret, the restart time from the config.
    assert_eq!(
        (n1.password.as_deref(), n1.graceful_restart),
        (Some("mesh-secret"), Some(90))
    );
    // IPv6 mesh between the nodes that have IPv6.
    let v6 = peer(&m, "Mesh_fd00_192__3");
    assert_eq!(v6.local_address, Some("fd00:192::2".parse().unwrap()));
    assert_eq!(m.peers.len(), 3);
    // Blocks: the confirmed one; not the pending one nor the /32.
    let statics: Vec<String> = m.statics.iter().map(|s| s.prefix.to_string()).collect();
    assert_eq!(statics, vec!["192.168.221.64/26", "10.101.0.0/16"]);
    assert!(m.statics[1].export, "a service range is advertised outside the pools");
    assert!(!m.pools[1].export, "disableBGPExport");
    let f = m.export_filter();
    assert!(f.allows(&"192.168.221.64/26".parse().unwrap()));
    assert!(!f.allows(&"192.168.221.70/32".parse().unwrap()), "calico_aggr");
    assert!(f.allows(&"10.101.0.10/32".parse().unwrap()), "within a service range");
    assert!(
        !f.allows(&"172.30.1.0/26".parse().unwrap()),
        "a pool that is not exported"
    );
    assert!(m.kernel.as_ref().is_some_and(|k| k.learn && k.persist && k.merge_paths));
    // prefixAdvertisements: names resolved, literal values kept, each once.
    let adv = &m.advertise[0];
    assert_eq!(adv.prefix.to_string(), "192.168.0.0/16");
    let cs: Vec<String> = adv
        .communities
        .iter()
        .map(|c| format!("{}:{}", c.0 >> 16, c.0 & 0xffff))
        .collect();
    assert_eq!(cs, vec!["100:6532", "5663:12"]);
    assert_eq!(
        (adv.large[0].global, adv.large[0].local1, adv.large[0].local2),
        (100, 555, 107)
    );
    // kube-node-2 has no IPv6: no IPv6 peers, listens on its own port.
    let n2c = derived("mesh", "kube-node-2");
    assert_eq!(n2c.peers.len(), 2);
    assert_eq!(n2c.listen[0].port(), 1179);
    assert!(
        peer(&n2c, "Mesh_10_192_0_2").passive,
        "\"10.192.0.2\" > \"10.192.0.10\""
    );
}

#[test]
fn reflectors_and_bgppeers_mean_what_confds_meant() {
    let rr = derived("reflector", "kube-master");
    assert_eq!(rr.cluster_id.map(|c| c.0.to_string()), Some("10.0.0.1".into()));
    // No mesh; every client from the reverse side of the selector peering.
    for c in ["Node_10_192_0_3", "Node_10_192_0_4"] {
        let p = peer(&rr, c);
        assert!(p.rr_client && !p.passive, "{c}");
    }
    let client = derived("reflector", "kube-node-1");
    let up = peer(&client, "Node_10_192_0_2");
    assert!(!up.rr_client && up.local_address == Some("10.192.0.3".parse().unwrap()));
    // The global peer with every knob.
    let tor = peer(&client, "Global_172_19_4_87");
    let own = peer(&client, "Global_172_19_4_88");
    assert_eq!(tor.asn.0, 64533);
    assert_eq!(tor.password.as_deref(), Some("tor-secret"));
    assert_eq!(tor.local_address, None, "sourceAddress: None");
    assert_eq!(
        (tor.graceful_restart, tor.keepalive, tor.ttl_security),
        (Some(10), Some(20), Some(1))
    );
    assert_eq!((tor.allow_local_as, tor.next_hop_self), (1, true));
    assert!(!tor.rr_client, "another AS is no client");
    // BGPFilters in the order the peer names them, each family apart.
    use rib::filter::{Action, MatchOp, Op, PeerType};
    let import = tor.import.as_ref().expect("import rules");
    let r: Vec<_> = import.rules.iter().map(|r| (r.ipv6, r.cidr, r.action)).collect();
    assert_eq!(
        r,
        [
            (
                false,
                Some(("10.0.0.0/8".parse().unwrap(), MatchOp::NotIn)),
                Action::Reject
            ),
            (
                false,
                Some(("10.96.0.0/12".parse().unwrap(), MatchOp::In)),
                Action::Accept
            ),
            (
                true,
                Some(("fd00::/8".parse().unwrap(), MatchOp::Equal)),
                Action::Reject
            ),
        ]
    );
    // prefixLength min alone: up to the family's longest.
    assert_eq!((import.rules[1].min_len, import.rules[1].max_len), (Some(24), Some(32)));
    let export = tor.export.as_ref().expect("export rules");
    assert!(export.rules[0].remote_only && export.rules[0].min_len == Some(26));
    let e = &export.rules[1];
    assert_eq!(
        (e.interface.as_deref(), e.peer_type, e.priority, e.as_path_prefix.len()),
        (Some("cali*"), Some(PeerType::Ebgp), Some(512), 1)
    );
    assert_eq!(e.ops.len(), 2);
    assert!(matches!(e.ops[1], Op::SetPriority(256)));
    assert!(own.import.is_none() && own.export.is_none(), "no filters named");
    // localASNumber: our AS towards that peer.
    assert_eq!((own.asn.0, own.local_asn.map(|a| a.0)), (64533, Some(65100)));
    assert_eq!(tor.local_asn, None);
    // A node-specific peer on another port, for the node its selector picks.
    let rack = peer(&client, "Node_10_192_0_9_port_1179");
    assert_eq!(rack.port, 1179);
    // reachableBy: a route to the peer through the gateway, not exported.
    let via: Vec<_> = client.statics.iter().filter(|s| s.via.is_some()).collect();
    assert_eq!(via.len(), 1);
    assert_eq!(
        (
            via[0].prefix.to_string(),
            via[0].via.map(|v| v.to_string()),
            via[0].export
        ),
        ("10.192.0.9/32".into(), Some("10.192.0.1".into()), false)
    );
    assert!(
        !derived("reflector", "kube-node-2")
            .statics
            .iter()
            .any(|s| s.via.is_some()),
        "only where the peering is"
    );
    assert!(!derived("reflector", "kube-node-2")
        .peers
        .iter()
        .any(|p| p.name.contains("10_192_0_9")));
    assert!(
        !client.peers.iter().any(|p| p.name.contains("10_192_0_99")),
        "a selector that picks nobody"
    );
}

#[test]
fn local_workloads_felix_names_become_passive_peers() {
    // Felix's endpoint status files name the workloads a BGPPeer's
    // localWorkloadSelector selects; one file names no BGPPeer.
    let mut r = Resources::default();
    let path = case("reflector").join("resources.yaml");
    r.add_text("resources.yaml", &std::fs::read_to_string(path).unwrap())
        .unwrap();
    r.workloads = daemon::calico::endpoint_status::read(&case("reflector").join("endpoint-status"));
    assert_eq!(r.workloads.len(), 1);
    let c = derive(&r, "kube-node-1").unwrap();
    let p = peer(&c, "Local_Workload_192_168_1_10");
    assert_eq!(p.address.to_string(), "192.168.1.10");
    assert!(p.passive && p.local_address.is_none(), "passive, no source address");
    assert_eq!((p.asn.0, p.local_asn.map(|a| a.0)), (65020, Some(65021)));
    assert!(p.import.is_some() && p.export.is_none(), "its BGPFilter");
    assert!(!c.peers.iter().any(|p| p.name.contains("192_168_1_11")));
    // The node has no IPv6 address: the workload's IPv6 peering is not made.
    assert!(!c.peers.iter().any(|p| p.name.contains("fd00")));
    // The same through the command line, and only where Felix named them.
    let out = Command::new(env!("CARGO_BIN_EXE_ternd"))
        .args(["calico", "render", "--node", "kube-node-1", "--resources"])
        .arg(case("reflector").join("resources.yaml"))
        .arg("--endpoint-status")
        .arg(case("reflector").join("endpoint-status"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("name = \"Local_Workload_192_168_1_10\""),
        "{text}"
    );
    assert!(!derived("reflector", "kube-node-1")
        .peers
        .iter()
        .any(|p| p.name.starts_with("Local_")));
}

#[test]
fn bad_input_names_the_resource_and_field() {
    let dir = std::env::temp_dir().join(format!("tern-calico-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(case("reflector").join("resources.yaml")).unwrap();
    for (bad, want) in [
        (
            text.replace("asNumber: 64533", "asNumber: sixty"),
            "BGPPeer tor: spec.asNumber",
        ),
        (
            text.replace("rack == 'z'", "rack = 'z'"),
            "BGPPeer nobody: spec.nodeSelector",
        ),
        (
            text.replace("ipv4Address: 10.192.0.4/16", "ipv4Address: 10.192.0.400/16"),
            "Node kube-node-2: spec.bgp.ipv4Address",
        ),
        (
            text.replace("maxRestartTime: 10s", "maxRestartTime: ten"),
            "BGPPeer tor: spec.maxRestartTime",
        ),
        (
            text.replace("reachableBy: 10.192.0.1", "reachableBy: fd00::1"),
            "BGPPeer rack-a-router: spec.reachableBy",
        ),
        (
            text.replace("matchOperator: NotIn", "matchOperator: Outside"),
            "BGPFilter tor-in: spec.importV4[0].matchOperator",
        ),
        (
            text.replace("  - tor-out\n", "  - tor-gone\n"),
            "BGPPeer tor: spec.filters: no BGPFilter \"tor-gone\"",
        ),
        (
            text.replace("apiVersion: v1\nkind: Secret", "apiVersion: v2\nkind: Secret"),
            "Secret bgp-secrets: apiVersion",
        ),
    ] {
        let f = dir.join("bad.yaml");
        std::fs::write(&f, &bad).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ternd"))
            .args(["calico", "render", "--node", "kube-node-1", "--resources"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{want}: {err}");
        assert!(err.contains(want), "{want}: {err}");
    }
    let (ok, _, err) = render("reflector", "kube-node-9");
    assert!(!ok && err.contains("Node kube-node-9: no such node"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
