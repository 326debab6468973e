//! The per-packet part of forwarding: what one subscriber's copy of a
//! publisher's RTP packet looks like. Kept free of str0m's `Rtc` so it can be
//! tested on its own and stays allocation-free.

use str0m::media::Pt;
use str0m::rtp::{ExtensionValues, SeqNo};

/// Rebases a publisher's extended sequence numbers onto a subscriber stream
/// that starts near zero. str0m derives the SRTP rollover counter from the
/// extended number, so a subscriber joining a long-running stream must not
/// see the publisher's high numbers (the receiver would start at ROC 0).
#[derive(Debug, Default, Clone)]
pub struct SeqRebase {
    /// (first incoming number, first outgoing number)
    origin: Option<(u64, u64)>,
}

/// Where outgoing streams start: far enough from zero that packets reordered
/// around the first one still map, and far below 65536 so the ROC is 0.
const OUT_START: u64 = 1000;

impl SeqRebase {
    /// The outgoing number for `incoming`, or `None` for a packet older than
    /// the first one forwarded (a late reordering across the start).
    pub fn map(&mut self, incoming: SeqNo) -> Option<SeqNo> {
        let incoming = *incoming;
        let (first_in, first_out) = *self.origin.get_or_insert((incoming, OUT_START));
        let out = (first_out + incoming).checked_sub(first_in)?;
        Some(out.into())
    }
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

    #[test]
    fn rebase_starts_small_and_keeps_gaps() {
        let mut r = SeqRebase::default();
        assert_eq!(*r.map(70_000.into()).unwrap(), 1000);
        assert_eq!(*r.map(70_001.into()).unwrap(), 1001);
        assert_eq!(
            *r.map(70_005.into()).unwrap(),
            1005,
            "a gap stays a gap (NACK)"
        );
        assert_eq!(
            *r.map(70_003.into()).unwrap(),
            1003,
            "reordered packets map too"
        );
        assert_eq!(
            *r.map(69_999.into()).unwrap(),
            999,
            "reordered before the first"
        );
        assert!(r.map(60_000.into()).is_none(), "far older than the start");
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
