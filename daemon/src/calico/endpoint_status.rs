//! Felix's endpoint status files: one JSON file per local workload in
//! `/var/run/calico/endpoint-status`, naming the BGPPeer whose
//! `localWorkloadSelector` selects it (`bgpPeerName`) and its addresses.
//! They are what confd's local BGP peer watcher read to peer with
//! workloads (KubeVirt VMs and the like) as `Local_Workload_<ip>`: Felix
//! evaluates the selector, the node peers with what Felix named.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::warn;

use super::resources::WorkloadPeer;
use super::source::Event;

/// Where Felix writes them in calico-node.
pub const DEFAULT_DIR: &str = "/var/run/calico/endpoint-status";
/// How often the directory is read again (confd polled, and watched).
const POLL: Duration = Duration::from_secs(1);
/// Files read at most: the directory is the node's, but bounded anyway.
const MAX_FILES: usize = 16_384;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    ipv4_nets: Vec<String>,
    #[serde(default)]
    ipv6_nets: Vec<String>,
    #[serde(default, rename = "bgpPeerName")]
    bgp_peer_name: String,
}

/// The first address of a list of `ADDRESS/LEN` (as Felix writes them).
fn first(nets: &[String]) -> Result<Option<IpAddr>, String> {
    match nets.first() {
        None => Ok(None),
        Some(n) => n
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{n:?} is not ADDRESS/LEN")),
    }
}

fn parse(name: &str, text: &str) -> Result<Option<WorkloadPeer>, String> {
    let s: Status = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if s.bgp_peer_name.is_empty() {
        return Ok(None);
    }
    let w = WorkloadPeer {
        name: name.to_string(),
        bgp_peer: s.bgp_peer_name,
        ipv4: first(&s.ipv4_nets)?,
        ipv6: first(&s.ipv6_nets)?,
    };
    Ok((w.ipv4.is_some() || w.ipv6.is_some()).then_some(w))
}

/// The workloads the directory names as BGP peers, by file name. A file
/// that cannot be read or parsed is logged and left out (Felix may be
/// writing it; the next read sees it whole).
pub fn read(dir: &Path) -> Vec<WorkloadPeer> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = BTreeMap::new();
    for e in entries.flatten().take(MAX_FILES) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        match parse(&name, &text) {
            Ok(Some(w)) => {
                out.insert(name, w);
            }
            Ok(None) => {}
            Err(why) => warn!("endpoint status {}: {why}; left out", e.path().display()),
        }
    }
    out.into_values().collect()
}

/// Reads `dir` every second and reports the workloads when they change.
pub async fn watch(dir: PathBuf, tx: mpsc::Sender<Event>) {
    let mut last: Option<Vec<WorkloadPeer>> = None;
    loop {
        let d = dir.clone();
        let now = tokio::task::spawn_blocking(move || read(&d)).await.unwrap_or_default();
        if last.as_ref() != Some(&now) {
            if tx.send(Event::Workloads(now.clone())).await.is_err() {
                return;
            }
            last = Some(now);
        }
        tokio::time::sleep(POLL).await;
    }
}
