//! Command-line surface: clap types that end in one conversion to each command's
//! validated config. The pipeline never sees clap.

use crate::exit::Exit;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub mod completions;
pub mod import;
pub mod input;
mod prompt;
pub mod report;
pub mod sample;
pub mod sandbox;
pub mod status;
pub mod validate;

/// Bulk-onboard customers into the P100 Partner API: validate a CSV file, create
/// each user once at a safe rate, and resume from a SQLite ledger after any stop.
#[derive(Debug, Parser)]
#[command(name = "p100-onboard", about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create every valid user of a CSV file through the Partner API, resumably.
    Import(Box<import::Args>),
    /// Check a CSV file with exactly the rules `import` applies, without calling the API.
    Validate(validate::Args),
    /// Show what a ledger holds: counts per state and error code, and the last runs.
    Status(status::Args),
    /// Export the ledger's rows in one state, ready to fix and feed back.
    Report(report::Args),
    /// Serve a local emulator of the Partner API endpoint, for rehearsals and tests.
    Sandbox(sandbox::Args),
    /// Write a synthetic customer file, for rehearsals and benchmarks.
    Sample(sample::Args),
    /// Print a shell completion script.
    Completions(completions::Args),
}

/// The version line: the tool's version and the ledger schema it writes.
pub fn version_text() -> &'static str {
    Box::leak(
        format!(
            "{} (ledger schema {})",
            env!("CARGO_PKG_VERSION"),
            crate::ledger::schema::SCHEMA_VERSION
        )
        .into_boxed_str(),
    )
}

/// The clap command with its runtime version line.
pub fn command() -> clap::Command {
    Cli::command().version(version_text())
}

/// Parses the process arguments (exits with clap's message and code 2 on error).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Runs the chosen command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Import(args) => import::run(*args),
        Command::Validate(args) => validate::run(args),
        Command::Status(args) => status::run(args),
        Command::Report(args) => report::run(args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Completions(args) => completions::run(args),
    }
}
