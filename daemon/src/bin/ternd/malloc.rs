//! How glibc's allocator is set up for a daemon that must give back what
//! each session took (a peer that flaps all day must not grow it).
//!
//! glibc keeps, per thread, a cache (tcache) of up to seven freed chunks of
//! every small size. Chunks parked there are in use as far as the heap is
//! concerned, scattered over it, so the pages a departed session used stay
//! resident. Measured with 200 flaps of a 100k-route session
//! (`interop/tests/soak.rs`; the engine itself gives back every byte,
//! `rib/tests/no_leak.rs`), RSS after the last flap against the first:
//! - glibc's defaults: +11 %;
//! - one arena for all threads: +5 to +8 %, creeping; without tcache too:
//!   flat, but every allocation then takes the one arena's lock and the
//!   benchmark's many-peer scenarios took 25-50 % more CPU;
//! - an arena per thread without tcache: +1 to +5 %, as fast as the
//!   defaults;
//! - the same with blocks of 64 KB and more mapped rather than carved from
//!   a heap (so big buffers go back to the kernel when freed): -0.3 %.
//!
//! tcache cannot be turned off once the process runs (`mallopt` has no
//! setting for it), so ternd starts itself again, once, with
//! `GLIBC_TUNABLES` set (both settings there).

const TUNABLES: &str = "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536";

/// Re-executes ternd with the allocator tunables unless the operator (or
/// an earlier exec) set tcache already. Returns only when they are in
/// effect, or when the exec failed (then ternd goes on without).
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
        let mut c = std::process::Command::new(exe);
        // argv[0] stays: started as `bird`, it must still be `bird`
        // (calicoctl looks for that name).
        if let Some(a0) = std::env::args_os().next() {
            c.arg0(a0);
        }
        let e = c
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", tunables)
            .exec();
        eprintln!("ternd: cannot restart with allocator settings ({e}); going on without");
    }
}
