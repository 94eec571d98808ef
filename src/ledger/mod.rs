//! The SQLite ledger: one row per `externalUserId` with its state, plus the runs
//! and every HTTP attempt, so an interrupted import resumes without creating
//! anyone twice or losing anyone.

pub mod lock;
pub mod schema;
pub mod state;
pub mod store;
pub mod writer;

pub use lock::LedgerLock;
pub use state::{transition, Event, State};
pub use store::{id_key, Fingerprint, Known, Ledger};
pub use writer::{Msg, RunStart, Writer};
