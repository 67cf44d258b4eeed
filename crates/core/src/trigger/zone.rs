//! Wall-clock to instant mapping in a time zone, with Kairos' gap and overlap rules.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::TriggerError;

/// Parses an IANA time zone name such as `Europe/London`.
pub fn parse_time_zone(name: &str) -> Result<Tz, TriggerError> {
    name.parse()
        .map_err(|_| TriggerError::TimeZone(name.to_string()))
}

/// The UTC offset of `tz` at instant `t`, in seconds.
pub(crate) fn offset_at(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// Offset changes lie at least this far apart (the closest pairs in the tz database are
/// 6 days 23 hours apart: Asia/Gaza in 2040, America/Recife in 2000), so checking instants
/// this far apart finds each change, and a binary search between two of them pins it.
const CHANGE_STEP: i64 = 86_400;

/// Whether `tz` is UTC, whose offset never changes.
fn is_utc(tz: Tz) -> bool {
    tz == Tz::UTC || tz == Tz::Etc__UTC
}

/// The UTC offset of `tz` at `seconds` since the epoch, in seconds: none needed for UTC,
/// else from this thread's span of the zone, found first when it does not hold `seconds`.
pub(crate) fn offset_at_seconds(tz: Tz, seconds: i64) -> i64 {
    if is_utc(tz) {
        return 0;
    }
    span_at(tz, seconds).offset
}

/// This thread's span of `tz` holding `seconds`, found if it has none.
fn span_at(tz: Tz, seconds: i64) -> Span {
    span_holding(tz, seconds).unwrap_or_else(|| spans::fill(tz, seconds))
}

/// The offset of `tz` at `seconds` from the zone's table (chrono-tz's binary search).
fn lookup(tz: Tz, seconds: i64) -> i64 {
    offset_at(tz, instant(seconds)) as i64
}

/// An interval `[start, end)` of instants (epoch seconds) over which a zone's offset holds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    tz: Tz,
    start: i64,
    end: i64,
    offset: i64,
    /// The offset changes at `end` (else the search for a change stopped there).
    end_is_change: bool,
}

/// The cached span of `tz` holding `seconds`, if this thread has it.
fn span_holding(tz: Tz, seconds: i64) -> Option<Span> {
    spans::get(tz).filter(|s| s.start <= seconds && seconds < s.end)
}

/// Each thread's last span per zone (64 slots, picked by the zone), so that successive fire
/// times in one zone cost a comparison instead of a table search: a zone changes offset
/// about twice a year, and a miss costs about 80 lookups (a few µs).
mod spans {
    use std::cell::Cell;

    use chrono_tz::Tz;

    use super::{first_change, first_second, lookup, Span, CHANGE_STEP};

    const SLOTS: usize = 64;
    /// How far a span reaches each way when no change is nearer.
    const HORIZON: i64 = 21 * 86_400;

    thread_local! {
        static CACHE: [Cell<Option<Span>>; SLOTS] = const { [const { Cell::new(None) }; SLOTS] };
    }

    fn slot(tz: Tz) -> usize {
        tz as usize % SLOTS
    }

    pub(super) fn get(tz: Tz) -> Option<Span> {
        CACHE.with(|c| c[slot(tz)].get()).filter(|s| s.tz == tz)
    }

    /// Finds the span of `tz` holding `seconds`, out to [`HORIZON`] each way, and keeps it.
    pub(super) fn fill(tz: Tz, seconds: i64) -> Span {
        let offset = lookup(tz, seconds);
        let same = |s: i64| lookup(tz, s) == offset;
        let change = first_change(seconds, seconds + HORIZON, |s| !same(s));
        let end = change.unwrap_or(seconds + HORIZON);
        let mut start = seconds;
        while start > seconds - HORIZON {
            let before = (start - CHANGE_STEP).max(seconds - HORIZON);
            if !same(before) {
                start = first_second(before, start, same).timestamp();
                break;
            }
            start = before;
        }
        let span = Span {
            tz,
            start,
            end,
            offset,
            end_is_change: change.is_some(),
        };
        CACHE.with(|c| c[slot(tz)].set(Some(span)));
        span
    }
}

/// The wall-clock time in `tz` at instant `t`.
pub(crate) fn local_of(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc() + Duration::seconds(offset_at(tz, t) as i64)
}

/// The instant a wall-clock time stands for: the earlier one in a fall-back overlap, the
/// first instant after the gap for a time that a spring-forward gap skips.
pub(crate) fn resolve_earliest(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => gap_end(tz, local),
    }
}

/// [`resolve_earliest`] for wall-clock seconds (counted as if the zone were UTC): straight
/// from this thread's span of the zone when the instant lies over a day inside it, since then
/// no other instant can read the same on the wall clock.
pub(crate) fn resolve_earliest_seconds(tz: Tz, local: i64) -> i64 {
    // UTC offsets stay within ±26 hours of each other's reach.
    const REACH: i64 = 26 * 3600;
    if is_utc(tz) {
        return local;
    }
    if let Some(span) = spans::get(tz) {
        let t = local - span.offset;
        if span.start + REACH <= t && t + REACH < span.end {
            return t;
        }
    }
    resolve_earliest(tz, instant(local).naive_utc()).timestamp()
}

/// The first instant after the spring-forward gap that swallows `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // UTC offsets stay within ±26 hours, so the wall clock 27 hours before `local` (read as
    // UTC) is earlier than `local` and 27 hours after it later; the jump lies between.
    let t = local.and_utc().timestamp();
    first_second(t - 27 * 3600, t + 27 * 3600, |s| {
        local_of(tz, instant(s)) > local
    })
}

fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first second in `(lo, hi]` at which `reached` holds, given it fails at `lo` and holds
/// at `hi` (a binary search that assumes one change in between).
fn first_second(mut lo: i64, mut hi: i64, reached: impl Fn(i64) -> bool) -> DateTime<Utc> {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    instant(hi)
}

/// The first second in `(from, to]` whose offset differs from `offset`, if any.
pub(crate) fn next_offset_change(tz: Tz, from: i64, to: i64, offset: i64) -> Option<i64> {
    if is_utc(tz) {
        return None;
    }
    let span = span_at(tz, from);
    let mut lo = from;
    if span.offset == offset {
        if to < span.end {
            return None;
        }
        if span.end_is_change {
            return Some(span.end);
        }
        lo = span.end - 1;
    }
    // Past the span: straight from the table, so the probes leave this thread's span alone.
    first_change(lo, to, |s| lookup(tz, s) != offset)
}

/// The first second in `(from, to]` at which `changed` holds: instants [`CHANGE_STEP`]
/// apart find the step it lies in, and a binary search pins it to the second.
fn first_change(from: i64, to: i64, changed: impl Fn(i64) -> bool) -> Option<i64> {
    let mut lo = from;
    loop {
        let hi = lo.saturating_add(CHANGE_STEP).min(to);
        if changed(hi) {
            return Some(first_second(lo, hi, &changed).timestamp());
        }
        if hi >= to {
            return None;
        }
        lo = hi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached spans agree with the zone's table at every instant and wall-clock time
    /// tried, through the DST changes of zones with hour, half-hour and no changes, and
    /// when one thread alternates between zones and jumps back in time.
    #[test]
    fn cached_spans_agree_with_the_table() {
        let zones: Vec<Tz> = [
            "Europe/London",
            "America/New_York",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "Asia/Tokyo",
            "Asia/Kathmandu",
        ]
        .iter()
        .map(|z| z.parse().unwrap())
        .collect();
        let from = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .timestamp();
        // 1733 s steps (coprime with an hour) over three years, zones interleaved.
        for (i, s) in (from..from + 3 * 366 * 86_400).step_by(1733).enumerate() {
            let tz = zones[i % zones.len()];
            let s = if i % 1000 == 999 { s - 200 * 86_400 } else { s };
            assert_eq!(offset_at_seconds(tz, s), lookup(tz, s), "{tz} at {s}");
            let local = s + 3 * 3600;
            assert_eq!(
                resolve_earliest_seconds(tz, local),
                resolve_earliest(tz, instant(local).naive_utc()).timestamp(),
                "{tz} wall clock {local}"
            );
        }
    }

    /// Around every offset change of 1999-2042 in zones with hour, half-hour and
    /// week-long changes, the cache (warmed from before and from after) agrees with the table.
    #[test]
    fn every_change_is_seen_from_both_sides() {
        let zones = [
            "Europe/London",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "Asia/Gaza",
            "America/Recife",
        ];
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().timestamp();
        for zone in zones {
            let tz: Tz = zone.parse().unwrap();
            let mut day = at("1999-01-01T00:00:00Z");
            while day < at("2042-12-31T00:00:00Z") {
                let next = day + CHANGE_STEP;
                if lookup(tz, day) != lookup(tz, next) {
                    let change =
                        first_second(day, next, |s| lookup(tz, s) != lookup(tz, day)).timestamp();
                    for warm in [change - 10 * 86_400, change + 10 * 86_400, change] {
                        offset_at_seconds(tz, warm);
                        for s in [change - 1, change, change + 1] {
                            assert_eq!(offset_at_seconds(tz, s), lookup(tz, s), "{zone} {s}");
                        }
                        let before = change - 5 * 86_400;
                        assert_eq!(
                            next_offset_change(tz, before, change + 86_400, lookup(tz, before)),
                            Some(change),
                            "{zone} change at {change}"
                        );
                        for local in (change - 2 * 3600..change + 4 * 3600).step_by(1800) {
                            assert_eq!(
                                resolve_earliest_seconds(tz, local),
                                resolve_earliest(tz, instant(local).naive_utc()).timestamp(),
                                "{zone} wall clock {local}"
                            );
                        }
                    }
                }
                day = next;
            }
        }
    }

    /// A change and its reversal less than a week apart (Gaza, October 2040) are both kept,
    /// in a thread whose cache is empty.
    #[test]
    fn a_week_long_change_is_not_stepped_over() {
        std::thread::spawn(|| {
            let tz: Tz = "Asia/Gaza".parse().unwrap();
            let cron = crate::trigger::CronTrigger::new("0 12 * * *", tz).unwrap();
            let after = "2040-10-19T23:30:00Z".parse().unwrap();
            let next = cron.next_after(after).unwrap();
            assert_eq!(
                next,
                "2040-10-20T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
            );
            let recife: Tz = "America/Recife".parse().unwrap();
            let warm = DateTime::parse_from_rfc3339("2000-10-15T02:30:00Z").unwrap();
            offset_at_seconds(recife, warm.timestamp());
            let earlier = DateTime::parse_from_rfc3339("2000-10-10T02:30:00Z").unwrap();
            assert_eq!(offset_at_seconds(recife, earlier.timestamp()), -7200);
        })
        .join()
        .unwrap();
    }

    /// Two zones that share a slot take turns in it without reading each other's span.
    #[test]
    fn zones_sharing_a_slot_keep_their_own_offsets() {
        let london: Tz = "Europe/London".parse().unwrap();
        let other = *chrono_tz::TZ_VARIANTS
            .iter()
            .find(|z| **z != london && **z as usize % 64 == london as usize % 64)
            .unwrap();
        let summer = DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
            .unwrap()
            .timestamp();
        for s in (summer..summer + 86_400).step_by(3600) {
            assert_eq!(offset_at_seconds(london, s), 3600);
            assert_eq!(offset_at_seconds(other, s), lookup(other, s), "{other}");
        }
    }

    #[test]
    fn a_change_inside_the_span_is_found() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let march = DateTime::parse_from_rfc3339("2026-03-20T00:00:00Z")
            .unwrap()
            .timestamp();
        let offset = offset_at_seconds(tz, march);
        let change = DateTime::parse_from_rfc3339("2026-03-29T01:00:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(
            next_offset_change(tz, march, march + 30 * 86_400, offset),
            Some(change)
        );
        assert_eq!(next_offset_change(tz, march, change - 1, offset), None);
    }
}
