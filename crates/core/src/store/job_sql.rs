//! The SQL of a [`JobQuery`], shared by the SQLite and PostgreSQL stores: each names its
//! column expressions and the statements come out the same.

use crate::query::{JobQuery, JobSort, FAILING};

/// A query parameter, converted by each store to its driver's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
}

/// How one store's jobs table answers a job query. `j` is the job row, `r` its newest run.
pub(crate) struct JobColumns {
    /// `FROM` clause joining each job to its newest run.
    pub from: &'static str,
    /// `FROM` clause of the jobs alone, for counts that don't look at the newest run.
    pub jobs: &'static str,
    /// Lower-cased id, name, description and tags, separated by `\x1f`.
    pub search: &'static str,
    /// Lower-cased tags, each between `\x1f`s.
    pub tags: &'static str,
    /// The lower-cased name, compared byte by byte.
    pub name: &'static str,
    /// The id, compared byte by byte.
    pub id: &'static str,
    /// The action's kind name.
    pub kind: &'static str,
    /// The id of the newest run of run `r`'s job, null when the job is gone.
    pub newest_run_of_r: &'static str,
    /// Finds a needle in a haystack: `instr` or `strpos` (positive when found).
    pub find: &'static str,
    /// The `n`th (1-based) placeholder.
    pub placeholder: fn(usize) -> String,
}

/// The columns every job query selects: definition, next_run, paused, then the newest run's
/// id, state, scheduled and finished (null when it never ran).
const SELECT: &str = "j.definition, j.next_run, j.paused, r.id, r.state, r.scheduled, r.finished";

/// The statements of one job query.
pub(crate) struct JobSql {
    /// The page.
    pub page: String,
    /// How many match.
    pub count: String,
    /// Parameters of both.
    pub params: Vec<SqlValue>,
}

/// The page and count statements for `query` against `cols`.
pub(crate) fn job_query_sql(query: &JobQuery, cols: &JobColumns) -> JobSql {
    let mut conditions: Vec<String> = Vec::new();
    let mut params = Vec::new();
    let mut push = |sql: String, value: SqlValue| {
        params.push(value);
        conditions.push(sql.replace('?', &(cols.placeholder)(params.len())));
    };
    if let Some(text) = query.text() {
        push(
            format!("{}({}, ?) > 0", cols.find, cols.search),
            SqlValue::Text(text),
        );
    }
    if let Some(tag) = query.tag_filter() {
        push(
            format!("{}({}, ?) > 0", cols.find, cols.tags),
            SqlValue::Text(format!("\x1f{tag}\x1f")),
        );
    }
    if let Some(kind) = query.kind {
        push(
            format!("{} = ?", cols.kind),
            SqlValue::Text(kind.as_str().into()),
        );
    }
    if let Some(paused) = query.paused {
        push("j.paused = ?".into(), SqlValue::Bool(paused));
    }
    if let Some(state) = query.last_state {
        push("r.state = ?".into(), SqlValue::Text(state.as_str().into()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let (name, id) = (cols.name, cols.id);
    let order = match query.sort {
        JobSort::Name => format!("{name}, {id}"),
        JobSort::NameDesc => format!("{name} DESC, {id} DESC"),
        JobSort::NextRun => format!("j.next_run IS NULL, j.next_run, {id}"),
        JobSort::NextRunDesc => format!("j.next_run IS NULL, j.next_run DESC, {id}"),
        JobSort::LastRun => format!("r.id IS NULL, r.id, {id}"),
        JobSort::LastRunDesc => format!("r.id IS NULL, r.id DESC, {id}"),
    };
    let uses_run =
        query.last_state.is_some() || matches!(query.sort, JobSort::LastRun | JobSort::LastRunDesc);
    let (limit, offset) = (query.page_size(), query.offset);
    let page = if uses_run {
        format!(
            "SELECT {SELECT} FROM {}{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            cols.from
        )
    } else {
        // The page's ids first, from the jobs alone (their indexes), so skipping `offset`
        // rows never looks at runs; then the page's rows and newest runs.
        format!(
            "SELECT {SELECT} FROM (SELECT j.id FROM {}{filter} ORDER BY {order} \
             LIMIT {limit} OFFSET {offset}) p, {} WHERE j.id = p.id ORDER BY {order}",
            cols.jobs, cols.from
        )
    };
    JobSql {
        page,
        // Each job has at most one newest run: the join only matters when filtering on it.
        count: format!(
            "SELECT COUNT(*) FROM {}{filter}",
            if query.last_state.is_some() {
                cols.from
            } else {
                cols.jobs
            }
        ),
        params,
    }
}

/// The statement counting all jobs, the paused, the monitors and the failing (in that order),
/// each from the narrowest place that knows it: failing jobs from their failed newest runs.
pub(crate) fn job_counts_sql(cols: &JobColumns) -> String {
    let failing = FAILING.map(|s| format!("'{}'", s.as_str())).join(", ");
    format!(
        "SELECT (SELECT COUNT(*) FROM {jobs}), \
         (SELECT COUNT(*) FROM {jobs} WHERE j.paused = TRUE), \
         (SELECT COUNT(*) FROM {jobs} WHERE {kind} = 'monitor'), \
         (SELECT COUNT(*) FROM runs r WHERE r.state IN ({failing}) AND r.id = {newest})",
        jobs = cols.jobs,
        kind = cols.kind,
        newest = cols.newest_run_of_r,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ActionKind;

    const COLS: JobColumns = JobColumns {
        from: "jobs j LEFT JOIN runs r ON r.id = j.last_run",
        jobs: "jobs j",
        search: "j.search",
        tags: "j.tags",
        name: "j.name",
        id: "j.id",
        kind: "j.kind",
        newest_run_of_r: "(SELECT j.last_run FROM jobs j WHERE j.id = r.job_id)",
        find: "instr",
        placeholder: |n| format!("?{n}"),
    };

    #[test]
    fn filters_number_their_parameters_in_order() {
        let query = JobQuery {
            q: Some(" Backup ".into()),
            kind: Some(ActionKind::Shell),
            paused: Some(false),
            sort: JobSort::NextRunDesc,
            offset: 200,
            limit: Some(50),
            ..Default::default()
        };
        let sql = job_query_sql(&query, &COLS);
        let order = "ORDER BY j.next_run IS NULL, j.next_run DESC, j.id";
        assert_eq!(
            sql.page,
            format!(
                "SELECT j.definition, j.next_run, j.paused, r.id, r.state, r.scheduled, \
                 r.finished FROM (SELECT j.id FROM jobs j \
                 WHERE instr(j.search, ?1) > 0 AND j.kind = ?2 AND j.paused = ?3 \
                 {order} LIMIT 50 OFFSET 200) p, jobs j LEFT JOIN runs r ON r.id = j.last_run \
                 WHERE j.id = p.id {order}"
            )
        );
        assert_eq!(
            sql.params,
            vec![
                SqlValue::Text("backup".into()),
                SqlValue::Text("shell".into()),
                SqlValue::Bool(false)
            ]
        );
        assert!(sql
            .count
            .ends_with("WHERE instr(j.search, ?1) > 0 AND j.kind = ?2 AND j.paused = ?3"));
    }
}
