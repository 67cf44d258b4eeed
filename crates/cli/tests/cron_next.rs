//! `kairos cron next` as a user runs it: output format, JSON, and one-line errors with status 2.

use std::process::{Command, Output};

fn kairos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(args)
        .output()
        .expect("kairos runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn prints_fire_times_with_the_zone_offset() {
    let o = kairos(&[
        "cron",
        "next",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-07T12:00:00Z",
        "--count",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n2026-03-10T02:30:00-04:00\n"
    );
}

#[test]
fn json_is_one_array_of_strings_and_count_defaults_to_five() {
    let o = kairos(&[
        "cron",
        "next",
        "@hourly",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T00:00:00Z",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let times: Vec<String> = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(times.len(), 5);
    assert_eq!(times[0], "2026-01-01T01:00:00Z");
    assert_eq!(times[4], "2026-01-01T05:00:00Z");
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_field() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["cron", "next", "60 * * * *"],
            "minute: 60 is out of range 0-59\n",
        ),
        (
            &["cron", "next", "* * * * *", "--tz", "Mars/Olympus"],
            "unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/London' or 'UTC'\n",
        ),
        (
            &["cron", "next", "0 0 30 2 *"],
            "'0 0 30 2 *' can never fire: no month in the expression has the days it asks for\n",
        ),
        (
            &["cron", "next", "* * * * *", "--after", "yesterday"],
            "--after: 'yesterday' is not an RFC 3339 time such as 2026-01-01T09:00:00Z\n",
        ),
        (
            &[
                "cron",
                "next",
                "0 0 0 1 1 * 2020",
                "--after",
                "2026-01-01T00:00:00Z",
            ],
            "'0 0 0 1 1 * 2020' never fires after 2026-01-01T00:00:00Z\n",
        ),
    ];
    for (args, message) in cases {
        let o = kairos(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o), message, "{args:?}");
        assert!(stdout(&o).is_empty());
    }
}
