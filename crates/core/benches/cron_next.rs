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

criterion_group!(benches, cron_next);
criterion_main!(benches);
