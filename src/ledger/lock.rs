//! One import per ledger: an OS file lock beside the ledger.
//!
//! The kernel drops the lock when its process dies, however it dies, so a lock
//! left by a killed run never blocks the next one. The file's text names the
//! holder for the error message.

use anyhow::{bail, Context};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held for as long as the run lasts; dropping it releases the lock.
#[derive(Debug)]
pub struct LedgerLock {
    _file: File,
}

impl LedgerLock {
    /// The lock file that guards `ledger`.
    pub fn path_for(ledger: &Path) -> PathBuf {
        let mut name = ledger.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock or explains who holds it and what to do.
    pub fn acquire(ledger: &Path) -> anyhow::Result<LedgerLock> {
        let path = Self::path_for(ledger);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                bail!(
                    "the ledger {} is locked by {holder}. Another import is using it: wait for \
                     it to finish or stop that process. (A killed process releases the lock by \
                     itself; nothing needs deleting.)",
                    ledger.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let holder = format!(
            "pid {} on host {} since {}",
            std::process::id(),
            host,
            httpdate::fmt_http_date(std::time::SystemTime::now())
        );
        // Written over the old text, then cut to length: a loser reading at any moment
        // sees a whole line (this one, or a longer older one's prefix), never nothing.
        use std::os::unix::fs::FileExt;
        file.write_all_at(holder.as_bytes(), 0)?;
        file.set_len(holder.len() as u64)?;
        Ok(LedgerLock { _file: file })
    }
}

/// The holder's line. A holder that has just taken the lock writes it a moment later,
/// so an empty file is read again for a little while before giving up on a name.
fn read_holder(file: &mut File) -> String {
    use std::os::unix::fs::FileExt;
    for _ in 0..50 {
        let mut buf = vec![0u8; 512];
        let n = file.read_at(&mut buf, 0).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]).trim().to_string();
        if !text.is_empty() {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "another process".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_ledger_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l.db");
        let held = LedgerLock::acquire(&ledger).unwrap();
        let err = LedgerLock::acquire(&ledger).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        LedgerLock::acquire(&ledger).expect("released on drop");
    }
}
