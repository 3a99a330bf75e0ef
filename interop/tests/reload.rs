//! Live reload, in network namespaces: SIGHUP (what confd sends) adds a
//! peer, removes another (which hears Cease / Peer De-configured), adds a
//! static route and moves the listening port, while the session that did
//! not change stays up (`since` unchanged on both sides); `configure` on
//! the control socket refuses a bad file and changes nothing.

use std::time::Duration;

use interop::netns::{skip_without, Lan};
use interop::{wait_for, Bird, TempDir, Ternd};

const CONVERGE: Duration = Duration::from_secs(30);

fn bird(lan: &Lan, i: usize, port: u16) -> (Bird, TempDir) {
    let (me, t) = (lan.v4(i), lan.v4(0));
    let dir = TempDir::new(&format!("reload-b{i}"));
    let conf = format!(
        r#"router id {me};
protocol device {{ }}
protocol bgp tern {{
  local {me} as 64512;
  neighbor {t} port {port} as 64512;
  hold time 6;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  ipv4 {{ import all; export none; }};
}}
"#
    );
    (Bird::start_in(&dir, &conf, Some(&lan.nodes[i])), dir)
}

/// The `since` column of a protocol's row in `show protocols`.
fn since(show: &str, name: &str) -> Option<String> {
    show.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(4))
        .map(str::to_string)
}

#[test]
fn a_reload_adds_and_removes_peers_and_leaves_the_others_alone() {
    if skip_without(&["bird", "birdc", "ip"]) {
        return;
    }
    let lan = Lan::new(51, 4);
    let t_addr = lan.v4(0);
    let name = |i: usize| format!("Mesh_{}", lan.v4(i).replace('.', "_"));
    let peer = |i: usize| {
        format!(
            "[[peer]]\nname = \"{}\"\naddress = \"{}\"\nlocal_address = \"{t_addr}\"\npassive = true\nhold_time = 6\n",
            name(i),
            lan.v4(i)
        )
    };
    let head = |port: u16| {
        format!(
            "router_id = \"{t_addr}\"\nlisten = [\"{t_addr}:{port}\"]\nctl_socket = \"{{CTL}}\"\n\
             [[pool]]\ncidr = \"10.244.0.0/16\"\n[[static]]\nprefix = \"10.244.1.0/26\"\nblackhole = true\n"
        )
    };
    let dir = TempDir::new("reload-t");
    let first = format!("{}{}{}", head(1179), peer(1), peer(2));
    let t = Ternd::start_in(&dir, &first, Some(&lan.nodes[0]));
    let (a, _da) = bird(&lan, 1, 1179);
    let (b, _db) = bird(&lan, 2, 1179);
    // C connects to port 179 only: it can come up only once the reload
    // moved the listening socket there.
    let (c, _dc) = bird(&lan, 3, 179);
    wait_for(CONVERGE, "A and B up", || {
        (t.bgp_state(&name(1)).as_deref() == Some("Established")
            && t.bgp_state(&name(2)).as_deref() == Some("Established"))
        .then_some(())
    });
    wait_for(CONVERGE, "A to have our block", || {
        a.birdc("show route").contains("10.244.1.0/26").then_some(())
    });
    let since_t = since(&t.birdc("show protocols"), &name(1)).unwrap();
    let since_a = since(&a.birdc("show protocols"), "tern").unwrap();
    // A restart would show a later time.
    std::thread::sleep(Duration::from_millis(1100));

    // A bad file is refused with its error, and nothing changes.
    let bad = dir.write("bad.toml", &first.replace("hold_time = 6", "hold_time = 2"));
    let out = t.birdc(&format!("configure \"{}\"", bad.display()));
    assert!(
        out.contains("Reading configuration from") && out.contains("peer.hold_time"),
        "{out}"
    );
    assert!(!out.contains("Reconfigured"), "{out}");
    let out = t.birdc("configure check");
    assert!(out.contains("Configuration OK"), "{out}");
    assert_eq!(t.bgp_state(&name(2)).as_deref(), Some("Established"));

    // The reload: B goes, C comes, a new static, a new listening port.
    let second = format!(
        "{}{}{}[[static]]\nprefix = \"10.244.2.0/26\"\nblackhole = true\n",
        head(179),
        peer(1),
        peer(3)
    );
    let second = second.replace("{CTL}", &t.ctl.display().to_string());
    std::fs::write(dir.path("tern.toml"), second).unwrap();
    t.proc.signal(libc::SIGHUP);
    wait_for(CONVERGE, "C up through the new port", || {
        (t.bgp_state(&name(3)).as_deref() == Some("Established")).then_some(())
    });
    // BIRD's log, not its last error: that one is soon overwritten by its
    // next attempts, which ternd now refuses.
    wait_for(CONVERGE, "B to hear Peer De-configured", || {
        b.log().contains("Received: Peer de-configured").then_some(())
    });
    let shown = t.birdc("show protocols");
    assert!(!shown.contains(&name(2)), "B is gone:\n{shown}");
    wait_for(CONVERGE, "A to get the new static", || {
        a.birdc("show route").contains("10.244.2.0/26").then_some(())
    });
    assert!(c.birdc("show route").contains("10.244.2.0/26"));
    assert_eq!(
        since(&t.birdc("show protocols"), &name(1)).unwrap(),
        since_t,
        "A's session stayed up"
    );
    assert_eq!(
        since(&a.birdc("show protocols"), "tern").unwrap(),
        since_a,
        "on A's side too"
    );
    let status = t.birdc("show status");
    assert!(status.contains("Last reconfiguration on"), "{status}");
}
