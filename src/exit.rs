//! Exit codes for cron, as `design.md` fixes them.

use std::process::ExitCode;

/// How a command ended. An `Err` from a command maps to [`Exit::Usage`] unless it is a
/// [`FatalApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row is created (now or earlier) or already existed / every row valid.
    Ok = 0,
    /// Finished, but some rows are invalid, rejected or failed.
    Partial = 1,
    /// Bad flags, unreadable input, ledger locked or bound elsewhere.
    Usage = 2,
    /// The API refused the key or the caller (401).
    Fatal = 3,
    /// Stopped cleanly by SIGINT/SIGTERM.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// The API refused us (401): every later request would fail too.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FatalApiError(pub String);

/// Maps a command's error to its exit code.
pub fn exit_for_error(err: &anyhow::Error) -> Exit {
    if err.downcast_ref::<FatalApiError>().is_some() {
        Exit::Fatal
    } else {
        Exit::Usage
    }
}
