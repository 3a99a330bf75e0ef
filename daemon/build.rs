//! Lays out ternd's code so that what a running daemon executes sits
//! together.
//!
//! A page of program text counts in RSS once touched, and the kernel maps
//! up to 16 pages around each one it faults in. ternd's text is 6 MB; a
//! run executes about 1.4 MB of it, spread over the whole, so 3.3 MB of
//! text was resident at the 100k-route benchmark's peak. `ternd.order`
//! lists the functions a run executes (made by `scripts/text-order`); LLD,
//! Rust's linker on x86-64 Linux since 1.90, places them first. Names
//! missing from a build (code changed since the list was made) are
//! skipped: the list only decides layout.

fn main() {
    println!("cargo:rerun-if-changed=ternd.order");
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // Only LLD takes the option; a linker chosen by hand (in the flags, or
    // cargo's target linker, which it passes as RUSTC_LINKER) may not be LLD.
    let chosen = flags.contains("linker") || std::env::var_os("RUSTC_LINKER").is_some();
    if target != "x86_64-unknown-linux-gnu" || chosen {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg-bin=ternd=-Wl,--symbol-ordering-file={dir}/ternd.order");
    println!("cargo:rustc-link-arg-bin=ternd=-Wl,--no-warn-symbol-ordering");
}
