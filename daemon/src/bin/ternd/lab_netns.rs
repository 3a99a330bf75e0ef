//! `ternd lab --netns`: the lab with real kernels. Each node runs in a
//! network namespace of its own on one bridge, with a pod: a veth into one
//! more namespace, its address inside the node's block, and a route to it
//! on the node as Felix makes one (`dev caliN`, learned by ternd, not
//! exported: it is inside the node's block). The pool has no IPIP, so
//! packets really flow. It converges, prints one node's `ip route` and
//! `show route`, and has every pod ping every other pod; with
//! `--restart-node K` node K's ternd is killed with -9 and started again
//! with -R while every pair pings. Needs root; every namespace and process
//! it makes goes when it ends (by PID and by the names it chose).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What `ternd lab --netns` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    pub nodes: usize,
    pub timeout: Duration,
    pub duration: Option<Duration>,
    /// Kill node K (1-based) with -9 and restart it while pods ping.
    pub restart_node: Option<usize>,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Namespaces made here, deleted on drop.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in self.0.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// A ternd in a node's namespace, stopped on drop.
struct Ternd {
    child: Child,
}

impl Ternd {
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Ternd {
    fn drop(&mut self) {
        crate::lab::stop(&mut self.child);
    }
}

struct Lab {
    tag: String,
    nodes: usize,
    dir: PathBuf,
    exe: PathBuf,
}

fn node_addr(i: usize) -> String {
    format!("10.199.0.{}", i + 1)
}

fn pod_addr(i: usize) -> String {
    format!("10.244.{}.10", i + 1)
}

/// Runs `program args` in namespace `ns`; its output, or the error.
fn exec(ns: &str, program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} in {ns}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(ns: &str, args: &[&str]) -> Result<(), String> {
    exec(ns, "ip", args).map(drop)
}

impl Lab {
    fn node(&self, i: usize) -> String {
        format!("{}-n{}", self.tag, i + 1)
    }

    fn pod(&self, i: usize) -> String {
        format!("{}-p{}", self.tag, i + 1)
    }

    /// The bridge, the nodes on it and a pod behind each.
    fn build(&self, made: &mut Namespaces) -> Result<(), String> {
        let add = |made: &mut Namespaces, name: String| -> Result<(), String> {
            let ok = Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .map_err(|e| e.to_string())?
                .success();
            if !ok {
                return Err(format!("cannot create network namespace {name} (root needed)"));
            }
            made.0.push(name.clone());
            ip(&name, &["link", "set", "lo", "up"])
        };
        let br = format!("{}-br", self.tag);
        add(made, br.clone())?;
        ip(&br, &["link", "add", "br0", "type", "bridge"])?;
        ip(&br, &["link", "set", "br0", "up"])?;
        for i in 0..self.nodes {
            let (node, pod) = (self.node(i), self.pod(i));
            add(made, node.clone())?;
            add(made, pod.clone())?;
            let port = format!("p{}", i + 1);
            ip(
                &br,
                &[
                    "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &node,
                ],
            )?;
            ip(&br, &["link", "set", &port, "master", "br0"])?;
            ip(&br, &["link", "set", &port, "up"])?;
            ip(&node, &["addr", "add", &format!("{}/24", node_addr(i)), "dev", "eth0"])?;
            ip(&node, &["link", "set", "eth0", "up"])?;
            // The pod, wired as Calico wires one: a /32, a link-local
            // gateway on the node's end, a host route to it on the node.
            let cali = format!("cali{}", i + 1);
            ip(
                &node,
                &[
                    "link", "add", &cali, "type", "veth", "peer", "name", "eth0", "netns", &pod,
                ],
            )?;
            ip(&node, &["addr", "add", "169.254.1.1/32", "dev", &cali])?;
            ip(&node, &["link", "set", &cali, "up"])?;
            ip(&pod, &["addr", "add", &format!("{}/32", pod_addr(i)), "dev", "eth0"])?;
            ip(&pod, &["link", "set", "eth0", "up"])?;
            ip(&pod, &["route", "add", "169.254.1.1", "dev", "eth0", "scope", "link"])?;
            ip(&pod, &["route", "add", "default", "via", "169.254.1.1", "dev", "eth0"])?;
            exec(&node, "sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
            ip(
                &node,
                &[
                    "route",
                    "add",
                    &format!("{}/32", pod_addr(i)),
                    "dev",
                    &cali,
                    "proto",
                    "boot",
                ],
            )?;
        }
        Ok(())
    }

    fn config(&self, i: usize) -> String {
        let me = node_addr(i);
        let mut c = format!(
            "router_id = \"{me}\"\nlisten = [\"{me}:179\"]\nctl_socket = \"{}\"\ngraceful_restart_wait = 30\n\n[kernel]\n\n\
             [[pool]]\ncidr = \"10.244.0.0/16\"\n\n[[static]]\nprefix = \"10.244.{}.0/26\"\nblackhole = true\n",
            self.ctl(i).display(),
            i + 1
        );
        for j in (0..self.nodes).filter(|&j| j != i) {
            let them = node_addr(j);
            // Calico's mesh rule: passive towards peers whose address sorts higher.
            c += &format!(
                "\n[[peer]]\nname = \"Mesh_{}\"\naddress = \"{them}\"\nlocal_address = \"{me}\"\npassive = {}\nconnect_retry = 1\n",
                them.replace('.', "_"),
                them > me
            );
        }
        c
    }

    fn ctl(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{}.ctl", i + 1))
    }

    fn start(&self, i: usize, restarted: bool) -> Result<Ternd, String> {
        let cfg = self.dir.join(format!("node{}.toml", i + 1));
        std::fs::write(&cfg, self.config(i)).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(self.ctl(i));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node{}.log", i + 1)))
            .map_err(|e| e.to_string())?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.node(i)])
            .arg(&self.exe)
            .arg("--config")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if restarted {
            cmd.arg("-R");
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start ternd: {e}"))?;
        Ok(Ternd { child })
    }

    /// Node `i`'s kernel has a `proto bird` route to every other block.
    fn converged(&self, i: usize) -> bool {
        exec(&self.node(i), "ip", &["-4", "route", "show", "proto", "bird"])
            .map(|t| {
                (0..self.nodes)
                    .filter(|&j| j != i)
                    .all(|j| t.contains(&format!("10.244.{}.0/26 ", j + 1)))
            })
            .unwrap_or(false)
    }

    /// Pings from every pod to every other: the pairs that failed.
    fn ping_all(&self) -> Vec<(usize, usize)> {
        let mut failed = Vec::new();
        for i in 0..self.nodes {
            for j in (0..self.nodes).filter(|&j| j != i) {
                if exec(&self.pod(i), "ping", &["-c", "1", "-W", "2", &pod_addr(j)]).is_err() {
                    failed.push((i, j));
                }
            }
        }
        failed
    }
}

/// Runs the lab; whether every pod reached every other.
pub fn run(o: &Options) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("ternd lab --netns: needs root (network namespaces)");
        return false;
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let lab = Lab {
        tag: format!("ternlab{}", std::process::id()),
        nodes: o.nodes,
        dir: std::env::temp_dir().join(format!("ternd-lab-netns-{}", std::process::id())),
        exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ternd")),
    };
    if let Err(e) = std::fs::create_dir_all(&lab.dir) {
        eprintln!("ternd lab: {}: {e}", lab.dir.display());
        return false;
    }
    let ok = go(&lab, o);
    let _ = std::fs::remove_dir_all(&lab.dir);
    ok
}

fn go(lab: &Lab, o: &Options) -> bool {
    let mut made = Namespaces(Vec::new());
    if let Err(e) = lab.build(&mut made) {
        eprintln!("ternd lab: {e}");
        return false;
    }
    let started = Instant::now();
    let mut nodes = Vec::new();
    for i in 0..lab.nodes {
        match lab.start(i, false) {
            Ok(t) => nodes.push(t),
            Err(e) => {
                eprintln!("ternd lab: {e}");
                return false;
            }
        }
    }
    println!(
        "ternd lab --netns: {} nodes {}..{} in namespaces {}-n*, pods {}..{}, logs in {}",
        lab.nodes,
        node_addr(0),
        node_addr(lab.nodes - 1),
        lab.tag,
        pod_addr(0),
        pod_addr(lab.nodes - 1),
        lab.dir.display()
    );
    let converged = loop {
        if (0..lab.nodes).all(|i| lab.converged(i)) {
            break true;
        }
        if started.elapsed() > o.timeout || STOP.load(Ordering::Relaxed) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = started.elapsed();
    let first = lab.node(0);
    print!(
        "\n{} ip route\n{}",
        node_addr(0),
        exec(&first, "ip", &["-4", "route"]).unwrap_or_else(|e| e)
    );
    print!(
        "\n{} show route\n{}",
        node_addr(0),
        crate::client::query(&lab.ctl(0), "show route")
            .map(|r| crate::client::text(&r))
            .unwrap_or_else(|e| format!("{e}\n"))
    );
    if !converged {
        println!("\nNOT converged after {:.0} s", took.as_secs_f64());
        return false;
    }
    println!(
        "\nconverged: every node's kernel routes every other block, {:.2} s after start",
        took.as_secs_f64()
    );
    let failed = lab.ping_all();
    let pairs = lab.nodes * (lab.nodes - 1);
    if failed.is_empty() {
        println!("ping: every pod reaches every other ({pairs} pairs)");
    } else {
        for (i, j) in &failed {
            println!("ping: pod {} cannot reach pod {}", pod_addr(*i), pod_addr(*j));
        }
        return false;
    }
    if let Some(k) = o.restart_node.filter(|k| (1..=lab.nodes).contains(k)) {
        if !restart_while_pinging(lab, &mut nodes, k - 1) {
            return false;
        }
    }
    match o.duration {
        Some(d) => {
            let end = Instant::now() + d.saturating_sub(took);
            while Instant::now() < end && !STOP.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        None => {
            println!("running; Ctrl-C stops every node and removes the namespaces");
            while !STOP.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    true
}

/// Every pair pings 5 times a second while node `k`'s ternd is killed
/// with -9 and started again with -R: at most one ping per pair may be lost.
fn restart_while_pinging(lab: &Lab, nodes: &mut [Ternd], k: usize) -> bool {
    let count = 50; // 10 s
    let mut pings = Vec::new();
    for i in 0..lab.nodes {
        for j in (0..lab.nodes).filter(|&j| j != i) {
            let child = Command::new("ip")
                .args(["netns", "exec", &lab.pod(i), "ping", "-q", "-i", "0.2", "-W", "1"])
                .args(["-c", &count.to_string(), &pod_addr(j)])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn();
            match child {
                Ok(c) => pings.push((i, j, c)),
                Err(e) => {
                    eprintln!("ternd lab: ping: {e}");
                    return false;
                }
            }
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    nodes[k].kill9();
    println!("\nnode {} ({}): ternd killed with -9", k + 1, node_addr(k));
    std::thread::sleep(Duration::from_secs(1));
    match lab.start(k, true) {
        Ok(t) => nodes[k] = t,
        Err(e) => {
            eprintln!("ternd lab: {e}");
            return false;
        }
    }
    println!("node {} ({}): ternd started again with -R", k + 1, node_addr(k));
    let mut worst = 0;
    let mut ok = true;
    for (i, j, c) in pings {
        let out = c
            .wait_with_output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let received = out
            .ok()
            .and_then(|t| {
                let l = t.lines().find(|l| l.contains("received"))?.to_string();
                l.split(", ").nth(1)?.split_whitespace().next()?.parse::<usize>().ok()
            })
            .unwrap_or(0);
        let lost = count - received.min(count);
        worst = worst.max(lost);
        if lost > 1 {
            ok = false;
            println!(
                "ping: pod {} to pod {}: {lost} of {count} lost",
                pod_addr(i),
                pod_addr(j)
            );
        }
    }
    println!(
        "ping during the restart: {} pairs, {count} pings each, at most {worst} lost in any pair",
        lab.nodes * (lab.nodes - 1)
    );
    ok
}
