//! `kairos cron …`: preview cron expressions.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use clap::Subcommand;
use kairos_core::trigger::{parse_time_zone, CronTrigger};

/// The `cron` subcommands.
#[derive(Subcommand)]
pub enum CronCommand {
    /// Print the next fire times of a cron expression.
    Next {
        /// The expression: 5 fields, 6 with leading seconds, 7 with trailing year, or @daily etc.
        expression: String,
        /// IANA time zone to read the expression in (default: the system zone).
        #[arg(long)]
        tz: Option<String>,
        /// Print fire times strictly after this RFC 3339 instant (default: now).
        #[arg(long)]
        after: Option<String>,
        /// How many fire times to print, 1-1000.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
        count: u16,
        /// Print one JSON array of strings instead of one time per line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `cron` subcommand; the error is the one line to show the user.
pub fn run(cmd: CronCommand) -> Result<(), String> {
    match cmd {
        CronCommand::Next {
            expression,
            tz,
            after,
            count,
            json,
        } => {
            let zone = match tz {
                Some(name) => parse_time_zone(&name).map_err(|e| e.to_string())?,
                None => system_zone(),
            };
            let after = match after {
                Some(text) => DateTime::parse_from_rfc3339(&text)
                    .map_err(|_| {
                        format!("--after: '{text}' is not an RFC 3339 time such as 2026-01-01T09:00:00Z")
                    })?
                    .with_timezone(&Utc),
                None => Utc::now(),
            };
            let trigger = CronTrigger::new(&expression, zone).map_err(|e| e.to_string())?;
            let times: Vec<String> =
                std::iter::successors(trigger.next_after(after), |t| trigger.next_after(*t))
                    .take(usize::from(count))
                    .map(|t| {
                        t.with_timezone(&zone)
                            .to_rfc3339_opts(SecondsFormat::Secs, true)
                    })
                    .collect();
            if times.is_empty() && count > 0 {
                return Err(format!(
                    "'{expression}' never fires after {}",
                    after.to_rfc3339_opts(SecondsFormat::Secs, true)
                ));
            }
            if json {
                println!("{}", serde_json::Value::from(times));
            } else {
                times.iter().for_each(|t| println!("{t}"));
            }
            Ok(())
        }
    }
}

/// The system's IANA zone, or UTC when it cannot be told.
pub fn system_zone() -> Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse().ok())
        .unwrap_or(Tz::UTC)
}
