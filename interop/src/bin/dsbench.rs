//! Datastore benchmark: a new pod block on one Calico node, from the
//! change to the route in another node's kernel, tern beside Calico's
//! BIRD 1.6.8 in one run.
//!
//! - tern: two `ternd --calico` nodes and etcd, each in a network
//!   namespace; the block affinity is written to etcd by a gRPC client
//!   already connected. The clock starts at the request (and, as a second
//!   figure, at etcd's answer) and stops when the other node's kernel
//!   announces the route on netlink.
//! - BIRD 1.6.8: two BIRD nodes configured as confd renders a mesh; the
//!   block is written into the first node's configuration as confd would
//!   render it, and BIRD is sent SIGHUP (confd's `sv hup bird`). The clock
//!   starts at the SIGHUP. confd's own part (its watch, the render, the
//!   `bird -p` check, the rename) is not here: no confd runs on this
//!   machine. BIRD's figure is therefore a lower bound of Calico's path.
//!
//! `cargo run --release -p interop --bin dsbench` (root; etcd-server,
//! etcd-client, BIRD 1.6.8 unpacked in /opt/tern-bird1.6 by scripts/test).
//! `TERN_BENCH_RUNS=K` changes per device (default 5); min, median, max.

use std::process::Command;
use std::time::{Duration, Instant};

use interop::etcd::Etcd;
use interop::kernel::watch;
use interop::netns::{Lan, Netns};
use interop::{run, wait_for, Proc, TempDir, Ternd};

const RES: &str = "/calico/resources/v3/projectcalico.org";
const BIRD16: &str = "/opt/tern-bird1.6/usr/sbin";

fn main() {
    let runs: usize = std::env::var("TERN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if !interop::netns::available() {
        eprintln!("dsbench needs root (network namespaces)");
        std::process::exit(2);
    }
    for bin in ["etcd", "etcdctl"] {
        if !interop::installed(bin) {
            eprintln!("dsbench needs {bin} (scripts/test installs it)");
            std::process::exit(2);
        }
    }
    let tern = tern(runs);
    let bird: Vec<(f64, f64)> = if std::path::Path::new(&format!("{BIRD16}/bird")).exists() {
        bird16(runs)
    } else {
        eprintln!("no BIRD 1.6.8 in {BIRD16}: scripts/test unpacks it");
        Vec::new()
    };
    println!("\nnew block → route in the other node's kernel, {runs} changes each (ms)");
    println!("{:<44} {:>8} {:>8} {:>8}", "path", "min", "median", "max");
    for (name, v) in [
        (
            "tern: etcd's answer → kernel",
            tern.iter().map(|t| t.0).collect::<Vec<f64>>(),
        ),
        ("tern: etcd request → kernel", tern.iter().map(|t| t.1).collect()),
        ("BIRD 1.6.8: SIGHUP → kernel", bird.iter().map(|b| b.0).collect()),
        (
            "confd's check, `bird -p -c` (BIRD 1.6.8)",
            bird.iter().map(|b| b.1).collect(),
        ),
    ] {
        if v.is_empty() {
            continue;
        }
        let mut v: Vec<f64> = v;
        v.sort_by(f64::total_cmp);
        println!(
            "{name:<44} {:>8.2} {:>8.2} {:>8.2}",
            v[0],
            v[v.len() / 2],
            v[v.len() - 1]
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn node_json(name: &str, ip: &str) -> String {
    format!(
        r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"{name}"}},"spec":{{"bgp":{{"ipv4Address":"{ip}/24"}}}}}}"#
    )
}

/// tern: rounds of a new block affinity for n1, timed to n2's kernel
/// from etcd's answer to the put and from the request.
fn tern(runs: usize) -> Vec<(f64, f64)> {
    let lan = Lan::new(61, 3);
    let dir = TempDir::new("dsbench-tern");
    let etcd = Etcd::start(&dir, &lan.nodes[0], &lan.v4(0));
    etcd.put(
        &format!("{RES}/bgpconfigurations/default"),
        r#"{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{"name":"default"},"spec":{"asNumber":64512}}"#,
    );
    etcd.put(
        &format!("{RES}/ippools/pool"),
        r#"{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"pool"},"spec":{"cidr":"192.168.0.0/16","ipipMode":"Never","vxlanMode":"Never"}}"#,
    );
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        etcd.put(&format!("{RES}/nodes/{n}"), &node_json(n, &lan.v4(i + 1)));
    }
    let block = |r: usize| format!("/calico/ipam/v2/host/n1/ipv4/block/192.168.{}.0-26", 100 + r);
    etcd.put(&block(0), r#"{"state":"confirmed"}"#);
    interop::ternd_bin();
    let dirs: Vec<TempDir> = (0..2).map(|i| TempDir::new(&format!("dsbench-tern-n{i}"))).collect();
    let ep = etcd.endpoint();
    let _nodes: Vec<Ternd> = ["n1", "n2"]
        .iter()
        .enumerate()
        .map(|(i, n)| Ternd::start_calico(&dirs[i], Some(&lan.nodes[i + 1]), n, &ep))
        .collect();
    let w = watch(&lan.nodes[2], 12);
    wait_for(Duration::from_secs(30), "the first block on n2", || {
        route(&lan.nodes[2], "192.168.100.0/26").contains("via").then_some(())
    });
    let mut out = Vec::new();
    for r in 1..=runs {
        w.expect(format!("192.168.{}.0/26", 100 + r).parse().unwrap());
        let t = etcd.put_timed(&block(r), r#"{"state":"confirmed"}"#);
        let got = wait_for(Duration::from_secs(10), "the block on n2", || w.expected_at());
        let (lo, hi) = (
            got.saturating_duration_since(t.after),
            got.saturating_duration_since(t.before),
        );
        println!(
            "  tern round {r}: {:.2} ms from etcd's answer, {:.2} ms from the request",
            ms(lo),
            ms(hi)
        );
        out.push((ms(lo), ms(hi)));
    }
    out
}

fn route(ns: &Netns, prefix: &str) -> String {
    run(ns.command("ip").args(["route", "show", prefix, "proto", "bird"]))
}

/// BIRD 1.6.8's configuration for node `me` of the two, as confd renders
/// a mesh node (kernel, device, direct, static blocks, one mesh peer).
fn bird_conf(lan: &Lan, me: usize, blocks: &[String], log: &std::path::Path) -> String {
    let (my, other) = (lan.v4(me), lan.v4(1 - me));
    let statics: String = blocks.iter().map(|b| format!("  route {b} blackhole;\n")).collect();
    format!(
        "log \"{}\" all;\nrouter id {my};\n\
         protocol kernel {{ learn; persist; scan time 2; import all; export all; graceful restart; merge paths on; }}\n\
         protocol device {{ scan time 2; }}\n\
         protocol direct {{ interface -\"cali*\", \"*\"; }}\n\
         protocol static {{\n{statics}}}\n\
         template bgp bgp_template {{ local as 64512; gateway recursive; add paths on; graceful restart; connect delay time 2; connect retry time 5; error wait time 5,30; }}\n\
         protocol bgp Mesh_{} from bgp_template {{ neighbor {other} as 64512; source address {my}; import all; export all;{} }}\n",
        log.display(),
        other.replace('.', "_"),
        if other > my { " passive on;" } else { "" }
    )
}

/// BIRD 1.6.8: rounds of a new static block in n1's configuration and a
/// SIGHUP, timed to n2's kernel; and confd's `bird -p` check of the file.
fn bird16(runs: usize) -> Vec<(f64, f64)> {
    let lan = Lan::new(62, 2);
    let dirs: Vec<TempDir> = (0..2).map(|i| TempDir::new(&format!("dsbench-bird-n{i}"))).collect();
    let mut blocks = vec!["192.168.100.0/26".to_string()];
    let start = |i: usize, blocks: &[String]| -> Proc {
        let cfg = dirs[i].write("bird.cfg", &bird_conf(&lan, i, blocks, &dirs[i].path("bird.log")));
        let mut c = lan.nodes[i].command(&format!("{BIRD16}/bird"));
        c.arg("-f")
            .arg("-c")
            .arg(&cfg)
            .arg("-s")
            .arg(dirs[i].path("bird.ctl"))
            .arg("-P")
            .arg(dirs[i].path("bird.pid"));
        Proc::spawn("bird 1.6.8", &mut c, dirs[i].path("bird.out"))
    };
    let n1 = start(0, &blocks);
    let _n2 = start(1, &[]);
    let w = watch(&lan.nodes[1], 12);
    wait_for(Duration::from_secs(30), "BIRD's first block on n2", || {
        route(&lan.nodes[1], "192.168.100.0/26").contains("via").then_some(())
    });
    let mut out = Vec::new();
    for r in 1..=runs {
        blocks.push(format!("192.168.{}.0/26", 100 + r));
        let cfg = dirs[0].write("bird.cfg", &bird_conf(&lan, 0, &blocks, &dirs[0].path("bird.log")));
        // confd's check_cmd before it renames the file into place: a part
        // of confd's path that runs here.
        let c0 = Instant::now();
        let ok = Command::new(format!("{BIRD16}/bird"))
            .arg("-p")
            .arg("-c")
            .arg(&cfg)
            .status()
            .is_ok_and(|s| s.success());
        let check = ms(c0.elapsed());
        assert!(ok, "bird -p accepts the configuration");
        w.expect(blocks[r].parse().unwrap());
        let t = Instant::now();
        n1.signal(libc::SIGHUP);
        let got = wait_for(Duration::from_secs(10), "BIRD's block on n2", || w.expected_at());
        let d = got.saturating_duration_since(t);
        println!(
            "  BIRD 1.6.8 round {r}: {:.2} ms after SIGHUP; bird -p took {check:.2} ms",
            ms(d)
        );
        out.push((ms(d), check));
    }
    let status = Command::new(format!("{BIRD16}/birdc"))
        .arg("-s")
        .arg(dirs[0].path("bird.ctl"))
        .arg("show protocols")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(status.contains("Established"), "BIRD's session stayed up: {status}");
    out
}
