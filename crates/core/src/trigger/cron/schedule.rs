//! A parsed cron expression as bit sets, and the search for the next matching wall-clock time.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// First year a cron expression can fire in.
pub(crate) const MIN_YEAR: i32 = 1970;
/// Last year a cron expression can fire in; the search stops there.
pub(crate) const MAX_YEAR: i32 = 2999;

const YEAR_WORDS: usize = ((MAX_YEAR - MIN_YEAR) as usize) / 64 + 1;

/// The years a 7-field expression allows; `None` means every year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YearSet(Option<Box<[u64; YEAR_WORDS]>>);

impl YearSet {
    pub(crate) fn any() -> Self {
        YearSet(None)
    }

    pub(crate) fn none() -> Self {
        YearSet(Some(Box::new([0; YEAR_WORDS])))
    }

    pub(crate) fn insert(&mut self, year: i32) {
        if let Some(bits) = &mut self.0 {
            let i = (year - MIN_YEAR) as usize;
            bits[i / 64] |= 1 << (i % 64);
        }
    }

    fn contains(&self, year: i32) -> bool {
        match &self.0 {
            None => true,
            Some(bits) => {
                let i = (year - MIN_YEAR) as usize;
                bits[i / 64] & (1 << (i % 64)) != 0
            }
        }
    }
}

/// Day-of-month choices: plain days (bit n = day n), `L`, `nW` and `LW`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DaysOfMonth {
    pub(crate) restricted: bool,
    pub(crate) days: u32,
    pub(crate) last: bool,
    pub(crate) nearest_weekday: u32,
    pub(crate) last_weekday: bool,
}

/// Day-of-week choices: plain days (bit 0 = Sunday), `dL` and `d#n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DaysOfWeek {
    pub(crate) restricted: bool,
    pub(crate) days: u8,
    pub(crate) last: u8,
    /// For each weekday, bit n set when the nth occurrence in the month is chosen.
    pub(crate) nth: [u8; 7],
}

/// A cron expression's fields as sets of allowed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CronSchedule {
    pub(crate) seconds: u64,
    pub(crate) minutes: u64,
    pub(crate) hours: u32,
    /// Bit n = month n (1-12).
    pub(crate) months: u16,
    pub(crate) dom: DaysOfMonth,
    pub(crate) dow: DaysOfWeek,
    pub(crate) years: YearSet,
    /// The hour field names fixed hours (not `*` or a step): such times follow the wall clock
    /// through DST changes instead of elapsed time.
    pub(crate) wall_clock_hours: bool,
}

/// The smallest set bit at or above `from`, if any.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// The weekday (0 = Sunday) of `day` in the month whose first day is weekday `first`.
fn weekday_of(first: u32, day: u32) -> u32 {
    (first + day - 1) % 7
}

/// The weekday (Mon-Fri) nearest to `target` without leaving the month.
fn nearest_weekday(first: u32, last: u32, target: u32) -> u32 {
    let target = target.min(last);
    match weekday_of(first, target) {
        6 if target == 1 => 3,
        6 => target - 1,
        0 if target == last => target - 2,
        0 => target + 1,
        _ => target,
    }
}

impl CronSchedule {
    /// Whether some day in some allowed month and year matches.
    pub(crate) fn can_fire(&self) -> bool {
        let start = NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1).unwrap();
        self.next_local(start.and_time(NaiveTime::MIN)).is_some()
    }

    fn day_matches(&self, first: u32, last: u32, day: u32) -> bool {
        let dom = &self.dom;
        let dom_match = || {
            dom.days & (1 << day) != 0
                || (dom.last && day == last)
                || (dom.last_weekday && day == nearest_weekday(first, last, last))
                || (dom.nearest_weekday != 0
                    && (1..=31).any(|t| {
                        dom.nearest_weekday & (1 << t) != 0
                            && t <= last
                            && nearest_weekday(first, last, t) == day
                    }))
        };
        let dow = &self.dow;
        let wd = weekday_of(first, day) as usize;
        let dow_match = || {
            dow.days & (1 << wd) != 0
                || (dow.last & (1 << wd) != 0 && day + 7 > last)
                || dow.nth[wd] & (1 << ((day - 1) / 7 + 1)) != 0
        };
        match (dom.restricted, dow.restricted) {
            (true, true) => dom_match() || dow_match(),
            (true, false) => dom_match(),
            (false, true) => dow_match(),
            (false, false) => true,
        }
    }

    /// The first matching time of day at or after `h:m:s`, if any.
    fn time_at_or_after(&self, h: u32, m: u32, s: u32) -> Option<NaiveTime> {
        let first_second = self.seconds.trailing_zeros();
        let mut hour = next_bit(self.hours as u64, h)?;
        if hour == h {
            let same_minute = next_bit(self.minutes, m)
                .filter(|mi| *mi == m)
                .and_then(|mi| next_bit(self.seconds, s).map(|sec| (mi, sec)));
            let later_minute = || next_bit(self.minutes, m + 1).map(|mi| (mi, first_second));
            if let Some((minute, second)) = same_minute.or_else(later_minute) {
                return NaiveTime::from_hms_opt(hour, minute, second);
            }
            hour = next_bit(self.hours as u64, h + 1)?;
        }
        NaiveTime::from_hms_opt(hour, self.minutes.trailing_zeros(), first_second)
    }

    /// The first wall-clock time at or after `from` that matches every field.
    pub(crate) fn next_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut year = from.year().max(MIN_YEAR);
        let mut date = if year == from.year() {
            Some(from.date())
        } else {
            None
        };
        while year <= MAX_YEAR {
            if !self.years.contains(year) {
                year += 1;
                date = None;
                continue;
            }
            let start_month = date.map_or(1, |d| d.month());
            let mut month = start_month;
            while let Some(m) = next_bit(self.months as u64, month).filter(|m| *m <= 12) {
                let last = days_in_month(year, m);
                let first = NaiveDate::from_ymd_opt(year, m, 1)?
                    .weekday()
                    .num_days_from_sunday();
                let start_day = match date {
                    Some(d) if m == d.month() => d.day(),
                    _ => 1,
                };
                for day in start_day..=last {
                    if !self.day_matches(first, last, day) {
                        continue;
                    }
                    let (h, mi, s) = match (date, from.time()) {
                        (Some(d), t) if d == NaiveDate::from_ymd_opt(year, m, day)? => {
                            (t.hour(), t.minute(), t.second())
                        }
                        _ => (0, 0, 0),
                    };
                    if let Some(t) = self.time_at_or_after(h, mi, s) {
                        return Some(NaiveDate::from_ymd_opt(year, m, day)?.and_time(t));
                    }
                }
                month = m + 1;
            }
            year += 1;
            date = None;
        }
        None
    }
}
