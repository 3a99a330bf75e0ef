//! Where Calico's resources come from. A source lists everything once,
//! then reports each change; when it loses the datastore it says so and
//! lists again once it is back. The node applies nothing before the first
//! full list (confd's "in sync"), and keeps routing as it is while the
//! datastore is away.
//!
//! etcd v3 ([`etcd`]) is the one source today; Calico's Kubernetes-API
//! mode (KDD) is another implementation of [`Source`].

pub mod etcd;

use std::future::Future;

use tokio::sync::mpsc;

/// What a source reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Everything under the watched keys, at one revision: replaces all
    /// that came before.
    Synced(Vec<(String, Vec<u8>)>),
    Put(String, Vec<u8>),
    Delete(String),
    /// The datastore cannot be reached (or the watch fell behind); a
    /// `Synced` follows when it can again.
    Lost(String),
    /// The node's local workload peers now (Felix's endpoint status
    /// files, [`crate::calico::endpoint_status`]).
    Workloads(Vec<crate::calico::resources::WorkloadPeer>),
}

/// A datastore, listed and watched for node `node`'s keys.
pub trait Source: Send + 'static {
    /// Runs until `tx` is closed, reporting every change to it.
    fn run(self, node: String, tx: mpsc::Sender<Event>) -> impl Future<Output = ()> + Send;
}
