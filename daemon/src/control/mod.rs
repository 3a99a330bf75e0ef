//! The control socket: BIRD's control protocol with BIRD 1.6's output
//! formats, which Calico's `calicoctl node status`, `-bird-ready` and
//! `-bird-live` parse (`shared/docs/bird-ctl/PROTOCOL.md`).
//!
//! Framing: a greeting `0001 BIRD v… ready.`; one command per line; each
//! reply line is `CCCC-text` (more follow), ` text` (same code, more
//! follow) or `CCCC text` (last line). `0000 ` ends a table.
//!
//! A command is answered in three steps: [`query`] gathers the answer as
//! typed values, [`bird`] renders it as text, or [`json`] as JSON when the
//! line starts with `json` (tern's own clients; BIRD has no such word).

pub mod bird;
pub mod json;
pub mod query;

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

use bird::Reply;
use query::CtlError;
pub use query::{Daemon, View};

/// What `show status` and the greeting call us. It must start with `BIRD`
/// for Calico's liveness check; the version says what really answers.
pub const VERSION: &str = concat!("BIRD v1.6.8+tern", env!("CARGO_PKG_VERSION"));

/// BIRD closes a connection whose command line reaches 1024 bytes.
const MAX_LINE: usize = 1023;

/// Splits a command line into words; `"quoted strings"` are one word,
/// kept with their opening quote.
fn words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut w = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(ch) => w.push(ch),
                    None => return None,
                }
            }
            out.push(format!("\"{w}"));
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '"' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            out.push(w);
        }
    }
    Some(out)
}

/// One answer, before rendering.
enum Answer {
    Status(query::Status),
    Protocols(Vec<query::Protocol>),
    Routes(bool, query::RouteAnswer),
    Memory(query::Memory),
    Outcomes(Vec<query::Outcome>),
    Configure(query::ReloadOutcome),
    Down,
}

async fn answer(d: &Daemon, view: View, w: &[&str]) -> Result<Answer, CtlError> {
    Ok(match w {
        ["show", "status"] => Answer::Status(query::status(d).await),
        ["down"] => {
            // BIRD's `down`: every peer gets a Cease, then the daemon exits.
            let _ = d.down.send(());
            Answer::Down
        }
        ["show", "route", rest @ ..] => {
            let (all, r) = query::routes(d, view, rest).await?;
            Answer::Routes(all, r)
        }
        ["show", "memory"] => Answer::Memory(query::memory(d).await),
        ["show", "protocols", rest @ ..] => {
            let (all, sel) = match rest {
                [] => (false, None),
                ["all"] => (true, None),
                ["all", name] => (true, Some(*name)),
                [name] => (false, Some(*name)),
                _ => return Err(CtlError::Syntax),
            };
            Answer::Protocols(query::protocols(d, view, sel, all).await?)
        }
        ["configure", rest @ ..] => {
            let (check, file) = match rest {
                [] | ["soft"] => (false, None),
                ["check"] => (true, None),
                [f] | ["soft", f] if f.starts_with('"') => (false, Some(f[1..].into())),
                ["check", f] if f.starts_with('"') => (true, Some(f[1..].into())),
                _ => return Err(CtlError::Syntax),
            };
            Answer::Configure(query::configure(d, check, file).await?)
        }
        [verb @ ("enable" | "disable" | "restart"), target, rest @ ..] => {
            let message = match (*verb, rest) {
                (_, []) => None,
                ("disable", [m]) if m.starts_with('"') => Some(m.trim_start_matches('"').to_string()),
                _ => return Err(CtlError::Syntax),
            };
            Answer::Outcomes(query::operate(d, verb, target, message).await?)
        }
        _ => return Err(CtlError::Syntax),
    })
}

/// Runs one command line against the daemon.
pub async fn execute(d: &Daemon, view: View, line: &str) -> Reply {
    let Some(w) = words(line) else {
        return Reply::error(&CtlError::Syntax);
    };
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    if let ["json", rest @ ..] = w.as_slice() {
        return match answer(d, view, rest).await {
            Ok(a) => {
                let v = match &a {
                    Answer::Status(s) => json::status(s),
                    Answer::Protocols(p) => json::protocols(p),
                    Answer::Routes(_, r) => json::routes(r),
                    Answer::Memory(m) => json::memory(m),
                    Answer::Outcomes(o) => json::outcomes(o),
                    Answer::Configure(c) => serde_json::to_value(c).unwrap_or_default(),
                    Answer::Down => serde_json::json!({ "status": "Shutdown requested" }),
                };
                Reply::single(json::JSON_CODE, v.to_string())
            }
            Err(e) => Reply::error(&e),
        };
    }
    match answer(d, view, &w).await {
        Ok(Answer::Status(s)) => bird::status(&s),
        Ok(Answer::Protocols(p)) => bird::protocols(&p),
        Ok(Answer::Routes(all, r)) => bird::routes(&r, all),
        Ok(Answer::Memory(m)) => bird::memory(&m),
        Ok(Answer::Outcomes(o)) => bird::outcomes(&o),
        Ok(Answer::Configure(c)) => bird::configure(&c),
        Ok(Answer::Down) => Reply::single(7, "Shutdown requested"),
        Err(e) => Reply::error(&e),
    }
}

/// Creates the socket (mode 0660) and serves it forever.
pub async fn serve(path: &Path, d: Arc<Daemon>, view: View) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A socket left by an earlier run would make bind fail.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    info!("control socket at {}", path.display());
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                tokio::spawn(client(s, d.clone(), view));
            }
            Err(e) => warn!("control socket accept: {e}"),
        }
    }
}

async fn client(s: UnixStream, d: Arc<Daemon>, view: View) {
    let (rd, mut wr) = s.into_split();
    if wr
        .write_all(format!("0001 {VERSION} ready.\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    // Lines are read at most MAX_LINE + 1 bytes at a time, so a client
    // cannot make us buffer an endless line.
    let mut rd = BufReader::new(rd.take(u64::MAX));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        rd.get_mut().set_limit(MAX_LINE as u64 + 1);
        match rd.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if buf.len() > MAX_LINE {
            return;
        }
        let line: String = String::from_utf8_lossy(&buf)
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        let reply = execute(&d, view, &line).await;
        if wr.write_all(reply.render().as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quoted_strings_whole() {
        assert_eq!(
            words("disable  Node_1 \"RR maintenance\"").unwrap(),
            vec!["disable", "Node_1", "\"RR maintenance"]
        );
        assert!(words("disable \"open").is_none());
    }
}
