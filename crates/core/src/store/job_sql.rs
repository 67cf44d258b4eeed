//! The SQL of a [`JobQuery`], shared by the SQLite and PostgreSQL stores: each names its
//! column expressions and the statements come out the same.

use crate::query::{Cursor, JobQuery, JobSort};

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
    /// Finds a needle in a haystack: `instr` or `strpos` (positive when found).
    pub find: &'static str,
    /// The condition finding text through an index (the same matches as `find` on `search`),
    /// if the store has one.
    pub text_index: Option<&'static str>,
    /// The statement counting all jobs.
    pub count_all: &'static str,
    /// A table of how many jobs there are of each kind, paused and not (columns `kind`,
    /// `paused`, `n`), aliased `j`, if the store keeps one: it counts lists filtered by those
    /// alone, while its counts add up to `count_all`'s (an older process on the database
    /// may add jobs without counting them here).
    pub kind_counts: Option<&'static str>,
    /// The statement counting the jobs `text_index` finds (its text is `?`), if it can count.
    pub text_count: Option<&'static str>,
    /// The `n`th (1-based) placeholder.
    pub placeholder: fn(usize) -> String,
}

/// The columns every job query selects: definition, next_run, paused, then the newest run's
/// id, state, scheduled and finished (null when it never ran).
const SELECT: &str = "j.definition, j.next_run, j.paused, r.id, r.state, r.scheduled, r.finished";

/// The statements of one job query: how many match, then the page (see [`JobSql::page`]).
pub(crate) struct JobSql {
    /// How many match.
    pub count: String,
    /// Parameters of the page; the count takes the first `count_params` of them.
    pub params: Vec<SqlValue>,
    /// How many parameters the count takes.
    pub count_params: usize,
    /// The page's `FROM`: the jobs, or the jobs joined to their newest runs.
    from: &'static str,
    /// The page's conditions.
    conditions: Vec<String>,
    /// The text condition scanning instead of looking up the index, when the first of
    /// `conditions` looks it up: a common text is found sooner by reading in order.
    text_scan: Option<String>,
    /// Whether `from` joins the newest runs (else the page's rows are found first and
    /// joined after).
    uses_run: bool,
    /// The order, each column with whether it goes down.
    order: Vec<(String, bool)>,
    /// Rows to skip, and the rows to read (one more than the page).
    offset: usize,
    fetch: usize,
    /// The jobs joined to their newest runs (`JobColumns::from`).
    joined: &'static str,
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
    let (mut text_scan, mut text_indexed) = (None, false);
    if let Some(text) = query.text() {
        // The text is the first parameter.
        let scan = format!("{}({}, {}) > 0", cols.find, cols.search, placeholder(1));
        // FTS5 reads a query only up to a NUL.
        let index = cols
            .text_index
            .filter(|_| text.chars().count() >= TEXT_INDEX_MIN_CHARS && !text.contains('\0'));
        match index {
            Some(index) => {
                conditions.push(index.replace('?', &placeholder(1)));
                text_indexed = true;
                if matches!(query.sort, JobSort::Name | JobSort::NameDesc) {
                    text_scan = Some(scan);
                }
            }
            None => conditions.push(scan),
        }
        params.push(SqlValue::Text(text));
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
    let (name, id) = (cols.name.to_string(), cols.id.to_string());
    let order = match query.sort {
        JobSort::Name => vec![(name, false), (id, false)],
        JobSort::NameDesc => vec![(name, true), (id, true)],
        JobSort::NextRun | JobSort::NextRunDesc => vec![
            ("j.next_run IS NULL".into(), false),
            ("j.next_run".into(), query.sort == JobSort::NextRunDesc),
            (id, false),
        ],
        JobSort::LastRun | JobSort::LastRunDesc => vec![
            ("r.id IS NULL".into(), false),
            ("r.id".into(), query.sort == JobSort::LastRunDesc),
            (id, false),
        ],
    };
    let uses_run =
        query.last_state.is_some() || matches!(query.sort, JobSort::LastRun | JobSort::LastRunDesc);
    let only_indexed_text = conditions.len() == 1 && text_indexed;
    let only_kind_or_paused =
        query.text().is_none() && query.tag_filter().is_none() && query.last_state.is_none();
    let count = if conditions.is_empty() {
        cols.count_all.to_string()
    } else if let Some(count) = cols.text_count.filter(|_| only_indexed_text) {
        count.replace('?', &placeholder(1))
    } else if let Some(counts) = cols.kind_counts.filter(|_| only_kind_or_paused) {
        format!(
            "SELECT CASE WHEN (SELECT COALESCE(SUM(n), 0) FROM {counts}) = ({}) \
             THEN (SELECT COALESCE(SUM(n), 0) FROM {counts}{filter}) \
             ELSE (SELECT COUNT(*) FROM {}{filter}) END",
            cols.count_all, cols.jobs
        )
    } else {
        // Each job has at most one newest run: the join only matters when filtering on it.
        let from = if query.last_state.is_some() {
            cols.from
        } else {
            cols.jobs
        };
        format!("SELECT COUNT(*) FROM {from}{filter}")
    };
    JobSql {
        count,
        params,
        count_params,
        from: if uses_run { cols.from } else { cols.jobs },
        conditions: page_conditions,
        text_scan,
        uses_run,
        order,
        offset: if cursor.is_some() { 0 } else { query.offset },
        // One row more than the page tells whether another page follows.
        fetch: query.page_size() + 1,
        joined: cols.from,
    }
}

/// The shortest text the text index can look up; shorter text is found by a scan.
const TEXT_INDEX_MIN_CHARS: usize = 3;

/// Most jobs a text search may expect to read in name order before its page is full; past
/// that it looks the text up in the index and sorts what matched.
const TEXT_SCAN_BUDGET: usize = 5_000;

impl JobSql {
    /// Whether [`JobSql::page`] weighs a scan against the text index, and so needs how many
    /// jobs there are in all (else any number will do).
    pub fn weighs_text_scan(&self) -> bool {
        self.text_scan.is_some()
    }

    /// The page statement, given how many match (`total`, from `count`) of `all` jobs, and
    /// whether it reads the page backwards: a page past the middle is counted from the end,
    /// so no page skips more than half the matches. Reverse the rows of a backward page.
    pub fn page(&self, total: i64, all: i64) -> (String, bool) {
        let total = usize::try_from(total).unwrap_or(0);
        let all = usize::try_from(all).unwrap_or(0);
        let end = self.offset.saturating_add(self.fetch).min(total);
        let backward = self.offset < end && total - end < self.offset;
        let (offset, limit) = if backward {
            (total - end, end - self.offset)
        } else {
            (self.offset, self.fetch)
        };
        let order = self
            .order
            .iter()
            .map(|(column, down)| {
                if *down != backward {
                    format!("{column} DESC")
                } else {
                    column.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        // Matches spread evenly over the name order fill the page after about this many rows.
        let expected_reads = offset.saturating_add(limit).saturating_mul(all) / total.max(1);
        let mut conditions = self.conditions.clone();
        if let Some(scan) = &self.text_scan {
            if expected_reads <= TEXT_SCAN_BUDGET {
                conditions[0] = scan.clone();
            }
        }
        let from_where = format!("{}{}", self.from, where_clause(&conditions));
        let sql = if self.uses_run {
            format!(
                "SELECT {SELECT} FROM {from_where} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            )
        } else {
            // The page's ids first, from the jobs alone (their indexes), so skipping `offset`
            // rows never looks at runs; then the page's rows and newest runs.
            format!(
                "SELECT {SELECT} FROM (SELECT j.id FROM {from_where} ORDER BY {order} \
                 LIMIT {limit} OFFSET {offset}) p, {} WHERE j.id = p.id ORDER BY {order}",
                self.joined
            )
        };
        (sql, backward)
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
        find: "instr",
        text_index: Some(
            "j.seq IN (SELECT rowid FROM jobs_text WHERE jobs_text MATCH '\"' || replace(?, '\"', '\"\"') || '\"')",
        ),
        count_all: "SELECT total FROM job_counts",
        kind_counts: Some("job_kind_counts j"),
        text_count: Some(
            "SELECT COUNT(*) FROM jobs_text WHERE jobs_text MATCH '\"' || replace(?, '\"', '\"\"') || '\"'",
        ),
        placeholder: |n| format!("?{n}"),
    };

    #[test]
    fn kind_and_paused_alone_are_counted_from_the_kind_counts() {
        let query = JobQuery {
            kind: Some(ActionKind::Shell),
            paused: Some(false),
            ..Default::default()
        };
        let sql = job_query_sql(&query, &COLS);
        assert_eq!(
            sql.count,
            "SELECT CASE WHEN (SELECT COALESCE(SUM(n), 0) FROM job_kind_counts j) = \
             (SELECT total FROM job_counts) \
             THEN (SELECT COALESCE(SUM(n), 0) FROM job_kind_counts j WHERE j.kind = ?1 AND j.paused = ?2) \
             ELSE (SELECT COUNT(*) FROM jobs j WHERE j.kind = ?1 AND j.paused = ?2) END"
        );
        // Anything more is counted from the jobs.
        let tagged = JobQuery {
            tag: Some("nightly".into()),
            ..query
        };
        let sql = job_query_sql(&tagged, &COLS);
        assert!(sql.count.starts_with("SELECT COUNT(*) FROM jobs j WHERE"));
    }

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
            sql.page(1000, 1000),
            (
                format!(
                    "SELECT j.definition, j.next_run, j.paused, r.id, r.state, r.scheduled, \
                 r.finished FROM (SELECT j.id FROM jobs j \
                 WHERE j.seq IN (SELECT rowid FROM jobs_text WHERE jobs_text MATCH '\"' || \
                 replace(?1, '\"', '\"\"') || '\"') AND j.kind = ?2 AND j.paused = ?3 \
                 {order} LIMIT 51 OFFSET 200) p, jobs j LEFT JOIN runs r ON r.id = j.last_run \
                 WHERE j.id = p.id {order}"
                ),
                false
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
        assert!(sql.count.ends_with("AND j.kind = ?2 AND j.paused = ?3"));
    }

    #[test]
    fn a_page_past_the_middle_is_read_from_the_end() {
        let query = JobQuery {
            offset: 950,
            limit: Some(50),
            ..Default::default()
        };
        let sql = job_query_sql(&query, &COLS);
        assert_eq!(sql.count, "SELECT total FROM job_counts");
        let (page, backward) = sql.page(1000, 1000);
        assert!(backward);
        assert!(page.contains("ORDER BY j.name DESC, j.id DESC LIMIT 50 OFFSET 0)"));
        // Mid-way, one row more than the page: rows 950..=1000 of 1001 are 0..=50 from the end.
        let (page, backward) = sql.page(1001, 1001);
        assert!(backward);
        assert!(page.contains("LIMIT 51 OFFSET 0)"));
        let (page, backward) = sql.page(2000, 2000);
        assert!(!backward);
        assert!(page.contains("ORDER BY j.name, j.id LIMIT 51 OFFSET 950)"));
        // Past the end: nothing to read either way.
        assert!(!sql.page(900, 900).1);
    }

    #[test]
    fn text_is_looked_up_unless_it_is_short_or_common() {
        let text = |q: &str| JobQuery {
            q: Some(q.into()),
            ..Default::default()
        };
        for short in ["ab", "a\0bc"] {
            let sql = job_query_sql(&text(short), &COLS);
            assert_eq!(sql.params, vec![SqlValue::Text(short.into())]);
            assert!(sql.count.ends_with("WHERE instr(j.search, ?1) > 0"));
        }
        let sql = job_query_sql(&text("backup"), &COLS);
        assert_eq!(
            sql.count,
            "SELECT COUNT(*) FROM jobs_text WHERE jobs_text MATCH '\"' || replace(?1, '\"', '\"\"') || '\"'"
        );
        // One job in a million matches: look it up.
        assert!(sql.page(1, 1_000_000).0.contains("jobs_text MATCH"));
        // One in a hundred: the first 101 in name order are about 10,100 rows in.
        assert!(sql.page(10_000, 1_000_000).0.contains("jobs_text MATCH"));
        // One in ten: the first 101 in name order are about 1,010 rows in.
        let (common, _) = sql.page(100_000, 1_000_000);
        assert!(common.contains("WHERE instr(j.search, ?1) > 0 ORDER BY"));
        // Other orders can't stop early, so they always look it up.
        let by_next = JobQuery {
            sort: JobSort::NextRun,
            ..text("backup")
        };
        let sql = job_query_sql(&by_next, &COLS);
        assert!(sql.page(100_000, 1_000_000).0.contains("jobs_text MATCH"));
    }
}
