//! `ternd --calico`, `ternd calico render`, and ternd started under
//! BIRD's names by calico-node's runit services.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use daemon::calico::live::{self, Options};
use daemon::calico::resources::Resources;
use daemon::calico::source::etcd::{Etcd, Settings};
use daemon::calico::source::{Event, Source};
use daemon::calico::store::Store;

/// Where calico-node keeps BIRD's sockets.
const CALICO_RUN: &str = "/var/run/calico";
/// Where `calico-node -startup` writes the node's name.
const NODENAME_FILE: &str = "/var/lib/calico/nodename";

pub struct Args {
    pub node: Option<String>,
    pub etcd_endpoints: Vec<String>,
    pub ctl_dir: Option<PathBuf>,
    pub endpoint_status: Option<PathBuf>,
    pub restarted: bool,
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// The node's name: `--node`, `NODENAME`, or the file calico-node wrote.
fn node_name(given: Option<String>) -> Result<String, String> {
    if let Some(n) = given.filter(|n| !n.is_empty()) {
        return Ok(n);
    }
    if let Some(n) = std::env::var("NODENAME").ok().filter(|n| !n.is_empty()) {
        return Ok(n);
    }
    match std::fs::read_to_string(NODENAME_FILE) {
        Ok(n) if !n.trim().is_empty() => Ok(n.trim().to_string()),
        _ => Err(format!("no node name: give --node, NODENAME, or {NODENAME_FILE}")),
    }
}

/// The etcd settings from the environment, with `--etcd-endpoints` over
/// `ETCD_ENDPOINTS`; only `DATASTORE_TYPE=etcdv3` is served today.
fn etcd(endpoints: Vec<String>) -> Result<Etcd, String> {
    match std::env::var("DATASTORE_TYPE").as_deref() {
        Ok("etcdv3") | Ok("") | Err(_) => {}
        Ok(t) => return Err(format!("DATASTORE_TYPE={t}: only etcdv3 is supported yet")),
    }
    let mut settings = Settings::from_env();
    if !endpoints.is_empty() {
        settings.endpoints = endpoints;
    }
    if settings.endpoints.is_empty() {
        return Err("no etcd endpoint: give --etcd-endpoints or ETCD_ENDPOINTS".into());
    }
    Ok(Etcd { settings })
}

/// `ternd --calico`.
pub fn run(a: Args) -> ExitCode {
    let (node, source) = match (node_name(a.node), etcd(a.etcd_endpoints)) {
        (Ok(n), Ok(s)) => (n, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ternd --calico: {e}");
            return ExitCode::from(2);
        }
    };
    let o = Options {
        node,
        router_id: std::env::var("CALICO_ROUTER_ID").ok(),
        ctl_dir: a.ctl_dir.unwrap_or_else(|| PathBuf::from(CALICO_RUN)),
        restarted: a.restarted,
        metrics_listen: a.metrics_listen,
        endpoint_status: a
            .endpoint_status
            .unwrap_or_else(|| PathBuf::from(daemon::calico::endpoint_status::DEFAULT_DIR)),
    };
    if let Err(e) = std::fs::create_dir_all(&o.ctl_dir) {
        eprintln!("ternd --calico: {}: {e}", o.ctl_dir.display());
        return ExitCode::FAILURE;
    }
    crate::malloc::settle();
    let Some(rt) = crate::runtime() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(live::run(source, o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ternd --calico: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `r`'s configuration for `node`.
fn render(r: Result<daemon::config::Config, String>, node: &str) -> ExitCode {
    let mut c = match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ternd calico render: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = live::router_id(&mut c, node, std::env::var("CALICO_ROUTER_ID").ok().as_deref()) {
        eprintln!("ternd calico render: {e}");
        return ExitCode::from(1);
    }
    print!("{}", daemon::config::render::to_toml(&c));
    ExitCode::SUCCESS
}

/// `ternd calico render --resources FILE…`.
pub fn render_files(node: &str, files: &[PathBuf], endpoint_status: Option<&Path>) -> ExitCode {
    let mut r = Resources::default();
    if let Some(d) = endpoint_status {
        r.workloads = daemon::calico::endpoint_status::read(d);
    }
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ternd calico render: {}: {e}", f.display());
                return ExitCode::from(1);
            }
        };
        if let Err(e) = r.add_text(&f.display().to_string(), &text) {
            eprintln!("ternd calico render: {e}");
            return ExitCode::from(1);
        }
    }
    render(
        daemon::calico::derive::derive(&r, node).map_err(|e| e.to_string()),
        node,
    )
}

/// `ternd calico render --etcd-endpoints URL…`: one full list, as
/// `ternd --calico` would start from; keys it cannot read are named on
/// stderr and left out, as the daemon leaves them out.
pub fn render_etcd(node: &str, endpoints: &[String], endpoint_status: Option<&Path>) -> ExitCode {
    let source = match etcd(endpoints.to_vec()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ternd calico render: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::FAILURE;
    };
    let first = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(source.run(node.to_string(), tx));
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
        task.abort();
        ev
    });
    let items = match first {
        Ok(Some(Event::Synced(items))) => items,
        Ok(Some(Event::Lost(e))) => {
            eprintln!("ternd calico render: etcd: {e}");
            return ExitCode::from(1);
        }
        _ => {
            eprintln!("ternd calico render: etcd gave no list within 10 s");
            return ExitCode::from(1);
        }
    };
    let mut store = Store::default();
    store.replace(items);
    if let Some(d) = endpoint_status {
        store.set_workloads(daemon::calico::endpoint_status::read(d));
    }
    let r = store.derive(node).map_err(|e| e.to_string());
    for (k, why) in store.skipped() {
        eprintln!("ternd calico render: left out {k}: {why}");
    }
    render(r, node)
}

/// ternd started as `bird` or `bird6` (calico-node's runit services run
/// `bird -R -s /var/run/calico/bird.ctl -d -c …` and the same for bird6).
/// `bird` runs the node from the datastore and serves both sockets in the
/// directory of `-s`; `bird6` only holds the name `calicoctl node status`
/// looks for, as the `bird` process already answers on `bird6.ctl`.
/// `-p` (confd's config check) succeeds: there is no file to check.
pub fn as_bird() -> Option<ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    let name = Path::new(argv.first()?).file_name()?.to_str()?.to_string();
    if name != "bird" && name != "bird6" {
        return None;
    }
    let mut restarted = false;
    let mut sock = None;
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-p" => return Some(ExitCode::SUCCESS),
            "-R" => restarted = true,
            "-s" => sock = it.next().map(PathBuf::from),
            // Options with a value that mean nothing here.
            "-c" | "-D" | "-P" | "-u" | "-g" => {
                it.next();
            }
            _ => {}
        }
    }
    if name == "bird6" {
        eprintln!("bird6 (ternd): the bird process serves bird6.ctl; this one holds the name until SIGTERM");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).ok()?;
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            Some(())
        });
        return Some(ExitCode::SUCCESS);
    }
    let ctl_dir = sock
        .as_deref()
        .and_then(Path::parent)
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(CALICO_RUN)));
    Some(run(Args {
        node: None,
        etcd_endpoints: Vec::new(),
        ctl_dir,
        endpoint_status: None,
        restarted,
        // calico-node starts BIRD with BIRD's arguments only: the
        // environment is the way to ask for metrics.
        metrics_listen: std::env::var("TERN_METRICS_LISTEN").ok().and_then(|a| a.parse().ok()),
    }))
}
