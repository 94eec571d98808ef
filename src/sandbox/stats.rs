//! Counters behind `GET /_sandbox/stats`: lock-free, so counting never slows the hot path.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// What `GET /_sandbox/stats` returns. Status and code maps list only non-zero counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// POSTs to the endpoint, whatever their fate.
    pub requests: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_code: BTreeMap<String, u64>,
    pub created: u64,
    pub rate_limited: u64,
    pub dropped: u64,
    pub faults: u64,
    pub hung: u64,
    pub max_requests_in_one_second: u64,
    /// The most POSTs seen for one `externalUserId`: above 1 means someone resent.
    pub max_posts_per_external_user_id: u64,
}

const STATUSES: [u16; 9] = [201, 400, 401, 404, 405, 413, 429, 502, 503];
const CODES: [&str; 7] = ["P403", "P411", "P431", "P464", "P465", "P500", "P501"];

/// Live counters.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    requests: AtomicU64,
    by_status: [AtomicU64; STATUSES.len()],
    by_code: [AtomicU64; CODES.len()],
    pub created: AtomicU64,
    pub rate_limited: AtomicU64,
    pub dropped: AtomicU64,
    pub faults: AtomicU64,
    pub hung: AtomicU64,
    /// Upper 32 bits: second since start; lower 32: POSTs in it.
    this_second: AtomicU64,
    max_per_second: AtomicU64,
    pub max_posts_per_id: AtomicU64,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            by_status: Default::default(),
            by_code: Default::default(),
            created: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            hung: AtomicU64::new(0),
            this_second: AtomicU64::new(0),
            max_per_second: AtomicU64::new(0),
            max_posts_per_id: AtomicU64::new(0),
        }
    }

    /// Counts one POST and keeps the busiest second.
    pub fn post_arrived(&self) {
        self.requests.fetch_add(1, Relaxed);
        let sec = self.started.elapsed().as_secs() & 0xFFFF_FFFF;
        let mut cur = self.this_second.load(Relaxed);
        let count = loop {
            let next = if cur >> 32 == sec {
                cur + 1
            } else {
                (sec << 32) | 1
            };
            match self
                .this_second
                .compare_exchange_weak(cur, next, Relaxed, Relaxed)
            {
                Ok(_) => break next & 0xFFFF_FFFF,
                Err(actual) => cur = actual,
            }
        };
        self.max_per_second.fetch_max(count, Relaxed);
    }

    /// Counts one answer that was actually sent.
    pub fn answered(&self, status: u16, code: Option<&str>) {
        if let Some(i) = STATUSES.iter().position(|s| *s == status) {
            self.by_status[i].fetch_add(1, Relaxed);
        }
        if let Some(i) = code.and_then(|c| CODES.iter().position(|k| *k == c)) {
            self.by_code[i].fetch_add(1, Relaxed);
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let nonzero =
            |pairs: Vec<(String, u64)>| pairs.into_iter().filter(|(_, n)| *n > 0).collect();
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            by_status: nonzero(
                STATUSES
                    .iter()
                    .zip(&self.by_status)
                    .map(|(s, n)| (s.to_string(), n.load(Relaxed)))
                    .collect(),
            ),
            by_code: nonzero(
                CODES
                    .iter()
                    .zip(&self.by_code)
                    .map(|(c, n)| (c.to_string(), n.load(Relaxed)))
                    .collect(),
            ),
            created: self.created.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            faults: self.faults.load(Relaxed),
            hung: self.hung.load(Relaxed),
            max_requests_in_one_second: self.max_per_second.load(Relaxed),
            max_posts_per_external_user_id: self.max_posts_per_id.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_lists_only_the_statuses_and_codes_seen() {
        let s = Stats::new();
        for _ in 0..3 {
            s.post_arrived();
        }
        s.answered(201, None);
        s.answered(400, Some("P403"));
        s.answered(400, Some("P411"));
        let snap = s.snapshot();
        assert_eq!(snap.requests, 3);
        assert_eq!(snap.max_requests_in_one_second, 3);
        assert_eq!(snap.by_status.get("400"), Some(&2));
        assert_eq!(snap.by_status.get("201"), Some(&1));
        assert_eq!(snap.by_status.get("429"), None);
        assert_eq!(snap.by_code.len(), 2);
    }
}
