//! The codec cases of `shared/docs/reliability.md` §7 (IDs A*, B*, C*, E*)
//! and the RFC 7606 per-attribute rules of §2.2, one test each, asserting
//! the exact outcome: NOTIFICATION code/subcode/data, or the RFC 7606
//! action with the affected prefixes still decoded.

use bgp_wire::{
    split_message, Action, AttrErrorKind, Capability, DecodeError, Family, Message, NotifyError, Prefix, SessionCtx,
    Update,
};
use bytes::{Bytes, BytesMut};

const M: &str = "ffffffffffffffffffffffffffffffff";
/// Baseline attributes of the catalogue's B: ORIGIN IGP, AS_PATH 65001, NEXT_HOP 10.0.0.1.
const B_ATTRS: &str = "40010100 400206020100 00fde9 4003040a000001";
const B_NLRI: &str = "180a0b0c";

fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).expect("test hex")
}

fn ctx() -> SessionCtx {
    SessionCtx::default()
}

fn decode_with(bytes: &[u8], ctx: &SessionCtx) -> Result<Message, DecodeError> {
    Message::decode(&Bytes::copy_from_slice(bytes), ctx)
}

fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    decode_with(bytes, &ctx())
}

/// An UPDATE from its three fields, lengths filled in.
fn update(withdrawn: &str, attrs: &str, nlri: &str) -> Vec<u8> {
    let (w, a, n) = (h(withdrawn), h(attrs), h(nlri));
    let len = 19 + 2 + w.len() + 2 + a.len() + n.len();
    let mut m = h(M);
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&(w.len() as u16).to_be_bytes());
    m.extend_from_slice(&w);
    m.extend_from_slice(&(a.len() as u16).to_be_bytes());
    m.extend_from_slice(&a);
    m.extend_from_slice(&n);
    m
}

fn reset(r: Result<Message, DecodeError>) -> NotifyError {
    let e = r.expect_err("expected a session reset");
    assert_eq!(e.action(), Action::SessionReset);
    e.notification().expect("a NOTIFICATION is sent")
}

fn upd(r: Result<Message, DecodeError>) -> Update {
    match r {
        Ok(Message::Update(u)) => *u,
        other => panic!("expected an UPDATE, got {other:?}"),
    }
}

fn prefixes(u: &Update) -> Vec<String> {
    u.announced().map(|(_, e)| e.prefix.to_string()).collect()
}

// ---- A. Header / framing -------------------------------------------------

#[test]
fn a1_marker_not_all_ones_is_1_1() {
    let n = reset(decode(&h("ffffffffffffffffffffffffffffff00 0013 04")));
    assert_eq!((n.code, n.subcode, n.data), (1, 1, vec![]));
}

#[test]
fn a2_a3_length_below_19_is_1_2_with_the_length() {
    for (len, data) in [("0012", vec![0, 0x12]), ("0000", vec![0, 0])] {
        let n = reset(decode(&h(&format!("{M} {len} 04"))));
        assert_eq!((n.code, n.subcode, n.data), (1, 2, data));
    }
}

#[test]
fn a4_oversized_update_is_refused_from_the_header_alone() {
    // Only the 19 header bytes have arrived: the verdict must not wait for 4078 more.
    let mut buf = BytesMut::from(&h(&format!("{M} 1001 02"))[..]);
    let e = split_message(&mut buf, &ctx()).expect_err("too long");
    let n = DecodeError::Header(e).notification().unwrap();
    assert_eq!((n.code, n.subcode, n.data), (1, 2, vec![0x10, 0x01]));
}

/// An UPDATE of `n` /32 prefixes (A5, A6, E6).
fn many_host_routes(n: usize) -> Vec<u8> {
    let nlri: String = (0..n)
        .map(|i| format!("200a{:02x}{:02x}{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff))
        .collect();
    update("", B_ATTRS, &nlri)
}

#[test]
fn a5_extended_update_accepted_when_we_announced_it() {
    let m = many_host_routes(1200);
    assert!(m.len() > 4096);
    let c = SessionCtx {
        extended_message: true,
        ..ctx()
    };
    let u = upd(decode_with(&m, &c));
    assert_eq!(u.nlri.len(), 1200);
    assert_eq!(u.action(), None);
}

#[test]
fn a6_extended_update_refused_when_we_did_not_announce_it() {
    let m = many_host_routes(1200);
    let n = reset(decode(&m));
    assert_eq!((n.code, n.subcode), (1, 2));
    assert_eq!(n.data, (m.len() as u16).to_be_bytes().to_vec());
}

#[test]
fn a7_open_over_4096_is_1_2_even_with_extended_messages() {
    let c = SessionCtx {
        extended_message: true,
        ..ctx()
    };
    let mut buf = BytesMut::from(&h(&format!("{M} 1001 01"))[..]);
    assert_eq!(
        split_message(&mut buf, &c).unwrap_err(),
        bgp_wire::HeaderError::BadMessageLength(4097)
    );
}

#[test]
fn a8_keepalive_with_a_body_is_1_2() {
    let n = reset(decode(&h(&format!("{M} 0014 04 00"))));
    assert_eq!((n.code, n.subcode, n.data), (1, 2, vec![0, 0x14]));
}

#[test]
fn a9_unknown_message_type_is_1_3_with_the_type() {
    for t in ["07", "00", "ff"] {
        let n = reset(decode(&h(&format!("{M} 0013 {t}"))));
        assert_eq!((n.code, n.subcode, n.data), (1, 3, h(t)));
    }
}

#[test]
fn a10_route_refresh_of_wrong_length_is_7_1_with_the_message() {
    let m = h(&format!("{M} 0018 05 0001 01 01 00"));
    let n = reset(decode(&m));
    assert_eq!((n.code, n.subcode, n.data), (7, 1, m));
}

#[test]
fn a11_route_refresh_unknown_subtype_decodes_for_the_session_to_ignore() {
    match decode(&h(&format!("{M} 0017 05 0001 05 01"))).unwrap() {
        Message::RouteRefresh(r) => assert_eq!((r.family, r.subtype), (Family::IPV4_UNICAST, 5)),
        m => panic!("{m:?}"),
    }
}

#[test]
fn a12_a13_dribbled_and_coalesced_bytes_frame_exactly() {
    let b = update("", B_ATTRS, B_NLRI);
    // One byte at a time: nothing until the last byte.
    let mut buf = BytesMut::new();
    for (i, byte) in b.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        let got = split_message(&mut buf, &ctx()).unwrap();
        assert_eq!(got.is_some(), i == b.len() - 1);
    }
    // 500 KEEPALIVEs, B and an End-of-RIB in one read, all in order.
    let mut all = Vec::new();
    for _ in 0..500 {
        all.extend(h(&format!("{M} 0013 04")));
    }
    all.extend(&b);
    all.extend(h(&format!("{M} 0017 02 0000 0000")));
    let mut buf = BytesMut::from(&all[..]);
    let mut kinds = Vec::new();
    while let Some(f) = split_message(&mut buf, &ctx()).unwrap() {
        kinds.push(Message::decode(&f, &ctx()).unwrap());
    }
    assert_eq!(kinds.len(), 502);
    assert!(kinds[..500].iter().all(|m| *m == Message::Keepalive));
    assert!(matches!(&kinds[501], Message::Update(u) if u.end_of_rib_family() == Some(Family::IPV4_UNICAST)));
    assert!(buf.is_empty());
}

#[test]
fn a14_short_notification_is_not_answered() {
    let e = decode(&h(&format!("{M} 0014 03 06"))).unwrap_err();
    assert_eq!(e.action(), Action::SessionReset);
    assert_eq!(e.notification(), None);
}

#[test]
fn a15_unknown_notification_code_decodes() {
    match decode(&h(&format!("{M} 0017 03 63 63 dead"))).unwrap() {
        Message::Notification(n) => assert_eq!((n.code, n.subcode, &n.data[..]), (0x63, 0x63, &[0xde, 0xad][..])),
        m => panic!("{m:?}"),
    }
}

// ---- B. OPEN ---------------------------------------------------------------

const OPEN_BASE: &str = "01 04 fde9 005a 0a000002 10 02 06 01 04 0001 0001 02 06 41 04 0000fde9";

fn open(body: &str) -> Vec<u8> {
    let b = h(body);
    let mut m = h(M);
    m.extend_from_slice(&((b.len() + 18) as u16).to_be_bytes());
    m.extend(b);
    m
}

#[test]
fn b1_unsupported_version_is_2_1_with_our_version() {
    let n = reset(decode(&open("01 03 fde9 005a 0a000002 00")));
    assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));
}

#[test]
fn b_baseline_open_decodes_with_its_capabilities() {
    match decode(&open(OPEN_BASE)).unwrap() {
        Message::Open(o) => {
            assert_eq!(o.asn().0, 65001);
            assert_eq!(o.hold_time, 90);
            let caps: Vec<_> = o.capabilities().cloned().collect();
            assert_eq!(
                caps,
                vec![
                    Capability::Multiprotocol {
                        family: Family::IPV4_UNICAST
                    },
                    Capability::FourOctetAs {
                        asn: bgp_wire::Asn(65001)
                    }
                ]
            );
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn b3_hold_time_zero_decodes() {
    match decode(&open("01 04 fde9 0000 0a000002 00")).unwrap() {
        Message::Open(o) => assert_eq!(o.hold_time, 0),
        m => panic!("{m:?}"),
    }
}

#[test]
fn b7_as_trans_with_four_octet_capability_gives_the_real_as() {
    match decode(&open("01 04 5ba0 005a 0a000002 08 02 06 41 04 fa56ea01")).unwrap() {
        Message::Open(o) => {
            assert_eq!(o.my_as, 23456);
            assert_eq!(o.asn().0, 4_200_000_001);
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn b8_capability_as_wins_over_an_inconsistent_my_as() {
    match decode(&open("01 04 fdea 005a 0a000002 08 02 06 41 04 0000fde9")).unwrap() {
        Message::Open(o) => assert_eq!(o.asn().0, 65001),
        m => panic!("{m:?}"),
    }
}

#[test]
fn b10_unknown_optional_parameter_is_2_4() {
    let n = reset(decode(&open("01 04 fde9 005a 0a000002 04 03 02 0000")));
    assert_eq!((n.code, n.subcode), (2, 4));
}

#[test]
fn b11_unknown_capability_is_kept() {
    match decode(&open("01 04 fde9 005a 0a000002 09 02 07 ee 05 0102030405")).unwrap() {
        Message::Open(o) => {
            assert!(
                matches!(o.capabilities().next(), Some(Capability::Unknown { code: 0xee, value }) if value.len() == 5)
            )
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn b12_capability_overrunning_its_parameter_is_2_0() {
    let n = reset(decode(&open("01 04 fde9 005a 0a000002 08 02 06 41 0a 0000fde9")));
    assert_eq!((n.code, n.subcode), (2, 0));
}

#[test]
fn b13_empty_four_octet_as_capability_never_reads_the_next_one() {
    match decode(&open("01 04 fde9 005a 0a000002 0a 02 08 41 00 01 04 0001 0001")).unwrap() {
        Message::Open(o) => {
            let caps: Vec<_> = o.capabilities().collect();
            assert!(matches!(caps[0], Capability::Malformed { code: 65, value } if value.is_empty()));
            assert_eq!(
                *caps[1],
                Capability::Multiprotocol {
                    family: Family::IPV4_UNICAST
                }
            );
            assert_eq!(o.asn().0, 65001, "falls back to My AS");
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn b14_b15_malformed_known_capabilities_are_kept_as_malformed() {
    // MP of length 3; GR of length 1 and 7; then two GR capabilities.
    for cap in ["01 03 0001 01", "40 01 00", "40 07 0078 0001 01 80 00"] {
        let len = h(cap).len();
        let body = format!("01 04 fde9 005a 0a000002 {:02x} 02 {:02x} {cap}", len + 2, len);
        match decode(&open(&body)).unwrap() {
            Message::Open(o) => assert!(matches!(o.capabilities().next(), Some(Capability::Malformed { .. }))),
            m => panic!("{m:?}"),
        }
    }
    match decode(&open(
        "01 04 fde9 005a 0a000002 0e 02 0c 40 02 0078 40 06 0010 0001 0180",
    ))
    .unwrap()
    {
        Message::Open(o) => {
            let gr: Vec<_> = o
                .capabilities()
                .filter_map(|c| match c {
                    Capability::GracefulRestart(g) => Some(g.restart_time),
                    _ => None,
                })
                .collect();
            assert_eq!(
                gr,
                vec![120, 16],
                "both kept, in order, for the session to use the last"
            );
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn b16_long_unknown_capability_is_kept_whole() {
    let value = "61".repeat(100);
    let body = format!("01 04 fde9 005a 0a000002 68 02 66 4b 64 {value}");
    match decode(&open(&body)).unwrap() {
        Message::Open(o) => {
            assert!(
                matches!(o.capabilities().next(), Some(Capability::Unknown { code: 75, value }) if value.len() == 100)
            )
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn b17_rfc9072_extended_parameters_are_accepted_whatever_the_first_length() {
    for first in ["ff", "10"] {
        let body = format!("01 04 fde9 005a 0a000002 {first} ff 0012 02 0006 01 04 0001 0001 02 0006 41 04 0000fde9");
        match decode(&open(&body)).unwrap() {
            Message::Open(o) => {
                assert!(o.extended_params);
                assert_eq!(o.capabilities().count(), 2);
                assert_eq!(o.asn().0, 65001);
            }
            m => panic!("{m:?}"),
        }
    }
}

#[test]
fn b18_truncated_rfc9072_open_is_2_0() {
    let n = reset(decode(&h(&format!("{M} 001d 01 04 0002 00f0 c0a8386b ff"))));
    assert_eq!((n.code, n.subcode), (2, 0));
}

#[test]
fn b19_open_shorter_than_29_is_1_2() {
    let n = reset(decode(&h(&format!("{M} 001c 01 04 fde9 005a 0a000002"))));
    assert_eq!((n.code, n.subcode, n.data), (1, 2, vec![0, 0x1c]));
}

#[test]
fn b20_optional_parameter_length_beyond_the_message_is_2_0() {
    let n = reset(decode(&open("01 04 fde9 005a 0a000002 20 02 06 01 04 0001 0001 0000")));
    assert_eq!((n.code, n.subcode), (2, 0));
}

// ---- C. UPDATE structure ----------------------------------------------------

#[test]
fn baseline_update_decodes_clean() {
    let u = upd(decode(&update("", B_ATTRS, B_NLRI)));
    assert_eq!(u.action(), None);
    assert_eq!(prefixes(&u), vec!["10.11.12.0/24"]);
    assert_eq!(u.attributes.as_path.as_ref().unwrap().to_string(), "65001");
}

#[test]
fn c1_total_attribute_length_beyond_the_message_is_3_1() {
    let mut m = update("", B_ATTRS, B_NLRI);
    m[21..23].copy_from_slice(&[0x00, 0xc8]);
    let n = reset(decode(&m));
    assert_eq!((n.code, n.subcode), (3, 1));
}

#[test]
fn c2_last_attribute_overrunning_the_list_is_treat_as_withdraw() {
    let u = upd(decode(&update("", &format!("{B_ATTRS} c00808 fde90001"), B_NLRI)));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    assert_eq!(u.errors[0].kind, AttrErrorKind::Framing);
    assert_eq!(
        prefixes(&u),
        vec!["10.11.12.0/24"],
        "NLRI found through the Total Path Attribute Length"
    );
}

#[test]
fn c3_attribute_fragment_is_treat_as_withdraw() {
    let u = upd(decode(&update("", &format!("{B_ATTRS} c008"), B_NLRI)));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    assert_eq!(prefixes(&u), vec!["10.11.12.0/24"]);
}

#[test]
fn c4_zero_length_med_is_treat_as_withdraw() {
    let u = upd(decode(&update("", &format!("{B_ATTRS} 800400"), B_NLRI)));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    assert_eq!(u.attributes.med, None);
}

const MP_V6: &str = "900e001a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8";

#[test]
fn c5_duplicate_mp_reach_is_3_1() {
    let n = reset(decode(&update("", &format!("40010100 400200 {MP_V6} {MP_V6}"), "")));
    assert_eq!((n.code, n.subcode), (3, 1));
}

#[test]
fn c6_duplicate_attributes_keep_the_first_copy() {
    let u = upd(decode(&update(
        "",
        &format!("{B_ATTRS} 40050400000064 400504000000c8 c00804fde90001 c00804fde90002"),
        B_NLRI,
    )));
    assert_eq!(u.action(), Some(Action::AttributeDiscard));
    assert_eq!(u.attributes.local_pref, Some(100));
    assert_eq!(u.attributes.communities.as_ref().unwrap()[0].to_string(), "65001:1");
    assert_eq!(u.errors.len(), 2);
}

#[test]
fn c7_missing_mandatory_attribute_is_treat_as_withdraw() {
    for (attrs, missing) in [
        ("400206020100 00fde9 4003040a000001", 1),
        ("40010100 4003040a000001", 2),
        ("40010100 400206020100 00fde9", 3),
    ] {
        let u = upd(decode(&update("", attrs, B_NLRI)));
        assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
        assert_eq!(u.errors[0].kind, AttrErrorKind::MissingWellKnown);
        assert_eq!(u.errors[0].type_code, missing);
        assert_eq!(prefixes(&u), vec!["10.11.12.0/24"]);
    }
}

#[test]
fn c8_mp_only_update_needs_no_next_hop() {
    let u = upd(decode(&update(
        "",
        &format!("{MP_V6} 40010100 400206 0201 0000fde9"),
        "",
    )));
    assert_eq!(u.action(), None);
    assert_eq!(prefixes(&u), vec!["2001:db8::/32"]);
}

#[test]
fn c9_strongest_action_wins() {
    let u = upd(decode(&update(
        "",
        &format!("{B_ATTRS} 40060100 c00805fde9000100"),
        B_NLRI,
    )));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    let n = reset(decode(&update(
        "",
        &format!("c00805fde9000100 40010100 400200 {MP_V6} {MP_V6}"),
        "",
    )));
    assert_eq!((n.code, n.subcode), (3, 1));
}

#[test]
fn c10_c11_error_without_reachable_nlri_resets() {
    let n = reset(decode(&h(&format!("{M} 001c 02 0000 0005 400102 0000"))));
    assert_eq!(n.code, 3);
    let n = reset(decode(&update("180a0b0c", "400102 0000", "")));
    assert_eq!(n.code, 3);
}

#[test]
fn c12_discard_only_error_without_nlri_does_not_reset() {
    let u = upd(decode(&update("", "40060100", "")));
    assert_eq!(u.action(), Some(Action::AttributeDiscard));
}

#[test]
fn c13_end_of_rib_markers() {
    let u = upd(decode(&h(&format!("{M} 0017 02 0000 0000"))));
    assert_eq!(u.end_of_rib_family(), Some(Family::IPV4_UNICAST));
    let u = upd(decode(&h(&format!("{M} 001e 02 0000 0007 900f0003 000201"))));
    assert_eq!(u.end_of_rib_family(), Some(Family::IPV6_UNICAST));
    // A withdrawal is not an End-of-RIB.
    let u = upd(decode(&update("180a0b0c", "", "")));
    assert_eq!(u.end_of_rib_family(), None);
}

#[test]
fn c14_same_prefix_withdrawn_and_announced_keeps_both_for_the_rib() {
    let u = upd(decode(&update("180a0b0c", B_ATTRS, B_NLRI)));
    assert_eq!(u.withdrawals().count(), 1);
    assert_eq!(prefixes(&u), vec!["10.11.12.0/24"]);
}

#[test]
fn c15_mp_attributes_anywhere_and_mixed_fields() {
    let unreach = "900f0008 000201 20 20010db9";
    let u = upd(decode(&update("", &format!("{B_ATTRS} {MP_V6} {unreach}"), B_NLRI)));
    assert_eq!(u.action(), None);
    assert_eq!(prefixes(&u), vec!["10.11.12.0/24", "2001:db8::/32"]);
    let w: Vec<String> = u.withdrawals().map(|(_, e)| e.prefix.to_string()).collect();
    assert_eq!(w, vec!["2001:db9::/32"]);
}

#[test]
fn c16_low_flag_bits_are_ignored_and_not_sent() {
    let m = update("", "48010100 400206020100 00fde9 4003040a000001", B_NLRI);
    let u = upd(decode(&m));
    assert_eq!(u.action(), None);
    let out = Message::Update(Box::new(u)).to_bytes(&ctx()).unwrap();
    assert_eq!(out[23], 0x40, "low nibble cleared when sent");
}

#[test]
fn c17_extended_length_on_a_short_attribute_is_accepted() {
    let u = upd(decode(&update(
        "",
        "5001000100 400206020100 00fde9 4003040a000001",
        B_NLRI,
    )));
    assert_eq!(u.action(), None);
    assert!(u.attributes.origin.is_some());
}

#[test]
fn c18_unrecognized_well_known_attribute_is_treat_as_withdraw() {
    let u = upd(decode(&update("", &format!("{B_ATTRS} 40c802aabb"), B_NLRI)));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    assert_eq!(u.errors[0].kind, AttrErrorKind::UnrecognizedWellKnown);
}

#[test]
fn c19_partial_bit_on_a_well_known_attribute_is_treat_as_withdraw() {
    let u = upd(decode(&update(
        "",
        "60010100 400206020100 00fde9 4003040a000001",
        B_NLRI,
    )));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    assert_eq!(u.errors[0].kind, AttrErrorKind::BadFlags);
}

#[test]
fn c20_attribute_type_zero_is_discarded() {
    let u = upd(decode(&update("", &format!("{B_ATTRS} c000020000"), B_NLRI)));
    assert_eq!(u.action(), Some(Action::AttributeDiscard));
    assert!(u.attributes.unknown.is_empty());
}

// ---- §2.2 per-attribute rules -------------------------------------------------

/// B plus one attribute: the action it earns.
fn action_of(extra: &str) -> Option<Action> {
    upd(decode(&update("", &format!("{B_ATTRS} {extra}"), B_NLRI))).action()
}

#[test]
fn per_attribute_verdicts_follow_rfc7606_section_7() {
    let taw = Some(Action::TreatAsWithdraw);
    let discard = Some(Action::AttributeDiscard);
    let cases = [
        // ORIGIN replaced: length 2 and value 3 are tested with their own base.
        ("80040500000000 01", taw, "MED length 5"),
        ("4005020001", taw, "LOCAL_PREF length 2"),
        ("40060100", discard, "ATOMIC_AGGREGATE length 1"),
        ("c007050000fde900", discard, "AGGREGATOR length 5"),
        ("c0070800000000 0a000001", discard, "AGGREGATOR AS 0"),
        ("c00800", taw, "COMMUNITIES length 0"),
        ("c00803fde900", taw, "COMMUNITIES length 3"),
        ("800903 0a0000", taw, "ORIGINATOR_ID length 3"),
        ("800a05 0a00000101", taw, "CLUSTER_LIST length 5"),
        ("800a00", taw, "CLUSTER_LIST length 0"),
        ("c01007 00020000fde900", taw, "EXTENDED_COMMUNITIES length 7"),
        ("c01106 0201 0000fde9", discard, "AS4_PATH from a 4-octet speaker"),
        (
            "c01208 0000fde9 0a000001",
            discard,
            "AS4_AGGREGATOR from a 4-octet speaker",
        ),
        ("c0200b 0000000100000001000000", taw, "LARGE_COMMUNITY length 11"),
        ("800403 000000", taw, "MED length 3"),
        ("c0040400000001", taw, "MED with the transitive flag"),
        ("00080400000001", taw, "COMMUNITIES without the optional flag"),
        (
            "80070800000001 0a000001",
            discard,
            "AGGREGATOR without the transitive flag",
        ),
    ];
    for (extra, want, what) in cases {
        assert_eq!(action_of(extra), want, "{what}");
    }
    let u = upd(decode(&update(
        "",
        "40010103 400206020100 00fde9 4003040a000001",
        B_NLRI,
    )));
    assert_eq!(u.errors[0].kind, AttrErrorKind::InvalidOrigin);
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    let u = upd(decode(&update(
        "",
        "4001020000 400206020100 00fde9 4003040a000001",
        B_NLRI,
    )));
    assert_eq!(u.errors[0].kind, AttrErrorKind::BadLength);
    assert_eq!(u.errors[0].rfc4271_notification().subcode, 5);
    assert_eq!(prefixes(&u), vec!["10.11.12.0/24"]);
}

#[test]
fn as_path_problems_are_treat_as_withdraw() {
    for path in [
        "400206 05010000fde9",     // unknown segment type 5
        "400206 02020000fde9",     // segment claims 2 ASNs, holds 1
        "400202 0200",             // zero-length segment
        "400206 020100000000",     // AS 0 (RFC 7607)
        "400207 020100 00fde9 02", // trailing byte
    ] {
        let u = upd(decode(&update("", &format!("40010100 {path} 4003040a000001"), B_NLRI)));
        assert_eq!(u.action(), Some(Action::TreatAsWithdraw), "{path}");
        assert_eq!(u.errors[0].kind, AttrErrorKind::MalformedAsPath, "{path}");
    }
}

#[test]
fn two_octet_session_reads_two_octet_paths_and_as4_attributes() {
    let c = SessionCtx {
        four_octet_as: false,
        ..ctx()
    };
    let attrs = "40010100 400206 0202 fde9 5ba0 4003040a000001 c01106 0201 fa56ea01 c01208 fa56ea01 0a000001";
    let u = upd(decode_with(&update("", attrs, B_NLRI), &c));
    assert_eq!(u.action(), None);
    assert_eq!(u.attributes.as_path.as_ref().unwrap().to_string(), "65001 23456");
    assert_eq!(u.attributes.as4_path.as_ref().unwrap().to_string(), "4200000001");
    assert_eq!(u.attributes.as4_aggregator.unwrap().asn.0, 4_200_000_001);
}

#[test]
fn mp_reach_problems_reset_with_3_9() {
    for mp in [
        "900e0004 00020110",                                             // shorter than 5
        "900e0014 0002 01 20 20010db8000000000000000000000001 00",       // next hop overruns
        "900e0010 0002 01 0c 20010db8000000000000000000 00",             // 12-byte next hop for IPv6
        "900e0017 0002 01 10 20010db8000000000000000000000001 00 81 20", // prefix length 129
    ] {
        let n = reset(decode(&update("", &format!("40010100 400200 {mp}"), "")));
        assert_eq!((n.code, n.subcode), (3, 9), "{mp}");
    }
    let n = reset(decode(&update("", "900f0002 0002", "")));
    assert_eq!((n.code, n.subcode), (3, 9));
}

#[test]
fn unknown_optional_attributes_are_kept_for_propagation() {
    let u = upd(decode(&update(
        "",
        &format!("{B_ATTRS} c0630401020304 80640100"),
        B_NLRI,
    )));
    assert_eq!(u.action(), None);
    let t = &u.attributes.unknown[0];
    assert_eq!((t.type_code, &t.value[..]), (0x63, &[1, 2, 3, 4][..]));
    assert_eq!(
        t.for_propagation().unwrap().flags,
        0xe0,
        "transitive: passed on with Partial"
    );
    assert_eq!(
        u.attributes.unknown[1].for_propagation(),
        None,
        "non-transitive: not passed on"
    );
}

// ---- E. NLRI field ------------------------------------------------------------

#[test]
fn e1_e2_e3_unparsable_prefixes_are_3_10() {
    for (w, n) in [("", "210a0b0c0d00"), ("", "180a0b"), ("210a0b0c0d00", "")] {
        let attrs = if n.is_empty() { "" } else { B_ATTRS };
        let e = reset(decode(&update(w, attrs, n)));
        assert_eq!((e.code, e.subcode), (3, 10), "{w} {n}");
    }
}

#[test]
fn e4_host_bits_are_masked() {
    let u = upd(decode(&update("", B_ATTRS, "170a0b0d")));
    assert_eq!(prefixes(&u), vec!["10.11.12.0/23"]);
    let w = upd(decode(&update("170a0b0c", "", "")));
    assert_eq!(
        w.withdrawals().next().unwrap().1.prefix,
        "10.11.12.0/23".parse::<Prefix>().unwrap()
    );
}

#[test]
fn e5_e6_e7_default_route_full_message_and_duplicates() {
    assert_eq!(prefixes(&upd(decode(&update("", B_ATTRS, "00")))), vec!["0.0.0.0/0"]);
    let m = many_host_routes(810);
    assert!(m.len() <= 4096);
    assert_eq!(upd(decode(&m)).nlri.len(), 810);
    assert_eq!(
        prefixes(&upd(decode(&update("", B_ATTRS, "180a0b0c180a0b0c")))).len(),
        2
    );
}

#[test]
fn add_path_identifiers_are_read_when_negotiated() {
    let c = SessionCtx {
        add_path: vec![Family::IPV4_UNICAST],
        ..ctx()
    };
    let u = upd(decode_with(&update("", B_ATTRS, "00000007 180a0b0c"), &c));
    let e = u.nlri.iter().next().unwrap();
    assert_eq!(
        (e.path_id.unwrap().0, e.prefix.to_string().as_str()),
        (7, "10.11.12.0/24")
    );
    // Without ADD-PATH the identifier 255 reads as a prefix length of 255.
    assert!(decode(&update("", B_ATTRS, "000000ff 180a0b0c")).is_err());
    assert!(decode_with(&update("", B_ATTRS, "000000ff 180a0b0c"), &c).is_ok());
}

#[test]
fn shutdown_communication_is_read_and_bounded() {
    let n = bgp_wire::Notification::shutdown(bgp_wire::CeaseSubcode::AdministrativeShutdown, "maintenance");
    assert_eq!(n.shutdown_communication(), Some(Ok("maintenance")));
    let long = "é".repeat(200);
    let n = bgp_wire::Notification::shutdown(bgp_wire::CeaseSubcode::AdministrativeShutdown, &long);
    assert!(n.data.len() <= 256);
    assert!(n.shutdown_communication().unwrap().is_ok());
    let bad = bgp_wire::Notification::new(
        bgp_wire::NotifyKind::Cease(bgp_wire::CeaseSubcode::AdministrativeShutdown),
        vec![3u8, 0xff, 0xfe, 0xfd],
    );
    assert_eq!(
        bad.shutdown_communication(),
        Some(Err(bgp_wire::notification::ShutdownCommError::InvalidUtf8))
    );
    let short = bgp_wire::Notification::new(
        bgp_wire::NotifyKind::Cease(bgp_wire::CeaseSubcode::AdministrativeShutdown),
        vec![200u8, b'a'],
    );
    assert_eq!(
        short.shutdown_communication(),
        Some(Err(bgp_wire::notification::ShutdownCommError::BadLength))
    );
}

#[test]
fn encode_refuses_messages_beyond_the_session_maximum() {
    let u = upd(decode_with(
        &many_host_routes(1200),
        &SessionCtx {
            extended_message: true,
            ..ctx()
        },
    ));
    let m = Message::Update(Box::new(u));
    assert!(matches!(
        m.to_bytes(&ctx()),
        Err(bgp_wire::EncodeError::TooLong { max: 4096, .. })
    ));
    assert!(m
        .to_bytes(&SessionCtx {
            extended_message: true,
            ..ctx()
        })
        .is_ok());
}

#[test]
fn as_sets_are_treat_as_withdraw_rfc_9774() {
    let old = SessionCtx {
        four_octet_as: false,
        ..ctx()
    };
    for path in [
        "400210 02010000fde9 01020000fdea0000fdeb", // AS_SEQUENCE, AS_SET
        "400206 04010000fde9",                      // AS_CONFED_SET
    ] {
        let u = upd(decode(&update("", &format!("40010100 {path} 4003040a000001"), B_NLRI)));
        assert_eq!(u.action(), Some(Action::TreatAsWithdraw), "{path}");
        assert_eq!(u.errors[0].kind, AttrErrorKind::AsSet, "{path}");
    }
    // In AS4_PATH too, though a malformed AS4_PATH is otherwise discarded.
    let u = upd(decode_with(
        &update(
            "",
            "40010100 400204 02015ba0 4003040a000001 c01106 0101fa56ea01",
            B_NLRI,
        ),
        &old,
    ));
    assert_eq!(u.action(), Some(Action::TreatAsWithdraw));
    assert_eq!(u.errors[0].kind, AttrErrorKind::AsSet);
}

#[test]
fn otc_aigp_and_ipv6_extended_communities_are_checked() {
    // Well formed: OTC and the IPv6 address-specific extended community are
    // kept to pass on, without the Partial bit a speaker that did not know
    // them would add; AIGP is not enabled on any session, so it is dropped.
    let ipv6_ec = format!("0002 {} 0001", "20010db8000000000000000000000001");
    let good = format!("{B_ATTRS} c02304 0000fde9 c01914 {ipv6_ec} 801a0b 01000b 0000000000000064");
    let u = upd(decode(&update("", &good, B_NLRI)));
    assert_eq!(u.action(), None, "{:?}", u.errors);
    let kept: Vec<u8> = u.attributes.unknown.iter().map(|r| r.type_code).collect();
    assert_eq!(kept, [35, 25], "in the order received");
    for r in &u.attributes.unknown {
        assert_eq!(r.for_propagation().unwrap().flags & 0x20, 0, "type {}", r.type_code);
    }
    // Malformed: OTC of 3 octets and an IPv6 extended community of 19
    // withdraw (RFC 9234 §5, RFC 7606 §7.15); a bad AIGP TLV is discarded.
    for (attr, action, kind) in [
        ("c02303 00fde9", Action::TreatAsWithdraw, AttrErrorKind::BadLength),
        (
            "c01913 00020001020304050607080910111213141516",
            Action::TreatAsWithdraw,
            AttrErrorKind::BadLength,
        ),
        (
            "801a0a 01000a 00000000000064",
            Action::AttributeDiscard,
            AttrErrorKind::MalformedTlv,
        ),
        (
            "801a16 01000b 0000000000000064 01000b 0000000000000064",
            Action::AttributeDiscard,
            AttrErrorKind::MalformedTlv,
        ),
        ("801a02 0100", Action::AttributeDiscard, AttrErrorKind::MalformedTlv),
    ] {
        let u = upd(decode(&update("", &format!("{B_ATTRS} {attr}"), B_NLRI)));
        assert_eq!(u.action(), Some(action), "{attr}");
        assert_eq!(u.errors[0].kind, kind, "{attr}");
        assert!(u.attributes.unknown.is_empty(), "{attr}: never passed on");
    }
}
