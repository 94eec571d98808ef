//! Command-line surface: clap types that end in one conversion to each command's
//! validated config. The pipeline never sees clap.

use crate::exit::Exit;
use clap::{Parser, Subcommand};

pub mod input;
pub mod sample;
pub mod sandbox;
pub mod validate;

/// Bulk-onboard customers into the P100 Partner API.
#[derive(Debug, Parser)]
#[command(name = "p100-onboard", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a local emulator of the Partner API endpoint, for rehearsals and tests.
    Sandbox(sandbox::Args),
    /// Check a CSV file with exactly the rules `import` applies, without calling the API.
    Validate(validate::Args),
    /// Write a synthetic customer file, for rehearsals and benchmarks.
    Sample(sample::Args),
}

/// Runs the chosen command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Sandbox(args) => sandbox::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Sample(args) => sample::run(args),
    }
}
