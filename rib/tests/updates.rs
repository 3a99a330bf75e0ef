//! Packing outgoing routes into UPDATEs and reading received ones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bgp_wire::attributes::{AsPath, Origin};
use bgp_wire::{Asn, Family, Message, NlriEntry, Prefix, SessionCtx};
use rib::updates::{pack, received};
use rib::{Interner, RouteAttrs};

fn attrs(i: &mut Interner, nh: IpAddr, path: u32) -> Arc<RouteAttrs> {
    i.intern(RouteAttrs {
        origin: Some(Origin::Igp),
        as_path: AsPath::sequence([Asn(path)]),
        next_hop: Some(nh),
        local_pref: Some(100),
        ..RouteAttrs::default()
    })
}

fn v4(n: u32, len: u8) -> Prefix {
    Prefix::v4(Ipv4Addr::from(0x0a00_0000 | (n << 8)), len).unwrap()
}

/// Encodes and decodes every UPDATE, checking each fits the session.
fn wire(updates: &[bgp_wire::Update], ctx: &SessionCtx) -> Vec<bgp_wire::Update> {
    updates
        .iter()
        .map(|u| {
            let b = Message::Update(Box::new(u.clone()))
                .to_bytes(ctx)
                .expect("fits the session");
            assert!(b.len() <= ctx.max_message_len());
            match Message::decode(&b, ctx).unwrap() {
                Message::Update(u) => *u,
                m => panic!("{m:?}"),
            }
        })
        .collect()
}

#[test]
fn same_attributes_share_updates_and_every_update_fits() {
    let mut i = Interner::default();
    let ctx = SessionCtx::default();
    let a = attrs(&mut i, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 65001);
    let b = attrs(&mut i, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 65002);
    let mut announce = Vec::new();
    for n in 0..3000 {
        announce.push((
            NlriEntry::new(v4(n, 24)),
            if n % 3 == 0 { b.clone() } else { a.clone() },
        ));
    }
    let ups = pack(Family::IPV4_UNICAST, &announce, &[], &ctx);
    // 2000 /24s with `a` (4 bytes each) need 2 full UPDATEs, 1000 with `b` one.
    assert_eq!(ups.len(), 3, "{}", ups.len());
    let back = wire(&ups, &ctx);
    let got: usize = back.iter().map(|u| u.nlri.len()).sum();
    assert_eq!(got, 3000);
    for u in &back {
        let r = received(u);
        assert!(r.attrs_v4.as_ref().unwrap().next_hop.is_some());
    }
}

#[test]
fn withdrawals_and_ipv6_use_the_right_fields() {
    let mut i = Interner::default();
    let ctx = SessionCtx::default();
    let nh6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let a = attrs(&mut i, nh6, 65001);
    let p6: Vec<Prefix> = (0..500u128)
        .map(|n| Prefix::v6(Ipv6Addr::from((0x2001_0db8u128 << 96) | (n << 64)), 64).unwrap())
        .collect();
    let announce: Vec<(NlriEntry, Arc<RouteAttrs>)> = p6.iter().map(|p| (NlriEntry::new(*p), a.clone())).collect();
    let withdraw: Vec<NlriEntry> = (0..2000).map(|n| NlriEntry::new(v4(n, 24))).collect();
    let ups = [
        pack(Family::IPV6_UNICAST, &announce, &[], &ctx),
        pack(Family::IPV4_UNICAST, &[], &withdraw, &ctx),
    ]
    .concat();
    let back = wire(&ups, &ctx);
    let six: Vec<Prefix> = back.iter().flat_map(|u| u.announced().map(|(_, e)| e.prefix)).collect();
    assert_eq!(six, p6);
    assert!(back
        .iter()
        .filter(|u| u.attributes.mp_reach.is_some())
        .all(|u| received(u).attrs_mp.unwrap().next_hop == Some(nh6)));
    let gone: usize = back.iter().map(|u| u.withdrawn.len()).sum();
    assert_eq!(gone, 2000);
    assert_eq!(
        back.iter().filter(|u| !u.withdrawn.is_empty()).count(),
        2,
        "2000 × 4 bytes: two messages"
    );
}

#[test]
fn add_path_identifiers_are_sent_when_negotiated() {
    let mut i = Interner::default();
    let ctx = SessionCtx {
        add_path: vec![Family::IPV4_UNICAST],
        ..SessionCtx::default()
    };
    let a = attrs(&mut i, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 65001);
    let ups = pack(Family::IPV4_UNICAST, &[(NlriEntry::new(v4(1, 24)), a)], &[], &ctx);
    let back = wire(&ups, &ctx);
    assert_eq!(back[0].nlri.iter().next().unwrap().path_id.map(|p| p.0), Some(0));
}

#[test]
fn treat_as_withdraw_turns_announcements_into_withdrawals() {
    let hex = "ffffffffffffffffffffffffffffffff 0034 02 0000 0015 4001020000 400206020100 00fde9 4003040a000001 180a0b0c 180a0b0d";
    let bytes: Vec<u8> = hex::decode(hex.replace(' ', "")).unwrap();
    let Message::Update(u) = Message::decode(&bytes.into(), &SessionCtx::default()).unwrap() else {
        panic!()
    };
    let r = received(&u);
    assert!(r.announced.is_empty());
    assert_eq!(r.withdrawn.len(), 2);
}

/// Splits written bytes into decoded UPDATEs, checking each fits the session.
fn split(bytes: &[u8], ctx: &SessionCtx) -> Vec<bgp_wire::Update> {
    let mut buf = bytes::BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(f) = bgp_wire::split_message(&mut buf, ctx).unwrap() {
        assert!(f.len() <= ctx.max_message_len());
        match Message::decode(&f, ctx).unwrap() {
            Message::Update(u) => out.push(*u),
            m => panic!("{m:?}"),
        }
    }
    assert!(buf.is_empty());
    out
}

#[test]
fn written_updates_say_what_packed_ones_say_in_as_few_messages() {
    let mut i = Interner::default();
    let nh4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let nh6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    for ctx in [
        SessionCtx::default(),
        SessionCtx {
            four_octet_as: false,
            add_path: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            extended_message: false,
        },
        SessionCtx {
            extended_message: true,
            ..SessionCtx::default()
        },
    ] {
        let (a, b) = (attrs(&mut i, nh4, 65001), attrs(&mut i, nh4, 4_200_000_000));
        let six = attrs(&mut i, nh6, 65003);
        let mut changes = Vec::new();
        for n in 0..3000u32 {
            let e = NlriEntry {
                prefix: v4(n, 16 + (n % 9) as u8),
                path_id: Some(bgp_wire::PathId(n % 3)),
            };
            changes.push(match n % 4 {
                0 => rib::Change::withdraw(e),
                1 => rib::Change::announce(e, b.clone()),
                _ => rib::Change::announce(e, a.clone()),
            });
        }
        for n in 0..700u128 {
            let p = Prefix::v6(Ipv6Addr::from((0x2001_0db8u128 << 96) | (n << 64)), 64).unwrap();
            let e = NlriEntry::new(p);
            changes.push(if n % 5 == 0 {
                rib::Change::withdraw(e)
            } else {
                rib::Change::announce(e, six.clone())
            });
        }
        let entry = |e: NlriEntry| {
            (
                e.prefix,
                ctx.add_path(e.prefix.family()).then(|| e.path_id.map_or(0, |p| p.0)),
            )
        };
        let mut want_in: Vec<_> = changes
            .iter()
            .filter(|c| c.attrs.is_some())
            .map(|c| entry(c.entry))
            .collect();
        let mut want_out: Vec<_> = changes
            .iter()
            .filter(|c| c.attrs.is_none())
            .map(|c| entry(c.entry))
            .collect();
        let mut packed = 0;
        for fc in rib::updates::by_family(changes.clone()) {
            packed += pack(fc.family.unwrap(), &fc.announce, &fc.withdraw, &ctx).len();
        }
        let mut buf = bytes::BytesMut::new();
        rib::updates::write_changes(&mut changes, &ctx, &mut buf).unwrap();
        let back = split(&buf, &ctx);
        assert!(back.len() <= packed, "{} messages, pack made {packed}", back.len());
        let (mut got_in, mut got_out) = (Vec::new(), Vec::new());
        for u in &back {
            let r = received(u);
            for (_, e) in &r.announced {
                let a = if e.prefix.family() == Family::IPV4_UNICAST {
                    r.attrs_v4.as_ref()
                } else {
                    r.attrs_mp.as_ref()
                };
                let a = a.expect("announcements carry attributes");
                assert!(a.next_hop.is_some() && !a.as_path.segments.is_empty());
                got_in.push(entry(*e));
            }
            got_out.extend(r.withdrawn.iter().map(|(_, e)| entry(*e)));
        }
        for v in [&mut want_in, &mut want_out, &mut got_in, &mut got_out] {
            v.sort();
        }
        assert_eq!((got_in, got_out), (want_in, want_out), "{ctx:?}");
    }
}

/// A reflected change is written as its set with ORIGINATOR_ID and our
/// cluster added: the same bytes as the whole reflected set would give,
/// one UPDATE per distinct reflection.
#[test]
fn reflected_changes_are_written_as_the_reflected_set() {
    use bgp_wire::{ClusterId, RouterId};
    let mut i = Interner::default();
    let nh = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let a = attrs(&mut i, nh, 65001);
    let r = |o: [u8; 4]| rib::Reflected {
        originator_id: RouterId(Ipv4Addr::from(o)),
        cluster: ClusterId(Ipv4Addr::new(244, 0, 0, 1)),
    };
    let ctx = SessionCtx::default();
    let from = |o| rib::Outgoing {
        attrs: a.clone(),
        reflected: Some(r(o)),
    };
    let mut changes: Vec<rib::Change> = (0..10u32)
        .map(|n| {
            rib::Change::send(
                NlriEntry::new(v4(n, 24)),
                from(if n < 6 { [1, 1, 1, 1] } else { [2, 2, 2, 2] }),
            )
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    rib::updates::write_changes(&mut changes, &ctx, &mut buf).unwrap();
    let back = split(&buf, &ctx);
    assert_eq!(back.len(), 2, "one UPDATE per originator");
    for u in &back {
        let got = received(u).attrs_v4.expect("announced");
        let o = if u.nlri.len() == 6 { [1, 1, 1, 1] } else { [2, 2, 2, 2] };
        let mut want = from(o).resolved();
        want.next_hop = got.next_hop;
        assert_eq!(got, want);
        assert_eq!(got.cluster_list.to_vec(), vec![ClusterId(Ipv4Addr::new(244, 0, 0, 1))]);
        assert_eq!(got.originator_id, Some(RouterId(Ipv4Addr::from(o))));
    }
}
