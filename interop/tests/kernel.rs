//! ternd and the kernel's routing table, in network namespaces the tests
//! make: the routes it installs for each pool mode (checked in `ip route`
//! of its namespace), ECMP, withdrawals, routes it learns from the kernel
//! and exports (or not), and `show route` as Calico's parser reads it.
//! This kernel has no `ipip` module: `tunl0` is a veth end, which is all
//! the routes need (what is tested is the route ternd programs).

use std::time::Duration;

use interop::netns::{skip_without, Lan, Netns};
use interop::{run, wait_for, Bird, TempDir, Ternd};

const CONVERGE: Duration = Duration::from_secs(30);

/// `ip route` of a namespace, one line per route, for one family.
fn ip_route(ns: &Netns, family: &str) -> String {
    run(ns.command("ip").args([family, "route", "show", "table", "main"]))
}

/// The line of `ip route` for `prefix` (with its continuation lines).
fn route_of(table: &str, prefix: &str) -> Option<String> {
    let mut lines = table.lines();
    let first = lines.by_ref().find(|l| l.starts_with(&format!("{prefix} ")))?;
    let mut out = first.to_string();
    for l in lines {
        if l.starts_with(|c: char| c.is_whitespace()) {
            out.push('\n');
            out.push_str(l);
        } else {
            break;
        }
    }
    Some(out)
}

/// A Calico node at `t_addr` with the kernel table, pool 10.244.0.0/16,
/// its block 10.244.1.0/26, more top-level keys and pools, and one mesh
/// peer at `b_addr` (which connects).
fn node_conf(t_addr: &str, b_addr: &str, top: &str, pools: &str) -> String {
    format!(
        r#"router_id = "{t_addr}"
listen = ["{t_addr}:179"]
ctl_socket = "{{CTL}}"
{top}[kernel]
[[pool]]
cidr = "10.244.0.0/16"
{pools}[[static]]
prefix = "10.244.1.0/26"
blackhole = true
[[peer]]
name = "Mesh_{b}"
address = "{b_addr}"
local_address = "{t_addr}"
passive = true
hold_time = 6
"#,
        b = b_addr.replace('.', "_")
    )
}

/// A stand-in for Calico's `tunl0` (no ipip module here): a veth end.
fn fake_tunl0(ns: &Netns) {
    ns.ip(&["link", "add", "tunl0", "type", "veth", "peer", "name", "tunl0p"]);
    ns.ip(&["link", "set", "tunl0", "up"]);
    ns.ip(&["link", "set", "tunl0p", "up"]);
}

/// Calico's CalicoNodeStatus route parser (`node/pkg/status/populators/
/// route.go`): every row of `show route` must match one of its patterns,
/// and the protocol must be one it knows.
fn calico_parses(show_route: &str) -> Vec<(String, String, String)> {
    let via = regex::Regex::new(r"(?P<dest>\S*)\s*via\s(?P<gateway>\S*)\s*on\s(?P<iface>.*)\s\[(?P<from>\S*)\s.*\].*")
        .unwrap();
    let dev = regex::Regex::new(r"(?P<dest>\S*)\s*dev\s(?P<iface>.*)\s\[(?P<from>\S*)\s.*\].*").unwrap();
    let blackhole = regex::Regex::new(r"(?P<dest>\S*)\s*blackhole\s\[(?P<from>\S*)\s.*\].*").unwrap();
    let unreachable = regex::Regex::new(r"(?P<dest>\S*)\s*unreachable\s\[(?P<from>\S*)\s.*\].*").unwrap();
    let source = regex::Regex::new(r"^(Global|Node|Mesh)_").unwrap();
    let mut rows = Vec::new();
    let mut last_dest = String::new();
    for line in show_route.lines() {
        if line.is_empty() || line.starts_with("BIRD ") || line.starts_with('\t') {
            continue;
        }
        let caps = via
            .captures(line)
            .or_else(|| dev.captures(line))
            .or_else(|| blackhole.captures(line))
            .or_else(|| unreachable.captures(line))
            .unwrap_or_else(|| panic!("Calico cannot parse {line:?}"));
        let mut dest = caps["dest"].to_string();
        if dest.is_empty() {
            dest = last_dest.clone();
        }
        last_dest = dest.clone();
        let from = caps["from"].to_string();
        assert!(
            ["kernel", "static", "direct"].iter().any(|k| from.starts_with(k)) || source.is_match(&from),
            "Calico cannot tell the source of {line:?}"
        );
        let how = caps.name("gateway").map_or("", |g| g.as_str()).to_string();
        rows.push((dest, how, from));
    }
    rows
}

#[test]
fn installs_each_pool_mode_ecmp_and_withdrawals() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(48, 3);
    let n = lan.net;
    let (t_addr, b_addr, c_addr) = (lan.v4(0), lan.v4(1), lan.v4(2));
    // A second subnet on the LAN: next hops there are "off-subnet" for
    // ternd, whose own subnet is given as the first.
    for (i, ns) in lan.nodes.iter().enumerate() {
        ns.ip(&["addr", "add", &format!("10.201.{n}.{}/24", i + 1), "dev", "eth0"]);
    }
    fake_tunl0(&lan.nodes[0]);
    let dir_t = TempDir::new("kernel-t");
    let peer = |name: &str, addr: &str| {
        format!(
            "[[peer]]\nname = \"{name}\"\naddress = \"{addr}\"\nlocal_address = \"{t_addr}\"\nlocal_address6 = \"fd00:200:{n}::1\"\npassive = true\nhold_time = 6\n"
        )
    };
    let conf = format!(
        r#"router_id = "{t_addr}"
listen = ["{t_addr}:179", "[fd00:200:{n}::1]:179"]
ctl_socket = "{{CTL}}"
local_subnets = ["10.200.{n}.0/24"]
[kernel]
[[pool]]
cidr = "10.244.0.0/16"
ipip = "always"
[[pool]]
cidr = "10.245.0.0/16"
ipip = "cross-subnet"
[[pool]]
cidr = "10.246.0.0/16"
[[pool]]
cidr = "10.247.0.0/16"
vxlan = "always"
[[pool]]
cidr = "fd00:244::/48"
[[static]]
prefix = "10.244.1.0/26"
blackhole = true
{}{}"#,
        peer(&format!("Mesh_{}", b_addr.replace('.', "_")), &b_addr),
        peer(&format!("Mesh_{}", c_addr.replace('.', "_")), &c_addr),
    );
    let t = Ternd::start_in(&dir_t, &conf, Some(&lan.nodes[0]));
    let bird = |i: usize, tag: &str, statics4: &str, statics6: &str| {
        let me = lan.v4(i);
        let dir = TempDir::new(tag);
        let conf = format!(
            r#"router id {me};
protocol device {{ }}
protocol static s4 {{ ipv4; {statics4} }}
protocol static s6 {{ ipv6; {statics6} }}
protocol bgp tern {{
  local {me} as 64512;
  neighbor {t_addr} as 64512;
  hold time 6;
  connect delay time 1;
  connect retry time 1;
  ipv4 {{ import all; export where source = RTS_STATIC; next hop keep; }};
  ipv6 {{ import all; export where source = RTS_STATIC; next hop keep; }};
}}
"#
        );
        let b = Bird::start_in(&dir, &conf, Some(&lan.nodes[i]));
        (b, dir)
    };
    let (b, _db) = bird(
        1,
        "kernel-b",
        &format!(
            "route 10.244.2.0/26 via 10.200.{n}.9; route 10.245.2.0/26 via 10.200.{n}.9; \
             route 10.245.3.0/26 via 10.201.{n}.9; route 10.246.2.0/26 via 10.201.{n}.9; \
             route 10.247.2.0/26 via 10.200.{n}.9; route 192.0.2.0/24 via 10.200.{n}.9; \
             route 10.244.9.0/26 via 10.200.{n}.9;"
        ),
        &format!("route fd00:244:2::/64 via fd00:200:{n}::9;"),
    );
    let (c, _dc) = bird(2, "kernel-c", &format!("route 10.244.9.0/26 via 10.200.{n}.8;"), "");
    let node = &lan.nodes[0];
    let want = [
        ("10.244.2.0/26", format!("via 10.200.{n}.9 dev tunl0 proto bird onlink")),
        ("10.245.2.0/26", format!("via 10.200.{n}.9 dev eth0 proto bird")),
        ("10.245.3.0/26", format!("via 10.201.{n}.9 dev tunl0 proto bird onlink")),
        ("10.246.2.0/26", format!("via 10.201.{n}.9 dev eth0 proto bird")),
        ("192.0.2.0/24", format!("via 10.200.{n}.9 dev eth0 proto bird")),
    ];
    let table = wait_for(CONVERGE, "ternd to install every route", || {
        let v4 = ip_route(node, "-4");
        let ecmp = route_of(&v4, "10.244.9.0/26").unwrap_or_default();
        (want.iter().all(|(p, _)| route_of(&v4, p).is_some()) && ecmp.contains("nexthop")).then_some(v4)
    });
    for (prefix, how) in &want {
        let line = route_of(&table, prefix).unwrap();
        assert_eq!(line.trim(), format!("{prefix} {how}"), "{table}");
    }
    assert!(
        route_of(&table, "10.247.2.0/26").is_none(),
        "VXLAN pool routes are Felix's:\n{table}"
    );
    assert!(
        route_of(&table, "10.244.1.0/26").is_none(),
        "our own block is not installed:\n{table}"
    );
    // ECMP composes with IPIP: each next hop through tunl0, onlink.
    let ecmp = route_of(&table, "10.244.9.0/26").unwrap();
    assert!(ecmp.starts_with("10.244.9.0/26 proto bird"), "{ecmp}");
    for gw in [8, 9] {
        assert!(
            ecmp.contains(&format!("nexthop via 10.200.{n}.{gw} dev tunl0 weight 1 onlink")),
            "{ecmp}"
        );
    }
    let v6 = wait_for(CONVERGE, "the IPv6 route", || {
        let v6 = ip_route(node, "-6");
        route_of(&v6, "fd00:244:2::/64").map(|l| l.to_string())
    });
    assert!(v6.contains(&format!("via fd00:200:{n}::9 dev eth0 proto bird")), "{v6}");

    // `show route` as Calico's parser reads it: the interface of each BGP
    // route's next hop, our blackhole.
    let shown = t.birdc("show route");
    let rows = calico_parses(&shown);
    assert!(
        rows.iter()
            .any(|(d, gw, from)| d == "10.245.2.0/26" && gw == &format!("10.200.{n}.9") && from.starts_with("Mesh_")),
        "{shown}"
    );
    assert!(shown.contains(&format!("via 10.200.{n}.9 on eth0 [Mesh_")), "{shown}");
    assert!(rows
        .iter()
        .any(|(d, _, from)| d == "10.244.1.0/26" && from == "static1"));

    // One of the two ECMP paths goes: a single next hop is left.
    drop(c);
    wait_for(CONVERGE, "the ECMP route to shrink", || {
        let l = route_of(&ip_route(node, "-4"), "10.244.9.0/26")?;
        (l.trim() == format!("10.244.9.0/26 via 10.200.{n}.9 dev tunl0 proto bird onlink")).then_some(())
    });
    // A withdrawal removes the route from the kernel.
    assert!(b.birdc("disable s4").contains("disabled"));
    wait_for(CONVERGE, "withdrawn routes to leave the kernel", || {
        let v4 = ip_route(node, "-4");
        (!v4.contains("proto bird")).then_some(())
    });
    assert!(route_of(&ip_route(node, "-6"), "fd00:244:2::/64").is_some());
}

#[test]
fn learns_kernel_routes_and_exports_them_through_calicos_filter() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(49, 2);
    let (t_addr, b_addr) = (lan.v4(0), lan.v4(1));
    let node = &lan.nodes[0];
    // Felix's workload interfaces, stood in for by a veth pair.
    node.ip(&["link", "add", "cali1", "type", "veth", "peer", "name", "cali1p"]);
    node.ip(&["link", "set", "cali1", "up"]);
    node.ip(&["link", "set", "cali1p", "up"]);
    // Before ternd starts: learned from the first dump.
    node.ip(&["route", "add", "10.244.1.5/32", "dev", "cali1", "proto", "boot"]);
    let dir_t = TempDir::new("learn-t");
    let conf = node_conf(
        &t_addr,
        &b_addr,
        "",
        "[[pool]]\ncidr = \"10.250.0.0/16\"\nexport = false\n\
         [[advertise]]\nprefix = \"10.244.0.0/16\"\ncommunities = [\"100:6532\", \"100:555:107\"]\n",
    );
    let t = Ternd::start_in(&dir_t, &conf, Some(node));
    // After: learned from notifications.
    node.ip(&["route", "add", "10.244.7.7/32", "dev", "cali1", "proto", "boot"]);
    node.ip(&["route", "add", "10.250.0.5/32", "dev", "cali1", "proto", "boot"]);
    node.ip(&[
        "route",
        "add",
        "192.0.2.0/24",
        "via",
        &format!("10.200.{}.9", lan.net),
        "proto",
        "static",
    ]);
    let dir_b = TempDir::new("learn-b");
    let b = Bird::start_in(
        &dir_b,
        &format!(
            r#"router id {b_addr};
protocol device {{ }}
protocol static s4 {{ ipv4; route 10.244.2.0/26 blackhole; }}
protocol bgp tern {{
  local {b_addr} as 64512;
  neighbor {t_addr} as 64512;
  hold time 6;
  connect delay time 1;
  connect retry time 1;
  ipv4 {{ import all; export where source = RTS_STATIC; next hop self; }};
}}
"#
        ),
        Some(&lan.nodes[1]),
    );
    // The borrowed /32 (in a pool, outside our blocks) is exported; the
    // workload inside our block, the disabled pool's and the route
    // outside every pool are not.
    let got = wait_for(CONVERGE, "BIRD to get the block and the borrowed address", || {
        let r = b.birdc("show route");
        (r.contains("10.244.1.0/26") && r.contains("10.244.7.7/32")).then_some(r)
    });
    std::thread::sleep(Duration::from_secs(1));
    let got = got + &b.birdc("show route");
    for never in ["10.244.1.5/32", "10.250.0.5/32", "192.0.2.0/24"] {
        assert!(!got.contains(never), "{never} must not be exported:\n{got}");
    }
    // A node with BGP, static and kernel routes: Calico's parser reads
    // every line and knows every source.
    let shown = wait_for(CONVERGE, "BIRD's block at ternd", || {
        let r = t.birdc("show route");
        r.contains("10.244.2.0/26").then_some(r)
    });
    let rows = calico_parses(&shown);
    assert!(
        rows.iter()
            .any(|(d, gw, from)| d == "10.244.2.0/26" && gw == &b_addr && from.starts_with("Mesh_")),
        "{shown}"
    );
    assert!(
        rows.iter()
            .any(|(d, _, from)| d == "10.244.1.0/26" && from == "static1"),
        "{shown}"
    );
    for p in ["10.244.1.5/32", "10.244.7.7/32", "10.250.0.5/32", "192.0.2.0/24"] {
        assert!(
            rows.iter().any(|(d, _, from)| d == p && from == "kernel1"),
            "{p} learned as kernel1:\n{shown}"
        );
    }
    assert!(shown.contains("10.244.1.5/32      dev cali1 [kernel1"), "{shown}");
    assert!(
        shown.contains(&format!("192.0.2.0/24       via 10.200.{}.9 on eth0 [kernel1", lan.net)),
        "{shown}"
    );
    // Calico's prefixAdvertisements: the range's communities on what we export.
    let block = b.birdc("show route 10.244.1.0/26 all");
    assert!(
        block.contains("(100,6532)") && block.contains("(100, 555, 107)"),
        "{block}"
    );
    // The kernel loses the borrowed address: BIRD loses it.
    node.ip(&["route", "del", "10.244.7.7/32", "dev", "cali1"]);
    wait_for(CONVERGE, "the borrowed address to be withdrawn", || {
        (!b.birdc("show route").contains("10.244.7.7/32")).then_some(())
    });
    assert!(!t.birdc("show route").contains("10.244.7.7/32"));
}

/// Samples a check every `every` on a thread until stopped: (samples, misses).
struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Sampler {
    fn start(every: Duration, check: impl Fn() -> Result<(), String> + Send + 'static) -> Sampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut n, mut misses) = (0, Vec::new());
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                if let Err(e) = check() {
                    misses.push(e);
                }
                std::thread::sleep(every);
            }
            (n, misses)
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

#[test]
fn restarts_of_ternd_and_of_a_peer_lose_no_route() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(50, 2);
    let n = lan.net;
    let (t_addr, b_addr) = (lan.v4(0), lan.v4(1));
    let dir_t = TempDir::new("restart-t");
    let conf = node_conf(&t_addr, &b_addr, "graceful_restart_wait = 20\n", "");
    let mut t = Ternd::start_in(&dir_t, &conf, Some(&lan.nodes[0]));
    let dir_b = TempDir::new("restart-b");
    let bird_conf = format!(
        r#"router id {b_addr};
protocol device {{ }}
protocol static s4 {{ ipv4; route 10.244.2.0/26 via 10.200.{n}.9; route 10.244.3.0/26 via 10.200.{n}.9; }}
protocol bgp tern {{
  local {b_addr} as 64512;
  neighbor {t_addr} as 64512;
  hold time 6;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  graceful restart on;
  graceful restart time 30;
  ipv4 {{ import all; export where source = RTS_STATIC; next hop keep; }};
}}
"#
    );
    let mut b = Bird::start_in(&dir_b, &bird_conf, Some(&lan.nodes[1]));
    let want = ["10.244.2.0/26", "10.244.3.0/26"];
    let ns_name = lan.nodes[0].name.clone();
    let in_kernel = move || {
        let table = run(std::process::Command::new("ip")
            .args(["netns", "exec", &ns_name, "ip", "-4", "route", "show", "table", "main"]));
        match want
            .iter()
            .find(|p| route_of(&table, p).is_none_or(|l| !l.contains("proto bird")))
        {
            Some(p) => Err(format!("{p} missing:\n{table}")),
            None => Ok(()),
        }
    };
    let check = in_kernel.clone();
    wait_for(CONVERGE, "BIRD's routes in ternd's kernel", || check().ok());
    let bird_ctl = b.ctl.clone();
    let bird_has_ours = move || {
        let r = interop::birdc("birdc", &bird_ctl, "show route 10.244.1.0/26");
        if r.contains("10.244.1.0/26") {
            Ok(())
        } else {
            Err(format!("BIRD lost our block: {r}"))
        }
    };
    let check = bird_has_ours.clone();
    wait_for(CONVERGE, "BIRD to have our block", || check().ok());
    let kernel = Sampler::start(Duration::from_millis(50), in_kernel);
    let peer = Sampler::start(Duration::from_millis(100), bird_has_ours);
    let recovered = |t: &Ternd| {
        wait_for(CONVERGE, "graceful restart recovery to end", || {
            let s = t.birdc("show status");
            (!s.contains("Graceful restart recovery")
                && t.bgp_state(&format!("Mesh_{}", b_addr.replace('.', "_"))).as_deref() == Some("Established"))
            .then_some(())
        })
    };

    // kill -9, then a restart as calico-node does it (-R).
    t.proc.kill9();
    std::thread::sleep(Duration::from_millis(500));
    t = Ternd::start_args(&dir_t, &conf, Some(&lan.nodes[0]), &["-R"]);
    // Recovery runs until BIRD's End-of-RIB: 0024 while it does. (BIRD
    // can, rarely, reconnect and finish within the moment before we ask.)
    let status = t.birdc("show status");
    assert!(
        status.contains("Graceful restart recovery in progress")
            || t.proc.log().contains("graceful restart recovery done"),
        "{status}"
    );
    recovered(&t);
    assert!(t.proc.log().contains("adopted 2 routes"), "{}", t.proc.log());
    // Two restarts in quick succession.
    t.proc.kill9();
    t = Ternd::start_args(&dir_t, &conf, Some(&lan.nodes[0]), &["-R"]);
    std::thread::sleep(Duration::from_millis(300));
    t.proc.kill9();
    t = Ternd::start_args(&dir_t, &conf, Some(&lan.nodes[0]), &["-R"]);
    recovered(&t);

    // BIRD held our block through all three restarts of ternd.
    let (pn, pmiss) = peer.finish();
    assert!(
        pmiss.is_empty(),
        "{} of {pn} BIRD samples missed our block: {}",
        pmiss.len(),
        pmiss[0]
    );

    // The peer restarts: its routes stay in our kernel until it is back.
    b.proc.kill9();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        t.birdc("show route").contains("10.244.2.0/26"),
        "ternd keeps a restarting peer's routes"
    );
    b = Bird::start_args(&dir_b, &bird_conf, Some(&lan.nodes[1]), &["-R"]);
    wait_for(CONVERGE, "BIRD back", || {
        (t.bgp_state(&format!("Mesh_{}", b_addr.replace('.', "_"))).as_deref() == Some("Established")).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let (kn, kmiss) = kernel.finish();
    eprintln!(
        "kernel samples every 50 ms: {kn}, missing a route: {}; BIRD samples every 100 ms: {pn}, missing ours: 0",
        kmiss.len()
    );
    assert!(
        kmiss.is_empty(),
        "{} of {kn} kernel samples missed a route: {}",
        kmiss.len(),
        kmiss[0]
    );
    // Still right afterwards: a withdrawal is carried out.
    assert!(b.birdc("disable s4").contains("disabled"));
    wait_for(CONVERGE, "withdrawn routes to leave the kernel", || {
        (!ip_route(&lan.nodes[0], "-4").contains("proto bird")).then_some(())
    });
}

/// The same prefix from two reflectors (a service address announced by
/// two nodes, each behind its own reflector): one ECMP route in the
/// kernel, as `merge paths` makes it, and back to one path when a node
/// withdraws.
#[test]
fn ecmp_through_two_reflectors() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(53, 5);
    let addr = |i: usize| lan.v4(i);
    let t_addr = addr(0);
    let dir_t = TempDir::new("ecmp-t");
    let mut conf =
        format!("router_id = \"{t_addr}\"\nlisten = [\"{t_addr}:179\"]\nctl_socket = \"{{CTL}}\"\n[kernel]\n");
    for rr in [1, 2] {
        conf += &format!(
            "[[peer]]\nname = \"Node_{}\"\naddress = \"{}\"\nlocal_address = \"{t_addr}\"\npassive = true\nhold_time = 6\n",
            addr(rr).replace('.', "_"),
            addr(rr)
        );
    }
    let _t = Ternd::start_in(&dir_t, &conf, Some(&lan.nodes[0]));
    let session = |name: &str, me: &str, them: &str, extra: &str| {
        format!(
            "protocol bgp {name} {{ local {me} as 64512; neighbor {them} as 64512; direct; hold time 6; connect delay time 1; connect retry time 1; {extra} }}\n"
        )
    };
    const CLIENT: &str = "rr client; rr cluster id 244.0.0.1; ipv4 { import all; export all; };";
    let mut birds = Vec::new();
    // Reflectors 2 and 3, each with one node client (4 and 5) and ternd.
    for (rr, node) in [(1, 3), (2, 4)] {
        let me = addr(rr);
        let dir = TempDir::new(&format!("ecmp-rr{rr}"));
        let c = format!(
            "router id {me};\nprotocol device {{ }}\n{}{}",
            session("tern", &me, &t_addr, CLIENT),
            session("node", &me, &addr(node), CLIENT)
        );
        birds.push((Bird::start_in(&dir, &c, Some(&lan.nodes[rr])), dir));
    }
    for (node, rr) in [(3, 1), (4, 2)] {
        let me = addr(node);
        let dir = TempDir::new(&format!("ecmp-n{node}"));
        let c = format!(
            "router id {me};\nprotocol device {{ }}\nprotocol static svc {{ ipv4; route 10.96.0.10/32 blackhole; }}\n{}",
            session(
                "reflector",
                &me,
                &addr(rr),
                "ipv4 { import all; export where source = RTS_STATIC; next hop self; };"
            )
        );
        birds.push((Bird::start_in(&dir, &c, Some(&lan.nodes[node])), dir));
    }
    let node = &lan.nodes[0];
    let ecmp = wait_for(CONVERGE, "one route through both nodes", || {
        let r = route_of(&ip_route(node, "-4"), "10.96.0.10")?;
        (r.matches("nexthop").count() == 2).then_some(r)
    });
    for n in [3, 4] {
        assert!(
            ecmp.contains(&format!("nexthop via {} dev eth0 weight 1", addr(n))),
            "{ecmp}"
        );
    }
    assert!(ecmp.starts_with("10.96.0.10 proto bird"), "{ecmp}");
    // One node withdraws: a single next hop is left.
    assert!(birds[3].0.birdc("disable svc").contains("disabled"));
    wait_for(CONVERGE, "the ECMP route to shrink", || {
        let r = route_of(&ip_route(node, "-4"), "10.96.0.10")?;
        (r.trim() == format!("10.96.0.10 via {} dev eth0 proto bird", addr(3))).then_some(())
    });
}
