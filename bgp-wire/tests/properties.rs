//! Properties: any message encodes and decodes back to itself under any
//! session context, and no input bytes make decoding panic.

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_wire::attributes::{
    Aggregator, AsPath, AsSegment, Community, ExtCommunity, LargeCommunity, MpReach, MpUnreach, NextHop, Origin,
    RawAttribute, SegmentType,
};
use bgp_wire::capability::{AddPathFamily, AddPathMode, ExtendedNextHop, GrFamily, GracefulRestart, LlgrFamily};
use bgp_wire::{
    split_message, Afi, Asn, Capability, ClusterId, Family, Message, Nlri, NlriEntry, Notification, Open, PathId,
    Prefix, RouteRefresh, RouterId, Safi, SessionCtx, Update,
};
use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn ctx() -> impl Strategy<Value = SessionCtx> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(four, ap4, ap6, ext)| {
        let mut add_path = Vec::new();
        if ap4 {
            add_path.push(Family::IPV4_UNICAST);
        }
        if ap6 {
            add_path.push(Family::IPV6_UNICAST);
        }
        SessionCtx {
            four_octet_as: four,
            add_path,
            extended_message: ext,
        }
    })
}

fn family() -> impl Strategy<Value = Family> + Clone {
    prop_oneof![
        Just(Family::IPV4_UNICAST),
        Just(Family::IPV6_UNICAST),
        (any::<u16>(), any::<u8>()).prop_map(|(a, s)| Family::new(Afi(a), Safi(s))),
    ]
}

fn prefix(v6: bool) -> BoxedStrategy<Prefix> {
    if v6 {
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| Prefix::v6(Ipv6Addr::from(a), l).unwrap())
            .boxed()
    } else {
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| Prefix::v4(Ipv4Addr::from(a), l).unwrap())
            .boxed()
    }
}

fn nlri(family: Family, add_path: bool, max: usize) -> impl Strategy<Value = Nlri> {
    vec((prefix(family == Family::IPV6_UNICAST), any::<u32>()), 0..max).prop_map(move |v| {
        let entries: Vec<NlriEntry> = v
            .into_iter()
            .map(|(prefix, id)| NlriEntry {
                path_id: add_path.then_some(PathId(id)),
                prefix,
            })
            .collect();
        Nlri::from_entries(family, add_path, &entries)
    })
}

fn capability() -> impl Strategy<Value = Capability> {
    let fam = family();
    prop_oneof![
        fam.clone().prop_map(|family| Capability::Multiprotocol { family }),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        Just(Capability::EnhancedRouteRefresh),
        any::<u32>().prop_map(|a| Capability::FourOctetAs { asn: Asn(a) }),
        vec((any::<u16>(), any::<u16>(), any::<u16>()), 1..3).prop_map(|v| Capability::ExtendedNextHop {
            entries: v
                .into_iter()
                .map(|(a, s, n)| ExtendedNextHop {
                    nlri_afi: Afi(a),
                    nlri_safi: s,
                    next_hop_afi: Afi(n)
                })
                .collect()
        }),
        (0u8..16, 0u16..4096, vec((fam.clone(), any::<u8>()), 0..3)).prop_map(|(flags, restart_time, f)| {
            Capability::GracefulRestart(GracefulRestart {
                flags,
                restart_time,
                families: f
                    .into_iter()
                    .map(|(family, flags)| GrFamily { family, flags })
                    .collect(),
            })
        }),
        vec(
            (
                fam.clone(),
                prop_oneof![
                    Just(AddPathMode::Receive),
                    Just(AddPathMode::Send),
                    Just(AddPathMode::Both)
                ]
            ),
            1..3
        )
        .prop_map(|v| Capability::AddPath {
            families: v
                .into_iter()
                .map(|(family, mode)| AddPathFamily { family, mode })
                .collect()
        }),
        vec((fam, any::<u8>(), 0u32..0x100_0000), 0..2).prop_map(|v| Capability::LongLivedGracefulRestart {
            families: v
                .into_iter()
                .map(|(family, flags, stale_time)| LlgrFamily {
                    family,
                    flags,
                    stale_time
                })
                .collect()
        }),
        (vec(any::<u8>(), 0..10), vec(any::<u8>(), 0..10)).prop_map(|(h, d)| Capability::Fqdn {
            hostname: h.into(),
            domain: d.into()
        }),
        (prop_oneof![3u8..5, 7u8..64, 74u8..=255], vec(any::<u8>(), 0..16))
            .prop_map(|(code, v)| Capability::Unknown { code, value: v.into() }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        vec(vec(capability(), 0..4), 0..3),
        any::<bool>(),
    )
        .prop_map(|(my_as, hold_time, id, params, extended_params)| Open {
            my_as,
            hold_time,
            router_id: RouterId(Ipv4Addr::from(id)),
            params,
            extended_params,
        })
}

fn asn(four: bool) -> BoxedStrategy<Asn> {
    if four {
        (1u32..).prop_map(Asn).boxed()
    } else {
        (1u32..=65535).prop_map(Asn).boxed()
    }
}

fn as_path(four: bool) -> impl Strategy<Value = AsPath> {
    // No AS_SET or AS_CONFED_SET: RFC 9774 makes them treat-as-withdraw,
    // which reliability.rs checks; here messages must decode clean.
    let kind = prop_oneof![Just(SegmentType::Sequence), Just(SegmentType::ConfedSequence)];
    vec((kind, vec(asn(four), 1..8)), 0..4).prop_map(|s| AsPath {
        segments: s
            .into_iter()
            .map(|(kind, asns)| AsSegment {
                kind,
                asns: asns.into(),
            })
            .collect(),
    })
}

fn aggregator(four: bool) -> impl Strategy<Value = Aggregator> {
    (asn(four), any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    })
}

fn mp_reach(c: &SessionCtx) -> impl Strategy<Value = MpReach> {
    let (ap4, ap6) = (c.add_path(Family::IPV4_UNICAST), c.add_path(Family::IPV6_UNICAST));
    let v6nh = (any::<u128>(), option::of(any::<u128>())).prop_map(|(g, l)| NextHop::V6 {
        global: Ipv6Addr::from(g),
        link_local: l.map(Ipv6Addr::from),
    });
    prop_oneof![
        (
            prop_oneof![any::<u32>().prop_map(|a| NextHop::V4(Ipv4Addr::from(a))), v6nh.clone()],
            nlri(Family::IPV4_UNICAST, ap4, 20)
        )
            .prop_map(|(next_hop, nlri)| MpReach {
                family: Family::IPV4_UNICAST,
                next_hop,
                nlri
            }),
        (v6nh, nlri(Family::IPV6_UNICAST, ap6, 20)).prop_map(|(next_hop, nlri)| MpReach {
            family: Family::IPV6_UNICAST,
            next_hop,
            nlri
        }),
    ]
}

fn mp_unreach(c: &SessionCtx) -> impl Strategy<Value = MpUnreach> {
    let (ap4, ap6) = (c.add_path(Family::IPV4_UNICAST), c.add_path(Family::IPV6_UNICAST));
    prop_oneof![
        nlri(Family::IPV4_UNICAST, ap4, 20).prop_map(|withdrawn| MpUnreach {
            family: Family::IPV4_UNICAST,
            withdrawn
        }),
        nlri(Family::IPV6_UNICAST, ap6, 20).prop_map(|withdrawn| MpUnreach {
            family: Family::IPV6_UNICAST,
            withdrawn
        }),
    ]
}

/// Codes this codec does not interpret, for unknown attributes.
fn unknown_code() -> impl Strategy<Value = u8> {
    prop_oneof![11u8..14, 19u8..25, 27u8..32, 33u8..35, 36u8..=255]
}

fn update(c: SessionCtx) -> impl Strategy<Value = (SessionCtx, Update)> {
    let four = c.four_octet_as;
    let ap4 = c.add_path(Family::IPV4_UNICAST);
    let basics = (
        option::of(prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ]),
        option::of(as_path(four)),
        option::of(any::<u32>().prop_map(Ipv4Addr::from)),
        option::of(any::<u32>()),
        option::of(any::<u32>()),
        any::<bool>(),
        option::of(aggregator(four)),
    );
    let lists = (
        option::of(vec(any::<u32>().prop_map(Community), 1..6)),
        option::of(any::<u32>().prop_map(|a| RouterId(Ipv4Addr::from(a)))),
        option::of(vec(any::<u32>().prop_map(|a| ClusterId(Ipv4Addr::from(a))), 1..4)),
        option::of(vec(any::<[u8; 8]>().prop_map(ExtCommunity), 1..4)),
        option::of(vec(
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(global, local1, local2)| LargeCommunity {
                global,
                local1,
                local2,
            }),
            1..4,
        )),
    );
    let old = (option::of(as_path(true)), option::of(aggregator(true)));
    let mp = (option::of(mp_reach(&c)), option::of(mp_unreach(&c)));
    let unknown = proptest::collection::btree_map(unknown_code(), (0u8..8, vec(any::<u8>(), 0..300)), 0..3);
    let fields = (nlri(Family::IPV4_UNICAST, ap4, 30), nlri(Family::IPV4_UNICAST, ap4, 30));
    (basics, lists, old, mp, unknown, fields).prop_map(move |(b, l, old, mp, unknown, (withdrawn, nlri))| {
        let mut u = Update {
            withdrawn,
            nlri,
            ..Update::default()
        };
        let a = &mut u.attributes;
        (
            a.origin,
            a.as_path,
            a.next_hop,
            a.med,
            a.local_pref,
            a.atomic_aggregate,
            a.aggregator,
        ) = b;
        (
            a.communities,
            a.originator_id,
            a.cluster_list,
            a.ext_communities,
            a.large_communities,
        ) = l;
        if !four {
            (a.as4_path, a.as4_aggregator) = old;
        }
        (a.mp_reach, a.mp_unreach) = mp;
        a.unknown = unknown
            .into_iter()
            .map(|(type_code, (f, value))| RawAttribute {
                flags: 0x80 | (f << 5),
                type_code,
                value: value.into(),
            })
            .collect();
        // Routes need their mandatory attributes (RFC 7606 §3.d), or the
        // decoder rightly reports them missing.
        if u.announced().next().is_some() {
            let a = &mut u.attributes;
            a.origin.get_or_insert(Origin::Igp);
            a.as_path.get_or_insert_with(AsPath::default);
            if !u.nlri.is_empty() {
                u.attributes.next_hop.get_or_insert(Ipv4Addr::new(192, 0, 2, 1));
            }
        }
        (c.clone(), u)
    })
}

fn message() -> impl Strategy<Value = (SessionCtx, Message)> {
    ctx().prop_flat_map(|c| {
        prop_oneof![
            open().prop_map({
                let c = c.clone();
                move |o| (c.clone(), Message::Open(o))
            }),
            update(c.clone()).prop_map(|(c, u)| (c, Message::Update(Box::new(u)))),
            (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..64)).prop_map({
                let c = c.clone();
                move |(code, sub, d)| {
                    (
                        c.clone(),
                        Message::Notification(Notification {
                            code,
                            subcode: sub,
                            data: d.into(),
                        }),
                    )
                }
            }),
            Just((c.clone(), Message::Keepalive)),
            (family(), any::<u8>()).prop_map(move |(family, subtype)| {
                (c.clone(), Message::RouteRefresh(RouteRefresh { family, subtype }))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10000, ..ProptestConfig::default() })]

    /// encode → decode gives the message back, byte-framing included.
    #[test]
    fn encode_then_decode_round_trips((c, m) in message()) {
        let Ok(bytes) = m.to_bytes(&c) else {
            // Only size can refuse: a generated UPDATE beyond the session maximum.
            prop_assume!(false);
            unreachable!()
        };
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = split_message(&mut buf, &c).expect("header").expect("complete");
        prop_assert!(buf.is_empty());
        let back = Message::decode(&frame, &c).expect("decodes");
        prop_assert_eq!(&back, &m);
        // And the encoding is canonical: encoding again gives the same bytes.
        prop_assert_eq!(back.to_bytes(&c).unwrap(), bytes);
    }

    /// Arbitrary bytes never panic; a decoded message is stable under
    /// re-encoding (what we would send is what we understood).
    #[test]
    fn arbitrary_bytes_never_panic(c in ctx(), kind in 1u8..=5, body in vec(any::<u8>(), 0..600)) {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((body.len() + 19) as u16).to_be_bytes());
        m.push(kind);
        m.extend_from_slice(&body);
        let frame = Bytes::from(m);
        if let Ok(msg) = Message::decode(&frame, &c) {
            let clean = !matches!(&msg, Message::Update(u) if !u.errors.is_empty());
            if clean {
                if let Ok(again) = msg.to_bytes(&c) {
                    prop_assert_eq!(Message::decode(&again, &c).expect("re-encoded decodes"), msg);
                }
            }
        }
    }

    /// Raw streams, header included, never panic the framer or decoder.
    #[test]
    fn arbitrary_streams_never_panic(c in ctx(), bytes in vec(any::<u8>(), 0..200)) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(frame)) = split_message(&mut buf, &c) {
            let _ = Message::decode(&frame, &c);
        }
    }

    /// Valid UPDATE bodies with one byte changed never panic and never
    /// lose the framing of the rest.
    #[test]
    fn mutated_updates_never_panic((c, u) in ctx().prop_flat_map(update), at in any::<usize>(), val in any::<u8>()) {
        if let Ok(bytes) = Message::Update(Box::new(u)).to_bytes(&c) {
            let mut m = bytes.to_vec();
            let i = 19 + at % (m.len() - 19).max(1);
            if i < m.len() {
                m[i] = val;
            }
            let _ = Message::decode(&Bytes::from(m), &c);
        }
    }
}
