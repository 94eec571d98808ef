//! A token bucket for POSTs; a refusal says how long until the next token.

use super::config::RateLimit;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket. A burst of 0 is treated as 1, or nothing would ever pass.
    pub fn new(limit: RateLimit) -> Self {
        let burst = f64::from(limit.burst.max(1));
        TokenBucket {
            per_second: limit.per_second.max(f64::MIN_POSITIVE),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token, or says how long until one is available.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *st;
        let refilled = (tokens
            + now.saturating_duration_since(last).as_secs_f64() * self.per_second)
            .min(self.burst);
        if refilled >= 1.0 {
            *st = (refilled - 1.0, now.max(last));
            Ok(())
        } else {
            *st = (refilled, now.max(last));
            let wait = (1.0 - refilled) / self.per_second;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_passes_its_burst_then_refuses_until_refilled() {
        let b = TokenBucket::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).expect_err("bucket is empty");
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.take(t0 + Duration::from_millis(500)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(500)).is_err());
    }
}
