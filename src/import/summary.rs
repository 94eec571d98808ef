//! The end of a run: what happened, as text for people and JSON for machines,
//! and the exit code cron acts on.

use super::config::ImportConfig;
use super::tally::{CodeSummary, Tally};
use crate::exit::Exit;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    DryRun,
    Interrupted,
    Fatal(String),
    LedgerError(String),
    ReadError(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::DryRun => "dry_run",
            Outcome::Interrupted => "interrupted",
            Outcome::Fatal(_) => "fatal",
            Outcome::LedgerError(_) => "ledger_error",
            Outcome::ReadError(_) => "read_error",
        }
    }

    pub fn is_ledger_error(&self) -> bool {
        matches!(self, Outcome::LedgerError(_))
    }
}

/// Everything `--summary-json` writes; the README documents this shape.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub file: String,
    pub ledger: String,
    pub environment: String,
    pub run_id: Option<i64>,
    #[serde(serialize_with = "outcome_name")]
    pub outcome: Outcome,
    pub elapsed_seconds: f64,
    /// Requests per second over the whole run.
    pub average_rate: f64,
    pub rows: Rows,
    pub plan: Plan,
    pub results: Results,
    pub requests: Requests,
    pub codes: Vec<CodeSummary>,
    /// Counts per state over the whole ledger after the run (empty for a dry run).
    pub ledger_states: BTreeMap<String, u64>,
    pub exit_code: u8,
}

fn outcome_name<S: serde::Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.as_str())
}

#[derive(Debug, Clone, Serialize)]
pub struct Rows {
    pub read: u64,
    pub valid: u64,
    pub invalid: u64,
}

/// What the run set out to do with each row (what `--dry-run` reports).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub send_new: u64,
    pub resend_unknown_outcome: u64,
    pub retry_failed: u64,
    pub resend_changed: u64,
    pub skip_done: u64,
    pub skip_changed_after_creation: u64,
    pub skip_rejected_unchanged: u64,
    pub skip_not_tried: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub created: u64,
    pub reconciled: u64,
    pub exists: u64,
    pub rejected: u64,
    pub failed: u64,
    pub returned_to_pending: u64,
    /// Planned to be sent but not sent because the run stopped.
    pub not_sent: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requests {
    pub sent: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

impl Summary {
    pub fn build(
        cfg: &ImportConfig,
        t: &Tally,
        environment: &str,
        run_id: Option<i64>,
        outcome: Outcome,
        elapsed: Duration,
    ) -> Summary {
        let g = Tally::get;
        let finished = t.finished() + g(&t.returned_to_pending);
        let planned = t.to_send();
        let mut s = Summary {
            file: cfg.input.path.display().to_string(),
            ledger: cfg.ledger.display().to_string(),
            environment: environment.to_string(),
            run_id,
            outcome,
            elapsed_seconds: elapsed.as_secs_f64(),
            average_rate: g(&t.requests) as f64 / elapsed.as_secs_f64().max(1e-3),
            rows: Rows {
                read: g(&t.rows_read),
                valid: g(&t.valid),
                invalid: g(&t.invalid),
            },
            plan: Plan {
                send_new: g(&t.send_new),
                resend_unknown_outcome: g(&t.send_resume),
                retry_failed: g(&t.send_retry),
                resend_changed: g(&t.send_changed),
                skip_done: g(&t.skip_done),
                skip_changed_after_creation: g(&t.skip_changed_after_creation),
                skip_rejected_unchanged: g(&t.skip_rejected_unchanged),
                skip_not_tried: g(&t.skip_not_tried),
            },
            results: Results {
                created: g(&t.created),
                reconciled: g(&t.reconciled),
                exists: g(&t.exists),
                rejected: g(&t.rejected),
                failed: g(&t.failed),
                returned_to_pending: g(&t.returned_to_pending),
                not_sent: planned.saturating_sub(finished),
            },
            requests: Requests {
                sent: g(&t.requests),
                retries: g(&t.retries),
                rate_limited: g(&t.rate_limited),
            },
            codes: t.codes(3),
            ledger_states: BTreeMap::new(),
            exit_code: 0,
        };
        s.exit_code = s.exit() as u8;
        s
    }

    /// The exit code `design.md` prescribes.
    pub fn exit(&self) -> Exit {
        match &self.outcome {
            Outcome::Fatal(_) => Exit::Fatal,
            Outcome::Interrupted => Exit::Interrupted,
            Outcome::LedgerError(_) | Outcome::ReadError(_) => Exit::Usage,
            Outcome::Completed | Outcome::DryRun => {
                let r = &self.results;
                let p = &self.plan;
                let unfinished = self.rows.invalid
                    + r.rejected
                    + r.failed
                    + r.not_sent
                    + r.returned_to_pending
                    + p.skip_rejected_unchanged
                    + p.skip_not_tried;
                let dry_pending = if self.outcome == Outcome::DryRun {
                    p.send_new + p.resend_unknown_outcome + p.retry_failed + p.resend_changed
                } else {
                    0
                };
                if unfinished + dry_pending == 0 {
                    Exit::Ok
                } else {
                    Exit::Partial
                }
            }
        }
    }

    /// The figures stored in the `runs` table.
    pub fn counts_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.rows,
            "plan": self.plan,
            "results": self.results,
            "requests": self.requests,
        })
    }

    /// The text summary printed at the end of a run.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let r = &self.results;
        let p = &self.plan;
        let head = match &self.outcome {
            Outcome::DryRun => "Dry run: nothing was sent and nothing was written.".to_string(),
            Outcome::Completed => "Import finished.".to_string(),
            Outcome::Interrupted => {
                "Import interrupted: requests in flight were finished and recorded.".to_string()
            }
            Outcome::Fatal(reason) => format!("Import stopped: {reason}"),
            Outcome::LedgerError(e) => format!("Import stopped: {e}"),
            Outcome::ReadError(e) => format!("Import stopped while reading the file: {e}"),
        };
        let _ = writeln!(o, "{head}");
        let _ = writeln!(
            o,
            "  file {}: {} rows read, {} valid, {} invalid",
            self.file, self.rows.read, self.rows.valid, self.rows.invalid
        );
        if self.outcome == Outcome::DryRun {
            let _ = writeln!(o, "  a real run would:");
            let _ = writeln!(o, "    send for the first time   {}", p.send_new);
            let _ = writeln!(
                o,
                "    resend (outcome unknown)  {}",
                p.resend_unknown_outcome
            );
            let _ = writeln!(o, "    retry (failed before)     {}", p.retry_failed);
            let _ = writeln!(o, "    resend (changed)          {}", p.resend_changed);
            let _ = writeln!(
                o,
                "    skip                      {} (done {}, changed after creation {}, rejected and unchanged {}, never tried with --only-failed {})",
                p.skip_done + p.skip_changed_after_creation + p.skip_rejected_unchanged + p.skip_not_tried,
                p.skip_done,
                p.skip_changed_after_creation,
                p.skip_rejected_unchanged,
                p.skip_not_tried
            );
            let _ = writeln!(o, "    record as invalid         {}", self.rows.invalid);
            return o;
        }
        let _ = writeln!(
            o,
            "  created {} (reconciled {}), already done {}, exists (id taken) {}, rejected {}, failed {}, invalid {}",
            r.created + r.reconciled,
            r.reconciled,
            p.skip_done + p.skip_changed_after_creation,
            r.exists,
            r.rejected,
            r.failed,
            self.rows.invalid
        );
        if r.not_sent + r.returned_to_pending > 0 {
            let _ = writeln!(
                o,
                "  not sent {} (they stay pending for the next run)",
                r.not_sent + r.returned_to_pending
            );
        }
        if p.skip_changed_after_creation > 0 {
            let _ = writeln!(
                o,
                "  changed after creation (not sent again): {}",
                p.skip_changed_after_creation
            );
        }
        if p.skip_rejected_unchanged + p.skip_not_tried > 0 {
            let _ = writeln!(
                o,
                "  skipped: rejected and unchanged {}, never tried (--only-failed) {}",
                p.skip_rejected_unchanged, p.skip_not_tried
            );
        }
        let _ = writeln!(
            o,
            "  requests {} (retries {}, 429s {}), {:.1}s, {:.1} requests/s",
            self.requests.sent,
            self.requests.retries,
            self.requests.rate_limited,
            self.elapsed_seconds,
            self.average_rate
        );
        for c in self.codes.iter().take(10) {
            let _ = writeln!(o, "  {} x{}", c.code, c.count);
            for m in &c.messages {
                let _ = writeln!(o, "      {} x{}", m.message, m.count);
            }
        }
        let _ = writeln!(o, "  ledger {}", self.ledger);
        let failing = r.rejected + r.failed + self.rows.invalid + p.skip_rejected_unchanged;
        if failing > 0 {
            let _ = writeln!(
                o,
                "  export the failures to fix and re-run:\n    p100-onboard report --ledger {} --state rejected -o rejected.csv\n    p100-onboard report --ledger {} --state failed -o failed.csv\n    p100-onboard report --ledger {} --state invalid -o invalid.csv",
                self.ledger, self.ledger, self.ledger
            );
        }
        o
    }
}
