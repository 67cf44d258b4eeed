//! The calendar-interval trigger: every N years, months, weeks or days at a wall-clock time.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::zone::{local_of, resolve_earliest};
use super::TriggerError;

/// The calendar unit a [`CalendarIntervalTrigger`] counts in.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarUnit {
    /// Calendar years.
    Years,
    /// Calendar months.
    Months,
    /// Weeks of seven calendar days.
    Weeks,
    /// Calendar days.
    Days,
}

/// Fires every `every` `unit`s from `start_date`, at `time` on the wall clock of `timezone`.
///
/// A time in a spring-forward gap fires at the first instant after the gap; a time in a
/// fall-back overlap fires at the earlier instant. Months and years counted from a day that
/// a month lacks (the 31st, or February 29th) skip the months without that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarIntervalSpec", into = "CalendarIntervalSpec")]
pub struct CalendarIntervalTrigger {
    spec: CalendarIntervalSpec,
}

/// The JSON shape of a calendar-interval trigger.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarIntervalSpec {
    /// How many units between fires (at least 1).
    pub every: u32,
    /// The unit counted.
    pub unit: CalendarUnit,
    /// The first day to fire on, in the trigger's zone.
    pub start_date: NaiveDate,
    /// The wall-clock time of day to fire at.
    #[serde(default)]
    pub time: NaiveTime,
    /// The zone the wall clock is read in.
    #[serde(default = "super::utc")]
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "Europe/London"))]
    pub timezone: Tz,
    /// No fire time after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

schema_via_spec!(CalendarIntervalTrigger, CalendarIntervalSpec);

impl TryFrom<CalendarIntervalSpec> for CalendarIntervalTrigger {
    type Error = TriggerError;

    fn try_from(spec: CalendarIntervalSpec) -> Result<Self, TriggerError> {
        if spec.every == 0 {
            return Err(TriggerError::invalid("every", "must be at least 1"));
        }
        Ok(CalendarIntervalTrigger { spec })
    }
}

impl From<CalendarIntervalTrigger> for CalendarIntervalSpec {
    fn from(t: CalendarIntervalTrigger) -> Self {
        t.spec
    }
}

/// How many of the fires we look through before deciding there is none (dates past 9999).
const MAX_STEPS: u64 = 100_000;

impl CalendarIntervalTrigger {
    /// Builds a calendar-interval trigger, checking that `every` is at least 1.
    pub fn new(spec: CalendarIntervalSpec) -> Result<Self, TriggerError> {
        Self::try_from(spec)
    }

    /// The zone the wall-clock time is read in.
    pub fn timezone(&self) -> Tz {
        self.spec.timezone
    }

    /// E.g. `every 2 months from 2026-01-31 at 09:00:00 (America/New_York)`.
    pub fn summary(&self) -> String {
        let s = &self.spec;
        let unit = match s.unit {
            CalendarUnit::Years => "years",
            CalendarUnit::Months => "months",
            CalendarUnit::Weeks => "weeks",
            CalendarUnit::Days => "days",
        };
        format!(
            "every {} {unit} from {} at {} ({})",
            s.every, s.start_date, s.time, s.timezone
        )
    }

    /// The date of the `k`th fire: `None` past the end of the calendar, `Some(None)` when
    /// that month lacks the start day.
    fn nth_date(&self, k: u64) -> Option<Option<NaiveDate>> {
        let s = &self.spec;
        let n = i64::try_from(k.checked_mul(s.every as u64)?).ok()?;
        match s.unit {
            CalendarUnit::Days => s.start_date.checked_add_signed(Duration::try_days(n)?),
            CalendarUnit::Weeks => s.start_date.checked_add_signed(Duration::try_weeks(n)?),
            CalendarUnit::Months | CalendarUnit::Years => {
                let months = if s.unit == CalendarUnit::Years {
                    n * 12
                } else {
                    n
                };
                let first = s.start_date.with_day(1)?;
                let month = first.checked_add_months(Months::new(u32::try_from(months).ok()?))?;
                return Some(month.with_day(s.start_date.day()));
            }
        }
        .map(Some)
    }

    /// A fire index at or before the first fire after the local date `date`.
    fn first_index_near(&self, date: NaiveDate) -> u64 {
        let s = &self.spec;
        let start = s.start_date;
        let units = match s.unit {
            CalendarUnit::Days => (date - start).num_days(),
            CalendarUnit::Weeks => (date - start).num_days() / 7,
            CalendarUnit::Months => {
                (date.year() - start.year()) as i64 * 12 + date.month() as i64
                    - start.month() as i64
            }
            CalendarUnit::Years => (date.year() - start.year()) as i64,
        };
        (units / s.every as i64 - 1).max(0) as u64
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let s = &self.spec;
        let first = self.first_index_near(local_of(s.timezone, after).date());
        for k in first..first + MAX_STEPS {
            let Some(date) = self.nth_date(k)? else {
                continue;
            };
            let t = super::millis(resolve_earliest(s.timezone, date.and_time(s.time)));
            if t > after {
                return match s.end {
                    Some(end) if t > end => None,
                    _ => Some(t),
                };
            }
        }
        None
    }
}
