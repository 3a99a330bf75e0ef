//! The device under test: one configuration per implementation, generated
//! from the same peer list, every peer passive on the device's side (the
//! generators and the observer connect).

use interop::netns::Netns;
use interop::{ternd_bin, Proc, TempDir};

/// The device's AS; peers in it are iBGP.
pub const DUT_AS: u32 = 64512;
/// The cluster ID of a device that reflects.
pub const CLUSTER: &str = "244.0.0.1";

/// A peer of the device.
pub struct Peer {
    pub name: String,
    pub addr: String,
    pub asn: u32,
}

/// What the device is configured with.
pub struct Setup {
    pub addr: String,
    /// Reflect: every iBGP peer is a client.
    pub reflector: bool,
    pub peers: Vec<Peer>,
}

pub fn start(which: &str, dir: &TempDir, ns: &Netns, s: &Setup) -> Option<Proc> {
    let dut = &s.addr;
    Some(match which {
        "tern" | "tern-base" => {
            let mut conf = format!(
                "router_id = \"{dut}\"\nasn = {DUT_AS}\nlisten = [\"{dut}:179\"]\nctl_socket = \"{}\"\n",
                dir.path("tern.ctl").display()
            );
            if s.reflector {
                conf += &format!("cluster_id = \"{CLUSTER}\"\n");
            }
            for p in &s.peers {
                conf += &format!(
                    "[[peer]]\nname = \"{}\"\naddress = \"{}\"\nasn = {}\npassive = true\nadd_path = false\nrr_client = {}\n",
                    p.name,
                    p.addr,
                    p.asn,
                    s.reflector && p.asn == DUT_AS
                );
            }
            let cfg = dir.write("tern.toml", &conf);
            // `tern-base`: another build of ternd, to compare with in one run.
            let bin = match which {
                "tern" => ternd_bin(),
                _ => std::path::PathBuf::from(std::env::var_os("TERN_BENCH_BASE")?),
            };
            Proc::spawn(
                "ternd",
                ns.command(bin.to_str()?)
                    .arg("--config")
                    .arg(cfg)
                    .env("RUST_LOG", "warn"),
                dir.path("ternd.log"),
            )
        }
        "bird" => {
            let mut conf =
                format!("router id {dut};\nprotocol device {{ }}\nprotocol direct {{ ipv4; interface \"eth0\"; }}\n");
            for p in &s.peers {
                let rr = if s.reflector && p.asn == DUT_AS {
                    format!("rr client; rr cluster id {CLUSTER};")
                } else {
                    String::new()
                };
                conf += &format!(
                    "protocol bgp {} {{ local {dut} as {DUT_AS}; neighbor {} as {}; passive on; {rr} ipv4 {{ import all; export all; }}; }}\n",
                    p.name, p.addr, p.asn
                );
            }
            let cfg = dir.write("bird.conf", &conf);
            Proc::spawn(
                "bird",
                ns.command("bird")
                    .arg("-f")
                    .arg("-c")
                    .arg(cfg)
                    .arg("-s")
                    .arg(dir.path("bird.ctl")),
                dir.path("bird.log"),
            )
        }
        "gobgp" => {
            let mut conf = format!(
                "[global.config]\n  as = {DUT_AS}\n  router-id = \"{dut}\"\n  local-address-list = [\"{dut}\"]\n"
            );
            for p in &s.peers {
                conf += &format!(
                    "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n  [neighbors.transport.config]\n    passive-mode = true\n",
                    p.addr, p.asn
                );
                if s.reflector && p.asn == DUT_AS {
                    conf += &format!(
                        "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    route-reflector-cluster-id = \"{CLUSTER}\"\n"
                    );
                }
            }
            let cfg = dir.write("gobgpd.toml", &conf);
            Proc::spawn(
                "gobgpd",
                ns.command("gobgpd").arg("-f").arg(cfg).args([
                    "--api-hosts",
                    "127.0.0.1:50299",
                    "--pprof-disable",
                    "-l",
                    "warn",
                ]),
                dir.path("gobgpd.log"),
            )
        }
        "frr" => {
            let mut conf = format!(
                "frr defaults traditional\nhostname dut\nrouter bgp {DUT_AS}\n bgp router-id {dut}\n no bgp ebgp-requires-policy\n"
            );
            if s.reflector {
                conf += &format!(" bgp cluster-id {CLUSTER}\n");
            }
            for p in &s.peers {
                conf += &format!(
                    " neighbor {a} remote-as {} \n neighbor {a} passive\n",
                    p.asn,
                    a = p.addr
                );
            }
            if s.reflector {
                conf += " address-family ipv4 unicast\n";
                for p in s.peers.iter().filter(|p| p.asn == DUT_AS) {
                    conf += &format!("  neighbor {} route-reflector-client\n", p.addr);
                }
                conf += " exit-address-family\n";
            }
            conf += "exit\n";
            interop::Frr::start_in(dir, &conf, dut, 179, Some(ns)).proc
        }
        _ => return None,
    })
}
