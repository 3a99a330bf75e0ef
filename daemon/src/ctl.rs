//! The control socket: BIRD's control protocol with BIRD 1.6's output
//! formats, which Calico's `calicoctl node status`, `-bird-ready` and
//! `-bird-live` parse (`shared/docs/bird-ctl/PROTOCOL.md`).
//!
//! Framing: a greeting `0001 BIRD v… ready.`; one command per line; each
//! reply line is `CCCC-text` (more follow), ` text` (same code, more
//! follow) or `CCCC text` (last line). `0000 ` ends a table.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

use crate::status::{Command, CommandResult, Daemon, PeerHandle, PeerStatus};

/// What `show status` and the greeting call us. It must start with `BIRD`
/// for Calico's liveness check; the version says what really answers.
pub const VERSION: &str = concat!("BIRD v1.6.8+tern", env!("CARGO_PKG_VERSION"));

/// BIRD closes a connection whose command line reaches 1024 bytes.
const MAX_LINE: usize = 1023;

/// A reply under construction.
#[derive(Default)]
pub struct Reply {
    lines: Vec<(u16, String)>,
}

impl Reply {
    fn line(&mut self, code: u16, text: impl Into<String>) {
        self.lines.push((code, text.into()));
    }

    /// The reply's bytes: the last line gets `CCCC `, earlier ones `CCCC-`
    /// or, when the code repeats, a leading space.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut prev = None;
        for (i, (code, text)) in self.lines.iter().enumerate() {
            if i + 1 == self.lines.len() {
                let _ = writeln!(out, "{code:04} {text}");
            } else if prev == Some(*code) {
                let _ = writeln!(out, " {text}");
            } else {
                let _ = writeln!(out, "{code:04}-{text}");
            }
            prev = Some(*code);
        }
        out
    }

    fn single(code: u16, text: impl Into<String>) -> Reply {
        let mut r = Reply::default();
        r.line(code, text);
        r
    }
}

/// Local time as `YYYY-MM-DD HH:MM:SS`, or only the date or time part.
fn local_time(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: localtime_r writes into the provided struct only.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    (
        format!("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday),
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec),
    )
}

/// BIRD 1.6's `since` column: the time today, the date before today.
fn since(t: SystemTime) -> String {
    let (d, h) = local_time(t);
    if d == local_time(SystemTime::now()).0 {
        h
    } else {
        d
    }
}

fn full_time(t: SystemTime) -> String {
    let (d, h) = local_time(t);
    format!("{d} {h}")
}

/// Splits a command line into words; `"quoted strings"` are one word.
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

/// BIRD's shell-style pattern match (`*` and `?`).
fn pattern_match(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(&p, &t)
}

/// The protocols a name or `"pattern"` selects.
fn select<'a>(d: &'a Daemon, arg: &str) -> Result<Vec<&'a PeerHandle>, Reply> {
    if let Some(pat) = arg.strip_prefix('"') {
        let v: Vec<&PeerHandle> = d.peers.iter().filter(|p| pattern_match(pat, &p.name)).collect();
        if v.is_empty() {
            return Err(Reply::single(8003, "No protocols match"));
        }
        return Ok(v);
    }
    match d.peers.iter().find(|p| p.name == arg) {
        Some(p) => Ok(vec![p]),
        None => Err(Reply::single(9002, format!("{arg} is not a protocol"))),
    }
}

/// One line of the `show protocols` table, columns as BIRD 1.6 pads them.
fn columns(name: &str, proto: &str, table: &str, state: &str, since: &str, info: &str) -> String {
    format!("{name:<8} {proto:<8} {table:<8} {state:<6} {since:<11} {info}")
}

/// The info column of a BGP row: the BGP state padded to 14, then the last error.
fn bgp_info(state: &str, error: &str) -> String {
    format!("{state:<14}{error}")
}

fn row(s: &PeerStatus) -> String {
    let info = if s.enabled {
        let err = if s.state == bgp_fsm::State::Established {
            ""
        } else {
            s.last_error.as_deref().unwrap_or("")
        };
        bgp_info(s.bgp_state(), err)
    } else {
        String::new()
    };
    columns(&s.name, "BGP", "master", s.proto_state(), &since(s.since), &info)
}

fn secs_left(at: Option<Instant>) -> u64 {
    at.map_or(0, |t| t.saturating_duration_since(Instant::now()).as_secs())
}

fn details(r: &mut Reply, s: &PeerStatus, counts: Option<crate::routes::Counts>) {
    let desc = s.description.clone().unwrap_or_else(|| "Connection to BGP peer".into());
    r.line(1006, format!("  Description:    {desc}"));
    if let Some(m) = &s.disable_message {
        r.line(1006, format!("  Message:        {m}"));
    }
    r.line(1006, "  Preference:     100");
    r.line(1006, "  Input filter:   ACCEPT");
    r.line(1006, "  Output filter:  ACCEPT");
    if let (Some(c), true) = (counts, s.state == bgp_fsm::State::Established) {
        r.line(
            1006,
            format!(
                "  Routes:         {} imported, {} exported, {} preferred",
                c.imported, c.exported, c.preferred
            ),
        );
    }
    r.line(1006, format!("  BGP state:          {}", s.bgp_state()));
    r.line(1006, format!("    Neighbor address: {}", s.address));
    r.line(1006, format!("    Neighbor AS:      {}", s.peer_as));
    if let Some(n) = &s.negotiated {
        r.line(1006, format!("    Neighbor ID:      {}", n.peer_id));
        let o = &n.peer_open;
        let has = |f: fn(&bgp_wire::Capability) -> bool| o.capabilities().any(f);
        let mut caps = Vec::new();
        if has(|c| matches!(c, bgp_wire::Capability::RouteRefresh)) {
            caps.push("refresh");
        }
        if has(|c| matches!(c, bgp_wire::Capability::EnhancedRouteRefresh)) {
            caps.push("enhanced-refresh");
        }
        if has(|c| matches!(c, bgp_wire::Capability::GracefulRestart(g) if !g.families.is_empty())) {
            caps.push("restart-able");
        } else if has(|c| matches!(c, bgp_wire::Capability::GracefulRestart(_))) {
            caps.push("restart-aware");
        }
        if has(|c| matches!(c, bgp_wire::Capability::LongLivedGracefulRestart { .. })) {
            caps.push("llgr-aware");
        }
        if has(|c| matches!(c, bgp_wire::Capability::FourOctetAs { .. })) {
            caps.push("AS4");
        }
        if has(
            |c| matches!(c, bgp_wire::Capability::AddPath { families } if families.iter().any(|f| f.mode.can_send())),
        ) {
            caps.push("add-path-rx");
        }
        if has(
            |c| matches!(c, bgp_wire::Capability::AddPath { families } if families.iter().any(|f| f.mode.can_receive())),
        ) {
            caps.push("add-path-tx");
        }
        if has(|c| matches!(c, bgp_wire::Capability::ExtendedMessage)) {
            caps.push("ext-messages");
        }
        r.line(1006, format!("    Neighbor caps:    {}", caps.join(" ")));
        let mut sess = vec![if n.is_ibgp() { "internal" } else { "external" }];
        if n.four_octet_as {
            sess.push("AS4");
        }
        if !n.add_path_rx.is_empty() {
            sess.push("add-path-rx");
        }
        if !n.add_path_tx.is_empty() {
            sess.push("add-path-tx");
        }
        if n.extended_message_tx {
            sess.push("ext-messages");
        }
        r.line(1006, format!("    Session:          {}", sess.join(" ")));
        if let Some(src) = s.source {
            r.line(1006, format!("    Source address:   {}", src.ip().to_canonical()));
        }
        r.line(
            1006,
            format!("    Hold timer:       {}/{}", secs_left(s.hold_deadline), n.hold_time),
        );
        r.line(
            1006,
            format!(
                "    Keepalive timer:  {}/{}",
                secs_left(s.keepalive_deadline),
                n.keepalive
            ),
        );
    } else if s.enabled {
        if s.connect_deadline.is_some() && !s.passive {
            r.line(1006, format!("    Connect delay:    {}", secs_left(s.connect_deadline)));
        }
        if let Some(e) = &s.last_error {
            r.line(1006, format!("    Last error:       {e}"));
        }
    }
    r.line(1006, "");
}

/// Runs one command line against the daemon.
pub async fn execute(d: &Daemon, line: &str) -> Reply {
    let Some(w) = words(line) else {
        return Reply::single(9001, "syntax error");
    };
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["show", "status"] => {
            let mut r = Reply::default();
            r.line(1000, VERSION);
            r.line(1011, format!("Router ID is {}", d.router_id));
            r.line(1011, format!("Current server time is {}", full_time(SystemTime::now())));
            r.line(1011, format!("Last reboot on {}", full_time(d.started)));
            r.line(1011, format!("Last reconfiguration on {}", full_time(d.reconfigured)));
            r.line(13, "Daemon is up and running");
            r
        }
        ["down"] => {
            // BIRD's `down`: every peer gets a Cease, then the daemon exits.
            let _ = d.down.send(());
            Reply::single(7, "Shutdown requested")
        }
        ["show", "route", rest @ ..] => show_route(d, rest).await,
        ["show", "memory"] => {
            let mut r = Reply::default();
            r.line(1018, "BIRD memory usage");
            let rss = memory_kb();
            r.line(1018, format!("Total:          {rss:>5} kB"));
            r.line(0, "");
            r
        }
        ["show", "protocols", rest @ ..] => {
            let (all, sel) = match rest {
                [] => (false, None),
                ["all"] => (true, None),
                ["all", name] => (true, Some(*name)),
                [name] => (false, Some(*name)),
                _ => return Reply::single(9001, "syntax error"),
            };
            let peers: Vec<&PeerHandle> = match sel {
                None => d.peers.iter().collect(),
                Some(n) => match select(d, n) {
                    Ok(v) => v,
                    Err(r) => return r,
                },
            };
            let counts = if all {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let _ = d.rib.send(crate::routes::RibMsg::Counts(tx));
                rx.await.unwrap_or_default()
            } else {
                Default::default()
            };
            let mut r = Reply::default();
            r.line(2002, columns("name", "proto", "table", "state", "since", "info"));
            for p in peers {
                let s = p.snapshot();
                r.line(1002, row(&s));
                if all {
                    let id = d.peers.iter().position(|x| x.name == p.name).map(|i| i as u32);
                    details(
                        &mut r,
                        &s,
                        Some(id.and_then(|i| counts.get(&i).copied()).unwrap_or_default()),
                    );
                }
            }
            r.line(0, "");
            r
        }
        [verb @ ("enable" | "disable" | "restart"), target, rest @ ..] => {
            let message = match (*verb, rest) {
                (_, []) => None,
                ("disable", [m]) if m.starts_with('"') => Some(m.trim_start_matches('"').to_string()),
                _ => return Reply::single(9001, "syntax error"),
            };
            let peers = match select(d, target) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let mut r = Reply::default();
            for p in peers {
                let cmd = match *verb {
                    "enable" => Command::Enable,
                    "disable" => Command::Disable(message.clone()),
                    _ => Command::Restart,
                };
                let res = p.command(cmd).await;
                let (code, text) = match (*verb, res) {
                    ("enable", Some(CommandResult::Done)) => (11, "enabled"),
                    ("enable", _) => (10, "already enabled"),
                    ("disable", Some(CommandResult::Done)) => (9, "disabled"),
                    ("disable", _) => (8, "already disabled"),
                    _ => (12, "restarted"),
                };
                info!("control socket: {verb} {}", p.name);
                r.line(code, format!("{}: {text}", p.name));
            }
            r.line(0, "");
            r
        }
        _ => Reply::single(9001, "syntax error"),
    }
}

/// `show route [all] [for ADDR] [protocol NAME] [count]` in BIRD 1.6's format.
async fn show_route(d: &Daemon, args: &[&str]) -> Reply {
    let (mut all, mut count, mut query) = (false, false, crate::routes::Query::All);
    let mut i = 0;
    while i < args.len() {
        match (args[i], args.get(i + 1)) {
            ("all", _) => all = true,
            ("count", _) => count = true,
            ("for", Some(a)) => match a.parse::<std::net::IpAddr>() {
                Ok(ip) => {
                    query = crate::routes::Query::For(ip);
                    i += 1;
                }
                Err(_) => return Reply::single(9001, "syntax error"),
            },
            ("protocol", Some(n)) => {
                if !d.peers.iter().any(|p| p.name == *n) && *n != "static1" {
                    return Reply::single(9002, format!("{n} is not a protocol"));
                }
                query = crate::routes::Query::Protocol(n.to_string());
                i += 1;
            }
            _ => return Reply::single(9001, "syntax error"),
        }
        i += 1;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if d.rib.send(crate::routes::RibMsg::Query(query, tx)).is_err() {
        return Reply::single(8001, "Route table unavailable");
    }
    let routes = rx.await.unwrap_or_default();
    if count {
        let nets: std::collections::HashSet<_> = routes.iter().map(|r| r.prefix).collect();
        return Reply::single(
            14,
            format!(
                "{} of {} routes for {} networks",
                routes.len(),
                routes.len(),
                nets.len()
            ),
        );
    }
    let mut r = Reply::default();
    let mut prev = None;
    for v in &routes {
        let dest = if prev == Some(v.prefix) {
            String::new()
        } else {
            v.prefix.to_string()
        };
        prev = Some(v.prefix);
        let how = match (v.blackhole, v.attrs.next_hop) {
            (true, _) | (_, None) => "blackhole".to_string(),
            (false, Some(nh)) => format!("via {nh}"),
        };
        let from = crate::routes::shown_from(v)
            .map(|a| format!(" from {a}"))
            .unwrap_or_default();
        let star = if v.best { "*" } else { " " };
        let tail = if v.from == "static1" {
            "(200)".to_string()
        } else {
            let origin = match v.attrs.origin {
                Some(bgp_wire::attributes::Origin::Igp) => 'i',
                Some(bgp_wire::attributes::Origin::Egp) => 'e',
                _ => '?',
            };
            let origin_as = v
                .attrs
                .as_path
                .asns()
                .last()
                .map(|a| format!("AS{a}"))
                .unwrap_or_default();
            format!("(100/0) [{origin_as}{origin}]")
        };
        r.line(
            1007,
            format!("{dest:<18} {how} [{} {}{from}] {star} {tail}", v.from, since(v.since)),
        );
        if all {
            let a = &v.attrs;
            let kind = if v.from == "static1" { "static" } else { "BGP" };
            r.line(1008, format!("\tType: {kind} unicast univ"));
            if kind == "BGP" {
                let origin = match a.origin {
                    Some(bgp_wire::attributes::Origin::Igp) => "IGP",
                    Some(bgp_wire::attributes::Origin::Egp) => "EGP",
                    _ => "Incomplete",
                };
                r.line(1012, format!("\tBGP.origin: {origin}"));
                r.line(1012, format!("\tBGP.as_path: {}", a.as_path));
                if let Some(nh) = a.next_hop {
                    r.line(1012, format!("\tBGP.next_hop: {nh}"));
                }
                if let Some(m) = a.med {
                    r.line(1012, format!("\tBGP.med: {m}"));
                }
                r.line(1012, format!("\tBGP.local_pref: {}", a.local_pref_or_default()));
                if let Some(o) = a.originator_id {
                    r.line(1012, format!("\tBGP.originator_id: {o}"));
                }
                if !a.cluster_list.is_empty() {
                    let cl: Vec<String> = a.cluster_list.iter().map(|c| c.0.to_string()).collect();
                    r.line(1012, format!("\tBGP.cluster_list: {}", cl.join(" ")));
                }
                if !a.communities.is_empty() {
                    let cs: Vec<String> = a
                        .communities
                        .iter()
                        .map(|c| format!("({},{})", c.0 >> 16, c.0 & 0xffff))
                        .collect();
                    r.line(1012, format!("\tBGP.community: {}", cs.join(" ")));
                }
            }
        }
    }
    if routes.is_empty() && !matches!(args, [] | ["all"]) {
        return Reply::single(8001, "Network not in table");
    }
    r.line(0, "");
    r
}

/// Resident set size of this process, in kB.
fn memory_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Creates the socket (mode 0660) and serves it forever.
pub async fn serve(path: &Path, d: Arc<Daemon>) -> std::io::Result<()> {
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
                tokio::spawn(client(s, d.clone()));
            }
            Err(e) => warn!("control socket accept: {e}"),
        }
    }
}

async fn client(s: UnixStream, d: Arc<Daemon>) {
    let (rd, mut wr) = s.into_split();
    if wr
        .write_all(format!("0001 {VERSION} ready.\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut rd = BufReader::new(rd);
    let mut buf = Vec::new();
    loop {
        buf.clear();
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
        let reply = execute(&d, &line).await;
        if wr.write_all(reply.render().as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_framed_as_bird_frames_them() {
        let mut r = Reply::default();
        r.line(2002, "head");
        r.line(1002, "a");
        r.line(1002, "b");
        r.line(0, "");
        assert_eq!(r.render(), "2002-head\n1002-a\n b\n0000 \n");
        assert_eq!(Reply::single(9001, "syntax error").render(), "9001 syntax error\n");
    }

    #[test]
    fn rows_match_bird_1_6_columns() {
        // Lines copied from Calico's BIRD 1.6.8 (shared/docs/bird-ctl/calico-bird-1.6/raw/10_show_protocols.raw).
        assert_eq!(
            columns("name", "proto", "table", "state", "since", "info"),
            "name     proto    table    state  since       info"
        );
        assert_eq!(
            columns(
                "Mesh_10_0_0_2",
                "BGP",
                "master",
                "up",
                "06:20:42",
                &bgp_info("Established", "")
            ),
            "Mesh_10_0_0_2 BGP      master   up     06:20:42    Established   "
        );
        assert_eq!(
            columns(
                "Global_10_0_0_8",
                "BGP",
                "master",
                "start",
                "06:20:37",
                &bgp_info("Active", "Socket: Connection refused")
            ),
            "Global_10_0_0_8 BGP      master   start  06:20:37    Active        Socket: Connection refused"
        );
        assert_eq!(
            columns("Node_10_0_0_3", "BGP", "master", "down", "06:24:50", ""),
            "Node_10_0_0_3 BGP      master   down   06:24:50    "
        );
    }

    #[test]
    fn words_and_patterns() {
        assert_eq!(
            words("disable  Node_1 \"RR maintenance\"").unwrap(),
            vec!["disable", "Node_1", "\"RR maintenance"]
        );
        assert!(words("disable \"open").is_none());
        assert!(pattern_match("Global_*", "Global_10_0_0_8"));
        assert!(!pattern_match("Global_*", "Mesh_10_0_0_8"));
        assert!(pattern_match("M?sh*", "Mesh_1"));
    }
}
