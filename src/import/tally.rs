//! Live counters of a run, shared by the reader, the workers and the progress display.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// One counter per figure the summary and the progress line show.
#[derive(Debug, Default)]
pub struct Tally {
    pub rows_read: AtomicU64,
    pub valid: AtomicU64,
    pub invalid: AtomicU64,
    pub send_new: AtomicU64,
    pub send_resume: AtomicU64,
    pub send_retry: AtomicU64,
    pub send_changed: AtomicU64,
    pub skip_done: AtomicU64,
    pub skip_changed_after_creation: AtomicU64,
    pub skip_rejected_unchanged: AtomicU64,
    pub skip_not_tried: AtomicU64,
    pub created: AtomicU64,
    pub reconciled: AtomicU64,
    pub exists: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    pub returned_to_pending: AtomicU64,
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
    codes: Mutex<BTreeMap<String, CodeTally>>,
}

#[derive(Debug, Default, Clone)]
struct CodeTally {
    count: u64,
    messages: BTreeMap<String, u64>,
}

/// A code's count and its most frequent messages, most frequent first.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CodeSummary {
    pub code: String,
    pub count: u64,
    pub messages: Vec<MessageCount>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct MessageCount {
    pub message: String,
    pub count: u64,
}

/// How many distinct messages a code keeps: bounded memory on a file of a million rejections.
const MAX_MESSAGES_PER_CODE: usize = 50;

impl Tally {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    /// Counts a final error code with its message.
    pub fn code(&self, code: &str, message: &str) {
        let mut codes = self.codes.lock().expect("tally lock");
        let entry = codes.entry(code.to_string()).or_default();
        entry.count += 1;
        let known = entry.messages.len();
        if let Some(n) = entry.messages.get_mut(message) {
            *n += 1;
        } else if known < MAX_MESSAGES_PER_CODE {
            entry.messages.insert(message.to_string(), 1);
        }
    }

    /// Codes by count, each with its `top` most frequent messages.
    pub fn codes(&self, top: usize) -> Vec<CodeSummary> {
        let codes = self.codes.lock().expect("tally lock");
        let mut out: Vec<CodeSummary> = codes
            .iter()
            .map(|(code, t)| {
                let mut messages: Vec<MessageCount> = t
                    .messages
                    .iter()
                    .map(|(m, n)| MessageCount {
                        message: m.clone(),
                        count: *n,
                    })
                    .collect();
                messages.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
                messages.truncate(top);
                CodeSummary {
                    code: code.clone(),
                    count: t.count,
                    messages,
                }
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
        out
    }

    /// Rows this run has finished with a request (any final outcome).
    pub fn finished(&self) -> u64 {
        [
            &self.created,
            &self.reconciled,
            &self.exists,
            &self.rejected,
            &self.failed,
        ]
        .iter()
        .map(|c| Self::get(c))
        .sum()
    }

    /// Rows planned to be sent.
    pub fn to_send(&self) -> u64 {
        [
            &self.send_new,
            &self.send_resume,
            &self.send_retry,
            &self.send_changed,
        ]
        .iter()
        .map(|c| Self::get(c))
        .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ranked_by_count_with_their_most_frequent_messages() {
        let t = Tally::default();
        for (code, msg) in [
            ("P465", "email exists"),
            ("P403", "phone bad"),
            ("P403", "email bad"),
            ("P403", "phone bad"),
        ] {
            t.code(code, msg);
        }
        let codes = t.codes(1);
        assert_eq!(codes[0].code, "P403");
        assert_eq!(codes[0].count, 3);
        assert_eq!(codes[0].messages.len(), 1);
        assert_eq!(codes[0].messages[0].message, "phone bad");
        assert_eq!(codes[0].messages[0].count, 2);
        assert_eq!(codes[1].code, "P465");
    }
}
