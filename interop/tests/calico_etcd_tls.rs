//! etcd over TLS with client certificates, as calico-node is usually set
//! up (`ETCD_ENDPOINTS=https://…`, `ETCD_CA_CERT_FILE`, `ETCD_CERT_FILE`,
//! `ETCD_KEY_FILE`): `ternd calico render` and `ternd --calico` read the
//! datastore through it; without a client certificate etcd refuses them
//! and they say so.

use std::time::Duration;

use interop::etcd::{Etcd, Tls};
use interop::netns::{skip_without, Lan};
use interop::{wait_for, TempDir, Ternd};

const RES: &str = "/calico/resources/v3/projectcalico.org";

#[test]
fn render_and_run_over_tls_with_client_certificates() {
    if skip_without(&["etcd", "etcdctl", "openssl"]) {
        return;
    }
    let lan = Lan::new(56, 3);
    let dir = TempDir::new("calico-etcd-tls");
    let tls = Tls::make(&dir, &lan.v4(2));
    let etcd = Etcd::start_with(&dir, &lan.nodes[2], &lan.v4(2), Some(tls.clone()));
    let ep = etcd.endpoint();
    assert!(ep.starts_with("https://"));
    for i in 0..2 {
        etcd.put(
            &format!("{RES}/nodes/n{i}"),
            &format!(
                r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"n{i}"}},"spec":{{"bgp":{{"ipv4Address":"{}/24"}}}}}}"#,
                lan.v4(i)
            ),
        );
    }
    etcd.put(
        "/calico/ipam/v2/host/n0/ipv4/block/192.168.0.0-26",
        r#"{"state":"confirmed"}"#,
    );
    let render = |with_client_cert: bool| {
        let mut c = lan.nodes[0].command(interop::ternd_bin().to_str().unwrap());
        c.args(["calico", "render", "--node", "n0", "--etcd-endpoints", &ep])
            .env("ETCD_CA_CERT_FILE", &tls.ca)
            .env_remove("ETCD_CERT_FILE")
            .env_remove("ETCD_KEY_FILE");
        if with_client_cert {
            c.env("ETCD_CERT_FILE", &tls.client_cert)
                .env("ETCD_KEY_FILE", &tls.client_key);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = render(true);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!("name = \"Mesh_{}\"", lan.v4(1).replace('.', "_"))),
        "{out}"
    );
    assert!(out.contains("prefix = \"192.168.0.0/26\""), "{out}");
    // etcd wants a client certificate: without one, a clear failure.
    let (code, _, err) = render(false);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("etcd"), "{err}");

    // The daemon, from the environment calico-node gives it.
    let node_dir = TempDir::new("calico-etcd-tls-n0");
    let run_dir = node_dir.path("run");
    let mut c = lan.nodes[0].command(interop::ternd_bin().to_str().unwrap());
    c.args(["--calico", "--ctl-dir"])
        .arg(&run_dir)
        .arg("--endpoint-status")
        .arg(node_dir.path("endpoint-status"))
        .env("NODENAME", "n0")
        .env("DATASTORE_TYPE", "etcdv3")
        .env("ETCD_ENDPOINTS", &ep)
        .env("ETCD_CA_CERT_FILE", &tls.ca)
        .env("ETCD_CERT_FILE", &tls.client_cert)
        .env("ETCD_KEY_FILE", &tls.client_key)
        .env_remove("CALICO_ROUTER_ID");
    let t = Ternd {
        proc: interop::Proc::spawn("ternd", &mut c, node_dir.path("ternd.log")),
        ctl: run_dir.join("tern.ctl"),
    };
    wait_for(
        Duration::from_secs(20),
        "the node configured from etcd over TLS",
        || t.ctl.exists().then_some(()),
    );
    assert!(t.birdc("show protocols").contains("Mesh_"), "{}", t.proc.log());
    assert!(t.proc.log().contains("datastore in sync"), "{}", t.proc.log());
}
