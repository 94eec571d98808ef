//! The classifier of API answers on arbitrary status, Retry-After and body: it
//! never panics, and a few promises hold whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p100_onboard::api::{classify, Outcome};
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let split = usize::from(data[2]).min(data.len() - 3);
    let rest = &data[3..];
    let (header, body) = rest.split_at(split.min(rest.len()));
    let retry_after = (data[2] & 1 == 1).then(|| String::from_utf8_lossy(header).into_owned());
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let outcome = classify(status, retry_after.as_deref(), body, now);
    match &outcome {
        Outcome::Created { .. } => assert!((200..300).contains(&status)),
        Outcome::Fatal { reason } => assert!(!reason.is_empty()),
        Outcome::Retryable {
            reason,
            code,
            rate_limited,
            ..
        } => {
            assert!(!*rate_limited || status == 429, "only a 429 slows the pool");
            if code.is_none() {
                assert!(reason.chars().count() < 400, "an unknown body is cut short");
            }
        }
        Outcome::Rejected { .. } | Outcome::AlreadyExists => {}
    }
    if (200..300).contains(&status) {
        assert!(
            matches!(outcome, Outcome::Created { .. }),
            "2xx always means created"
        );
    }
    if status == 401 {
        assert!(
            matches!(outcome, Outcome::Fatal { .. }),
            "401 always stops the run"
        );
    }
});
