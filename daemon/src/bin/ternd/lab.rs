//! `ternd lab`: N real ternd processes on loopback addresses, each
//! originating one /26 pod block, in a full mesh, behind route reflectors,
//! or with an AS per node. Waits until every node has every block, prints
//! one node's `show protocols` and `show route` and the time it took, and
//! stops everything on Ctrl-C or after `--duration`. No root needed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the nodes peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Topology {
    /// Full iBGP mesh, Calico's passive rule.
    Mesh,
    /// One or two reflectors (one cluster ID), the rest their clients.
    Rr,
    /// eBGP full mesh, each node its own AS.
    AsPerNode,
}

/// What `ternd lab` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    pub nodes: usize,
    pub topology: Topology,
    pub port: u16,
    /// The first three octets of the nodes' addresses (127.x.y).
    pub net: [u8; 3],
    pub duration: Option<Duration>,
    /// Give up waiting for convergence after this long.
    pub timeout: Duration,
    /// Each node serves Prometheus metrics on its address at this port.
    pub metrics_port: Option<u16>,
}

struct Node {
    addr: String,
    ctl: PathBuf,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stops a node's ternd by its PID: SIGTERM, then after 3 s SIGKILL.
pub fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn addr(o: &Options, i: usize) -> String {
    format!("{}.{}.{}.{}", o.net[0], o.net[1], o.net[2], i + 1)
}

/// Is node `i` a reflector in the rr topology (the first one, and the
/// second too from four nodes on)?
fn reflector(o: &Options, i: usize) -> bool {
    o.topology == Topology::Rr && (i == 0 || (i == 1 && o.nodes >= 4))
}

fn peers_of(o: &Options, i: usize) -> Vec<usize> {
    (0..o.nodes)
        .filter(|&j| j != i)
        .filter(|&j| o.topology != Topology::Rr || reflector(o, i) || reflector(o, j))
        .collect()
}

fn asn(o: &Options, i: usize) -> u32 {
    if o.topology == Topology::AsPerNode {
        65001 + i as u32
    } else {
        64512
    }
}

/// The configuration of node `i`.
pub fn config(o: &Options, i: usize, ctl: &Path) -> String {
    let me = addr(o, i);
    let mut c = format!(
        "router_id = \"{me}\"\nasn = {}\nlisten = [\"{me}:{}\"]\nctl_socket = \"{}\"\n",
        asn(o, i),
        o.port,
        ctl.display()
    );
    if reflector(o, i) {
        c += "cluster_id = \"244.0.0.1\"\n";
    }
    if let Some(p) = o.metrics_port {
        c += &format!("metrics_listen = \"{me}:{p}\"\n");
    }
    for j in peers_of(o, i) {
        let them = addr(o, j);
        let kind = if reflector(o, j) || reflector(o, i) {
            "Node"
        } else {
            "Mesh"
        };
        // Calico's mesh rule: passive towards peers whose address sorts higher.
        let passive = them > me;
        c += &format!(
            "\n[[peer]]\nname = \"{kind}_{}\"\naddress = \"{them}\"\nport = {}\nasn = {}\nlocal_address = \"{me}\"\npassive = {passive}\nconnect_retry = 2\n",
            them.replace('.', "_"),
            o.port,
            asn(o, j)
        );
        if reflector(o, i) && !reflector(o, j) {
            c += "rr_client = true\n";
        }
    }
    c += &format!(
        "\n[[static]]\nprefix = \"10.244.{}.0/26\"\nblackhole = true\n\n[[pool]]\ncidr = \"10.244.0.0/16\"\n",
        i + 1
    );
    c
}

fn count(ctl: &Path) -> Option<usize> {
    let reply = crate::client::query(ctl, "show route count").ok()?;
    let text = &reply.last()?.1;
    text.split(" for ").nth(1)?.split_whitespace().next()?.parse().ok()
}

fn show(ctl: &Path, cmd: &str) -> String {
    crate::client::query(ctl, cmd)
        .map(|r| crate::client::text(&r))
        .unwrap_or_else(|e| format!("{cmd}: {e}\n"))
}

/// Runs the lab; returns whether it converged.
pub fn run(o: &Options) -> bool {
    let dir = std::env::temp_dir().join(format!("ternd-lab-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("ternd lab: {}: {e}", dir.display());
        return false;
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ternd"));
    let started = Instant::now();
    let mut nodes = Vec::new();
    for i in 0..o.nodes {
        let ctl = dir.join(format!("node{}.ctl", i + 1));
        let cfg = dir.join(format!("node{}.toml", i + 1));
        if let Err(e) = std::fs::write(&cfg, config(o, i, &ctl)) {
            eprintln!("ternd lab: {e}");
            return false;
        }
        let log = std::fs::File::create(dir.join(format!("node{}.log", i + 1))).ok();
        let mut cmd = Command::new(&exe);
        cmd.arg("--config").arg(&cfg).stdin(Stdio::null()).stdout(Stdio::null());
        match log {
            Some(f) => cmd.stderr(f),
            None => cmd.stderr(Stdio::null()),
        };
        match cmd.spawn() {
            Ok(child) => nodes.push(Node {
                addr: addr(o, i),
                ctl,
                child,
            }),
            Err(e) => {
                eprintln!("ternd lab: cannot start node {}: {e}", i + 1);
                return false;
            }
        }
    }
    println!(
        "ternd lab: {} nodes ({:?}) on {}..{} port {}, logs in {}",
        o.nodes,
        o.topology,
        addr(o, 0),
        addr(o, o.nodes - 1),
        o.port,
        dir.display()
    );
    if let Some(p) = o.metrics_port {
        println!("metrics at http://{}:{p}/metrics (and each node's address)", addr(o, 0));
    }
    let converged = loop {
        if nodes.iter().all(|n| count(&n.ctl) == Some(o.nodes)) {
            break true;
        }
        if started.elapsed() > o.timeout {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = started.elapsed();
    let first = &nodes[0];
    print!(
        "\n{} show protocols\n{}",
        first.addr,
        show(&first.ctl, "show protocols")
    );
    print!("\n{} show route\n{}", first.addr, show(&first.ctl, "show route"));
    if converged {
        println!(
            "\nconverged: every node has all {} blocks, {:.2} s after start",
            o.nodes,
            took.as_secs_f64()
        );
    } else {
        println!("\nNOT converged after {:.0} s", took.as_secs_f64());
        for n in &nodes {
            println!("{}: {:?} networks", n.addr, count(&n.ctl));
        }
    }
    match o.duration {
        Some(d) => std::thread::sleep(d.saturating_sub(took)),
        None if converged => {
            println!("running; Ctrl-C stops every node");
            wait_for_signal();
        }
        None => {}
    }
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
    converged
}

fn wait_for_signal() {
    // SAFETY: a signal set on the stack, blocked then waited for; no handlers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut sig = 0;
        libc::sigwait(&set, &mut sig);
    }
}
