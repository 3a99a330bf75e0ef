//! `ternc`'s side of the control socket: send one command, read the reply
//! lines with their codes, print them as birdcl does or as JSON.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map, Value};

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

/// The reply as JSON: tables and details become objects.
pub fn to_json(command: &str, reply: &[Line]) -> Value {
    if is_error(reply) {
        let (c, t) = reply.last().cloned().unwrap_or_default();
        return json!({ "error": t, "code": c });
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["show", "protocols", ..] => {
            let mut protocols: Vec<Value> = Vec::new();
            for (c, t) in reply {
                match c {
                    1002 => {
                        let f: Vec<&str> = t.split_whitespace().collect();
                        let mut p = Map::new();
                        for (i, k) in ["name", "proto", "table", "state", "since", "bgp_state"]
                            .iter()
                            .enumerate()
                        {
                            if let Some(v) = f.get(i) {
                                p.insert((*k).into(), json!(v));
                            }
                        }
                        if f.len() > 6 {
                            p.insert("info".into(), json!(f[6..].join(" ")));
                        }
                        protocols.push(Value::Object(p));
                    }
                    1006 => {
                        if let (Some(Value::Object(p)), Some((k, v))) = (protocols.last_mut(), t.split_once(':')) {
                            let key = k.trim().to_lowercase().replace(' ', "_");
                            p.insert(key, json!(v.trim()));
                        }
                    }
                    _ => {}
                }
            }
            json!({ "protocols": protocols })
        }
        ["show", "status"] => {
            let mut o = Map::new();
            for (c, t) in reply {
                let t = t.as_str();
                match c {
                    1000 => {
                        o.insert("version".into(), json!(t));
                    }
                    1011 => {
                        for (prefix, key) in [
                            ("Router ID is ", "router_id"),
                            ("Current server time is ", "server_time"),
                            ("Last reboot on ", "last_reboot"),
                            ("Last reconfiguration on ", "last_reconfiguration"),
                        ] {
                            if let Some(v) = t.strip_prefix(prefix) {
                                o.insert(key.into(), json!(v));
                            }
                        }
                    }
                    24 => {
                        o.insert("graceful_restart_recovery".into(), json!(true));
                    }
                    13 => {
                        o.insert("status".into(), json!(t));
                    }
                    _ => {}
                }
            }
            Value::Object(o)
        }
        _ => {
            json!({ "lines": reply.iter().filter(|(c, t)| !(*c == 0 && t.is_empty())).map(|(_, t)| t).collect::<Vec<_>>() })
        }
    }
}
