//! How glibc's allocator is set up for a daemon that must give back what
//! each session took (a peer that flaps all day must not grow it).
//!
//! Measured with 200 flaps of a 100k-route session (`interop/tests/soak.rs`;
//! the engine itself gives back every byte, `rib/tests/no_leak.rs`):
//! - with an arena per thread (glibc's default), memory one thread frees
//!   is never reused by another, and the engine's thread frees what the
//!   readers' threads allocated: +11 % RSS;
//! - with one arena but per-thread caches (tcache), each thread keeps up
//!   to seven freed chunks of every small size, scattered over the heap,
//!   so pages a session used stay resident: +5–8 %, creeping;
//! - with one arena and no tcache: flat, and the benchmark within a few
//!   per cent.
//!
//! Neither can be set once the process runs (tcache has no `mallopt`), so
//! ternd starts itself again with `GLIBC_TUNABLES` set, once.

const TUNABLES: &str = "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0";

/// Re-executes ternd with the allocator tunables unless they are set
/// already (by an earlier exec, or by the operator). Returns only when
/// they are in effect, or when the exec failed (then at least one arena
/// is set, which `mallopt` can do).
pub fn settle() {
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if current.contains("glibc.malloc.tcache_count") {
        return;
    }
    let tunables = if current.is_empty() {
        TUNABLES.to_string()
    } else {
        format!("{current}:{TUNABLES}")
    };
    if let Ok(exe) = std::env::current_exe() {
        use std::os::unix::process::CommandExt;
        let e = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", tunables)
            .exec();
        eprintln!("ternd: cannot restart with allocator settings ({e}); going on without");
    }
    // SAFETY: a plain setting, made before any other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}
