//! ternd against GoBGP, FRR (bgpd standalone, no zebra) and ExaBGP on
//! loopback: the session in both directions, staying up, capabilities, a
//! collision, a wrong AS and a frozen peer, checked through each
//! implementation's own CLI (ExaBGP has none without pipes: its log) and
//! through birdc on ternd's socket.

use std::process::Command;
use std::time::Duration;

use interop::{missing, run, tcp_sessions, wait_for, Proc, TempDir, Ternd};

const UP: Duration = Duration::from_secs(40);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    GoBgp,
    Frr,
    ExaBgp,
}

/// Addresses and ports of one test.
struct Lab {
    tern: String,
    peer: String,
    port: u16,
    api: u16,
}

impl Lab {
    fn new(net: u8, port: u16) -> Lab {
        Lab {
            tern: format!("127.0.{net}.1"),
            peer: format!("127.0.{net}.2"),
            port,
            api: port + 40000,
        }
    }

    fn name(&self) -> String {
        format!("Mesh_{}", self.peer.replace('.', "_"))
    }

    fn tern_conf(&self, peer_as: u32, passive: bool) -> String {
        format!(
            r#"router_id = "{me}"
asn = 64512
listen = ["{me}:{port}"]
ctl_socket = "{{CTL}}"

[[peer]]
name = "{name}"
address = "{peer}"
port = {port}
asn = {peer_as}
local_address = "{me}"
passive = {passive}
hold_time = 3
connect_retry = 2
"#,
            me = self.tern,
            port = self.port,
            peer = self.peer,
            name = self.name()
        )
    }
}

/// A running peer implementation.
struct PeerImpl {
    kind: Kind,
    proc: Proc,
    dir: std::path::PathBuf,
    api: u16,
    tern: String,
}

impl PeerImpl {
    fn start(kind: Kind, dir: &TempDir, lab: &Lab, local_as: u32, passive: bool) -> PeerImpl {
        let (me, tern, port) = (&lab.peer, &lab.tern, lab.port);
        let proc = match kind {
            Kind::GoBgp => {
                let conf = format!(
                    r#"[global.config]
  as = {local_as}
  router-id = "{me}"
  port = {port}
  local-address-list = ["{me}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{tern}"
    peer-as = 64512
  [neighbors.transport.config]
    remote-port = {port}
    local-address = "{me}"
    passive-mode = {passive}
  [neighbors.timers.config]
    hold-time = 3
    keepalive-interval = 1
    connect-retry = 2
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#
                );
                let cfg = dir.write("gobgpd.toml", &conf);
                let mut c = Command::new("gobgpd");
                c.arg("-f")
                    .arg(cfg)
                    .arg("--api-hosts")
                    .arg(format!("127.0.0.1:{}", lab.api))
                    .arg("--pprof-disable");
                Proc::spawn("gobgpd", &mut c, dir.path("gobgpd.log"))
            }
            Kind::Frr => {
                let conf = format!(
                    r#"frr defaults traditional
hostname tern-interop
log stdout debugging
debug bgp neighbor-events
router bgp {local_as}
 bgp router-id {me}
 no bgp ebgp-requires-policy
 bgp graceful-restart
 neighbor {tern} remote-as 64512
 neighbor {tern} port {port}
 neighbor {tern} update-source {me}
 neighbor {tern} timers 1 3
 neighbor {tern} timers connect 2
{passive_line} address-family ipv6 unicast
  neighbor {tern} activate
 exit-address-family
exit
"#,
                    passive_line = if passive {
                        format!(" neighbor {tern} passive\n")
                    } else {
                        String::new()
                    }
                );
                interop::Frr::start_in(dir, &conf, me, port, None).proc
            }
            Kind::ExaBgp => {
                let conf = format!(
                    r#"neighbor {tern} {{
  router-id {me};
  local-address {me};
  local-as {local_as};
  peer-as 64512;
  hold-time 3;
  {mode}
  capability {{
    route-refresh;
    graceful-restart 120;
  }}
  family {{ ipv4 unicast; ipv6 unicast; }}
}}
"#,
                    mode = if passive {
                        "passive true;".to_string()
                    } else {
                        format!("connect {port};")
                    }
                );
                let cfg = dir.write("exabgp.conf", &conf);
                let mut c = Command::new("exabgp");
                c.arg(cfg)
                    .env("exabgp.daemon.user", "root")
                    .env("exabgp.daemon.drop", "false")
                    .env("exabgp.log.destination", "stdout")
                    .env("exabgp.log.level", "DEBUG")
                    .env("exabgp.log.packets", "true")
                    .env("exabgp.api.cli", "false")
                    .env("exabgp.tcp.bind", me)
                    .env("exabgp.tcp.port", port.to_string());
                Proc::spawn("exabgp", &mut c, dir.path("exabgp.log"))
            }
        };
        PeerImpl {
            kind,
            proc,
            dir: dir.0.clone(),
            api: lab.api,
            tern: tern.clone(),
        }
    }

    /// What the implementation's CLI says about its neighbor ternd.
    fn show(&self) -> String {
        match self.kind {
            Kind::GoBgp => run(Command::new("gobgp").args(["-p", &self.api.to_string(), "neighbor", &self.tern])),
            Kind::Frr => interop::vtysh(&self.dir, &format!("show bgp neighbors {} json", self.tern)),
            Kind::ExaBgp => self.proc.log(),
        }
    }

    fn established(&self) -> bool {
        let s = self.show();
        match self.kind {
            Kind::GoBgp => s.contains("BGP state = ESTABLISHED"),
            Kind::Frr => s.contains("\"bgpState\":\"Established\""),
            // ExaBGP logs "connected to peer-1 with ..." when the session
            // is up and "peer reset" when it goes down.
            Kind::ExaBgp => {
                let up = s.rfind("connected to peer-1 with");
                let down = s.rfind("peer reset");
                up.is_some() && down.is_none_or(|d| up.is_some_and(|u| u > d))
            }
        }
    }
}

fn both_up(t: &Ternd, lab: &Lab, p: &PeerImpl) -> bool {
    t.bgp_state(&lab.name()).as_deref() == Some("Established") && p.established()
}

fn skip(kind: Kind) -> bool {
    match kind {
        Kind::GoBgp => missing(&["gobgpd", "gobgp", "birdc"]),
        Kind::Frr => missing(&["/usr/lib/frr/bgpd", "vtysh", "birdc"]),
        Kind::ExaBgp => missing(&["exabgp", "birdc"]),
    }
}

/// One check's ternd and peer: ternd expects the peer in `tern_expects_as`;
/// `None` when the implementation is not installed (and not required).
fn start(
    kind: Kind,
    net: u8,
    port: u16,
    tern_expects_as: u32,
    tern_passive: bool,
    peer_passive: bool,
) -> Option<(Lab, TempDir, Ternd, PeerImpl)> {
    if skip(kind) {
        return None;
    }
    let lab = Lab::new(net, port);
    let dir = TempDir::new("peer");
    let t = Ternd::start(&dir, &lab.tern_conf(tern_expects_as, tern_passive));
    let p = PeerImpl::start(kind, &dir, &lab, 64512, peer_passive);
    Some((lab, dir, t, p))
}

/// Up with ternd connecting, stays up over five keepalive intervals.
fn tern_connects(kind: Kind, net: u8, port: u16) {
    let Some((lab, _dir, t, p)) = start(kind, net, port, 64512, false, true) else {
        return;
    };
    wait_for(UP, "Established on both sides", || both_up(&t, &lab, &p).then_some(()));
    let row = t.birdc(&format!("show protocols {}", lab.name()));
    std::thread::sleep(Duration::from_secs(5));
    assert!(both_up(&t, &lab, &p), "{}\n{}", p.show(), t.proc.log());
    assert_eq!(t.birdc(&format!("show protocols {}", lab.name())), row, "no flap");
    check_capabilities(kind, &t, &lab, &p);
}

/// Up with the peer connecting and ternd accepting.
fn peer_connects(kind: Kind, net: u8, port: u16) {
    let Some((lab, _dir, t, p)) = start(kind, net, port, 64512, true, false) else {
        return;
    };
    wait_for(UP, "Established on both sides", || both_up(&t, &lab, &p).then_some(()));
    std::thread::sleep(Duration::from_secs(4));
    assert!(both_up(&t, &lab, &p), "{}", p.show());
}

/// 4-octet AS, IPv4 and IPv6, route refresh and graceful restart, as both
/// sides' CLIs report them.
fn check_capabilities(kind: Kind, t: &Ternd, lab: &Lab, p: &PeerImpl) {
    let theirs = p.show();
    match kind {
        Kind::GoBgp => {
            for c in [
                "ipv4-unicast:\tadvertised and received",
                "ipv6-unicast:\tadvertised and received",
                "route-refresh:\tadvertised and received",
                "graceful-restart:\tadvertised and received",
                "4-octet-as:\tadvertised and received",
            ] {
                assert!(theirs.contains(c), "GoBGP: no {c:?}\n{theirs}");
            }
        }
        Kind::Frr => {
            let v: serde_json::Value =
                serde_json::from_str(&theirs).unwrap_or_else(|e| panic!("FRR JSON: {e}\n{theirs}"));
            let caps = &v[&p.tern]["neighborCapabilities"];
            assert_eq!(caps["4byteAs"], "advertisedAndReceived", "{theirs}");
            assert_eq!(caps["gracefulRestart"], "advertisedAndReceived", "{theirs}");
            assert!(
                caps["routeRefresh"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("advertisedAndReceived")),
                "{theirs}"
            );
            for fam in ["ipv4Unicast", "ipv6Unicast"] {
                assert_eq!(
                    caps["multiprotocolExtensions"][fam]["advertisedAndReceived"], true,
                    "{fam}: {theirs}"
                );
            }
        }
        Kind::ExaBgp => {
            // ExaBGP logs the OPEN it received from ternd.
            let open = theirs.lines().find(|l| l.contains("<< OPEN")).unwrap_or_default();
            for c in [
                "Multiprotocol(ipv4 unicast,ipv6 unicast)",
                "Route Refresh",
                "Graceful Restart",
                "ASN4(64512)",
            ] {
                assert!(open.contains(c), "ExaBGP saw no {c} from ternd: {open}");
            }
        }
    }
    let ours = t.birdc(&format!("show protocols all {}", lab.name()));
    let caps = ours
        .lines()
        .find(|l| l.contains("Neighbor caps:"))
        .unwrap_or_default()
        .to_string();
    for c in ["refresh", "AS4"] {
        assert!(caps.split_whitespace().any(|w| w == c), "ternd sees no {c}: {ours}");
    }
    assert!(caps.contains("restart-"), "ternd sees no graceful restart: {ours}");
}

/// Both sides active at once: one TCP session remains.
fn collision(kind: Kind, net: u8, port: u16) {
    if missing(&["ss"]) {
        return;
    }
    let Some((lab, _dir, t, p)) = start(kind, net, port, 64512, false, false) else {
        return;
    };
    wait_for(UP, "Established on both sides", || both_up(&t, &lab, &p).then_some(()));
    std::thread::sleep(Duration::from_secs(5));
    assert!(both_up(&t, &lab, &p));
    assert_eq!(tcp_sessions(&lab.tern, &lab.peer), 1, "{}", t.proc.log());
}

/// ternd expects AS 64999 but the peer is 64512: refused with 2/2.
fn wrong_as(kind: Kind, net: u8, port: u16) {
    let Some((lab, _dir, t, p)) = start(kind, net, port, 64999, false, true) else {
        return;
    };
    let seen = wait_for(UP, "the peer to report Bad Peer AS", || {
        let s = p.show();
        if std::env::var_os("TERN_DEBUG").is_some() {
            eprintln!("{s}");
        }
        let hit = match kind {
            // GoBGP drops a NOTIFICATION in OpenConfirm as an invalid
            // message without logging it; its CLI still counts it.
            Kind::GoBgp => s
                .lines()
                .find(|l| l.trim_start().starts_with("Notifications:"))
                .and_then(|l| l.split_whitespace().last()?.parse::<u32>().ok())
                .is_some_and(|rcvd| rcvd >= 1),
            // FRR tracks an accepted connection apart until it is up, so
            // its CLI shows nothing; its log has the NOTIFICATION.
            Kind::Frr => p.proc.log().contains("received from neighbor") && p.proc.log().contains("Bad Peer AS"),
            Kind::ExaBgp => s.contains("notification received (2,2)"),
        };
        hit.then_some(s)
    });
    assert!(t.proc.log().contains("code=2 subcode=2"), "{}", t.proc.log());
    assert_ne!(t.bgp_state(&lab.name()).as_deref(), Some("Established"), "{seen}");
}

/// The peer frozen with SIGSTOP: ternd's hold timer drops it (4/0); after
/// SIGCONT the session comes back.
fn frozen(kind: Kind, net: u8, port: u16) {
    let Some((lab, _dir, t, p)) = start(kind, net, port, 64512, false, true) else {
        return;
    };
    wait_for(UP, "Established on both sides", || both_up(&t, &lab, &p).then_some(()));
    p.proc.signal(19);
    wait_for(Duration::from_secs(10), "ternd's hold timer to expire", || {
        (t.bgp_state(&lab.name()).as_deref() != Some("Established")).then_some(())
    });
    let log = t.proc.log();
    assert!(
        log.contains("hold timer expired") && log.contains("code=4 subcode=0"),
        "{log}"
    );
    p.proc.signal(18);
    wait_for(Duration::from_secs(90), "the session to come back", || {
        (t.bgp_state(&lab.name()).as_deref() == Some("Established")).then_some(())
    });
}

macro_rules! matrix {
    ($($kind:ident $net:literal $port:literal: $($f:ident)*;)*) => {$($(
        paste_test!($kind, $net, $port, $f);
    )*)*};
}

macro_rules! paste_test {
    ($kind:ident, $net:literal, $port:literal, $f:ident) => {
        #[allow(non_snake_case)]
        mod $f {
            #[allow(non_snake_case)]
            pub mod $kind {
                #[test]
                fn run() {
                    super::super::$f(
                        super::super::Kind::$kind,
                        $net + super::super::offset(stringify!($f)),
                        $port + 10 * u16::from(super::super::offset(stringify!($f))),
                    );
                }
            }
        }
    };
}

/// Each check gets its own addresses and ports.
fn offset(check: &str) -> u8 {
    match check {
        "tern_connects" => 0,
        "peer_connects" => 1,
        "collision" => 2,
        "wrong_as" => 3,
        _ => 4,
    }
}

mod gobgp {
    use super::*;
    matrix! { GoBgp 30 11900: tern_connects peer_connects collision wrong_as frozen; }
}

mod frr {
    use super::*;
    matrix! { Frr 40 12000: tern_connects peer_connects collision wrong_as frozen; }
}

mod exabgp {
    use super::*;
    matrix! { ExaBgp 50 12100: tern_connects peer_connects collision wrong_as frozen; }
}
