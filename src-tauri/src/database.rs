//! Which database the app runs on: `KAIROS_DB`, else the app's own setting (chosen on the
//! Settings screen, kept in `<config dir>/kairos/desktop.json`), else `kairos.db` in the data
//! directory, the CLI's default, so `kairos job …` and the app share their jobs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use kairos_core::problem::Code;
use kairos_core::store::{self, shown_location, JobStore};
use kairos_server::{DatabaseHost, DatabaseInfo, DatabaseKind, DatabaseSource};
use serde::{Deserialize, Serialize};

/// The app's own settings file, in `<config dir>/kairos/`.
const SETTINGS_FILE: &str = "desktop.json";

/// What the app keeps between starts.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DesktopSettings {
    /// The database to use: a SQLite file's path or a PostgreSQL URL; absent for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    database: Option<PathBuf>,
}

/// Where the app's files are: its settings, and the default database.
#[derive(Debug, Clone)]
pub struct Places {
    /// `<config dir>/kairos/desktop.json`.
    pub settings: PathBuf,
    /// `<data dir>/kairos/kairos.db`.
    pub default_db: PathBuf,
}

impl Places {
    /// The places under the platform's config and data directories (`.` when unknown).
    pub fn new(config_dir: Option<PathBuf>, data_dir: Option<PathBuf>) -> Self {
        let under = |dir: Option<PathBuf>| dir.unwrap_or_else(|| PathBuf::from(".")).join("kairos");
        Places {
            settings: under(config_dir).join(SETTINGS_FILE),
            default_db: under(data_dir).join("kairos.db"),
        }
    }

    /// The database chosen by the setting, if any; a file that cannot be read is reported.
    fn chosen(&self) -> Result<Option<PathBuf>, String> {
        let text = match std::fs::read_to_string(&self.settings) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", self.settings.display())),
        };
        let settings: DesktopSettings = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not valid: {e}", self.settings.display()))?;
        let chosen = settings.database.filter(|d| !d.as_os_str().is_empty());
        match chosen {
            Some(d) if !d.is_absolute() && !d.to_str().is_some_and(store::is_postgres_url) => {
                Err(format!(
                    "{} names {}, which is neither a full path nor a postgres:// URL",
                    self.settings.display(),
                    d.display()
                ))
            }
            _ => Ok(chosen),
        }
    }

    /// Keeps `database` (None: the default) for the next start. The file is written beside
    /// and renamed over the old one, readable by this user only (it may hold a password).
    fn keep(&self, database: Option<&Path>) -> std::io::Result<()> {
        use std::io::Write;
        let dir = self.settings.parent().unwrap_or(Path::new("."));
        store::create_private_dir(dir)?;
        let text = serde_json::to_string_pretty(&DesktopSettings {
            database: database.map(Path::to_path_buf),
        })?;
        let partial = self.settings.with_extension("json.partial");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial)?;
        file.write_all((text + "\n").as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, &self.settings)
    }
}

/// The database to open at start, and why.
#[derive(Clone, PartialEq)]
pub struct Choice {
    /// The location to open.
    pub location: PathBuf,
    /// Who chose it.
    pub source: DatabaseSource,
    /// Why the setting could not be followed, if it could not.
    pub problem: Option<String>,
}

/// `KAIROS_DB` if set, else the setting, else the default.
pub fn choose(env: Option<std::ffi::OsString>, places: &Places) -> Choice {
    if let Some(location) = env.filter(|v| !v.is_empty()) {
        return Choice {
            location: location.into(),
            source: DatabaseSource::Environment,
            problem: None,
        };
    }
    let (chosen, problem) = match places.chosen() {
        Ok(chosen) => (chosen, None),
        Err(problem) => (None, Some(problem)),
    };
    match chosen {
        Some(location) => Choice {
            location,
            source: DatabaseSource::Setting,
            problem,
        },
        None => Choice {
            location: places.default_db.clone(),
            source: DatabaseSource::Default,
            problem,
        },
    }
}

impl std::fmt::Debug for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Choice")
            .field("location", &shown_location(&self.location))
            .field("source", &self.source)
            .field("problem", &self.problem)
            .finish()
    }
}

impl Choice {
    /// The default database instead of this one, which could not be opened for `why`.
    pub fn fall_back(self, places: &Places, why: &str) -> Choice {
        Choice {
            problem: Some(Code::DatabaseFellBack.say(&[
                ("location", &shown_location(&self.location)),
                ("detail", why),
            ])),
            location: places.default_db.clone(),
            source: DatabaseSource::Default,
        }
    }
}

/// Opens the chosen database. One chosen by the setting that does not open is reported and
/// the default opened instead, so a server that is down cannot keep the app from starting.
pub fn open(choice: Choice, places: &Places) -> anyhow::Result<(Choice, Arc<dyn JobStore>)> {
    match open_store(&choice.location) {
        Ok(store) => Ok((choice, store)),
        Err(e) if choice.source == DatabaseSource::Setting => {
            let choice = choice.fall_back(places, &e.to_string());
            tracing::error!("{}", choice.problem.as_deref().unwrap_or_default());
            let store = open_store(&choice.location).with_context(|| {
                format!("opening the default database {}", choice.location.display())
            })?;
            Ok((choice, store))
        }
        Err(e) => Err(e)
            .with_context(|| format!("opening the database {}", shown_location(&choice.location))),
    }
}

/// Opens a store on a thread of its own: a PostgreSQL store that fails drops its runtime,
/// which a thread inside a tokio runtime may not.
fn open_store(location: &Path) -> Result<Arc<dyn JobStore>, store::StoreError> {
    std::thread::scope(|s| s.spawn(|| store::open(location)).join())
        .unwrap_or_else(|_| Err(store::StoreError::Database("opening it panicked".into())))
}

/// The app's database as the API reports and switches it.
pub struct DesktopDatabase {
    places: Places,
    in_use: Choice,
    /// Why the setting was not followed at start; cleared once another choice is kept. The
    /// lock also keeps two choices from writing the settings file at once.
    problem: Mutex<Option<String>>,
    restart: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for DesktopDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopDatabase")
            .field("places", &self.places)
            .field("in_use", &self.in_use)
            .finish_non_exhaustive()
    }
}

impl DesktopDatabase {
    /// The database `in_use`, switched through the setting in `places`; `restart` restarts
    /// the app.
    pub fn new(places: Places, in_use: Choice, restart: Box<dyn Fn() + Send + Sync>) -> Self {
        DesktopDatabase {
            places,
            problem: Mutex::new(in_use.problem.clone()),
            in_use,
            restart,
        }
    }
}

impl DatabaseHost for DesktopDatabase {
    fn info(&self) -> DatabaseInfo {
        let changeable = self.in_use.source != DatabaseSource::Environment;
        let next = changeable
            .then(|| self.places.chosen().ok().flatten())
            .map(|chosen| chosen.unwrap_or_else(|| self.places.default_db.clone()))
            .filter(|next| *next != self.in_use.location);
        DatabaseInfo {
            location: shown_location(&self.in_use.location),
            kind: DatabaseKind::of(&self.in_use.location),
            source: self.in_use.source,
            default_location: self.places.default_db.display().to_string(),
            changeable,
            next: next.as_deref().map(shown_location),
            problem: self
                .problem
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            problem_code: None,
        }
    }

    fn keep(&self, location: Option<&Path>) -> Result<(), String> {
        let location = location.filter(|l| *l != self.places.default_db);
        let mut problem = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        self.places
            .keep(location)
            .map_err(|e| format!("{}: {e}", self.places.settings.display()))?;
        *problem = None;
        Ok(())
    }

    fn restart(&self) -> Result<(), String> {
        (self.restart)();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(dir: &Path) -> Places {
        Places::new(Some(dir.join("config")), Some(dir.join("data")))
    }

    #[test]
    fn kairos_db_wins_then_the_setting_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        assert_eq!(places.default_db, dir.path().join("data/kairos/kairos.db"));
        let default = choose(None, &places);
        assert_eq!(default.location, places.default_db);
        assert_eq!(default.source, DatabaseSource::Default);
        assert_eq!(choose(Some("".into()), &places), default);

        places.keep(Some(Path::new("/srv/jobs.db"))).unwrap();
        let setting = choose(None, &places);
        assert_eq!(setting.location, PathBuf::from("/srv/jobs.db"));
        assert_eq!(setting.source, DatabaseSource::Setting);

        let env = choose(Some("/tmp/x.db".into()), &places);
        assert_eq!(env.location, PathBuf::from("/tmp/x.db"));
        assert_eq!(env.source, DatabaseSource::Environment);
        assert_eq!(
            Places::new(None, None).default_db,
            PathBuf::from("./kairos/kairos.db")
        );
    }

    #[test]
    fn a_relative_path_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        places.keep(Some(Path::new("jobs.db"))).unwrap();
        let choice = choose(None, &places);
        assert_eq!(choice.location, places.default_db);
        assert!(choice.problem.unwrap().contains("neither a full path"));
    }

    #[test]
    fn a_broken_settings_file_is_reported_and_the_default_used() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        std::fs::create_dir_all(places.settings.parent().unwrap()).unwrap();
        std::fs::write(&places.settings, "{not json").unwrap();
        let choice = choose(None, &places);
        assert_eq!(choice.location, places.default_db);
        assert!(choice
            .problem
            .unwrap()
            .contains("desktop.json is not valid"));
    }

    #[test]
    fn the_next_database_shows_until_a_restart_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        let restarted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = restarted.clone();
        let host = DesktopDatabase::new(
            places.clone(),
            choose(None, &places),
            Box::new(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)),
        );
        assert!(host.info().changeable);
        assert_eq!(host.info().next, None);
        host.keep(Some(Path::new("postgres://k:pw@h/db"))).unwrap();
        assert_eq!(host.info().next.as_deref(), Some("postgres://k:***@h/db"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&places.settings)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the file may hold a password");
        }
        assert_eq!(host.info().source, DatabaseSource::Default);
        host.keep(Some(&places.default_db)).unwrap();
        assert_eq!(
            host.info().next,
            None,
            "choosing the default file clears the setting"
        );
        assert_eq!(
            std::fs::read_to_string(&places.settings).unwrap().trim(),
            "{}"
        );
        host.restart().unwrap();
        assert!(restarted.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_setting_that_fails_falls_back_to_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        let choice = Choice {
            location: "postgres://k:pw@nowhere/db".into(),
            source: DatabaseSource::Setting,
            problem: None,
        }
        .fall_back(&places, "connection refused");
        assert_eq!(choice.location, places.default_db);
        let problem = choice.problem.clone().unwrap();
        assert!(problem.contains("postgres://k:***@nowhere/db"), "{problem}");
        assert!(!problem.contains("pw@"), "{problem}");
        assert!(!format!("{choice:?}").contains("pw@"));

        let host = DesktopDatabase::new(places.clone(), choice, Box::new(|| {}));
        assert!(host.info().problem.is_some());
        host.keep(None).unwrap();
        assert_eq!(
            host.info().problem,
            None,
            "choosing again clears the problem"
        );
    }

    #[test]
    fn a_chosen_file_that_cannot_be_made_opens_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, "").unwrap();
        places.keep(Some(&blocker.join("jobs.db"))).unwrap();
        let (choice, _store) = open(choose(None, &places), &places).unwrap();
        assert_eq!(choice.location, places.default_db);
        assert!(places.default_db.exists());
        assert!(choice.problem.unwrap().contains("a-file/jobs.db"));
        let env = choose(Some(blocker.join("x.db").into_os_string()), &places);
        assert!(
            open(env, &places).is_err(),
            "KAIROS_DB is never swapped for another"
        );
    }

    #[test]
    fn with_kairos_db_set_the_setting_cannot_change() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        let host = DesktopDatabase::new(
            places.clone(),
            choose(Some("/tmp/x.db".into()), &places),
            Box::new(|| {}),
        );
        let info = host.info();
        assert!(!info.changeable);
        assert_eq!(info.next, None);
        assert_eq!(info.source, DatabaseSource::Environment);
    }
}
