//! The interval trigger: a fixed amount of elapsed time, immune to DST.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::TriggerError;

/// Fires every `weeks + days + hours + minutes + seconds + milliseconds` of elapsed time from `start`
/// (the Unix epoch when absent, so "every 15 minutes" lands on :00, :15, …) until `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "IntervalSpec", into = "IntervalSpec")]
pub struct IntervalTrigger {
    /// Boxed, like cron's parts: a job keeps its trigger inline at the size of the largest
    /// kind, so unboxed this would make every job of another kind 32 bytes larger.
    spec: Box<IntervalSpec>,
    period_ms: i64,
}

/// The JSON shape of an interval trigger.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    /// Weeks in the period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weeks: u32,
    /// Days in the period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub days: u32,
    /// Hours in the period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hours: u32,
    /// Minutes in the period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minutes: u32,
    /// Seconds in the period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seconds: u32,
    /// Milliseconds in the period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub milliseconds: u32,
    /// The first fire time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// No fire time after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// The zone fire times are shown in.
    #[serde(default = "super::utc")]
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "Europe/London"))]
    pub timezone: Tz,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

schema_via_spec!(IntervalTrigger, IntervalSpec);

impl TryFrom<IntervalSpec> for IntervalTrigger {
    type Error = TriggerError;

    fn try_from(spec: IntervalSpec) -> Result<Self, TriggerError> {
        super::check_bounds(spec.start, spec.end)?;
        let period_ms = (spec.weeks as i64 * 604_800
            + spec.days as i64 * 86_400
            + spec.hours as i64 * 3_600
            + spec.minutes as i64 * 60
            + spec.seconds as i64)
            * 1000
            + spec.milliseconds as i64;
        if period_ms == 0 {
            return Err(TriggerError::invalid(
                "seconds",
                "the period is zero: set at least one of weeks, days, hours, minutes, seconds, milliseconds",
            ));
        }
        Ok(IntervalTrigger {
            spec: Box::new(spec),
            period_ms,
        })
    }
}

impl From<IntervalTrigger> for IntervalSpec {
    fn from(t: IntervalTrigger) -> Self {
        *t.spec
    }
}

impl IntervalTrigger {
    /// Builds an interval trigger from its fields, checking that the period is not zero.
    pub fn new(spec: IntervalSpec) -> Result<Self, TriggerError> {
        Self::try_from(spec)
    }

    /// The zone fire times are shown in.
    pub fn timezone(&self) -> Tz {
        self.spec.timezone
    }

    /// The period as a duration.
    pub fn period(&self) -> Duration {
        Duration::milliseconds(self.period_ms)
    }

    /// Whether `fire` comes after the first fire time (`start`).
    pub fn started(&self, fire: DateTime<Utc>) -> bool {
        self.spec
            .start
            .is_none_or(|start| fire > super::millis(start))
    }

    /// `t`, unless it is after the trigger's end.
    pub fn before_end(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.spec.end.is_none_or(|end| t <= end).then_some(t)
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire times are whole milliseconds, as stores keep them.
        let start = self.spec.start.map_or(DateTime::UNIX_EPOCH, super::millis);
        self.next_from(start, after)
    }

    /// The first time strictly after `after` a whole number of periods from `anchor` (itself
    /// when `after` is before it), within `end`.
    pub fn next_from(&self, anchor: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let anchor = super::millis(anchor);
        let next = if after < anchor {
            anchor
        } else {
            let elapsed_ms = (after - anchor).num_milliseconds();
            let period_ms = self.period_ms;
            anchor + Duration::milliseconds((elapsed_ms / period_ms + 1) * period_ms)
        };
        match self.spec.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }
}
