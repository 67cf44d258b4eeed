//! Triggers: given an instant, the next fire time strictly after it.
//!
//! Every trigger is plain data with a tagged JSON shape (`{"type": "cron", ...}`); see
//! [`Trigger`] for the shapes. Instants are UTC; each trigger carries its IANA time zone.

/// Gives a trigger that is (de)serialized through a spec type (`try_from`/`into`) the spec's
/// OpenAPI schema, under the trigger's own name.
macro_rules! schema_via_spec {
    ($ty:ty, $spec:ty) => {
        #[cfg(feature = "schema")]
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <$spec as utoipa::PartialSchema>::schema()
            }
        }

        #[cfg(feature = "schema")]
        impl utoipa::ToSchema for $ty {
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                <$spec as utoipa::ToSchema>::schemas(schemas)
            }
        }
    };
}

mod calendar;
mod combine;
pub mod cron;
mod date;
mod interval;
mod jitter;
mod zone;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use calendar::{CalendarIntervalSpec, CalendarIntervalTrigger, CalendarUnit};
pub use combine::{AndSpec, AndTrigger, OrTrigger};
pub use cron::CronTrigger;
pub use date::DateTrigger;
pub use interval::{IntervalSpec, IntervalTrigger};
pub use jitter::jittered;
pub use zone::parse_time_zone;

/// Why a trigger could not be built; the message names the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// A cron expression is malformed or can never fire, e.g. `minute: 60 is out of range 0-59`.
    #[error("{0}")]
    Cron(String),
    /// A time zone name is not in the IANA database.
    #[error("unknown time zone '{0}': use an IANA name such as 'Europe/London' or 'UTC'")]
    TimeZone(String),
    /// Another field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field's name as it appears in JSON.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl TriggerError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        TriggerError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// When a job fires. JSON shapes, with `timezone` an IANA name defaulting to `UTC` and
/// `start`/`end` optional RFC 3339 bounds:
///
/// - `{"type":"date","at":"2026-01-01T09:00:00Z"}`
/// - `{"type":"interval","hours":1,"minutes":30,"start":…}` (also `weeks`, `days`, `seconds`)
/// - `{"type":"cron","expression":"0 9 * * mon-fri","timezone":"Europe/London"}`
/// - `{"type":"calendar_interval","every":2,"unit":"months","start_date":"2026-01-31","time":"09:00:00"}`
/// - `{"type":"or","triggers":[…]}` and `{"type":"and","triggers":[…],"threshold_seconds":1}`
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// Fires once at an instant.
    Date(DateTrigger),
    /// Fires every fixed amount of elapsed time.
    Interval(IntervalTrigger),
    /// Fires when a cron expression matches.
    Cron(CronTrigger),
    /// Fires every N calendar units at a wall-clock time.
    CalendarInterval(CalendarIntervalTrigger),
    /// Fires when all members fire at about the same time.
    And(AndTrigger),
    /// Fires whenever any member fires.
    Or(OrTrigger),
}

impl Trigger {
    /// The first fire time strictly after `after`, or `None` if it never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Date(t) => t.next_after(after),
            Trigger::Interval(t) => t.next_after(after),
            Trigger::Cron(t) => t.next_after(after),
            Trigger::CalendarInterval(t) => t.next_after(after),
            Trigger::And(t) => t.next_after(after),
            Trigger::Or(t) => t.next_after(after),
        }
    }

    /// The first fire time strictly after `after` for a job whose current fire time is
    /// `fire`: an interval keeps its period from `fire` (which a wall-clock step may have
    /// moved off the grid of `start`); the other triggers read the wall clock alone.
    pub fn next_following(
        &self,
        fire: DateTime<Utc>,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Interval(t) => t.next_from(fire, after),
            t => t.next_after(after),
        }
    }

    /// The zone the trigger reads its schedule in, or shows its times in (for a combination:
    /// its first member's).
    pub fn timezone(&self) -> Tz {
        match self {
            Trigger::Date(t) => t.timezone,
            Trigger::Interval(t) => t.timezone(),
            Trigger::Cron(t) => t.timezone(),
            Trigger::CalendarInterval(t) => t.timezone(),
            Trigger::And(t) => t.timezone(),
            Trigger::Or(t) => t.timezone(),
        }
    }

    /// A short human summary, e.g. `cron 0 9 * * 1-5 (Europe/London)` or `every 1h 30m`.
    pub fn summary(&self) -> String {
        match self {
            Trigger::Date(t) => format!("once at {}", t.at.with_timezone(&t.timezone).to_rfc3339()),
            Trigger::Interval(t) => format!("every {}", format_duration(t.period())),
            Trigger::Cron(t) if t.timezone() == Tz::UTC => format!("cron {}", t.expression()),
            Trigger::Cron(t) => format!("cron {} ({})", t.expression(), t.timezone()),
            Trigger::CalendarInterval(t) => t.summary(),
            Trigger::And(t) => format!("all of {} triggers", t.len()),
            Trigger::Or(t) => format!("any of {} triggers", t.len()),
        }
    }

    /// The next `count` fire times after `after`, fewer if the trigger runs out.
    pub fn preview(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(after), |t| self.next_after(*t))
            .take(count)
            .collect()
    }
}

/// `1h 30m`-style text for a duration (weeks, days, hours, minutes, seconds, milliseconds).
pub fn format_duration(d: chrono::Duration) -> String {
    let mut ms = d.num_milliseconds();
    let mut parts = Vec::new();
    for (unit, size) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            parts.push(format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

/// `t` truncated to whole milliseconds, the precision instants are stored with.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(3)
}

fn utc() -> Tz {
    Tz::UTC
}

/// Rejects an `end` that comes before `start`.
fn check_bounds(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<(), TriggerError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(TriggerError::invalid(
            "end",
            format!("{e} is before start {s}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
