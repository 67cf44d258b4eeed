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

/// The UTC offset of `tz` at `seconds` since the epoch, in seconds: none needed for UTC,
/// else from this thread's span of the zone when it holds `seconds`.
pub(crate) fn offset_at_seconds(tz: Tz, seconds: i64) -> i64 {
    if tz == Tz::UTC || tz == Tz::Etc__UTC {
        return 0;
    }
    match span_holding(tz, seconds) {
        Some(span) => span.offset,
        None => spans::fill(tz, seconds).offset,
    }
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
}

/// The cached span of `tz` holding `seconds`, if this thread has it.
fn span_holding(tz: Tz, seconds: i64) -> Option<Span> {
    spans::get(tz).filter(|s| s.start <= seconds && seconds < s.end)
}

/// Each thread's last span per zone (64 slots, picked by the zone), so that successive fire
/// times in one zone cost a comparison instead of a table search: a zone changes offset
/// about twice a year, and a miss costs about 60 lookups (about 1 µs).
mod spans {
    use std::cell::Cell;

    use chrono_tz::Tz;

    use super::{first_second, lookup, Span};

    const SLOTS: usize = 64;
    /// How far a span reaches each way when no change is near.
    const HORIZON: i64 = 120 * 86_400;
    const WEEK: i64 = 7 * 86_400;

    thread_local! {
        static CACHE: [Cell<Option<Span>>; SLOTS] = const { [const { Cell::new(None) }; SLOTS] };
    }

    fn slot(tz: Tz) -> usize {
        tz as usize % SLOTS
    }

    pub(super) fn get(tz: Tz) -> Option<Span> {
        CACHE.with(|c| c[slot(tz)].get()).filter(|s| s.tz == tz)
    }

    /// Finds the span of `tz` holding `seconds` (offset changes at most once a week, as
    /// `next_offset_change` assumes) and keeps it.
    pub(super) fn fill(tz: Tz, seconds: i64) -> Span {
        let offset = lookup(tz, seconds);
        let same = |s: i64| lookup(tz, s) == offset;
        let mut end = seconds;
        while end < seconds + HORIZON {
            let next = (end + WEEK).min(seconds + HORIZON);
            if !same(next) {
                end = first_second(end, next, |s| !same(s)).timestamp();
                break;
            }
            end = next;
        }
        let mut start = seconds;
        while start > seconds - HORIZON {
            let before = (start - WEEK).max(seconds - HORIZON);
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
    if tz == Tz::UTC || tz == Tz::Etc__UTC {
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
    if span_holding(tz, from).is_some_and(|s| s.offset == offset && to < s.end) {
        return None;
    }
    // Zones change offset at most once a week, so checking week-spaced instants finds the
    // first change; a binary search then pins it to the second.
    const WEEK: i64 = 7 * 86_400;
    let differs = |s: i64| offset_at_seconds(tz, s) != offset;
    let mut lo = from;
    loop {
        let hi = lo.saturating_add(WEEK).min(to);
        if differs(hi) {
            return Some(first_second(lo, hi, differs).timestamp());
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
