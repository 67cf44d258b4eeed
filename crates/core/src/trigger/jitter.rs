//! Jitter: a random delay added to a fire time by the scheduler.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// `fire` delayed by a random amount up to `max_jitter`, always before `following` (the next
/// fire time, if any) so jitter never makes one fire run into the next.
pub fn jittered(
    fire: DateTime<Utc>,
    following: Option<DateTime<Utc>>,
    max_jitter: Duration,
    rng: &mut impl Rng,
) -> DateTime<Utc> {
    let mut bound_ms = max_jitter.num_milliseconds();
    if let Some(next) = following {
        bound_ms = bound_ms.min((next - fire).num_milliseconds() - 1);
    }
    if bound_ms <= 0 {
        return fire;
    }
    fire + Duration::milliseconds(rng.gen_range(0..=bound_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn stays_within_bound_and_before_next_fire() {
        let fire = at("2026-01-01T00:00:00Z");
        let next = at("2026-01-01T00:00:02Z");
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<_> = (0..1000)
            .map(|_| jittered(fire, Some(next), Duration::seconds(10), &mut rng) - fire)
            .collect();
        assert!(delays
            .iter()
            .all(|d| *d >= Duration::zero() && *d < Duration::seconds(2)));
        // Spread over the allowed window, not stuck at one value.
        assert!(delays.iter().any(|d| *d > Duration::milliseconds(1500)));
        assert!(delays.iter().any(|d| *d < Duration::milliseconds(500)));
        let alone: Vec<_> = (0..1000)
            .map(|_| jittered(fire, None, Duration::seconds(10), &mut rng) - fire)
            .collect();
        assert!(alone.iter().all(|d| *d <= Duration::seconds(10)));
        assert!(alone.iter().any(|d| *d > Duration::seconds(8)));
    }

    #[test]
    fn same_seed_same_delays_and_zero_jitter_is_exact() {
        let fire = at("2026-01-01T00:00:00Z");
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5)
                .map(|_| jittered(fire, None, Duration::seconds(60), &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(jittered(fire, None, Duration::zero(), &mut rng), fire);
    }
}
