//! The database the host runs on, and switching it where the host allows (the desktop app).

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kairos_core::problem::{self, Code, Problem};
use kairos_core::store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, Body};
use crate::AppState;

/// Which kind of store a location names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseKind {
    /// A SQLite file on this machine.
    Sqlite,
    /// A PostgreSQL database, shared by a cluster.
    Postgresql,
}

impl DatabaseKind {
    /// The kind of store `location` names.
    pub fn of(location: &Path) -> Self {
        if location.to_str().is_some_and(store::is_postgres_url) {
            DatabaseKind::Postgresql
        } else {
            DatabaseKind::Sqlite
        }
    }
}

/// Where the database in use was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseSource {
    /// `--db` on the command line (`kairos serve`).
    CommandLine,
    /// The `KAIROS_DB` environment variable.
    Environment,
    /// The desktop app's own setting.
    Setting,
    /// Nothing chose one: `kairos.db` in the data directory.
    Default,
}

/// The database in use, and the one chosen for the next start.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DatabaseInfo {
    /// The database in use: a SQLite file's path, or a PostgreSQL URL with its password masked.
    pub location: String,
    /// Its kind.
    pub kind: DatabaseKind,
    /// Where it was chosen.
    pub source: DatabaseSource,
    /// The default database of this host (a SQLite file).
    pub default_location: String,
    /// Whether this process may switch databases (the desktop app, unless `KAIROS_DB` is set).
    pub changeable: bool,
    /// The database chosen for the next start (password masked) when it differs from the one
    /// in use; a restart switches to it.
    pub next: Option<String>,
    /// Why the database setting could not be followed at start (the default is in use).
    pub problem: Option<String>,
    /// The problem's code and parameters, when the catalog knows it (to say it in the UI's
    /// language).
    pub problem_code: Option<Problem>,
}

/// A database to use from the next start on.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseChoice {
    /// The full path of a SQLite file, or a `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` URL;
    /// null or empty for the default file.
    #[serde(default)]
    pub location: Option<String>,
}

/// What the host does about its database: report it, and (the desktop app) keep another for
/// the next start and restart onto it.
pub trait DatabaseHost: Send + Sync + std::fmt::Debug {
    /// The database in use and the one chosen for the next start.
    fn info(&self) -> DatabaseInfo;
    /// Keeps `location` (None: the default) for the next start; only called when
    /// [`DatabaseInfo::changeable`] and the location opened.
    fn keep(&self, location: Option<&Path>) -> Result<(), String>;
    /// Restarts the process on the chosen database, after the current request is answered;
    /// only called when changeable.
    fn restart(&self) -> Result<(), String>;
}

/// A database fixed for the life of the process, as `kairos serve --db` has.
#[derive(Debug)]
pub struct FixedDatabase(DatabaseInfo);

impl FixedDatabase {
    /// The database at `location`, chosen by `source`, on a host whose default is `default`.
    pub fn new(location: &Path, source: DatabaseSource, default: &Path) -> Arc<Self> {
        Arc::new(FixedDatabase(DatabaseInfo {
            location: store::shown_location(location),
            kind: DatabaseKind::of(location),
            source,
            default_location: default.display().to_string(),
            changeable: false,
            next: None,
            problem: None,
            problem_code: None,
        }))
    }
}

impl DatabaseHost for FixedDatabase {
    fn info(&self) -> DatabaseInfo {
        self.0.clone()
    }

    fn keep(&self, _: Option<&Path>) -> Result<(), String> {
        Err(fixed_reason(self.0.source))
    }

    fn restart(&self) -> Result<(), String> {
        Err(fixed_reason(self.0.source))
    }
}

/// Why a database cannot be switched from here.
fn fixed_reason(source: DatabaseSource) -> String {
    match source {
        DatabaseSource::Environment => Code::DatabaseFromEnvironment.template(),
        _ => Code::DatabaseFromCommandLine.template(),
    }
    .into()
}

/// Refuses a change when the host cannot make one.
fn check_changeable(info: &DatabaseInfo) -> ApiResult<()> {
    if info.changeable {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            Some("location"),
            fixed_reason(info.source),
        ))
    }
}

/// The location a choice names, checked for shape: a PostgreSQL URL or an absolute file path.
fn parse_choice(choice: DatabaseChoice) -> ApiResult<Option<std::path::PathBuf>> {
    let Some(text) = choice.location.map(|l| l.trim().to_string()) else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.contains('\0') {
        return Err(ApiError::invalid("location", Code::HasNul.template()));
    }
    let path = std::path::PathBuf::from(&text);
    if store::is_postgres_url(&text) {
        return Ok(Some(path));
    }
    if text.contains("://") {
        return Err(ApiError::invalid(
            "location",
            Code::DatabaseScheme.template(),
        ));
    }
    if !path.is_absolute() {
        return Err(ApiError::invalid(
            "location",
            Code::DatabaseNotAbsolute.template(),
        ));
    }
    if path.is_dir() {
        return Err(ApiError::invalid(
            "location",
            Code::DatabaseIsFolder.say(&[
                ("path", &path.display().to_string()),
                ("example", &path.join("kairos.db").display().to_string()),
            ]),
        ));
    }
    Ok(Some(path))
}

/// The database in use and the one chosen for the next start.
#[utoipa::path(get, path = "/api/database", tag = "scheduler",
    responses((status = 200, description = "The database", body = DatabaseInfo)),
    security(("bearer" = [])))]
pub(crate) async fn get_database(State(state): State<AppState>) -> Json<DatabaseInfo> {
    Json(info_of(state.config.database.as_ref()))
}

/// The host's database info, its problem's code recognized.
fn info_of(host: &dyn DatabaseHost) -> DatabaseInfo {
    let info = host.info();
    DatabaseInfo {
        problem_code: info.problem.as_deref().and_then(problem::recognize),
        ..info
    }
}

/// Chooses the database for the next start, after opening it (creating a SQLite file, or
/// migrating a PostgreSQL database) to make sure it works.
#[utoipa::path(put, path = "/api/database", tag = "scheduler",
    request_body(content = DatabaseChoice, description = "The database to use from the next start"),
    responses(
        (status = 200, description = "The database in use and the one chosen", body = DatabaseInfo),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "This process cannot switch databases", body = ErrorBody),
        (status = 422, description = "The location is malformed or does not open", body = ErrorBody),
        (status = 500, description = "The choice could not be kept", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn put_database(
    State(state): State<AppState>,
    Body(choice): Body<DatabaseChoice>,
) -> ApiResult<Json<DatabaseInfo>> {
    let host = state.config.database.clone();
    check_changeable(&host.info())?;
    let location = parse_choice(choice)?;
    blocking(move || {
        if let Some(path) = &location {
            // Opened and dropped here, on a blocking thread: a PostgreSQL store owns a runtime.
            store::open(path).map_err(|e| {
                ApiError::invalid(
                    "location",
                    Code::DatabaseOpenFailed.say(&[
                        ("location", &store::shown_location(path)),
                        ("detail", &e.to_string()),
                    ]),
                )
            })?;
        }
        host.keep(location.as_deref())
            .map_err(|e| ApiError::internal(format!("cannot keep the database setting: {e}")))?;
        Ok(Json(info_of(host.as_ref())))
    })
    .await
}

/// Restarts the app on the database chosen for the next start, once this answer is sent;
/// running jobs get time to finish first, as on quit.
#[utoipa::path(post, path = "/api/database/restart", tag = "scheduler",
    responses(
        (status = 202, description = "The app is restarting", body = DatabaseInfo),
        (status = 409, description = "This process cannot switch databases", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn restart_on_database(
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, Json<DatabaseInfo>)> {
    let host = &state.config.database;
    let info = info_of(host.as_ref());
    check_changeable(&info)?;
    host.restart().map_err(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, Json(info)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(location: Option<&str>) -> ApiResult<Option<std::path::PathBuf>> {
        parse_choice(DatabaseChoice {
            location: location.map(str::to_string),
        })
    }

    #[test]
    fn choices_are_urls_or_absolute_files() {
        assert_eq!(choice(None).unwrap(), None);
        assert_eq!(choice(Some("  ")).unwrap(), None);
        assert_eq!(
            choice(Some(" /tmp/k.db ")).unwrap(),
            Some("/tmp/k.db".into())
        );
        assert_eq!(
            choice(Some("postgres://k@h:5432/db")).unwrap(),
            Some("postgres://k@h:5432/db".into())
        );
        for (bad, says) in [
            ("jobs.db", "full path"),
            ("mysql://h/db", "postgres://"),
            ("/tmp", "is a folder"),
            ("/tmp/a\0b", "NUL"),
        ] {
            let e = choice(Some(bad)).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("location"), "{bad}");
            assert!(e.message.contains(says), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn a_fixed_database_says_how_to_change_it() {
        let fixed = FixedDatabase::new(
            Path::new("postgres://k:secret@h/db"),
            DatabaseSource::CommandLine,
            Path::new("/d/kairos.db"),
        );
        let info = fixed.info();
        assert_eq!(info.location, "postgres://k:***@h/db");
        assert_eq!(info.kind, DatabaseKind::Postgresql);
        assert!(!info.changeable);
        assert!(fixed.keep(None).unwrap_err().contains("--db"));
        let env = FixedDatabase::new(
            Path::new("/x.db"),
            DatabaseSource::Environment,
            Path::new("/d/kairos.db"),
        );
        assert_eq!(env.info().kind, DatabaseKind::Sqlite);
        assert!(env.restart().unwrap_err().contains("KAIROS_DB"));
    }
}
