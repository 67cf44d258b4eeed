//! The cron trigger: Vixie cron / OCPS expressions evaluated in an IANA time zone.

mod parse;
mod schedule;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::zone::{next_offset_change, offset_at_seconds, resolve_earliest_seconds};
use super::TriggerError;
use schedule::CronSchedule;

/// Fires at the times a cron expression matches in its time zone, between optional bounds.
///
/// DST: when the hour field names fixed hours, a time in a spring-forward gap fires at the
/// first instant after the gap and a time in a fall-back overlap fires once (the earlier
/// instant); when the hour is `*` or a step, fire times follow elapsed time, so the skipped
/// hour does not fire and the repeated hour fires twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CronSpec", into = "CronSpec")]
pub struct CronTrigger {
    /// Boxed: a job keeps its trigger inline at the size of the largest kind, so unboxed
    /// these would make every job of another kind 72 bytes larger.
    parts: Box<Parts>,
}

/// What a cron trigger is made of.
#[derive(Debug, Clone, PartialEq)]
struct Parts {
    expression: String,
    timezone: Tz,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    schedule: CronSchedule,
}

/// The JSON shape of a cron trigger.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CronSpec {
    expression: String,
    #[serde(default = "super::utc")]
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "Europe/London"))]
    timezone: Tz,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<DateTime<Utc>>,
}

schema_via_spec!(CronTrigger, CronSpec);

impl TryFrom<CronSpec> for CronTrigger {
    type Error = TriggerError;

    fn try_from(spec: CronSpec) -> Result<Self, TriggerError> {
        super::check_bounds(spec.start, spec.end)?;
        let parts = Parts {
            schedule: parse::parse(&spec.expression)?,
            expression: spec.expression,
            timezone: spec.timezone,
            start: spec.start,
            end: spec.end,
        };
        Ok(CronTrigger {
            parts: Box::new(parts),
        })
    }
}

impl From<CronTrigger> for CronSpec {
    fn from(t: CronTrigger) -> Self {
        let t = *t.parts;
        CronSpec {
            expression: t.expression,
            timezone: t.timezone,
            start: t.start,
            end: t.end,
        }
    }
}

impl CronTrigger {
    /// Parses `expression` for time zone `timezone`, with no start or end.
    pub fn new(expression: &str, timezone: Tz) -> Result<Self, TriggerError> {
        Self::try_from(CronSpec {
            expression: expression.to_string(),
            timezone,
            start: None,
            end: None,
        })
    }

    /// Sets the bounds: no fire time before `start` or after `end`.
    pub fn with_bounds(
        self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Self, TriggerError> {
        Self::try_from(CronSpec {
            start,
            end,
            ..CronSpec::from(self)
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.parts.expression
    }

    /// The zone the expression is read in.
    pub fn timezone(&self) -> Tz {
        self.parts.timezone
    }

    /// The first fire time strictly after `after`, or `None` if it never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after = match self.parts.start {
            Some(start) if start > after => start - Duration::nanoseconds(1),
            _ => after,
        };
        // Whole seconds from here on: a fire time is a whole second.
        let after = after.timestamp();
        let next = if self.parts.schedule.wall_clock_hours {
            self.next_wall_clock(after)
        } else {
            self.next_elapsed(after)
        }?;
        let next = DateTime::from_timestamp(next, 0)?;
        match self.parts.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// Fixed hours: walk the wall clock, firing gap times after the gap and overlap times once.
    fn next_wall_clock(&self, after: i64) -> Option<i64> {
        let tz = self.parts.timezone;
        let mut from = after + offset_at_seconds(tz, after) + 1;
        loop {
            let local = self.parts.schedule.next_local(from)?;
            let t = resolve_earliest_seconds(tz, local);
            if t > after {
                return Some(t);
            }
            from = local + 1;
        }
    }

    /// Wildcard or stepped hours: the first real instant whose wall-clock time matches.
    fn next_elapsed(&self, after: i64) -> Option<i64> {
        let tz = self.parts.timezone;
        let mut from = after + 1;
        loop {
            let offset = offset_at_seconds(tz, from);
            let candidate = self.parts.schedule.next_local(from + offset)? - offset;
            match next_offset_change(tz, from, candidate, offset) {
                None => return Some(candidate),
                Some(change) => from = change,
            }
        }
    }
}

#[cfg(test)]
mod tests;
