//! Property test: cron `next_after` in UTC agrees with a brute-force scan over wall-clock
//! minutes, for random five-field expressions (with `L`, `W`, `LW`, `dL` and `d#n` among the
//! days), and successive fire times strictly increase.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use kairos_core::trigger::CronTrigger;
use proptest::prelude::*;

/// One field of a generated expression, rendered as text and expanded to its values
/// independently of the parser under test.
#[derive(Debug, Clone)]
enum Part {
    Star,
    Value(u32),
    Range(u32, u32),
    Step(Option<u32>, u32),
    List(Vec<u32>),
}

impl Part {
    fn text(&self) -> String {
        match self {
            Part::Star => "*".into(),
            Part::Value(v) => v.to_string(),
            Part::Range(a, b) => format!("{a}-{b}"),
            Part::Step(None, s) => format!("*/{s}"),
            Part::Step(Some(a), s) => format!("{a}/{s}"),
            Part::List(vs) => vs.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
        }
    }

    fn contains(&self, v: u32, lo: u32, hi: u32) -> bool {
        match self {
            Part::Star => true,
            Part::Value(x) => *x == v,
            Part::Range(a, b) => (*a..=*b).contains(&v),
            Part::Step(start, s) => {
                let a = start.unwrap_or(lo);
                v >= a && v <= hi && (v - a) % s == 0
            }
            Part::List(vs) => vs.contains(&v),
        }
    }
}

fn part(lo: u32, hi: u32) -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(Part::Star),
        (lo..=hi).prop_map(Part::Value),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| Part::Range(a.min(b), a.max(b))),
        (proptest::option::of(lo..=hi), 1..=(hi - lo + 1)).prop_map(|(a, s)| Part::Step(a, s)),
        proptest::collection::vec(lo..=hi, 1..4).prop_map(Part::List),
    ]
}

/// A day-of-month or day-of-week item: plain values, or one of the special characters.
#[derive(Debug, Clone)]
enum Day {
    Plain(Part),
    /// `L`: the month's last day.
    Last,
    /// `LW`: the month's last weekday (Mon-Fri).
    LastWeekday,
    /// `nW`: the weekday nearest day n, without leaving the month.
    NearestWeekday(u32),
    /// `dL`: the month's last weekday d.
    LastOf(u32),
    /// `d#n`: the month's nth weekday d.
    Nth(u32, u32),
}

impl Day {
    fn text(&self) -> String {
        match self {
            Day::Plain(p) => p.text(),
            Day::Last => "L".into(),
            Day::LastWeekday => "LW".into(),
            Day::NearestWeekday(n) => format!("{n}W"),
            Day::LastOf(d) => format!("{d}L"),
            Day::Nth(d, n) => format!("{d}#{n}"),
        }
    }

    fn restricted(&self) -> bool {
        !matches!(self, Day::Plain(Part::Star))
    }

    /// Whether the date matches as a day of the month (`dow` false) or of the week.
    fn matches(&self, t: DateTime<Utc>, dow: bool) -> bool {
        let last = last_day(t);
        let wd = t.weekday().num_days_from_sunday();
        match self {
            Day::Plain(p) if dow => p.contains(wd, 0, 7) || (wd == 0 && p.contains(7, 0, 7)),
            Day::Plain(p) => p.contains(t.day(), 1, 31),
            Day::Last => t.day() == last,
            Day::LastWeekday => Some(t.day()) == nearest_weekday(t, last),
            Day::NearestWeekday(n) => Some(t.day()) == nearest_weekday(t, *n),
            Day::LastOf(d) => wd == *d && t.day() + 7 > last,
            Day::Nth(d, n) => wd == *d && (t.day() - 1) / 7 + 1 == *n,
        }
    }
}

/// The last day of `t`'s month.
fn last_day(t: DateTime<Utc>) -> u32 {
    (28..=31).rev().find(|d| t.with_day(*d).is_some()).unwrap()
}

/// The weekday nearest day `n` of `t`'s month, without leaving it; none when n is past its end.
fn nearest_weekday(t: DateTime<Utc>, n: u32) -> Option<u32> {
    let last = last_day(t);
    let target = t.with_day(n)?;
    Some(match target.weekday().num_days_from_sunday() {
        6 if n == 1 => 3,
        6 => n - 1,
        0 if n == last => n - 2,
        0 => n + 1,
        _ => n,
    })
}

#[derive(Debug, Clone)]
struct Expr {
    minute: Part,
    hour: Part,
    dom: Day,
    month: Part,
    dow: Day,
}

impl Expr {
    fn text(&self) -> String {
        [
            self.minute.text(),
            self.hour.text(),
            self.dom.text(),
            self.month.text(),
            self.dow.text(),
        ]
        .join(" ")
    }

    fn day_matches(&self, t: DateTime<Utc>) -> bool {
        if !self.month.contains(t.month(), 1, 12) {
            return false;
        }
        let dom = self.dom.matches(t, false);
        // 7 is Sunday too.
        let dow = self.dow.matches(t, true);
        match (self.dom.restricted(), self.dow.restricted()) {
            (false, false) => true,
            (false, true) => dow,
            (true, false) => dom,
            (true, true) => dom || dow,
        }
    }

    /// The first matching minute after `after`, scanning forward up to `limit`.
    fn brute_force(&self, after: DateTime<Utc>, limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        while t <= limit {
            if !self.day_matches(t) {
                t = Utc.from_utc_datetime(&t.date_naive().succ_opt()?.and_hms_opt(0, 0, 0)?);
            } else if !self.hour.contains(t.hour(), 0, 23) {
                t = t.with_minute(0)? + Duration::hours(1);
            } else if !self.minute.contains(t.minute(), 0, 59) {
                t += Duration::minutes(1);
            } else {
                return Some(t);
            }
        }
        None
    }
}

fn day_of_month() -> impl Strategy<Value = Day> {
    prop_oneof![
        4 => part(1, 31).prop_map(Day::Plain),
        1 => Just(Day::Last),
        1 => Just(Day::LastWeekday),
        1 => (1u32..=31).prop_map(Day::NearestWeekday),
    ]
}

fn day_of_week() -> impl Strategy<Value = Day> {
    prop_oneof![
        4 => part(0, 7).prop_map(Day::Plain),
        1 => (0u32..=6).prop_map(Day::LastOf),
        1 => (0u32..=6, 1u32..=5).prop_map(|(d, n)| Day::Nth(d, n)),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    (
        part(0, 59),
        part(0, 23),
        day_of_month(),
        part(1, 12),
        day_of_week(),
    )
        .prop_map(|(minute, hour, dom, month, dow)| Expr {
            minute,
            hour,
            dom,
            month,
            dow,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn next_agrees_with_brute_force(e in expr(), start in 1_600_000_000i64..1_900_000_000) {
        let Ok(trigger) = CronTrigger::new(&e.text(), chrono_tz::UTC) else {
            // Only expressions that can never fire are refused; the scan must agree.
            let from = Utc.timestamp_opt(start, 0).unwrap();
            prop_assert_eq!(e.brute_force(from, from + Duration::days(366 * 8)), None);
            return Ok(());
        };
        let mut after = Utc.timestamp_opt(start, 0).unwrap();
        for _ in 0..5 {
            let limit = after + Duration::days(366 * 8);
            let expected = e.brute_force(after, limit);
            let got = trigger.next_after(after).filter(|t| *t <= limit);
            prop_assert_eq!(got, expected, "'{}' after {}", e.text(), after);
            let Some(next) = got else { break };
            prop_assert!(next > after);
            after = next;
        }
    }
}
