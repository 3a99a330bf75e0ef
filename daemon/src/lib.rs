//! tern's daemon crate: for now the `ternc decode` command; the daemon
//! `ternd` arrives with the sessions work.

pub mod decode;
