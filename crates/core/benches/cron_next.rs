//! How long one cron `next_after` call takes, for a handful of expressions and zones.

use chrono::{DateTime, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kairos_core::trigger::CronTrigger;

fn cron_next(c: &mut Criterion) {
    let after: DateTime<Utc> = "2026-11-26T10:17:23Z".parse().unwrap();
    let cases = [
        ("*/5 * * * *", "UTC"),
        ("0 9 * * 1-5", "Europe/London"),
        ("30 2 * * *", "America/New_York"),
        ("0 0 L * *", "Australia/Sydney"),
        ("0 12 * * 5#2", "Pacific/Chatham"),
        ("0 0 29 2 *", "UTC"),
        ("*/10 * * * * *", "Asia/Tokyo"),
    ];
    for (expr, zone) in cases {
        let trigger = CronTrigger::new(expr, zone.parse().unwrap()).unwrap();
        c.bench_function(&format!("next '{expr}' {zone}"), |b| {
            b.iter(|| trigger.next_after(black_box(after)))
        });
    }
}

/// The worst case for the per-thread zone spans: each call in another of 40 zones, so most
/// find their slot taken by another zone and search the zone's table again.
fn cron_next_zone_churn(c: &mut Criterion) {
    let after: DateTime<Utc> = "2026-11-26T10:17:23Z".parse().unwrap();
    let triggers: Vec<CronTrigger> = chrono_tz::TZ_VARIANTS
        .iter()
        .step_by(chrono_tz::TZ_VARIANTS.len() / 40)
        .take(40)
        .map(|tz| CronTrigger::new("0 9 * * 1-5", *tz).unwrap())
        .collect();
    let mut i = 0;
    c.bench_function("next '0 9 * * 1-5', 40 zones in turn", |b| {
        b.iter(|| {
            i = (i + 1) % triggers.len();
            triggers[i].next_after(black_box(after))
        })
    });
}

criterion_group!(benches, cron_next, cron_next_zone_churn);
criterion_main!(benches);
