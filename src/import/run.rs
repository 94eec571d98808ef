//! The pipeline of one import: reader thread → bounded queue → worker pool →
//! ledger writer, and the summary at the end.

use super::config::{ImportConfig, Target};
use super::plan::{plan, Action, SendKind, SkipKind};
use super::summary::{Outcome, Summary};
use super::tally::Tally;
use super::worker::{Job, Shared};
use crate::api::{ApiClient, ClientConfig};
use crate::ingest::{CsvSource, Row};
use crate::ledger::writer::Source;
use crate::ledger::{id_key, Fingerprint, Known, Ledger, LedgerLock, Msg, RunStart, Writer};
use crate::sandbox::{Sandbox, SandboxConfig, DEMO_API_KEY};
use anyhow::Context;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Runs one import to its end (or to a clean stop when `shutdown` fires).
pub async fn run(
    cfg: ImportConfig,
    shutdown: CancellationToken,
    tally: Arc<Tally>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let source = CsvSource::open(&cfg.input)?;
    let environment = cfg.target.environment();
    if cfg.dry_run {
        return dry_run(&cfg, source, &environment, tally, started);
    }

    // The lock first: a second import must not even migrate a ledger being created.
    let _lock = LedgerLock::acquire(&cfg.ledger)?;
    let ledger = Ledger::open(&cfg.ledger, true)?;
    ledger.bind_environment(&environment)?;
    let known = ledger.known_rows()?;

    let (sandbox, client_cfg) = connect(&cfg).await?;
    let client = ApiClient::new(client_cfg)?;
    let file = cfg.input.path.display().to_string();
    let sha = {
        let path = cfg.input.path.clone();
        std::thread::spawn(move || file_sha256(&path))
    };
    let (writer, run_id, writer_thread) = Writer::start(
        ledger,
        &RunStart {
            file: file.clone(),
            environment: environment.clone(),
            options: cfg.options_json(),
        },
    )?;

    let shared = Arc::new(Shared::new(
        &cfg,
        client,
        writer.clone(),
        tally.clone(),
        shutdown.clone(),
    ));

    let progress_done = CancellationToken::new();
    let progress = tokio::spawn(super::progress::show(
        cfg.progress,
        tally.clone(),
        shared.pacer.clone(),
        (cfg.progress != super::progress::ProgressMode::Quiet)
            .then(|| super::progress::estimate_rows(&cfg.input.path))
            .flatten(),
        progress_done.clone(),
    ));
    tracing::info!(file = %file, environment = %environment, run_id, "import started");

    let (jobs_tx, jobs_rx) = async_channel::bounded::<Job>(cfg.concurrency * 2);
    let reader = {
        let writer = writer.clone();
        let tally = tally.clone();
        let stop = shared.stop.clone();
        let only_failed = cfg.only_failed;
        std::thread::Builder::new()
            .name("csv-reader".into())
            .spawn(move || feed(source, known, only_failed, &writer, &jobs_tx, &tally, &stop))?
    };
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|_| tokio::spawn(super::worker::work(shared.clone(), jobs_rx.clone())))
        .collect();
    for w in workers {
        w.await.context("a worker panicked")?;
    }
    // Unblocks a reader still waiting for queue space after the pool stopped.
    drop(jobs_rx);
    let read_result = tokio::task::spawn_blocking(move || reader.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the CSV reader panicked"))?;

    progress_done.cancel();
    let _ = progress.await;

    let outcome = if let Some(reason) = shared.fatal() {
        Outcome::Fatal(reason)
    } else if let Some(err) = shared.ledger_error() {
        Outcome::LedgerError(err)
    } else if let Err(e) = &read_result {
        Outcome::ReadError(format!("{e:#}"))
    } else if shutdown.is_cancelled() {
        Outcome::Interrupted
    } else {
        Outcome::Completed
    };

    let elapsed = started.elapsed();
    let mut summary = Summary::build(&cfg, &tally, &environment, Some(run_id), outcome, elapsed);
    let sha = sha.join().ok().and_then(|r| r.ok());
    let end = writer
        .send_and_wait(|ack| Msg::EndRun {
            outcome: summary.outcome.as_str(),
            counts: summary.counts_json(),
            file_sha256: sha,
            ack,
        })
        .await;
    drop(writer);
    drop(shared);
    writer_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the ledger writer panicked"))?;
    if let Some(sb) = sandbox {
        sb.stop().await;
    }
    if summary.outcome.is_ledger_error() {
        // Still report what happened; the caller turns it into an error.
        return Ok(summary);
    }
    end?;
    let ledger = Ledger::open(&cfg.ledger, false)?;
    summary.ledger_states = ledger
        .state_counts()?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), n))
        .collect();
    Ok(summary)
}

/// Starts the in-process sandbox if asked, and builds the client's config.
async fn connect(cfg: &ImportConfig) -> anyhow::Result<(Option<Sandbox>, ClientConfig)> {
    let (sandbox, base_url, api_key) = match &cfg.target {
        Target::Sandbox => {
            let sb = Sandbox::start(SandboxConfig {
                listen: "127.0.0.1:0".parse().expect("literal address"),
                ..SandboxConfig::default()
            })
            .await
            .context("starting the built-in sandbox")?;
            let url = crate::api::BaseUrl::parse(&sb.base_url())?;
            (Some(sb), url, secrecy::SecretString::from(DEMO_API_KEY))
        }
        Target::Api { base_url, api_key } => (None, base_url.clone(), api_key.clone()),
    };
    Ok((
        sandbox,
        ClientConfig {
            base_url,
            api_key,
            timeout: cfg.timeout,
            connect_timeout: cfg.connect_timeout,
            max_idle_per_host: cfg.concurrency,
        },
    ))
}

/// The reader thread: reads, validates, plans each row; records invalid ones;
/// queues the ones to send. Stops early when the run is stopping.
fn feed(
    mut source: CsvSource,
    known: HashMap<u128, Known>,
    only_failed: bool,
    writer: &Writer,
    jobs: &async_channel::Sender<Job>,
    tally: &Tally,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    while let Some(row) = source.next_row() {
        if stop.is_cancelled() {
            break;
        }
        let row = row?;
        let Some(step) = decide(row, &known, only_failed, tally) else {
            continue;
        };
        match step {
            Step::Record(msg) => writer.blocking_send(msg)?,
            Step::Send(job) => {
                if job.kind == SendKind::New {
                    writer.blocking_send(Msg::Planned(job.src.clone()))?;
                }
                if jobs.send_blocking(*job).is_err() {
                    break; // the pool has stopped
                }
            }
        }
    }
    Ok(())
}

enum Step {
    Record(Msg),
    Send(Box<Job>),
}

/// Plans one row and counts it; `None` when nothing is to be written or sent.
fn decide(
    row: Row,
    known: &HashMap<u128, Known>,
    only_failed: bool,
    tally: &Tally,
) -> Option<Step> {
    Tally::add(&tally.rows_read);
    let valid = row.verdict.is_ok();
    Tally::add(if valid { &tally.valid } else { &tally.invalid });
    let fingerprint =
        Fingerprint(row.fingerprint.expect("import reads with fingerprints on") as u128);
    let id = row.external_user_id?;
    let action = plan(
        valid,
        fingerprint,
        known.get(&id_key(&id)).copied(),
        only_failed,
    );
    let src = Source {
        external_user_id: id,
        line: row.line,
        fingerprint,
    };
    match action {
        Action::Skip(kind) => {
            Tally::add(match kind {
                SkipKind::Done => &tally.skip_done,
                SkipKind::ChangedAfterCreation => &tally.skip_changed_after_creation,
                SkipKind::RejectedUnchanged => &tally.skip_rejected_unchanged,
                SkipKind::NotTried => &tally.skip_not_tried,
            });
            (kind == SkipKind::ChangedAfterCreation)
                .then(|| Step::Record(Msg::ChangedAfterCreation(src.external_user_id)))
        }
        Action::RecordInvalid => {
            let problems = row.verdict.as_ref().err()?;
            // A later duplicate of an id belongs to the earlier row: never overwrite it.
            if problems.iter().any(is_duplicate_id) {
                return None;
            }
            Some(Step::Record(Msg::Invalid(
                src,
                crate::ingest::problems_text(problems),
            )))
        }
        Action::Send(kind) => {
            Tally::add(match kind {
                SendKind::New => &tally.send_new,
                SendKind::Resume => &tally.send_resume,
                SendKind::Retry => &tally.send_retry,
                SendKind::Changed => &tally.send_changed,
            });
            let user = row.verdict.ok()?.expect("import reads with bodies on");
            Some(Step::Send(Box::new(Job { user, src, kind })))
        }
    }
}

/// `--dry-run`: the same reading, validation and plan as a real run; nothing sent or written.
fn dry_run(
    cfg: &ImportConfig,
    mut source: CsvSource,
    environment: &str,
    tally: Arc<Tally>,
    started: Instant,
) -> anyhow::Result<Summary> {
    let known = if cfg.ledger.exists() {
        let ledger = Ledger::open(&cfg.ledger, false)?;
        if let Some(bound) = ledger.environment()? {
            anyhow::ensure!(
                bound == environment,
                "the ledger {} belongs to environment '{bound}', not '{environment}'",
                cfg.ledger.display()
            );
        }
        ledger.known_rows()?
    } else {
        HashMap::new()
    };
    while let Some(row) = source.next_row() {
        decide(row?, &known, cfg.only_failed, &tally);
    }
    Ok(Summary::build(
        cfg,
        &tally,
        environment,
        None,
        Outcome::DryRun,
        started.elapsed(),
    ))
}

fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// A later row repeating an earlier row's externalUserId.
fn is_duplicate_id(p: &crate::ingest::Problem) -> bool {
    p.rule == crate::ingest::Rule::Duplicate
        && p.field == Some(crate::domain::Field::ExternalUserId)
}
