//! Errors that stop a run before or while reading: the file or its header is unusable.
//! Per-row problems are data ([`super::Problem`]), not errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: read failed near line {line}", path.display())]
    Read {
        path: PathBuf,
        line: u64,
        source: csv::Error,
    },
    #[error("{}: a thread reading the file stopped unexpectedly; the rows after the last one reported were not read", path.display())]
    ParserStopped { path: PathBuf },
    #[error("{} is empty: expected a header line naming the columns", path.display())]
    Empty { path: PathBuf },
    #[error("{}, line 1: the header is not valid UTF-8 (byte offset {offset})", path.display())]
    HeaderEncoding { path: PathBuf, offset: u64 },
    #[error(
        "{}, line 1: missing required column(s): {}; headers found: {} (delimiter {}; use --mapping to map other names, or --delimiter)",
        path.display(), missing.join(", "), found.join(", "), delimiter_name(*delimiter)
    )]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        found: Vec<String>,
        delimiter: u8,
    },
    #[error(
        "{}, line 1: columns \"{first}\" and \"{second}\" both map to field {field}; keep one or fix --mapping",
        path.display()
    )]
    DuplicateField {
        path: PathBuf,
        field: crate::domain::Field,
        first: String,
        second: String,
    },
    #[error("mapping file {}: {message}", path.display())]
    Mapping { path: PathBuf, message: String },
    #[error(
        "{}: no column hasAcceptedP100Tc and no --terms-accepted: every user must have accepted P100's terms, and the importer will not assume it. Add a column (true/false) or pass --terms-accepted to assert acceptance for every row",
        path.display()
    )]
    NoTermsSource { path: PathBuf },
}

/// How a delimiter is shown to people (a tab is invisible).
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        other => format!("'{}'", other as char),
    }
}
