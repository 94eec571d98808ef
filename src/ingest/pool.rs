//! The threads behind [`super::CsvSource`]: one parser splits the file into batches of
//! records, a few checkers run the per-row rules on whole batches in parallel, and the
//! caller takes the checked batches back in file order, which duplicate detection
//! needs.
//!
//! Memory stays bounded and record buffers are reused: [`IN_FLIGHT`] batches of them
//! circulate from the parser through a checker to the caller, who hands each back
//! once it has taken the batch's rows in order. A batch ends at [`BATCH`] records or
//! [`BATCH_BYTES`], so huge rows do not multiply what is in flight, and the parser
//! (the only thread that allocates or frees buffers) lets go of outsized ones.
//!
//! Dropping the pool stops every thread: each blocks only on a channel whose other
//! end the pool or a thread that has stopped holds.

use super::check::{Checker, DupKeys};
use super::reader::{read_record, Csv, Row};
use csv::ByteRecord;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Records per batch: large enough that channel hand-overs cost nothing per row.
pub(super) const BATCH: usize = 1024;
/// A batch also ends once its rows hold this many bytes, so that files of huge rows
/// keep a bounded amount in flight too.
const BATCH_BYTES: usize = 1 << 20;
/// Records that held more than this are not reused.
const BIG_RECORD: usize = 64 << 10;
/// Batches between the parser and the caller, parsed, checking or checked.
const IN_FLIGHT: usize = 8;
/// More checkers than this gains nothing: the caller's in-order stage is the limit.
const MAX_CHECKERS: usize = 4;

/// A batch as the caller receives it.
pub(super) enum Checked {
    /// The rows with their duplicate keys, the records they came from (to hand back
    /// with [`Pool::recycle`]) and the byte offset of the last record.
    Rows(Vec<(Row, DupKeys)>, Records, u64),
    /// The reader failed near this line; nothing follows.
    Failed(csv::Error, u64),
    /// A thread stopped without finishing its work: the rest of the file is unknown.
    Lost,
}

/// Reused record buffers; the first `.1` of them hold this batch.
pub(super) type Records = (Vec<ByteRecord>, usize);

enum Job {
    Batch(Records),
    Failed(csv::Error, u64),
}

pub(super) struct Pool {
    results: Receiver<(u64, Checked)>,
    /// Emptied batches back to the parser.
    spent: SyncSender<Vec<ByteRecord>>,
    /// Batches that arrived ahead of their turn.
    early: BTreeMap<u64, Checked>,
    next: u64,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts the parser on `reader` and one checker per core (at most
    /// [`MAX_CHECKERS`]).
    pub(super) fn start(reader: Csv, width: usize, checker: Checker) -> std::io::Result<Pool> {
        let checkers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_CHECKERS);
        let (spent, spent_rx) = sync_channel::<Vec<ByteRecord>>(IN_FLIGHT);
        let (job_tx, job_rx) = async_channel::bounded::<(u64, Job)>(IN_FLIGHT);
        let (result_tx, results) = sync_channel::<(u64, Checked)>(IN_FLIGHT);
        let mut threads = Vec::with_capacity(checkers + 1);
        for n in 0..checkers {
            let (jobs, out, checker) = (job_rx.clone(), result_tx.clone(), checker.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("csv-check-{n}"))
                    .spawn(move || check_loop(checker, jobs, out))?,
            );
        }
        drop((job_rx, result_tx));
        threads.push(
            std::thread::Builder::new()
                .name("csv-parser".into())
                .spawn(move || parse_loop(reader, width, job_tx, spent_rx))?,
        );
        Ok(Pool {
            results,
            spent,
            early: BTreeMap::new(),
            next: 0,
            threads,
        })
    }

    /// The next batch in file order; `None` once the file has been read to its end.
    pub(super) fn next_batch(&mut self) -> Option<Checked> {
        loop {
            if let Some(batch) = self.early.remove(&self.next) {
                self.next += 1;
                return Some(batch);
            }
            match self.results.recv() {
                Ok((seq, batch)) => {
                    self.early.insert(seq, batch);
                }
                Err(_) => {
                    // Every thread has finished: a normal end unless one of them died
                    // or a batch never came.
                    let died = self
                        .threads
                        .drain(..)
                        .map(JoinHandle::join)
                        .fold(false, |died, r| died | r.is_err());
                    return (died || !self.early.is_empty()).then_some(Checked::Lost);
                }
            }
        }
    }

    /// Gives a batch's record buffers back to the parser.
    pub(super) fn recycle(&mut self, records: Vec<ByteRecord>) {
        // The parser may have finished; then the buffers are simply dropped.
        let _ = self.spent.try_send(records);
    }
}

/// Fills batches until the file ends, the reader fails or the caller hangs up.
fn parse_loop(
    mut reader: Csv,
    width: usize,
    jobs: async_channel::Sender<(u64, Job)>,
    spent: Receiver<Vec<ByteRecord>>,
) {
    let mut fresh = IN_FLIGHT;
    let mut seq = 0u64;
    loop {
        let mut batch = if fresh > 0 {
            fresh -= 1;
            // Sized for an ordinary row: a 100,000-column header must not make every
            // record reserve room for 100,000 fields up front.
            (0..BATCH)
                .map(|_| ByteRecord::with_capacity(256, width.clamp(1, 64)))
                .collect()
        } else {
            match spent.recv() {
                Ok(mut batch) => {
                    // A record keeps the room of the largest row it held: let go of
                    // outsized ones rather than keep them circulating.
                    for record in batch.iter_mut().filter(|r| r.as_slice().len() > BIG_RECORD) {
                        *record = ByteRecord::new();
                    }
                    batch
                }
                Err(_) => return,
            }
        };
        let (mut len, mut bytes) = (0, 0);
        let mut failed = None;
        let mut eof = false;
        while len < BATCH && bytes < BATCH_BYTES {
            match read_record(&mut reader, &mut batch[len]) {
                Ok(true) => {
                    bytes += batch[len].as_slice().len();
                    len += 1;
                }
                Ok(false) => {
                    eof = true;
                    break;
                }
                Err(e) => {
                    failed = Some(Job::Failed(e, reader.position().line()));
                    break;
                }
            }
        }
        if len > 0 {
            if jobs.send_blocking((seq, Job::Batch((batch, len)))).is_err() {
                return;
            }
            seq += 1;
        }
        if let Some(job) = failed {
            let _ = jobs.send_blocking((seq, job));
            return;
        }
        if eof {
            return;
        }
    }
}

/// Checks whole batches; a panic becomes [`Checked::Lost`] rather than a stuck caller.
fn check_loop(
    mut checker: Checker,
    jobs: async_channel::Receiver<(u64, Job)>,
    out: SyncSender<(u64, Checked)>,
) {
    while let Ok((seq, job)) = jobs.recv_blocking() {
        let checked = match job {
            Job::Failed(e, line) => Checked::Failed(e, line),
            Job::Batch((records, len)) => {
                let end = records[..len]
                    .last()
                    .and_then(ByteRecord::position)
                    .map_or(0, csv::Position::byte);
                let rows = catch_unwind(AssertUnwindSafe(|| {
                    records[..len].iter().map(|r| checker.check(r)).collect()
                }));
                match rows {
                    Ok(rows) => Checked::Rows(rows, (records, len), end),
                    Err(_) => Checked::Lost,
                }
            }
        };
        if out.send((seq, checked)).is_err() {
            return;
        }
    }
}
