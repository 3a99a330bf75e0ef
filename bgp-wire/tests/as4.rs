//! RFC 6793 across a 2-octet session: AS4_PATH and AS4_AGGREGATOR are
//! added where AS_TRANS stands in for a 4-octet ASN (§4.2.2), and the real
//! path is read back from the pair (§4.2.3).

use std::net::Ipv4Addr;

use bgp_wire::attributes::{Aggregator, AsPath, AsSegment, PathAttributes, SegmentType};
use bgp_wire::{Asn, SessionCtx};
use bytes::{Bytes, BytesMut};

fn seg(kind: SegmentType, asns: &[u32]) -> AsSegment {
    AsSegment {
        kind,
        asns: asns.iter().map(|&a| Asn(a)).collect(),
    }
}

fn path(segs: &[AsSegment]) -> AsPath {
    AsPath { segments: segs.into() }
}

fn seq(asns: &[u32]) -> AsSegment {
    seg(SegmentType::Sequence, asns)
}

fn old() -> SessionCtx {
    SessionCtx {
        four_octet_as: false,
        ..SessionCtx::default()
    }
}

/// Encodes `a` for `ctx` and decodes it back as the peer reads it.
fn through(a: &PathAttributes, ctx: &SessionCtx) -> PathAttributes {
    let mut buf = BytesMut::new();
    a.encode(&mut buf, ctx).unwrap();
    let (back, errors) = PathAttributes::decode(&Bytes::from(buf), ctx).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    back
}

#[test]
fn a_4_octet_path_to_an_old_speaker_carries_as4_path_and_reads_back_whole() {
    let a = PathAttributes {
        as_path: Some(path(&[seq(&[4_200_000_001, 65001])])),
        aggregator: Some(Aggregator {
            asn: Asn(4_200_000_002),
            address: Ipv4Addr::new(192, 0, 2, 1),
        }),
        ..PathAttributes::default()
    };
    let wire = through(&a, &old());
    assert_eq!(wire.as_path.as_ref().unwrap().to_string(), "23456 65001");
    assert_eq!(wire.as4_path.as_ref().unwrap().to_string(), "4200000001 65001");
    assert_eq!(wire.aggregator.unwrap().asn, Asn::TRANS);
    assert_eq!(wire.as4_aggregator.unwrap().asn, Asn(4_200_000_002));
    let (p, g) = wire.effective_as_path();
    assert_eq!(p.as_ref(), a.as_path.as_ref());
    assert_eq!(g, a.aggregator);

    // Between NEW speakers, and where every ASN fits, no AS4 attribute.
    let new = through(&a, &SessionCtx::default());
    assert_eq!((new.as4_path, new.as4_aggregator), (None, None));
    assert_eq!(new.as_path, a.as_path);
    let small = PathAttributes {
        as_path: Some(path(&[seq(&[65001, 65002])])),
        ..PathAttributes::default()
    };
    assert_eq!(through(&small, &old()).as4_path, None);
}

#[test]
fn old_speakers_own_asns_are_kept_before_as4_path() {
    // 65003 (OLD) received 4200000001's route and prepended itself.
    let p = path(&[seq(&[65003, 23456])]);
    let p4 = path(&[seq(&[4_200_000_001])]);
    assert_eq!(p.merge_as4(&p4).to_string(), "65003 4200000001");
    // An AS_SET counts one; sequences join.
    let p = path(&[seq(&[65003]), seg(SegmentType::Set, &[1, 2]), seq(&[23456, 23456])]);
    let p4 = path(&[seq(&[4_200_000_001, 4_200_000_002])]);
    assert_eq!(p.merge_as4(&p4).to_string(), "65003 {1 2} 4200000001 4200000002");
    // The same length: AS4_PATH is the path.
    let p = path(&[seq(&[23456, 65001])]);
    let p4 = path(&[seq(&[4_200_000_001, 65001])]);
    assert_eq!(p.merge_as4(&p4).to_string(), "4200000001 65001");
}

#[test]
fn a_longer_as4_path_is_ignored_and_its_confederation_segments_dropped() {
    let p = path(&[seq(&[65003])]);
    let p4 = path(&[seq(&[4_200_000_001, 4_200_000_002])]);
    assert_eq!(p.merge_as4(&p4).to_string(), "65003");
    // Confederation segments of AS_PATH that lead or adjoin are kept;
    // those of AS4_PATH are not (§6).
    let p = path(&[seg(SegmentType::ConfedSequence, &[65100]), seq(&[65003, 23456])]);
    let p4 = path(&[seg(SegmentType::ConfedSequence, &[65200]), seq(&[4_200_000_001])]);
    assert_eq!(p.merge_as4(&p4).to_string(), "(65100) 65003 4200000001");
}

#[test]
fn an_old_aggregator_after_the_new_ones_voids_both_as4_attributes() {
    let agg = |asn| {
        Some(Aggregator {
            asn: Asn(asn),
            address: Ipv4Addr::new(192, 0, 2, 9),
        })
    };
    let a = PathAttributes {
        as_path: Some(path(&[seq(&[65003, 23456])])),
        as4_path: Some(path(&[seq(&[4_200_000_001])])),
        aggregator: agg(65003),
        as4_aggregator: agg(4_200_000_001),
        ..PathAttributes::default()
    };
    let (p, g) = a.effective_as_path();
    assert_eq!(p.unwrap().to_string(), "65003 23456");
    assert_eq!(g, agg(65003));
    let a = PathAttributes {
        aggregator: agg(23456),
        ..a
    };
    let (p, g) = a.effective_as_path();
    assert_eq!(p.unwrap().to_string(), "65003 4200000001");
    assert_eq!(g, agg(4_200_000_001));
}
