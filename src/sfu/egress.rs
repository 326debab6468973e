//! Sends the datagrams one turn of a media thread's loop produced: batched
//! with `sendmmsg`, and with UDP segmentation offload (GSO) where several
//! datagrams of the same size go to the same participant — a video frame's
//! packets, for one subscriber. The kernel then walks its IP and UDP send
//! path once per group instead of once per datagram and cuts the group into
//! datagrams at the end (or the network card does); on the wire and to the
//! receiver they are ordinary datagrams.

use super::SfuStats;
use super::core::Network;
use arrayvec::ArrayVec;
use nix::errno::Errno;
use nix::sys::socket::{getsockopt, setsockopt, sockopt};
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Messages sent with one `sendmmsg` at most.
const SEND_BATCH: usize = 32;
/// Datagrams in one GSO message at most (the kernel's `UDP_MAX_SEGMENTS`
/// is 64 on older kernels, 128 on newer ones).
const MAX_SEGMENTS: usize = 64;
/// Bytes of one GSO message at most: below the 64 KiB an IP packet can
/// carry, headers included.
const MAX_GSO_BYTES: usize = 60_000;

/// Collects the core's datagrams during one turn of the loop and sends them
/// after it, when the batch's one drain per subscriber is done. The buffers
/// are kept and reused, so sending allocates nothing in steady state.
pub struct BatchNetwork<'a> {
    sockets: &'a [UdpSocket],
    announced: &'a [SocketAddr],
    /// Whether the kernel takes GSO on each socket.
    gso: Vec<bool>,
    /// The segment size set on each socket (`UDP_SEGMENT`; 0: none).
    segment_set: Vec<u16>,
    /// The payloads, back to back.
    bytes: Vec<u8>,
    /// (socket index, destination, end of its payload in `bytes`).
    queued: Vec<(usize, SocketAddr, usize)>,
    stats: Arc<SfuStats>,
    shard: usize,
}

impl Network for BatchNetwork<'_> {
    fn send(&mut self, source: SocketAddr, destination: SocketAddr, payload: &[u8]) {
        let index = self
            .announced
            .iter()
            .position(|a| *a == source)
            .or_else(|| {
                self.announced
                    .iter()
                    .position(|a| a.is_ipv4() == destination.is_ipv4())
            });
        if let Some(i) = index {
            self.bytes.extend_from_slice(payload);
            self.queued.push((i, destination, self.bytes.len()));
        }
    }
}

/// One message of a `sendmmsg` call: one datagram, or several of the same
/// size (the last may be shorter) to the same destination.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    destination: SocketAddr,
    /// Its payload in `bytes`.
    bytes: Range<usize>,
    /// Its datagrams in `queued`.
    datagrams: Range<usize>,
}

/// One `sendmmsg` call: messages from one socket that share one segment
/// size. A single datagram no longer than the segment size is sent as it
/// is, so singles and groups mix in a call.
#[derive(Debug, PartialEq, Eq)]
struct Call {
    socket: usize,
    /// `None`: every message is a single datagram.
    segment: Option<u16>,
    messages: ArrayVec<Message, SEND_BATCH>,
}

/// The next call for `queued[first..]`, whose payloads start at byte
/// `start`. Keeps the order of the datagrams: only neighbours are grouped.
fn plan_call(queued: &[(usize, SocketAddr, usize)], first: usize, start: usize, gso: bool) -> Call {
    let socket = queued[first].0;
    let mut call = Call {
        socket,
        segment: None,
        messages: ArrayVec::new(),
    };
    // The longest single datagram in the call: it must not exceed the
    // segment size, or the kernel would cut it.
    let mut longest_single = 0;
    let (mut i, mut from) = (first, start);
    while i < queued.len() && !call.messages.is_full() && queued[i].0 == socket {
        let (_, destination, end) = queued[i];
        let size = end - from;
        let (mut j, mut group_end) = (i + 1, end);
        while gso && j < queued.len() && j - i < MAX_SEGMENTS {
            let (s, d, e) = queued[j];
            let next = e - group_end;
            if s != socket || d != destination || next > size || e - from > MAX_GSO_BYTES {
                break;
            }
            (j, group_end) = (j + 1, e);
            if next < size {
                break; // a shorter one can only be the last
            }
        }
        if j - i > 1 {
            let Ok(segment) = u16::try_from(size) else {
                break;
            };
            match call.segment {
                None if longest_single <= size => call.segment = Some(segment),
                Some(s) if s == segment => {}
                _ => break,
            }
        } else {
            if call.segment.is_some_and(|s| size > usize::from(s)) {
                break;
            }
            longest_single = longest_single.max(size);
        }
        call.messages.push(Message {
            destination,
            bytes: from..group_end,
            datagrams: i..j,
        });
        (i, from) = (j, group_end);
    }
    call
}

impl<'a> BatchNetwork<'a> {
    /// Sends from `sockets`, bound to `announced` (in the same order).
    pub fn new(
        sockets: &'a [UdpSocket],
        announced: &'a [SocketAddr],
        stats: Arc<SfuStats>,
        shard: usize,
    ) -> Self {
        // The probe fails on kernels without UDP GSO (before 4.18).
        let gso = sockets
            .iter()
            .map(|s| getsockopt(s, sockopt::UdpGsoSegment).is_ok())
            .collect();
        BatchNetwork {
            sockets,
            announced,
            gso,
            segment_set: vec![0; sockets.len()],
            bytes: Vec::new(),
            queued: Vec::new(),
            stats,
            shard,
        }
    }

    /// Sends everything queued. UDP: what does not fit into a full socket
    /// buffer is dropped, as the network would; an error that concerns one
    /// destination (ICMP unreachable from a departed browser) drops that
    /// message only.
    /// Returns how many datagrams were queued.
    pub fn flush(&mut self) -> usize {
        let queued = self.queued.len();
        let (mut next, mut start) = (0, 0);
        while next < self.queued.len() {
            let gso = self.gso[self.queued[next].0];
            let call = plan_call(&self.queued, next, start, gso);
            let last = call.messages.last().expect("a call has a message");
            (next, start) = (last.datagrams.end, last.bytes.end);
            self.send(&call);
        }
        self.bytes.clear();
        self.queued.clear();
        queued
    }

    fn send(&mut self, call: &Call) {
        // The segment size is set on the socket, not per message: rustix
        // has no `UDP_SEGMENT` control message, and reading the results of
        // nix's `sendmmsg` reads uninitialised memory. It changes about
        // once per call.
        let segment = call.segment.unwrap_or(0);
        if self.segment_set[call.socket] != segment {
            let udp = &self.sockets[call.socket];
            match setsockopt(udp, sockopt::UdpGsoSegment, &i32::from(segment)) {
                Ok(()) => self.segment_set[call.socket] = segment,
                Err(_) if segment != 0 => {
                    self.gso[call.socket] = false;
                    for m in &call.messages {
                        self.send_one_by_one(call.socket, m);
                    }
                    return;
                }
                // Turning it off takes any socket that took it on.
                Err(_) => {}
            }
        }
        let udp = &self.sockets[call.socket];
        let addresses: ArrayVec<SocketAddrAny, SEND_BATCH> =
            call.messages.iter().map(|m| m.destination.into()).collect();
        let slices: ArrayVec<[IoSlice<'_>; 1], SEND_BATCH> = call
            .messages
            .iter()
            .map(|m| [IoSlice::new(&self.bytes[m.bytes.clone()])])
            .collect();
        let mut controls: [SendAncillaryBuffer<'_, '_, '_>; SEND_BATCH] =
            std::array::from_fn(|_| SendAncillaryBuffer::default());
        let mut headers: ArrayVec<MMsgHdr<'_>, SEND_BATCH> = addresses
            .iter()
            .zip(&slices)
            .zip(&mut controls)
            .map(|((a, s), c)| MMsgHdr::new_with_addr(a, s, c))
            .collect();
        let mut refused = ArrayVec::<usize, SEND_BATCH>::new();
        let mut sent = 0;
        while sent < call.messages.len() {
            let result = udp.try_io(Interest::WRITABLE, || {
                sendmmsg(udp, &mut headers[sent..], SendFlags::DONTWAIT).map_err(io::Error::from)
            });
            match result {
                Ok(n) if n > 0 => {
                    if call.segment.is_some() {
                        let grouped: usize = call.messages[sent..sent + n]
                            .iter()
                            .map(|m| m.datagrams.len())
                            .filter(|&d| d > 1)
                            .sum();
                        self.stats.gso_datagrams.add(self.shard, grouped as u64);
                    }
                    sent += n;
                }
                // A full socket buffer: the rest of the call is dropped.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // The kernel refuses GSO towards this destination: its
                // route's MTU is below the segment size, or IPsec. Its
                // datagrams go one by one below (and are fragmented, as
                // they would have been without GSO).
                Err(e) if call.segment.is_some() && refuses_gso(&e) => {
                    refused.push(sent);
                    sent += 1;
                }
                // The message at `sent` failed on its own.
                _ => sent += 1,
            }
        }
        drop(headers);
        drop(slices);
        for m in refused {
            self.stats.gso_refused.add(self.shard, 1);
            self.send_one_by_one(call.socket, &call.messages[m]);
        }
    }

    /// Sends a GSO message's datagrams as single datagrams.
    fn send_one_by_one(&mut self, socket: usize, message: &Message) {
        let mut from = message.bytes.start;
        let mut next = message.datagrams.start;
        while next < message.datagrams.end {
            let mut singles = Call {
                socket,
                segment: None,
                messages: ArrayVec::new(),
            };
            while next < message.datagrams.end && !singles.messages.is_full() {
                let (_, destination, end) = self.queued[next];
                singles.messages.push(Message {
                    destination,
                    bytes: from..end,
                    datagrams: next..next + 1,
                });
                (from, next) = (end, next + 1);
            }
            self.send(&singles);
        }
    }
}

/// Whether a send failed because of GSO (so without it, it may not):
/// `EMSGSIZE` when a segment does not fit the route's MTU (`EINVAL` on
/// kernels before 6.x), `EIO` towards IPsec.
fn refuses_gso(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMSGSIZE | Errno::EINVAL | Errno::EIO)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> SocketAddr {
        "192.0.2.1:5000".parse().unwrap()
    }
    fn b() -> SocketAddr {
        "192.0.2.2:6000".parse().unwrap()
    }

    /// `queued` for (socket, destination, size) datagrams.
    fn queue(datagrams: &[(usize, SocketAddr, usize)]) -> Vec<(usize, SocketAddr, usize)> {
        let mut end = 0;
        datagrams
            .iter()
            .map(|&(s, d, size)| {
                end += size;
                (s, d, end)
            })
            .collect()
    }

    /// Every call `flush` would make: (socket, segment, datagrams per message).
    fn plan(
        queued: &[(usize, SocketAddr, usize)],
        gso: bool,
    ) -> Vec<(usize, Option<u16>, Vec<usize>)> {
        let (mut next, mut start) = (0, 0);
        let mut calls = Vec::new();
        while next < queued.len() {
            let call = plan_call(queued, next, start, gso);
            let last = call.messages.last().unwrap();
            (next, start) = (last.datagrams.end, last.bytes.end);
            let sizes = call.messages.iter().map(|m| m.datagrams.len()).collect();
            calls.push((call.socket, call.segment, sizes));
        }
        calls
    }

    #[test]
    fn a_frame_to_one_subscriber_is_one_message_with_its_short_last_packet() {
        let q = queue(&[
            (0, a(), 1000),
            (0, a(), 1000),
            (0, a(), 1000),
            (0, a(), 400),
        ]);
        assert_eq!(plan(&q, true), vec![(0, Some(1000), vec![4])]);
        assert_eq!(plan(&q, false), vec![(0, None, vec![1, 1, 1, 1])]);
    }

    #[test]
    fn the_same_frame_for_several_subscribers_shares_one_call() {
        let q = queue(&[
            (0, a(), 1000),
            (0, a(), 1000),
            (0, b(), 1000),
            (0, b(), 1000),
            (0, b(), 120),
        ]);
        assert_eq!(plan(&q, true), vec![(0, Some(1000), vec![2, 3])]);
    }

    #[test]
    fn singles_join_a_call_when_no_longer_than_its_segment() {
        // Audio (short) before and after a frame: one call.
        let q = queue(&[(0, a(), 130), (0, b(), 900), (0, b(), 900), (0, a(), 130)]);
        assert_eq!(plan(&q, true), vec![(0, Some(900), vec![1, 2, 1])]);
        // A single longer than the segment would be cut: a new call.
        let q = queue(&[(0, a(), 300), (0, a(), 300), (0, b(), 1200)]);
        assert_eq!(
            plan(&q, true),
            vec![(0, Some(300), vec![2]), (0, None, vec![1])]
        );
        // A group after a longer single cannot take its segment size.
        let q = queue(&[(0, a(), 1200), (0, b(), 300), (0, b(), 300)]);
        assert_eq!(
            plan(&q, true),
            vec![(0, None, vec![1]), (0, Some(300), vec![2])]
        );
    }

    #[test]
    fn groups_of_another_size_socket_or_order_start_a_new_call() {
        let q = queue(&[
            (0, a(), 1000),
            (0, a(), 1000),
            (0, b(), 800),
            (0, b(), 800),
            (1, b(), 800),
            (1, b(), 800),
        ]);
        assert_eq!(
            plan(&q, true),
            vec![
                (0, Some(1000), vec![2]),
                (0, Some(800), vec![2]),
                (1, Some(800), vec![2])
            ]
        );
        // A longer datagram after a group starts the next message; order
        // is kept.
        let q = queue(&[(0, a(), 500), (0, a(), 500), (0, a(), 600), (0, a(), 600)]);
        assert_eq!(
            plan(&q, true),
            vec![(0, Some(500), vec![2]), (0, Some(600), vec![2])]
        );
    }

    #[test]
    fn a_message_stays_within_the_kernels_limits() {
        let q = queue(&vec![(0, a(), 1200); 120]);
        let calls = plan(&q, true);
        for (_, _, messages) in &calls {
            for &n in messages {
                assert!(
                    n <= MAX_SEGMENTS && n * 1200 <= MAX_GSO_BYTES,
                    "{n} datagrams"
                );
            }
        }
        let total: usize = calls.iter().flat_map(|c| c.2.iter()).sum();
        assert_eq!(total, 120);
        // And a call has at most SEND_BATCH messages.
        let q = queue(
            &(0..100)
                .map(|i| (0, if i % 2 == 0 { a() } else { b() }, 100))
                .collect::<Vec<_>>(),
        );
        let calls = plan(&q, true);
        assert_eq!(calls.len(), 4);
        assert!(calls.iter().all(|c| c.2.len() <= SEND_BATCH));
    }
}
