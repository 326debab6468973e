//! Who speaks: the RFC 6464 audio level of each participant's forwarded
//! audio, smoothed per interval, and the choice of the loudest above a
//! threshold. Pure and allocation-free on the per-packet side
//! ([`SpeechLevel::record`]); the choice runs once per interval.

use crate::ids::ParticipantId;
use std::time::Duration;

/// How often a room's speaker is chosen (and at most announced).
pub const SPEAKER_INTERVAL: Duration = Duration::from_millis(300);

/// Loudness (127 + level in dBov, so 0 is silence and 127 full scale) a
/// participant must reach, smoothed, to count as speaking: about −50 dBov,
/// above the noise floor of a quiet room, below normal speech (−20 to −40).
pub const SPEAKING_THRESHOLD: u32 = 77;

/// How much louder (in dB) someone must be to take the floor from the
/// current speaker; keeps the highlight from flickering between two people
/// talking at once.
pub const TAKEOVER_MARGIN: u32 = 6;

/// One participant's audio level over the current interval.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpeechLevel {
    sum: u32,
    count: u32,
    /// Exponentially smoothed loudness of past intervals.
    smoothed: u32,
}

impl SpeechLevel {
    /// One forwarded packet's level as str0m reads it (−127..=0 dBov).
    pub fn record(&mut self, level: i8) {
        let loudness = 127 - u32::from(level.unsigned_abs().min(127));
        self.sum = self.sum.saturating_add(loudness);
        self.count = self.count.saturating_add(1);
    }

    /// Ends the interval and returns the smoothed loudness. An interval
    /// without packets counts as silence (the participant stopped sending,
    /// or its audio is held back).
    pub fn close_interval(&mut self) -> u32 {
        let average = self.sum.checked_div(self.count).unwrap_or(0);
        self.smoothed = (self.smoothed + average) / 2;
        self.sum = 0;
        self.count = 0;
        self.smoothed
    }
}

/// The speaker after this interval, given each participant's smoothed
/// loudness and the current speaker.
pub fn choose_speaker(
    levels: impl Iterator<Item = (ParticipantId, u32)>,
    current: Option<ParticipantId>,
) -> Option<ParticipantId> {
    let mut loudest: Option<(ParticipantId, u32)> = None;
    let mut current_level = None;
    for (id, level) in levels {
        if Some(id) == current {
            current_level = Some(level);
        }
        if level >= SPEAKING_THRESHOLD && loudest.is_none_or(|(_, l)| level > l) {
            loudest = Some((id, level));
        }
    }
    match (current, current_level, loudest) {
        (Some(c), Some(cl), Some((_, l)))
            if cl >= SPEAKING_THRESHOLD && l < cl + TAKEOVER_MARGIN =>
        {
            Some(c)
        }
        (_, _, l) => l.map(|(id, _)| id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u64) -> ParticipantId {
        ParticipantId::from_u64(n)
    }

    fn level_after(packets: &[i8], intervals: usize) -> u32 {
        let mut s = SpeechLevel::default();
        let mut l = 0;
        for _ in 0..intervals {
            for &x in packets {
                s.record(x);
            }
            l = s.close_interval();
        }
        l
    }

    #[test]
    fn levels_smooth_and_fade() {
        // Speech at −30 dBov reaches the threshold within a few intervals.
        assert!(level_after(&[-30; 15], 1) < 97);
        assert!(level_after(&[-30; 15], 4) >= SPEAKING_THRESHOLD);
        // Silence and noise never do.
        assert_eq!(level_after(&[-127; 15], 10), 0);
        assert!(level_after(&[-60; 15], 20) < SPEAKING_THRESHOLD);
        // Without packets, a speaker fades out.
        let mut s = SpeechLevel::default();
        for _ in 0..5 {
            s.record(-20);
            s.close_interval();
        }
        assert!(s.close_interval() < 100);
        for _ in 0..3 {
            s.close_interval();
        }
        assert!(s.close_interval() < SPEAKING_THRESHOLD);
        // Out-of-range input is clamped, not overflowed.
        let mut s = SpeechLevel::default();
        s.record(i8::MIN);
        assert_eq!(s.close_interval(), 0);
    }

    #[test]
    fn loudest_above_threshold_with_hysteresis() {
        let quiet = SPEAKING_THRESHOLD - 1;
        let loud = SPEAKING_THRESHOLD + 20;
        assert_eq!(
            choose_speaker([(p(1), quiet), (p(2), quiet)].into_iter(), None),
            None
        );
        assert_eq!(
            choose_speaker([(p(1), quiet), (p(2), loud)].into_iter(), None),
            Some(p(2))
        );
        // Slightly louder does not take the floor…
        assert_eq!(
            choose_speaker([(p(1), loud), (p(2), loud + 2)].into_iter(), Some(p(1))),
            Some(p(1))
        );
        // …clearly louder does.
        assert_eq!(
            choose_speaker(
                [(p(1), loud), (p(2), loud + TAKEOVER_MARGIN)].into_iter(),
                Some(p(1))
            ),
            Some(p(2))
        );
        // The speaker falls silent: the next one, or nobody.
        assert_eq!(
            choose_speaker([(p(1), quiet), (p(2), loud)].into_iter(), Some(p(1))),
            Some(p(2))
        );
        assert_eq!(choose_speaker([(p(1), 0)].into_iter(), Some(p(1))), None);
        // The speaker left the room.
        assert_eq!(
            choose_speaker([(p(2), loud)].into_iter(), Some(p(1))),
            Some(p(2))
        );
        assert_eq!(choose_speaker(std::iter::empty(), Some(p(1))), None);
    }
}
