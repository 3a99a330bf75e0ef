//! Network namespaces for tests that exchange routes with BIRD (which
//! never resolves next hops in 127.0.0.0/8): one namespace per speaker,
//! joined through veth pairs to a bridge in a namespace of its own. Every
//! namespace is created by the test and deleted on drop; the root
//! namespace is not touched. Addresses: 10.200.N.i/24 and fd00:200:N::i/64
//! ([`Lan::new`]), or 10.202.0.0/16 for up to 1023 nodes ([`Lan::wide`]).

use std::process::Command;

use crate::run;

/// One network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    fn add(name: String) -> Netns {
        let out = run(Command::new("ip").args(["netns", "add", &name]));
        assert!(out.trim().is_empty(), "ip netns add {name}: {out}");
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip netns exec NAME program args…`
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a thread of its own inside the namespace (its sockets
    /// live there).
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
        let path = std::path::PathBuf::from("/var/run/netns").join(&self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("netns file");
            use std::os::fd::AsRawFd;
            // SAFETY: setns(2) on this thread only, with a namespace fd we opened.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// A namespace of its own behind a veth pair, as a pod is: `host_if`
    /// here with `host_addr`, `eth0` there with `addr` (both ADDRESS/LEN).
    pub fn pod(&self, host_if: &str, host_addr: &str, addr: &str) -> Netns {
        let pod = Netns::add(format!("{}-{host_if}", self.name));
        self.ip(&[
            "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", &pod.name,
        ]);
        self.ip(&["addr", "add", host_addr, "dev", host_if]);
        self.ip(&["link", "set", host_if, "up"]);
        pod.ip(&["addr", "add", addr, "dev", "eth0"]);
        pod.ip(&["link", "set", "eth0", "up"]);
        pod
    }

    /// Runs `ip ARGS` inside the namespace, failing the test on error.
    pub fn ip(&self, args: &[&str]) {
        let out = run(self.command("ip").args(args));
        assert!(out.trim().is_empty(), "ip {args:?} in {}: {out}", self.name);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

/// Speakers on one LAN.
pub struct Lan {
    /// The nodes, in order: node i has 10.200.N.(i+1) (see [`Lan::wide`]).
    pub nodes: Vec<Netns>,
    pub net: u8,
    /// On 10.202.0.0/16 ([`Lan::wide`]) rather than 10.200.`net`.0/24.
    wide: bool,
    _bridge: Netns,
}

impl Lan {
    /// `n` namespaces on network 10.200.`net`.0/24 (and fd00:200:`net`::/64).
    pub fn new(net: u8, n: usize) -> Lan {
        assert!(n < 254, "a /24 holds 253 nodes");
        let mut lan = Lan::build(&format!("{net}"), n, |i| {
            (
                format!("10.200.{net}.{}/24", i + 1),
                Some(format!("fd00:200:{net}::{}/64", i + 1)),
            )
        });
        lan.net = net;
        lan
    }

    /// Up to 1023 namespaces (a bridge's most ports) on 10.202.0.0/16, IPv4
    /// only: node i has 10.202.(i / 250).(i % 250 + 1).
    pub fn wide(n: usize) -> Lan {
        assert!(n < 1024, "a bridge has at most 1023 ports");
        let mut lan = Lan::build("w", n, |i| (format!("{}/16", wide_v4(i)), None));
        lan.wide = true;
        lan
    }

    fn build(tag: &str, n: usize, addr: impl Fn(usize) -> (String, Option<String>)) -> Lan {
        let tag = format!("tern{}-{tag}", std::process::id());
        let bridge = Netns::add(format!("{tag}-br"));
        bridge.ip(&["link", "add", "br0", "type", "bridge"]);
        bridge.ip(&["link", "set", "br0", "up"]);
        let mut nodes = Vec::new();
        for i in 0..n {
            let ns = Netns::add(format!("{tag}-n{}", i + 1));
            let port = format!("p{}", i + 1);
            bridge.ip(&[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
            ]);
            bridge.ip(&["link", "set", &port, "master", "br0"]);
            bridge.ip(&["link", "set", &port, "up"]);
            let (a4, a6) = addr(i);
            ns.ip(&["addr", "add", &a4, "dev", "eth0"]);
            if let Some(a6) = a6 {
                ns.ip(&["-6", "addr", "add", &a6, "dev", "eth0", "nodad"]);
            }
            ns.ip(&["link", "set", "eth0", "up"]);
            nodes.push(ns);
        }
        Lan {
            nodes,
            net: 0,
            wide: false,
            _bridge: bridge,
        }
    }

    /// Node i's address; past the last node, the address it would have
    /// (tests give those to extra speakers).
    pub fn v4(&self, i: usize) -> String {
        if self.wide {
            wide_v4(i)
        } else {
            format!("10.200.{}.{}", self.net, i + 1)
        }
    }

    pub fn v6(&self, i: usize) -> String {
        format!("fd00:200:{}::{}", self.net, i + 1)
    }
}

fn wide_v4(i: usize) -> String {
    format!("10.202.{}.{}", i / 250, i % 250 + 1)
}

/// Skips (returns true) when `bins` are missing or network namespaces
/// cannot be made here, unless TERN_REQUIRE_PEERS is set: then it fails.
pub fn skip_without(bins: &[&str]) -> bool {
    if crate::missing(bins) {
        return true;
    }
    if !available() {
        assert!(
            std::env::var_os("TERN_REQUIRE_PEERS").is_none(),
            "network namespaces unavailable (needs root)"
        );
        eprintln!("skipping: cannot create network namespaces");
        return true;
    }
    false
}

/// Whether network namespaces can be made here (root and iproute2).
pub fn available() -> bool {
    // Tests run in parallel: every probe needs a name of its own.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = format!("tern-probe-{}-{n}", std::process::id());
    let ok = run(Command::new("ip").args(["netns", "add", &probe])).trim().is_empty();
    let _ = run(Command::new("ip").args(["netns", "del", &probe]));
    ok
}
