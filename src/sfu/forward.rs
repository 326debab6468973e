//! The per-packet part of forwarding: what one subscriber's copy of a
//! publisher's RTP packet looks like. Kept free of str0m's `Rtc` so it can be
//! tested on its own and stays allocation-free.
//!
//! A subscriber gets one of a video track's simulcast layers at a time
//! ([`OutStream`]). Switching layers happens only on a keyframe of the new
//! layer, and the subscriber's stream stays continuous across the switch:
//! sequence numbers, RTP timestamps and the VP8 picture id and TL0PICIDX go
//! on where the previous layer left off, as if one encoder had sent it all.

use std::time::Instant;
use str0m::media::Pt;
use str0m::rtp::{ExtensionValues, SeqNo, Vp8Descriptor, Vp8Patch};

/// Where outgoing streams start: far enough from zero that packets reordered
/// around the first one still map, and far below 65536 so the ROC is 0.
const OUT_START: u64 = 1000;
/// RTP clock of video (VP8), for the timestamp gap across a switch.
const VIDEO_CLOCK_HZ: u64 = 90_000;
/// The smallest timestamp step across a switch: the new layer's first frame
/// must not look like the same picture as the old layer's last one.
const MIN_SWITCH_STEP: u32 = (VIDEO_CLOCK_HZ / 1000) as u32;

/// What the SFU reads from a VP8 payload, once per incoming packet (not per
/// subscriber).
#[derive(Debug, Clone, Copy)]
pub struct Vp8Info {
    /// The payload descriptor, for rewriting picture id and TL0PICIDX.
    pub descriptor: Option<Vp8Descriptor>,
    /// The packet starts a keyframe (a decoder can begin here).
    pub keyframe: bool,
    /// The frame height a keyframe's header declares.
    pub height: Option<u16>,
}

impl Vp8Info {
    pub fn parse(payload: &[u8]) -> Vp8Info {
        let descriptor = Vp8Descriptor::parse(payload).ok();
        let keyframe = descriptor.is_some_and(|d| d.starts_keyframe(payload));
        let height = if keyframe {
            keyframe_height(payload)
        } else {
            None
        };
        Vp8Info {
            descriptor,
            keyframe,
            height,
        }
    }
}

/// The height in a VP8 keyframe header (RFC 6386 9.1), which follows the
/// payload descriptor (RFC 7741 4.2) and the 3-byte frame tag.
fn keyframe_height(payload: &[u8]) -> Option<u16> {
    let first = *payload.first()?;
    let mut at = 1;
    if first & 0x80 != 0 {
        let x = *payload.get(1)?;
        at += 1;
        if x & 0x80 != 0 {
            at += if *payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1;
        }
        if x & 0x30 != 0 {
            at += 1;
        }
    }
    let header = payload.get(at..at + 10)?;
    if header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let height = u16::from_le_bytes([header[8], header[9]]) & 0x3fff;
    (height > 0).then_some(height)
}

/// One packet of a publisher's track, as [`OutStream::map`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Which of the track's layers it belongs to (0 without simulcast).
    pub layer: u8,
    pub seq: SeqNo,
    pub timestamp: u32,
    /// When it arrived.
    pub arrival: Instant,
    /// For video; `None` for audio (which never switches).
    pub vp8: Option<&'a Vp8Info>,
}

/// What a subscriber's copy of a packet carries instead of the original's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub seq: SeqNo,
    pub timestamp: u32,
    /// The VP8 picture id and TL0PICIDX the subscriber sees (where the
    /// payload has them).
    pub picture_id: Option<u16>,
    pub tl0: Option<u8>,
    /// Descriptor bytes to rewrite so that it sees them; `None` when they
    /// pass unchanged.
    pub patch: Option<Vp8Patch>,
}

/// One subscriber's copy of one publisher track: which layer it gets now,
/// which it should get, and how that layer's numbers map onto the
/// subscriber's one continuous stream.
#[derive(Debug, Clone, Default)]
pub struct OutStream {
    /// The layer forwarded now; `None`: nothing.
    current: Option<u8>,
    /// The layer wanted, switched to at its next keyframe; `None`: nothing.
    target: Option<u8>,
    /// out = in + `base_out` − `base_in` for the current layer.
    base_in: u64,
    base_out: u64,
    /// Outgoing numbers at or below this belong to before the last switch.
    floor: Option<u64>,
    /// The newest outgoing packet: sequence number, timestamp, arrival,
    /// picture id, TL0PICIDX.
    newest: Option<Newest>,
    ts_offset: u32,
    picture_id_offset: u16,
    tl0_offset: u8,
}

#[derive(Debug, Clone, Copy)]
struct Newest {
    seq: u64,
    timestamp: u32,
    arrival: Instant,
    picture_id: Option<u16>,
    tl0: Option<u8>,
}

impl OutStream {
    /// A stream that forwards layer 0 from the first packet on (audio:
    /// without a VP8 descriptor every packet may start it).
    pub fn passthrough() -> OutStream {
        OutStream {
            target: Some(0),
            ..OutStream::default()
        }
    }

    pub fn current(&self) -> Option<u8> {
        self.current
    }

    pub fn target(&self) -> Option<u8> {
        self.target
    }

    /// A switch is wanted that has not happened yet.
    pub fn switching(&self) -> bool {
        self.target.is_some() && self.target != self.current
    }

    /// Wants `layer` from its next keyframe on (the current one flows
    /// until then); `None` stops at once. True if that changed the target.
    pub fn set_target(&mut self, layer: Option<u8>) -> bool {
        if layer.is_none() {
            self.current = None;
        }
        let changed = self.target != layer;
        self.target = layer;
        changed
    }

    /// The numbers of this packet in the subscriber's stream, or `None` if
    /// the subscriber does not get it (another layer, before the keyframe
    /// that starts a switch, or older than the switch).
    pub fn map(&mut self, p: &Incoming) -> Option<Mapped> {
        if self.target == Some(p.layer)
            && self.current != self.target
            && p.vp8.is_none_or(|v| v.keyframe)
        {
            self.switch_to(p);
        }
        if self.current != Some(p.layer) {
            return None;
        }
        let seq = (*p.seq + self.base_out).checked_sub(self.base_in)?;
        if self.floor.is_some_and(|f| seq <= f) {
            return None;
        }
        let timestamp = p.timestamp.wrapping_add(self.ts_offset);
        let descriptor = p.vp8.and_then(|v| v.descriptor);
        let picture_id = descriptor
            .and_then(|d| d.picture_id())
            .map(|id| id.wrapping_add(self.picture_id_offset) & 0x7fff);
        let tl0 = descriptor
            .and_then(|d| d.tl0_pic_idx())
            .map(|t| t.wrapping_add(self.tl0_offset));
        let patch = match descriptor {
            Some(d) if self.picture_id_offset != 0 || self.tl0_offset != 0 => {
                patch(&d, picture_id, tl0)
            }
            _ => None,
        };
        if self.newest.is_none_or(|n| seq > n.seq) {
            self.newest = Some(Newest {
                seq,
                timestamp,
                arrival: p.arrival,
                picture_id,
                tl0,
            });
        }
        Some(Mapped {
            seq: seq.into(),
            timestamp,
            picture_id,
            tl0,
            patch,
        })
    }

    /// Makes `p` (a keyframe of the target layer) the next packet of the
    /// subscriber's stream.
    fn switch_to(&mut self, p: &Incoming) {
        self.current = self.target;
        self.base_in = *p.seq;
        let Some(last) = self.newest else {
            // The first layer ever: numbers start small, the rest passes
            // unchanged.
            self.base_out = OUT_START;
            self.floor = None;
            return;
        };
        self.base_out = last.seq + 1;
        self.floor = Some(last.seq);
        // The RTP clock runs on by the time that passed.
        let elapsed = p.arrival.saturating_duration_since(last.arrival);
        let ticks = (elapsed.as_micros() as u64 * VIDEO_CLOCK_HZ / 1_000_000) as u32;
        let next = last.timestamp.wrapping_add(ticks.max(MIN_SWITCH_STEP));
        self.ts_offset = next.wrapping_sub(p.timestamp);
        let descriptor = p.vp8.and_then(|v| v.descriptor);
        if let (Some(out), Some(id)) = (last.picture_id, descriptor.and_then(|d| d.picture_id())) {
            self.picture_id_offset = out.wrapping_add(1).wrapping_sub(id) & 0x7fff;
        }
        if let (Some(out), Some(t)) = (last.tl0, descriptor.and_then(|d| d.tl0_pic_idx())) {
            self.tl0_offset = out.wrapping_add(1).wrapping_sub(t);
        }
    }
}

/// A patch writing `picture_id` and `tl0`; a 7-bit picture id field gets
/// the low 7 bits.
fn patch(d: &Vp8Descriptor, picture_id: Option<u16>, tl0: Option<u8>) -> Option<Vp8Patch> {
    let build = |id: Option<u16>| {
        let mut b = d.patch();
        if let Some(id) = id {
            b = b.picture_id(id);
        }
        if let Some(t) = tl0 {
            b = b.tl0_pic_idx(t);
        }
        b.build()
    };
    build(picture_id)
        .or_else(|_| build(picture_id.map(|id| id & 0x7f)))
        .ok()
}

/// The subscriber's payload type for each of the publisher's, learned on the
/// first packet of each (payload types are fixed after negotiation).
#[derive(Debug, Default, Clone)]
pub struct PtMap {
    entries: Vec<(Pt, Pt)>,
}

impl PtMap {
    pub fn get(&self, incoming: Pt) -> Option<Pt> {
        self.entries
            .iter()
            .find(|(i, _)| *i == incoming)
            .map(|&(_, o)| o)
    }

    pub fn insert(&mut self, incoming: Pt, outgoing: Pt) {
        // A handful of codecs at most; a publisher cycling through garbage
        // payload types cannot grow this without bound.
        if self.entries.len() < 16 {
            self.entries.push((incoming, outgoing));
        }
    }
}

/// The header extension values that describe the media itself and so travel
/// with it. Transport-level ones (mid, rid, transport-cc, abs-send-time) are
/// the subscriber connection's own and str0m writes them.
pub fn forwarded_extensions(incoming: &ExtensionValues) -> ExtensionValues {
    ExtensionValues {
        audio_level: incoming.audio_level,
        voice_activity: incoming.voice_activity,
        video_orientation: incoming.video_orientation,
        video_content_type: incoming.video_content_type,
        abs_capture_time: incoming.abs_capture_time,
        play_delay_min: incoming.play_delay_min,
        play_delay_max: incoming.play_delay_max,
        ..ExtensionValues::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A one-packet VP8 frame with a 15-bit picture id, TL0PICIDX and TID
    /// (as browsers send simulcast), a keyframe with its size.
    fn vp8(picture_id: u16, tl0: u8, keyframe: bool, height: u16) -> Vec<u8> {
        let mut p = vec![
            0x90,
            0xe0,
            0x80 | (picture_id >> 8) as u8,
            picture_id as u8,
            tl0,
            0x00,
        ];
        let tag: u32 = (24 << 5) | (1 << 4) | u32::from(!keyframe);
        p.extend_from_slice(&tag.to_le_bytes()[..3]);
        if keyframe {
            p.extend_from_slice(&[0x9d, 0x01, 0x2a]);
            p.extend_from_slice(&(height * 16 / 9).to_le_bytes());
            p.extend_from_slice(&height.to_le_bytes());
        }
        p.extend_from_slice(b"frame");
        p
    }

    struct Layer {
        seq: u64,
        ts: u32,
        picture_id: u16,
        tl0: u8,
    }

    impl Layer {
        /// The next frame of this layer (one packet), and its info.
        fn next(&mut self, keyframe: bool) -> (u64, u32, Vec<u8>) {
            self.seq += 1;
            self.ts = self.ts.wrapping_add(3000);
            self.picture_id = (self.picture_id + 1) & 0x7fff;
            self.tl0 = self.tl0.wrapping_add(1);
            (
                self.seq,
                self.ts,
                vp8(self.picture_id, self.tl0, keyframe, 360),
            )
        }
    }

    fn send(
        out: &mut OutStream,
        layer: u8,
        l: &mut Layer,
        keyframe: bool,
        at: Instant,
    ) -> Option<(Mapped, Vp8Info, Vec<u8>)> {
        let (seq, ts, payload) = l.next(keyframe);
        let info = Vp8Info::parse(&payload);
        let m = out.map(&Incoming {
            layer,
            seq: seq.into(),
            timestamp: ts,
            arrival: at,
            vp8: Some(&info),
        })?;
        Some((m, info, payload))
    }

    /// Picture id and TL0PICIDX as the subscriber sees them; checks that
    /// the patch writes exactly those.
    fn seen(m: &Mapped, info: &Vp8Info) -> (u16, u8) {
        let d = info.descriptor.unwrap();
        let (id, tl0) = (m.picture_id.unwrap(), m.tl0.unwrap());
        if (id, tl0) == (d.picture_id().unwrap(), d.tl0_pic_idx().unwrap()) {
            assert_eq!(m.patch, None);
        } else {
            let want = d.patch().picture_id(id).tl0_pic_idx(tl0).build().unwrap();
            assert_eq!(m.patch, Some(want));
        }
        (id, tl0)
    }

    #[test]
    fn vp8_info_reads_keyframes_and_their_height() {
        let key = Vp8Info::parse(&vp8(5, 1, true, 720));
        assert!(key.keyframe);
        assert_eq!(key.height, Some(720));
        assert_eq!(key.descriptor.unwrap().picture_id(), Some(5));
        let delta = Vp8Info::parse(&vp8(6, 1, false, 720));
        assert!(!delta.keyframe);
        assert_eq!(delta.height, None);
        // Garbage is no keyframe and no panic.
        for junk in [&[][..], &[0x90], &[0x90, 0xe0, 0x80], &[0x10, 0x01, 0x9d]] {
            let i = Vp8Info::parse(junk);
            assert!(!i.keyframe && i.height.is_none());
        }
        // A keyframe too short for its size: no height.
        assert_eq!(Vp8Info::parse(&[0x10, 0x00, 0x9d]).height, None);
    }

    #[test]
    fn the_first_layer_starts_small_at_a_keyframe_and_keeps_gaps() {
        let t0 = Instant::now();
        let mut out = OutStream::default();
        let mut l = Layer {
            seq: 70_000,
            ts: 5,
            picture_id: 100,
            tl0: 7,
        };
        // No target: nothing.
        assert!(send(&mut out, 0, &mut l, true, t0).is_none());
        out.set_target(Some(0));
        // Waits for a keyframe.
        assert!(send(&mut out, 0, &mut l, false, t0).is_none());
        let (first, _, _) = send(&mut out, 0, &mut l, true, t0).unwrap();
        assert_eq!(*first.seq, 1000);
        assert_eq!(first.timestamp, l.ts, "timestamps pass unchanged");
        assert_eq!(first.patch, None, "the descriptor passes unchanged");
        l.seq += 2; // two lost
        let (next, _, _) = send(&mut out, 0, &mut l, false, t0).unwrap();
        assert_eq!(*next.seq, 1003, "a gap stays a gap (NACK)");
        // Reordered packets map too, even from before the first.
        let at = |seq: u64| {
            let info = Vp8Info::parse(&vp8(1, 1, false, 0));
            out.clone().map(&Incoming {
                layer: 0,
                seq: seq.into(),
                timestamp: 0,
                arrival: t0,
                vp8: Some(&info),
            })
        };
        assert_eq!(at(l.seq - 1).map(|m| *m.seq), Some(1002));
        assert_eq!(at(70_002).map(|m| *m.seq), Some(999));
        assert_eq!(at(60_000), None, "far older than the start");
    }

    #[test]
    fn audio_passes_from_the_first_packet() {
        let mut out = OutStream::passthrough();
        let m = out
            .map(&Incoming {
                layer: 0,
                seq: 123_456.into(),
                timestamp: 77,
                arrival: Instant::now(),
                vp8: None,
            })
            .unwrap();
        assert_eq!((*m.seq, m.timestamp, m.patch), (1000, 77, None));
    }

    #[test]
    fn a_switch_waits_for_a_keyframe_and_continues_every_number() {
        let t0 = Instant::now();
        let mut out = OutStream::default();
        let mut high = Layer {
            seq: 40_000,
            ts: 1_000_000,
            picture_id: 20_000,
            tl0: 200,
        };
        let mut low = Layer {
            seq: 9_000,
            ts: 4_000_000_000,
            picture_id: 32_760,
            tl0: 250,
        };
        out.set_target(Some(2));
        let (m, info, _) = send(&mut out, 2, &mut high, true, t0).unwrap();
        let mut prev = (*m.seq, seen(&m, &info).0);
        for i in 1..5 {
            let at = t0 + Duration::from_millis(33 * i);
            let (m, info, _) = send(&mut out, 2, &mut high, false, at).unwrap();
            assert_eq!(*m.seq, prev.0 + 1);
            assert_eq!(
                seen(&m, &info).0,
                prev.1 + 1,
                "unchanged on the first layer"
            );
            prev = (*m.seq, seen(&m, &info).0);
            assert!(
                send(&mut out, 0, &mut low, false, at).is_none(),
                "not its layer"
            );
        }
        // Down to the low layer: the high one flows until the low one's keyframe.
        assert!(out.set_target(Some(0)));
        assert!(out.switching());
        let at = t0 + Duration::from_millis(200);
        assert!(send(&mut out, 0, &mut low, false, at).is_none());
        let (m, info, _) = send(&mut out, 2, &mut high, false, at).unwrap();
        let last = (*m.seq, m.timestamp, seen(&m, &info));
        let at = t0 + Duration::from_millis(233);
        let (m, info, _) = send(&mut out, 0, &mut low, true, at).unwrap();
        assert!(info.keyframe);
        assert!(!out.switching());
        assert_eq!(out.current(), Some(0));
        assert_eq!(*m.seq, last.0 + 1, "sequence numbers continue");
        assert_eq!(m.timestamp, last.1.wrapping_add(33 * 90), "time runs on");
        let (id, tl0) = seen(&m, &info);
        assert_eq!(id, (last.2.0 + 1) & 0x7fff, "picture ids continue");
        assert_eq!(tl0, last.2.1.wrapping_add(1), "TL0PICIDX continues");
        // The old layer's stragglers are refused.
        assert!(send(&mut out, 2, &mut high, false, at).is_none());
        // The low layer goes on continuously, picture ids wrapping at 15 bits.
        let mut prev = (*m.seq, m.timestamp, id, tl0);
        for i in 0..20 {
            let at = at + Duration::from_millis(33 * (i + 1));
            let (m, info, _) = send(&mut out, 0, &mut low, false, at).unwrap();
            let (id, tl0) = seen(&m, &info);
            assert_eq!(*m.seq, prev.0 + 1);
            assert_eq!(m.timestamp, prev.1.wrapping_add(3000));
            assert_eq!(id, (prev.2 + 1) & 0x7fff);
            assert_eq!(tl0, prev.3.wrapping_add(1));
            prev = (*m.seq, m.timestamp, id, tl0);
        }
    }

    #[test]
    fn stopping_and_starting_again_continues_the_stream() {
        let t0 = Instant::now();
        let mut out = OutStream::default();
        let mut l = Layer {
            seq: 100,
            ts: 0,
            picture_id: 1,
            tl0: 1,
        };
        out.set_target(Some(0));
        let (m, _, _) = send(&mut out, 0, &mut l, true, t0).unwrap();
        // Out of last-N: nothing at once, not even the rest of the frame.
        assert!(out.set_target(None));
        assert!(send(&mut out, 0, &mut l, false, t0).is_none());
        for _ in 0..100 {
            send(&mut out, 0, &mut l, false, t0);
        }
        // Back in: from the next keyframe, right after where it stopped.
        out.set_target(Some(0));
        assert!(send(&mut out, 0, &mut l, false, t0).is_none());
        let (again, _, _) = send(&mut out, 0, &mut l, true, t0).unwrap();
        assert_eq!(*again.seq, *m.seq + 1);
        assert!(again.patch.is_some());
    }

    #[test]
    fn extensions_keep_media_drop_transport() {
        let incoming = ExtensionValues {
            audio_level: Some(-30),
            voice_activity: Some(true),
            transport_cc: Some(7),
            mid: Some("0".into()),
            ..ExtensionValues::default()
        };
        let out = forwarded_extensions(&incoming);
        assert_eq!(out.audio_level, Some(-30));
        assert_eq!(out.voice_activity, Some(true));
        assert_eq!(out.transport_cc, None);
        assert_eq!(out.mid, None);
    }

    #[test]
    fn pt_map_is_bounded() {
        let mut m = PtMap::default();
        for i in 0..100u8 {
            m.insert(i.into(), 96.into());
        }
        assert_eq!(m.get(3.into()), Some(96.into()));
        assert_eq!(m.get(50.into()), None);
    }
}
