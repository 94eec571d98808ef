//! p100-onboard: bulk-onboard customers into the P100 Partner API.
//!
//! # Layout
//!
//! - [`cli`]: clap types and their conversion into each command's validated config.
//! - [`exit`]: exit codes for cron and how errors map onto them.
//! - [`domain`]: the API's fields and [`domain::ValidatedUser`], which only the validator builds.
//! - [`ingest`]: streaming CSV reader (dialect, header mapping, line numbers) and the pure validator.
//! - [`api`]: the HTTP client for the Partner API and the pure classification of its answers.
//! - [`sandbox`]: an in-memory emulator of the endpoint (auth, validation, duplicates, faults, rate limit).
//! - [`ledger`]: the SQLite ledger: migrations, the lock, and the single writer that owns the connection.
//! - [`import`]: the pipeline: plan per row, bounded queue, rate-limited worker pool, retries, summary.
//! - [`logging`]: text or JSON logs on stderr, routed around the progress bars.
//! - [`output`]: files written for people: private, never onto an input, formula-safe.
//! - [`config_file`]: `p100-onboard.toml`, defaults that flags and environment override.

pub mod api;
pub mod cli;
pub mod config_file;
pub mod domain;
pub mod exit;
pub mod import;
pub mod ingest;
pub mod ledger;
pub mod logging;
pub mod output;
pub mod sandbox;
