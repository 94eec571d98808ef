//! One worker of the pool: wait for the rate, mark the row in flight, send, classify,
//! retry with backoff or finish it in the ledger.

use super::config::ImportConfig;
use super::pacer::{backoff, Pacer};
use super::plan::SendKind;
use super::tally::Tally;
use crate::api::{ApiClient, Outcome};
use crate::domain::ValidatedUser;
use crate::ledger::writer::{AttemptRecord, RowResult, Source};
use crate::ledger::{Event, Msg, Writer};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A valid row on its way to the API.
#[derive(Debug)]
pub struct Job {
    pub user: ValidatedUser,
    pub src: Source,
    pub kind: SendKind,
}

/// What every worker shares.
pub struct Shared {
    pub client: ApiClient,
    pub writer: Writer,
    pub pacer: Arc<Pacer>,
    pub tally: Arc<Tally>,
    /// Fires on a signal, a 401 or a ledger failure: take no new rows.
    pub stop: CancellationToken,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    fatal: Mutex<Option<String>>,
    ledger_error: Mutex<Option<String>>,
}

impl Shared {
    pub fn new(
        cfg: &ImportConfig,
        client: ApiClient,
        writer: Writer,
        tally: Arc<Tally>,
        shutdown: CancellationToken,
    ) -> Shared {
        Shared {
            client,
            writer,
            pacer: Arc::new(Pacer::new(cfg.rate, cfg.burst, cfg.max_pause)),
            tally,
            stop: shutdown.child_token(),
            max_attempts: cfg.max_attempts.max(1),
            backoff_base: cfg.backoff_base,
            backoff_cap: cfg.backoff_cap,
            fatal: Mutex::new(None),
            ledger_error: Mutex::new(None),
        }
    }

    /// The 401 reason that stopped the run, if any.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().expect("lock").clone()
    }

    /// The ledger failure that stopped the run, if any.
    pub fn ledger_error(&self) -> Option<String> {
        self.ledger_error.lock().expect("lock").clone()
    }

    fn set_fatal(&self, reason: String) {
        self.fatal.lock().expect("lock").get_or_insert(reason);
        self.stop.cancel();
    }

    fn set_ledger_error(&self, err: anyhow::Error) {
        self.ledger_error
            .lock()
            .expect("lock")
            .get_or_insert(format!("{err:#}"));
        self.stop.cancel();
    }
}

/// Takes jobs until the queue closes or the run stops. The queue is multi-consumer:
/// idle workers wait on it side by side, not behind one lock.
pub async fn work(shared: Arc<Shared>, jobs: async_channel::Receiver<Job>) {
    loop {
        let job = tokio::select! {
            biased;
            _ = shared.stop.cancelled() => None,
            job = jobs.recv() => job.ok(),
        };
        let Some(job) = job else { break };
        send_row(&shared, job).await;
    }
}

/// Why a row's sending ends without a definite answer.
enum GiveUp {
    Budget,
    Stopping,
}

async fn send_row(shared: &Shared, job: Job) {
    let id = job.src.external_user_id.clone();
    let mut unknown = job.kind == SendKind::Resume;
    tokio::select! {
        biased;
        _ = shared.stop.cancelled() => return,
        _ = shared.pacer.wait_turn() => {}
    }
    // Write-ahead: the row is in_flight on disk before the request leaves.
    if let Err(e) = shared
        .writer
        .send_and_wait(|ack| Msg::Sending(job.src.clone(), ack))
        .await
    {
        shared.set_ledger_error(e);
        return;
    }
    let mut attempts = 0u32;
    loop {
        let answer = shared.client.create_user(&job.user).await;
        attempts += 1;
        Tally::add(&shared.tally.requests);
        let (label, code) = match &answer.outcome {
            Outcome::Created { .. } => ("created", None),
            Outcome::AlreadyExists => ("exists", Some("P411".to_string())),
            Outcome::Rejected { code, .. } => ("rejected", Some(code.clone())),
            Outcome::Retryable { code, .. } => ("retryable", code.clone()),
            Outcome::Fatal { .. } => ("fatal", None),
        };
        let _ = shared
            .writer
            .send(Msg::Attempt(AttemptRecord {
                external_user_id: id.clone(),
                latency_ms: answer.latency.as_millis() as u64,
                http_status: answer.http_status,
                error_code: code,
                outcome: label,
            }))
            .await;
        let mut result = RowResult {
            http_status: answer.http_status,
            attempts,
            ..RowResult::default()
        };
        let event = match answer.outcome {
            Outcome::Created {
                user_id,
                poa_required,
            } => {
                shared.pacer.on_answer();
                Tally::add(&shared.tally.created);
                tracing::debug!(line = job.src.line, external_user_id = %id, "created");
                result.user_id = user_id;
                result.poa_required = Some(poa_required);
                Event::Created
            }
            Outcome::AlreadyExists => {
                shared.pacer.on_answer();
                result.error_code = Some("P411".into());
                if unknown {
                    // Our own earlier request created it: the P411 is the proof.
                    Tally::add(&shared.tally.reconciled);
                    tracing::info!(line = job.src.line, external_user_id = %id, "created by an earlier unanswered request (P411 reconciled)");
                    result.reconciled = true;
                    Event::Created
                } else {
                    Tally::add(&shared.tally.exists);
                    tracing::warn!(line = job.src.line, external_user_id = %id, code = "P411", "externalUserId already taken by another user");
                    shared
                        .tally
                        .code("P411", "externalUserId already used by another user");
                    result.error_name = Some("user-exists".into());
                    Event::TakenBySomeoneElse
                }
            }
            Outcome::Rejected {
                code,
                name,
                message,
            } => {
                shared.pacer.on_answer();
                Tally::add(&shared.tally.rejected);
                tracing::warn!(line = job.src.line, external_user_id = %id, code = %code, name = name.as_deref().unwrap_or(""), "rejected");
                shared.tally.code(&code, &message);
                result.error_code = Some(code);
                result.error_name = name;
                result.error_message = Some(message);
                Event::Rejected
            }
            Outcome::Fatal { reason } => {
                result.error_message = Some(reason.clone());
                result.unknown_outcome = unknown;
                shared.set_fatal(reason);
                Tally::add(&shared.tally.returned_to_pending);
                Event::Refused
            }
            Outcome::Retryable {
                reason,
                code,
                retry_after,
                may_have_reached_server,
                rate_limited,
            } => {
                unknown |= may_have_reached_server;
                tracing::debug!(line = job.src.line, external_user_id = %id, attempt = attempts, code = code.as_deref().unwrap_or(""), status = answer.http_status, "retryable answer");
                if rate_limited {
                    Tally::add(&shared.tally.rate_limited);
                    shared.pacer.on_rate_limited(retry_after);
                }
                let give_up = if attempts >= shared.max_attempts {
                    Some(GiveUp::Budget)
                } else {
                    let wait = backoff(attempts - 1, shared.backoff_base, shared.backoff_cap).max(
                        if rate_limited {
                            // The pool-wide pause already honours it.
                            Duration::ZERO
                        } else {
                            // A gateway's Retry-After is honoured up to the backoff cap:
                            // an hour-long one must not hold a row (and a worker) for an hour.
                            retry_after.unwrap_or_default().min(shared.backoff_cap)
                        },
                    );
                    tokio::select! {
                        biased;
                        _ = shared.stop.cancelled() => Some(GiveUp::Stopping),
                        _ = async {
                            tokio::time::sleep(wait).await;
                            shared.pacer.wait_turn().await;
                        } => None,
                    }
                };
                match give_up {
                    None => {
                        Tally::add(&shared.tally.retries);
                        continue;
                    }
                    Some(why) => {
                        let code = code.unwrap_or_else(|| match answer.http_status {
                            Some(s) => format!("HTTP{s}"),
                            None => "NETWORK".to_string(),
                        });
                        result.unknown_outcome = unknown;
                        if shared.fatal().is_some() {
                            // A 401 stopped the run: nothing is marked failed.
                            Tally::add(&shared.tally.returned_to_pending);
                            result.error_message = Some(reason);
                            Event::Refused
                        } else {
                            if matches!(why, GiveUp::Budget) {
                                shared.tally.code(&code, &reason);
                            }
                            Tally::add(&shared.tally.failed);
                            tracing::warn!(line = job.src.line, external_user_id = %id, code = %code, attempts, "failed; retried by the next run");
                            result.error_code = Some(code);
                            result.error_message = Some(reason);
                            Event::Failed
                        }
                    }
                }
            }
        };
        if let Err(e) = shared
            .writer
            .send(Msg::Finish(id, event, Box::new(result)))
            .await
        {
            shared.set_ledger_error(e);
        }
        return;
    }
}
