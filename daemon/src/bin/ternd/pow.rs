//! The one function ternd would load libm.so for.
//!
//! Of libm, ternd's code calls only `pow`: tokio's multi-thread scheduler
//! averages poll times with `f64::powf` when it tunes its global queue
//! interval. Loading the whole library for that maps about 0.6 MB of its
//! pages into ternd (measured from smaps at the 100k-route benchmark's
//! peak), as much as a hundred thousand routes take in the table. With
//! `pow` defined here the linker, which links libraries only as needed,
//! leaves libm.so out; `libm` is the pure-Rust port of musl's libm that
//! Rust's own compiler-builtins use.

/// C's `pow`, for the calls LLVM lowers `f64::powf` to.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pow_is_cs_pow() {
        // Exact cases C's pow defines (C17 F.10.4.4), and ordinary ones.
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert_eq!(super::pow(9.0, 0.5), 3.0);
        assert_eq!(super::pow(f64::NAN, 0.0), 1.0);
        assert_eq!(super::pow(-1.0, f64::INFINITY), 1.0);
        assert_eq!(super::pow(0.0, -1.0), f64::INFINITY);
        assert!(super::pow(-2.0, 0.5).is_nan());
        let ewma = super::pow(0.9, 1.0 / 61.0);
        assert!((ewma - 0.998_274_9).abs() < 1e-6, "{ewma}");
    }
}
