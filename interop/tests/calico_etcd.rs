//! `ternd --calico` against a real etcd: three Calico nodes and a route
//! reflector, each a `ternd --calico` in its own network namespace,
//! configured only by the resources written to etcd as Calico stores them
//! (calico.md §3.2). Each change is timed from the moment `etcdctl` has
//! written it to the moment the kernel route (or the session) changes on
//! the other nodes; the table is printed for the note.
//!
//! The changes, in order: the mesh forms and installs every block; a
//! block affinity is added; a node gets its own AS (its sessions become
//! eBGP, the others stay); it goes back; a reflector node and a
//! `peerSelector` BGPPeer come, then the mesh is turned off (sessions move
//! to the reflector, the reflector's stay up, no kernel route goes); etcd
//! is stopped for 30 s (routing carries on) and comes back (a change
//! made then applies); malformed resources are logged by key and skipped,
//! and a later change still applies; a BGPFilter named by the reflector
//! BGPPeer takes one block away from the other nodes, with no session
//! restarting, and gives it back when no longer named.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use interop::etcd::{Etcd, Written};
use interop::netns::{skip_without, Lan};
use interop::{birdc, wait_every, wait_for, TempDir, Ternd};

const NET: u8 = 55;
const RES: &str = "/calico/resources/v3/projectcalico.org";

fn node_json(name: &str, ip: &str, extra_bgp: &str, labels: &str) -> String {
    format!(
        r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"{name}","labels":{{{labels}}}}},"spec":{{"bgp":{{"ipv4Address":"{ip}/24"{extra_bgp}}}}}}}"#
    )
}

fn config_json(mesh: bool) -> String {
    format!(
        r#"{{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{{"name":"default"}},"spec":{{"logSeverityScreen":"Info","nodeToNodeMeshEnabled":{mesh},"asNumber":64512}}}}"#
    )
}

fn block_key(node: &str, block: &str) -> String {
    format!("/calico/ipam/v2/host/{node}/ipv4/block/{}", block.replace('/', "-"))
}

/// How often a timed step asks (each ask runs birdc on each node).
const FINE: Duration = Duration::from_millis(2);

const CONFIRMED: &str = r#"{"state":"confirmed","deleted":false}"#;

/// `ip route show PREFIX proto bird` in node `i`'s namespace.
fn route(lan: &Lan, i: usize, prefix: &str) -> String {
    interop::run(
        lan.nodes[i]
            .command("ip")
            .args(["route", "show", prefix, "proto", "bird"]),
    )
}

/// The `since` column of protocol `name` (when its state last changed).
fn since(t: &Ternd, name: &str) -> String {
    let out = t.birdc(&format!("show protocols {name}"));
    out.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(4))
        .unwrap_or("")
        .to_string()
}

fn neighbor_as(t: &Ternd, name: &str) -> Option<String> {
    let out = t.birdc(&format!("show protocols all {name}"));
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Neighbor AS:"))
        .map(|s| s.trim().to_string())
}

fn established(t: &Ternd, name: &str) -> bool {
    t.bgp_state(name).as_deref() == Some("Established")
}

#[test]
fn calico_nodes_follow_etcd_live() {
    if skip_without(&["etcd", "etcdctl", "birdc"]) {
        return;
    }
    let lan = Lan::new(NET, 5);
    let ip = |i: usize| lan.v4(i);
    let dir = TempDir::new("calico-etcd");
    let mut etcd = Etcd::start(&dir, &lan.nodes[4], &ip(4));
    let ep = etcd.endpoint();
    let names = ["n1", "n2", "n3"];
    let blocks = ["192.168.1.0/26", "192.168.2.0/26", "192.168.3.0/26"];
    let mut times = Times::default();

    // The cluster as Calico stores it, before any node starts.
    etcd.put(&format!("{RES}/bgpconfigurations/default"), &config_json(true));
    etcd.put(
        &format!("{RES}/ippools/default-ipv4-ippool"),
        r#"{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"default-ipv4-ippool"},"spec":{"cidr":"192.168.0.0/16","ipipMode":"Never","vxlanMode":"Never","blockSize":26,"nodeSelector":"all()"}}"#,
    );
    for i in 0..3 {
        etcd.put(
            &format!("{RES}/nodes/{}", names[i]),
            &node_json(names[i], &ip(i), "", ""),
        );
        etcd.put(&block_key(names[i], blocks[i]), CONFIRMED);
    }
    let dirs: Vec<TempDir> = (0..4).map(|i| TempDir::new(&format!("calico-etcd-n{i}"))).collect();
    // Built before the clock starts.
    interop::ternd_bin();
    let start = Instant::now();
    let nodes: Vec<Ternd> = (0..3)
        .map(|i| Ternd::start_calico(&dirs[i], Some(&lan.nodes[i]), names[i], &ep))
        .collect();
    // The reflector runs as calico-node's runit services start BIRD:
    // `bird` and `bird6`, from the environment. It has no Node resource
    // yet: it waits.
    let (rr, bird6) = as_bird(&dirs[3], &lan.nodes[3], "rr", &ep);

    // 1. The mesh forms and every node installs the others' blocks.
    wait_for(
        Duration::from_secs(30),
        "every block in every other node's kernel",
        || {
            (0..3)
                .all(|i| {
                    (0..3)
                        .filter(|&j| j != i)
                        .all(|j| route(&lan, i, blocks[j]).contains(&format!("via {}", ip(j))))
                })
                .then_some(())
        },
    );
    times.start("start: mesh up, every block in every kernel", start.elapsed());
    // Sessions wait the FSM's start delay (about 2 s) before their first
    // attempt; much longer means attempts failed: show why.
    if start.elapsed() > Duration::from_secs(10) {
        for n in &nodes {
            let log = n.proc.log();
            let why: Vec<&str> = log
                .lines()
                .filter(|l| {
                    ["state", "rror", "NOTIFICATION", "listen", "sync"]
                        .iter()
                        .any(|w| l.contains(w))
                })
                .collect();
            eprintln!("---- slow start, {}:\n{}", n.proc.log.display(), why.join("\n"));
        }
    }
    let mesh = |j: usize| format!("Mesh_{}", ip(j).replace('.', "_"));
    assert!(established(&nodes[0], &mesh(1)));
    // Calico's tools read the IPv4 socket: the mesh peers, by their names.
    let v4 = birdc("birdc", &dirs[0].path("run").join("bird.ctl"), "show protocols");
    assert!(v4.contains(&mesh(1)) && v4.contains(&mesh(2)), "{v4}");
    assert!(
        nodes[0].proc.log().contains("datastore in sync"),
        "{}",
        nodes[0].proc.log()
    );
    assert!(
        rr.proc.log().contains("node rr has no configuration yet"),
        "{}",
        rr.proc.log()
    );
    assert!(!rr.ctl.exists(), "the reflector started with no configuration");
    // calicoctl looks for processes whose argv[0] is `bird` and `bird6`.
    assert_eq!(argv0(rr.proc.pid()), "bird");
    assert_eq!(argv0(bird6.pid()), "bird6");

    // 2. A block affinity is added: its route reaches the other kernels.
    let watches: Vec<_> = (0..3).map(|i| interop::kernel::watch(&lan.nodes[i], 12)).collect();
    for w in &watches[1..] {
        w.reset(1);
    }
    let t = etcd.put_timed(&block_key("n1", "192.168.11.0/26"), CONFIRMED);
    let at = |w: &interop::kernel::Watch| *w.added_at.lock().unwrap();
    let added = wait_for(Duration::from_secs(10), "the new block on n2 and n3", || {
        match (at(&watches[1]), at(&watches[2])) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    });
    times.push("block affinity added → route in the other kernels", &t, added);
    assert!(route(&lan, 1, "192.168.11.0/26").contains(&format!("via {}", ip(0))));

    // 3. n3 gets its own AS: n1's session with n3 becomes eBGP; n1–n2 stays.
    let n1_n2 = since(&nodes[0], &mesh(1));
    for w in &watches {
        w.reset(usize::MAX);
    }
    let t = etcd.put_timed(
        &format!("{RES}/nodes/n3"),
        &node_json("n3", &ip(2), r#","asNumber":64513"#, ""),
    );
    wait_every(Duration::from_secs(20), FINE, "n1–n3 as eBGP (AS 64513)", || {
        (neighbor_as(&nodes[0], &mesh(2)).as_deref() == Some("64513") && established(&nodes[0], &mesh(2))).then_some(())
    });
    times.push(
        "node asNumber set → its sessions re-established as eBGP",
        &t,
        Instant::now(),
    );
    wait_for(Duration::from_secs(20), "n3's block back in n1's kernel", || {
        route(&lan, 0, blocks[2])
            .contains(&format!("via {}", ip(2)))
            .then_some(())
    });
    assert_eq!(since(&nodes[0], &mesh(1)), n1_n2, "n1–n2 was not to restart");
    assert!(established(&nodes[0], &mesh(1)));
    // n3's session restarted, so its block went and came back; n1's and
    // n2's routes to each other's blocks did not go.
    for (i, w) in watches.iter().enumerate().take(2) {
        assert_eq!(
            w.removed.load(Ordering::SeqCst),
            1,
            "node {i}: only n3's block was to go and come back"
        );
    }
    // And back to the cluster's AS.
    etcd.put(&format!("{RES}/nodes/n3"), &node_json("n3", &ip(2), "", ""));
    wait_for(Duration::from_secs(20), "n1–n3 as iBGP again", || {
        (neighbor_as(&nodes[0], &mesh(2)).as_deref() == Some("64512") && established(&nodes[0], &mesh(2))).then_some(())
    });

    // 4. A reflector and a peerSelector BGPPeer; then the mesh goes.
    let rr_name = format!("Node_{}", ip(3).replace('.', "_"));
    let t = etcd.put_timed(
        &format!("{RES}/nodes/rr"),
        &node_json(
            "rr",
            &ip(3),
            r#","routeReflectorClusterID":"224.0.0.1""#,
            r#""routeReflector":"true""#,
        ),
    );
    etcd.put(
        &format!("{RES}/bgppeers/peer-with-rr"),
        r#"{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"peer-with-rr"},"spec":{"nodeSelector":"all()","peerSelector":"has(routeReflector)"}}"#,
    );
    wait_every(Duration::from_secs(30), FINE, "every node with the reflector", || {
        nodes.iter().all(|n| established(n, &rr_name)).then_some(())
    });
    times.push(
        "reflector node + peerSelector BGPPeer → sessions up",
        &t,
        Instant::now(),
    );
    wait_for(Duration::from_secs(10), "the reflector's socket", || {
        rr.ctl.exists().then_some(())
    });
    let rr_since: Vec<String> = nodes.iter().map(|n| since(n, &rr_name)).collect();
    for w in &watches {
        w.reset(usize::MAX);
    }
    let t = etcd.put_timed(&format!("{RES}/bgpconfigurations/default"), &config_json(false));
    wait_every(Duration::from_secs(20), FINE, "the mesh sessions gone", || {
        nodes
            .iter()
            .all(|n| !n.birdc("show protocols").contains("Mesh_"))
            .then_some(())
    });
    times.push("nodeToNodeMeshEnabled: false → mesh sessions gone", &t, Instant::now());
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            since(n, &rr_name),
            rr_since[i],
            "node {i}'s reflector session was not to restart"
        );
        for j in (0..3).filter(|&j| j != i) {
            assert!(
                route(&lan, i, blocks[j]).contains(&format!("via {}", ip(j))),
                "node {i} lost {}",
                blocks[j]
            );
        }
        assert_eq!(
            watches[i].removed.load(Ordering::SeqCst),
            0,
            "node {i}: a kernel route went"
        );
    }
    let v4 = birdc("birdc", &dirs[0].path("run").join("bird.ctl"), "show protocols");
    assert!(v4.contains(&rr_name) && !v4.contains("Mesh_"), "{v4}");
    // The reflector, started as `bird -s …/bird.ctl`, answers on both of
    // BIRD's sockets there; `bird6` is still holding its name.
    let rr_run = dirs[3].path("run");
    let node_name = |j: usize| format!("Node_{}", ip(j).replace('.', "_"));
    let rr4 = birdc("birdc", &rr_run.join("bird.ctl"), "show protocols");
    assert!((0..3).all(|j| rr4.contains(&node_name(j))), "{rr4}");
    let rr6 = birdc("birdc", &rr_run.join("bird6.ctl"), "show status");
    assert!(rr6.contains("Daemon is up and running"), "{rr6}");
    assert_eq!(argv0(bird6.pid()), "bird6");

    // 5. etcd away for 30 s: sessions and routes stay; then it resyncs.
    etcd.stop();
    let away = Instant::now();
    while away.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_secs(2));
        for (i, n) in nodes.iter().enumerate() {
            assert!(
                established(n, &rr_name),
                "node {i} lost the reflector while etcd was away"
            );
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        assert!(
            n.proc.log().contains("routing carries on"),
            "node {i}: {}",
            n.proc.log()
        );
        for j in (0..3).filter(|&j| j != i) {
            assert!(route(&lan, i, blocks[j]).contains("via"), "node {i} lost {}", blocks[j]);
        }
    }
    etcd.resume();
    watches[0].reset(1);
    let t = etcd.put_timed(&block_key("n2", "192.168.12.0/26"), CONFIRMED);
    let added = wait_for(Duration::from_secs(30), "n2's new block on n1 after the outage", || {
        at(&watches[0])
    });
    times.push("after 30 s without etcd: block added → route on n1", &t, added);
    assert!(nodes[1].proc.log().contains("datastore in sync again"));

    // 6. Malformed resources are logged with their key and skipped.
    let broken = format!("{RES}/bgppeers/broken");
    etcd.put(
        &broken,
        r#"{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"broken"},"spec":{"peerIP":"not-an-address"}}"#,
    );
    let garbage = format!("{RES}/nodes/garbage");
    etcd.put(&garbage, "{not json");
    wait_for(Duration::from_secs(10), "both logged by key on every node", || {
        nodes
            .iter()
            .all(|n| {
                let log = n.proc.log();
                log.contains(&format!("skipping {broken}")) && log.contains(&format!("skipping {garbage}"))
            })
            .then_some(())
    });
    watches[1].reset(usize::MAX);
    let t = etcd.delete(&block_key("n1", "192.168.11.0/26"));
    wait_for(Duration::from_secs(10), "n1's extra block gone from n2", || {
        route(&lan, 1, "192.168.11.0/26").trim().is_empty().then_some(())
    });
    let gone = watches[1].removed_at.lock().unwrap().expect("a removal seen");
    times.push("after malformed keys: block deleted → route gone elsewhere", &t, gone);
    for (i, n) in nodes.iter().enumerate() {
        assert!(established(n, &rr_name), "node {i}");
        assert!(!n.proc.log().contains("panicked"), "node {i}");
    }

    // 7. A BGPFilter that rejects n3's block, named by the reflector
    //    BGPPeer: the block leaves n1 and n2, no session restarts; named no
    //    more, it comes back.
    let rr_since: Vec<String> = nodes.iter().map(|n| since(n, &rr_name)).collect();
    etcd.put(
        &format!("{RES}/bgpfilters/no-block-3"),
        r#"{"kind":"BGPFilter","apiVersion":"projectcalico.org/v3","metadata":{"name":"no-block-3"},"spec":{"exportV4":[{"cidr":"192.168.3.0/26","matchOperator":"Equal","action":"Reject"}]}}"#,
    );
    for w in &watches[..2] {
        w.reset(usize::MAX);
    }
    let peering = |filters: &str| {
        format!(
            r#"{{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{{"name":"peer-with-rr"}},"spec":{{"nodeSelector":"all()","peerSelector":"has(routeReflector)","filters":[{filters}]}}}}"#
        )
    };
    let t = etcd.put_timed(&format!("{RES}/bgppeers/peer-with-rr"), &peering(r#""no-block-3""#));
    let gone = wait_for(Duration::from_secs(10), "n3's block gone from n1 and n2", || {
        let a = *watches[0].removed_at.lock().unwrap();
        let b = *watches[1].removed_at.lock().unwrap();
        (route(&lan, 0, blocks[2]).trim().is_empty() && route(&lan, 1, blocks[2]).trim().is_empty())
            .then(|| a.max(b))
            .flatten()
    });
    times.push("BGPFilter named by the BGPPeer → filtered block gone", &t, gone);
    assert!(
        route(&lan, 0, blocks[1]).contains("via"),
        "only the filtered block goes"
    );
    for w in &watches[..2] {
        w.reset(1);
    }
    let t = etcd.put_timed(&format!("{RES}/bgppeers/peer-with-rr"), &peering(""));
    let back = wait_for(Duration::from_secs(10), "n3's block back on n1 and n2", || {
        match (at(&watches[0]), at(&watches[1])) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    });
    times.push("filter no longer named → block back", &t, back);
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            since(n, &rr_name),
            rr_since[i],
            "node {i}: export rules change no session"
        );
    }

    // 8. A global BGPPeer reachableBy a gateway: every node routes to the
    //    peer through it (in the kernel, as BIRD's static protocol did),
    //    and the route goes with the peer.
    let tor = format!("{RES}/bgppeers/tor");
    for w in &watches {
        w.reset(1);
    }
    let t = etcd.put_timed(
        &tor,
        &format!(
            r#"{{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{{"name":"tor"}},"spec":{{"peerIP":"10.9.9.9","asNumber":65010,"reachableBy":"{}"}}}}"#,
            ip(4)
        ),
    );
    let via = format!("via {}", ip(4));
    wait_for(Duration::from_secs(10), "the route to the peer on every node", || {
        (0..4)
            .all(|i| route(&lan, i, "10.9.9.9/32").contains(&via))
            .then_some(())
    });
    let last = |f: &dyn Fn(&interop::kernel::Watch) -> Option<Instant>| {
        watches.iter().map(|w| f(w).expect("seen by the watch")).max().unwrap()
    };
    times.push(
        "BGPPeer with reachableBy → route to the peer in every kernel",
        &t,
        last(&|w| at(w)),
    );
    assert!(nodes[0].birdc("show protocols").contains("Global_10_9_9_9"));
    for w in &watches {
        w.reset(usize::MAX);
    }
    let t = etcd.delete(&tor);
    wait_for(Duration::from_secs(10), "the route to the peer gone", || {
        (0..4)
            .all(|i| route(&lan, i, "10.9.9.9/32").trim().is_empty())
            .then_some(())
    });
    times.push(
        "that BGPPeer deleted → its route gone",
        &t,
        last(&|w| *w.removed_at.lock().unwrap()),
    );

    // 9. A local workload peer (a VM in a pod that speaks BGP): a BGPPeer
    //    with localWorkloadSelector, and Felix's status file naming the pod
    //    on n1. n1 waits for it (passive), the pod connects, and the
    //    range it announces reaches n2's kernel through the reflector.
    etcd.put(
        &format!("{RES}/bgppeers/vm-peers"),
        r#"{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"vm-peers"},"spec":{"localWorkloadSelector":"kubevirt.io == 'virt-launcher'","asNumber":65050}}"#,
    );
    let pod = lan.nodes[0].pod("cali0vm", "10.201.0.1/24", "10.201.0.2/24");
    let vm_dir = TempDir::new("calico-etcd-vm");
    let _vm = Ternd::start_in(
        &vm_dir,
        "router_id = \"10.201.0.2\"\nasn = 65050\nctl_socket = \"{CTL}\"\n\
         [[static]]\nprefix = \"192.168.200.0/28\"\nblackhole = true\nexport = true\n\
         [[peer]]\nname = \"node\"\naddress = \"10.201.0.1\"\nasn = 64512\nconnect_retry = 1\n",
        Some(&pod),
    );
    let status = dirs[0].path("endpoint-status");
    std::fs::create_dir_all(&status).unwrap();
    watches[1].reset(1);
    let written = Instant::now();
    std::fs::write(
        status.join("n1-k8s-vms-virt--launcher--vm1-eth0"),
        r#"{"ifaceName":"cali0vm","mac":"ee:ee:ee:ee:ee:ee","ipv4Nets":["10.201.0.2/32"],"ipv6Nets":[],"bgpPeerName":"vm-peers"}"#,
    )
    .unwrap();
    let w = Written {
        before: written,
        after: Instant::now(),
    };
    let got = wait_for(Duration::from_secs(20), "the VM's range in n2's kernel", || {
        at(&watches[1])
    });
    times.push("endpoint status file (local workload) → its range on n2", &w, got);
    assert!(route(&lan, 1, "192.168.200.0/28").contains(&format!("via {}", ip(0))));
    assert!(established(&nodes[0], "Local_Workload_10_201_0_2"));
    assert!(
        !nodes[1].birdc("show protocols").contains("Local_Workload"),
        "only the node Felix named it on"
    );

    println!("\nchange (etcd write → effect on the other nodes)           time");
    for (what, t) in &times.0 {
        println!("{what:<62} {t}");
    }
}

/// `bird` and `bird6` (ternd under BIRD's names, found on PATH as runit
/// finds them) with calico-node's arguments and environment; `bird -p`,
/// confd's config check, succeeds first.
fn as_bird(dir: &TempDir, ns: &interop::netns::Netns, node: &str, ep: &str) -> (Ternd, interop::Proc) {
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["bird", "bird6"] {
        std::os::unix::fs::symlink(interop::ternd_bin(), bin.join(name)).unwrap();
    }
    let run_dir = dir.path("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let start = |name: &str, extra: &[&str]| {
        let mut c = ns.command(name);
        c.args(extra)
            .arg("-s")
            .arg(run_dir.join(format!("{name}.ctl")))
            .args(["-d", "-c", &format!("/etc/calico/confd/config/{name}.cfg")])
            .env("PATH", &path)
            .env("DATASTORE_TYPE", "etcdv3")
            .env("ETCD_ENDPOINTS", ep)
            .env("NODENAME", node)
            .env("RUST_LOG", "info,daemon=debug");
        c
    };
    let st = start("bird", &["-p"]).status().unwrap();
    assert!(st.success(), "bird -p: {st}");
    let bird = interop::Proc::spawn("bird", &mut start("bird", &["-R"]), dir.path("ternd.log"));
    let bird6 = interop::Proc::spawn("bird6", &mut start("bird6", &["-R"]), dir.path("bird6.log"));
    (
        Ternd {
            proc: bird,
            ctl: run_dir.join("tern.ctl"),
        },
        bird6,
    )
}

/// A process's argv[0], as calicoctl's process check reads it.
fn argv0(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(raw.split(|b| *b == 0).next().unwrap_or_default()).into_owned()
}

/// The timed changes, printed as they happen too (a failure later still
/// shows them): from the write to the effect, as a range (etcd had the
/// write between etcdctl's start and its exit).
#[derive(Default)]
struct Times(Vec<(String, String)>);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Times {
    fn start(&mut self, what: &str, d: Duration) {
        self.record(what, format!("{:.0} ms", ms(d)));
    }

    fn push(&mut self, what: &str, w: &Written, effect: Instant) {
        let lo = effect.saturating_duration_since(w.after);
        let hi = effect.saturating_duration_since(w.before);
        self.record(what, format!("{:.1}–{:.1} ms", ms(lo), ms(hi)));
    }

    fn record(&mut self, what: &str, t: String) {
        eprintln!("[{what}: {t}]");
        self.0.push((what.to_string(), t));
    }
}
