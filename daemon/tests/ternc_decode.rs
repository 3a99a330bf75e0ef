//! `ternc decode` as scripts use it: the real binary, its JSON and exit status.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn ternc(args: &[&str], stdin: &[u8]) -> (Vec<Value>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ternc"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ternc runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let objects = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (objects, out.status.code().unwrap_or(-1))
}

const M: &str = "ffffffffffffffffffffffffffffffff";

#[test]
fn every_fixture_decodes_with_exit_status_zero() {
    for f in fixtures::all() {
        let ctx = f.ctx();
        let mut args = vec![f.path().to_str().unwrap().to_string()];
        if !ctx.four_octet_as {
            args.push("--no-as4".into());
        }
        if !f.add_path.is_empty() {
            args.push(format!("--add-path={}", f.add_path.join(",")));
        }
        if ctx.extended_message {
            args.push("--extended-message".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (objs, code) = ternc(&args, b"");
        assert_eq!(code, 0, "{}: {objs:?}", f.file);
        assert_eq!(objs.len(), f.messages().len(), "{}", f.file);
        assert_eq!(objs[0]["type"], "open");
        for o in &objs {
            assert!(o.get("error").is_none(), "{}: {o}", f.file);
            let t = o["type"].as_str().unwrap();
            assert!(["open", "update", "notification", "keepalive", "route-refresh"].contains(&t));
        }
    }
}

#[test]
fn prefixes_are_cidr_strings() {
    let f = fixtures::all()
        .into_iter()
        .find(|f| f.file.starts_with("gobgp"))
        .unwrap();
    let (objs, _) = ternc(&[f.path().to_str().unwrap(), "--add-path", "ipv4"], b"");
    let all: Vec<String> = objs
        .iter()
        .filter(|o| o["type"] == "update")
        .flat_map(|o| o["nlri"].as_array().unwrap().clone())
        .map(|e| e["prefix"].as_str().unwrap().to_string())
        .collect();
    assert!(all.contains(&"10.30.0.0/24".to_string()), "{all:?}");
    let v6: Vec<String> = objs
        .iter()
        .filter_map(|o| o["attributes"]["mp_reach"]["nlri"].as_array().cloned())
        .flatten()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    assert_eq!(v6, vec!["2001:db8:30::/48"]);
}

#[test]
fn malformed_origin_is_treat_as_withdraw_with_its_prefixes() {
    // ORIGIN of length 2, then a valid AS_PATH and NEXT_HOP, NLRI 10.11.12.0/24 and 10.11.13.0/24.
    let hex = format!("{M} 0034 02 0000 0015 4001020000 400206020100 00fde9 4003040a000001 180a0b0c 180a0b0d");
    let (objs, code) = ternc(&["--hex"], hex.as_bytes());
    assert_eq!(code, 1);
    let o = &objs[0];
    assert_eq!(o["type"], "update");
    assert_eq!(o["action"], "treat-as-withdraw");
    assert_eq!(o["nlri"], json!(["10.11.12.0/24", "10.11.13.0/24"]));
    assert_eq!(o["treat_as_withdraw"], json!(["10.11.12.0/24", "10.11.13.0/24"]));
    assert_eq!(o["errors"][0]["attribute"], 1);
    assert!(o.get("notification").is_none(), "no NOTIFICATION for treat-as-withdraw");
}

#[test]
fn bad_marker_is_session_reset_1_1_and_decoding_goes_on() {
    let hex = format!("ffffffffffffffffffffffffffffff00 0013 04  {M} 0013 04");
    let (objs, code) = ternc(&["--hex"], hex.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(objs[0]["action"], "session-reset");
    assert_eq!(objs[0]["notification"]["code"], 1);
    assert_eq!(objs[0]["notification"]["subcode"], 1);
    assert_eq!(
        objs[1]["type"], "keepalive",
        "the length was usable, so the next message decodes"
    );
}

#[test]
fn discarded_attribute_keeps_the_routes_and_update_errors_continue() {
    // ATOMIC_AGGREGATE of length 1 (discard), then an UPDATE with TPAL overrun (3/1), then a KEEPALIVE.
    let hex = format!(
        "{M} 0033 02 0000 0018 40010100 400206020100 00fde9 4003040a000001 40060100 180a0b0c
         {M} 0017 02 0000 00c8
         {M} 0013 04"
    );
    let (objs, code) = ternc(&["--hex"], hex.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(objs[0]["action"], "attribute-discard");
    assert_eq!(objs[0]["nlri"], json!(["10.11.12.0/24"]));
    assert_eq!(objs[1]["action"], "session-reset");
    assert_eq!(objs[1]["notification"]["code"], 3);
    assert_eq!(objs[1]["notification"]["subcode"], 1);
    assert_eq!(objs[2]["type"], "keepalive");
}

#[test]
fn bad_length_stops_decoding_and_context_flags_matter() {
    let (objs, code) = ternc(&["--hex"], format!("{M} 0005 04 {M} 0013 04").as_bytes());
    assert_eq!(code, 1);
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0]["notification"]["subcode"], 2);
    // A 2-octet AS_PATH read as such with --no-as4 ...
    let hex = format!("{M} 002f 02 0000 0014 40010100 400206 0202 fde9 fdea 4003040a000001 180a0b0c");
    let (objs, code) = ternc(&["--hex", "--no-as4"], hex.as_bytes());
    assert_eq!(code, 0, "{objs:?}");
    assert_eq!(objs[0]["attributes"]["as_path"][0]["asns"], json!([65001, 65002]));
    // ... and malformed when read as 4-octet.
    let (objs, code) = ternc(&["--hex"], hex.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(objs[0]["action"], "treat-as-withdraw");
}

#[test]
fn unknown_family_flag_is_refused() {
    let (_, code) = ternc(&["--add-path", "ipx"], b"");
    assert_eq!(code, 2);
}

/// An OPEN: AS 65001 in My AS, `hold`, identifier `id`, and `caps` (hex of
/// capability TLVs) in one Capabilities parameter.
fn open_hex(hold: u16, id: [u8; 4], caps: &str) -> String {
    let caps = hex::decode(caps.replace(' ', "")).unwrap();
    let mut body = vec![4, 0xfd, 0xe9];
    body.extend(hold.to_be_bytes());
    body.extend(id);
    body.push(caps.len() as u8 + 2);
    body.extend([2, caps.len() as u8]);
    body.extend(&caps);
    let len = (19 + body.len()) as u16;
    format!("{M}{} 01 {}", hex::encode(len.to_be_bytes()), hex::encode(body))
}

/// The NOTIFICATION (code, subcode) expected; `None`: the OPEN is accepted.
type Expected = Option<(u64, u64)>;

#[test]
fn opens_get_the_answer_the_session_would_give() {
    const MP4: &str = "0104 00010001";
    const AS4: &str = "4104 0000fde9";
    let cases: [(String, &[&str], Expected); 7] = [
        (open_hex(90, [10, 0, 0, 2], &format!("{MP4} {AS4}")), &[], None),
        // RFC 4271 §6.2: a hold time of 1 or 2 s is unacceptable.
        (open_hex(2, [10, 0, 0, 2], MP4), &[], Some((2, 6))),
        // Not the AS configured for the peer.
        (open_hex(90, [10, 0, 0, 2], AS4), &["--peer-as", "65002"], Some((2, 2))),
        // Identifier 0, or ours on an iBGP session (RFC 6286 §2.2).
        (open_hex(90, [0, 0, 0, 0], MP4), &[], Some((2, 3))),
        (
            open_hex(90, [10, 0, 0, 1], MP4),
            &["--local-as", "65001", "--router-id", "10.0.0.1"],
            Some((2, 3)),
        ),
        // A 4-octet AS capability of 2 bytes: what AS is meant is unknown.
        (open_hex(90, [10, 0, 0, 2], "4102 fde9"), &[], Some((2, 0))),
        // Only a family we do not carry (IPv4 multicast).
        (open_hex(90, [10, 0, 0, 2], "0104 00010002"), &[], Some((2, 7))),
    ];
    for (hex, args, want) in cases {
        let mut a = vec!["--hex"];
        a.extend_from_slice(args);
        let (objs, code) = ternc(&a, hex.as_bytes());
        let o = &objs[0];
        assert_eq!(o["type"], "open", "{o}");
        match want {
            None => {
                assert_eq!(code, 0, "{o}");
                assert!(o.get("action").is_none(), "{o}");
            }
            Some((c, s)) => {
                assert_eq!(code, 1, "{o}");
                assert_eq!(o["action"], "session-reset", "{o}");
                assert_eq!(
                    (
                        o["notification"]["code"].as_u64(),
                        o["notification"]["subcode"].as_u64()
                    ),
                    (Some(c), Some(s)),
                    "{args:?} {o}"
                );
                assert!(o["error"].as_str().unwrap().starts_with("OPEN refused"), "{o}");
            }
        }
    }
}
