//! Decode and encode throughput on two mixes:
//! - packed: 4096-byte UPDATEs of ~1100 IPv4 prefixes (/16–/24) sharing one
//!   attribute set (what a full-table sender emits when attributes repeat),
//!   and packed-24, the same with every prefix a /24;
//! - internet: an internet-table-like mix of UPDATEs with varied AS paths,
//!   communities, 1–5 prefixes each, 10 % IPv6 through MP_REACH_NLRI.
//!
//! "decode" frames and decodes every message: every field and every prefix
//! is validated, NLRI stay zero-copy views. "decode + walk" also
//! materialises every prefix as a typed `Prefix`, as a RIB would.
//! After criterion's own figures a summary prints MB/s and prefixes/s.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use bgp_wire::attributes::{AsPath, AsSegment, Community, LargeCommunity, MpReach, NextHop, Origin, SegmentType};
use bgp_wire::{split_message, Asn, Family, Message, Nlri, Prefix, SessionCtx, Update};
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, Criterion, Throughput};

/// xorshift64*: deterministic, fast, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Mix {
    name: &'static str,
    messages: Vec<Message>,
    stream: Bytes,
    prefixes: usize,
}

fn base_attrs(rng: &mut Rng) -> bgp_wire::PathAttributes {
    let len = 2 + rng.below(7) as usize;
    let mut asns: Vec<Asn> = (0..len)
        .map(|_| {
            Asn(if rng.below(10) == 0 {
                4_200_000_000 + rng.below(1000) as u32
            } else {
                1 + rng.below(64000) as u32
            })
        })
        .collect();
    asns[0] = Asn(64512);
    let mut segments = vec![AsSegment {
        kind: SegmentType::Sequence,
        asns: asns.into(),
    }];
    if rng.below(50) == 0 {
        segments.push(AsSegment {
            kind: SegmentType::Set,
            asns: [Asn(65001), Asn(65002)].into(),
        });
    }
    let mut a = bgp_wire::PathAttributes {
        origin: Some(if rng.below(5) == 0 {
            Origin::Incomplete
        } else {
            Origin::Igp
        }),
        as_path: Some(AsPath {
            segments: segments.into(),
        }),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1 + rng.below(200) as u8)),
        ..Default::default()
    };
    if rng.below(3) == 0 {
        a.med = Some(rng.below(1000) as u32);
    }
    let n = rng.below(7) as usize;
    if n > 0 {
        a.communities = Some(
            (0..n)
                .map(|_| Community(((64512 + rng.below(100)) << 16 | rng.below(1000)) as u32))
                .collect(),
        );
    }
    if rng.below(8) == 0 {
        a.large_communities = Some(vec![LargeCommunity {
            global: 64512,
            local1: rng.below(100) as u32,
            local2: 1,
        }]);
    }
    a
}

fn v4(rng: &mut Rng, len: u8) -> Prefix {
    Prefix::v4(Ipv4Addr::from((rng.next() as u32) | 0x0100_0000), len).unwrap()
}

fn frame_all(messages: &[Message], ctx: &SessionCtx) -> Bytes {
    let mut b = BytesMut::new();
    for m in messages {
        m.encode(&mut b, ctx).expect("fits");
    }
    b.freeze()
}

/// Full 4096-byte UPDATEs of IPv4 prefixes sharing one attribute set:
/// `uniform` all /24 (like a node's equal-sized pod blocks), otherwise
/// lengths /16–/24 mixed as in a real table.
fn packed(ctx: &SessionCtx, uniform: bool) -> Mix {
    let mut rng = Rng(0x1234_5678);
    let attrs = base_attrs(&mut rng);
    let mut messages = Vec::new();
    let mut prefixes = 0;
    let overhead = Message::Update(Box::new(Update {
        attributes: attrs.clone(),
        ..Update::default()
    }))
    .to_bytes(ctx)
    .expect("fits")
    .len();
    for _ in 0..1000 {
        let mut ps = Vec::new();
        let mut room = 4096 - overhead;
        loop {
            let len = if uniform { 24 } else { 16 + rng.below(9) as u8 };
            let size = 1 + usize::from(len).div_ceil(8);
            if size > room {
                break;
            }
            room -= size;
            ps.push(v4(&mut rng, len));
        }
        prefixes += ps.len();
        messages.push(Message::Update(Box::new(Update {
            attributes: attrs.clone(),
            nlri: Nlri::from_prefixes(Family::IPV4_UNICAST, &ps),
            ..Update::default()
        })));
    }
    let stream = frame_all(&messages, ctx);
    Mix {
        name: if uniform { "packed-24" } else { "packed" },
        messages,
        stream,
        prefixes,
    }
}

fn internet(ctx: &SessionCtx) -> Mix {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut messages = Vec::new();
    let mut prefixes = 0;
    for _ in 0..100_000 {
        let mut attrs = base_attrs(&mut rng);
        let n = 1 + rng.below(5) as usize;
        prefixes += n;
        let u = if rng.below(10) == 0 {
            let ps: Vec<Prefix> = (0..n)
                .map(|_| {
                    let a = 0x2000_0000_0000_0000_0000_0000_0000_0000u128 | (u128::from(rng.next()) << 64);
                    Prefix::v6(Ipv6Addr::from(a), 32 + rng.below(17) as u8).unwrap()
                })
                .collect();
            attrs.next_hop = None;
            attrs.mp_reach = Some(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: NextHop::V6 {
                    global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
                    link_local: None,
                },
                nlri: Nlri::from_prefixes(Family::IPV6_UNICAST, &ps),
            });
            Update {
                attributes: attrs,
                ..Update::default()
            }
        } else {
            let ps: Vec<Prefix> = (0..n)
                .map(|_| {
                    let len = 16 + rng.below(9) as u8;
                    v4(&mut rng, len)
                })
                .collect();
            Update {
                attributes: attrs,
                nlri: Nlri::from_prefixes(Family::IPV4_UNICAST, &ps),
                ..Update::default()
            }
        };
        messages.push(Message::Update(Box::new(u)));
    }
    let stream = frame_all(&messages, ctx);
    Mix {
        name: "internet",
        messages,
        stream,
        prefixes,
    }
}

/// Every prefix of an UPDATE, materialised as a typed `Prefix` and folded
/// into a checksum (a `black_box` per prefix would measure stack stores).
fn walk(u: &Update) -> usize {
    let mut k = 0u64;
    for (_, e) in u.announced() {
        let a = match e.prefix.addr() {
            std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
            std::net::IpAddr::V6(a) => u128::from(a) as u64,
        };
        k = k.wrapping_add(a ^ u64::from(e.prefix.prefix_len()));
    }
    black_box(k) as usize
}

/// Only what decoding already knows, without walking the prefixes.
fn count(u: &Update) -> usize {
    black_box(u.nlri.len())
}

/// Copies the stream into a receive buffer and splits messages off it,
/// as a socket reader does.
fn decode_split(stream: &Bytes, ctx: &SessionCtx, per_update: impl Fn(&Update) -> usize) -> usize {
    let mut buf = BytesMut::from(&stream[..]);
    let mut n = 0;
    while let Some(f) = split_message(&mut buf, ctx).expect("framing") {
        if let Ok(Message::Update(u)) = Message::decode(&f, ctx) {
            n += per_update(&u);
        }
    }
    n
}

/// Slices frames from one `Bytes` holding the whole stream (zero-copy).
fn decode_slices(stream: &Bytes, ctx: &SessionCtx, per_update: impl Fn(&Update) -> usize) -> usize {
    let mut off = 0;
    let mut n = 0;
    while off < stream.len() {
        let h = bgp_wire::parse_header(&stream[off..], ctx)
            .expect("header")
            .expect("complete");
        let f = stream.slice(off..off + usize::from(h.length));
        off += usize::from(h.length);
        if let Ok(Message::Update(u)) = Message::decode(&f, ctx) {
            n += per_update(&u);
        }
    }
    n
}

fn encode_all(messages: &[Message], ctx: &SessionCtx, out: &mut BytesMut) -> usize {
    out.clear();
    for m in messages {
        m.encode(out, ctx).expect("fits");
    }
    out.len()
}

fn mixes() -> (SessionCtx, Vec<Mix>) {
    let ctx = SessionCtx::default();
    let m = vec![packed(&ctx, false), packed(&ctx, true), internet(&ctx)];
    (ctx, m)
}

fn bench(c: &mut Criterion) {
    let (ctx, mixes) = mixes();
    for mix in &mixes {
        let mut g = c.benchmark_group(mix.name);
        g.throughput(Throughput::Bytes(mix.stream.len() as u64));
        g.sample_size(20);
        g.bench_function("decode", |b| b.iter(|| decode_slices(&mix.stream, &ctx, count)));
        g.bench_function("decode+walk", |b| b.iter(|| decode_slices(&mix.stream, &ctx, walk)));
        let mut out = BytesMut::with_capacity(mix.stream.len());
        g.bench_function("encode", |b| b.iter(|| encode_all(&mix.messages, &ctx, &mut out)));
        g.finish();
    }
}

/// Times `f` over whole passes for at least `min`; returns seconds per pass.
fn time(min: Duration, mut f: impl FnMut() -> usize) -> f64 {
    black_box(f());
    let start = Instant::now();
    let mut passes = 0u32;
    while start.elapsed() < min {
        black_box(f());
        passes += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(passes)
}

fn summary() {
    let (ctx, mixes) = mixes();
    println!();
    println!("bgp-wire codec summary (one core)");
    println!(
        "{:<9} {:>9} {:>9} {:<22} {:>10} {:>14}",
        "mix", "messages", "prefixes", "operation", "MB/s", "prefixes/s"
    );
    for mix in &mixes {
        let mb = mix.stream.len() as f64 / 1e6;
        let mut out = BytesMut::with_capacity(mix.stream.len());
        let rows = [
            (
                "decode",
                time(Duration::from_secs(2), || decode_slices(&mix.stream, &ctx, count)),
            ),
            (
                "decode + walk",
                time(Duration::from_secs(2), || decode_slices(&mix.stream, &ctx, walk)),
            ),
            (
                "split + decode + walk",
                time(Duration::from_secs(2), || decode_split(&mix.stream, &ctx, walk)),
            ),
            (
                "encode",
                time(Duration::from_secs(2), || encode_all(&mix.messages, &ctx, &mut out)),
            ),
        ];
        for (op, secs) in rows {
            println!(
                "{:<9} {:>9} {:>9} {:<22} {:>10.0} {:>14.0}",
                mix.name,
                mix.messages.len(),
                mix.prefixes,
                op,
                mb / secs,
                mix.prefixes as f64 / secs
            );
        }
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Profiling runs (`--profile-time`) want the benchmark alone.
    if !std::env::args().any(|a| a == "--profile-time") {
        summary();
    }
}
