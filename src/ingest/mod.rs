//! Streaming CSV reader and the pure validator that `validate` and `import` share:
//! one code path, so the dry run applies exactly the checks the import will.
//!
//! # Layout
//!
//! - [`dialect`]: BOM and delimiter detection on the header line.
//! - [`header`]: header names → API fields, the `--mapping` file, ignored columns.
//! - [`reader`]: [`CsvSource`], which yields one [`Row`] per record with its line number,
//!   and records in-file duplicates in file order.
//! - `pool`: the parser thread and the checking threads behind it, with the in-order
//!   hand-back.
//! - `check`: the per-row work that needs no other row, run on the checking threads.
//! - [`normalise`]: trimming, upper-casing, phone clean-up; each change is counted.
//! - [`validate`]: the pure per-row rules returning every [`Problem`] of a row.
//! - [`countries`]: the ISO 3166-1 alpha-2 list and hints for common mistakes.
//! - [`date`]: a tiny calendar date, because the rules need nothing more.
//! - [`email`]: email syntax, with a fast path for plain addresses.
//! - [`dups`]: in-file duplicate detection on 64-bit keys, not whole rows.
//! - [`fingerprint`]: a stable hash of a row's normalised content.
//! - [`problem`]: [`Problem`], [`Rule`] and the one-line rendering.

mod check;
pub mod countries;
pub mod date;
pub mod dialect;
pub mod dups;
pub mod email;
pub mod error;
pub mod fingerprint;
pub mod header;
pub mod normalise;
mod pool;
pub mod problem;
pub mod reader;
pub mod validate;

use std::path::PathBuf;

pub use date::{today_utc, Date};
pub use error::IngestError;
pub use normalise::{NormKind, Normalisations};
pub use problem::{problems_text, Problem, Rule};
pub use reader::{reread_lines, CsvSource, Row};
pub use validate::{check_raw, validate, Rules, TermsSource};

/// Everything the reader and validator need; built by `cli::input::InputArgs`.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub path: PathBuf,
    pub mapping: Option<PathBuf>,
    /// `None`: detect from the header line.
    pub delimiter: Option<u8>,
    /// The operator asserts terms acceptance for every row without a column value.
    pub terms_accepted: bool,
    /// Keep what only `import` uses: each row's [`Row::fingerprint`] (compared with
    /// the ledger's) and each valid row's request body. `validate` needs the verdicts
    /// alone and spares a fifth of its time.
    pub for_import: bool,
    pub min_age: u32,
    /// An input, not a clock read, so validation stays pure and testable.
    pub today: Date,
}
