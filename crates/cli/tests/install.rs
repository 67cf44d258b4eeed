//! What a package installs and what a service runs: `kairos service …`, completions, the
//! manual, `--version`, and a database written by release 0.1.0 opening in this build.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn kairos(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("kairos runs")
}

fn ok(home: &Path, args: &[&str]) -> String {
    let o = kairos(home, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn version_names_the_release_and_the_commit() {
    let home = tempfile::tempdir().unwrap();
    let version = ok(home.path(), &["--version"]);
    let expected = format!("kairos {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    assert!(version.trim_end().ends_with(')'), "{version}");
}

#[test]
fn a_user_service_is_written_verified_and_removed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let db = h.join("data/jobs.db");
    let out = ok(
        h,
        &[
            "--db",
            db.to_str().unwrap(),
            "service",
            "install",
            "--bind",
            "127.0.0.1:7979",
            "--no-start",
        ],
    );
    let unit_path = h.join(".config/systemd/user/kairos.service");
    assert!(out.contains(&unit_path.display().to_string()), "{out}");
    assert!(out.contains(
        "systemctl --user daemon-reload && systemctl --user enable --now kairos.service"
    ));
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let exec = format!(
        "ExecStart={} serve --db {} --bind 127.0.0.1:7979\n",
        env!("CARGO_BIN_EXE_kairos"),
        db.display()
    );
    assert!(unit.contains(&exec), "{unit}");
    assert!(unit.contains("Restart=on-failure\n"));
    assert!(unit.contains("WantedBy=default.target\n"));

    // systemd's own check, with the manual page its Documentation= names where man finds it.
    let man = h.join("man/man1");
    std::fs::create_dir_all(&man).unwrap();
    std::fs::write(man.join("kairos.1"), ok(h, &["man"])).unwrap();
    let runtime = h.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(&unit_path)
        .env("HOME", h)
        .env("MANPATH", h.join("man"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze runs (Debian's systemd package)");
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // No systemd user manager here: uninstall says so and removes the unit anyway.
    let out = ok(h, &["service", "uninstall"]);
    assert!(out.contains("the database is left in place"), "{out}");
    assert!(!unit_path.exists());
    let status = kairos(h, &["service", "status"]);
    assert_eq!(status.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&status.stderr).contains("not installed"));
}

#[test]
fn the_system_unit_runs_as_a_dynamic_user_with_its_state_directory() {
    let home = tempfile::tempdir().unwrap();
    let unit = ok(
        home.path(),
        &["service", "unit", "--system", "--exe", "/usr/bin/kairos"],
    );
    assert!(unit.contains(
        "ExecStart=/usr/bin/kairos serve --db /var/lib/kairos/kairos.db --bind 127.0.0.1:7878\n"
    ));
    assert!(unit.contains("DynamicUser=yes\nStateDirectory=kairos\n"));
    assert!(unit.contains("WantedBy=multi-user.target\n"));
}

#[test]
fn completions_and_manual_pages_cover_every_command() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let bash = ok(h, &["completions", "bash"]);
    let file = h.join("kairos.bash");
    std::fs::write(&file, &bash).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).status().unwrap();
    assert!(syntax.success(), "the bash completion parses");
    for word in ["serve", "service", "import-crontab", "--every"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    assert!(ok(h, &["completions", "zsh"]).starts_with("#compdef kairos"));
    assert!(ok(h, &["completions", "fish"]).contains("complete -c kairos"));
    let bad = kairos(h, &["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"));

    let dir = h.join("man");
    ok(h, &["man", "--dir", dir.to_str().unwrap()]);
    for page in [
        "kairos.1",
        "kairos-serve.1",
        "kairos-service-install.1",
        "kairos-job-add.1",
    ] {
        assert!(dir.join(page).exists(), "no {page}");
    }
    let top = std::fs::read_to_string(dir.join("kairos.1")).unwrap();
    assert!(top.contains(".TH kairos 1"), "{top}");
}

#[test]
fn a_database_written_by_release_0_1_0_opens_with_its_jobs_and_runs() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let db = h.join("old.db");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kairos-0.1.0.db");
    std::fs::copy(&fixture, &db).unwrap();
    let db = db.to_str().unwrap();

    let jobs: Value = serde_json::from_str(&ok(h, &["--db", db, "job", "list", "--json"])).unwrap();
    let summary: Vec<_> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["id"].as_str().unwrap().to_string(),
                j["action"]["kind"].as_str().unwrap().to_string(),
                j["paused"].as_bool().unwrap(),
            )
        })
        .collect();
    let expect = |id: &str, kind: &str, paused| (id.to_string(), kind.to_string(), paused);
    assert_eq!(
        summary,
        [
            expect("backup", "shell", false),
            expect("health", "http", true),
            expect("monitor", "monitor", false),
            expect("month-end", "shell", false),
        ]
    );
    let backup = &jobs[0];
    assert_eq!(backup["name"], "Nightly backup");
    assert_eq!(backup["tags"], serde_json::json!(["ops", "nightly"]));
    assert_eq!(
        backup["trigger"],
        serde_json::json!({"type": "cron", "expression": "30 2 * * *", "timezone": "Europe/London"})
    );
    assert_eq!(jobs[3]["trigger"]["type"], "calendar_interval");

    let runs: Value = serde_json::from_str(&ok(h, &["--db", db, "runs", "--json"])).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let backup_run = runs.iter().find(|r| r["job_id"] == "backup").unwrap();
    assert_eq!(backup_run["state"], "succeeded");
    assert_eq!(backup_run["stdout"], "backed up\n");
    assert_eq!(backup_run["stderr"], "warn\n");

    // It is writable after the upgrade: the jobs carry on.
    ok(
        h,
        &[
            "--db",
            db,
            "job",
            "add",
            "--name",
            "new",
            "--every",
            "1h",
            "--command",
            "true",
        ],
    );
    let jobs: Value = serde_json::from_str(&ok(h, &["--db", db, "job", "list", "--json"])).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 5);
}
