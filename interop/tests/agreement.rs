//! The decoder and the session agree: the same malformed OPENs and UPDATEs
//! go to `ternc decode` and to a live ternd over raw TCP, and ternd does
//! what the decoder says: the same NOTIFICATION (code, subcode and data),
//! or the RFC 7606 action (treat-as-withdraw takes the route away,
//! attribute discard keeps it without the attribute). An iBGP observer
//! session checks what ternd passes on: never a malformed attribute, never
//! one that only means something inside the AS of the eBGP peer it came
//! from (RFC 7606 §7.5, §7.9, §7.10).

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_wire::{Message, PathAttributes, Prefix};
use interop::speaker::Session;
use interop::{wait_for, TempDir, Ternd};
use serde_json::Value;

const TERN: &str = "127.0.33.1";
const PORT: u16 = 11810;
const SRC: &str = "127.0.33.2";
const OBS: &str = "127.0.33.3";
/// A peer's configured AS, its OPEN, and the NOTIFICATION expected
/// (code, subcode), `None` when the OPEN is accepted.
type OpenCase = (u32, String, Option<(u64, u64)>);

const M: &str = "ffffffffffffffffffffffffffffffff";

fn tern_addr() -> SocketAddr {
    format!("{TERN}:{PORT}").parse().unwrap()
}

/// `ternc decode` of one message given as hex, with `args`.
fn decode(hex: &str, args: &[&str]) -> Value {
    let bin = interop::ternd_bin().with_file_name("ternc");
    let mut child = Command::new(bin)
        .args(["decode", "--hex"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ternc runs");
    child.stdin.take().unwrap().write_all(hex.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.lines().next().expect("one object")).expect("JSON")
}

fn bytes(hex: &str) -> Vec<u8> {
    hex::decode(hex.replace(' ', "")).unwrap()
}

fn frame(kind: u8, body: &[u8]) -> String {
    let len = (19 + body.len()) as u16;
    format!("{M}{}{kind:02x}{}", hex::encode(len.to_be_bytes()), hex::encode(body))
}

/// An OPEN from My AS `asn`, with `hold`, identifier `id` and capability
/// TLVs `caps` (hex).
fn open(asn: u16, hold: u16, id: [u8; 4], caps: &str) -> String {
    let caps = bytes(caps);
    let mut b = vec![4];
    b.extend(asn.to_be_bytes());
    b.extend(hold.to_be_bytes());
    b.extend(id);
    b.push(caps.len() as u8 + 2);
    b.extend([2, caps.len() as u8]);
    b.extend(&caps);
    frame(1, &b)
}

/// An UPDATE announcing 10.60.`n`.0/24 with the attributes `attrs` (hex).
fn update(attrs: &str, n: u8) -> String {
    let a = bytes(attrs);
    let mut b = vec![0, 0];
    b.extend((a.len() as u16).to_be_bytes());
    b.extend(&a);
    b.extend([24, 10, 60, n]);
    frame(2, &b)
}

fn prefix(n: u8) -> Prefix {
    format!("10.60.{n}.0/24").parse().unwrap()
}

/// The well-formed attributes of the source's routes, with MED `med`.
fn base(med: u32) -> String {
    format!("40010100 4002060201 0000fde9 4003047f002102 800404{med:08x}").replace(' ', "")
}

/// What the observer has been told, and every violation it saw.
#[derive(Default)]
struct Observed {
    routes: HashMap<Prefix, PathAttributes>,
    violations: Vec<String>,
}

/// The observer: an iBGP session whose every UPDATE is checked.
fn observe() -> Arc<Mutex<Observed>> {
    let mut s = Session::connect(OBS.parse().unwrap(), tern_addr(), 64512).expect("observer session");
    let seen = Arc::new(Mutex::new(Observed::default()));
    let out = seen.clone();
    s.keepalives().unwrap();
    std::thread::spawn(move || {
        while let Ok(m) = s.recv() {
            let Message::Update(u) = m else { continue };
            let mut o = out.lock().unwrap();
            if !u.errors.is_empty() {
                o.violations
                    .push(format!("malformed attributes passed on: {:?}", u.errors));
            }
            let a = &u.attributes;
            if a.originator_id.is_some() || a.cluster_list.is_some() {
                o.violations
                    .push(format!("an eBGP peer's ORIGINATOR_ID or CLUSTER_LIST passed on: {a:?}"));
            }
            if a.as4_path.is_some() || a.as4_aggregator.is_some() {
                o.violations.push(format!("AS4 attributes between NEW speakers: {a:?}"));
            }
            // Typed attributes are never passed on raw; of those checked and
            // kept raw (25, 35), none gains the Partial bit.
            if a.unknown.iter().any(|r| r.type_code <= 18 || r.type_code == 32) {
                o.violations
                    .push(format!("a known type passed on as unknown: {:?}", a.unknown));
            }
            for (_, e) in u.withdrawals() {
                o.routes.remove(&e.prefix);
            }
            for (_, e) in u.announced() {
                o.routes.insert(e.prefix, a.clone());
            }
        }
    });
    seen
}

/// The source's session, up (retried while ternd waits out its error
/// wait after a reset).
fn source() -> Session {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match try_source() {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("source session: {e}; again");
                std::thread::sleep(Duration::from_millis(300));
            }
            Err(e) => panic!("source session: {e}"),
        }
    }
}

fn try_source() -> std::io::Result<Session> {
    let mut s = Session::raw(SRC.parse().unwrap(), tern_addr())?;
    s.send_raw(&bytes(&open(65001, 90, [127, 0, 33, 2], "0104 00010001 4104 0000fde9")))?;
    loop {
        match s.recv_within(Duration::from_secs(20))? {
            Some(Message::Open(_)) => s.send(&Message::Keepalive)?,
            Some(Message::Keepalive) => break,
            other => return Err(std::io::Error::other(format!("{other:?}"))),
        }
    }
    s.keepalives()?;
    Ok(s)
}

/// Waits until the observer's view of `p` satisfies `f`.
fn until(seen: &Arc<Mutex<Observed>>, what: &str, p: Prefix, f: impl Fn(Option<&PathAttributes>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let o = seen.lock().unwrap();
            if f(o.routes.get(&p)) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: observer has {:?}", o.routes.get(&p));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_session_does_what_the_decoder_says() {
    let dir = TempDir::new("agree");
    let mut conf = format!(
        "router_id = \"{TERN}\"\nasn = 64512\nlisten = [\"{TERN}:{PORT}\"]\nctl_socket = \"{{CTL}}\"\n\
         [[peer]]\nname = \"src\"\naddress = \"{SRC}\"\nasn = 65001\npassive = true\nerror_wait = [1, 1]\n\
         [[peer]]\nname = \"obs\"\naddress = \"{OBS}\"\nasn = 64512\npassive = true\n"
    );
    // One peer per OPEN case, at 127.0.33.(10 + case): (configured AS,
    // OPEN, the NOTIFICATION expected, None when the OPEN is accepted).
    let opens: [OpenCase; 7] = [
        (
            65001,
            open(65001, 90, [9, 9, 9, 9], "0104 00010001 4104 0000fde9"),
            None,
        ),
        (65001, open(65001, 2, [9, 9, 9, 9], "0104 00010001"), Some((2, 6))),
        (65002, open(65001, 90, [9, 9, 9, 9], "4104 0000fde9"), Some((2, 2))),
        (65001, open(65001, 90, [0, 0, 0, 0], "0104 00010001"), Some((2, 3))),
        (64512, open(64512, 90, [127, 0, 33, 1], "0104 00010001"), Some((2, 3))),
        (65001, open(65001, 90, [9, 9, 9, 9], "4102 fde9"), Some((2, 0))),
        (65001, open(65001, 90, [9, 9, 9, 9], "0104 00010002"), Some((2, 7))),
    ];
    for (i, (asn, _, _)) in opens.iter().enumerate() {
        conf += &format!(
            "[[peer]]\nname = \"open{i}\"\naddress = \"127.0.33.{}\"\nasn = {asn}\npassive = true\n",
            10 + i
        );
    }
    let t = Ternd::start(&dir, &conf);

    for (i, (asn, msg, want)) in opens.iter().enumerate() {
        let verdict = decode(msg, &["--router-id", TERN, "--peer-as", &asn.to_string()]);
        let said = verdict["notification"].as_object().map(|n| {
            (
                n["code"].as_u64().unwrap(),
                n["subcode"].as_u64().unwrap(),
                n["data"].as_str().unwrap().to_string(),
            )
        });
        assert_eq!(
            said.as_ref().map(|s| (s.0, s.1)),
            *want,
            "decoder, OPEN case {i}: {verdict}"
        );
        let from: Ipv4Addr = format!("127.0.33.{}", 10 + i).parse().unwrap();
        let mut s = Session::raw(from, tern_addr()).expect("connects");
        s.send_raw(&bytes(msg)).unwrap();
        let mut answer = None;
        while let Some(m) = s.recv_within(Duration::from_secs(5)).unwrap_or(None) {
            match m {
                Message::Open(_) => continue,
                Message::Notification(n) => {
                    answer = Some((u64::from(n.code), u64::from(n.subcode), hex::encode(&n.data)));
                    break;
                }
                Message::Keepalive => break,
                other => panic!("OPEN case {i}: {other:?}"),
            }
        }
        assert_eq!(answer, said, "session and decoder, OPEN case {i}");
    }

    let seen = observe();
    let mut src = source();
    wait_for(Duration::from_secs(20), "both sessions", || {
        (t.bgp_state("src").as_deref() == Some("Established") && t.bgp_state("obs").as_deref() == Some("Established"))
            .then_some(())
    });

    // (extra attributes, what replaces a base one, the expected action,
    // the attribute code that must be gone when discarded)
    let ebgp_only = "8009047f000009 800a040a0a0a0a";
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        (
            "ORIGIN 5",
            base(1).replacen("40010100", "40010105", 1),
            Some("treat-as-withdraw"),
        ),
        (
            "ORIGIN flagged optional",
            base(2).replacen("40010100", "c0010100", 1),
            Some("treat-as-withdraw"),
        ),
        (
            "AS_PATH segment type 7",
            base(3).replacen("4002060201", "4002060701", 1),
            Some("treat-as-withdraw"),
        ),
        (
            "MED of 3 bytes",
            base(4).replacen("80040400000004", "800403000004", 1),
            Some("treat-as-withdraw"),
        ),
        (
            "COMMUNITIES of 3 bytes",
            base(5) + "c008 03 000001",
            Some("treat-as-withdraw"),
        ),
        (
            "EXTENDED_COMMUNITIES of 7 bytes",
            base(6) + "c010 07 00020000fde900",
            Some("treat-as-withdraw"),
        ),
        (
            "LARGE_COMMUNITY of 5 bytes",
            base(7) + "c020 05 0000fde900",
            Some("treat-as-withdraw"),
        ),
        (
            "NEXT_HOP of 3 bytes",
            base(8).replacen("4003047f002102", "4003037f0021", 1),
            Some("treat-as-withdraw"),
        ),
        (
            "ATOMIC_AGGREGATE of 1 byte",
            base(9) + "4006 01 00",
            Some("attribute-discard"),
        ),
        (
            "AGGREGATOR of 6 bytes",
            base(10) + "c007 06 fde9 0a000001",
            Some("attribute-discard"),
        ),
        (
            "AS4_PATH between NEW speakers",
            base(11) + "c011 06 0201 0000fde9",
            Some("attribute-discard"),
        ),
        (
            "COMMUNITIES twice",
            base(12) + "c00804 0000fde9 c00804 0000fdea",
            Some("attribute-discard"),
        ),
        ("LOCAL_PREF from eBGP", base(13) + "4005 04 000001f4", None),
        ("ORIGINATOR_ID and CLUSTER_LIST from eBGP", base(14) + ebgp_only, None),
        (
            "AS_SET in AS_PATH (RFC 9774)",
            base(15).replacen(
                "4002060201 0000fde9".replace(' ', "").as_str(),
                "400210 02010000fde9 01020000fdea0000fdeb",
                1,
            ),
            Some("treat-as-withdraw"),
        ),
        (
            "ONLY_TO_CUSTOMER of 3 bytes",
            base(16) + "c02303 00fde9",
            Some("treat-as-withdraw"),
        ),
        (
            "IPv6 extended community of 19 bytes",
            base(17) + "c01913 00020001020304050607080910111213141516",
            Some("treat-as-withdraw"),
        ),
        (
            "AIGP with a TLV of 10 bytes",
            base(18) + "801a0a 01000a 00000000000064",
            Some("attribute-discard"),
        ),
        ("ONLY_TO_CUSTOMER well formed", base(19) + "c02304 0000fde9", None),
    ];
    for (i, (what, attrs, want)) in cases.iter().enumerate() {
        let n = i as u8 + 1;
        let p = prefix(n);
        let med = i as u32 + 1;
        // The route first, well formed, with MED 1000 + n.
        src.send_raw(&bytes(&update(&base(1000 + med), n))).unwrap();
        until(&seen, what, p, |a| a.is_some_and(|a| a.med == Some(1000 + med)));
        let msg = update(&attrs.replace(' ', ""), n);
        let verdict = decode(&msg, &[]);
        assert_eq!(verdict["action"].as_str(), *want, "decoder, {what}: {verdict}");
        src.send_raw(&bytes(&msg)).unwrap();
        match *want {
            Some("treat-as-withdraw") => until(&seen, what, p, |a| a.is_none()),
            // Kept, with the new MED, without the bad attribute.
            _ => until(&seen, what, p, |a| a.is_some_and(|a| a.med == Some(med))),
        }
        let o = seen.lock().unwrap();
        if let Some(a) = o.routes.get(&p) {
            assert!(!a.atomic_aggregate && a.aggregator.is_none(), "{what}: {a:?}");
            assert_eq!(a.local_pref, Some(100), "{what}: ours, not the peer's");
            if *what == "ONLY_TO_CUSTOMER well formed" {
                assert!(a.unknown.iter().any(|r| r.type_code == 35), "{what}: passed on: {a:?}");
            }
            if *what == "COMMUNITIES twice" {
                let c = a.communities.as_ref().expect("the first copy kept");
                assert_eq!(c.len(), 1, "{what}: {c:?}");
                assert_eq!(c[0].0, 0xfde9, "{what}: the first copy");
            }
        }
    }

    // Problems that end the session: the NOTIFICATION is the decoder's.
    let resets = [
        (
            "MP_REACH_NLRI with a 3-byte IPv6 next hop",
            update(&(base(1) + "800e 0d 0002 01 03 200102 00 20 20010db8"), 40),
        ),
        (
            "withdrawn routes overrunning the message",
            frame(2, &bytes("00ff 0000")),
        ),
    ];
    for (what, msg) in resets {
        let verdict = decode(&msg, &[]);
        assert_eq!(verdict["action"], "session-reset", "decoder, {what}: {verdict}");
        let n = &verdict["notification"];
        let said = (
            n["code"].as_u64().unwrap(),
            n["subcode"].as_u64().unwrap(),
            n["data"].as_str().unwrap().to_string(),
        );
        src.send_raw(&bytes(&msg)).unwrap();
        let answer = loop {
            match src.recv_within(Duration::from_secs(10)).expect("ternd answers") {
                Some(Message::Notification(n)) => {
                    break (u64::from(n.code), u64::from(n.subcode), hex::encode(&n.data))
                }
                Some(_) => continue,
                None => panic!("{what}: no NOTIFICATION"),
            }
        };
        assert_eq!(answer, said, "session and decoder, {what}");
        src = source();
    }

    let o = seen.lock().unwrap();
    assert!(o.violations.is_empty(), "{:#?}", o.violations);

    // Malformed input is logged once per peer per minute, excerpts bounded:
    // over a dozen malformed UPDATEs and two malformed messages from src in
    // well under a minute, one line.
    let log = t.proc.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("src") && (l.contains("RFC 7606") || l.contains("malformed message")))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].len() < 1200, "{}", lines[0]);
}
