//! TURN over a byte stream (TCP, TLS): RFC 5766 §11.5 / RFC 8656 §12.5.
//!
//! A stream carries STUN messages (first two bits 00, 20-byte header whose
//! length field counts the attributes) and ChannelData (first two bits 01,
//! 4-byte header, then the data *padded to a multiple of four* on streams).
//!
//! Written here rather than taken from `turn-types`: its `TurnTcpBuffer`
//! neither skips nor adds the ChannelData padding (browsers pad over TCP,
//! and expect padding), and its buffer grows without bound on garbage. This
//! is only the length prefix; the messages themselves are parsed by
//! `stun-types`. A randomized test below feeds it arbitrary bytes split at
//! arbitrary points.

/// The longest frame: a STUN header plus the largest length field, padded.
pub const MAX_FRAME: usize = 20 + 0xffff + 3;

/// What the first bytes of a stream are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// Too few bytes to tell.
    NeedMore,
    /// A STUN message: the stream is TURN.
    Stun,
    /// Anything else (an HTTP request starts with a letter).
    Other,
}

/// For the listener on 443: is this stream TURN? A TURN client always
/// opens with a STUN request (Allocate or Binding), whose bytes 4..8 are
/// the magic cookie.
pub fn sniff(first_bytes: &[u8]) -> Sniff {
    if let Some(&b) = first_bytes.first()
        && b & 0xc0 != 0
    {
        return Sniff::Other;
    }
    if first_bytes.len() < 8 {
        return Sniff::NeedMore;
    }
    if first_bytes[4..8] == [0x21, 0x12, 0xa4, 0x42] {
        Sniff::Stun
    } else {
        Sniff::Other
    }
}

/// A frame taken off the stream, without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stun(Vec<u8>),
    Channel(Vec<u8>),
}

/// The stream broke the framing rules; the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFraming;

/// Reassembles frames from stream chunks. Holds at most one partial frame
/// (≤ [`MAX_FRAME`] bytes).
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    pub fn new() -> Self {
        Deframer::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, BadFraming> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let length = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
        let (frame_len, content_len, is_channel) = match self.buf[0] >> 6 {
            0b00 => {
                // STUN attributes are 4-aligned, so the length is too.
                if !length.is_multiple_of(4) {
                    return Err(BadFraming);
                }
                (20 + length, 20 + length, false)
            }
            0b01 => (4 + length.div_ceil(4) * 4, 4 + length, true),
            _ => return Err(BadFraming),
        };
        if self.buf.len() < frame_len {
            // frame_len ≤ MAX_FRAME, so what waits here is bounded.
            return Ok(None);
        }
        let mut frame: Vec<u8> = self.buf.drain(..frame_len).collect();
        frame.truncate(content_len);
        Ok(Some(if is_channel {
            Frame::Channel(frame)
        } else {
            Frame::Stun(frame)
        }))
    }
}

/// Writes a TURN frame for a stream: ChannelData is padded to four bytes,
/// STUN messages go as they are.
pub fn frame_for_stream(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.first().is_some_and(|b| b >> 6 == 0b01) {
        let padded = bytes.len().div_ceil(4) * 4;
        bytes.resize(padded, 0);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn stun(len: u16) -> Vec<u8> {
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        m.extend_from_slice(&[9; 12]);
        m.extend(std::iter::repeat_n(0xab, len as usize));
        m
    }

    fn channel(len: u16) -> Vec<u8> {
        let mut m = vec![0x40, 0x00];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend(std::iter::repeat_n(0xcd, len as usize));
        m
    }

    #[test]
    fn sniff_tells_turn_from_http() {
        assert_eq!(sniff(&stun(0)), Sniff::Stun);
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniff::Other);
        assert_eq!(sniff(b"POST"), Sniff::Other);
        assert_eq!(sniff(&[0x16, 0x03, 0x01, 0, 0, 0, 0, 0]), Sniff::Other);
        assert_eq!(sniff(&stun(0)[..7]), Sniff::NeedMore);
        assert_eq!(sniff(&[]), Sniff::NeedMore);
        assert_eq!(sniff(&channel(8)), Sniff::Other);
    }

    #[test]
    fn channel_data_is_padded_and_unpadded() {
        for len in 0..9u16 {
            let c = channel(len);
            let framed = frame_for_stream(c.clone());
            assert_eq!(framed.len() % 4, 0);
            let mut d = Deframer::new();
            d.push(&framed);
            d.push(&stun(4));
            assert_eq!(d.next_frame(), Ok(Some(Frame::Channel(c))));
            assert_eq!(d.next_frame(), Ok(Some(Frame::Stun(stun(4)))));
            assert_eq!(d.next_frame(), Ok(None));
        }
        assert_eq!(frame_for_stream(stun(8)), stun(8));
    }

    #[test]
    fn garbage_is_refused_not_buffered() {
        // "GE" reads as ChannelData of 0x5420 bytes: it waits (bounded by
        // MAX_FRAME) until the idle timeout closes the connection.
        let mut d = Deframer::new();
        d.push(b"GET / HTTP/1.1\r\n");
        assert_eq!(d.next_frame(), Ok(None));
        let mut d = Deframer::new();
        d.push(&[0x80, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(BadFraming));
        // A STUN length that is not a multiple of four.
        let mut d = Deframer::new();
        d.push(&[0x00, 0x01, 0x00, 0x05]);
        assert_eq!(d.next_frame(), Err(BadFraming));
    }

    #[test]
    fn largest_frames_fit() {
        let mut d = Deframer::new();
        d.push(&frame_for_stream(channel(0xffff)));
        assert!(matches!(d.next_frame(), Ok(Some(Frame::Channel(c))) if c.len() == 4 + 0xffff));
        let mut d = Deframer::new();
        d.push(&stun(0xfffc));
        assert!(matches!(d.next_frame(), Ok(Some(Frame::Stun(s))) if s.len() == 20 + 0xfffc));
    }

    /// Valid frames split at random points come out whole and in order.
    #[test]
    fn random_splits_reassemble() {
        let mut rng = StdRng::seed_from_u64(0x7a11);
        for _ in 0..200 {
            let mut frames = Vec::new();
            let mut stream = Vec::new();
            for _ in 0..rng.random_range(1..8) {
                let f = if rng.random_bool(0.5) {
                    let f = stun(rng.random_range(0..64u16) * 4);
                    stream.extend_from_slice(&f);
                    Frame::Stun(f)
                } else {
                    let f = channel(rng.random_range(0..300));
                    stream.extend_from_slice(&frame_for_stream(f.clone()));
                    Frame::Channel(f)
                };
                frames.push(f);
            }
            let mut d = Deframer::new();
            let mut out = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = rng.random_range(1..=rest.len().min(50));
                d.push(&rest[..n]);
                rest = &rest[n..];
                while let Some(f) = d.next_frame().unwrap() {
                    out.push(f);
                }
            }
            assert_eq!(out, frames);
            assert!(d.buf.is_empty());
        }
    }

    /// Arbitrary bytes never panic and never make the buffer exceed one
    /// frame plus one chunk.
    #[test]
    fn random_bytes_stay_bounded() {
        let mut rng = StdRng::seed_from_u64(0xbad);
        for _ in 0..2000 {
            let mut d = Deframer::new();
            'stream: for _ in 0..20 {
                let n = rng.random_range(0..4096);
                let chunk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                d.push(&chunk);
                loop {
                    match d.next_frame() {
                        Ok(Some(Frame::Stun(s))) => assert!(s.len() >= 20),
                        Ok(Some(Frame::Channel(c))) => assert!(c.len() >= 4),
                        Ok(None) => break,
                        Err(BadFraming) => break 'stream,
                    }
                }
                assert!(d.buf.len() <= MAX_FRAME + 4096, "{}", d.buf.len());
            }
        }
    }
}
