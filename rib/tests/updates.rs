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
