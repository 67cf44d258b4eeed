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

/// The UTC offset of `tz` at `seconds` since the epoch, in seconds; no lookup for UTC.
pub(crate) fn offset_at_seconds(tz: Tz, seconds: i64) -> i64 {
    if tz == Tz::UTC || tz == Tz::Etc__UTC {
        return 0;
    }
    offset_at(tz, instant(seconds)) as i64
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
