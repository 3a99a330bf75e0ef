//! The answers rendered as BIRD 1.6 prints them, byte for byte where
//! Calico parses them (`shared/docs/bird-ctl/calico-bird-1.6/`): reply
//! codes, column widths, time formats.

use std::fmt::Write as _;
use std::time::SystemTime;

use bgp_wire::attributes::Origin;

use super::query::{CtlError, Memory, Outcome, Protocol, ReloadOutcome, RouteAnswer, Status};
use crate::kernel::LearnedKind;
use crate::rde::RouteView;

/// A reply under construction: lines with their codes.
#[derive(Default)]
pub struct Reply {
    lines: Vec<(u16, String)>,
}

impl Reply {
    pub fn line(&mut self, code: u16, text: impl Into<String>) {
        self.lines.push((code, text.into()));
    }

    pub fn single(code: u16, text: impl Into<String>) -> Reply {
        let mut r = Reply::default();
        r.line(code, text);
        r
    }

    pub fn error(e: &CtlError) -> Reply {
        Reply::single(e.code(), e.text())
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
}

/// Local time as `YYYY-MM-DD` and `HH:MM:SS`.
pub fn local_time(t: SystemTime) -> (String, String) {
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

pub fn full_time(t: SystemTime) -> String {
    let (d, h) = local_time(t);
    format!("{d} {h}")
}

/// One line of the `show protocols` table, columns as BIRD 1.6 pads them.
pub fn columns(name: &str, proto: &str, table: &str, state: &str, since: &str, info: &str) -> String {
    format!("{name:<8} {proto:<8} {table:<8} {state:<6} {since:<11} {info}")
}

/// The info column of a BGP row: the BGP state padded to 14, then the last error.
pub fn bgp_info(state: &str, error: &str) -> String {
    format!("{state:<14}{error}")
}

pub fn status(s: &Status) -> Reply {
    let mut r = Reply::default();
    r.line(1000, s.version);
    r.line(1011, format!("Router ID is {}", s.router_id));
    r.line(1011, format!("Current server time is {}", full_time(s.server_time)));
    r.line(1011, format!("Last reboot on {}", full_time(s.last_reboot)));
    r.line(
        1011,
        format!("Last reconfiguration on {}", full_time(s.last_reconfiguration)),
    );
    if let Some(g) = &s.recovery {
        // Calico's readiness check reads this code: not ready while it shows.
        r.line(24, "Graceful restart recovery in progress");
        r.line(24, format!("  Waiting for {} protocols to recover", g.waiting));
        r.line(24, format!("  Wait timer is {}/{}", g.left, g.total));
    }
    r.line(13, s.status);
    r
}

pub fn protocols(list: &[Protocol]) -> Reply {
    let mut r = Reply::default();
    r.line(2002, columns("name", "proto", "table", "state", "since", "info"));
    for p in list {
        // A disabled protocol shows no BGP state (BIRD's `down` row).
        let info = if p.state == "down" {
            String::new()
        } else {
            bgp_info(p.bgp_state, p.info.as_deref().unwrap_or(""))
        };
        r.line(
            1002,
            columns(&p.name, p.proto, p.table, p.state, &since(p.since), &info),
        );
        if let Some(d) = &p.details {
            details(&mut r, p, d);
        }
    }
    r.line(0, "");
    r
}

fn details(r: &mut Reply, p: &Protocol, d: &super::query::Details) {
    r.line(1006, format!("  Description:    {}", d.description));
    if let Some(m) = &d.message {
        r.line(1006, format!("  Message:        {m}"));
    }
    r.line(1006, "  Preference:     100");
    r.line(1006, "  Input filter:   ACCEPT");
    r.line(1006, "  Output filter:  ACCEPT");
    if let Some(c) = &d.routes {
        r.line(
            1006,
            format!(
                "  Routes:         {} imported, {} exported, {} preferred",
                c.imported, c.exported, c.preferred
            ),
        );
    }
    r.line(1006, format!("  BGP state:          {}", p.bgp_state));
    r.line(1006, format!("    Neighbor address: {}", d.neighbor_address));
    r.line(1006, format!("    Neighbor AS:      {}", d.neighbor_as));
    if let Some(s) = &d.session {
        r.line(1006, format!("    Neighbor ID:      {}", s.neighbor_id));
        r.line(1006, format!("    Neighbor caps:    {}", s.neighbor_caps.join(" ")));
        r.line(1006, format!("    Session:          {}", s.session.join(" ")));
        if let Some(src) = s.source_address {
            r.line(1006, format!("    Source address:   {src}"));
        }
        r.line(
            1006,
            format!("    Hold timer:       {}/{}", s.hold_timer.0, s.hold_timer.1),
        );
        r.line(
            1006,
            format!("    Keepalive timer:  {}/{}", s.keepalive_timer.0, s.keepalive_timer.1),
        );
    }
    if let Some(c) = d.connect_delay {
        r.line(1006, format!("    Connect delay:    {c}"));
    }
    if let Some(e) = &d.last_error {
        r.line(1006, format!("    Last error:       {e}"));
    }
    r.line(1006, "");
}

fn origin_letter(o: Option<Origin>) -> char {
    match o {
        Some(Origin::Igp) => 'i',
        Some(Origin::Egp) => 'e',
        _ => '?',
    }
}

/// `configure`, as BIRD 1.6 answers it: `0002-Reading configuration
/// from FILE`, then `0003 Reconfigured`, `0020 Configuration OK`, or the
/// errors under 8002 and nothing changed.
pub fn configure(o: &ReloadOutcome) -> Reply {
    let mut r = Reply::default();
    match o {
        ReloadOutcome::Reconfigured { file, .. } => {
            r.line(2, format!("Reading configuration from {file}"));
            r.line(3, "Reconfigured");
        }
        ReloadOutcome::Checked { file } => {
            r.line(2, format!("Reading configuration from {file}"));
            r.line(20, "Configuration OK");
        }
        ReloadOutcome::Invalid { file, errors } => {
            r.line(2, format!("Reading configuration from {file}"));
            for e in errors {
                r.line(8002, e.clone());
            }
        }
    }
    r
}

pub fn routes(answer: &RouteAnswer, all: bool) -> Reply {
    let list = match answer {
        RouteAnswer::Count { routes, networks } => {
            return Reply::single(14, format!("{routes} of {routes} routes for {networks} networks"));
        }
        RouteAnswer::Routes(list) => list,
    };
    let mut r = Reply::default();
    let mut prev = None;
    for v in list {
        let dest = if prev == Some(v.prefix) {
            String::new()
        } else {
            v.prefix.to_string()
        };
        prev = Some(v.prefix);
        route(&mut r, v, &dest, all);
    }
    r.line(0, "");
    r
}

/// How a route forwards, as BIRD 1.6 writes it: ` via NH on IFACE`
/// (Calico's route parser needs the interface), `dev IFACE`, `blackhole`.
fn how(v: &RouteView) -> Vec<String> {
    let on = |i: Option<&str>| i.map(|i| format!(" on {i}")).unwrap_or_default();
    if let Some(k) = &v.kernel {
        return match k.kind {
            LearnedKind::Blackhole => vec!["blackhole".into()],
            LearnedKind::Unreachable => vec!["unreachable".into()],
            LearnedKind::Prohibit => vec!["prohibited".into()],
            LearnedKind::Unicast if k.hops.is_empty() => {
                vec![format!("dev {}", v.iface.as_deref().unwrap_or("?"))]
            }
            // A multipath route: a line per next hop.
            LearnedKind::Unicast => k
                .hops
                .iter()
                .enumerate()
                .map(|(i, (gw, _))| {
                    let iface = if i == 0 { v.iface.as_deref() } else { None };
                    format!("via {gw}{}", on(iface))
                })
                .collect(),
        };
    }
    match v.attrs.next_hop {
        Some(nh) if !v.blackhole() => vec![format!("via {nh}{}", on(v.iface.as_deref()))],
        _ => vec!["blackhole".to_string()],
    }
}

fn route(r: &mut Reply, v: &RouteView, dest: &str, all: bool) {
    let from = v.shown_from().map(|a| format!(" from {a}")).unwrap_or_default();
    let star = if v.best { "*" } else { " " };
    let tail = if v.kernel.is_some() {
        "(10)".to_string()
    } else if v.local {
        "(200)".to_string()
    } else {
        let origin_as = v
            .attrs
            .as_path
            .asns()
            .last()
            .map(|a| format!("AS{a}"))
            .unwrap_or_default();
        format!("(100/0) [{origin_as}{}]", origin_letter(v.attrs.origin))
    };
    for (i, how) in how(v).iter().enumerate() {
        let dest = if i == 0 { dest } else { "" };
        r.line(
            1007,
            format!("{dest:<18} {how} [{} {}{from}] {star} {tail}", v.from, since(v.since)),
        );
    }
    if !all {
        return;
    }
    let a = &v.attrs;
    if let Some(k) = &v.kernel {
        r.line(1008, "\tType: inherit unicast univ");
        r.line(1012, format!("\tKernel.source: {}", k.protocol));
        r.line(1012, format!("\tKernel.metric: {}", k.metric));
        return;
    }
    if v.local {
        r.line(1008, "\tType: static unicast univ");
        return;
    }
    r.line(1008, "\tType: BGP unicast univ");
    // The attributes as the codec's table words them; LOCAL_PREF is shown
    // as the decision process reads it (100 when the route has none).
    let mut wire = rib::path_attributes(a, v.prefix.family());
    wire.local_pref = Some(a.local_pref_or_default());
    for (name, text) in wire.bird_lines() {
        r.line(1012, format!("\tBGP.{name}: {text}"));
    }
}

/// A size as BIRD 1.6's `show memory` prints it: four digits and a unit.
fn size(name: &str, bytes: u64) -> String {
    let mut v = bytes;
    let mut unit = ' ';
    for u in ['k', 'M', 'G'] {
        if v < 10_000 {
            break;
        }
        v = (v + 512) / 1024;
        unit = u;
    }
    format!("{name:<17} {v:>4} {unit}B")
}

/// `show memory`: BIRD's lines, then what the engine holds, counted.
pub fn memory(m: &Memory) -> Reply {
    let e = &m.engine;
    let mut r = Reply::default();
    r.line(1018, "BIRD memory usage");
    r.line(1018, size("Routing tables:", e.heap_bytes as u64));
    r.line(1018, size("Heap in use:", m.heap_in_use));
    r.line(1018, size("Total:", m.total));
    for (name, n) in [
        ("Prefixes:", e.prefixes),
        ("Routes:", e.routes),
        ("Empty slots:", e.empty_slots),
        ("Attribute sets:", e.attribute_sets),
        ("Export sets:", e.export_sets),
        ("Export cache:", e.export_cache),
        ("Export classes:", e.export_classes),
        ("Sessions:", e.sessions),
        ("Exported routes:", e.exported),
        ("Backlog:", e.backlog),
        ("Queued bytes:", e.queued_bytes),
    ] {
        r.line(1018, format!("{name:<17} {n:>4}"));
    }
    r.line(0, "");
    r
}

pub fn outcomes(list: &[Outcome]) -> Reply {
    let mut r = Reply::default();
    for o in list {
        r.line(o.code, format!("{}: {}", o.name, o.result));
    }
    r.line(0, "");
    r
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
    fn memory_sizes_as_bird_1_6_prints_them() {
        // From Calico's BIRD 1.6.8 (calico-bird-1.6/raw/21_show_memory.raw).
        assert_eq!(
            size("Routing tables:", 35 * 1024),
            " Routing tables:     35 kB".trim_start()
        );
        assert_eq!(size("ROA tables:", 192), "ROA tables:        192  B");
        assert_eq!(size("Total:", 138 * 1024), "Total:             138 kB");
    }
}
