//! The client side of the control socket (`ternc`, and `ternd lab`):
//! send one command, read the reply lines with their codes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// One reply line: its code and text.
pub type Line = (u16, String);

/// Sends `command` and returns the reply (greeting excluded).
pub fn query(socket: &Path, command: &str) -> std::io::Result<Vec<Line>> {
    let s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut greeting = String::new();
    r.read_line(&mut greeting)?;
    w.write_all(format!("{command}\n").as_bytes())?;
    let mut out = Vec::new();
    let mut code = 0u16;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ));
        }
        let line = line.trim_end_matches(['\n', '\r']);
        let (c, sep, text) = match (
            line.get(..4).and_then(|c| c.parse::<u16>().ok()),
            line.as_bytes().get(4),
        ) {
            (Some(c), Some(b'-')) => (c, '-', &line[5..]),
            (Some(c), Some(b' ')) => (c, ' ', &line[5..]),
            (Some(c), None) => (c, ' ', ""),
            _ => (code, '+', line.strip_prefix(' ').unwrap_or(line)),
        };
        code = c;
        out.push((c, text.to_string()));
        if sep == ' ' {
            return Ok(out);
        }
    }
}

/// The JSON of an answer to a `json …` command: the answer itself, or
/// for an error `{"error", "code"}`.
pub fn json(reply: &[Line]) -> serde_json::Value {
    match reply.last() {
        Some((1100, t)) => serde_json::from_str(t).unwrap_or(serde_json::Value::Null),
        Some((c, t)) => serde_json::json!({ "error": t, "code": c }),
        None => serde_json::Value::Null,
    }
}

/// Whether the reply reports an error (codes 8000 and up).
pub fn is_error(reply: &[Line]) -> bool {
    reply.last().is_some_and(|(c, _)| *c >= 8000)
}

/// The reply as text, codes stripped, as birdcl prints it.
pub fn text(reply: &[Line]) -> String {
    let mut s = String::new();
    for (c, t) in reply {
        if *c == 0 && t.is_empty() {
            continue;
        }
        s.push_str(t);
        s.push('\n');
    }
    s
}
