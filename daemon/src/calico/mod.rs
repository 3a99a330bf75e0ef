//! Calico's datastore, read as confd read it for BIRD: its resources, the
//! configuration a node derives from them, and the sources that deliver
//! them.
//!
//! - [`resources`]: the resources, as calicoctl writes them and etcd
//!   stores them.
//! - [`bgpfilter`]: BGPFilter, as a peer's import and export rules.
//! - [`endpoint_status`]: Felix's files naming local workload peers.
//! - [`derive`]: the ternd configuration a node derives from them.
//! - [`selector`]: Calico's label selector expressions.
//! - [`store`]: a datastore's keys, parsed, and what they derive to.
//! - [`peering`]: one peering as confd named and configured it.
//! - [`live`]: `ternd --calico`, the node run from the datastore.
//! - [`source`]: where the keys come from (etcd v3), as list and watch.

pub mod bgpfilter;
pub mod derive;
pub mod endpoint_status;
pub mod live;
pub mod peering;
pub mod resources;
pub mod selector;
pub mod source;
pub mod store;
