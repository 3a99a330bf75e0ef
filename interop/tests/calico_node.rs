//! ternd in calico-node's place: `--ctl-dir` serves `bird.ctl` (IPv4) and
//! `bird6.ctl` (IPv6) as BIRD and BIRD6 did; Calico's `show protocols`
//! parser (node/pkg/health/bird/bird.go, §4.2 of calico.md) reads both
//! and types each peer; `ternc live` and `ternc ready` apply calico-node's
//! rules and name each peer that is down and why. On loopback: no BIRD
//! exchanges routes here.

use std::process::Command;
use std::time::Duration;

use interop::{run, wait_for, TempDir, Ternd};

/// Calico's `GetPeers`: the rows of `show protocols` it keeps, as
/// (peer IP, type, state, BGP state).
fn calico_peers(raw_lines: &str) -> Vec<(String, &'static str, String, String)> {
    let name = regex::Regex::new(r"^(Global|Node|Mesh)_(.+)$").unwrap();
    let mut out = Vec::new();
    for line in raw_lines.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 || cols[1] != "BGP" {
            continue;
        }
        let Some(m) = name.captures(cols[0]) else { continue };
        let kind = match &m[1] {
            "Global" => "global",
            "Mesh" => "node-to-node mesh",
            _ => "node specific",
        };
        let ip = if m[2].contains("__") || m[2].matches('_').count() != 3 {
            m[2].replace('_', ":")
        } else {
            m[2].replace('_', ".")
        };
        out.push((ip, kind, cols[3].to_string(), cols[5].to_string()));
    }
    out
}

fn ternc(args: &[&str]) -> (bool, String) {
    let bin = interop::ternd_bin().with_file_name("ternc");
    let out = Command::new(bin).args(args).output().expect("ternc runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn bird_and_bird6_sockets_liveness_and_readiness_with_reasons() {
    let port = 12451;
    let dir_b = TempDir::new("cn-b");
    let _b = Ternd::start(
        &dir_b,
        &format!(
            "router_id = \"127.0.0.2\"\nlisten = [\"127.0.0.2:{port}\"]\nctl_socket = \"{{CTL}}\"\n\
             [[peer]]\nname = \"Mesh_127_0_0_1\"\naddress = \"127.0.0.1\"\nport = {port}\nlocal_address = \"127.0.0.2\"\n"
        ),
    );
    let dir_a = TempDir::new("cn-a");
    let ctl_dir = dir_a.path("calico");
    std::fs::create_dir_all(&ctl_dir).unwrap();
    let conf = format!(
        "router_id = \"127.0.0.1\"\nlisten = [\"127.0.0.1:{port}\"]\nctl_socket = \"{{CTL}}\"\n\
         [[peer]]\nname = \"Mesh_127_0_0_2\"\naddress = \"127.0.0.2\"\nport = {port}\nlocal_address = \"127.0.0.1\"\npassive = true\n\
         [[peer]]\nname = \"Node_127_0_0_3\"\naddress = \"127.0.0.3\"\nport = {port}\nconnect_retry = 1\n\
         [[peer]]\nname = \"Global___1\"\naddress = \"::1\"\nport = {}\nconnect_retry = 1\n",
        port + 1
    );
    let a = Ternd::start_args(&dir_a, &conf, None, &["--ctl-dir", ctl_dir.to_str().unwrap()]);
    let (v4, v6) = (ctl_dir.join("bird.ctl"), ctl_dir.join("bird6.ctl"));
    wait_for(Duration::from_secs(20), "v4 and v6 sockets", || {
        (v4.exists() && v6.exists()).then_some(())
    });
    wait_for(Duration::from_secs(20), "the mesh session", || {
        (a.bgp_state("Mesh_127_0_0_2").as_deref() == Some("Established")).then_some(())
    });
    wait_for(Duration::from_secs(20), "a refused attempt to 127.0.0.3", || {
        a.birdc("show protocols Node_127_0_0_3")
            .contains("Connection refused")
            .then_some(())
    });

    // Each socket shows its family's peers; Calico's parser types them.
    let raw = |sock: &std::path::Path| {
        let mut out = String::new();
        for l in interop::birdc("birdc", sock, "show protocols").lines() {
            out.push_str(l);
            out.push('\n');
        }
        out
    };
    let four = calico_peers(&raw(&v4));
    let six = calico_peers(&raw(&v6));
    assert_eq!(
        four.iter().map(|p| (p.0.as_str(), p.1)).collect::<Vec<_>>(),
        vec![("127.0.0.2", "node-to-node mesh"), ("127.0.0.3", "node specific")],
        "{four:?}"
    );
    assert_eq!(four[0].3, "Established");
    assert_eq!(
        six.iter().map(|p| (p.0.as_str(), p.1)).collect::<Vec<_>>(),
        vec![("::1", "global")],
        "{six:?}"
    );
    // BIRD 1.6's own client reads them too.
    let bird16 = std::env::var("BIRD16_BIRDC").unwrap_or_else(|_| "/opt/tern-bird1.6/usr/sbin/birdc".into());
    if std::path::Path::new(&bird16).exists() {
        let out = run(Command::new(&bird16).arg("-s").arg(&v6).arg("show protocols"));
        assert!(out.contains("Global___1") && !out.contains("Mesh_127_0_0_2"), "{out}");
    }
    // Routes, too, by family.
    let r4 = interop::birdc("birdc", &v4, "show route count");
    assert!(r4.contains("routes"), "{r4}");

    // Liveness as calico-node checks it.
    let (ok, out) = ternc(&["-s", v4.to_str().unwrap(), "live"]);
    assert!(ok && out.starts_with("live: BIRD"), "{out}");
    let (ok, out) = ternc(&["-s", "/nonexistent/bird.ctl", "live"]);
    assert!(!ok && out.contains("/nonexistent/bird.ctl"), "{out}");

    // Readiness in the first seconds: every peer must be up, and the
    // answer says which one is not, in what state, since when and why.
    let (ok, out) = ternc(&["-s", v4.to_str().unwrap(), "ready", "--threshold", "300"]);
    assert!(!ok, "{out}");
    assert!(out.contains("BGP not established with 1 of 2 peers"), "{out}");
    assert!(
        out.contains("Node_127_0_0_3 (127.0.0.3) is Active since") && out.contains("Connection refused"),
        "{out}"
    );
    assert!(
        !out.contains("Mesh_127_0_0_2 (127.0.0.2) is"),
        "an Established peer is not blamed: {out}"
    );
    // Later, one Established peer is enough; the one down is still named.
    let (ok, out) = ternc(&["-s", v4.to_str().unwrap(), "ready", "--threshold", "0"]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("ready: 1 of 2 peers Established") && out.contains("Node_127_0_0_3"),
        "{out}"
    );
    // The IPv6 socket's only peer is down: not ready.
    let (ok, out) = ternc(&["-s", v6.to_str().unwrap(), "ready", "--threshold", "0"]);
    assert!(
        !ok && out.contains("no BGP peer is established") && out.contains("Global___1 (::1)"),
        "{out}"
    );
}
