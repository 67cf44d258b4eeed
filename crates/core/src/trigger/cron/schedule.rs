//! A parsed cron expression as bit sets, and the search for the next matching wall-clock time.

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

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil):
/// plain integer arithmetic, no calendar types on this hot path.
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = month as i64;
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (year_of_era + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// The weekday (0 = Sunday) of the first day of `month` in `year`.
fn first_weekday(year: i32, month: u32) -> u32 {
    // 1970-01-01 was a Thursday.
    (days_from_civil(year, month, 1) + 4).rem_euclid(7) as u32
}

/// The weekday (0 = Sunday) of `day` in the month whose first day is weekday `first`.
fn weekday_of(first: u32, day: u32) -> u32 {
    (first + day - 1) % 7
}

/// The days of a month (bit n = day n) whose weekday is in `weekdays` (bit 0 = Sunday).
fn days_on(weekdays: u8, first: u32, last: u32) -> u32 {
    let w = weekdays as u32 & 0x7f;
    // Bit i: the weekday of day i + 1, rotated so that bit 0 is the month's first weekday.
    let week = ((w >> first) | (w << (7 - first))) & 0x7f;
    let days = (week | week << 7 | week << 14 | week << 21 | week << 28) << 1;
    days & month_days(last)
}

/// Days 1 to `last` (bit n = day n).
fn month_days(last: u32) -> u32 {
    (u32::MAX >> (31 - last)) & !1
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
        self.next_local(days_from_civil(MIN_YEAR, 1, 1) * DAY)
            .is_some()
    }

    /// The days of a month that match (bit n = day n), given its first weekday and length.
    fn day_mask(&self, first: u32, last: u32) -> u32 {
        let dom = &self.dom;
        let dow = &self.dow;
        let mut by_date = dom.days & month_days(last);
        if dom.last {
            by_date |= 1 << last;
        }
        if dom.last_weekday {
            by_date |= 1 << nearest_weekday(first, last, last);
        }
        let mut targets = dom.nearest_weekday & month_days(last);
        while targets != 0 {
            by_date |= 1 << nearest_weekday(first, last, targets.trailing_zeros());
            targets &= targets - 1;
        }
        let mut by_weekday = days_on(dow.days, first, last);
        if dow.last != 0 {
            // The last of each chosen weekday: one of the month's final seven days.
            by_weekday |= days_on(dow.last, first, last) & !month_days(last - 7);
        }
        for (weekday, nth) in dow.nth.iter().enumerate() {
            let mut weeks = *nth as u32;
            let first_day = (weekday as u32 + 7 - first) % 7 + 1;
            while weeks != 0 {
                let day = first_day + 7 * (weeks.trailing_zeros() - 1);
                if day <= last {
                    by_weekday |= 1 << day;
                }
                weeks &= weeks - 1;
            }
        }
        match (dom.restricted, dow.restricted) {
            (true, true) => by_date | by_weekday,
            (true, false) => by_date,
            (false, true) => by_weekday,
            (false, false) => month_days(last),
        }
    }

    /// The first matching time of day at or after `h:m:s`, in seconds from midnight, if any.
    fn time_at_or_after(&self, h: u32, m: u32, s: u32) -> Option<u32> {
        let first_second = self.seconds.trailing_zeros();
        let mut hour = next_bit(self.hours as u64, h)?;
        if hour == h {
            let same_minute = next_bit(self.minutes, m)
                .filter(|mi| *mi == m)
                .and_then(|mi| next_bit(self.seconds, s).map(|sec| (mi, sec)));
            let later_minute = || next_bit(self.minutes, m + 1).map(|mi| (mi, first_second));
            if let Some((minute, second)) = same_minute.or_else(later_minute) {
                return Some(hour * 3600 + minute * 60 + second);
            }
            hour = next_bit(self.hours as u64, h + 1)?;
        }
        Some(hour * 3600 + self.minutes.trailing_zeros() * 60 + first_second)
    }

    /// The first wall-clock time at or after `from` that matches every field; both are
    /// wall-clock seconds counted as if the zone were UTC (seconds since 1970-01-01 00:00).
    pub(crate) fn next_local(&self, from: i64) -> Option<i64> {
        let (from_year, from_month, from_day) = civil_from_days(from.div_euclid(DAY));
        let from_time = from.rem_euclid(DAY) as u32;
        let mut year = from_year.max(MIN_YEAR);
        // The month and day the search starts in, while it is in `from`'s year.
        let mut start = (year == from_year).then_some((from_month, from_day));
        while year <= MAX_YEAR {
            if self.years.contains(year) {
                let mut month = start.map_or(1, |(m, _)| m);
                while let Some(m) = next_bit(self.months as u64, month).filter(|m| *m <= 12) {
                    let last = days_in_month(year, m);
                    let from_day = match start {
                        Some((sm, sd)) if sm == m => sd,
                        _ => 1,
                    };
                    let mut days =
                        self.day_mask(first_weekday(year, m), last) & (u32::MAX << from_day);
                    while days != 0 {
                        let day = days.trailing_zeros();
                        let (h, mi, s) = if start == Some((m, day)) {
                            (from_time / 3600, from_time / 60 % 60, from_time % 60)
                        } else {
                            (0, 0, 0)
                        };
                        if let Some(t) = self.time_at_or_after(h, mi, s) {
                            return Some(days_from_civil(year, m, day) * DAY + t as i64);
                        }
                        days &= days - 1;
                    }
                    month = m + 1;
                }
            }
            year += 1;
            start = None;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, NaiveDate};

    use super::*;

    #[test]
    fn civil_days_agree_with_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let mut date = NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        while date.year() <= 3001 {
            let days = (date - epoch).num_days();
            assert_eq!(days_from_civil(date.year(), date.month(), date.day()), days);
            assert_eq!(
                civil_from_days(days),
                (date.year(), date.month(), date.day())
            );
            assert_eq!(days_in_month(date.year(), date.month()), {
                let next = date.with_day(1).unwrap() + chrono::Months::new(1);
                (next - date.with_day(1).unwrap()).num_days() as u32
            });
            date += chrono::Duration::days(13);
        }
    }
}
