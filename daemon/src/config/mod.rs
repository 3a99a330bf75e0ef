//! Configuration: the typed model the daemon runs on ([`model`]), its
//! defaults in one place ([`defaults`]), the TOML file that fills it
//! ([`toml`]), and the difference between two of them as a list of
//! changes, the input of a reload ([`diff`]); a peer's import and export
//! rules in the file ([`filter`]).

pub mod defaults;
pub mod diff;
pub mod filter;
pub mod model;
pub mod render;
pub mod toml;

pub use model::{Config, KernelSettings, LimitAction, PeerIds, PeerSettings, PrefixLimit, StaticRoute};
pub use toml::{load, parse, ConfigError};
