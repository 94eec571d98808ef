//! The one owner of the ledger's connection during an import.
//!
//! A dedicated thread receives outcomes over a bounded channel and commits them in
//! batches: whatever is waiting when it wakes goes into one transaction. Write-ahead
//! marks are acknowledged only after their transaction commits, so no request leaves
//! before its `in_flight` row is on disk. If a commit fails (disk full, read-only
//! file) every later acknowledgement fails too and the import stops sending.
//!
//! Two shortcuts keep the thread from being the pipeline's bottleneck. The writer
//! remembers the state it last wrote for each row still moving (pending or in
//! flight), so the state checks of `Sending` and `Finish` need no query; it owns the
//! connection, so nothing else can have changed those rows. And a `Planned` whose
//! row is marked `Sending` later in the same transaction is not written on its own:
//! the row goes straight to `in_flight`, which is what the commit would leave anyway.

use super::state::{transition, Event, State};
use super::store::{Fingerprint, Ledger};
use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// Where a row came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub external_user_id: String,
    pub line: u64,
    pub fingerprint: Fingerprint,
}

/// The result columns of a finished row.
#[derive(Debug, Clone, Default)]
pub struct RowResult {
    pub user_id: Option<String>,
    pub poa_required: Option<bool>,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_name: Option<String>,
    pub error_message: Option<String>,
    pub reconciled: bool,
    pub unknown_outcome: bool,
    pub attempts: u32,
}

/// One HTTP request, for the audit table.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub external_user_id: String,
    pub latency_ms: u64,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub outcome: &'static str,
}

pub type Ack = oneshot::Sender<Result<(), String>>;

#[derive(Debug)]
pub enum Msg {
    Planned(Source),
    Invalid(Source, String),
    ChangedAfterCreation(String),
    /// The write-ahead mark; `ack` answers after commit.
    Sending(Source, Ack),
    Attempt(AttemptRecord),
    Finish(String, Event, Box<RowResult>),
    EndRun {
        outcome: &'static str,
        counts: serde_json::Value,
        file_sha256: Option<String>,
        ack: Ack,
    },
}

/// Sends to the writer thread. Cloned freely; the thread stops when all are dropped.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
}

/// Channel capacity: bounds memory whatever the file size.
const CAPACITY: usize = 4096;
/// Upper bound of messages per transaction.
const MAX_BATCH: usize = 2048;

impl Writer {
    /// Records the start of a run and hands the connection to the writer thread.
    pub fn start(
        mut ledger: Ledger,
        run: &RunStart,
    ) -> anyhow::Result<(Writer, i64, std::thread::JoinHandle<()>)> {
        let run_id = start_run(&mut ledger.conn, run)?;
        let (tx, rx) = mpsc::channel(CAPACITY);
        let file = run.file.clone();
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer_loop(ledger.conn, rx, run_id, file))
            .context("starting the ledger writer thread")?;
        Ok((Writer { tx }, run_id, handle))
    }

    /// Queues a message; waits only when the channel is full.
    pub async fn send(&self, msg: Msg) -> anyhow::Result<()> {
        self.tx
            .send(msg)
            .await
            .map_err(|_| anyhow::anyhow!("the ledger writer has stopped"))
    }

    /// Queues a message from a plain thread (the CSV reader).
    pub fn blocking_send(&self, msg: Msg) -> anyhow::Result<()> {
        self.tx
            .blocking_send(msg)
            .map_err(|_| anyhow::anyhow!("the ledger writer has stopped"))
    }

    /// Sends a message carrying an ack and waits for its commit.
    pub async fn send_and_wait(&self, make: impl FnOnce(Ack) -> Msg) -> anyhow::Result<()> {
        let (ack, done) = oneshot::channel();
        self.send(make(ack)).await?;
        done.await
            .map_err(|_| anyhow::anyhow!("the ledger writer has stopped"))?
            .map_err(|e| anyhow::anyhow!(e))
    }
}

/// What a run records about itself when it starts.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub file: String,
    pub environment: String,
    pub options: serde_json::Value,
}

fn start_run(conn: &mut Connection, run: &RunStart) -> anyhow::Result<i64> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let tx = conn.transaction()?;
    // We hold the lock: any run still marked running was killed.
    tx.execute(
        "UPDATE runs SET outcome = 'killed' WHERE outcome = 'running'",
        [],
    )?;
    tx.execute(
        "INSERT INTO runs(started_at, file, environment, options, pid, host) \
         VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?1, ?2, ?3, ?4, ?5)",
        params![
            run.file,
            run.environment,
            run.options.to_string(),
            std::process::id(),
            host
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(id)
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Msg>, run_id: i64, file: String) {
    let mut broken: Option<String> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut moving = Moving::default();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut acks = Vec::new();
        if broken.is_none() {
            if let Err(e) =
                apply_batch(&mut conn, &mut batch, &mut acks, &mut moving, run_id, &file)
            {
                broken = Some(format!("writing the ledger failed: {e:#}"));
            }
        } else {
            for m in batch.drain(..) {
                if let Some(ack) = ack_of(m) {
                    acks.push(ack);
                }
            }
        }
        for ack in acks {
            let _ = ack.send(match &broken {
                None => Ok(()),
                Some(e) => Err(e.clone()),
            });
        }
        batch.clear();
    }
}

fn ack_of(m: Msg) -> Option<Ack> {
    match m {
        Msg::Sending(_, ack) | Msg::EndRun { ack, .. } => Some(ack),
        _ => None,
    }
}

/// The ledger state of each row that is pending or in flight in this run, as the
/// writer last wrote it. Rows leave it when they settle, so it holds about as many
/// rows as the queue and the pool, whatever the file's size.
#[derive(Default)]
struct Moving(HashMap<String, State>);

impl Moving {
    fn wrote(&mut self, id: &str, state: State) {
        if matches!(state, State::Pending | State::InFlight) {
            match self.0.get_mut(id) {
                Some(s) => *s = state,
                None => {
                    self.0.insert(id.to_string(), state);
                }
            }
        } else {
            self.0.remove(id);
        }
    }
}

fn apply_batch(
    conn: &mut Connection,
    batch: &mut Vec<Msg>,
    acks: &mut Vec<Ack>,
    moving: &mut Moving,
    run_id: i64,
    file: &str,
) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    let now: String = tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')", [], |r| {
        r.get(0)
    })?;
    // Rows marked `Sending` in this batch, and where.
    let mut sending: HashMap<&str, usize> = HashMap::new();
    for (i, m) in batch.iter().enumerate() {
        if let Msg::Sending(src, _) = m {
            sending.entry(src.external_user_id.as_str()).or_insert(i);
        }
    }
    let mut ctx = Ctx {
        tx: &tx,
        run_id,
        file,
        now: &now,
        moving,
        deferred: HashMap::new(),
    };
    let mut result = Ok(());
    for (i, m) in batch.iter().enumerate() {
        let sent_later = match m {
            Msg::Planned(src) => sending
                .get(src.external_user_id.as_str())
                .is_some_and(|at| *at > i),
            _ => false,
        };
        result = ctx.apply(m, sent_later);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = ctx.flush_deferred();
    }
    drop(ctx);
    drop(sending);
    for m in batch.drain(..) {
        if let Some(ack) = ack_of(m) {
            acks.push(ack);
        }
    }
    result?;
    tx.commit()?;
    Ok(())
}

struct Ctx<'a> {
    tx: &'a Transaction<'a>,
    run_id: i64,
    file: &'a str,
    now: &'a str,
    moving: &'a mut Moving,
    /// `Planned` rows not written yet: a `Sending` for them follows in this batch.
    deferred: HashMap<String, Source>,
}

impl Ctx<'_> {
    fn current(&self, id: &str) -> rusqlite::Result<Option<State>> {
        if let Some(s) = self.moving.0.get(id) {
            return Ok(Some(*s));
        }
        let s: Option<String> = self
            .tx
            .prepare_cached("SELECT state FROM rows WHERE external_user_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(s.and_then(|s| s.parse().ok()))
    }

    /// Writes a deferred `Planned` row before anything else touches it.
    fn undefer(&mut self, id: &str) -> rusqlite::Result<()> {
        if let Some(src) = self.deferred.remove(id) {
            self.write_upsert(&src, State::Pending)?;
        }
        Ok(())
    }

    fn flush_deferred(&mut self) -> anyhow::Result<()> {
        for (_, src) in std::mem::take(&mut self.deferred) {
            self.write_upsert(&src, State::Pending)?;
        }
        Ok(())
    }

    fn upsert(&mut self, src: &Source, state: State) -> rusqlite::Result<()> {
        self.write_upsert(src, state)?;
        self.moving.wrote(&src.external_user_id, state);
        Ok(())
    }

    fn write_upsert(&self, src: &Source, state: State) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO rows(external_user_id, state, source_file, source_line, fingerprint, \
                 first_run, last_run, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?6,?7,?7) \
                 ON CONFLICT(external_user_id) DO UPDATE SET state = excluded.state, \
                 source_file = excluded.source_file, source_line = excluded.source_line, \
                 fingerprint = excluded.fingerprint, last_run = excluded.last_run, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![
                src.external_user_id,
                state.as_str(),
                self.file,
                src.line as i64,
                src.fingerprint.to_hex(),
                self.run_id,
                self.now
            ])?;
        Ok(())
    }

    /// Applies one message. `sent_later`: a `Planned` whose row is marked `Sending`
    /// later in this batch, so its own write can wait for (and fold into) that one.
    fn apply(&mut self, m: &Msg, sent_later: bool) -> anyhow::Result<()> {
        match m {
            Msg::Planned(src) => {
                self.undefer(&src.external_user_id)?;
                if let Some(next) = transition(self.current(&src.external_user_id)?, Event::Planned)
                {
                    if sent_later {
                        self.moving.wrote(&src.external_user_id, next);
                        self.deferred
                            .insert(src.external_user_id.clone(), src.clone());
                    } else {
                        self.upsert(src, next)?;
                    }
                }
            }
            Msg::Invalid(src, message) => {
                self.undefer(&src.external_user_id)?;
                let current = self.current(&src.external_user_id)?;
                if let Some(next) = transition(current, Event::FoundInvalid)
                    .or((current == Some(State::Invalid)).then_some(State::Invalid))
                {
                    self.upsert(src, next)?;
                    self.tx
                        .prepare_cached(
                            "UPDATE rows SET error_code = NULL, error_name = NULL, \
                             error_message = ?2, last_http_status = NULL \
                             WHERE external_user_id = ?1",
                        )?
                        .execute(params![src.external_user_id, message])?;
                }
                // An invalid row is settled for this run.
                self.moving.0.remove(&src.external_user_id);
            }
            Msg::ChangedAfterCreation(id) => {
                self.undefer(id)?;
                self.tx
                    .prepare_cached(
                        "UPDATE rows SET changed_after_creation = 1 WHERE external_user_id = ?1",
                    )?
                    .execute([id])?;
            }
            Msg::Sending(src, _) => {
                // A deferred `Planned` is superseded: the upsert below writes the row whole.
                self.deferred.remove(&src.external_user_id);
                let current = self.current(&src.external_user_id)?;
                if transition(current, Event::Sending).is_some() || current == Some(State::InFlight)
                {
                    self.upsert(src, State::InFlight)?;
                } else {
                    anyhow::bail!(
                        "refusing to send {} whose ledger state is {:?}",
                        src.external_user_id,
                        current
                    );
                }
            }
            Msg::Attempt(a) => {
                self.undefer(&a.external_user_id)?;
                self.tx
                    .prepare_cached(
                        "INSERT INTO attempts(run_id, external_user_id, at, latency_ms, \
                         http_status, error_code, outcome) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                    )?
                    .execute(params![
                        self.run_id,
                        a.external_user_id,
                        self.now,
                        a.latency_ms as i64,
                        a.http_status,
                        a.error_code,
                        a.outcome
                    ])?;
            }
            Msg::Finish(id, event, r) => {
                self.undefer(id)?;
                let current = self.current(id)?;
                let Some(next) = transition(current, *event).or(current) else {
                    return Ok(());
                };
                if current == Some(State::Created) {
                    self.moving.0.remove(id.as_str());
                    return Ok(());
                }
                self.tx
                    .prepare_cached(
                        "UPDATE rows SET state = ?2, user_id = coalesce(?3, user_id), \
                         poa_required = coalesce(?4, poa_required), attempts = attempts + ?5, \
                         last_http_status = ?6, error_code = ?7, error_name = ?8, \
                         error_message = ?9, reconciled = ?10, unknown_outcome = ?11, \
                         last_run = ?12, updated_at = ?13 WHERE external_user_id = ?1",
                    )?
                    .execute(params![
                        id,
                        next.as_str(),
                        r.user_id,
                        r.poa_required,
                        r.attempts,
                        r.http_status,
                        r.error_code,
                        r.error_name,
                        r.error_message,
                        r.reconciled,
                        r.unknown_outcome,
                        self.run_id,
                        self.now
                    ])?;
                self.moving.wrote(id, next);
            }
            Msg::EndRun {
                outcome,
                counts,
                file_sha256,
                ..
            } => {
                self.tx
                    .prepare_cached(
                        "UPDATE runs SET ended_at = ?2, outcome = ?3, counts = ?4, \
                         file_sha256 = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        self.run_id,
                        self.now,
                        outcome,
                        counts.to_string(),
                        file_sha256
                    ])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(id: &str) -> Source {
        Source {
            external_user_id: id.to_string(),
            line: 2,
            fingerprint: Fingerprint(7),
        }
    }

    fn state(conn: &Connection, id: &str) -> Option<String> {
        conn.query_row(
            "SELECT state FROM rows WHERE external_user_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
    }

    #[test]
    fn a_planned_row_sent_in_the_same_batch_is_written_once_and_ends_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.db"), true).unwrap();
        let run = RunStart {
            file: "f.csv".into(),
            environment: "test".into(),
            options: serde_json::json!({}),
        };
        let run_id = start_run(&mut ledger.conn, &run).unwrap();
        let mut conn = ledger.conn;
        let mut moving = Moving::default();
        let (ack, _done) = oneshot::channel();
        let mut batch = vec![
            Msg::Planned(src("a")),
            Msg::Planned(src("b")),
            Msg::Sending(src("a"), ack),
        ];
        let mut acks = Vec::new();
        apply_batch(
            &mut conn,
            &mut batch,
            &mut acks,
            &mut moving,
            run_id,
            "f.csv",
        )
        .unwrap();
        assert_eq!(acks.len(), 1);
        assert_eq!(state(&conn, "a").as_deref(), Some("in_flight"));
        assert_eq!(state(&conn, "b").as_deref(), Some("pending"));

        let mut batch = vec![Msg::Finish(
            "a".into(),
            Event::Created,
            Box::new(RowResult {
                attempts: 1,
                ..RowResult::default()
            }),
        )];
        apply_batch(
            &mut conn,
            &mut batch,
            &mut acks,
            &mut moving,
            run_id,
            "f.csv",
        )
        .unwrap();
        assert_eq!(state(&conn, "a").as_deref(), Some("created"));
        assert!(!moving.0.contains_key("a"), "a settled row is forgotten");
        assert_eq!(moving.0.get("b"), Some(&State::Pending));

        // A settled row's state comes from the ledger again: a created row is never resent.
        let (ack, _done) = oneshot::channel();
        let mut batch = vec![Msg::Sending(src("a"), ack)];
        let refused = apply_batch(
            &mut conn,
            &mut batch,
            &mut acks,
            &mut moving,
            run_id,
            "f.csv",
        );
        assert!(refused.is_err());
        assert_eq!(state(&conn, "a").as_deref(), Some("created"));
    }
}
