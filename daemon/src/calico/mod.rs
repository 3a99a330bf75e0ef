//! Calico's datastore, read as confd read it for BIRD: its resources, the
//! configuration a node derives from them, and the sources that deliver
//! them.
//!
//! - [`selector`]: Calico's label selector expressions.

pub mod selector;
