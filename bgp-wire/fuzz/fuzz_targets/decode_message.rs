//! Fuzzes message framing and decoding under every session context.
//!
//! The first input byte picks the context (4-octet AS, ADD-PATH for IPv4
//! and IPv6, extended messages); the rest is a raw stream. Every message
//! the framer yields is decoded; one that decodes cleanly must re-encode
//! and decode to itself, so what we would send is what we understood.

#![no_main]

use bgp_wire::{split_message, Family, Message, SessionCtx};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, stream)) = data.split_first() else { return };
    let mut add_path = Vec::new();
    if flags & 2 != 0 {
        add_path.push(Family::IPV4_UNICAST);
    }
    if flags & 4 != 0 {
        add_path.push(Family::IPV6_UNICAST);
    }
    let ctx = SessionCtx { four_octet_as: flags & 1 != 0, add_path, extended_message: flags & 8 != 0 };
    let mut buf = BytesMut::from(stream);
    while let Ok(Some(frame)) = split_message(&mut buf, &ctx) {
        let Ok(msg) = Message::decode(&frame, &ctx) else { continue };
        if let Message::Update(u) = &msg {
            // Touch every prefix, as a RIB would.
            let _ = u.announced().count() + u.withdrawals().count();
            if !u.errors.is_empty() {
                continue;
            }
        }
        if let Ok(again) = msg.to_bytes(&ctx) {
            let back = Message::decode(&again, &ctx).expect("our own encoding decodes");
            assert_eq!(back, msg, "re-encoding changed the message");
        }
    }
});
