//! Prometheus metrics (`metrics_listen`). Counters and gauges are kept as
//! things happen, by the peer tasks, the writers and the kernel writer, in
//! one process-wide registry; a scrape adds only what the engine already
//! counts incrementally (routes per session, prefixes in the table) and the
//! process's RSS, never a walk of the table.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::rde::RdeMsg;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    pub peer: String,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Direction {
    Received,
    Sent,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerDirLabel {
    pub peer: String,
    pub direction: Direction,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FamilyLabel {
    pub family: String,
}

/// Every metric tern exports.
pub struct Metrics {
    registry: Registry,
    peer_up: Family<PeerLabel, Gauge>,
    peer_state: Family<PeerLabel, Gauge>,
    peer_established: Family<PeerLabel, Gauge>,
    peer_flaps: Family<PeerLabel, Counter>,
    peer_updates: Family<PeerDirLabel, Counter>,
    peer_notifications: Family<PeerDirLabel, Counter>,
    peer_prefixes_received: Family<PeerLabel, Counter>,
    peer_prefixes_accepted: Family<PeerLabel, Gauge>,
    peer_prefixes_advertised: Family<PeerLabel, Gauge>,
    rib_prefixes: Family<FamilyLabel, Gauge>,
    pub kernel_installed: Gauge,
    pub kernel_failed: Counter,
    pub datastore_synced: Gauge,
    resident_bytes: Gauge,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut r = Registry::with_prefix("tern");
        let m = Metrics {
            registry: Registry::default(),
            peer_up: Family::default(),
            peer_state: Family::default(),
            peer_established: Family::default(),
            peer_flaps: Family::default(),
            peer_updates: Family::default(),
            peer_notifications: Family::default(),
            peer_prefixes_received: Family::default(),
            peer_prefixes_accepted: Family::default(),
            peer_prefixes_advertised: Family::default(),
            rib_prefixes: Family::default(),
            kernel_installed: Gauge::default(),
            kernel_failed: Counter::default(),
            datastore_synced: Gauge::default(),
            resident_bytes: Gauge::default(),
        };
        r.register("peer_up", "1 while the BGP session is Established", m.peer_up.clone());
        r.register(
            "peer_state",
            "BGP FSM state: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established",
            m.peer_state.clone(),
        );
        r.register(
            "peer_established_since_seconds",
            "Unix time the session became Established, 0 while it is not (uptime = time() - this)",
            m.peer_established.clone(),
        );
        r.register(
            "peer_flaps",
            "Established sessions that went down",
            m.peer_flaps.clone(),
        );
        r.register("peer_updates", "UPDATE messages", m.peer_updates.clone());
        r.register(
            "peer_notifications",
            "NOTIFICATION messages",
            m.peer_notifications.clone(),
        );
        r.register(
            "peer_prefixes_received",
            "Prefixes announced by the peer",
            m.peer_prefixes_received.clone(),
        );
        r.register(
            "peer_prefixes_accepted",
            "Routes of the peer held in the table",
            m.peer_prefixes_accepted.clone(),
        );
        r.register(
            "peer_prefixes_advertised",
            "Routes the peer holds from us",
            m.peer_prefixes_advertised.clone(),
        );
        r.register("rib_prefixes", "Prefixes in the table", m.rib_prefixes.clone());
        r.register(
            "kernel_routes_installed",
            "Routes of ours in the kernel's table",
            m.kernel_installed.clone(),
        );
        r.register(
            "kernel_route_failures",
            "Route changes the kernel refused",
            m.kernel_failed.clone(),
        );
        r.register(
            "datastore_synced",
            "1 while the Calico datastore is in sync",
            m.datastore_synced.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident set size of ternd",
            m.resident_bytes.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// The handles of one peer's metrics.
    pub fn peer(&self, name: &str) -> PeerMetrics {
        let l = PeerLabel { peer: name.to_string() };
        let dir = |d| PeerDirLabel {
            peer: name.to_string(),
            direction: d,
        };
        // One statement each: a family's read guard lives to the end of
        // its statement, and the next insertion needs its write lock.
        let up = self.peer_up.get_or_create(&l).clone();
        let state = self.peer_state.get_or_create(&l).clone();
        let established = self.peer_established.get_or_create(&l).clone();
        let flaps = self.peer_flaps.get_or_create(&l).clone();
        let updates_in = self.peer_updates.get_or_create(&dir(Direction::Received)).clone();
        let updates_out = self.peer_updates.get_or_create(&dir(Direction::Sent)).clone();
        let notifications_in = self.peer_notifications.get_or_create(&dir(Direction::Received)).clone();
        let notifications_out = self.peer_notifications.get_or_create(&dir(Direction::Sent)).clone();
        let prefixes_received = self.peer_prefixes_received.get_or_create(&l).clone();
        PeerMetrics {
            up,
            state,
            established,
            flaps,
            updates_in,
            updates_out,
            notifications_in,
            notifications_out,
            prefixes_received,
        }
    }

    /// A peer that is gone from the configuration: its series go too.
    pub fn forget_peer(&self, name: &str) {
        let l = PeerLabel { peer: name.to_string() };
        for f in [
            &self.peer_up,
            &self.peer_state,
            &self.peer_established,
            &self.peer_prefixes_accepted,
            &self.peer_prefixes_advertised,
        ] {
            f.remove(&l);
        }
        self.peer_flaps.remove(&l);
        self.peer_prefixes_received.remove(&l);
        for d in [Direction::Received, Direction::Sent] {
            let dl = PeerDirLabel {
                peer: name.to_string(),
                direction: d,
            };
            self.peer_updates.remove(&dl);
            self.peer_notifications.remove(&dl);
        }
    }

    /// The exposition text, with the engine's counts of now.
    fn render(&self, snapshot: &Snapshot) -> String {
        for (name, accepted, advertised) in &snapshot.peers {
            let l = PeerLabel { peer: name.clone() };
            self.peer_prefixes_accepted.get_or_create(&l).set(*accepted);
            self.peer_prefixes_advertised.get_or_create(&l).set(*advertised);
        }
        for (family, n) in &snapshot.rib {
            self.rib_prefixes
                .get_or_create(&FamilyLabel { family: family.clone() })
                .set(*n);
        }
        self.resident_bytes
            .set(i64::try_from(crate::control::query::rss_bytes()).unwrap_or(i64::MAX));
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// One peer's metric handles (shared counters: cheap to clone and bump).
#[derive(Clone, Debug)]
pub struct PeerMetrics {
    pub up: Gauge,
    pub state: Gauge,
    pub established: Gauge,
    pub flaps: Counter,
    pub updates_in: Counter,
    pub updates_out: Counter,
    pub notifications_in: Counter,
    pub notifications_out: Counter,
    pub prefixes_received: Counter,
}

impl PeerMetrics {
    /// The session's state changed to `state` (its FSM number).
    pub fn state(&self, state: bgp_fsm::State) {
        use bgp_fsm::State as S;
        let n = match state {
            S::Idle => 1,
            S::Connect => 2,
            S::Active => 3,
            S::OpenSent => 4,
            S::OpenConfirm => 5,
            S::Established => 6,
        };
        let was_up = self.up.get() == 1;
        let up = state == S::Established;
        self.state.set(n);
        self.up.set(i64::from(up));
        if up && !was_up {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            self.established.set(i64::try_from(now).unwrap_or(i64::MAX));
        } else if !up && was_up {
            self.established.set(0);
            self.flaps.inc();
        }
    }
}

/// UPDATE messages in a buffer of whole messages (headers only are read).
pub fn count_updates(mut b: &[u8]) -> u64 {
    let mut n = 0;
    while b.len() >= bgp_wire::header::HEADER_LEN {
        let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
        if b[18] == 2 {
            n += 1;
        }
        if len < bgp_wire::header::HEADER_LEN || len > b.len() {
            break;
        }
        b = &b[len..];
    }
    n
}

/// What a scrape asks of the engine: per peer (name, accepted,
/// advertised), and prefixes per family.
#[derive(Default)]
pub struct Snapshot {
    pub peers: Vec<(String, i64, i64)>,
    pub rib: Vec<(String, i64)>,
}

/// Serves `GET /metrics` on `addr` until the process ends. Requests are
/// read up to 4 kB and answered one per connection.
pub async fn serve(addr: SocketAddr, daemon: std::sync::Arc<crate::control::query::Daemon>) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!("cannot serve metrics on {addr}: {e}");
            return;
        }
    };
    info!("serving Prometheus metrics on http://{addr}/metrics");
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        let daemon = daemon.clone();
        tokio::spawn(async move {
            let mut req = vec![0u8; 4096];
            let n = match tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut req)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let line = String::from_utf8_lossy(&req[..n]);
            let ok = line.starts_with("GET /metrics ") || line.starts_with("GET / ");
            let (status, body) = if ok {
                ("200 OK", metrics().render(&snapshot(&daemon).await))
            } else {
                ("404 Not Found", "only GET /metrics here\n".to_string())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

async fn snapshot(d: &crate::control::query::Daemon) -> Snapshot {
    let (tx, rx) = oneshot::channel();
    let _ = d.rde.send(RdeMsg::Counts(tx));
    let counts = rx.await.unwrap_or_default();
    let (tx, rx) = oneshot::channel();
    let _ = d.rde.send(RdeMsg::RibSize(tx));
    let rib = rx.await.unwrap_or_default();
    Snapshot {
        peers: d
            .peers()
            .iter()
            .map(|p| {
                let c = counts.get(&p.id).copied().unwrap_or_default();
                let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
                (p.name.clone(), n(c.imported), n(c.exported))
            })
            .collect(),
        rib,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_counted_by_their_headers() {
        let u = bgp_wire::Message::Update(Box::new(bgp_wire::Update::end_of_rib(bgp_wire::Family::IPV4_UNICAST)));
        let ctx = bgp_wire::SessionCtx::default();
        let mut b = u.to_bytes(&ctx).unwrap().to_vec();
        b.extend_from_slice(&bgp_wire::Message::Keepalive.to_bytes(&ctx).unwrap());
        b.extend_from_slice(&u.to_bytes(&ctx).unwrap());
        assert_eq!(count_updates(&b), 2);
        assert_eq!(count_updates(&b[..10]), 0);
    }

    #[test]
    fn a_flap_is_an_established_session_going_down() {
        let p = metrics().peer("t-flap");
        p.state(bgp_fsm::State::Active);
        assert_eq!((p.up.get(), p.flaps.get()), (0, 0));
        p.state(bgp_fsm::State::Established);
        assert_eq!(p.up.get(), 1);
        assert!(p.established.get() > 1_700_000_000);
        p.state(bgp_fsm::State::Idle);
        assert_eq!((p.up.get(), p.flaps.get(), p.established.get()), (0, 1, 0));
        let text = metrics().render(&Snapshot::default());
        assert!(text.contains("tern_peer_flaps_total{peer=\"t-flap\"} 1"), "{text}");
        metrics().forget_peer("t-flap");
        assert!(!metrics().render(&Snapshot::default()).contains("t-flap"));
    }
}
