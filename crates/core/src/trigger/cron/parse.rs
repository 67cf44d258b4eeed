//! Parsing cron expressions into field sets, with errors that name the field.

use super::schedule::{CronSchedule, YearSet, MAX_YEAR, MIN_YEAR};
use crate::trigger::TriggerError;

/// The fields of a cron expression, in the words error messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    /// Smallest and largest value a plain number may take (day-of-week accepts 7 for Sunday).
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
            Field::Year => (MIN_YEAR as u32, MAX_YEAR as u32),
        }
    }

    fn names(self) -> &'static [&'static str] {
        const MONTHS: [&str; 12] = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        match self {
            Field::Month => &MONTHS,
            Field::DayOfWeek => &DAYS,
            _ => &[],
        }
    }

    fn error(self, message: impl std::fmt::Display) -> TriggerError {
        TriggerError::Cron(format!("{}: {}", self.name(), message))
    }
}

/// Expands the `@` shorthands to their five-field equivalents.
fn expand_alias(expr: &str) -> Result<&str, TriggerError> {
    Ok(match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other if other.starts_with('@') => {
            return Err(TriggerError::Cron(format!(
                "unknown shorthand '{expr}' (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)"
            )))
        }
        _ => expr,
    })
}

/// Parses a 5-, 6- (leading seconds) or 7-field (trailing year) expression, or an `@` shorthand.
pub(crate) fn parse(expr: &str) -> Result<CronSchedule, TriggerError> {
    let expr = expand_alias(expr.trim())?;
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let (second, rest, year) = match parts.len() {
        5 => ("0", &parts[..], None),
        6 => (parts[0], &parts[1..], None),
        7 => (parts[0], &parts[1..6], Some(parts[6])),
        0 => return Err(TriggerError::Cron("expression is empty".into())),
        n => {
            return Err(TriggerError::Cron(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), 6 with leading seconds or 7 with trailing year, got {n}"
            )))
        }
    };
    let seconds = plain_field(Field::Second, second)?;
    let minutes = plain_field(Field::Minute, rest[0])?;
    let hours = plain_field(Field::Hour, rest[1])?;
    let dom = day_of_month(rest[2])?;
    let months = plain_field(Field::Month, rest[3])?;
    let dow = day_of_week(rest[4])?;
    let years = match year {
        None => YearSet::any(),
        Some(y) => year_field(y)?,
    };
    let schedule = CronSchedule {
        seconds,
        minutes,
        hours: hours as u32,
        months: months as u16,
        dom,
        dow,
        years,
        wall_clock_hours: !is_wildcard(rest[1]) && !rest[1].contains('/'),
    };
    if !schedule.can_fire() {
        return Err(TriggerError::Cron(format!(
            "'{}' can never fire: no month in the expression has the days it asks for",
            expr
        )));
    }
    Ok(schedule)
}

fn is_wildcard(part: &str) -> bool {
    part == "*" || part == "?"
}

/// A numeric or named value of `field`, range-checked.
fn value(field: Field, text: &str) -> Result<u32, TriggerError> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names().iter().position(|n| *n == lower) {
        let base = if field == Field::Month { 1 } else { 0 };
        return Ok(i as u32 + base);
    }
    let n: u32 = text.parse().map_err(|_| {
        if text.is_empty() {
            field.error("empty value (two commas or a trailing comma?)")
        } else {
            field.error(format!("'{text}' is not a number{}", name_hint(field)))
        }
    })?;
    let (lo, hi) = field.bounds();
    if n < lo || n > hi {
        return Err(field.error(format!("{n} is out of range {lo}-{hi}")));
    }
    Ok(n)
}

fn name_hint(field: Field) -> &'static str {
    match field {
        Field::Month => " or a month name (jan-dec)",
        Field::DayOfWeek => " or a day name (sun-sat)",
        _ => "",
    }
}

/// Sets the bits of one comma-separated item (`*`, `a`, `a-b`, with an optional `/step`).
fn item_bits(field: Field, item: &str) -> Result<u64, TriggerError> {
    let (lo_bound, hi_bound) = field.bounds();
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => {
            let step: u32 = s
                .parse()
                .map_err(|_| field.error(format!("step '{s}' is not a number")))?;
            if step == 0 {
                return Err(field.error("step must be at least 1"));
            }
            (r, Some(step))
        }
        None => (item, None),
    };
    let (lo, hi) = if is_wildcard(range) {
        let hi = if field == Field::DayOfWeek {
            6
        } else {
            hi_bound
        };
        (lo_bound, hi)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a, b) = (value(field, a)?, value(field, b)?);
        if a > b {
            return Err(field.error(format!(
                "range {range} runs backwards (write the smaller value first)"
            )));
        }
        (a, b)
    } else {
        let a = value(field, range)?;
        // `a/step` runs from a to the end of the field.
        (a, if step.is_some() { hi_bound } else { a })
    };
    let mut bits = 0u64;
    let mut v = lo;
    while v <= hi {
        bits |= 1 << (v - lo_bound);
        v += step.unwrap_or(1);
    }
    Ok(bits)
}

/// A field with no special characters: seconds, minutes, hours or months, as a bit set.
fn plain_field(field: Field, text: &str) -> Result<u64, TriggerError> {
    let mut bits = 0;
    for item in text.split(',') {
        bits |= item_bits(field, item)?;
    }
    // Months are stored from bit 1 so the month number is the bit index.
    Ok(if field == Field::Month {
        bits << 1
    } else {
        bits
    })
}

fn year_field(text: &str) -> Result<YearSet, TriggerError> {
    let mut set = YearSet::none();
    for item in text.split(',') {
        if is_wildcard(item) {
            return Ok(YearSet::any());
        }
        // Years do not fit one word: expand item by item.
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)),
            None => (item, Some(1)),
        };
        let step = step.ok_or_else(|| Field::Year.error(format!("bad step in '{item}'")))?;
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (value(Field::Year, a)?, value(Field::Year, b)?),
            None if item.contains('/') => (value(Field::Year, range)?, MAX_YEAR as u32),
            None => {
                let a = value(Field::Year, range)?;
                (a, a)
            }
        };
        if a > b {
            return Err(Field::Year.error(format!(
                "range {range} runs backwards (write the smaller value first)"
            )));
        }
        for y in (a..=b).step_by(step as usize) {
            set.insert(y as i32);
        }
    }
    Ok(set)
}

/// Day-of-month: plain items plus `L` (last day), `nW` (nearest weekday) and `LW`.
fn day_of_month(text: &str) -> Result<super::schedule::DaysOfMonth, TriggerError> {
    let field = Field::DayOfMonth;
    let mut days = super::schedule::DaysOfMonth {
        restricted: !is_wildcard(text),
        ..Default::default()
    };
    for item in text.split(',') {
        let upper = item.to_ascii_uppercase();
        if upper == "L" {
            days.last = true;
        } else if upper == "LW" {
            days.last_weekday = true;
        } else if let Some(n) = upper.strip_suffix('W') {
            days.nearest_weekday |= 1 << value(field, n)?;
        } else {
            days.days |= (item_bits(field, item)? << 1) as u32;
        }
    }
    Ok(days)
}

/// Day-of-week: plain items (0 and 7 are Sunday) plus `dL` (last d of the month) and `d#n` (nth d).
fn day_of_week(text: &str) -> Result<super::schedule::DaysOfWeek, TriggerError> {
    let field = Field::DayOfWeek;
    let mut days = super::schedule::DaysOfWeek {
        restricted: !is_wildcard(text),
        ..Default::default()
    };
    for item in text.split(',') {
        if let Some((d, n)) = item.split_once('#') {
            let d = value(field, d)? % 7;
            let n: u32 = n
                .parse()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| {
                    field.error(format!("'#{n}' must be 1-5 (which week of the month)"))
                })?;
            days.nth[d as usize] |= 1 << n;
        } else if item.len() > 1 && item.to_ascii_uppercase().ends_with('L') {
            let d = value(field, &item[..item.len() - 1])? % 7;
            days.last |= 1 << d;
        } else {
            let bits = item_bits(field, item)?;
            // Fold 7 onto 0: both are Sunday.
            days.days |= ((bits | (bits >> 7)) & 0x7f) as u8;
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(expr: &str) -> String {
        parse(expr).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field_and_the_fix() {
        assert_eq!(err("60 * * * *"), "minute: 60 is out of range 0-59");
        assert_eq!(err("* 24 * * *"), "hour: 24 is out of range 0-23");
        assert_eq!(err("* * 0 * *"), "day-of-month: 0 is out of range 1-31");
        assert_eq!(err("* * * 13 *"), "month: 13 is out of range 1-12");
        assert_eq!(err("* * * * 8"), "day-of-week: 8 is out of range 0-7");
        assert_eq!(err("61 * * * * *"), "second: 61 is out of range 0-59");
        assert_eq!(
            err("* * * * * * 1969"),
            "year: 1969 is out of range 1970-2999"
        );
        assert_eq!(err("*/0 * * * *"), "minute: step must be at least 1");
        assert_eq!(
            err("* * * foo *"),
            "month: 'foo' is not a number or a month name (jan-dec)"
        );
        assert_eq!(
            err("5-3 * * * *"),
            "minute: range 5-3 runs backwards (write the smaller value first)"
        );
        assert!(err("* * *").starts_with("expected 5 fields"));
        assert!(err("@sometimes").starts_with("unknown shorthand"));
        assert!(err("0 0 30 2 *").contains("can never fire"));
        assert!(err("0 0 31 4,6,9,11 *").contains("can never fire"));
    }

    #[test]
    fn names_and_sunday_aliases() {
        let a = parse("0 9 * JAN-mar mon-FRI").unwrap();
        let b = parse("0 9 * 1-3 1-5").unwrap();
        assert_eq!(a.months, b.months);
        assert_eq!(a.dow.days, b.dow.days);
        assert_eq!(parse("0 0 * * 7").unwrap().dow.days, 1);
        assert_eq!(parse("0 0 * * 0").unwrap().dow.days, 1);
        assert_eq!(parse("0 0 * * 5-7").unwrap().dow.days, 0b110_0001);
    }

    #[test]
    fn steps_ranges_and_lists() {
        assert_eq!(
            parse("*/15 * * * *").unwrap().minutes,
            1 | 1 << 15 | 1 << 30 | 1 << 45
        );
        assert_eq!(
            parse("10/20 * * * *").unwrap().minutes,
            1 << 10 | 1 << 30 | 1 << 50
        );
        assert_eq!(
            parse("1-10/3,59 * * * *").unwrap().minutes,
            1 << 1 | 1 << 4 | 1 << 7 | 1 << 10 | 1 << 59
        );
        assert_eq!(parse("@hourly").unwrap().minutes, 1);
        assert!(parse("0 */2 * * *").unwrap().wall_clock_hours.eq(&false));
        assert!(parse("0 2 * * *").unwrap().wall_clock_hours);
    }
}
