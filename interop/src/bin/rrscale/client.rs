//! The light client: one tokio task per simulated Calico node, all on one
//! thread, each holding a BGP session to the reflector. A node announces
//! its blocks (/26s, next hop its own address, as calico-node's BIRD does)
//! and tracks which of the other nodes' blocks it holds with a bit per
//! block, reading UPDATEs only as far as the withdrawn routes and the NLRI:
//! the harness must cost far less than the reflector it measures.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_wire::attributes::Origin;
use bgp_wire::{Message, NlriEntry, Prefix, SessionCtx};
use bytes::{Buf, BytesMut};
use interop::speaker::{self, encode_routes};
use rib::RouteAttrs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

/// Calico's default AS: nodes and reflector are iBGP.
pub const AS: u32 = 64512;
/// The hold time the nodes offer ([`speaker::open`]); keepalives go at a
/// third of it.
const HOLD: u16 = 240;

/// What every node of one run shares.
pub struct Plan {
    pub target: SocketAddr,
    pub nodes: usize,
    /// Blocks each node announces.
    pub per_node: usize,
}

impl Plan {
    /// Blocks announced at the start; block `steady_block()` is the one
    /// node 0 adds once everything has converged.
    pub fn blocks(&self) -> usize {
        self.nodes * self.per_node
    }

    pub fn steady_block(&self) -> usize {
        self.blocks()
    }
}

/// Node `i`'s address: 10.201.0.1 upwards, 250 to a /24.
pub fn node_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, (i / 250) as u8, 1 + (i % 250) as u8)
}

/// Block `b`: the `b`-th /26 of 100.64.0.0/10 (room for 65536).
pub fn block(b: usize) -> Prefix {
    Prefix::v4(Ipv4Addr::from(0x6440_0000u32 + ((b as u32) << 6)), 26).expect("a /26")
}

/// The block a /26 in NLRI encoding is, if it is one of ours.
fn block_index(len: u8, bytes: &[u8]) -> Option<usize> {
    if len != 26 || bytes.len() != 4 {
        return None;
    }
    let a = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let off = a.checked_sub(0x6440_0000)?;
    (off < (1 << 22) && off & 63 == 0).then_some((off >> 6) as usize)
}

/// What a node reports to the harness.
pub enum Event {
    Established,
    /// The reflector closed or reset the connection before the session
    /// came up; the node tries again after [`RETRY`].
    Retry,
    /// An Established session dropped, and why; the node brings it up
    /// again.
    Dropped(String),
    /// The node holds every other node's blocks.
    Converged(Instant),
    /// The node holds the block added at steady state.
    SteadyBlock(Instant),
    Failed(usize, String),
}

/// The blocks a node holds, counted.
struct Held {
    bits: Vec<u64>,
    own: std::ops::Range<usize>,
    others: usize,
}

impl Held {
    fn set(&mut self, b: usize, on: bool) {
        let Some(w) = self.bits.get_mut(b / 64) else {
            return;
        };
        let m = 1u64 << (b % 64);
        if (*w & m != 0) == on {
            return;
        }
        *w ^= m;
        if !self.own.contains(&b) {
            if on {
                self.others += 1;
            } else {
                self.others -= 1;
            }
        }
    }

    fn has(&self, b: usize) -> bool {
        self.bits.get(b / 64).is_some_and(|w| w & (1 << (b % 64)) != 0)
    }
}

/// Walks IPv4 NLRI-encoded prefixes (RFC 4271 §4.3), calling `f` for each.
fn prefixes(mut p: &[u8], mut f: impl FnMut(u8, &[u8])) -> Result<(), String> {
    while let Some((&len, rest)) = p.split_first() {
        let n = (len as usize).div_ceil(8);
        if len > 32 || rest.len() < n {
            return Err(format!("bad prefix length {len}"));
        }
        f(len, &rest[..n]);
        p = &rest[n..];
    }
    Ok(())
}

/// Applies one UPDATE body (after the 19-octet header) to `held`.
fn apply(held: &mut Held, body: &[u8]) -> Result<(), String> {
    let short = || "short UPDATE".to_string();
    let wl = u16::from_be_bytes(body.get(0..2).ok_or_else(short)?.try_into().expect("2")) as usize;
    let withdrawn = body.get(2..2 + wl).ok_or_else(short)?;
    let al = u16::from_be_bytes(body.get(2 + wl..4 + wl).ok_or_else(short)?.try_into().expect("2")) as usize;
    let nlri = body.get(4 + wl + al..).ok_or_else(short)?;
    prefixes(withdrawn, |l, b| {
        if let Some(i) = block_index(l, b) {
            held.set(i, false)
        }
    })?;
    prefixes(nlri, |l, b| {
        if let Some(i) = block_index(l, b) {
            held.set(i, true)
        }
    })
}

/// The encoded UPDATEs announcing `blocks` from `addr`, as calico-node's
/// BIRD sends them: ORIGIN IGP, empty AS_PATH, LOCAL_PREF 100, next hop
/// the node itself.
pub fn announce(addr: Ipv4Addr, blocks: impl Iterator<Item = usize>) -> Vec<u8> {
    let attrs = Arc::new(RouteAttrs {
        origin: Some(Origin::Igp),
        next_hop: Some(addr.into()),
        local_pref: Some(100),
        ..RouteAttrs::default()
    });
    let routes: Vec<(NlriEntry, Arc<RouteAttrs>)> = blocks.map(|b| (NlriEntry::new(block(b)), attrs.clone())).collect();
    encode_routes(&routes, &SessionCtx::default())
        .expect("encodable")
        .to_vec()
}

fn open(addr: Ipv4Addr) -> Vec<u8> {
    encoded(Message::Open(speaker::open(AS, addr)))
}

fn keepalive() -> Vec<u8> {
    encoded(Message::Keepalive)
}

fn encoded(m: Message) -> Vec<u8> {
    m.to_bytes(&SessionCtx::default()).expect("encodable").to_vec()
}

/// Connects from `local`, retrying while the reflector refuses. An
/// attempt that hangs (a full accept queue drops the SYN) is given up
/// after [`ATTEMPT`] and made again, as BIRD's connect retry timer does.
async fn connect(local: Ipv4Addr, target: SocketAddr, deadline: Instant) -> std::io::Result<TcpStream> {
    loop {
        let s = TcpSocket::new_v4()?;
        s.bind(SocketAddr::new(local.into(), 0))?;
        let e = match tokio::time::timeout(ATTEMPT, s.connect(target)).await {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(e)) => e,
            Err(_) => std::io::ErrorKind::TimedOut.into(),
        };
        if Instant::now() > deadline {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long a connection may wait for the session to come up.
const OPEN_WAIT: Duration = Duration::from_secs(5);
/// How long one connection attempt may take.
const ATTEMPT: Duration = Duration::from_secs(2);
/// Sessions being brought up at once: nodes of a cluster do not all
/// connect in the same millisecond, and a reflector's accept queue
/// (BIRD's is short) would drop the rest into the kernel's SYN backoff.
pub const OPENING: usize = 64;

/// How long a node waits after the reflector closed or reset its
/// connection before the session came up (a reflector may refuse
/// sessions while it starts).
pub const RETRY: Duration = Duration::from_secs(1);

/// One node: connect, bring the session up, announce, then hold routes
/// until the runtime is dropped. Node 0 announces the steady-state block
/// when `steady` is notified.
pub async fn node(
    i: usize,
    plan: Arc<Plan>,
    events: mpsc::UnboundedSender<Event>,
    steady: Arc<Notify>,
    opening: Arc<Semaphore>,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Seen {
        converged: false,
        steady: i == 0,
    };
    loop {
        match session(i, &plan, &events, &steady, &opening, &mut seen).await {
            Err(Ended::BeforeUp(_)) if Instant::now() < deadline => {
                let _ = events.send(Event::Retry);
                tokio::time::sleep(RETRY).await;
            }
            // A session that drops is brought up again, as a node's BIRD
            // would, and starts from an empty table.
            Err(Ended::After(e)) => {
                let _ = events.send(Event::Dropped(e));
                tokio::time::sleep(RETRY).await;
            }
            Err(Ended::BeforeUp(e)) => {
                let _ = events.send(Event::Failed(i, e));
                return;
            }
            Ok(()) => return,
        }
    }
}

/// What a node has reported, over all its sessions.
struct Seen {
    converged: bool,
    steady: bool,
}

/// How a session ended.
enum Ended {
    BeforeUp(String),
    After(String),
}

async fn session(
    i: usize,
    plan: &Plan,
    events: &mpsc::UnboundedSender<Event>,
    steady: &Notify,
    opening: &Arc<Semaphore>,
    seen: &mut Seen,
) -> Result<(), Ended> {
    let mut established = false;
    let permit = opening.clone().acquire_owned().await.ok();
    run(i, plan, events, steady, &mut established, permit, seen)
        .await
        .map_err(|e| {
            if established {
                Ended::After(e)
            } else {
                Ended::BeforeUp(e)
            }
        })
}

async fn run(
    i: usize,
    plan: &Plan,
    events: &mpsc::UnboundedSender<Event>,
    steady: &Notify,
    established: &mut bool,
    mut opening: Option<OwnedSemaphorePermit>,
    seen: &mut Seen,
) -> Result<(), String> {
    let addr = node_addr(i);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut s = connect(addr, plan.target, deadline)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    s.write_all(&open(addr)).await.map_err(|e| e.to_string())?;
    let own = i * plan.per_node..(i + 1) * plan.per_node;
    let mut held = Held {
        bits: vec![0; (plan.blocks() + 1).div_ceil(64)],
        own: own.clone(),
        others: 0,
    };
    let want = plan.blocks() - plan.per_node;
    if want == 0 && !seen.converged {
        seen.converged = true;
        let _ = events.send(Event::Converged(Instant::now()));
    }
    let mut buf = BytesMut::with_capacity(4096);
    // A connection whose OPEN goes unanswered (an accept queue that
    // overflowed can leave one half-open for minutes) is given up.
    let open_by = tokio::time::Instant::now() + OPEN_WAIT;
    let mut ka = tokio::time::interval(Duration::from_secs(HOLD as u64 / 3));
    ka.tick().await;
    loop {
        tokio::select! {
            r = s.read_buf(&mut buf) => {
                if r.map_err(|e| e.to_string())? == 0 {
                    return Err("reflector closed the session".into());
                }
            }
            _ = tokio::time::sleep_until(open_by), if !*established => {
                return Err("no OPEN within 5 s".into());
            }
            _ = ka.tick() => {
                s.write_all(&keepalive()).await.map_err(|e| e.to_string())?;
                continue;
            }
            _ = steady.notified(), if i == 0 && *established => {
                let up = announce(addr, std::iter::once(plan.steady_block()));
                s.write_all(&up).await.map_err(|e| e.to_string())?;
                continue;
            }
        }
        while buf.len() >= 19 {
            let len = u16::from_be_bytes([buf[16], buf[17]]) as usize;
            if !(19..=65535).contains(&len) {
                return Err(format!("bad message length {len}"));
            }
            if buf.len() < len {
                break;
            }
            let msg = buf.split_to(len);
            match msg[18] {
                1 => s.write_all(&keepalive()).await.map_err(|e| e.to_string())?,
                2 => apply(&mut held, &msg[19..])?,
                3 => {
                    return Err(format!(
                        "NOTIFICATION {}/{}",
                        msg.get(19).unwrap_or(&0),
                        msg.get(20).unwrap_or(&0)
                    ))
                }
                4 if !*established => {
                    *established = true;
                    opening.take();
                    let _ = events.send(Event::Established);
                    s.write_all(&announce(addr, own.clone()))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                _ => {}
            }
        }
        buf.reserve(8192);
        let now = Instant::now();
        if !seen.converged && held.others == want {
            seen.converged = true;
            let _ = events.send(Event::Converged(now));
        }
        if !seen.steady && held.has(plan.steady_block()) {
            seen.steady = true;
            let _ = events.send(Event::SteadyBlock(now));
        }
    }
}

/// A stand-in reflector inside the harness, to measure the harness alone:
/// it answers every node's OPEN, waits for every node's UPDATEs, then
/// sends all of them to every node in one write. What it costs is counted
/// against the harness too.
pub async fn echo_reflector(listener: tokio::net::TcpListener, plan: Arc<Plan>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Vec<u8>, tokio::net::tcp::OwnedWriteHalf)>();
    let expect = plan.per_node;
    tokio::spawn(async move {
        while let Ok((c, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (mut r, mut w) = c.into_split();
                let SocketAddr::V4(peer) = r.peer_addr().expect("peer") else {
                    return;
                };
                let o = peer.ip().octets();
                let i = o[2] as usize * 250 + o[3] as usize - 1;
                if w.write_all(&open(*peer.ip())).await.is_err() || w.write_all(&keepalive()).await.is_err() {
                    return;
                }
                let mut buf = BytesMut::new();
                let mut got = Vec::new();
                let mut routes = 0;
                while routes < expect {
                    if !matches!(r.read_buf(&mut buf).await, Ok(n) if n > 0) {
                        return;
                    }
                    while buf.len() >= 19 {
                        let len = u16::from_be_bytes([buf[16], buf[17]]) as usize;
                        if buf.len() < len {
                            break;
                        }
                        let m = buf.split_to(len);
                        if m[18] == 2 {
                            let _ = prefixes(&m[m.len() - nlri_len(&m)..], |_, _| routes += 1);
                            got.extend_from_slice(&m);
                        }
                    }
                }
                let _ = tx.send((i, got, w));
                // Keep reading so the node's keepalives never back up.
                while matches!(r.read_buf(&mut buf).await, Ok(n) if n > 0) {
                    buf.clear();
                }
            });
        }
    });
    let mut all = Vec::new();
    let mut writers = Vec::new();
    while writers.len() < plan.nodes {
        let Some((_, got, w)) = rx.recv().await else { return };
        all.extend_from_slice(&got);
        writers.push(w);
    }
    for w in &mut writers {
        let _ = w.write_all(&all).await;
    }
    std::future::pending::<()>().await;
}

/// The NLRI length of an UPDATE message (whole message, header included).
fn nlri_len(m: &[u8]) -> usize {
    let mut b = &m[19..];
    let wl = b.get_u16() as usize;
    b.advance(wl);
    let al = b.get_u16() as usize;
    b.len() - al
}
