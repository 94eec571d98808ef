//! Migrations: the plain `.sql` files of `migrations/`, applied in order when a
//! ledger opens. `PRAGMA user_version` records how far a ledger has come.

use anyhow::{bail, Context};
use rusqlite::Connection;
use std::path::Path;

/// Every migration, in order. The position + 1 is the schema version it produces.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_ledger.sql",
        include_str!("../../migrations/0001_ledger.sql"),
    ),
    (
        "0002_attempts.sql",
        include_str!("../../migrations/0002_attempts.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The SQL of migration `version` (1-based), for tests that build older ledgers.
pub fn migration_sql(version: u32) -> Option<&'static str> {
    MIGRATIONS
        .get(version.checked_sub(1)? as usize)
        .map(|m| m.1)
}

/// Brings the ledger up to [`SCHEMA_VERSION`]; refuses one written by a newer build.
/// Returns the version the ledger had before.
pub fn migrate(conn: &mut Connection, path: &Path) -> anyhow::Result<u32> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current == SCHEMA_VERSION {
        // Up to date: opening a ledger to read it writes nothing.
        return Ok(current);
    }
    // IMMEDIATE, and the version read again inside: two processes opening one fresh
    // ledger at once migrate it once.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        bail!(
            "ledger {} has schema version {found}, written by a newer p100-onboard; this build \
             knows versions up to {SCHEMA_VERSION}. Upgrade p100-onboard, or pass another --ledger.",
            path.display()
        );
    }
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    for (name, sql) in MIGRATIONS.iter().skip(found as usize) {
        tx.execute_batch(sql)
            .with_context(|| format!("applying migration {name} to {}", path.display()))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_ledger_reaches_the_current_version_and_stays_there() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, Path::new(":memory:")).unwrap(), 0);
        assert_eq!(
            migrate(&mut conn, Path::new(":memory:")).unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn a_ledger_from_a_newer_build_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn, Path::new("x.db"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("newer p100-onboard"), "{err}");
    }
}
