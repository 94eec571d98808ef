//! Opening a ledger, binding it to one environment, and the reads that
//! `import`, `status` and `report` need. Writes during an import go through
//! [`super::writer`], which takes this connection over.

use super::schema;
use super::state::State;
use anyhow::{bail, Context};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A row's content hash, stored as hex; 128 bits so two different rows never collide in practice.
///
/// Aligned to 8 bytes, not u128's 16: a [`Known`] then takes 32 bytes instead of 48,
/// which is 32 MB less for a million known rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(Rust, packed(8))]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    pub fn to_hex(self) -> String {
        let value = self.0;
        format!("{value:032x}")
    }
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        u128::from_str_radix(s, 16).ok().map(Fingerprint)
    }
}

/// Compact key for an `externalUserId` in memory: a 128-bit SipHash, so a
/// million known rows cost tens of megabytes, not whole strings.
pub fn id_key(external_user_id: &str) -> u128 {
    use std::hash::Hasher;
    let mut h = siphasher::sip128::SipHasher13::new_with_keys(0x7031_3030, 0x6f_6e62_6f61_7264);
    h.write(external_user_id.as_bytes());
    siphasher::sip128::Hasher128::finish128(&h).as_u128()
}

/// What the ledger knew about a row when the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub state: State,
    pub fingerprint: Option<Fingerprint>,
    /// An earlier attempt of ours may have reached the server without an answer.
    pub unknown_outcome: bool,
}

/// An open ledger file.
pub struct Ledger {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Opens (creating it readable by its owner only, if `create`) and migrates.
    pub fn open(path: &Path, create: bool) -> anyhow::Result<Ledger> {
        if !path.exists() {
            if !create {
                bail!(
                    "no ledger at {}: run `p100-onboard import` first, or pass --ledger PATH",
                    path.display()
                );
            }
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating the ledger {}", path.display()))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("opening the ledger {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .with_context(|| {
                format!(
                    "{} is not a p100-onboard ledger (or is damaged)",
                    path.display()
                )
            })?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("could not switch the ledger {} to WAL mode", path.display());
        }
        // WAL + NORMAL: a commit survives the process being killed at any moment.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn, path)?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The environment this ledger is bound to, if any run has bound it.
    pub fn environment(&self) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'environment'",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Binds a fresh ledger to `env`; refuses a ledger bound to another one.
    pub fn bind_environment(&self, env: &str) -> anyhow::Result<()> {
        match self.environment()? {
            None => {
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('environment', ?1)",
                    [env],
                )?;
                Ok(())
            }
            Some(bound) if bound == env => Ok(()),
            Some(bound) => bail!(
                "the ledger {} belongs to environment '{bound}', not '{env}'. A ledger records \
                 one environment's users; pass --ledger with another file for '{env}'.",
                self.path.display()
            ),
        }
    }

    /// Everything the ledger knows, keyed by [`id_key`], to plan a run without a query per row.
    pub fn known_rows(&self) -> anyhow::Result<HashMap<u128, Known>> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM rows", [], |r| r.get(0))?;
        let mut map = HashMap::with_capacity(count as usize);
        let mut stmt = self
            .conn
            .prepare("SELECT external_user_id, state, fingerprint, unknown_outcome FROM rows")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id = row.get_ref(0)?.as_str()?;
            let state: State = row
                .get_ref(1)?
                .as_str()?
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))?;
            let fingerprint = Fingerprint::from_hex(row.get_ref(2)?.as_str()?);
            let unknown_outcome: bool = row.get(3)?;
            map.insert(
                id_key(id),
                Known {
                    state,
                    fingerprint,
                    unknown_outcome,
                },
            );
        }
        Ok(map)
    }

    /// Counts per state (every state present, zero when absent).
    pub fn state_counts(&self) -> anyhow::Result<Vec<(State, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM rows GROUP BY state")?;
        let found: HashMap<String, u64> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(State::ALL
            .iter()
            .map(|s| (*s, found.get(s.as_str()).copied().unwrap_or(0)))
            .collect())
    }

    /// Counts per (state, errorCode) among rows that carry a code.
    pub fn code_counts(&self) -> anyhow::Result<Vec<CodeCount>> {
        let mut stmt = self.conn.prepare(
            "SELECT state, error_code, count(*) FROM rows WHERE error_code IS NOT NULL \
             AND state IN ('rejected','failed','exists') GROUP BY state, error_code \
             ORDER BY count(*) DESC, error_code",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CodeCount {
                    state: r.get(0)?,
                    code: r.get(1)?,
                    count: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The most recent runs, newest first.
    pub fn last_runs(&self, limit: u32) -> anyhow::Result<Vec<RunInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, started_at, ended_at, file, environment, outcome, counts FROM runs \
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    ended_at: r.get(2)?,
                    file: r.get(3)?,
                    environment: r.get(4)?,
                    outcome: r.get(5)?,
                    counts: r
                        .get::<_, Option<String>>(6)?
                        .and_then(|s| serde_json::from_str(&s).ok()),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Every file a run has read or a row came from.
    pub fn source_files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT source_file FROM rows UNION SELECT DISTINCT file FROM runs",
        )?;
        let files = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|f| f.map(PathBuf::from))
            .collect::<Result<_, _>>()?;
        Ok(files)
    }

    /// Every row in `state`, in source order.
    pub fn rows_in_state(&self, state: State) -> anyhow::Result<Vec<LedgerRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT external_user_id, state, source_file, source_line, user_id, poa_required, \
             attempts, last_http_status, error_code, error_name, error_message, reconciled, \
             changed_after_creation FROM rows WHERE state = ?1 ORDER BY source_file, source_line",
        )?;
        let rows = stmt
            .query_map(params![state.as_str()], |r| {
                Ok(LedgerRow {
                    external_user_id: r.get(0)?,
                    state: r.get(1)?,
                    source_file: r.get(2)?,
                    source_line: r.get(3)?,
                    user_id: r.get(4)?,
                    poa_required: r.get(5)?,
                    attempts: r.get(6)?,
                    last_http_status: r.get(7)?,
                    error_code: r.get(8)?,
                    error_name: r.get(9)?,
                    error_message: r.get(10)?,
                    reconciled: r.get(11)?,
                    changed_after_creation: r.get(12)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

/// One line of `status`'s per-code table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CodeCount {
    pub state: String,
    pub code: String,
    pub count: u64,
}

/// One run, as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub file: String,
    pub environment: String,
    pub outcome: String,
    pub counts: Option<serde_json::Value>,
}

/// One ledger row, as `report` exports it. No personal data exists to export.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRow {
    pub external_user_id: String,
    pub state: String,
    pub source_file: String,
    pub source_line: u64,
    pub user_id: Option<String>,
    pub poa_required: Option<bool>,
    pub attempts: u32,
    pub last_http_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_name: Option<String>,
    pub error_message: Option<String>,
    pub reconciled: bool,
    pub changed_after_creation: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_row_stays_small_and_a_fingerprint_survives_hex() {
        assert_eq!(std::mem::size_of::<Known>(), 32);
        let f = Fingerprint(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(Fingerprint::from_hex(&f.to_hex()), Some(f));
    }
}
