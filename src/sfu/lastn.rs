//! Last-N: each subscriber receives the camera video of the N participants
//! who were active most recently (spoke, or started sharing a screen);
//! audio always. Pure: the room's order of activity in, whose video a
//! subscriber gets out.

use crate::ids::ParticipantId;

/// A room's participants, the most recently active first; those who were
/// never active follow in the order they joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recency {
    order: Vec<ParticipantId>,
}

impl Recency {
    pub fn joined(&mut self, id: ParticipantId) {
        if !self.order.contains(&id) {
            self.order.push(id);
        }
    }

    pub fn left(&mut self, id: ParticipantId) {
        self.order.retain(|&p| p != id);
    }

    /// `id` spoke or started sharing its screen. True if the order changed.
    pub fn active(&mut self, id: ParticipantId) -> bool {
        match self.order.iter().position(|&p| p == id) {
            Some(0) | None => false,
            Some(at) => {
                self.order[..=at].rotate_right(1);
                true
            }
        }
    }

    pub fn order(&self) -> &[ParticipantId] {
        &self.order
    }
}

/// Whose camera `subscriber` receives: the first `last_n` others in `order`
/// (all with 0) among those who send camera video now (`sends_video`), in
/// that order, into `out`. Someone whose camera is off takes no place.
pub fn forwarded(
    order: &[ParticipantId],
    subscriber: ParticipantId,
    last_n: u32,
    sends_video: impl Fn(ParticipantId) -> bool,
    out: &mut Vec<ParticipantId>,
) {
    out.clear();
    let limit = if last_n == 0 {
        usize::MAX
    } else {
        last_n as usize
    };
    out.extend(
        order
            .iter()
            .copied()
            .filter(|&p| p != subscriber && sends_video(p))
            .take(limit),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u64) -> ParticipantId {
        ParticipantId::from_u64(n)
    }

    fn room(n: u64) -> Recency {
        let mut r = Recency::default();
        for i in 1..=n {
            r.joined(p(i));
        }
        r
    }

    fn seen_by(r: &Recency, subscriber: u64, last_n: u32) -> Vec<u64> {
        let mut out = Vec::new();
        forwarded(r.order(), p(subscriber), last_n, |_| true, &mut out);
        out.iter()
            .map(|id| (1..100).find(|&n| p(n) == *id).unwrap())
            .collect()
    }

    #[test]
    fn before_anyone_speaks_the_first_to_join_are_seen() {
        let r = room(5);
        assert_eq!(seen_by(&r, 5, 2), vec![1, 2]);
        assert_eq!(seen_by(&r, 1, 2), vec![2, 3], "never oneself");
        assert_eq!(seen_by(&r, 3, 0), vec![1, 2, 4, 5], "0: everyone");
        assert_eq!(seen_by(&r, 3, 9), vec![1, 2, 4, 5]);
    }

    #[test]
    fn a_speaker_takes_the_place_of_the_least_recent() {
        let mut r = room(5);
        assert!(r.active(p(4)));
        assert_eq!(seen_by(&r, 5, 2), vec![4, 1]);
        assert!(r.active(p(3)));
        assert_eq!(seen_by(&r, 5, 2), vec![3, 4]);
        // Speaking on changes nothing.
        assert!(!r.active(p(3)));
        assert_eq!(seen_by(&r, 5, 2), vec![3, 4]);
        // The subscriber itself speaking takes no place of its own.
        assert!(r.active(p(5)));
        assert_eq!(seen_by(&r, 5, 2), vec![3, 4]);
        assert_eq!(seen_by(&r, 1, 2), vec![5, 3]);
        // Someone unknown (left already) is no change.
        assert!(!r.active(p(99)));
    }

    #[test]
    fn leaving_frees_the_place_and_joiners_come_last() {
        let mut r = room(3);
        r.active(p(3));
        r.left(p(3));
        r.joined(p(4));
        r.joined(p(4));
        assert_eq!(r.order(), &[p(1), p(2), p(4)]);
        assert_eq!(seen_by(&r, 4, 1), vec![1]);
    }

    #[test]
    fn cameras_that_are_off_take_no_place() {
        let mut r = room(4);
        r.active(p(2));
        let mut out = Vec::new();
        forwarded(r.order(), p(4), 2, |id| id != p(2), &mut out);
        assert_eq!(out, vec![p(1), p(3)]);
    }
}
