//! Readiness signalling threaded through the component tree.
//!
//! Everything below [`Rtc`][crate::Rtc] forms a tree, and both events and new
//! timeouts bubble up from the leaves. To avoid re-walking a quiescent tree on
//! every `poll_output`, each path that takes `&mut` access to a sub-component
//! is handed an armed [`Wake`] guard, threaded down like `&mut` state.
//!
//! A [`Wake`] defaults to re-polling *everything*: left untouched it signals
//! both a pending event drain and a timeout recompute. A component narrows it
//! locally — [`Wake::no_events`] / [`Wake::no_timeout`] — when it knows less
//! changed. The guard folds its (possibly narrowed) signal into the owning
//! [`Readiness`] on drop.
//!
//! The direction is deliberate: the safe default is to re-poll, and narrowing
//! is an opt-in optimization owned by the component that performed the
//! mutation. A forgotten narrowing or an over-broad wake costs at most one redundant
//! poll; it can never drop output. No component names another's scope, and
//! `Rtc` holds no knowledge of which mutation affects what.
//!
//! The app-facing API wrappers ([`DirectApi`][crate::change::DirectApi],
//! [`SdpApi`][crate::change::SdpApi], [`Channel`][crate::channel::Channel],
//! [`Bwe`][crate::bwe::Bwe]) hold an [`RtcMut`] instead of `&mut Rtc`. It arms
//! the readiness on *mutable* deref only, so a `&mut self` method that mutates
//! re-polls the tree while a `&self` reader never does — and neither has to
//! remember to call anything.

use std::ops::{Deref, DerefMut};

use crate::Rtc;

/// A `&mut Rtc` handle that re-polls the tree when it is used mutably.
///
/// Change detection, à la a dirty-flag on mutable access: `deref` is a plain
/// read and never arms; `deref_mut` arms both halves (the safe default).
/// Because a `&self` method can only reach `deref` and a mutating `&mut self`
/// method reaches `deref_mut`, "mutation re-polls, reads don't" is enforced by
/// the borrow checker — a new method can't forget, and a read-only method
/// can't accidentally arm.
///
/// Deliberately has no `Drop`: the API wrappers are held in `let` bindings
/// across other `Rtc` use, and a destructor would extend their borrow to the
/// end of scope. Arming therefore happens eagerly on the mutable access.
///
/// When a mutation only affects one half of the re-poll — and especially when
/// that isn't known until the mutation is underway — take it through
/// [`RtcMut::mutate`] and narrow the returned [`Mutation`] guard.
pub(crate) struct RtcMut<'a> {
    rtc: &'a mut Rtc,
}

impl<'a> RtcMut<'a> {
    pub(crate) fn new(rtc: &'a mut Rtc) -> Self {
        RtcMut { rtc }
    }

    /// Begin a mutation whose re-poll can be narrowed *after the fact*.
    ///
    /// The returned [`Mutation`] derefs to `Rtc`, so mutate through it, then
    /// (optionally, conditionally) call [`Mutation::no_events`] /
    /// [`Mutation::no_timeout`]. It folds its own — per-operation, never shared
    /// — signal into the readiness when it drops.
    ///
    /// Plain `&mut *` (via [`DerefMut`]) is the shorthand for "arm both": it's
    /// what methods that don't narrow, or that return a `&mut` borrowed from
    /// the tree (which can't outlive a guard), use instead.
    pub(crate) fn mutate(&mut self) -> Mutation<'_> {
        Mutation {
            rtc: self.rtc,
            events: true,
            timeout: true,
        }
    }
}

impl Deref for RtcMut<'_> {
    type Target = Rtc;

    fn deref(&self) -> &Rtc {
        self.rtc
    }
}

impl DerefMut for RtcMut<'_> {
    fn deref_mut(&mut self) -> &mut Rtc {
        self.rtc.readiness.wake();
        self.rtc
    }
}

/// A single mutation in progress, obtained from [`RtcMut::mutate`].
///
/// Derefs to `Rtc` for the actual change. Armed for both halves by default;
/// narrow with [`Mutation::no_events`] / [`Mutation::no_timeout`] at any point
/// before it drops — including conditionally, once the mutation has revealed
/// which half it touched. Folds the (possibly narrowed) signal into the
/// readiness on drop.
///
/// The signal is private to this one guard, so narrowing here can never
/// interfere with another method call's decision regardless of call order —
/// the property a long-lived shared guard could not offer.
pub(crate) struct Mutation<'a> {
    rtc: &'a mut Rtc,
    events: bool,
    timeout: bool,
}

impl Mutation<'_> {
    /// Assert this mutation queued no event or transmit.
    pub(crate) fn no_events(&mut self) {
        self.events = false;
    }

    /// Assert this mutation moved no timer.
    pub(crate) fn no_timeout(&mut self) {
        self.timeout = false;
    }
}

impl Deref for Mutation<'_> {
    type Target = Rtc;

    fn deref(&self) -> &Rtc {
        self.rtc
    }
}

impl DerefMut for Mutation<'_> {
    fn deref_mut(&mut self) -> &mut Rtc {
        self.rtc
    }
}

impl Drop for Mutation<'_> {
    fn drop(&mut self) {
        let mut wake = self.rtc.readiness.wake();
        if !self.events {
            wake.no_events();
        }
        if !self.timeout {
            wake.no_timeout();
        }
    }
}

/// The accumulated re-poll signal owned by [`Rtc`][crate::Rtc].
///
/// `poll_output` reads it to decide whether to walk the event pipeline and
/// whether to recompute the next timeout, clearing each half once it has
/// proven that part of the tree quiescent.
#[derive(Debug)]
pub(crate) struct Readiness {
    events: bool,
    timeout: bool,
    /// funkraum patch: whether the session's events (and stats) must be
    /// polled again. Armed with `events`; cleared once they were polled
    /// empty, while the pipeline still drains transmits. Sending queues no
    /// event (unless raw packets are recorded), so a drain of n datagrams
    /// walks the session's event sources once instead of n + 1 times; in
    /// an SFU that walk visits every stream of the subscriber.
    session_events: bool,
    /// funkraum patch: the `Rtc` was drained to a timeout and since then
    /// only RTP was written through `Rtc::write_rtp`: `quiet_until`
    /// is still when anything else in it is due. Any other mutation takes
    /// a `wake` guard, which clears it.
    only_writes: bool,
}

impl Readiness {
    /// A fresh instance must poll the whole tree once.
    pub(crate) fn armed() -> Self {
        Readiness {
            events: true,
            timeout: true,
            session_events: true,
            only_writes: false,
        }
    }

    pub(crate) fn wants_events(&self) -> bool {
        self.events
    }

    pub(crate) fn wants_timeout(&self) -> bool {
        self.timeout
    }

    pub(crate) fn clear_events(&mut self) {
        self.events = false;
        self.session_events = false;
    }

    pub(crate) fn wants_session_events(&self) -> bool {
        self.session_events
    }

    pub(crate) fn clear_session_events(&mut self) {
        self.session_events = false;
    }

    pub(crate) fn clear_timeout(&mut self) {
        self.timeout = false;
    }

    /// funkraum patch: see `only_writes`. Called when a drain reached its
    /// timeout.
    pub(crate) fn set_drained(&mut self) {
        self.only_writes = true;
    }

    pub(crate) fn only_writes(&self) -> bool {
        self.only_writes
    }

    /// funkraum patch: RTP was written (`Rtc::write_rtp`): the pipeline
    /// must be walked and the timeout recomputed, but the session's events
    /// need no walk (a write queues none) and `only_writes` stays.
    pub(crate) fn written(&mut self) {
        self.events = true;
        self.timeout = true;
    }

    /// Hand out an armed guard for a mutable descent into the tree.
    pub(crate) fn wake(&mut self) -> Wake<'_> {
        self.only_writes = false;
        Wake {
            readiness: self,
            events: true,
            timeout: true,
        }
    }
}

/// An armed guard threaded into a component's mutating methods.
///
/// Narrowed locally by the component and folded into [`Readiness`] on drop.
/// See the [module docs][self].
///
/// Dropping it immediately (e.g. `self.rtc.readiness.wake();`) is the
/// conservative default: it re-polls everything. Narrow first to do less.
pub(crate) struct Wake<'a> {
    readiness: &'a mut Readiness,
    events: bool,
    timeout: bool,
}

impl Wake<'_> {
    /// Assert this path queued no event or transmit, so the event pipeline
    /// need not be walked on its behalf.
    pub(crate) fn no_events(&mut self) {
        self.events = false;
    }

    /// Assert this path did not move any timer, so the next timeout need not
    /// be recomputed on its behalf.
    pub(crate) fn no_timeout(&mut self) {
        self.timeout = false;
    }
}

impl Drop for Wake<'_> {
    fn drop(&mut self) {
        self.readiness.events |= self.events;
        self.readiness.session_events |= self.events;
        self.readiness.timeout |= self.timeout;
    }
}

#[cfg(test)]
impl Readiness {
    pub(crate) fn idle() -> Self {
        Self {
            events: false,
            timeout: false,
            session_events: false,
            only_writes: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bwe::Bitrate;
    use crate::crypto::dtls::{KeyingMaterial, SrtpProfile};
    use crate::media::MediaKind;
    use crate::{Input, Output};
    use std::time::Instant;

    fn idle_rtc() -> Rtc {
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .enable_bwe(Some(Bitrate::kbps(300)))
            .build(now);
        let profile = SrtpProfile::AEAD_AES_128_GCM;
        let mat = KeyingMaterial::new(&vec![0; profile.keying_material_len()]);
        rtc.session
            .set_keying_material(mat, crate::crypto::test_default_provider(), profile, true);
        rtc.direct_api()
            .declare_media("vid".into(), MediaKind::Video);
        rtc.direct_api()
            .declare_stream_tx(42.into(), None, "vid".into(), None);
        rtc.handle_input(Input::Timeout(now)).unwrap();
        while !matches!(rtc.poll_output().unwrap(), Output::Timeout(_)) {}
        assert!(!rtc.readiness.wants_events());
        assert!(!rtc.readiness.wants_timeout());
        rtc
    }

    #[test]
    fn readiness_bwe_set_bitrate_only_wakes_timeout() {
        let mut rtc = idle_rtc();
        rtc.bwe().set_bitrate(Bitrate::kbps(100), Bitrate::mbps(2));
        assert!(!rtc.readiness.wants_events());
        assert!(rtc.readiness.wants_timeout());
        assert!(
            rtc.session.poll_event().is_none(),
            "no hidden event behind the narrowed flag"
        );
        let expected = rtc.poll_timeout();
        assert!(matches!(rtc.poll_output().unwrap(), Output::Timeout(at) if at == expected));
    }

    #[test]
    fn readiness_bwe_reset_only_wakes_timeout() {
        let mut rtc = idle_rtc();
        rtc.bwe().reset(Bitrate::kbps(900));
        assert!(!rtc.readiness.wants_events());
        assert!(rtc.readiness.wants_timeout());
        assert!(
            rtc.session.poll_event().is_none(),
            "reset produces estimates on a later timeout"
        );
        let expected = rtc.poll_timeout();
        assert!(matches!(rtc.poll_output().unwrap(), Output::Timeout(at) if at == expected));
    }

    #[test]
    fn readiness_outgoing_app_feedback_only_wakes_events() {
        let mut rtc = idle_rtc();
        let before = rtc.session.poll_timeout();
        rtc.direct_api()
            .send_app_specific_feedback(42.into(), 43.into(), vec![1, 2, 3, 4]);
        assert!(rtc.readiness.wants_events());
        assert!(!rtc.readiness.wants_timeout());
        assert_eq!(rtc.session.poll_timeout(), before);
        assert!(
            rtc.session.poll_datagram(rtc.last_now).is_some(),
            "queued feedback must be sendable without a timeout"
        );
    }

    #[test]
    fn a_drain_polls_session_events_once_until_the_next_mutation() {
        let mut rtc = idle_rtc();
        // As if ICE had nominated a pair, so datagrams go out.
        rtc.send_addr = Some(crate::SendAddr {
            proto: crate::net::Protocol::Udp,
            source: "127.0.0.1:1".parse().unwrap(),
            destination: "127.0.0.1:2".parse().unwrap(),
        });
        rtc.direct_api()
            .send_app_specific_feedback(42.into(), 43.into(), vec![1, 2, 3, 4]);
        assert!(rtc.readiness.wants_session_events());
        assert!(matches!(rtc.poll_output().unwrap(), Output::Transmit(_)));
        assert!(rtc.readiness.wants_events(), "the drain goes on");
        assert!(
            !rtc.readiness.wants_session_events(),
            "sending queues no event: polled once per drain"
        );
        rtc.direct_api()
            .send_app_specific_feedback(42.into(), 43.into(), vec![5, 6, 7, 8]);
        assert!(
            rtc.readiness.wants_session_events(),
            "a mutation mid-drain polls them again"
        );
        while !matches!(rtc.poll_output().unwrap(), Output::Timeout(_)) {}
        assert!(!rtc.readiness.wants_events());
        assert!(!rtc.readiness.wants_session_events());
    }

    #[test]
    fn readiness_api_narrowing_preserves_other_mutations() {
        for feedback_first in [false, true] {
            let mut rtc = idle_rtc();
            if feedback_first {
                rtc.direct_api()
                    .send_app_specific_feedback(42.into(), 43.into(), vec![1, 2, 3, 4]);
                rtc.bwe().reset(Bitrate::kbps(900));
            } else {
                rtc.bwe().reset(Bitrate::kbps(900));
                rtc.direct_api()
                    .send_app_specific_feedback(42.into(), 43.into(), vec![1, 2, 3, 4]);
            }
            assert!(rtc.readiness.wants_events());
            assert!(rtc.readiness.wants_timeout());
        }
    }

    #[test]
    fn narrowing_preserves_other_operations() {
        for events in [false, true] {
            for timeout in [false, true] {
                let mut readiness = Readiness {
                    events,
                    timeout,
                    session_events: events,
                    only_writes: false,
                };
                {
                    let mut wake = readiness.wake();
                    wake.no_events();
                    wake.no_timeout();
                }
                assert_eq!(readiness.wants_events(), events);
                assert_eq!(readiness.wants_timeout(), timeout);
            }
        }
    }

    /// funkraum patch: RTP written through `Rtc::write_rtp` leaves as
    /// through the direct API — the same packets in the same drains —
    /// although the timeouts after writes then only stamp the written
    /// packets and refresh the pacer with their queues. (The timeouts
    /// themselves differ: a whole timeout also runs every timer early,
    /// which then asks to be woken later, e.g. the bandwidth estimator's
    /// 25 ms update.)
    #[test]
    fn timeouts_after_writes_send_as_whole_timeouts_do() {
        use crate::rtp_::{SeqNo, Ssrc};
        use crate::streams::RtpWrite;
        use std::time::Duration;

        let start = Instant::now();
        // One stream of each kind: with more, the pacer's choice between
        // equal queues follows the order of a `HashMap`, which differs
        // between the two `Rtc`s compared.
        let streams: [(u32, &str, MediaKind); 2] =
            [(100, "a", MediaKind::Audio), (101, "v", MediaKind::Video)];
        let build = |estimate: Bitrate| {
            let mut rtc = Rtc::builder().enable_bwe(Some(estimate)).build(start);
            let profile = SrtpProfile::AEAD_AES_128_GCM;
            let mat = KeyingMaterial::new(&vec![0; profile.keying_material_len()]);
            rtc.session.set_keying_material(
                mat,
                crate::crypto::test_default_provider(),
                profile,
                true,
            );
            for (ssrc, mid, kind) in streams {
                rtc.direct_api().declare_media(mid.into(), kind);
                rtc.direct_api()
                    .declare_stream_tx(ssrc.into(), None, mid.into(), None);
            }
            rtc.send_addr = Some(crate::SendAddr {
                proto: crate::net::Protocol::Udp,
                source: "127.0.0.1:1".parse().unwrap(),
                destination: "127.0.0.1:2".parse().unwrap(),
            });
            rtc
        };
        // What identifies an RTP datagram without its ciphertext: the
        // header (SSRC, sequence number, time stamp) and its length.
        let head = |d: &[u8]| -> Vec<u8> {
            let mut h = d[..12].to_vec();
            h.extend_from_slice(&(d.len() as u32).to_be_bytes());
            h
        };
        let is_rtcp = |d: &[u8]| (200..=206).contains(&d[1]);

        let run = |through_rtc: bool, estimate: Bitrate| {
            let mut rtc = build(estimate);
            let mut drains = Vec::new();
            let mut rtcp = 0;
            let mut due = start;
            let mut seqs = [0u64; 2];
            let mut written_only = 0;
            for ms in 0..10_000u64 {
                let now = start + Duration::from_millis(ms);
                let mut wrote = false;
                for (i, (ssrc, mid, kind)) in streams.into_iter().enumerate() {
                    // Audio every 20 ms, video a frame of 1-5 packets every
                    // 33 ms.
                    let (period, packets, size) = match kind {
                        MediaKind::Audio => (20, 1, 100),
                        MediaKind::Video => (33, 1 + (ms / 33) % 5, 1000),
                    };
                    if (ms + 7 * i as u64) % period != 0 {
                        continue;
                    }
                    for _ in 0..packets {
                        seqs[i] += 1;
                        let write = RtpWrite::new(
                            96.into(),
                            SeqNo::from(seqs[i]),
                            (ms * 90) as u32,
                            now,
                            vec![i as u8; size],
                        )
                        .nackable(kind == MediaKind::Video);
                        if through_rtc {
                            assert!(rtc.write_rtp(Ssrc::from(ssrc), mid.into(), write));
                        } else {
                            let mut api = rtc.direct_api();
                            api.stream_tx(&Ssrc::from(ssrc)).unwrap().write_rtp(write);
                        }
                        wrote = true;
                    }
                }
                if !wrote && now < due {
                    continue;
                }
                if rtc.readiness.only_writes() && now < rtc.quiet_until {
                    written_only += 1;
                }
                rtc.handle_input(Input::Timeout(now)).unwrap();
                let mut sent = Vec::new();
                loop {
                    match rtc.poll_output().unwrap() {
                        Output::Timeout(t) if t <= now => {
                            rtc.handle_input(Input::Timeout(now)).unwrap();
                        }
                        Output::Timeout(t) => {
                            due = t;
                            break;
                        }
                        Output::Transmit(t) if is_rtcp(&t.contents) => rtcp += 1,
                        Output::Transmit(t) => sent.push(head(&t.contents)),
                        Output::Event(_) => {}
                    }
                }
                if !sent.is_empty() {
                    sent.sort();
                    drains.push((ms, sent));
                }
            }
            if through_rtc {
                // funkraum patch: the drains after writes computed their
                // timeout from the timers kept apart from sending (each
                // checked against the whole computation in
                // `Rtc::poll_timeout`).
                assert!(
                    rtc.timeouts_apart_reused > 500,
                    "{}",
                    rtc.timeouts_apart_reused
                );
            }
            (drains, rtcp, written_only)
        };

        // Paced by a high estimate (an SFU's usual case): each packet
        // leaves when it is written, in the same drain both ways.
        let (whole, whole_rtcp, none) = run(false, Bitrate::mbps(10));
        let (written, written_rtcp, written_only) = run(true, Bitrate::mbps(10));
        assert_eq!(none, 0, "a write through the direct API wakes everything");
        assert!(
            written_only > 500,
            "timeouts after writes only: {written_only}"
        );
        let packets: usize = whole.iter().map(|(_, sent)| sent.len()).sum();
        assert!(packets > 1_000, "{packets} RTP datagrams");
        for (w, o) in whole.iter().zip(&written) {
            assert_eq!(w, o, "RTP sent at {} ms", w.0);
        }
        assert_eq!(whole.len(), written.len());
        assert!(whole_rtcp > 0 && written_rtcp > 0);

        // Held back by a low estimate: the pacer's release times follow
        // when it was asked (its debt is paid down at each decision), and
        // whole timeouts ask it more often; every packet still leaves once,
        // at about the same time.
        let (whole, _, _) = run(false, Bitrate::kbps(400));
        let (written, _, written_only) = run(true, Bitrate::kbps(400));
        assert!(written_only > 300, "{written_only}");
        let sent_at = |drains: &[(u64, Vec<Vec<u8>>)]| {
            let mut at: Vec<(Vec<u8>, u64)> = drains
                .iter()
                .flat_map(|(ms, sent)| sent.iter().map(|h| (h.clone(), *ms)))
                .collect();
            at.sort();
            at
        };
        let (whole, written) = (sent_at(&whole), sent_at(&written));
        assert_eq!(whole.len(), written.len());
        for ((w, w_ms), (o, o_ms)) in whole.iter().zip(&written) {
            assert_eq!(w, o);
            // Within one of the pacer's intervals (40 ms); 15 ms at most
            // when this was written.
            assert!(w_ms.abs_diff(*o_ms) <= 40, "{w:?}: {w_ms} / {o_ms} ms");
        }
    }

    /// funkraum patch: an RTP packet received while the `Rtc` is quiet is
    /// not followed by a whole timeout (`Rtc::handle_input`). A receiver
    /// driven as funkraum's core drives it (a timeout already due is given
    /// at once) delivers the same packets and sends the same feedback
    /// (transport-wide, NACKs for the packets lost, receiver reports) in
    /// the same drains as one that follows every receive with a whole
    /// timeout.
    #[test]
    fn rtp_received_while_quiet_gives_what_whole_timeouts_give() {
        use crate::net::{Protocol, Receive};
        use crate::rtp_::{SeqNo, Ssrc};
        use crate::streams::RtpWrite;
        use std::time::Duration;

        let start = Instant::now();
        let streams: [(u32, &str, MediaKind); 2] =
            [(100, "a", MediaKind::Audio), (101, "v", MediaKind::Video)];
        let sender_addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        let receiver_addr: std::net::SocketAddr = "127.0.0.1:2".parse().unwrap();
        let build = |active: bool| {
            let mut rtc = if active {
                Rtc::builder()
                    .enable_bwe(Some(Bitrate::mbps(10)))
                    .build(start)
            } else {
                Rtc::builder().set_rtp_mode(true).build(start)
            };
            let profile = SrtpProfile::AEAD_AES_128_GCM;
            let mat = KeyingMaterial::new(&vec![7; profile.keying_material_len()]);
            rtc.session.set_keying_material(
                mat,
                crate::crypto::test_default_provider(),
                profile,
                active,
            );
            for (ssrc, mid, kind) in streams {
                rtc.direct_api().declare_media(mid.into(), kind);
                if active {
                    rtc.direct_api()
                        .declare_stream_tx(ssrc.into(), None, mid.into(), None);
                } else {
                    rtc.direct_api()
                        .expect_stream_rx(ssrc.into(), None, mid.into(), None);
                }
            }
            if !active {
                rtc.direct_api().enable_twcc_feedback();
            }
            let (source, destination) = if active {
                (sender_addr, receiver_addr)
            } else {
                (receiver_addr, sender_addr)
            };
            rtc.send_addr = Some(crate::SendAddr {
                proto: Protocol::Udp,
                source,
                destination,
            });
            rtc
        };
        let is_rtcp = |d: &[u8]| (200..=206).contains(&d[1]);

        // What the sender sends each millisecond (every 37th video packet
        // lost on the way; nothing from 4 s to 7 s, so the streams pause
        // and no receipt is left to report: the first packet after moves
        // those timers), the same for both receivers.
        let mut sender = build(true);
        let mut seqs = [0u64; 2];
        let mut lost = 0;
        let mut datagrams: Vec<Vec<Vec<u8>>> = Vec::new();
        for ms in 0..10_000u64 {
            let now = start + Duration::from_millis(ms);
            for (i, (ssrc, _, kind)) in streams.into_iter().enumerate() {
                let (period, packets, size) = match kind {
                    MediaKind::Audio => (20, 1, 100),
                    MediaKind::Video => (33, 1 + (ms / 33) % 5, 1000),
                };
                if (ms + 7 * i as u64) % period != 0 || (4_000..7_000).contains(&ms) {
                    continue;
                }
                for _ in 0..packets {
                    seqs[i] += 1;
                    let write = RtpWrite::new(
                        96.into(),
                        SeqNo::from(seqs[i]),
                        (ms * 90) as u32,
                        now,
                        vec![i as u8; size],
                    );
                    let mut api = sender.direct_api();
                    api.stream_tx(&Ssrc::from(ssrc)).unwrap().write_rtp(write);
                }
            }
            sender.handle_input(Input::Timeout(now)).unwrap();
            let mut sent = Vec::new();
            loop {
                match sender.poll_output().unwrap() {
                    Output::Timeout(t) if t <= now => {
                        sender.handle_input(Input::Timeout(now)).unwrap();
                    }
                    Output::Timeout(_) => break,
                    Output::Transmit(t) if is_rtcp(&t.contents) => {}
                    Output::Transmit(t) => {
                        let video =
                            u32::from_be_bytes(t.contents[8..12].try_into().unwrap()) == 101;
                        let seq = u16::from_be_bytes([t.contents[2], t.contents[3]]);
                        if video && seq % 37 == 0 {
                            lost += 1;
                        } else {
                            sent.push(t.contents.to_vec());
                        }
                    }
                    Output::Event(_) => {}
                }
            }
            datagrams.push(sent);
        }
        assert!(lost > 10, "{lost} packets lost");

        // What a receiver delivers and sends, per millisecond.
        #[derive(Debug, PartialEq)]
        enum Seen {
            Rtp(u32, u64),
            Rtcp(usize),
        }
        let run = |whole: bool| {
            let mut rtc = build(false);
            rtc.whole_timeout_after_every_receive = whole;
            let mut seen: Vec<(u64, Seen)> = Vec::new();
            let mut due = start;
            let mut quiet = 0;
            let drain = |rtc: &mut Rtc, ms: u64, now: Instant, seen: &mut Vec<(u64, Seen)>| loop {
                match rtc.poll_output().unwrap() {
                    Output::Timeout(t) if t <= now => {
                        rtc.handle_input(Input::Timeout(now)).unwrap();
                    }
                    Output::Timeout(t) => return t,
                    Output::Transmit(t) => {
                        assert!(is_rtcp(&t.contents));
                        seen.push((ms, Seen::Rtcp(t.contents.len())));
                    }
                    Output::Event(crate::Event::RtpPacket(p)) => {
                        seen.push((ms, Seen::Rtp(*p.header.ssrc, *p.seq_no)));
                    }
                    Output::Event(_) => {}
                }
            };
            for (ms, sent) in datagrams.iter().enumerate() {
                let ms = ms as u64;
                let now = start + Duration::from_millis(ms);
                for d in sent {
                    if rtc.readiness.only_writes() && now < rtc.quiet_until {
                        quiet += 1;
                    }
                    let r = Receive::new(Protocol::Udp, sender_addr, receiver_addr, d).unwrap();
                    rtc.handle_input(Input::Receive(now, r)).unwrap();
                    due = drain(&mut rtc, ms, now, &mut seen);
                }
                if now >= due {
                    rtc.handle_input(Input::Timeout(now)).unwrap();
                    due = drain(&mut rtc, ms, now, &mut seen);
                }
            }
            (seen, quiet)
        };

        let (whole, _) = run(true);
        let (skipped, quiet) = run(false);
        let received: usize = datagrams.iter().map(|d| d.len()).sum();
        let rtp = whole
            .iter()
            .filter(|(_, s)| matches!(s, Seen::Rtp(..)))
            .count();
        let rtcp = whole.len() - rtp;
        assert_eq!(rtp, received, "every packet delivered");
        assert!(rtcp > 100, "{rtcp} RTCP datagrams sent");
        assert!(quiet > received / 2, "{quiet} of {received} received quiet");
        for (w, s) in whole.iter().zip(&skipped) {
            assert_eq!(w, s);
        }
        assert_eq!(whole.len(), skipped.len());
    }
}
