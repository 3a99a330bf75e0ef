//! A blocking rtnetlink socket: dumps, and batches of requests written in
//! one `send` each. Only failures are acknowledged, and the last request
//! of a batch always is, so a batch of a thousand routes costs two system
//! calls, not two thousand (`ip -batch` waits for an answer per route).

use std::io;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

/// Requests per `send`: their acknowledgements (for failures) must fit the
/// receive buffer, or the kernel drops them.
const BATCH: usize = 512;
/// Bytes of requests per `send`.
const BATCH_BYTES: usize = 64 * 1024;

/// A request that failed: its place in the batch and the kernel's error.
#[derive(Debug)]
pub struct Failure {
    pub index: usize,
    pub error: io::Error,
}

/// One rtnetlink socket.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    out: Vec<u8>,
}

impl Netlink {
    /// A socket for requests and dumps; with `groups`, also for the
    /// multicast groups given (`RTNLGRP_*` numbers).
    pub fn open(groups: &[u32]) -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        // Route dumps and notifications of a full table come in bursts.
        let _ = sock.set_rx_buf_sz(8 << 20);
        for g in groups {
            sock.add_membership(*g)?;
        }
        Ok(Netlink {
            sock,
            seq: 1,
            out: Vec::with_capacity(BATCH_BYTES),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Every object a dump request returns.
    pub fn dump(&mut self, request: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.next_seq();
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = seq;
        let mut m = NetlinkMessage::new(header, NetlinkPayload::from(request));
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        let mut got = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            for m in parse(&data) {
                if m.header.sequence_number != seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(got),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(x) => got.push(x),
                    _ => {}
                }
            }
        }
    }

    /// Sends `requests` (each with its `NLM_F_*` flags besides
    /// `NLM_F_REQUEST`) and returns those the kernel refused.
    pub fn batch(&mut self, requests: Vec<(RouteNetlinkMessage, u16)>) -> io::Result<Vec<Failure>> {
        let mut failures = Vec::new();
        let mut chunk: Vec<(u32, usize)> = Vec::new();
        let n = requests.len();
        for (index, (msg, flags)) in requests.into_iter().enumerate() {
            let seq = self.next_seq();
            let mut header = NetlinkHeader::default();
            header.flags = NLM_F_REQUEST | flags;
            header.sequence_number = seq;
            let mut m = NetlinkMessage::new(header, NetlinkPayload::from(msg));
            m.finalize();
            let last = chunk.len() + 1 == BATCH || index + 1 == n || self.out.len() + m.buffer_len() >= BATCH_BYTES;
            if last {
                m.header.flags |= NLM_F_ACK;
            }
            let at = self.out.len();
            self.out.resize(at + m.buffer_len(), 0);
            m.serialize(&mut self.out[at..]);
            chunk.push((seq, index));
            if last {
                self.flush(&mut chunk, &mut failures)?;
            }
        }
        Ok(failures)
    }

    /// Writes the requests gathered and reads answers up to the last one's.
    fn flush(&mut self, chunk: &mut Vec<(u32, usize)>, failures: &mut Vec<Failure>) -> io::Result<()> {
        let Some(&(last_seq, _)) = chunk.last() else {
            return Ok(());
        };
        let sent = self.sock.send(&self.out, 0);
        self.out.clear();
        if let Err(e) = sent {
            chunk.clear();
            return Err(e);
        }
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            let mut done = false;
            for m in parse(&data) {
                let seq = m.header.sequence_number;
                if let NetlinkPayload::Error(e) = m.payload {
                    if let Some(code) = e.code {
                        if let Some(&(_, index)) = chunk.iter().find(|(s, _)| *s == seq) {
                            failures.push(Failure {
                                index,
                                error: io::Error::from_raw_os_error(-code.get()),
                            });
                        }
                    }
                    if seq == last_seq {
                        done = true;
                    }
                }
            }
            if done {
                chunk.clear();
                return Ok(());
            }
        }
    }

    /// Waits for the next notifications (a socket opened with groups).
    pub fn receive(&mut self) -> io::Result<Vec<RouteNetlinkMessage>> {
        let (data, _) = self.sock.recv_from_full()?;
        Ok(parse(&data)
            .into_iter()
            .filter_map(|m| match m.payload {
                NetlinkPayload::InnerMessage(x) => Some(x),
                _ => None,
            })
            .collect())
    }
}

/// The messages in one datagram; undecodable ones are skipped (a newer
/// kernel's attributes are not our concern).
fn parse(mut data: &[u8]) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    while data.len() >= 16 {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < 16 || len > data.len() {
            break;
        }
        if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[..len]) {
            out.push(m);
        }
        let step = (len + 3) & !3;
        data = &data[step.min(data.len())..];
    }
    out
}
