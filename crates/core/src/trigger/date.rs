//! The date trigger: one instant.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Fires once, at `at`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateTrigger {
    /// The instant to fire at.
    pub at: DateTime<Utc>,
    /// The zone the instant is shown in.
    #[serde(default = "super::utc")]
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "Europe/London"))]
    pub timezone: Tz,
}

impl DateTrigger {
    /// `at` (to the millisecond) if it is after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let at = super::millis(self.at);
        (at > after).then_some(at)
    }
}
