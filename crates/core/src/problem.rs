//! Stable codes for the messages people read (validation errors, cron errors, why a run
//! failed), so that a user interface can say them in its own language. The English text stays
//! the message; [`recognize`] finds its code and parameters by the catalog's templates.

use std::collections::BTreeMap;

use serde::Serialize;

/// A message's stable code; the message is its English template (`Code::template`) filled in.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// A cron expression with no fields.
    CronEmpty,
    /// A cron expression with the wrong number of fields.
    CronFieldCount,
    /// An unknown `@` shorthand.
    CronShorthand,
    /// A cron expression no date satisfies.
    CronNever,
    /// An empty item in a cron field.
    CronEmptyValue,
    /// A cron item that is not a number.
    CronNotANumber,
    /// A month item that is neither a number nor a month name.
    CronNotAMonth,
    /// A day-of-week item that is neither a number nor a day name.
    CronNotADay,
    /// A cron value outside its field's range.
    CronOutOfRange,
    /// A cron step that is not a number.
    CronBadStep,
    /// A cron step of zero.
    CronZeroStep,
    /// A cron range whose end is before its start.
    CronBackwards,
    /// A `#n` beyond the fifth week.
    CronNth,
    /// A time zone the IANA database lacks.
    UnknownTimeZone,
    /// A field left empty.
    Empty,
    /// A field that must be at least 1.
    AtLeastOne,
    /// A JSON field the request does not take.
    UnknownField,
    /// A JSON field the request lacks.
    MissingField,
    /// A JSON value of the wrong type.
    InvalidType,
    /// A body that is not JSON.
    MalformedJson,
    /// An empty body where JSON is expected.
    EmptyBody,
    /// A body over the size limit.
    TooLarge,
    /// No job has the id.
    NoJob,
    /// No run has the id.
    NoRun,
    /// A job id taken already.
    DuplicateJob,
    /// Run now refused: the job's runs are at their maximum.
    MaxInstancesActive,
    /// A shell command ended with a non-zero status.
    Exited,
    /// A shell command was killed by a signal.
    KilledBySignal,
    /// A run stopped at its timeout.
    TimedOut,
    /// A run cancelled.
    Cancelled,
    /// A workflow step stopped by shutdown.
    ShutDown,
    /// A run skipped because the job's runs were at their maximum.
    Skipped,
    /// An HTTP status outside the expected range.
    UnexpectedStatus,
    /// A run parameter's variable name that cannot be one.
    BadVariableName,
    /// Variables or arguments given to a job that is not a shell command.
    ShellOnly,
    /// A body given to a job that is not an HTTP request.
    HttpOnly,
    /// A text holding a NUL character.
    HasNul,
    /// A database location that is neither a full file path nor a PostgreSQL URL.
    DatabaseNotAbsolute,
    /// A database URL of another scheme than PostgreSQL's.
    DatabaseScheme,
    /// A database location that is a folder.
    DatabaseIsFolder,
    /// A database that did not open.
    DatabaseOpenFailed,
    /// A database that `KAIROS_DB` decides.
    DatabaseFromEnvironment,
    /// A database given on the command line.
    DatabaseFromCommandLine,
    /// A chosen database that did not open at start, so the default is in use.
    DatabaseFellBack,
}

impl Code {
    /// Every code, the most specific templates first (see [`recognize`]).
    pub const ALL: [Code; 44] = [
        Code::CronEmpty,
        Code::CronFieldCount,
        Code::CronShorthand,
        Code::CronNever,
        Code::CronEmptyValue,
        Code::CronNotAMonth,
        Code::CronNotADay,
        Code::CronNotANumber,
        Code::CronBadStep,
        Code::CronZeroStep,
        Code::CronBackwards,
        Code::CronNth,
        Code::CronOutOfRange,
        Code::UnknownTimeZone,
        Code::Empty,
        Code::AtLeastOne,
        Code::UnknownField,
        Code::MissingField,
        Code::InvalidType,
        Code::MalformedJson,
        Code::EmptyBody,
        Code::TooLarge,
        Code::NoJob,
        Code::NoRun,
        Code::DuplicateJob,
        Code::MaxInstancesActive,
        Code::Exited,
        Code::KilledBySignal,
        Code::TimedOut,
        Code::Cancelled,
        Code::ShutDown,
        Code::Skipped,
        Code::UnexpectedStatus,
        Code::BadVariableName,
        Code::ShellOnly,
        Code::HttpOnly,
        Code::HasNul,
        Code::DatabaseNotAbsolute,
        Code::DatabaseScheme,
        Code::DatabaseIsFolder,
        // Before DatabaseOpenFailed, whose template reads the start of this one's.
        Code::DatabaseFellBack,
        Code::DatabaseOpenFailed,
        Code::DatabaseFromEnvironment,
        Code::DatabaseFromCommandLine,
    ];

    /// The English message with each `{name}` replaced by its value in `params`.
    pub fn say(self, params: &[(&str, &str)]) -> String {
        params
            .iter()
            .fold(self.template().to_string(), |text, (name, value)| {
                text.replace(&format!("{{{name}}}"), value)
            })
    }

    /// The English message, with `{name}` where a parameter goes.
    pub fn template(self) -> &'static str {
        match self {
            Code::CronEmpty => "expression is empty",
            Code::CronFieldCount => "expected 5 fields (minute hour day-of-month month day-of-week), 6 with leading seconds or 7 with trailing year, got {count}",
            Code::CronShorthand => "unknown shorthand '{text}' (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)",
            Code::CronNever => "'{expression}' can never fire: no month in the expression has the days it asks for",
            Code::CronEmptyValue => "{part}: empty value (two commas or a trailing comma?)",
            Code::CronNotAMonth => "{part}: '{text}' is not a number or a month name (jan-dec)",
            Code::CronNotADay => "{part}: '{text}' is not a number or a day name (sun-sat)",
            Code::CronNotANumber => "{part}: '{text}' is not a number",
            Code::CronBadStep => "{part}: step '{text}' is not a number",
            Code::CronZeroStep => "{part}: step must be at least 1",
            Code::CronBackwards => "{part}: range {range} runs backwards (write the smaller value first)",
            Code::CronNth => "{part}: '#{text}' must be 1-5 (which week of the month)",
            Code::CronOutOfRange => "{part}: {value} is out of range {min}-{max}",
            Code::UnknownTimeZone => {
                "unknown time zone '{zone}': use an IANA name such as 'Europe/London' or 'UTC'"
            }
            Code::Empty => "must not be empty",
            Code::AtLeastOne => "must be at least 1",
            Code::UnknownField => "unknown field `{name}`, {rest}",
            Code::MissingField => "missing field `{name}`",
            Code::InvalidType => "invalid type: {found}, expected {expected}",
            Code::MalformedJson => "malformed JSON: {detail}",
            Code::EmptyBody => "the request body is empty; send a JSON document",
            Code::TooLarge => "the request body is too large",
            Code::NoJob => "no job with id '{id}'",
            Code::NoRun => "no run with id {id}",
            Code::DuplicateJob => "a job with id '{id}' already exists",
            Code::MaxInstancesActive => "job '{id}' already has its maximum number of runs active",
            Code::Exited => "exited with status {status}",
            Code::KilledBySignal => "killed by signal {signal}",
            Code::TimedOut => "timed out after {seconds} s",
            Code::Cancelled => "cancelled",
            Code::ShutDown => "the scheduler shut down before it ended",
            Code::Skipped => "{active} run(s) already active (max instances {max})",
            Code::UnexpectedStatus => "status {status} is outside the expected {low}-{high}",
            Code::BadVariableName => {
                "'{name}' is not a variable name: it must be non-empty, without '=' or NUL"
            }
            Code::ShellOnly => "only a shell job takes {what}",
            Code::HttpOnly => "only an HTTP job takes a body",
            Code::HasNul => "must not contain NUL",
            Code::DatabaseNotAbsolute => {
                "give the full path of a SQLite file, such as /home/you/kairos/jobs.db, or a \
                 postgres:// URL"
            }
            Code::DatabaseScheme => "a database URL starts with postgres:// or postgresql://",
            Code::DatabaseIsFolder => "{path} is a folder; name a file in it, such as {example}",
            Code::DatabaseOpenFailed => "cannot open {location}: {detail}",
            Code::DatabaseFromEnvironment => {
                "KAIROS_DB is set and decides the database; unset it to choose one here"
            }
            Code::DatabaseFellBack => {
                "cannot open {location}: {detail}; Kairos uses the default database until it can"
            }
            Code::DatabaseFromCommandLine => {
                "this process keeps the database it was started with; start `kairos serve --db \
                 LOCATION` to use another"
            }
        }
    }
}

/// A message's code and the parameters its template took.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The stable code.
    pub code: Code,
    /// The template's parameters by name.
    pub params: BTreeMap<String, String>,
}

/// The longest message [`recognize`] reads: the catalog's are short.
const MAX_RECOGNIZED: usize = 1024;

/// The code and parameters of `message`, when a template of the catalog matches it whole.
pub fn recognize(message: &str) -> Option<Problem> {
    if message.len() > MAX_RECOGNIZED {
        return None;
    }
    Code::ALL.into_iter().find_map(|code| {
        let params = matches(code.template(), message)?;
        Some(Problem { code, params })
    })
}

/// The parameters that make `template` read as `message`, if any do. Each value is at least
/// one character and ends where the template's next literal text first appears; the last
/// one takes what the template's closing text leaves (an id may hold a quote). Linear.
fn matches(template: &str, message: &str) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    let (mut template, mut message) = (template, message);
    while let Some(open) = template.find('{') {
        message = message.strip_prefix(&template[..open])?;
        let close = open + template[open..].find('}')?;
        let name = &template[open + 1..close];
        template = &template[close + 1..];
        let next = template.find('{');
        let literal = &template[..next.unwrap_or(template.len())];
        let end = match literal {
            _ if next.is_none() => message.strip_suffix(literal)?.len(),
            "" => return None,
            _ => message.find(literal)?,
        };
        if end == 0 {
            return None;
        }
        params.insert(name.to_string(), message[..end].to_string());
        message = &message[end..];
    }
    (template == message).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::{parse_time_zone, CronTrigger};

    fn cron_error(expr: &str) -> String {
        CronTrigger::new(expr, chrono_tz::UTC)
            .unwrap_err()
            .to_string()
    }

    fn code_of(message: &str) -> Option<Code> {
        recognize(message).map(|p| p.code)
    }

    fn params(message: &str) -> Vec<(String, String)> {
        recognize(message).unwrap().params.into_iter().collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn said_messages_are_recognized_with_their_parameters() {
        let message = Code::DatabaseFellBack.say(&[
            ("location", "postgres://k:***@db/k"),
            ("detail", "connection refused"),
        ]);
        assert_eq!(
            message,
            "cannot open postgres://k:***@db/k: connection refused; Kairos uses the default \
             database until it can"
        );
        assert_eq!(
            params(&message),
            pairs(&[
                ("detail", "connection refused"),
                ("location", "postgres://k:***@db/k")
            ])
        );
        let folder = Code::DatabaseIsFolder.say(&[("path", "/srv"), ("example", "/srv/kairos.db")]);
        assert_eq!(code_of(&folder), Some(Code::DatabaseIsFolder));
    }

    #[test]
    fn every_cron_error_the_parser_gives_has_its_code() {
        let cases = [
            ("", Code::CronEmpty),
            ("* * *", Code::CronFieldCount),
            ("@fortnightly", Code::CronShorthand),
            ("0 0 30 2 *", Code::CronNever),
            ("1,,2 * * * *", Code::CronEmptyValue),
            ("x * * * *", Code::CronNotANumber),
            ("0 0 1 smarch *", Code::CronNotAMonth),
            ("0 0 * * funday", Code::CronNotADay),
            ("*/x * * * *", Code::CronBadStep),
            ("*/0 * * * *", Code::CronZeroStep),
            ("30-10 * * * *", Code::CronBackwards),
            ("0 0 * * mon#6", Code::CronNth),
            ("60 * * * *", Code::CronOutOfRange),
        ];
        for (expr, code) in cases {
            let error = cron_error(expr);
            assert_eq!(code_of(&error), Some(code), "{expr:?}: {error}");
        }
        let error = cron_error("0 25 * * *");
        assert_eq!(
            params(&error),
            pairs(&[
                ("max", "23"),
                ("min", "0"),
                ("part", "hour"),
                ("value", "25")
            ])
        );
    }

    #[test]
    fn run_and_request_messages_have_theirs() {
        assert_eq!(params("exited with status 3"), pairs(&[("status", "3")]));
        assert_eq!(code_of("killed by signal 9"), Some(Code::KilledBySignal));
        assert_eq!(code_of("timed out after 30 s"), Some(Code::TimedOut));
        assert_eq!(code_of("cancelled"), Some(Code::Cancelled));
        let skipped = crate::store::skipped_error(2, 1);
        assert_eq!(params(&skipped), pairs(&[("active", "2"), ("max", "1")]));
        assert_eq!(
            params("unknown field `colour`, expected one of `name`, `id`"),
            pairs(&[("name", "colour"), ("rest", "expected one of `name`, `id`")])
        );
        let zone = parse_time_zone("Mars/Olympus").unwrap_err();
        assert_eq!(
            params(&zone.to_string()),
            pairs(&[("zone", "Mars/Olympus")])
        );
    }

    #[test]
    fn every_refusal_of_run_parameters_has_its_code() {
        use crate::action::{Action, ShellAction};
        use crate::history::RunParams;
        let shell = Action::from(ShellAction {
            command: "true".into(),
            shell: "sh".into(),
            cwd: None,
            env: Default::default(),
            output_cap_bytes: 1024,
        });
        let monitor = Action::Monitor(Default::default());
        let env = |k: &str, v: &str| RunParams {
            env: [(k.to_string(), v.to_string())].into(),
            ..Default::default()
        };
        let body = RunParams {
            body: Some("{}".into()),
            ..Default::default()
        };
        let args = RunParams {
            args: vec!["x".into()],
            ..Default::default()
        };
        let cases = [
            (&shell, env("A=B", "c"), Code::BadVariableName),
            (&shell, env("A", "\0"), Code::HasNul),
            (&monitor, env("A", "b"), Code::ShellOnly),
            (&monitor, args, Code::ShellOnly),
            (&shell, body, Code::HttpOnly),
        ];
        for (action, params, code) in cases {
            let error = action.check_params(&params).unwrap_err();
            assert_eq!(code_of(&error.message), Some(code), "{error:?}");
        }
    }

    #[test]
    fn a_message_no_template_matches_has_no_code() {
        assert_eq!(
            code_of("cannot start 'bash': No such file or directory"),
            None
        );
        assert_eq!(code_of("cancelled twice"), None);
        assert_eq!(code_of("exited with status "), None);
        assert_eq!(code_of(&"x".repeat(MAX_RECOGNIZED + 1)), None);
    }

    #[test]
    fn a_value_ends_where_the_template_goes_on() {
        // A message that only ends like its template is not that template's message.
        assert_eq!(code_of("unknown time zone 'A': or 'B'"), None);
        // The last value runs to the template's closing text, whatever it holds.
        assert_eq!(
            params("no job with id 'o'brien'"),
            pairs(&[("id", "o'brien")])
        );
        // Matching stays quick on the longest message it reads.
        let long = format!("{}: '{}", "x".repeat(500), "'".repeat(500));
        assert_eq!(code_of(&long), None);
    }

    #[test]
    fn the_schedulers_own_messages_have_theirs() {
        use crate::scheduler::{busy, SchedulerError};
        use crate::store::StoreError;
        let message = |e: SchedulerError| match e {
            SchedulerError::Invalid { message, .. } => message,
            e => e.to_string(),
        };
        let cases = [
            (SchedulerError::NotFound("nightly".into()), Code::NoJob),
            (SchedulerError::NoRun(7), Code::NoRun),
            (
                StoreError::Duplicate("nightly".into()).into(),
                Code::DuplicateJob,
            ),
            (busy("nightly"), Code::MaxInstancesActive),
        ];
        for (error, code) in cases {
            let text = message(error);
            assert_eq!(code_of(&text), Some(code), "{text}");
            assert!(params(&text)
                .iter()
                .any(|(_, v)| v == "nightly" || v == "7"));
        }
        assert_eq!(code_of(crate::executor::SHUT_DOWN), Some(Code::ShutDown));
        assert_eq!(
            params("status 503 is outside the expected 200-299"),
            pairs(&[("high", "299"), ("low", "200"), ("status", "503")])
        );
    }
}
