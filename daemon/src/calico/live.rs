//! `ternd --calico`: the node runs from Calico's datastore. Nothing
//! starts before the source's first full list and a configuration this
//! node can derive from it (confd's "in sync"); after that, every change
//! is derived again and applied through the reload path, so only the
//! sessions it concerns change. While the datastore is away nothing is
//! applied and routing carries on.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::source::{Event, Source};
use super::store::Store;
use crate::config::{self, Config};

/// What `ternd --calico` needs besides the source.
#[derive(Clone, Debug)]
pub struct Options {
    /// This node's name (`NODENAME`).
    pub node: String,
    /// `CALICO_ROUTER_ID`: an IPv4 address, or `hash`.
    pub router_id: Option<String>,
    /// Where the sockets go: `tern.ctl`, `bird.ctl`, `bird6.ctl`.
    pub ctl_dir: PathBuf,
    /// `-R`.
    pub restarted: bool,
    /// Felix's endpoint status files (local workload peers).
    pub endpoint_status: PathBuf,
    /// `--metrics-listen`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Calico's `hashToIPv4`: the first four bytes of SHA-256 of the node
/// name, with 32 taken from a first octet above 223 (no multicast or
/// reserved router IDs).
pub fn hash_router_id(node: &str) -> Ipv4Addr {
    use sha2::Digest;
    let h = sha2::Sha256::digest(node.as_bytes());
    let first = if h[0] > 223 { h[0] - 32 } else { h[0] };
    Ipv4Addr::new(first, h[1], h[2], h[3])
}

/// `CALICO_ROUTER_ID` over the derived router ID.
pub fn router_id(cfg: &mut Config, node: &str, env: Option<&str>) -> Result<(), String> {
    match env.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(()),
        Some("hash") => {
            cfg.router_id = bgp_wire::RouterId(hash_router_id(node));
            Ok(())
        }
        Some(t) => match t.parse::<Ipv4Addr>() {
            Ok(a) => {
                cfg.router_id = bgp_wire::RouterId(a);
                Ok(())
            }
            Err(_) => Err(format!("CALICO_ROUTER_ID {t:?}: an IPv4 address or \"hash\"")),
        },
    }
}

/// This node's configuration from `store`, checked as a file would be.
fn configuration(store: &mut Store, o: &Options) -> Result<Config, String> {
    let mut c = store.derive(&o.node).map_err(|e| e.to_string())?;
    router_id(&mut c, &o.node, o.router_id.as_deref())?;
    c.ctl_socket = o.ctl_dir.join("tern.ctl");
    // What runs is what `ternd calico render` prints and `--check-config`
    // accepts: the same text, read by the same parser.
    let text = config::render::to_toml(&c);
    config::toml::parse("datastore", &text)
        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

/// Applies `ev` to the store; true when the datastore is in sync.
fn apply(store: &mut Store, ev: Event, synced: &mut bool) {
    match ev {
        Event::Synced(items) => {
            store.replace(items);
            if !*synced {
                info!("datastore in sync: {} keys", store.len());
            } else {
                info!("datastore in sync again: {} keys", store.len());
            }
            *synced = true;
            crate::metrics::metrics().datastore_synced.set(1);
        }
        Event::Put(k, v) => store.put(&k, &v),
        Event::Workloads(w) => store.set_workloads(w),
        Event::Delete(k) => store.delete(&k),
        // The source has logged it; what runs stays as it is.
        Event::Lost(_) => {
            crate::metrics::metrics().datastore_synced.set(0);
        }
    }
}

/// Waits for the next event, then takes every one already queued behind
/// it, so changes that arrive together (one watch response, a client
/// writing several keys) are derived once. No timer: a lone change is
/// applied at once (a 30 ms settle cost every block 30 ms on its way).
/// `None`: the source has stopped.
async fn burst(rx: &mut mpsc::Receiver<Event>, store: &mut Store, synced: &mut bool) -> Option<()> {
    let ev = rx.recv().await?;
    apply(store, ev, synced);
    loop {
        while let Ok(ev) = rx.try_recv() {
            apply(store, ev, synced);
        }
        // Let the watch tasks hand over what they already hold.
        tokio::task::yield_now().await;
        if rx.is_empty() {
            return Some(());
        }
    }
}

/// Runs the node from `source` until SIGTERM or SIGINT.
pub async fn run(source: impl Source, o: Options) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(super::endpoint_status::watch(o.endpoint_status.clone(), tx.clone()));
    tokio::spawn(source.run(o.node.clone(), tx));
    let mut store = Store::default();
    let mut synced = false;
    let mut last_error = String::new();
    // Until in sync and derivable, nothing runs.
    let first = loop {
        if burst(&mut rx, &mut store, &mut synced).await.is_none() {
            return Err(std::io::Error::other("the datastore source stopped"));
        }
        if !synced {
            continue;
        }
        match configuration(&mut store, &o) {
            Ok(c) => break c,
            Err(e) if e != last_error => {
                warn!("datastore: node {} has no configuration yet: {e}", o.node);
                last_error = e;
            }
            Err(_) => {}
        }
    };
    let opts = crate::supervisor::Options {
        restarted: o.restarted,
        ctl_dir: Some(o.ctl_dir.clone()),
        metrics_listen: o.metrics_listen,
    };
    let (up_tx, up_rx) = mpsc::unbounded_channel();
    let mut running = first.clone();
    tokio::spawn(async move {
        let mut last_error = String::new();
        while burst(&mut rx, &mut store, &mut synced).await.is_some() {
            match configuration(&mut store, &o) {
                Ok(c) if c != running => {
                    running = c.clone();
                    last_error.clear();
                    if up_tx.send(c).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) if e != last_error => {
                    warn!("datastore: the running configuration stays: {e}");
                    last_error = e;
                }
                Err(_) => {}
            }
        }
        warn!("the datastore source stopped; the running configuration stays");
    });
    crate::supervisor::run_with(PathBuf::from("datastore"), first, opts, Some(up_rx)).await
}
