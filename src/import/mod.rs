//! The import: read and validate each row, skip what the ledger says is done,
//! send the rest through a rate-limited worker pool, record every outcome.

pub mod config;
pub mod pacer;
pub mod plan;
pub mod progress;
pub mod run;
pub mod summary;
pub mod tally;
pub mod worker;

pub use config::{ImportConfig, Target};
pub use run::run;
pub use summary::{Outcome, Summary};
pub use tally::Tally;
