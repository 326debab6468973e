//! Synthetic media: RTP payloads that look like Opus and VP8 to anything that
//! peeks at them, and that carry their publisher's participant id, so a
//! receiver can tell whose media arrived without trusting the signaling.

use std::fmt;

/// Audio or video, as `offer.tracks[].kind` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "audio" => Some(Kind::Audio),
            "video" => Some(Kind::Video),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Precedes the publisher's id in every synthetic payload.
const TAG: &[u8] = b"funkraum-test:";
/// Participant ids are 16 hex digits (docs/protocol.md).
const ID_LEN: usize = 16;

/// Packets per second of each synthetic track (one packet per 20 ms frame).
pub const PACKETS_PER_SECOND: u64 = 50;
/// A VP8 keyframe every this many frames (and the first frame is one), so a
/// subscriber that joins late can start decoding within a second.
pub const KEYFRAME_INTERVAL: u64 = 50;

/// An Opus packet: a TOC byte (CELT, fullband, 20 ms, mono, one frame),
/// then filler and the tag.
pub fn opus_payload(publisher: &str) -> Vec<u8> {
    let mut p = vec![0xf8, 0xff, 0xfe];
    push_tag(&mut p, publisher);
    p
}

/// A one-packet VP8 frame (RFC 7741): a payload descriptor with a 15-bit
/// picture id and the start-of-partition bit, then the VP8 frame header.
/// A keyframe has the P bit clear and carries the start code and a size
/// (320x240), as an encoder writes it.
pub fn vp8_payload(publisher: &str, picture_id: u16, keyframe: bool) -> Vec<u8> {
    let pid = picture_id & 0x7fff;
    // X=1 S=1 PID=0 | I=1 | M=1 + picture id
    let mut p = vec![0x90, 0x80, 0x80 | (pid >> 8) as u8, pid as u8];
    // Frame tag: P (inverse keyframe) bit 0, version 0, show_frame bit 4,
    // first partition size in the upper 19 bits.
    let first_partition_size: u32 = 24;
    let tag = (first_partition_size << 5) | (1 << 4) | u32::from(!keyframe);
    p.extend_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        p.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        p.extend_from_slice(&320u16.to_le_bytes());
        p.extend_from_slice(&240u16.to_le_bytes());
    }
    push_tag(&mut p, publisher);
    p
}

/// Bytes of each packet of a multi-packet frame but the last
/// ([`vp8_frame`]), and of the last.
pub const FRAME_PACKET_BYTES: usize = 1000;
pub const FRAME_LAST_PACKET_BYTES: usize = 500;

/// A VP8 frame cut into `packets` RTP payloads as an encoder's packetizer
/// does: equal sizes but a shorter last one; the first starts the
/// partition ([`vp8_payload`]), the others continue it with the same
/// picture id. Each carries the tag, so each counts for its publisher.
pub fn vp8_frame(publisher: &str, picture_id: u16, keyframe: bool, packets: usize) -> Vec<Vec<u8>> {
    let pid = picture_id & 0x7fff;
    (0..packets)
        .map(|i| {
            let mut p = if i == 0 {
                vp8_payload(publisher, picture_id, keyframe)
            } else {
                // X=1 S=0 | I=1 | M=1 + picture id, then the tag.
                let mut p = vec![0x80, 0x80, 0x80 | (pid >> 8) as u8, pid as u8];
                push_tag(&mut p, publisher);
                p
            };
            let size = if i + 1 == packets {
                FRAME_LAST_PACKET_BYTES
            } else {
                FRAME_PACKET_BYTES
            };
            p.resize(size, 0x55);
            p
        })
        .collect()
}

/// Whether a VP8 RTP payload (descriptor first) starts a keyframe.
pub fn vp8_is_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let start_of_partition = first & 0x10 != 0;
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&x) = payload.get(1) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // I: picture id, 7 or 15 bits
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // T/K
        }
    }
    start_of_partition && payload.get(at).is_some_and(|b| b & 0x01 == 0)
}

fn push_tag(p: &mut Vec<u8>, publisher: &str) {
    p.extend_from_slice(TAG);
    p.extend_from_slice(publisher.as_bytes());
}

/// The publisher id a synthetic payload carries, if it is one.
pub fn publisher_of(payload: &[u8]) -> Option<String> {
    let at = payload.windows(TAG.len()).position(|w| w == TAG)? + TAG.len();
    let id = payload.get(at..at + ID_LEN)?;
    String::from_utf8(id.to_vec()).ok()
}

/// The simulcast layers of a synthetic camera: rid, frame height, payload
/// bytes per packet (one packet per 20 ms frame, so about 60, 180 and 420
/// kbit/s on the wire). Lowest first, as a browser's `sendEncodings`.
pub const LAYERS: [(char, u16, usize); 3] = [('q', 180, 100), ('h', 360, 400), ('f', 720, 1000)];

/// A one-packet VP8 frame of one simulcast layer, as browsers send them: a
/// payload descriptor with a 15-bit picture id, TL0PICIDX and TID, the
/// frame header (a keyframe with its size, 16:9), the tag with the
/// publisher's id and `/` + the layer's rid, and filler up to `size` bytes.
pub fn vp8_layer_payload(
    publisher: &str,
    layer: char,
    picture_id: u16,
    tl0: u8,
    keyframe: bool,
    height: u16,
    size: usize,
) -> Vec<u8> {
    let pid = picture_id & 0x7fff;
    // X=1 S=1 PID=0 | I=1 L=1 T=1 | M=1 + picture id | TL0PICIDX | TID=0
    let mut p = vec![0x90, 0xe0, 0x80 | (pid >> 8) as u8, pid as u8, tl0, 0x00];
    let first_partition_size: u32 = 24;
    let tag = (first_partition_size << 5) | (1 << 4) | u32::from(!keyframe);
    p.extend_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        p.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        p.extend_from_slice(&(height / 9 * 16).to_le_bytes());
        p.extend_from_slice(&height.to_le_bytes());
    }
    push_tag(&mut p, publisher);
    p.push(b'/');
    p.push(layer as u8);
    p.resize(size.max(p.len()), 0x55);
    p
}

/// The rid a [`vp8_layer_payload`] names.
pub fn layer_of(payload: &[u8]) -> Option<char> {
    let at = payload.windows(TAG.len()).position(|w| w == TAG)? + TAG.len() + ID_LEN;
    match payload.get(at..at + 2)? {
        [b'/', l] => Some(*l as char),
        _ => None,
    }
}

/// The VP8 picture id and TL0PICIDX of a payload's descriptor, where present.
pub fn vp8_picture_id(payload: &[u8]) -> (Option<u16>, Option<u8>) {
    let (Some(&first), Some(&x)) = (payload.first(), payload.get(1)) else {
        return (None, None);
    };
    if first & 0x80 == 0 {
        return (None, None);
    }
    let mut at = 2;
    let mut id = None;
    if x & 0x80 != 0 {
        let Some(&b) = payload.get(at) else {
            return (None, None);
        };
        if b & 0x80 != 0 {
            id = payload
                .get(at + 1)
                .map(|&lo| (u16::from(b & 0x7f) << 8) | u16::from(lo));
            at += 2;
        } else {
            id = Some(u16::from(b));
            at += 1;
        }
    }
    let tl0 = if x & 0x40 != 0 {
        payload.get(at).copied()
    } else {
        None
    };
    (id, tl0)
}
