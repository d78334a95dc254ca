use std::time::Duration;

use kithara_stream::AbrMode;

use super::*;

const LADDER: [u64; 3] = [32_000, 64_000, 128_000];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ctx(current: usize, buffer: u64) -> AbrContext<'static> {
    AbrContext::new(&LADDER, current, secs(buffer), secs(2))
}

/// A rule that has measured `kbps` for a while.
fn measured(kbps: u64) -> BufferRule {
    let mut r = BufferRule::default();
    for _ in 0..10 {
        // 8 s transfers, so that even slow rates move more than the smallest counted transfer.
        r.on_transfer(kbps * 1000, secs(8));
    }
    assert!((r.estimate().unwrap() - kbps as f64 * 1000.0).abs() < 1.0);
    r
}

#[test]
fn initial_choice_uses_the_initial_estimate() {
    let mut r = BufferRule::default();
    // 500 kbit/s × 0.7 clears 128k.
    assert_eq!(
        r.decide(&ctx(0, 0)),
        Some(Decision::new(2, Reason::Initial))
    );
    let mut low = BufferRule::new(BufferRuleConfig::default().initial_estimate(100_000));
    assert_eq!(
        low.decide(&ctx(0, 0)),
        Some(Decision::new(1, Reason::Initial))
    );
    assert_eq!(low.decide(&ctx(1, 0)), Some(Decision::new(1, Reason::Hold)));
}

#[test]
fn up_needs_a_comfortable_buffer_and_headroom() {
    let mut r = measured(400);
    assert_eq!(
        r.decide(&ctx(0, 4)).unwrap(),
        Decision::new(0, Reason::Hold),
        "buffer too low"
    );
    assert_eq!(
        r.decide(&ctx(0, 10)).unwrap(),
        Decision::new(2, Reason::Up),
        "straight to the top"
    );
    // 150 kbit/s × 0.7 = 105k: clears 64k, not 128k.
    let mut r = measured(150);
    assert_eq!(r.decide(&ctx(0, 12)).unwrap(), Decision::new(1, Reason::Up));
    assert_eq!(
        r.decide(&ctx(1, 25)).unwrap(),
        Decision::new(1, Reason::Hold)
    );
    // A small buffer target (live edge) lowers the bar: 0.75 × 6 s.
    let live = ctx(0, 5).buffer_target(secs(6));
    assert_eq!(r.decide(&live).unwrap().reason, Reason::Up);
}

#[test]
fn down_at_once_when_the_buffer_runs_low() {
    // 100 kbit/s sustains 64k (× 0.7 = 70k) but not 128k (× 0.95 = 95k).
    let mut r = measured(100);
    assert_eq!(
        r.decide(&ctx(2, 25)).unwrap(),
        Decision::new(2, Reason::Hold),
        "deep buffer rides it out"
    );
    assert_eq!(
        r.decide(&ctx(2, 15)).unwrap(),
        Decision::new(1, Reason::Down)
    );
    // 100k × 0.95 sustains 64k: no down from 1.
    assert_eq!(
        r.decide(&ctx(1, 5)).unwrap(),
        Decision::new(1, Reason::Hold)
    );
}

#[test]
fn emergency_when_the_next_segment_would_arrive_too_late() {
    // 40 kbit/s: a 2 s segment of 128k takes 6.4 s; with 3 s of buffer that is a stall.
    let mut r = measured(40);
    let d = r.decide(&ctx(2, 3)).unwrap();
    // 32k takes 1.6 s ≤ 0.8 × 3 s; 64k takes 3.2 s: too late.
    assert_eq!(d, Decision::new(0, Reason::Emergency));
    // Even with a deep buffer the stall check wins over "ride it out".
    let mut slow = measured(10);
    assert_eq!(slow.decide(&ctx(2, 24)).unwrap().reason, Reason::Emergency);
}

#[test]
fn fixed_mode_cap_and_exclusion() {
    let mut r = measured(1000);
    let fixed = ctx(2, 20).mode(AbrMode::Fixed(0));
    assert_eq!(r.decide(&fixed).unwrap(), Decision::new(0, Reason::Manual));
    let excluded = [true, false, false];
    let fixed_failed = ctx(0, 20).mode(AbrMode::Fixed(0)).excluded(&excluded);
    assert_eq!(
        r.decide(&fixed_failed).unwrap(),
        Decision::new(1, Reason::Failover)
    );

    let capped = ctx(2, 20).max_bitrate(Some(64_000));
    assert_eq!(r.decide(&capped).unwrap(), Decision::new(1, Reason::Cap));
    let capped_at_1 = ctx(1, 20).max_bitrate(Some(64_000));
    assert_eq!(
        r.decide(&capped_at_1).unwrap(),
        Decision::new(1, Reason::Hold),
        "never above the cap"
    );
    let under_all = ctx(1, 20).max_bitrate(Some(1));
    assert_eq!(
        r.decide(&under_all).unwrap().variant,
        0,
        "a cap under the ladder keeps the lowest"
    );

    let top_out = [false, false, true];
    assert_eq!(
        r.decide(&ctx(2, 20).excluded(&top_out)).unwrap(),
        Decision::new(1, Reason::Failover)
    );
    assert_eq!(
        r.decide(&ctx(1, 20).excluded(&top_out)).unwrap().variant,
        1,
        "excluded is never chosen"
    );
    let all = [true; 3];
    assert_eq!(r.decide(&ctx(1, 20).excluded(&all)), None);
}

#[test]
fn unsorted_ladder() {
    let ladder = [128_000, 32_000, 64_000];
    let mut r = measured(150);
    let c = AbrContext::new(&ladder, 1, secs(12), secs(2));
    assert_eq!(r.decide(&c).unwrap(), Decision::new(2, Reason::Up));
    assert_eq!(c.allowed(), vec![1, 2, 0]);
}

#[test]
fn throughput_rule_follows_the_last_sample() {
    let mut t = ThroughputRule::new();
    assert_eq!(
        t.decide(&ctx(0, 0)).unwrap(),
        Decision::new(2, Reason::Initial)
    );
    t.on_transfer(10_000, secs(1)); // 80 kbit/s × 0.9 = 72k
    assert_eq!(
        t.decide(&ctx(2, 30)).unwrap(),
        Decision::new(1, Reason::Down),
        "ignores the buffer"
    );
    t.on_transfer(100_000, secs(1));
    assert_eq!(
        t.decide(&ctx(1, 0)).unwrap(),
        Decision::new(2, Reason::Up),
        "ignores the buffer"
    );
    assert_eq!(t.estimate(), Some(800_000.0));
}

#[test]
fn tiny_transfers_do_not_move_the_estimate() {
    let mut r = measured(400);
    let before = r.estimate();
    r.on_transfer(200, Duration::from_millis(300)); // a playlist-sized transfer at 5 kbit/s
    assert_eq!(r.estimate(), before);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// Ladder, transfers `(bytes, ms)`, buffer in ms, current variant, cap, exclusion mask.
    type Scenario = (
        Vec<u64>,
        Vec<(u64, u64)>,
        u64,
        usize,
        Option<u64>,
        Vec<bool>,
    );

    fn scenario() -> impl Strategy<Value = Scenario> {
        (1usize..6).prop_flat_map(|n| {
            (
                proptest::collection::vec(8_000u64..2_000_000, n),
                proptest::collection::vec((0u64..2_000_000, 1u64..20_000), 0..10),
                0u64..40_000,
                0..n,
                proptest::option::of(8_000u64..2_000_000),
                proptest::collection::vec(proptest::bool::weighted(0.2), n),
            )
        })
    }

    proptest! {
        /// In automatic mode the choice is never excluded, never over a cap that leaves a
        /// choice, and goes up only as `Up` (or `Initial`) with a comfortable buffer.
        #[test]
        fn decisions_respect_the_rules((ladder, samples, buffer_ms, current, cap, excluded) in scenario()) {
            for policy in [&mut BufferRule::default() as &mut dyn AbrPolicy, &mut ThroughputRule::new()] {
                for &(bytes, ms) in &samples {
                    policy.on_transfer(bytes, Duration::from_millis(ms));
                }
                let c = AbrContext::new(&ladder, current, Duration::from_millis(buffer_ms), secs(2))
                    .max_bitrate(cap)
                    .excluded(&excluded);
                let Some(d) = policy.decide(&c) else {
                    prop_assert!(excluded.iter().all(|&x| x));
                    continue;
                };
                prop_assert!(!excluded[d.variant]);
                let open_under_cap = (0..ladder.len()).any(|i| !excluded[i] && cap.is_none_or(|c| ladder[i] <= c));
                if let (Some(cap), true) = (cap, open_under_cap) {
                    prop_assert!(ladder[d.variant] <= cap);
                }
                let current_allowed = c.allowed().contains(&current);
                if current_allowed && ladder[d.variant] > ladder[current] {
                    prop_assert!(matches!(d.reason, Reason::Up | Reason::Initial), "{:?}", d);
                }
                if d.reason == Reason::Up && policy.estimate().is_some() {
                    prop_assert!(ladder[d.variant] > ladder[current]);
                }
            }
        }

        /// kithara's rule never switches up with less than the up buffer.
        #[test]
        fn no_up_on_a_low_buffer((ladder, samples, buffer_ms, current, _cap, _ex) in scenario()) {
            let mut r = BufferRule::default();
            for &(bytes, ms) in &samples {
                r.on_transfer(bytes, Duration::from_millis(ms));
            }
            let c = AbrContext::new(&ladder, current, Duration::from_millis(buffer_ms), secs(2));
            let d = r.decide(&c).unwrap();
            if r.estimate().is_some() && ladder[d.variant] > ladder[current] {
                prop_assert!(buffer_ms >= 10_000, "{:?} at {} ms", d, buffer_ms);
            }
        }
    }
}

#[test]
fn a_full_buffer_trusts_the_fast_average_one_step_at_a_time() {
    // Long at 48 kbit/s, then one fast transfer: the slow average still says no.
    let mut r = measured(48);
    r.on_transfer(60_000, Duration::from_millis(1000)); // 480 kbit/s for one second
    let est = r.estimate().unwrap();
    assert!(est * 0.7 < 64_000.0, "{est}");
    assert_eq!(
        r.decide(&ctx(0, 20)).unwrap(),
        Decision::new(0, Reason::Hold)
    );
    // At 27 s of a 30 s target the buffer is full: one step up.
    assert_eq!(r.decide(&ctx(0, 27)).unwrap(), Decision::new(1, Reason::Up));
}
