//! A minimal BGP speaker on blocking sockets, built on `bgp-wire`, for the
//! benchmark: a route generator that loads a device under test, and an
//! observer that counts what the device passes on.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_wire::attributes::{AsPath, Community, LargeCommunity, Origin};
use bgp_wire::{split_message, Asn, Capability, Family, Message, NlriEntry, Open, Prefix, RouterId, SessionCtx};
use bytes::BytesMut;
use rib::{Interner, RouteAttrs};

/// An Established session.
pub struct Session {
    pub stream: TcpStream,
    pub ctx: SessionCtx,
    buf: BytesMut,
}

/// The OPEN every test speaker sends: hold time 240, IPv4 unicast, route
/// refresh, 4-octet AS.
pub fn open(asn: u32, id: Ipv4Addr) -> Open {
    Open::new(
        Asn(asn),
        240,
        RouterId(id),
        vec![
            Capability::Multiprotocol {
                family: Family::IPV4_UNICAST,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs { asn: Asn(asn) },
        ],
    )
}

impl Session {
    /// A TCP connection from `local` to `peer`, no BGP spoken yet (retried
    /// for up to a minute while the peer refuses).
    pub fn raw(local: Ipv4Addr, peer: SocketAddr) -> std::io::Result<Session> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            let sock = socket2_connect(local, peer);
            match sock {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        stream.set_nodelay(true)?;
        Ok(Session {
            stream,
            ctx: SessionCtx::default(),
            buf: BytesMut::with_capacity(1 << 20),
        })
    }

    /// Writes bytes as they are, well formed or not.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next message within `limit`; `Ok(None)` when none came.
    pub fn recv_within(&mut self, limit: Duration) -> std::io::Result<Option<Message>> {
        self.stream.set_read_timeout(Some(limit))?;
        let r = self.recv();
        self.stream.set_read_timeout(None)?;
        match r {
            Ok(m) => Ok(Some(m)),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Connects from `local` to `peer` and brings the session up.
    pub fn connect(local: Ipv4Addr, peer: SocketAddr, asn: u32) -> std::io::Result<Session> {
        let mut s = Session::raw(local, peer)?;
        let ours = open(asn, local);
        s.send(&Message::Open(ours))?;
        loop {
            match s.recv()? {
                Message::Open(_) => s.send(&Message::Keepalive)?,
                Message::Keepalive => break,
                Message::Notification(n) => {
                    return Err(std::io::Error::other(format!("NOTIFICATION {}", n.description())))
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Reads and discards whatever the peer sends, on a thread of its
    /// own, until the socket is shut down: a generator must not let the
    /// device's UPDATEs back up.
    pub fn drain(&self) -> std::io::Result<std::thread::JoinHandle<()>> {
        let mut r = self.stream.try_clone()?;
        Ok(std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
        }))
    }

    /// Sends a KEEPALIVE every 20 s on a thread of its own, until the
    /// socket is shut down: a session that only reads stays up.
    pub fn keepalives(&self) -> std::io::Result<std::thread::JoinHandle<()>> {
        let mut w = self.stream.try_clone()?;
        let ka = Message::Keepalive.to_bytes(&self.ctx).map_err(std::io::Error::other)?;
        Ok(std::thread::spawn(move || {
            let mut last = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_secs(20) {
                    if w.write_all(&ka).is_err() {
                        return;
                    }
                    last = Instant::now();
                }
                // A shut-down socket has no peer address any more.
                if w.peer_addr().is_err() {
                    return;
                }
            }
        }))
    }

    pub fn send(&mut self, m: &Message) -> std::io::Result<()> {
        let b = m.to_bytes(&self.ctx).map_err(std::io::Error::other)?;
        self.stream.write_all(&b)
    }

    /// The next message (blocking).
    pub fn recv(&mut self) -> std::io::Result<Message> {
        loop {
            if let Some(f) =
                split_message(&mut self.buf, &self.ctx).map_err(|e| std::io::Error::other(format!("{e:?}")))?
            {
                return Message::decode(&f, &self.ctx).map_err(std::io::Error::other);
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "peer closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// `connect(2)` from a given source address (std cannot bind first).
fn socket2_connect(local: Ipv4Addr, peer: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket/bind/connect on a fresh descriptor owned below.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes(local.octets());
        if libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let SocketAddr::V4(p) = peer else {
            return Err(std::io::Error::other("IPv4 only"));
        };
        sa.sin_addr.s_addr = u32::from_ne_bytes(p.ip().octets());
        sa.sin_port = p.port().to_be();
        if libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Deterministic routes with internet-like diversity: `n` distinct /24s,
/// a few thousand distinct attribute sets (AS paths of 2–7 ASNs,
/// 0–4 communities, some MEDs), next hop `nh`, first AS `first_as`.
pub fn generate(n: usize, nh: Ipv4Addr, first_as: u32) -> Vec<(NlriEntry, Arc<RouteAttrs>)> {
    generate_range(0, n, nh, &[first_as], None)
}

/// As [`generate`], for the `n` prefixes from the `start`-th on, with AS
/// paths that begin with `head` (a peer's AS, prepended as often as it
/// should lose by). The same `start` gives the same prefixes and the same
/// attribute sets apart from the head, so several generators can offer
/// one table along different paths.
/// `local_pref` goes on every route (iBGP peers need one: FRR treats an
/// iBGP UPDATE without it as a withdrawal).
pub fn generate_range(
    start: usize,
    n: usize,
    nh: Ipv4Addr,
    head: &[u32],
    local_pref: Option<u32>,
) -> Vec<(NlriEntry, Arc<RouteAttrs>)> {
    let mut interner = Interner::default();
    let mut rnd = xorshift(0x9e37_79b9_7f4a_7c15);
    let sets: Vec<Arc<RouteAttrs>> = (0..4000)
        .map(|_| {
            let len = 1 + (rnd() % 6) as usize;
            let mut asns: Vec<Asn> = head.iter().map(|a| Asn(*a)).collect();
            asns.extend((0..len).map(|_| Asn(1 + (rnd() % 64000) as u32)));
            let communities = (0..rnd() % 5)
                .map(|_| Community((65000 << 16) | (rnd() % 1000) as u32))
                .collect();
            interner.intern(RouteAttrs {
                origin: Some(origin(rnd())),
                as_path: AsPath::sequence(asns),
                next_hop: Some(std::net::IpAddr::V4(nh)),
                med: rnd().is_multiple_of(3).then(|| (rnd() % 100) as u32),
                local_pref,
                communities,
                ..RouteAttrs::default()
            })
        })
        .collect();
    (start..start + n)
        .map(|i| {
            // Runs of 1–4 prefixes share an attribute set, as in a real table.
            (NlriEntry::new(nth_prefix(i)), sets[(i / 3) % sets.len()].clone())
        })
        .collect()
}

/// A deterministic pseudo-random sequence (xorshift64) from `seed`.
fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// ORIGIN for a generated set: a fifth INCOMPLETE, the rest IGP.
fn origin(r: u64) -> Origin {
    if r.is_multiple_of(5) {
        Origin::Incomplete
    } else {
        Origin::Igp
    }
}

/// Routes as diverse as a real full table (issue 12): `n` distinct /24s
/// (from the same range as [`generate`]) and one distinct attribute set
/// per 5 prefixes (a full table has about 216k per 1M). Each set has an
/// AS path of 1–8 ASNs after `head`, a third of them 4-octet ones; 60 %
/// carry 1–6 communities, 10 % 1–2 large communities, 30 % a MED.
pub fn generate_diverse(n: usize, nh: Ipv4Addr, head: &[u32]) -> Vec<(NlriEntry, Arc<RouteAttrs>)> {
    let mut rnd = xorshift(0x2545_f491_4f6c_dd1d);
    let mut interner = Interner::default();
    let mut set = |i: usize| {
        let len = (rnd() % 8) as usize;
        let mut asns: Vec<Asn> = head.iter().map(|a| Asn(*a)).collect();
        asns.extend((0..len).map(|_| match rnd() % 3 {
            0 => Asn(131_072 + (rnd() % 270_000) as u32),
            _ => Asn(1 + (rnd() % 64_000) as u32),
        }));
        // The set's number as its last AS: no two sets are alike.
        asns.push(Asn(4_200_000_000 + i as u32));
        let communities = match rnd() % 10 < 6 {
            true => (0..1 + rnd() % 6)
                .map(|_| Community(((1 + rnd() % 65_000) as u32) << 16 | (rnd() % 1000) as u32))
                .collect(),
            false => Default::default(),
        };
        let mut a = RouteAttrs {
            origin: Some(origin(rnd())),
            as_path: AsPath::sequence(asns),
            next_hop: Some(std::net::IpAddr::V4(nh)),
            med: (rnd() % 10 < 3).then(|| (rnd() % 1000) as u32),
            communities,
            ..RouteAttrs::default()
        };
        if rnd().is_multiple_of(10) {
            a.rare.large_communities = (0..1 + rnd() % 2)
                .map(|_| LargeCommunity {
                    global: 200_000 + (rnd() % 1000) as u32,
                    local1: (rnd() % 100) as u32,
                    local2: (rnd() % 100) as u32,
                })
                .collect();
        }
        interner.intern(a)
    };
    let mut current = None;
    (0..n)
        .map(|i| {
            if i % 5 == 0 {
                current = Some(set(i / 5));
            }
            let attrs = current.clone().expect("set");
            (NlriEntry::new(nth_prefix(i)), attrs)
        })
        .collect()
}

/// The `i`-th generated /24: 1.0.0.0/24 upwards, stepping over 10/8 where
/// the test networks live (a device's own connected route there would win
/// over the generated one).
fn nth_prefix(i: usize) -> Prefix {
    let mut a = 0x0100_0000u32 + ((i as u32) << 8);
    if a >= 0x0a00_0000 {
        a += 0x0100_0000;
    }
    Prefix::v4(Ipv4Addr::from(a), 24).expect("prefix")
}

/// `routes` as IPv4 UPDATEs, packed into as few as fit.
pub fn encode_routes(routes: &[(NlriEntry, Arc<RouteAttrs>)], ctx: &SessionCtx) -> std::io::Result<BytesMut> {
    let mut out = BytesMut::with_capacity(routes.len() * 8);
    for u in rib::updates::pack(Family::IPV4_UNICAST, routes, &[], ctx) {
        Message::Update(Box::new(u))
            .encode(&mut out, ctx)
            .map_err(std::io::Error::other)?;
    }
    Ok(out)
}

/// Sends `routes` packed, then End-of-RIB.
pub fn send_routes(s: &mut Session, routes: &[(NlriEntry, Arc<RouteAttrs>)]) -> std::io::Result<usize> {
    let mut out = encode_routes(routes, &s.ctx)?;
    Message::Update(Box::new(bgp_wire::Update::end_of_rib(Family::IPV4_UNICAST)))
        .encode(&mut out, &s.ctx)
        .map_err(std::io::Error::other)?;
    s.stream.write_all(&out)?;
    Ok(out.len())
}

/// Reads until `want` distinct prefixes are held (announced minus withdrawn);
/// answers keepalives.
pub fn observe(s: &mut Session, want: usize, limit: Duration) -> std::io::Result<Duration> {
    let start = Instant::now();
    observe_until(s, want, limit, |_| true).map(|o| o.done - start)
}

/// What an observer saw until it held every route it waited for.
#[derive(Clone, Copy, Debug)]
pub struct Observed {
    /// When the last wanted route arrived.
    pub done: Instant,
    /// Prefixes announced to it, counting every repeat.
    pub announced: usize,
    /// Prefixes withdrawn from it.
    pub withdrawn: usize,
}

/// Reads until `want` distinct prefixes are held whose latest attributes
/// pass `accept` (a route that fails it counts as not held); returns when
/// that happened, with how many announcements it took. Sends keepalives
/// meanwhile.
pub fn observe_until(
    s: &mut Session,
    want: usize,
    limit: Duration,
    accept: impl Fn(&RouteAttrs) -> bool,
) -> std::io::Result<Observed> {
    let (mut announced, mut withdrawn) = (0, 0);
    let start = Instant::now();
    let mut held: HashSet<Prefix> = HashSet::with_capacity(want);
    s.stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut last_ka = Instant::now();
    while held.len() < want {
        if start.elapsed() > limit {
            return Err(std::io::Error::other(format!(
                "only {} of {want} routes after {limit:?}",
                held.len()
            )));
        }
        if last_ka.elapsed() > Duration::from_secs(20) {
            s.send(&Message::Keepalive)?;
            last_ka = Instant::now();
        }
        match s.recv() {
            Ok(Message::Update(u)) => {
                let r = rib::updates::received(&u);
                announced += r.announced.len();
                withdrawn += r.withdrawn.len();
                for (_, e) in &r.withdrawn {
                    held.remove(&e.prefix);
                }
                let ok = r.attrs_v4.as_ref().or(r.attrs_mp.as_ref()).is_some_and(&accept);
                for (_, e) in &r.announced {
                    if ok {
                        held.insert(e.prefix);
                    } else {
                        held.remove(&e.prefix);
                    }
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Observed {
        done: Instant::now(),
        announced,
        withdrawn,
    })
}

/// What a receiving session holds: each prefix with a hash of its
/// attributes, and how many announcements and withdrawals it took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub routes: std::collections::HashMap<Prefix, u64>,
    /// How many routes hold each attribute hash: cheap to compare.
    pub by_hash: std::collections::HashMap<u64, usize>,
    pub announced: usize,
    pub withdrawn: usize,
}

impl Held {
    /// Applies one received UPDATE.
    pub fn apply(&mut self, u: &bgp_wire::Update) {
        use std::hash::{Hash, Hasher};
        let r = rib::updates::received(u);
        for (_, e) in &r.withdrawn {
            self.withdrawn += 1;
            if let Some(old) = self.routes.remove(&e.prefix) {
                self.uncount(old);
            }
        }
        if let Some(a) = r.attrs_v4.as_ref().or(r.attrs_mp.as_ref()) {
            // A fixed hasher: two sessions' tables compare equal.
            let mut h = std::collections::hash_map::DefaultHasher::new();
            a.hash(&mut h);
            let h = h.finish();
            for (_, e) in &r.announced {
                self.announced += 1;
                if let Some(old) = self.routes.insert(e.prefix, h) {
                    self.uncount(old);
                }
                *self.by_hash.entry(h).or_default() += 1;
            }
        }
    }

    fn uncount(&mut self, h: u64) {
        if let Some(n) = self.by_hash.get_mut(&h) {
            *n -= 1;
            if *n == 0 {
                self.by_hash.remove(&h);
            }
        }
    }

    /// The same routes with the same attributes as `other`.
    pub fn same_table(&self, other: &Held) -> bool {
        self.routes.len() == other.routes.len() && self.by_hash == other.by_hash && self.routes == other.routes
    }
}

/// Reads UPDATEs into `held` until `done` says so (then `Ok(true)`), or
/// until nothing arrives for `idle` (`Ok(false)`), or `limit` passes (an
/// error). `done` is asked every 50 ms and whenever input pauses, so it
/// may look at the whole table. Sends keepalives meanwhile.
pub fn receive_until(
    s: &mut Session,
    held: &mut Held,
    idle: Duration,
    limit: Duration,
    done: impl Fn(&Held) -> bool,
) -> std::io::Result<bool> {
    let start = Instant::now();
    let mut last = Instant::now();
    let mut last_ka = Instant::now();
    let mut asked = Instant::now() - Duration::from_secs(1);
    let mut paused = true;
    s.stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    loop {
        if (paused || asked.elapsed() >= Duration::from_millis(50)) && done(held) {
            return Ok(true);
        }
        if paused || asked.elapsed() >= Duration::from_millis(50) {
            asked = Instant::now();
        }
        paused = false;
        if last.elapsed() > idle {
            return Ok(false);
        }
        if start.elapsed() > limit {
            return Err(std::io::Error::other(format!(
                "{} routes after {limit:?}",
                held.routes.len()
            )));
        }
        if last_ka.elapsed() > Duration::from_secs(20) {
            s.send(&Message::Keepalive)?;
            last_ka = Instant::now();
        }
        match s.recv() {
            Ok(Message::Update(u)) => {
                held.apply(&u);
                last = Instant::now();
            }
            Ok(_) => last = Instant::now(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                paused = true
            }
            Err(e) => return Err(e),
        }
    }
}

/// Withdraws `prefixes` (IPv4 unicast).
pub fn send_withdrawals(s: &mut Session, prefixes: &[Prefix]) -> std::io::Result<()> {
    let entries: Vec<NlriEntry> = prefixes.iter().map(|p| NlriEntry::new(*p)).collect();
    let ups = rib::updates::pack(Family::IPV4_UNICAST, &[], &entries, &s.ctx);
    let mut out = BytesMut::new();
    for u in ups {
        Message::Update(Box::new(u))
            .encode(&mut out, &s.ctx)
            .map_err(std::io::Error::other)?;
    }
    s.stream.write_all(&out)
}
