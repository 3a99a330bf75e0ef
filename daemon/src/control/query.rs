//! The control socket's answers as typed values, gathered from the peers'
//! published status and from the engine. [`super::bird`] renders them as
//! BIRD 1.6 prints them, [`super::json`] as JSON: one set of facts, two
//! renderings, nothing parsed back out of text.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

use rib::{MemoryCounts, PeerCounts, PeerId};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::peer::{Command, CommandResult, PeerHandle, PeerStatus};
use crate::rde::{RdeMsg, RouteQuery, RouteView};

/// Everything the control socket needs of the daemon.
pub struct Daemon {
    pub router_id: std::sync::Mutex<bgp_wire::RouterId>,
    pub started: SystemTime,
    pub reconfigured: std::sync::Mutex<SystemTime>,
    /// The peers now configured (a reload changes them).
    pub peers: Arc<RwLock<Vec<PeerHandle>>>,
    /// Asks the daemon to stop (the `down` command).
    pub down: tokio::sync::mpsc::UnboundedSender<()>,
    /// Asks the daemon to read its configuration again (`configure`).
    pub reload: tokio::sync::mpsc::UnboundedSender<ReloadRequest>,
    /// The engine, for routes and counters.
    pub rde: tokio::sync::mpsc::UnboundedSender<RdeMsg>,
}

impl Daemon {
    /// The peers now configured.
    pub fn peers(&self) -> Vec<PeerHandle> {
        self.peers.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What one control socket shows: everything (tern's own socket), or as
/// BIRD 1.6's two daemons did, IPv4 only (`bird.ctl`) or IPv6 only
/// (`bird6.ctl`): peers by their address, routes by their prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    All,
    V4,
    V6,
}

impl View {
    pub fn shows(self, a: IpAddr) -> bool {
        match self {
            View::All => true,
            View::V4 => a.is_ipv4(),
            View::V6 => a.is_ipv6(),
        }
    }

    pub fn shows_prefix(self, p: &bgp_wire::Prefix) -> bool {
        self.shows(p.addr())
    }
}

/// `configure [check] ["FILE"]`: read a configuration (the running one's
/// file by default) and apply it, or only check it.
#[derive(Debug)]
pub struct ReloadRequest {
    pub check: bool,
    pub file: Option<std::path::PathBuf>,
    pub reply: oneshot::Sender<ReloadOutcome>,
}

/// What a reload did.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// Applied: what changed, in words.
    Reconfigured { file: String, changes: Vec<String> },
    /// `configure check`: the file is good.
    Checked { file: String },
    /// The file is bad: nothing changed.
    Invalid { file: String, errors: Vec<String> },
}

/// Why a command could not be answered, with BIRD's reply code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtlError {
    /// 9001: the line does not parse.
    Syntax,
    /// 9002: a name that is no protocol.
    NotAProtocol(String),
    /// 8003: a pattern no protocol matches.
    NoMatch,
    /// 8001: no route for what was asked.
    NetworkNotInTable,
    /// 8001: the engine did not answer.
    TableUnavailable,
}

impl CtlError {
    pub fn code(&self) -> u16 {
        match self {
            CtlError::Syntax => 9001,
            CtlError::NotAProtocol(_) => 9002,
            CtlError::NoMatch => 8003,
            CtlError::NetworkNotInTable | CtlError::TableUnavailable => 8001,
        }
    }

    pub fn text(&self) -> String {
        match self {
            CtlError::Syntax => "syntax error".into(),
            CtlError::NotAProtocol(n) => format!("{n} is not a protocol"),
            CtlError::NoMatch => "No protocols match".into(),
            CtlError::NetworkNotInTable => "Network not in table".into(),
            CtlError::TableUnavailable => "Route table unavailable".into(),
        }
    }
}

/// `show status`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub router_id: String,
    #[serde(serialize_with = "super::json::time")]
    pub server_time: SystemTime,
    #[serde(serialize_with = "super::json::time")]
    pub last_reboot: SystemTime,
    #[serde(serialize_with = "super::json::time")]
    pub last_reconfiguration: SystemTime,
    pub status: &'static str,
    /// Seconds since the daemon started (for readiness rules).
    pub uptime: u64,
    /// Graceful restart recovery in progress.
    pub recovery: Option<Recovery>,
}

/// Graceful restart recovery, as BIRD reports it (code 0024).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Recovery {
    /// Peers not yet recovered (no End-of-RIB yet).
    pub waiting: usize,
    /// Seconds left of the wait, and the whole wait.
    pub left: u64,
    pub total: u64,
}

/// One row of `show protocols`, with the details of `show protocols all`.
#[derive(Clone, Debug, Serialize)]
pub struct Protocol {
    pub name: String,
    pub proto: &'static str,
    pub table: &'static str,
    /// `up`, `start` or `down`.
    pub state: &'static str,
    #[serde(serialize_with = "super::json::time")]
    pub since: SystemTime,
    pub bgp_state: &'static str,
    /// Why the last session or attempt ended, while not Established.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub details: Option<Details>,
}

/// `show protocols all`: the lines under each row.
#[derive(Clone, Debug, Serialize)]
pub struct Details {
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Route counters, while Established.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Routes>,
    pub neighbor_address: IpAddr,
    pub neighbor_as: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionDetails>,
    /// Seconds until the next outgoing attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `Routes: N imported, M exported, P preferred`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Routes {
    pub imported: usize,
    pub exported: usize,
    pub preferred: usize,
}

impl From<PeerCounts> for Routes {
    fn from(c: PeerCounts) -> Routes {
        Routes {
            imported: c.imported,
            exported: c.exported,
            preferred: c.preferred,
        }
    }
}

/// An Established session's details.
#[derive(Clone, Debug, Serialize)]
pub struct SessionDetails {
    pub neighbor_id: String,
    /// The peer's capabilities, in BIRD's words.
    pub neighbor_caps: Vec<&'static str>,
    /// What the session negotiated, in BIRD's words.
    pub session: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<IpAddr>,
    /// Seconds left, and the negotiated value.
    pub hold_timer: (u64, u16),
    pub keepalive_timer: (u64, u16),
}

/// `show route` answers.
#[derive(Clone, Debug)]
pub enum RouteAnswer {
    Routes(Vec<RouteView>),
    /// `show route count`: routes and networks.
    Count {
        routes: usize,
        networks: usize,
    },
}

/// `show memory`.
#[derive(Clone, Debug, Serialize)]
pub struct Memory {
    /// Resident set size of the process, bytes.
    pub total: u64,
    /// Bytes the allocator has handed out and not had back.
    pub heap_in_use: u64,
    /// What the engine holds.
    pub engine: MemoryCounts,
}

/// An operator command's outcome per protocol, in BIRD's words.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub name: String,
    #[serde(skip)]
    pub code: u16,
    pub result: &'static str,
}

pub async fn status(d: &Daemon) -> Status {
    let recovery = ask(d, RdeMsg::Recovery).await.flatten().map(|r| Recovery {
        waiting: r.waiting,
        left: r.left,
        total: r.total,
    });
    Status {
        recovery,
        version: super::VERSION,
        router_id: d.router_id.lock().map(|r| r.to_string()).unwrap_or_default(),
        server_time: SystemTime::now(),
        last_reboot: d.started,
        last_reconfiguration: *d.reconfigured.lock().unwrap_or_else(|e| e.into_inner()),
        status: "Daemon is up and running",
        uptime: d.started.elapsed().map_or(0, |e| e.as_secs()),
    }
}

/// The protocols a name or `"pattern"` selects (all for `None`).
pub fn select(d: &Daemon, arg: Option<&str>) -> Result<Vec<PeerHandle>, CtlError> {
    let peers = d.peers();
    let Some(arg) = arg else {
        return Ok(peers);
    };
    if let Some(pat) = arg.strip_prefix('"') {
        let v: Vec<PeerHandle> = peers.into_iter().filter(|p| rib::glob::matches(pat, &p.name)).collect();
        if v.is_empty() {
            return Err(CtlError::NoMatch);
        }
        return Ok(v);
    }
    match peers.into_iter().find(|p| p.name == arg) {
        Some(p) => Ok(vec![p]),
        None => Err(CtlError::NotAProtocol(arg.to_string())),
    }
}

/// `configure`: asks the supervisor, which owns the running configuration.
pub async fn configure(d: &Daemon, check: bool, file: Option<std::path::PathBuf>) -> Result<ReloadOutcome, CtlError> {
    let (tx, rx) = oneshot::channel();
    d.reload
        .send(ReloadRequest { check, file, reply: tx })
        .map_err(|_| CtlError::TableUnavailable)?;
    rx.await.map_err(|_| CtlError::TableUnavailable)
}

async fn ask<T: Default>(d: &Daemon, make: impl FnOnce(oneshot::Sender<T>) -> RdeMsg) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    d.rde.send(make(tx)).ok()?;
    rx.await.ok()
}

/// `show protocols [all] [NAME|"pattern"]`.
pub async fn protocols(d: &Daemon, view: View, sel: Option<&str>, all: bool) -> Result<Vec<Protocol>, CtlError> {
    let mut peers = select(d, sel)?;
    peers.retain(|p| view.shows(p.address));
    let counts: HashMap<PeerId, PeerCounts> = if all {
        ask(d, RdeMsg::Counts).await.unwrap_or_default()
    } else {
        HashMap::new()
    };
    Ok(peers
        .iter()
        .map(|p| {
            let s = p.snapshot();
            let details = all.then(|| details(&s, counts.get(&p.id).copied().unwrap_or_default()));
            protocol(&s, details)
        })
        .collect())
}

fn protocol(s: &PeerStatus, details: Option<Details>) -> Protocol {
    let info = (s.enabled && s.state != bgp_fsm::State::Established)
        .then(|| s.last_error.as_ref().map(|e| e.to_string()))
        .flatten();
    Protocol {
        name: s.name.clone(),
        proto: "BGP",
        table: "master",
        state: s.proto_state(),
        since: s.since,
        bgp_state: s.bgp_state(),
        info,
        details,
    }
}

fn secs_left(at: Option<Instant>) -> u64 {
    at.map_or(0, |t| t.saturating_duration_since(Instant::now()).as_secs())
}

fn details(s: &PeerStatus, counts: PeerCounts) -> Details {
    let established = s.state == bgp_fsm::State::Established;
    let session = s.negotiated.as_ref().map(|n| SessionDetails {
        neighbor_id: n.peer_id.to_string(),
        neighbor_caps: capabilities(&n.peer_open),
        session: session_words(n),
        source_address: s.source.map(|a| a.ip().to_canonical()),
        hold_timer: (secs_left(s.hold_deadline), n.hold_time),
        keepalive_timer: (secs_left(s.keepalive_deadline), n.keepalive),
    });
    let waiting = session.is_none() && s.enabled;
    Details {
        description: s.description.clone().unwrap_or_else(|| "Connection to BGP peer".into()),
        message: s.disable_message.clone(),
        routes: established.then(|| counts.into()),
        neighbor_address: s.address,
        neighbor_as: s.peer_as.0,
        session,
        connect_delay: (waiting && s.connect_deadline.is_some() && !s.passive).then(|| secs_left(s.connect_deadline)),
        last_error: if waiting {
            s.last_error.as_ref().map(|e| e.to_string())
        } else {
            None
        },
    }
}

/// The peer's capabilities as BIRD names them in `Neighbor caps:`.
fn capabilities(o: &bgp_wire::Open) -> Vec<&'static str> {
    use bgp_wire::Capability as C;
    let has = |f: fn(&C) -> bool| o.capabilities().any(f);
    let mut caps = Vec::new();
    if has(|c| matches!(c, C::RouteRefresh)) {
        caps.push("refresh");
    }
    if has(|c| matches!(c, C::EnhancedRouteRefresh)) {
        caps.push("enhanced-refresh");
    }
    if has(|c| matches!(c, C::GracefulRestart(g) if !g.families.is_empty())) {
        caps.push("restart-able");
    } else if has(|c| matches!(c, C::GracefulRestart(_))) {
        caps.push("restart-aware");
    }
    if has(|c| matches!(c, C::LongLivedGracefulRestart { .. })) {
        caps.push("llgr-aware");
    }
    if has(|c| matches!(c, C::FourOctetAs { .. })) {
        caps.push("AS4");
    }
    if has(|c| matches!(c, C::AddPath { families } if families.iter().any(|f| f.mode.can_send()))) {
        caps.push("add-path-rx");
    }
    if has(|c| matches!(c, C::AddPath { families } if families.iter().any(|f| f.mode.can_receive()))) {
        caps.push("add-path-tx");
    }
    if has(|c| matches!(c, C::ExtendedMessage)) {
        caps.push("ext-messages");
    }
    caps
}

fn session_words(n: &bgp_fsm::Negotiated) -> Vec<&'static str> {
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
    sess
}

/// `show route [all] [for ADDR] [protocol NAME] [count]`: (all, answer).
pub async fn routes(d: &Daemon, view: View, args: &[&str]) -> Result<(bool, RouteAnswer), CtlError> {
    let (mut all, mut count, mut query) = (false, false, RouteQuery::All);
    let mut i = 0;
    while i < args.len() {
        match (args[i], args.get(i + 1)) {
            ("all", _) => all = true,
            ("count", _) => count = true,
            ("for", Some(a)) => {
                query = RouteQuery::For(a.parse().map_err(|_| CtlError::Syntax)?);
                i += 1;
            }
            ("protocol", Some(n)) => {
                if !d.peers().iter().any(|p| p.name == *n)
                    && *n != crate::rde::STATIC_PROTOCOL
                    && *n != crate::rde::KERNEL_PROTOCOL
                {
                    return Err(CtlError::NotAProtocol(n.to_string()));
                }
                query = RouteQuery::Protocol(n.to_string());
                i += 1;
            }
            _ => return Err(CtlError::Syntax),
        }
        i += 1;
    }
    let mut routes = ask(d, |tx| RdeMsg::Routes(query, tx))
        .await
        .ok_or(CtlError::TableUnavailable)?;
    routes.retain(|r| view.shows_prefix(&r.prefix));
    if count {
        let nets: std::collections::HashSet<_> = routes.iter().map(|r| r.prefix).collect();
        return Ok((
            all,
            RouteAnswer::Count {
                routes: routes.len(),
                networks: nets.len(),
            },
        ));
    }
    if routes.is_empty() && !matches!(args, [] | ["all"]) {
        return Err(CtlError::NetworkNotInTable);
    }
    Ok((all, RouteAnswer::Routes(routes)))
}

/// `show memory`.
pub async fn memory(d: &Daemon) -> Memory {
    Memory {
        total: rss_bytes(),
        heap_in_use: heap_in_use(),
        engine: ask(d, RdeMsg::Memory).await.unwrap_or_default(),
    }
}

/// What glibc's allocator has handed out and not had back.
fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as u64
}

/// Resident set size of this process.
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `enable`, `disable ["message"]` or `restart` of the selected protocols.
pub async fn operate(d: &Daemon, verb: &str, sel: &str, message: Option<String>) -> Result<Vec<Outcome>, CtlError> {
    let mut out = Vec::new();
    for p in select(d, Some(sel))? {
        let cmd = match verb {
            "enable" => Command::Enable,
            "disable" => Command::Disable(message.clone()),
            _ => Command::Restart,
        };
        let res = p.command(cmd).await;
        let (code, result) = match (verb, res) {
            ("enable", Some(CommandResult::Done)) => (11, "enabled"),
            ("enable", _) => (10, "already enabled"),
            ("disable", Some(CommandResult::Done)) => (9, "disabled"),
            ("disable", _) => (8, "already disabled"),
            _ => (12, "restarted"),
        };
        tracing::info!("control socket: {verb} {}", p.name);
        out.push(Outcome {
            name: p.name.clone(),
            code,
            result,
        });
    }
    Ok(out)
}
