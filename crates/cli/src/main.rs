//! `kairos`: the command-line program.

mod cron_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kairos, a job scheduler that is correct to the second across time zones and DST.
#[derive(Parser)]
#[command(name = "kairos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with cron expressions.
    #[command(subcommand)]
    Cron(cron_cmd::CronCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cron(cmd) => cron_cmd::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}
