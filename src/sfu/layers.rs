//! Which simulcast layer of each video track a subscriber gets: the largest
//! that its client shows the picture at, as far as the subscriber's
//! bandwidth estimate carries it. Pure: estimates, sizes and `now` in,
//! choices out; the core applies them (a switch happens at the chosen
//! layer's next keyframe, see [`super::forward::OutStream`]).

use std::time::{Duration, Instant};

/// A layer within this share of its height below the shown height is
/// sharp enough (a 360-line layer for a 390-pixel tile).
const SIZE_SLACK_PERCENT: u32 = 90;
/// Going up to a layer the subscriber does not have yet needs the estimate
/// to leave this much room (percent of the estimate), so that an estimate
/// just above the need does not make layers flap (each switch costs a
/// keyframe).
const UP_HEADROOM_PERCENT: u64 = 85;
/// After the estimate forced a switch down, no switch up for this long.
pub const UP_HOLD: Duration = Duration::from_secs(3);
/// What a layer costs at least, whatever was measured (a layer that just
/// started has no rate yet).
pub const MIN_LAYER_BITRATE: u64 = 30_000;

/// One layer a publisher sends now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// The publisher's index of the layer (stable while it publishes).
    pub id: u8,
    /// Measured rate, bits per second.
    pub bitrate: u64,
    /// Frame height from its latest keyframe; 0 while unknown.
    pub height: u16,
}

/// What [`LayerChooser::choose`] reads of one video track a subscriber may
/// receive (given in the order of priority: screen shares, then the most
/// recent speakers). A trait, so the core can hand its own per-track
/// records without building a list of [`Demand`]s every time.
pub trait VideoDemand {
    /// Its layers that flow now, lowest first. Empty: nothing to choose.
    fn layers(&self) -> &[Layer];
    /// The height in pixels at which the subscriber's client shows it:
    /// `None` when the client did not say, `Some(0)` when it is not shown.
    fn shown(&self) -> Option<u16>;
    /// The layer the subscriber gets now.
    fn current(&self) -> Option<u8>;

    fn cost(&self, index: usize) -> u64 {
        self.layers()[index].bitrate.max(MIN_LAYER_BITRATE)
    }

    /// The highest layer worth sending for the shown size.
    fn size_cap(&self) -> usize {
        let layers = self.layers();
        let top = layers.len().saturating_sub(1);
        match self.shown() {
            None => top,
            Some(0) => 0,
            Some(shown) => {
                if layers.iter().any(|l| l.height == 0) {
                    // Heights unknown yet (no keyframe seen): the size
                    // cannot pick; bandwidth alone does.
                    return top;
                }
                let enough = u32::from(shown) * SIZE_SLACK_PERCENT / 100;
                layers
                    .iter()
                    .position(|l| u32::from(l.height) >= enough)
                    .unwrap_or(top)
            }
        }
    }

    fn current_index(&self) -> Option<usize> {
        let c = self.current()?;
        self.layers().iter().position(|l| l.id == c)
    }
}

/// A subscriber's layer choices over time (the hold after a forced switch
/// down is the only memory).
#[derive(Debug, Clone, Default)]
pub struct LayerChooser {
    up_blocked_until: Option<Instant>,
    /// Kept between choices for their allocation: the layer index chosen
    /// and the size cap per demand.
    chosen: Vec<Option<usize>>,
    caps: Vec<usize>,
}

impl LayerChooser {
    /// Chooses a layer for every demand (in `out`, same order; `None` for a
    /// track without layers) under `estimate` (bits per second; `None`:
    /// unknown, sizes alone decide). Every track gets at least its lowest
    /// layer: under congestion low layers keep flowing rather than some
    /// pictures stopping. Returns the rate the subscriber would need for
    /// every track at the size it is shown (what bandwidth estimation should
    /// probe for).
    pub fn choose<D: VideoDemand>(
        &mut self,
        now: Instant,
        estimate: Option<u64>,
        demands: &[D],
        out: &mut Vec<Option<u8>>,
    ) -> u64 {
        out.clear();
        let mut chosen = std::mem::take(&mut self.chosen);
        let mut caps = std::mem::take(&mut self.caps);
        chosen.clear();
        chosen.extend(
            demands
                .iter()
                .map(|d| (!d.layers().is_empty()).then_some(0)),
        );
        caps.clear();
        caps.extend(demands.iter().map(D::size_cap));
        let wanted: u64 = demands
            .iter()
            .zip(&caps)
            .filter(|(d, _)| !d.layers().is_empty())
            .map(|(d, &c)| d.cost(c))
            .sum();
        match estimate {
            None => {
                for (c, (d, &cap)) in chosen.iter_mut().zip(demands.iter().zip(&caps)) {
                    if !d.layers().is_empty() {
                        *c = Some(cap);
                    }
                }
            }
            Some(estimate) => {
                let up_allowed = self.up_blocked_until.is_none_or(|t| now >= t);
                let headroom = estimate * UP_HEADROOM_PERCENT / 100;
                let mut total: u64 = demands
                    .iter()
                    .zip(&chosen)
                    .filter_map(|(d, c)| c.map(|i| d.cost(i)))
                    .sum();
                // One step at a time, round after round in priority order,
                // so that bandwidth is shared rather than taken by the first.
                loop {
                    let mut stepped = false;
                    for (i, d) in demands.iter().enumerate() {
                        let Some(at) = chosen[i] else { continue };
                        if at >= caps[i] {
                            continue;
                        }
                        let next = at + 1;
                        let keeps = d.current_index().is_some_and(|c| next <= c);
                        let limit = match (keeps, up_allowed) {
                            (true, _) => estimate,
                            (false, true) => headroom,
                            (false, false) => continue,
                        };
                        let after = total - d.cost(at) + d.cost(next);
                        if after <= limit {
                            total = after;
                            chosen[i] = Some(next);
                            stepped = true;
                        }
                    }
                    if !stepped {
                        break;
                    }
                }
                // A track pushed below what it has, though its size would
                // keep it: the estimate fell. Stay down for a while.
                let forced_down = demands.iter().zip(&chosen).zip(&caps).any(|((d, c), &cap)| {
                    matches!((d.current_index(), c), (Some(cur), Some(c)) if *c < cur && cur <= cap)
                });
                if forced_down {
                    self.up_blocked_until = Some(now + UP_HOLD);
                }
            }
        }
        out.extend(
            demands
                .iter()
                .zip(&chosen)
                .map(|(d, c)| c.map(|i| d.layers()[i].id)),
        );
        self.chosen = chosen;
        self.caps = caps;
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A [`VideoDemand`] spelled out (the core has its own).
    #[derive(Debug, Clone, Copy)]
    pub struct Demand<'a> {
        pub layers: &'a [Layer],
        pub shown: Option<u16>,
        pub current: Option<u8>,
    }

    impl VideoDemand for Demand<'_> {
        fn layers(&self) -> &[Layer] {
            self.layers
        }
        fn shown(&self) -> Option<u16> {
            self.shown
        }
        fn current(&self) -> Option<u8> {
            self.current
        }
    }

    /// The three layers a browser sends for a 720-line camera.
    const CAMERA: [Layer; 3] = [
        Layer {
            id: 0,
            bitrate: 150_000,
            height: 180,
        },
        Layer {
            id: 1,
            bitrate: 500_000,
            height: 360,
        },
        Layer {
            id: 2,
            bitrate: 1_500_000,
            height: 720,
        },
    ];

    fn demand(shown: Option<u16>, current: Option<u8>) -> Demand<'static> {
        Demand {
            layers: &CAMERA,
            shown,
            current,
        }
    }

    fn choose(estimate: Option<u64>, demands: &[Demand]) -> Vec<Option<u8>> {
        let mut out = Vec::new();
        LayerChooser::default().choose(Instant::now(), estimate, demands, &mut out);
        out
    }

    #[test]
    fn the_shown_size_picks_the_layer_when_bandwidth_is_plenty() {
        let plenty = Some(100_000_000);
        for (shown, layer) in [
            (None, 2),
            (Some(0), 0),
            (Some(90), 0),
            (Some(180), 0),
            (Some(195), 0), // within the slack of 180
            (Some(240), 1),
            (Some(360), 1),
            (Some(390), 1),
            (Some(500), 2),
            (Some(2160), 2), // larger than any layer: the largest
        ] {
            assert_eq!(
                choose(plenty, &[demand(shown, None)]),
                vec![Some(layer)],
                "{shown:?}"
            );
            assert_eq!(choose(None, &[demand(shown, None)]), vec![Some(layer)]);
        }
    }

    #[test]
    fn unknown_heights_leave_the_choice_to_bandwidth() {
        let layers = [
            Layer {
                height: 0,
                ..CAMERA[0]
            },
            CAMERA[1],
        ];
        let d = Demand {
            layers: &layers,
            shown: Some(100),
            current: None,
        };
        assert_eq!(choose(Some(10_000_000), &[d]), vec![Some(1)]);
    }

    #[test]
    fn a_low_estimate_gets_the_low_layer_and_never_nothing() {
        assert_eq!(choose(Some(100_000), &[demand(None, None)]), vec![Some(0)]);
        assert_eq!(choose(Some(0), &[demand(None, Some(2))]), vec![Some(0)]);
        assert_eq!(choose(Some(700_000), &[demand(None, None)]), vec![Some(1)]);
        // A track without layers gets nothing, the others are not charged.
        let empty = Demand {
            layers: &[],
            shown: None,
            current: None,
        };
        assert_eq!(
            choose(Some(700_000), &[empty, demand(None, None)]),
            vec![None, Some(1)]
        );
    }

    #[test]
    fn bandwidth_is_shared_in_steps_in_priority_order() {
        // 2 × 500k + 150k fit in 1.4M × 85 %, a third 500k does not.
        let d = [demand(None, None), demand(None, None), demand(None, None)];
        assert_eq!(choose(Some(1_400_000), &d), vec![Some(1), Some(1), Some(0)]);
        // With more room, the first in priority goes furthest.
        assert_eq!(choose(Some(3_000_000), &d), vec![Some(2), Some(1), Some(1)]);
        // A small tile takes little and leaves the rest to others.
        let d = [demand(Some(100), None), demand(None, None)];
        assert_eq!(choose(Some(2_000_000), &d), vec![Some(0), Some(2)]);
    }

    #[test]
    fn keeping_a_layer_needs_less_room_than_going_up_to_it() {
        // 1.6M: 1.5M + 150k = 1.65M does not fit; alone 1.5M fits the
        // estimate but not 85 % of it.
        assert_eq!(
            choose(Some(1_600_000), &[demand(None, None)]),
            vec![Some(1)]
        );
        assert_eq!(
            choose(Some(1_600_000), &[demand(None, Some(2))]),
            vec![Some(2)]
        );
    }

    #[test]
    fn after_a_forced_switch_down_it_stays_down_for_a_while() {
        let t0 = Instant::now();
        let mut c = LayerChooser::default();
        let mut out = Vec::new();
        c.choose(t0, Some(10_000_000), &[demand(None, None)], &mut out);
        assert_eq!(out, vec![Some(2)]);
        // The estimate drops: down at once.
        c.choose(t0, Some(300_000), &[demand(None, Some(2))], &mut out);
        assert_eq!(out, vec![Some(0)]);
        // It recovers at once, but the way up waits.
        let t1 = t0 + Duration::from_secs(1);
        c.choose(t1, Some(10_000_000), &[demand(None, Some(0))], &mut out);
        assert_eq!(out, vec![Some(0)]);
        c.choose(
            t0 + UP_HOLD,
            Some(10_000_000),
            &[demand(None, Some(0))],
            &mut out,
        );
        assert_eq!(out, vec![Some(2)]);
        // A smaller tile is no forced switch: no hold.
        let t2 = t0 + UP_HOLD;
        c.choose(
            t2,
            Some(10_000_000),
            &[demand(Some(180), Some(2))],
            &mut out,
        );
        assert_eq!(out, vec![Some(0)]);
        c.choose(t2, Some(10_000_000), &[demand(None, Some(0))], &mut out);
        assert_eq!(out, vec![Some(2)]);
    }

    #[test]
    fn unmeasured_layers_cost_a_minimum() {
        let layers = [Layer {
            id: 0,
            bitrate: 0,
            height: 0,
        }];
        let d = [Demand {
            layers: &layers,
            shown: None,
            current: None,
        }; 4];
        let mut out = Vec::new();
        let wanted = LayerChooser::default().choose(Instant::now(), Some(1), &d, &mut out);
        assert_eq!(wanted, 4 * MIN_LAYER_BITRATE);
        assert_eq!(out, vec![Some(0); 4]);
    }

    #[test]
    fn what_to_probe_for_is_every_track_at_its_shown_size() {
        let d = [
            demand(Some(180), None),
            demand(None, None),
            demand(Some(0), None),
        ];
        let mut out = Vec::new();
        let wanted = LayerChooser::default().choose(Instant::now(), Some(1), &d, &mut out);
        assert_eq!(wanted, 150_000 + 1_500_000 + 150_000);
    }
}
