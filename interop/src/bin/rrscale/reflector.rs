//! The reflector under test, configured as Calico configures its route
//! reflectors: one iBGP client per node, passive, with a cluster ID.
//! BIRD gets confd's template options (multihop, recursive gateway,
//! graceful restart) and a static route that stands in for the IGP, so
//! that it can resolve the nodes' next hops.

use interop::netns::Netns;
use interop::{bird16, ternd_bin, Proc, TempDir};

use crate::client::{node_addr, AS};

const CLUSTER: &str = "244.0.0.1";
/// The timers of confd's `bgp_template`.
const TIMERS: &str = "connect delay time 2; connect retry time 5; error wait time 5,30;";

/// Whether `which` can run here.
pub fn available(which: &str) -> bool {
    match which {
        "tern" => true,
        "bird" => interop::installed("bird"),
        "bird1" => std::path::Path::new(&bird16()).exists(),
        _ => false,
    }
}

/// Starts `which` at `addr` for `nodes` clients; their addresses are
/// reached through `gateway`.
pub fn start(which: &str, dir: &TempDir, ns: &Netns, addr: &str, gateway: &str, nodes: usize) -> Proc {
    // TERN_RRSCALE_LOGS: BIRD logs its sessions' states and events.
    let debug = if std::env::var_os("TERN_RRSCALE_LOGS").is_some() {
        "log stderr all;\ndebug protocols { states, events };\n"
    } else {
        ""
    };
    let peers = (0..nodes).map(|i| (format!("Node_{i}"), node_addr(i).to_string()));
    match which {
        "tern" => {
            let mut conf = format!(
                "router_id = \"{addr}\"\nasn = {AS}\ncluster_id = \"{CLUSTER}\"\nlisten = [\"{addr}:179\"]\nctl_socket = \"{}\"\n",
                dir.path("tern.ctl").display()
            );
            for (name, a) in peers {
                conf += &format!(
                    "[[peer]]\nname = \"{name}\"\naddress = \"{a}\"\nasn = {AS}\npassive = true\nrr_client = true\nadd_path = false\n"
                );
            }
            let cfg = dir.write("tern.toml", &conf);
            // TERN_RRSCALE_HEAPTRACK=FILE: ternd runs under heaptrack (to
            // find what the sessions hold; the figures are then not ternd's).
            let mut cmd = match std::env::var("TERN_RRSCALE_HEAPTRACK") {
                Ok(out) => {
                    let mut c = ns.command("heaptrack");
                    c.args(["-o", &out]).arg(ternd_bin()).env(
                        "GLIBC_TUNABLES",
                        "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536",
                    );
                    c
                }
                Err(_) => ns.command(ternd_bin().to_str().expect("path")),
            };
            Proc::spawn(
                "ternd",
                cmd.arg("--config").arg(cfg).env("RUST_LOG", "warn"),
                dir.path("ternd.log"),
            )
        }
        "bird" => {
            let mut conf = format!(
                "{debug}router id {addr};\nprotocol device {{ }}\n\
                 protocol static {{ ipv4; route 10.201.0.0/16 via {gateway}; }}\n\
                 template bgp calico_rr {{ local {addr} as {AS}; multihop; passive on; rr client; rr cluster id {CLUSTER};\n\
                 graceful restart; {TIMERS} ipv4 {{ gateway recursive; import all; export where source = RTS_BGP; }}; }}\n"
            );
            for (name, a) in peers {
                conf += &format!("protocol bgp {name} from calico_rr {{ neighbor {a} as {AS}; }}\n");
            }
            let cfg = dir.write("bird.conf", &conf);
            Proc::spawn(
                "bird",
                ns.command("bird")
                    .args(["-f", "-c"])
                    .arg(cfg)
                    .arg("-s")
                    .arg(dir.path("bird.ctl")),
                dir.path("bird.log"),
            )
        }
        "bird1" => {
            let mut conf = format!(
                "{debug}router id {addr};\nlisten bgp address {addr};\nprotocol device {{ }}\n\
                 protocol static {{ route 10.201.0.0/16 via {gateway}; }}\n\
                 template bgp calico_rr {{ local as {AS}; source address {addr}; multihop; gateway recursive;\n\
                 passive on; rr client; rr cluster id {CLUSTER}; graceful restart; {TIMERS} import all; export where source = RTS_BGP; }}\n"
            );
            for (name, a) in peers {
                conf += &format!("protocol bgp {name} from calico_rr {{ neighbor {a} as {AS}; }}\n");
            }
            let cfg = dir.write("bird1.conf", &conf);
            Proc::spawn(
                "bird1.6",
                ns.command(&bird16())
                    .args(["-f", "-c"])
                    .arg(cfg)
                    .arg("-s")
                    .arg(dir.path("bird1.ctl")),
                dir.path("bird1.log"),
            )
        }
        other => panic!("unknown reflector {other}"),
    }
}
