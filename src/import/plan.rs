//! What a run does with one row, given what the ledger knew when the run started.
//! Pure, so `--dry-run` and the real run cannot disagree.

use crate::ledger::{Fingerprint, Known, State};

/// Why a valid row is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendKind {
    /// Never sent before (no ledger row, `pending`, or `invalid` and now valid).
    New,
    /// `in_flight` or an unanswered attempt: outcome unknown, a P411 proves it was ours.
    Resume,
    /// `failed` earlier: retried.
    Retry,
    /// `rejected` earlier and its content has changed since.
    Changed,
}

/// Why a row is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipKind {
    /// `created` or `exists` already.
    Done,
    /// `created` already, but the file's row differs from what was sent.
    ChangedAfterCreation,
    /// `rejected` and unchanged: sending it again would be rejected again.
    RejectedUnchanged,
    /// `--only-failed` and the row was never tried.
    NotTried,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send(SendKind),
    Skip(SkipKind),
    /// Locally invalid: record it (the ledger keeps a known outcome over it).
    RecordInvalid,
}

/// Decides one row. `valid` is the validator's verdict.
pub fn plan(
    valid: bool,
    fingerprint: Fingerprint,
    known: Option<Known>,
    only_failed: bool,
) -> Action {
    let changed = known.is_some_and(|k| k.fingerprint != Some(fingerprint));
    let unknown = known.is_some_and(|k| k.unknown_outcome || k.state == State::InFlight);
    match known.map(|k| k.state) {
        Some(State::Created) if changed => Action::Skip(SkipKind::ChangedAfterCreation),
        Some(State::Created) | Some(State::Exists) => Action::Skip(SkipKind::Done),
        _ if !valid => Action::RecordInvalid,
        _ if unknown => Action::Send(SendKind::Resume),
        Some(State::Failed) => Action::Send(SendKind::Retry),
        Some(State::Rejected) if changed && !only_failed => Action::Send(SendKind::Changed),
        Some(State::Rejected) => Action::Skip(SkipKind::RejectedUnchanged),
        _ if only_failed => Action::Skip(SkipKind::NotTried),
        _ => Action::Send(SendKind::New),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ledger_state_leads_to_the_documented_action() {
        let fp = Fingerprint(1);
        let other = Fingerprint(2);
        let k = |state, fingerprint, unknown_outcome| {
            Some(Known {
                state,
                fingerprint: Some(fingerprint),
                unknown_outcome,
            })
        };
        use Action::*;
        use State::*;
        let table: &[(bool, Option<Known>, bool, Action)] = &[
            (true, None, false, Send(SendKind::New)),
            (true, None, true, Skip(SkipKind::NotTried)),
            (false, None, false, RecordInvalid),
            (true, k(Pending, fp, false), false, Send(SendKind::New)),
            (true, k(Invalid, other, false), false, Send(SendKind::New)),
            (true, k(InFlight, fp, false), false, Send(SendKind::Resume)),
            (true, k(InFlight, fp, false), true, Send(SendKind::Resume)),
            (true, k(Failed, fp, true), false, Send(SendKind::Resume)),
            (true, k(Failed, fp, false), false, Send(SendKind::Retry)),
            (true, k(Failed, fp, false), true, Send(SendKind::Retry)),
            (true, k(Created, fp, false), false, Skip(SkipKind::Done)),
            (false, k(Created, fp, false), false, Skip(SkipKind::Done)),
            (
                true,
                k(Created, other, false),
                false,
                Skip(SkipKind::ChangedAfterCreation),
            ),
            (true, k(Exists, fp, false), false, Skip(SkipKind::Done)),
            (
                true,
                k(Rejected, fp, false),
                false,
                Skip(SkipKind::RejectedUnchanged),
            ),
            (
                true,
                k(Rejected, other, false),
                false,
                Send(SendKind::Changed),
            ),
            (
                true,
                k(Rejected, other, false),
                true,
                Skip(SkipKind::RejectedUnchanged),
            ),
            (false, k(Rejected, other, false), false, RecordInvalid),
            (false, k(InFlight, fp, false), false, RecordInvalid),
        ];
        for (valid, known, only_failed, want) in table {
            assert_eq!(
                plan(*valid, fp, *known, *only_failed),
                *want,
                "valid={valid} known={known:?} only_failed={only_failed}"
            );
        }
    }
}
