//! Calico's datastore, read as confd read it for BIRD: its resources, the
//! configuration a node derives from them, and the sources that deliver
//! them.
//!
//! - [`resources`]: the resources, as calicoctl writes them and etcd
//!   stores them.
//! - [`derive`]: the ternd configuration a node derives from them.
//! - [`selector`]: Calico's label selector expressions.

pub mod derive;
pub mod resources;
pub mod selector;
