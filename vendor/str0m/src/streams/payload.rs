//! funkraum patch: RTP payloads whose buffers go back to the session that
//! received them.
//!
//! str0m copied every received payload into a new `Arc<[u8]>`, so an SFU
//! that forwards it paid one allocation per received packet (the clones it
//! writes into each subscriber's queue share that one). A [`Payload`] is
//! shared the same way, and [`PayloadPool`] hands the same buffer out again
//! once no clone of it is left: receiving allocates nothing in steady state.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

/// An RTP payload (no header), shared by reference count: cloning it
/// clones a pointer, not the bytes. Derefs to the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Arc<Vec<u8>>);

impl Payload {
    /// The empty payload (of padding packets): one shared buffer, so that
    /// making one allocates nothing.
    pub fn empty() -> Payload {
        static EMPTY: LazyLock<Payload> = LazyLock::new(|| Payload(Arc::new(Vec::new())));
        EMPTY.clone()
    }

    /// Whether both are clones of one payload (the same buffer).
    pub fn ptr_eq(a: &Payload, b: &Payload) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::empty()
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload(Arc::new(bytes))
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Payload(Arc::new(bytes.to_vec()))
    }
}

impl<const N: usize> From<[u8; N]> for Payload {
    fn from(bytes: [u8; N]) -> Self {
        Payload(Arc::new(bytes.to_vec()))
    }
}

impl From<Arc<[u8]>> for Payload {
    fn from(bytes: Arc<[u8]>) -> Self {
        Payload::from(&*bytes)
    }
}

/// Frame mode keeps `Arc<[u8]>` in its reordering buffer: one copy, as
/// str0m made before.
impl From<Payload> for Arc<[u8]> {
    fn from(payload: Payload) -> Self {
        Arc::from(&*payload)
    }
}

/// The buffers of the payloads a session received, oldest first, in two
/// size classes so that audio packets do not hold video-sized buffers.
///
/// A payload lives until every queue and retransmission cache that holds a
/// clone has let it go; in an SFU that is about the same time for all of
/// them (the caches keep sent packets for a few seconds). So the oldest
/// buffer is the one most likely free: [`PayloadPool::payload`] looks at the
/// front of the ring only, and takes a new buffer (keeping it, up to
/// [`PayloadPool::MAX_KEPT`]) when that one is still in use. The ring thus
/// grows to what the longest-held payloads need.
///
/// A buffer still in use a whole round later is held for long (a
/// retransmission cache of a stream that stopped sending keeps its last
/// packets until the stream sends again): it leaves the ring, and its
/// last holder frees it. Otherwise every round would add as many buffers
/// as are held so, up to the limit.
#[derive(Debug, Default)]
pub(crate) struct PayloadPool {
    small: VecDeque<Kept>,
    large: VecDeque<Kept>,
}

/// A buffer in the ring, and whether it was in use when last looked at.
#[derive(Debug)]
struct Kept {
    payload: Payload,
    was_held: bool,
}

impl PayloadPool {
    /// Payloads up to this size (audio, padding) take a small buffer.
    const SMALL: usize = 256;
    /// A large buffer holds a payload from a datagram up to the Ethernet
    /// MTU; a larger one grows it.
    const LARGE: usize = 1500;
    /// Buffers kept per size class at most: well above what a
    /// retransmission cache holds (3 s: about 540 packets of a 1.5 Mbit/s
    /// video stream, 750 of three simulcast layers).
    const MAX_KEPT: usize = 2048;

    /// A payload holding a copy of `bytes`, in a buffer used before when
    /// one is free.
    pub fn payload(&mut self, bytes: &[u8]) -> Payload {
        let (ring, capacity) = if bytes.len() <= Self::SMALL {
            (&mut self.small, Self::SMALL)
        } else {
            (&mut self.large, Self::LARGE.max(bytes.len()))
        };
        if let Some(mut oldest) = ring.pop_front() {
            if let Some(buffer) = Arc::get_mut(&mut oldest.payload.0) {
                buffer.clear();
                buffer.extend_from_slice(bytes);
                let payload = oldest.payload.clone();
                ring.push_back(Kept {
                    payload: oldest.payload,
                    was_held: false,
                });
                return payload;
            }
            if !oldest.was_held {
                // Held: looked at once more after all the others.
                ring.push_back(Kept {
                    payload: oldest.payload,
                    was_held: true,
                });
            }
        }
        let mut buffer = Vec::with_capacity(capacity);
        buffer.extend_from_slice(bytes);
        let payload = Payload(Arc::new(buffer));
        if ring.len() < Self::MAX_KEPT {
            ring.push_back(Kept {
                payload: payload.clone(),
                was_held: false,
            });
        }
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_once_no_clone_is_left() {
        let mut pool = PayloadPool::default();
        let first = pool.payload(&[1, 2, 3]);
        let held = first.clone();
        drop(first);
        // Still held: a new buffer, and the bytes of the held one stay.
        let second = pool.payload(&[4, 5]);
        assert!(!Payload::ptr_eq(&second, &held));
        assert_eq!(&*held, &[1, 2, 3]);
        drop(held);
        drop(second);
        // Both free now: the oldest comes back first, with the new bytes.
        let third = pool.payload(&[6]);
        assert_eq!(&*third, &[6]);
        assert_eq!(pool.small.len(), 2);
    }

    #[test]
    fn a_buffer_held_for_two_rounds_leaves_the_ring() {
        let mut pool = PayloadPool::default();
        let stuck = pool.payload(&[1]);
        // Held: it goes round once more, and a new buffer is kept.
        drop(pool.payload(&[2]));
        assert_eq!(pool.small.len(), 2);
        // Still held the next time: it leaves the ring, a new buffer takes
        // its place.
        drop(pool.payload(&[3]));
        assert_eq!(pool.small.len(), 2);
        assert!(
            pool.small
                .iter()
                .all(|k| !Payload::ptr_eq(&k.payload, &stuck))
        );
        // The free ones are used again; the holder's bytes stay.
        drop(pool.payload(&[4]));
        assert_eq!(pool.small.len(), 2);
        assert_eq!(&*stuck, &[1]);
    }

    #[test]
    fn sizes_keep_to_their_class() {
        let mut pool = PayloadPool::default();
        drop(pool.payload(&[0; 100]));
        drop(pool.payload(&[0; 1200]));
        let audio = pool.payload(&[7; 100]);
        let video = pool.payload(&[8; 1400]);
        assert_eq!((pool.small.len(), pool.large.len()), (1, 1));
        assert_eq!(audio.len(), 100);
        assert!(video.iter().all(|b| *b == 8) && video.len() == 1400);
        // A larger payload than the class holds grows its buffer.
        drop(video);
        assert_eq!(pool.payload(&[9; 3000]).len(), 3000);
    }
}
