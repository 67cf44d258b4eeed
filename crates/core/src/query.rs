//! Job list queries: filters, order and paging, answered by every store the same way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::action::ActionKind;
use crate::history::{RunRecord, RunState};
use crate::job::Job;

/// The default page size of a job list.
pub const DEFAULT_PAGE: usize = 100;
/// The largest page size of a job list.
pub const MAX_PAGE: usize = 1000;

/// Which jobs to list, in what order, and which page. Every filter is optional; they combine
/// with AND.
#[cfg_attr(feature = "schema", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "schema", into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobQuery {
    /// Case-insensitive text to find in the id, name, description or tags.
    pub q: Option<String>,
    /// Only jobs whose action is of this kind.
    pub kind: Option<ActionKind>,
    /// Only jobs with this tag (case-insensitive).
    pub tag: Option<String>,
    /// Only paused (true) or unpaused (false) jobs.
    pub paused: Option<bool>,
    /// Only jobs whose newest run is in this state.
    pub last_state: Option<RunState>,
    /// The order (default `name`).
    pub sort: JobSort,
    /// Jobs to skip before the page.
    pub offset: usize,
    /// Page size, 1-1000 (default 100).
    #[cfg_attr(feature = "schema", param(minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
}

/// The orders of a job list; ties go by id.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobSort {
    /// By name, A to Z (case-insensitive).
    #[default]
    #[serde(rename = "name")]
    Name,
    /// By name, Z to A.
    #[serde(rename = "-name")]
    NameDesc,
    /// Soonest next fire time first; jobs that never fire again last.
    #[serde(rename = "next_run")]
    NextRun,
    /// Latest next fire time first; jobs that never fire again last.
    #[serde(rename = "-next_run")]
    NextRunDesc,
    /// Least recently run first (by newest run); jobs that never ran last.
    #[serde(rename = "last_run")]
    LastRun,
    /// Most recently run first; jobs that never ran last.
    #[serde(rename = "-last_run")]
    LastRunDesc,
}

/// The newest run of a job, as a job list shows it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    /// The run's history id.
    pub id: i64,
    /// Its state.
    pub state: RunState,
    /// Its fire time.
    pub scheduled: DateTime<Utc>,
    /// When it finished, once it has.
    pub finished: Option<DateTime<Utc>>,
}

impl From<&RunRecord> for LastRun {
    fn from(run: &RunRecord) -> Self {
        LastRun {
            id: run.id,
            state: run.state,
            scheduled: run.scheduled,
            finished: run.finished,
        }
    }
}

/// A job with its newest run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEntry {
    /// The job.
    pub job: Job,
    /// Its newest run, if it has run.
    pub last_run: Option<LastRun>,
}

/// A page of jobs and how many match over all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs of this page.
    pub items: Vec<JobEntry>,
    /// Jobs matching the filters.
    pub total: usize,
}

/// How many jobs there are, by state and kind, for a dashboard.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Every job.
    pub total: usize,
    /// Paused jobs.
    pub paused: usize,
    /// System-monitor jobs.
    pub monitors: usize,
    /// Jobs whose newest run failed, timed out or was abandoned.
    pub failing: usize,
}

/// The states of a newest run that count a job as failing.
pub const FAILING: [RunState; 3] = [RunState::Failed, RunState::TimedOut, RunState::Abandoned];

impl JobQuery {
    /// The page size with its default applied.
    pub fn page_size(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_PAGE)
    }

    /// The search text, trimmed and lower-cased; `None` when blank.
    pub fn text(&self) -> Option<String> {
        non_blank(&self.q)
    }

    /// The tag filter, trimmed and lower-cased; `None` when blank.
    pub fn tag_filter(&self) -> Option<String> {
        non_blank(&self.tag)
    }

    /// Whether `job`, whose newest run is `last`, passes every filter.
    pub fn matches(&self, job: &Job, last: Option<&LastRun>) -> bool {
        let text = self.text();
        let tag = self.tag_filter();
        text.as_deref().is_none_or(|s| {
            job.id.to_lowercase().contains(s)
                || job.name.to_lowercase().contains(s)
                || job.description.to_lowercase().contains(s)
                || job.tags.iter().any(|t| t.to_lowercase().contains(s))
        }) && tag
            .as_deref()
            .is_none_or(|t| job.tags.iter().any(|jt| jt.to_lowercase() == t))
            && self.kind.is_none_or(|k| job.action.kind() == k)
            && self.paused.is_none_or(|p| job.paused == p)
            && self
                .last_state
                .is_none_or(|s| last.is_some_and(|l| l.state == s))
    }

    /// Filters, sorts and pages `entries` in memory, as the stores do in SQL.
    pub fn apply(&self, mut entries: Vec<JobEntry>) -> JobPage {
        entries.retain(|e| self.matches(&e.job, e.last_run.as_ref()));
        let name = |e: &JobEntry| (e.job.name.to_lowercase(), e.job.id.clone());
        let last = |e: &JobEntry| e.last_run.as_ref().map(|l| l.id);
        match self.sort {
            JobSort::Name => entries.sort_by_cached_key(name),
            JobSort::NameDesc => entries.sort_by_cached_key(|e| std::cmp::Reverse(name(e))),
            JobSort::NextRun => {
                entries.sort_by_cached_key(|e| nulls_last(e.job.next_run, &e.job.id))
            }
            JobSort::NextRunDesc => {
                entries.sort_by_cached_key(|e| nulls_last_desc(e.job.next_run, &e.job.id))
            }
            JobSort::LastRun => entries.sort_by_cached_key(|e| nulls_last(last(e), &e.job.id)),
            JobSort::LastRunDesc => {
                entries.sort_by_cached_key(|e| nulls_last_desc(last(e), &e.job.id))
            }
        }
        let total = entries.len();
        let items = entries
            .into_iter()
            .skip(self.offset)
            .take(self.page_size())
            .collect();
        JobPage { items, total }
    }
}

/// Counts `entries` for a dashboard.
pub fn count_jobs<'a>(entries: impl Iterator<Item = (&'a Job, Option<RunState>)>) -> JobCounts {
    let mut counts = JobCounts::default();
    for (job, last) in entries {
        counts.total += 1;
        counts.paused += usize::from(job.paused);
        counts.monitors += usize::from(job.action.kind() == ActionKind::Monitor);
        counts.failing += usize::from(last.is_some_and(|s| FAILING.contains(&s)));
    }
    counts
}

/// A sort key that puts `None` last, ties by id.
fn nulls_last<T: Ord>(t: Option<T>, id: &str) -> (bool, Option<T>, String) {
    (t.is_none(), t, id.to_string())
}

/// A descending sort key that still puts `None` last, ties by id ascending.
fn nulls_last_desc<T: Ord>(t: Option<T>, id: &str) -> (bool, std::cmp::Reverse<Option<T>>, String) {
    (t.is_none(), std::cmp::Reverse(t), id.to_string())
}

fn non_blank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}
