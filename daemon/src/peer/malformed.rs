//! Logging what a peer sends wrong without letting the peer fill the log:
//! at most one line per peer per minute, each with a bounded hex excerpt
//! of the offending bytes, and a count of what was left out since the last.

use std::time::{Duration, Instant};

use bgp_wire::AttrError;

/// The shortest time between two lines about one peer's malformed input.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Bytes of the offending input a line shows, at most.
pub const EXCERPT: usize = 32;

/// One peer's malformed-input log.
#[derive(Debug, Default)]
pub struct MalformedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl MalformedLog {
    /// Whether a line may be written at `now`; if so, how many problems
    /// went unlogged before it. Otherwise the problem is counted.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|t| now.duration_since(t) < INTERVAL) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// `bytes` as hex, cut at [`EXCERPT`] bytes with the whole length said.
pub fn excerpt(bytes: &[u8]) -> String {
    let shown = hex::encode(&bytes[..bytes.len().min(EXCERPT)]);
    if bytes.len() > EXCERPT {
        format!("{shown}… ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// What an UPDATE's RFC 7606 problems did, in one line: each attribute,
/// the problem, the action, and an excerpt of the attribute as received.
pub fn describe_attr_errors(errors: &[AttrError]) -> String {
    errors
        .iter()
        .map(|e| format!("{e}, attribute bytes {}", excerpt(&e.data)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The note of problems left out of the log, if any.
pub fn suppressed_note(n: u64) -> String {
    match n {
        0 => String::new(),
        n => format!(" ({n} more since the last report, not logged)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_minute_and_the_rest_counted() {
        let mut log = MalformedLog::default();
        let t0 = Instant::now();
        assert_eq!(log.admit(t0), Some(0));
        for i in 1..=1000 {
            assert_eq!(log.admit(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(log.admit(t0 + INTERVAL), Some(1000));
        assert_eq!(log.admit(t0 + INTERVAL + Duration::from_secs(1)), None);
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt(&[0xab, 0xcd]), "abcd");
        let big = vec![0u8; 4096];
        let e = excerpt(&big);
        assert!(e.len() < 2 * EXCERPT + 20, "{e}");
        assert!(e.ends_with("(4096 bytes)"), "{e}");
    }
}
