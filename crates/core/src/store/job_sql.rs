//! The SQL of a [`JobQuery`], shared by the SQLite and PostgreSQL stores: each names its
//! column expressions and the statements come out the same.

use crate::query::{Cursor, JobQuery, JobSort, FAILING};

/// A query parameter, converted by each store to its driver's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
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
    /// Parameters of the page; the count takes the first `count_params` of them.
    pub params: Vec<SqlValue>,
    /// How many parameters the count takes.
    pub count_params: usize,
}

/// The page and count statements for `query` against `cols`.
pub(crate) fn job_query_sql(query: &JobQuery, cols: &JobColumns) -> JobSql {
    let mut conditions: Vec<String> = Vec::new();
    let mut params = Vec::new();
    // Each `?` of `sql` takes the next of `values`.
    let placeholder = cols.placeholder;
    let push = |params: &mut Vec<SqlValue>,
                conditions: &mut Vec<String>,
                sql: String,
                values: Vec<SqlValue>| {
        let mut out = String::new();
        for (i, part) in sql.split('?').enumerate() {
            if i > 0 {
                out.push_str(&placeholder(params.len() + i));
            }
            out.push_str(part);
        }
        params.extend(values);
        conditions.push(out);
    };
    if let Some(text) = query.text() {
        let sql = format!("{}({}, ?) > 0", cols.find, cols.search);
        push(
            &mut params,
            &mut conditions,
            sql,
            vec![SqlValue::Text(text)],
        );
    }
    if let Some(tag) = query.tag_filter() {
        let sql = format!("{}({}, ?) > 0", cols.find, cols.tags);
        push(
            &mut params,
            &mut conditions,
            sql,
            vec![SqlValue::Text(format!("\x1f{tag}\x1f"))],
        );
    }
    if let Some(kind) = query.kind {
        let sql = format!("{} = ?", cols.kind);
        push(
            &mut params,
            &mut conditions,
            sql,
            vec![SqlValue::Text(kind.as_str().into())],
        );
    }
    if let Some(paused) = query.paused {
        push(
            &mut params,
            &mut conditions,
            "j.paused = ?".into(),
            vec![SqlValue::Bool(paused)],
        );
    }
    if let Some(state) = query.last_state {
        let state = SqlValue::Text(state.as_str().into());
        push(
            &mut params,
            &mut conditions,
            "r.state = ?".into(),
            vec![state],
        );
    }
    let filter = where_clause(&conditions);
    let count_params = params.len();
    // The cursor narrows the page, not the count.
    let mut page_conditions = conditions.clone();
    let cursor = query.cursor().ok().flatten();
    if let Some(cursor) = &cursor {
        let (sql, values) = after_cursor(cursor, cols);
        push(&mut params, &mut page_conditions, sql, values);
    }
    let page_filter = where_clause(&page_conditions);
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
    // One row more than the page tells whether another page follows.
    let limit = query.page_size() + 1;
    let offset = if cursor.is_some() { 0 } else { query.offset };
    let page = if uses_run {
        format!(
            "SELECT {SELECT} FROM {}{page_filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            cols.from
        )
    } else {
        // The page's ids first, from the jobs alone (their indexes), so skipping `offset`
        // rows never looks at runs; then the page's rows and newest runs.
        format!(
            "SELECT {SELECT} FROM (SELECT j.id FROM {}{page_filter} ORDER BY {order} \
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
        count_params,
    }
}

/// ` WHERE a AND b`, or nothing.
fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

/// The condition (and its values) for rows after `cursor` in its order.
fn after_cursor(cursor: &Cursor, cols: &JobColumns) -> (String, Vec<SqlValue>) {
    let (name, id) = (cols.name, cols.id);
    let key = SqlValue::Text(cursor.name.clone());
    let after_id = SqlValue::Text(cursor.id.clone());
    let column = match cursor.sort {
        JobSort::Name => {
            let sql = format!("({name} > ? OR ({name} = ? AND {id} > ?))");
            return (sql, vec![key.clone(), key, after_id]);
        }
        JobSort::NameDesc => {
            let sql = format!("({name} < ? OR ({name} = ? AND {id} < ?))");
            return (sql, vec![key.clone(), key, after_id]);
        }
        JobSort::NextRun | JobSort::NextRunDesc => "j.next_run",
        JobSort::LastRun | JobSort::LastRunDesc => "r.id",
    };
    // Both number orders put jobs without one last, ties by id.
    let before = if matches!(cursor.sort, JobSort::NextRun | JobSort::LastRun) {
        ">"
    } else {
        "<"
    };
    match cursor.number {
        Some(n) => (
            format!("({column} IS NULL OR {column} {before} ? OR ({column} = ? AND {id} > ?))"),
            vec![SqlValue::Int(n), SqlValue::Int(n), after_id],
        ),
        None => (format!("({column} IS NULL AND {id} > ?)"), vec![after_id]),
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
                 {order} LIMIT 51 OFFSET 200) p, jobs j LEFT JOIN runs r ON r.id = j.last_run \
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
