//! Combined triggers: `or` fires when any member does, `and` when all agree.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Trigger, TriggerError};

/// Fires at the earliest next fire time of its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "OrSpec", into = "OrSpec")]
pub struct OrTrigger {
    triggers: Vec<Trigger>,
}

#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrSpec {
    /// The members, at least one.
    #[cfg_attr(feature = "schema", schema(no_recursion))]
    triggers: Vec<Trigger>,
}

schema_via_spec!(OrTrigger, OrSpec);
schema_via_spec!(AndTrigger, AndSpec);

impl TryFrom<OrSpec> for OrTrigger {
    type Error = TriggerError;

    fn try_from(spec: OrSpec) -> Result<Self, TriggerError> {
        OrTrigger::new(spec.triggers)
    }
}

impl From<OrTrigger> for OrSpec {
    fn from(t: OrTrigger) -> Self {
        OrSpec {
            triggers: t.triggers,
        }
    }
}

fn require_members(triggers: &[Trigger]) -> Result<(), TriggerError> {
    if triggers.is_empty() {
        return Err(TriggerError::invalid(
            "triggers",
            "needs at least one trigger",
        ));
    }
    Ok(())
}

impl OrTrigger {
    /// Combines `triggers`, of which there must be at least one.
    pub fn new(triggers: Vec<Trigger>) -> Result<Self, TriggerError> {
        require_members(&triggers)?;
        Ok(OrTrigger { triggers })
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.triggers.len()
    }

    /// Never true: an `or` has at least one member.
    pub fn is_empty(&self) -> bool {
        self.triggers.is_empty()
    }

    /// The first member's zone.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.triggers
            .first()
            .map_or(chrono_tz::UTC, Trigger::timezone)
    }

    /// The earliest member fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.triggers
            .iter()
            .filter_map(|t| t.next_after(after))
            .min()
    }
}

/// Fires when every member has a fire time within `threshold_seconds` of the others, at the
/// latest of them; gives up after `max_iterations` attempts to make them agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AndSpec", into = "AndSpec")]
pub struct AndTrigger {
    spec: AndSpec,
}

/// The JSON shape of an `and` trigger.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndSpec {
    /// The members, at least one.
    #[cfg_attr(feature = "schema", schema(no_recursion))]
    pub triggers: Vec<Trigger>,
    /// How far apart members' fire times may be and still agree.
    #[serde(default = "default_threshold")]
    pub threshold_seconds: u32,
    /// How many rounds of search before concluding the members never agree.
    #[serde(default = "default_iterations")]
    pub max_iterations: u32,
}

fn default_threshold() -> u32 {
    1
}

fn default_iterations() -> u32 {
    10_000
}

impl TryFrom<AndSpec> for AndTrigger {
    type Error = TriggerError;

    fn try_from(spec: AndSpec) -> Result<Self, TriggerError> {
        require_members(&spec.triggers)?;
        if spec.max_iterations == 0 {
            return Err(TriggerError::invalid(
                "max_iterations",
                "must be at least 1",
            ));
        }
        Ok(AndTrigger { spec })
    }
}

impl From<AndTrigger> for AndSpec {
    fn from(t: AndTrigger) -> Self {
        t.spec
    }
}

impl AndTrigger {
    /// Combines `triggers` with the default threshold (1 s) and search bound (10,000 rounds).
    pub fn new(triggers: Vec<Trigger>) -> Result<Self, TriggerError> {
        Self::try_from(AndSpec {
            triggers,
            threshold_seconds: default_threshold(),
            max_iterations: default_iterations(),
        })
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.spec.triggers.len()
    }

    /// Never true: an `and` has at least one member.
    pub fn is_empty(&self) -> bool {
        self.spec.triggers.is_empty()
    }

    /// The first member's zone.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.spec
            .triggers
            .first()
            .map_or(chrono_tz::UTC, Trigger::timezone)
    }

    /// The next instant strictly after `after` at which all members agree, if found in time.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let threshold = Duration::seconds(self.spec.threshold_seconds as i64);
        let mut after = after;
        for _ in 0..self.spec.max_iterations {
            let times: Option<Vec<_>> = self
                .spec
                .triggers
                .iter()
                .map(|t| t.next_after(after))
                .collect();
            let times = times?;
            let (earliest, latest) = (*times.iter().min()?, *times.iter().max()?);
            if latest - earliest <= threshold {
                return Some(latest);
            }
            // Members firing before `latest - threshold` cannot agree there; move them on.
            after = latest - threshold - Duration::nanoseconds(1);
        }
        None
    }
}
