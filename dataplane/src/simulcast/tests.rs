use super::*;

const MS: Duration = Duration::from_millis(1);

/// Feeds `r` steady traffic from `from` to `to`: layers at `bps` and 40 kbit/s of audio, a
/// packet of each every 100 ms.
fn feed(r: &mut LayerRates, bps: &[u64], from: Instant, to: Instant) {
    let mut at = from;
    while at < to {
        for (layer, b) in bps.iter().enumerate() {
            r.on_packet(at, Some(layer as u8), (b / 80) as usize);
        }
        r.on_packet(at, None, 500);
        at += 100 * MS;
    }
}

/// Rates of three layers (l, m, h) and 40 kbit/s of audio, fed for two seconds from `t0`.
fn rates(t0: Instant, bps: [u64; 3]) -> LayerRates {
    let mut r = LayerRates::default();
    feed(&mut r, &bps, t0, t0 + 2 * RATE_WINDOW + MS);
    r
}

/// Keeps feeding `r` the three layers at `bps` from `from` to `to`.
fn touch(r: &mut LayerRates, bps: &[u64], from: Instant, to: Instant) {
    feed(r, bps, from + 100 * MS, to + MS);
}

fn estimate(bps: u64, last_decrease: Option<Instant>) -> Option<EstimateView> {
    Some(EstimateView {
        bps,
        last_decrease,
        delivering: false,
    })
}

#[test]
fn layers_are_ranked_by_rate_and_inactive_ones_left_out() {
    let t0 = Instant::now();
    let r = rates(t0, [900_000, 150_000, 400_000]);
    let now = t0 + 2 * RATE_WINDOW;
    assert_eq!(r.rate(1), 150_000);
    assert_eq!(r.audio(), 40_000);
    let (order, n) = r.ranked(now);
    assert_eq!(&order[..n], &[1, 2, 0]);
    // Two seconds later only layer 1 is still sent.
    let mut r = r;
    let later = now + 2 * RATE_WINDOW;
    r.on_packet(later, Some(1), 100);
    let (order, n) = r.ranked(later);
    assert_eq!(&order[..n], &[1]);
}

#[test]
fn a_viewer_starts_at_any_keyframe_and_switches_only_at_the_targets() {
    let mut s = LayerSelection::new(LayerChoice::Auto);
    assert!(s.wants_keyframe());
    assert_eq!(s.accept(2, false), Accept::Drop);
    assert_eq!(s.accept(2, true), Accept::Switch);
    assert_eq!(s.accept(2, false), Accept::Forward);
    // Without a target, other layers' keyframes do not move it.
    assert_eq!(s.accept(0, true), Accept::Drop);
    s.target = Some(0);
    assert!(s.wants_keyframe());
    assert_eq!(s.keyframe_layer(), Some(0));
    assert_eq!(s.accept(0, false), Accept::Drop, "not a keyframe");
    assert_eq!(s.accept(1, true), Accept::Drop, "not the target");
    assert_eq!(
        s.accept(2, false),
        Accept::Forward,
        "the old layer until then"
    );
    assert_eq!(s.accept(0, true), Accept::Switch);
    assert_eq!(s.accept(2, false), Accept::Drop);
    assert!(!s.wants_keyframe());
}

#[test]
fn a_thin_viewer_goes_down_only_after_congestion_and_up_after_a_steady_fit() {
    let t0 = Instant::now();
    let mut r = rates(t0, [150_000, 400_000, 1_200_000]);
    let now = t0 + 2 * RATE_WINDOW;
    let mut s = LayerSelection::new(LayerChoice::Auto);
    // No congestion seen: the initial 1 Mbit/s estimate does not move a viewer down from
    // the top it is first given without an estimate.
    assert_eq!(s.choose(now, &r, None), Some(2));
    assert_eq!(s.accept(2, true), Accept::Switch);
    assert_eq!(s.choose(now, &r, estimate(1_000_000, None)), None);
    // Congestion while the viewer still receives what it is sent: a lagging estimate moves
    // nothing.
    let lagging = Some(EstimateView {
        bps: 1_000_000,
        last_decrease: Some(now),
        delivering: true,
    });
    assert_eq!(s.choose(now, &r, lagging), None);
    assert_eq!(s.choose(now + 2 * DOWN_AFTER, &r, lagging), None);
    // The path congests at 320 kbit/s: down after DOWN_AFTER, to the best that fits (l).
    let e = estimate(320_000, Some(now));
    assert_eq!(s.choose(now, &r, e), None);
    assert_eq!(s.choose(now + 400 * MS, &r, e), None);
    assert_eq!(s.choose(now + DOWN_AFTER, &r, e), Some(0));
    assert_eq!(s.accept(0, true), Accept::Switch);
    // A probe shows 600 kbit/s: m fits, but only after congestion is old and UP_AFTER.
    let later = now + CONGESTION_RECENT + 100 * MS;
    let e = estimate(600_000, Some(now));
    assert_eq!(s.choose(now + MS, &r, e), None, "congestion too recent");
    let bps = [150_000, 400_000, 1_200_000];
    touch(&mut r, &bps, now, later);
    assert_eq!(s.choose(later, &r, e), None);
    touch(&mut r, &bps, later, later + UP_AFTER);
    assert_eq!(s.choose(later + UP_AFTER, &r, e), Some(1));
    assert_eq!(r.rate(2), 1_200_000, "rates unchanged by touching");
    assert_eq!(
        s.probe_target(later, &r),
        Some(((1_200_000.0 + 40_000.0) / UP_SHARE * PROBE_MARGIN) as u64)
    );
    // Up needs a margin: at 1.5 Mbit/s h (1.24 Mbit/s with audio) would fit (90 %) but is
    // not switched to (75 %).
    assert_eq!(s.accept(1, true), Accept::Switch);
    let calm = estimate(1_500_000, Some(now));
    let end = later + 4 * UP_AFTER;
    touch(&mut r, &bps, later + UP_AFTER, end);
    assert_eq!(s.choose(later + 2 * UP_AFTER, &r, calm), None);
    assert_eq!(s.choose(end, &r, calm), None);
}

#[test]
fn a_pending_switch_the_path_cannot_carry_is_given_up_at_once() {
    let t0 = Instant::now();
    let r = rates(t0, [150_000, 400_000, 1_200_000]);
    let now = t0 + 2 * RATE_WINDOW;
    let mut s = LayerSelection::new(LayerChoice::Auto);
    // First given the top layer; l's keyframe comes first, so the viewer is sent l while it
    // waits for h's — and receives all of l.
    assert_eq!(s.choose(now, &r, None), Some(2));
    assert_eq!(s.accept(0, true), Accept::Switch);
    assert!(s.wants_keyframe());
    // Without congestion, an estimate that has not grown yet keeps the target.
    let growing = Some(EstimateView {
        bps: 1_000_000,
        last_decrease: None,
        delivering: true,
    });
    assert_eq!(s.choose(now, &r, growing), None);
    assert_eq!(s.keyframe_layer(), Some(2));
    // The path shows itself thin: h is given up at once, although l is delivered, and the
    // viewer stays on l (no keyframe wanted, h's is not taken).
    let thin = Some(EstimateView {
        bps: 250_000,
        last_decrease: Some(now),
        delivering: true,
    });
    assert_eq!(s.choose(now + MS, &r, thin), None);
    assert!(!s.wants_keyframe());
    assert_eq!(s.accept(2, true), Accept::Drop);
    assert_eq!(s.accept(0, false), Accept::Forward);
    // From m, pending while the viewer is on h: m is dropped for l at once too.
    let mut s = LayerSelection::new(LayerChoice::Auto);
    assert_eq!(s.choose(now, &r, None), Some(2));
    assert_eq!(s.accept(2, true), Accept::Switch);
    s.target = Some(1);
    assert_eq!(s.choose(now + MS, &r, thin), Some(0));
    assert_eq!(s.keyframe_layer(), Some(0));
}

#[test]
fn video_pauses_when_not_even_the_lowest_layer_fits_and_resumes_when_it_does() {
    let t0 = Instant::now();
    // One layer: a stream without simulcast.
    let mut r = LayerRates::default();
    let bps = [430_000];
    feed(&mut r, &bps, t0, t0 + 2 * RATE_WINDOW + MS);
    let now = t0 + 2 * RATE_WINDOW;
    let mut s = LayerSelection::new(LayerChoice::Auto);
    assert_eq!(s.choose(now, &r, None), Some(0));
    assert_eq!(s.accept(0, true), Accept::Switch);
    let e = estimate(300_000, Some(now));
    assert_eq!(s.choose(now, &r, e), None);
    assert!(!s.paused());
    touch(&mut r, &bps, now, now + PAUSE_AFTER);
    assert_eq!(s.choose(now + PAUSE_AFTER, &r, e), None);
    assert!(s.paused());
    assert_eq!(s.accept(0, true), Accept::Drop);
    assert_eq!(s.needed_bps(now, &r), Some(470_000));
    assert_eq!(
        s.probe_target(now, &r),
        Some((470_000.0 / FIT_SHARE * PROBE_MARGIN) as u64)
    );
    // A probe shows the path carries 600 kbit/s: after UP_AFTER, video resumes.
    let later = now + 3 * PAUSE_AFTER;
    let e = estimate(600_000, Some(now));
    touch(&mut r, &bps, now + PAUSE_AFTER, later);
    assert_eq!(s.choose(later, &r, e), None);
    touch(&mut r, &bps, later, later + UP_AFTER);
    assert_eq!(s.choose(later + UP_AFTER, &r, e), Some(0));
    assert!(!s.paused());
    assert!(s.wants_keyframe());
    assert_eq!(s.accept(0, true), Accept::Switch);
}

#[test]
fn a_fixed_choice_ignores_the_estimate() {
    let t0 = Instant::now();
    let r = rates(t0, [150_000, 400_000, 1_200_000]);
    let now = t0 + 2 * RATE_WINDOW;
    let thin = estimate(100_000, Some(now));
    let mut low = LayerSelection::new(LayerChoice::Lowest);
    assert_eq!(low.choose(now, &r, thin), Some(0));
    let mut mid = LayerSelection::new(LayerChoice::Middle);
    assert_eq!(mid.choose(now, &r, thin), Some(1));
    let mut high = LayerSelection::new(LayerChoice::Highest);
    assert_eq!(high.choose(now, &r, thin), Some(2));
    assert_eq!(high.choose(now + PAUSE_AFTER, &r, thin), None);
    assert!(!high.paused());
    assert_eq!(high.probe_target(now, &r), None);
}
