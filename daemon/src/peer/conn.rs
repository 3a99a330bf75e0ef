//! One TCP connection of a peer: a reader task that frames messages and a
//! writer task that writes what the peer task (OPEN, KEEPALIVE,
//! NOTIFICATION) and the routing engine (UPDATEs) queue for it.
//!
//! Both directions are bounded. Inbound, each UPDATE takes a permit of
//! the shared `in_flight` semaphore until the engine has applied it, so a
//! flood waits in the peer's TCP window, not in our memory. Outbound, the
//! engine counts the bytes it queued and stops producing for a peer above
//! its high mark ([`rib::out::out_high`]); the writer tells it what was
//! written ([`RdeMsg::Written`]), which lets it produce again.

use std::net::SocketAddr;

use bgp_fsm::ConnId;
use bgp_wire::{split_message, SessionCtx};
use bytes::{Bytes, BytesMut};
use rib::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::PeerTx;
use crate::rde::RdeMsg;

/// What the connection tasks report to their peer task.
pub enum ConnEvent {
    Connected(TcpStream),
    ConnectFailed(String),
    /// A message, with the permit it took if it is an UPDATE.
    Frame(Bytes, Option<OwnedSemaphorePermit>),
    Framing(bgp_wire::HeaderError),
    Closed(Option<String>),
    /// Everything queued was written (RFC 9687: the peer is reading).
    Drained,
}

/// What a writer is asked to do.
pub enum WriterMsg {
    /// Bytes from the peer task.
    Data(Bytes),
    /// UPDATEs from the routing engine for session `epoch`.
    Updates { epoch: u64, bytes: Bytes },
    /// Flush and send FIN.
    Close,
}

/// Where the writer of a connection takes its work.
pub type WriterTx = crate::mailbox::Sender<WriterMsg>;

/// A connection's tasks.
pub struct Conn {
    pub tx: WriterTx,
    pub reader: tokio::task::JoinHandle<()>,
    pub writer: tokio::task::JoinHandle<()>,
    pub local: Option<SocketAddr>,
}

/// The read buffer's room for the next read, grown while reads fill it
/// and shrunk while they do not.
const READ_MIN: usize = 4 * 1024;
const READ_MAX: usize = 64 * 1024;

/// Most bytes joined into one write.
const MAX_WRITE: usize = 1 << 20;

/// Starts the reader and writer of connection `id` of peer `peer`.
pub fn attach(
    id: ConnId,
    peer: PeerId,
    stream: TcpStream,
    events: PeerTx,
    rde: mpsc::UnboundedSender<RdeMsg>,
    in_flight: std::sync::Arc<Semaphore>,
    updates_out: prometheus_client::metrics::counter::Counter,
) -> Conn {
    let local = stream.local_addr().ok();
    let _ = stream.set_nodelay(true);
    super::sockopt::set_notsent_lowat(&stream);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = crate::mailbox::channel::<WriterMsg>();
    let writer = tokio::spawn(write(id, peer, wr, rx, events.clone(), rde, updates_out));
    let reader = tokio::spawn(read(id, rd, events, in_flight));
    Conn {
        tx,
        reader,
        writer,
        local,
    }
}

async fn write(
    id: ConnId,
    peer: PeerId,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: crate::mailbox::Receiver<WriterMsg>,
    events: PeerTx,
    rde: mpsc::UnboundedSender<RdeMsg>,
    updates_out: prometheus_client::metrics::counter::Counter,
) {
    let mut bufs: Vec<Bytes> = Vec::new();
    while let Some(m) = rx.recv().await {
        // Whatever else is queued goes in the same (vectored) write: one
        // system call for many small UPDATEs, and no copy of them.
        let mut close = false;
        let mut updates: Option<(u64, usize)> = None;
        let mut queued = 0;
        let mut next = Some(m);
        while let Some(m) = next.take() {
            match m {
                WriterMsg::Data(b) => {
                    queued += b.len();
                    bufs.push(b);
                }
                WriterMsg::Updates { epoch, bytes } => {
                    queued += bytes.len();
                    updates_out.inc_by(crate::metrics::count_updates(&bytes));
                    let e = updates.get_or_insert((epoch, 0));
                    if e.0 == epoch {
                        e.1 += bytes.len();
                    }
                    bufs.push(bytes);
                }
                WriterMsg::Close => {
                    close = true;
                    break;
                }
            }
            if queued < MAX_WRITE {
                next = rx.try_recv();
            }
        }
        if let Err(e) = write_all(&mut wr, &mut bufs).await {
            events.conn(id, ConnEvent::Closed(Some(e.to_string())));
            return;
        }
        if let Some((epoch, bytes)) = updates {
            let _ = rde.send(RdeMsg::Written { peer, epoch, bytes });
        }
        if close {
            break;
        }
        if rx.is_empty() {
            events.conn(id, ConnEvent::Drained);
        }
    }
    let _ = wr.shutdown().await;
}

/// Writes every buffer, in order, with as few system calls as the socket
/// allows; leaves `bufs` empty.
async fn write_all(wr: &mut tokio::net::tcp::OwnedWriteHalf, bufs: &mut Vec<Bytes>) -> std::io::Result<()> {
    use bytes::Buf;
    let mut i = 0;
    loop {
        while bufs.get(i).is_some_and(|b| b.is_empty()) {
            i += 1;
        }
        if i == bufs.len() {
            break;
        }
        let slices: Vec<std::io::IoSlice> = bufs[i..].iter().take(64).map(|b| std::io::IoSlice::new(b)).collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && i < bufs.len() {
            let len = bufs[i].len();
            if n >= len {
                n -= len;
                i += 1;
            } else {
                bufs[i].advance(n);
                n = 0;
            }
        }
    }
    bufs.clear();
    Ok(())
}

async fn read(
    id: ConnId,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    events: PeerTx,
    in_flight: std::sync::Arc<Semaphore>,
) {
    // The buffer starts small and grows while reads fill it, so a full
    // table still arrives in 64 kB reads. While no partial message waits
    // in it, it is let go before waiting for the socket: a reflector's
    // thousands of idle clients hold no read buffer at all (the frames
    // split off it keep their bytes alive until they are applied).
    let mut want = READ_MIN;
    let mut buf = BytesMut::new();
    // Framing allows the largest messages any session may use; the peer
    // task checks each against what was negotiated.
    let lenient = SessionCtx {
        extended_message: true,
        ..SessionCtx::default()
    };
    loop {
        loop {
            match split_message(&mut buf, &lenient) {
                Ok(Some(f)) => {
                    // UPDATEs wait for room in the engine's queue.
                    let permit = match f.get(18) {
                        Some(2) => in_flight.clone().acquire_owned().await.ok(),
                        _ => None,
                    };
                    if !events.conn(id, ConnEvent::Frame(f, permit)) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    events.conn(id, ConnEvent::Framing(e));
                    return;
                }
            }
        }
        if buf.is_empty() {
            buf = BytesMut::new();
            if let Err(e) = rd.readable().await {
                events.conn(id, ConnEvent::Closed(Some(e.to_string())));
                return;
            }
        }
        // Allocates only when the room left is short of `want`.
        buf.reserve(want);
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                events.conn(id, ConnEvent::Closed(None));
                return;
            }
            Ok(n) if n >= want => want = (want * 2).min(READ_MAX),
            Ok(n) if n < want / 4 => want = (want / 2).max(READ_MIN),
            Ok(_) => {}
            Err(e) => {
                events.conn(id, ConnEvent::Closed(Some(e.to_string())));
                return;
            }
        }
    }
}
