//! A job's definition as the SQL stores keep it: JSON without what the row's own columns hold
//! (next fire time, paused) and without fields left at their defaults, which reads back as the
//! same [`Job`] and halves the definition of a plain job (258 bytes to 125 for `bench load`'s).

use serde::Serialize;

use crate::action::Action;
use crate::job::{Follow, Job, JobOptions, DEFAULT_POOL};
use crate::trigger::Trigger;

/// The stored form of a [`Job`]; `serde_json` of it deserializes as the job with `next_run`
/// unset and `paused` false.
#[derive(Serialize)]
pub(crate) struct Definition<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    trigger: &'a Trigger,
    action: &'a Action,
    #[serde(skip_serializing_if = "is_default")]
    options: &'a JobOptions,
    #[serde(skip_serializing_if = "is_default_pool")]
    pool: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    node_labels: &'a [String],
    #[serde(skip_serializing_if = "<[Follow]>::is_empty")]
    then: &'a [Follow],
}

impl<'a> From<&'a Job> for Definition<'a> {
    fn from(job: &'a Job) -> Self {
        // Spelled out, so a new field of `Job` has to be placed here.
        let Job {
            id,
            name,
            description,
            tags,
            trigger,
            action,
            options,
            paused: _,
            pool,
            node_labels,
            then,
            next_run: _,
        } = job;
        Definition {
            id,
            name,
            description,
            tags,
            trigger,
            action,
            options,
            pool,
            node_labels,
            then,
        }
    }
}

/// Whether `options` are all unset, so the stored form leaves them out.
fn is_default(options: &&JobOptions) -> bool {
    **options == JobOptions::default()
}

/// Whether `pool` is [`DEFAULT_POOL`], which a definition without one reads as.
fn is_default_pool(pool: &&str) -> bool {
    *pool == DEFAULT_POOL
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(value: serde_json::Value) -> Job {
        serde_json::from_value(value).unwrap()
    }

    fn stored(job: &Job) -> String {
        serde_json::to_string(&Definition::from(job)).unwrap()
    }

    #[test]
    fn a_plain_job_keeps_only_what_is_set() {
        let plain = job(json!({
            "id": "a", "name": "A", "paused": true, "next_run": "2026-12-05T00:00:00Z",
            "trigger": {"type": "interval", "seconds": 10},
            "action": {"kind": "function", "name": "noop"},
        }));
        assert_eq!(
            stored(&plain),
            r#"{"id":"a","name":"A","trigger":{"type":"interval","seconds":10,"timezone":"UTC"},"action":{"kind":"function","name":"noop"}}"#
        );
        let read: Job = serde_json::from_str(&stored(&plain)).unwrap();
        assert_eq!(
            read,
            Job {
                paused: false,
                next_run: None,
                ..plain
            }
        );
    }

    #[test]
    fn every_field_set_reads_back() {
        let full = job(json!({
            "id": "b", "name": "B", "description": "d", "tags": ["t"],
            "trigger": {"type": "cron", "expression": "0 9 * * 1-5", "timezone": "Europe/Paris"},
            "action": {"kind": "shell", "command": "echo hi"},
            "options": {"max_instances": 2, "jitter_s": 5},
            "pool": "slow", "node_labels": ["gpu"], "then": [{"job": "c", "on": "failed"}],
        }));
        let read: Job = serde_json::from_str(&stored(&full)).unwrap();
        assert_eq!(read, full);
    }
}
