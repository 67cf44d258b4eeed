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
    /// Jobs to skip before the page (ignored with `after`).
    pub offset: usize,
    /// The `next` cursor of the previous page: the page that follows it, stable while jobs
    /// are added or removed before it (unlike `offset`).
    pub after: Option<String>,
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
    /// The cursor of the page after this one (`JobQuery::after`), `None` on the last page.
    pub next: Option<String>,
}

/// Where a page ends in its order: the last job's sort key and id. Written as opaque hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The order it belongs to.
    pub sort: JobSort,
    /// The lower-cased name (name orders).
    pub name: String,
    /// The next fire time in epoch ms, or the newest run's id (the other orders).
    pub number: Option<i64>,
    /// The job's id.
    pub id: String,
}

impl Cursor {
    /// The cursor just after `entry` in `sort`.
    pub fn after(entry: &JobEntry, sort: JobSort) -> Cursor {
        let number = match sort {
            JobSort::Name | JobSort::NameDesc => None,
            JobSort::NextRun | JobSort::NextRunDesc => {
                entry.job.next_run.map(|t| t.timestamp_millis())
            }
            JobSort::LastRun | JobSort::LastRunDesc => entry.last_run.as_ref().map(|r| r.id),
        };
        let name = match sort {
            JobSort::Name | JobSort::NameDesc => entry.job.name.to_lowercase(),
            _ => String::new(),
        };
        Cursor {
            sort,
            name,
            number,
            id: entry.job.id.clone(),
        }
    }

    /// The opaque text of the cursor.
    pub fn encode(&self) -> String {
        let number = self.number.map(|n| n.to_string()).unwrap_or_default();
        let sort = serde_json::to_string(&self.sort).unwrap_or_default();
        let text = format!("{sort}\x1f{number}\x1f{}\x1f{}", self.name, self.id);
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a cursor written by [`Cursor::encode`] for the order `sort`.
    pub fn decode(text: &str, sort: JobSort) -> Result<Cursor, String> {
        let bad = || "not a cursor from a job list's 'next'".to_string();
        if text.len() % 2 != 0 {
            return Err(bad());
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
            .collect::<Result<Vec<u8>, String>>()?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(4, '\x1f');
        let (Some(order), Some(number), Some(name), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if serde_json::from_str::<JobSort>(order).map_err(|_| bad())? != sort {
            return Err("the cursor belongs to another sort order; start again without it".into());
        }
        let number = match number {
            "" => None,
            n => Some(n.parse().map_err(|_| bad())?),
        };
        Ok(Cursor {
            sort,
            name: name.to_string(),
            number,
            id: id.to_string(),
        })
    }
}

/// A position in one of the orders, comparable within that order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Up(String, String),
    Down(std::cmp::Reverse<(String, String)>),
    NullsLast(bool, Option<i64>, String),
    NullsLastDesc(bool, std::cmp::Reverse<Option<i64>>, String),
}

impl SortKey {
    fn of(cursor: &Cursor) -> SortKey {
        let (n, id) = (cursor.number, cursor.id.clone());
        match cursor.sort {
            JobSort::Name => SortKey::Up(cursor.name.clone(), id),
            JobSort::NameDesc => SortKey::Down(std::cmp::Reverse((cursor.name.clone(), id))),
            JobSort::NextRun | JobSort::LastRun => SortKey::NullsLast(n.is_none(), n, id),
            JobSort::NextRunDesc | JobSort::LastRunDesc => {
                SortKey::NullsLastDesc(n.is_none(), std::cmp::Reverse(n), id)
            }
        }
    }
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

/// A tag and how many jobs carry it: a group of jobs in the job list.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCount {
    /// The tag (tags differing only in case count as one).
    pub tag: String,
    /// Jobs with the tag.
    pub jobs: usize,
    /// Of those, paused ones.
    pub paused: usize,
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

    /// The decoded `after` cursor (an error names what is wrong with it).
    pub fn cursor(&self) -> Result<Option<Cursor>, String> {
        self.after
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(|a| Cursor::decode(a, self.sort))
            .transpose()
    }

    /// Filters, sorts and pages `entries` in memory, as the stores do in SQL.
    pub fn apply(&self, mut entries: Vec<JobEntry>) -> JobPage {
        entries.retain(|e| self.matches(&e.job, e.last_run.as_ref()));
        let total = entries.len();
        entries.sort_by_cached_key(|e| SortKey::of(&Cursor::after(e, self.sort)));
        let page: Vec<JobEntry> = match self.cursor().ok().flatten() {
            Some(cursor) => {
                let after = SortKey::of(&cursor);
                entries
                    .into_iter()
                    .filter(|e| SortKey::of(&Cursor::after(e, self.sort)) > after)
                    .take(self.page_size() + 1)
                    .collect()
            }
            None => entries
                .into_iter()
                .skip(self.offset)
                .take(self.page_size() + 1)
                .collect(),
        };
        self.page(page, total as i64)
    }

    /// The page of `items`, fetched with one row more than asked: trimmed, with the cursor
    /// after it when that row was there, and `total` matches.
    pub fn page(&self, mut items: Vec<JobEntry>, total: i64) -> JobPage {
        let next = (items.len() > self.page_size()).then(|| {
            items.truncate(self.page_size());
            items.last().map(|e| Cursor::after(e, self.sort).encode())
        });
        JobPage {
            items,
            total: total.max(0) as usize,
            next: next.flatten(),
        }
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

fn non_blank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}
