//! Calico's etcd v3 datastore (`DATASTORE_TYPE=etcdv3`): the BGP kinds
//! and this node's block affinities are listed at one revision, then
//! watched from the next; a compacted or cancelled watch, or a lost
//! connection, means listing again. etcd's keys and values are as
//! calico.md §3.2 describes them.
//!
//! The client is the `etcdv3client` crate: it ships its generated gRPC
//! code, so building ternd needs no `protoc`.

use std::path::PathBuf;
use std::time::Duration;

use etcdv3client::grpc::TonicClient;
use etcdv3client::pb;
use etcdv3client::{Client, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tracing::{info, warn};

use super::{Event, Source};
use crate::calico::store::{affinity_prefix, RESOURCE_PREFIXES};

/// How calico-node reaches etcd: `ETCD_ENDPOINTS` and the TLS files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `http://10.0.0.1:2379` or `https://…`; several are balanced.
    pub endpoints: Vec<String>,
    pub ca_cert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Settings {
    /// From calico-node's environment: `ETCD_ENDPOINTS` (comma-separated),
    /// `ETCD_CA_CERT_FILE`, `ETCD_CERT_FILE`, `ETCD_KEY_FILE`.
    pub fn from_env() -> Settings {
        let file = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        Settings {
            endpoints: std::env::var("ETCD_ENDPOINTS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            ca_cert: file("ETCD_CA_CERT_FILE"),
            cert: file("ETCD_CERT_FILE"),
            key: file("ETCD_KEY_FILE"),
        }
    }

    /// The channel to every endpoint (connected lazily: an etcd that is
    /// down is found at the first request).
    fn channel(&self) -> Result<Channel, String> {
        let tls = match (&self.ca_cert, &self.cert, &self.key) {
            (None, None, None) => None,
            (ca, cert, key) => {
                let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
                let mut t = ClientTlsConfig::new();
                if let Some(ca) = ca {
                    t = t.ca_certificate(Certificate::from_pem(read(ca)?));
                }
                match (cert, key) {
                    (Some(c), Some(k)) => t = t.identity(Identity::from_pem(read(c)?, read(k)?)),
                    (None, None) => {}
                    _ => return Err("ETCD_CERT_FILE and ETCD_KEY_FILE go together".into()),
                }
                Some(t)
            }
        };
        let mut eps = Vec::new();
        for e in &self.endpoints {
            let mut ep = Endpoint::from_shared(e.clone())
                .map_err(|err| format!("etcd endpoint {e:?}: {err}"))?
                .connect_timeout(Duration::from_secs(3))
                // A silent partition is found by HTTP/2 pings, not by the
                // next change that never comes.
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true);
            if let Some(t) = &tls {
                ep = ep.tls_config(t.clone()).map_err(|err| format!("etcd TLS: {err}"))?;
            }
            eps.push(ep);
        }
        match eps.len() {
            0 => Err("no etcd endpoint (ETCD_ENDPOINTS or --etcd-endpoints)".into()),
            1 => Ok(eps.remove(0).connect_lazy()),
            _ => Ok(Channel::balance_list(eps.into_iter())),
        }
    }
}

/// The etcd v3 source.
#[derive(Clone, Debug)]
pub struct Etcd {
    pub settings: Settings,
}

/// Longest wait between attempts while etcd is away.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Keys per range request: responses stay far below gRPC's 4 MB.
const PAGE: i64 = 500;

impl Source for Etcd {
    async fn run(self, node: String, tx: mpsc::Sender<Event>) {
        let mut wait = Duration::from_millis(200);
        loop {
            let prefixes = prefixes(&node);
            let err = match self.settings.channel() {
                Ok(ch) => session(ch, &prefixes, &tx, &mut wait).await,
                Err(e) => e,
            };
            if tx.is_closed() {
                return;
            }
            warn!("etcd: {err}; routing carries on unchanged, trying again in {wait:?}");
            if tx.send(Event::Lost(err)).await.is_err() {
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        }
    }
}

fn prefixes(node: &str) -> Vec<String> {
    RESOURCE_PREFIXES
        .iter()
        .map(|p| p.to_string())
        .chain([affinity_prefix(node)])
        .collect()
}

/// `prefix`'s range end: the prefix with its last byte incremented.
fn range_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// Lists every prefix at one revision and watches them from the next,
/// until something fails (the reason is returned) or `tx` closes.
async fn session(ch: Channel, prefixes: &[String], tx: &mpsc::Sender<Event>, wait: &mut Duration) -> String {
    let mut client = Client::with_service(TonicClient::new(ch));
    let (items, revision) = match list(&mut client, prefixes).await {
        Ok(x) => x,
        Err(e) => return format!("list: {e}"),
    };
    info!("etcd: listed {} keys at revision {revision}", items.len());
    if tx.send(Event::Synced(items)).await.is_err() {
        return "stopped".into();
    }
    *wait = Duration::from_millis(200);
    let (fwd, mut rx) = mpsc::channel::<Result<pb::WatchResponse, String>>(64);
    let mut tasks = JoinSet::new();
    for p in prefixes {
        let mut w = client
            .watch
            .do_watch(p.as_bytes().to_vec())
            .with_range_end(range_end(p));
        w.request.start_revision = revision + 1;
        let watcher: Watcher = match w.await {
            Ok(w) => w,
            Err(e) => return format!("watch {p}: {e}"),
        };
        tasks.spawn(forward(watcher, fwd.clone()));
    }
    drop(fwd);
    while let Some(msg) = rx.recv().await {
        let resp = match msg {
            Ok(r) => r,
            Err(e) => return format!("watch: {e}"),
        };
        if resp.compact_revision != 0 || resp.canceled {
            return format!(
                "watch cancelled ({}; compacted at {}): listing again",
                resp.cancel_reason, resp.compact_revision
            );
        }
        for ev in resp.events {
            let Some(kv) = ev.kv else { continue };
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            let e = if ev.r#type == pb::event::EventType::Delete as i32 {
                Event::Delete(key)
            } else {
                Event::Put(key, kv.value)
            };
            if tx.send(e).await.is_err() {
                return "stopped".into();
            }
        }
    }
    "watch ended".into()
}

/// Passes one watch's responses on; an error or the stream's end ends it.
async fn forward(mut w: Watcher, fwd: mpsc::Sender<Result<pb::WatchResponse, String>>) {
    loop {
        let r = match w.message().await {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err("the stream ended".to_string()),
            Err(e) => Err(e.to_string()),
        };
        let last = r.is_err();
        if fwd.send(r).await.is_err() || last {
            return;
        }
    }
}

/// Every key under `prefixes`, at one revision (the first answer's).
async fn list(
    client: &mut Client<TonicClient>,
    prefixes: &[String],
) -> Result<(Vec<(String, Vec<u8>)>, i64), etcdv3client::Error> {
    let mut revision = 0;
    let mut items = Vec::new();
    for p in prefixes {
        let end = range_end(p);
        let mut from = p.as_bytes().to_vec();
        loop {
            let resp = client
                .kv
                .range(pb::RangeRequest {
                    key: from.clone(),
                    range_end: end.clone(),
                    limit: PAGE,
                    revision,
                    ..Default::default()
                })
                .await?;
            if revision == 0 {
                revision = resp.header.as_ref().map_or(0, |h| h.revision);
            }
            let more = resp.more;
            for kv in resp.kvs {
                from = kv.key.clone();
                from.push(0);
                items.push((String::from_utf8_lossy(&kv.key).into_owned(), kv.value));
            }
            if !more {
                break;
            }
        }
    }
    Ok((items, revision))
}
