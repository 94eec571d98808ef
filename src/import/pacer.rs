//! The one rate limiter all workers share, and the pool-wide pause after a 429.
//!
//! The sending rate starts at `--rate`. A 429 pauses every worker until its
//! `Retry-After` (capped) has passed and lowers the rate to what the server was
//! accepting; while requests succeed the rate climbs back towards `--rate`, quickly
//! up to the last rate the server accepted and slowly beyond it. A `--rate` set too
//! high so converges on what the server allows.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Shared by all workers.
pub struct Pacer {
    limiter: RwLock<Arc<DefaultDirectRateLimiter>>,
    state: Mutex<Control>,
    burst: NonZeroU32,
    target: f64,
    max_pause: Duration,
}

struct Control {
    rate: f64,
    /// The accepted rate measured when the last 429 arrived.
    ceiling: Option<f64>,
    paused_until: Option<Instant>,
    last_change: Instant,
    last_429: Option<Instant>,
    window_start: Instant,
    window_ok: u64,
    last_window_rate: Option<f64>,
}

/// The lowest rate the controller goes down to, in requests per second.
const MIN_RATE: f64 = 1.0;

fn limiter(rate: f64, burst: NonZeroU32) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(1.0 / rate.max(MIN_RATE));
    let quota = Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(burst);
    Arc::new(RateLimiter::direct(quota))
}

impl Pacer {
    pub fn new(rate: f64, burst: u32, max_pause: Duration) -> Pacer {
        let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
        let now = Instant::now();
        Pacer {
            limiter: RwLock::new(limiter(rate, burst)),
            state: Mutex::new(Control {
                rate,
                ceiling: None,
                paused_until: None,
                last_change: now,
                last_429: None,
                window_start: now,
                window_ok: 0,
                last_window_rate: None,
            }),
            burst,
            target: rate,
            max_pause,
        }
    }

    /// The current sending rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").rate
    }

    /// When the pool is paused by a 429, until when.
    pub fn paused_until(&self) -> Option<Instant> {
        let s = self.state.lock().expect("pacer lock");
        s.paused_until.filter(|t| *t > Instant::now())
    }

    /// Waits out any pause, then for this worker's turn under the rate.
    pub async fn wait_turn(&self) {
        loop {
            if let Some(until) = self.paused_until() {
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            let lim = self.limiter.read().expect("pacer lock").clone();
            lim.until_ready().await;
            // A 429 may have arrived while we waited: respect the pause it started.
            if self.paused_until().is_none() {
                return;
            }
        }
    }

    /// A request was answered (anything but a 429).
    pub fn on_answer(&self) {
        let mut s = self.state.lock().expect("pacer lock");
        let now = Instant::now();
        s.window_ok += 1;
        let elapsed = now.duration_since(s.window_start);
        if elapsed >= Duration::from_secs(1) {
            s.last_window_rate = Some(s.window_ok as f64 / elapsed.as_secs_f64());
            s.window_ok = 0;
            s.window_start = now;
        }
        if s.rate >= self.target || now.duration_since(s.last_change) < Duration::from_secs(1) {
            return;
        }
        let quiet = s
            .last_429
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if !quiet {
            return;
        }
        let step = match s.ceiling {
            Some(c) if s.rate < c * 0.98 => 1.10,
            Some(_) => 1.01,
            None => 1.10,
        };
        let next = (s.rate * step).max(s.rate + 1.0).min(self.target);
        self.set_rate(&mut s, next, now);
    }

    /// A 429 arrived: pause everyone and slow down.
    pub fn on_rate_limited(&self, retry_after: Option<Duration>) {
        let mut s = self.state.lock().expect("pacer lock");
        let now = Instant::now();
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(self.max_pause);
        let until = now + pause;
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
        }
        // Many workers see the same burst of 429s: slow down once per burst.
        if s.last_429
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(500))
        {
            return;
        }
        s.last_429 = Some(now);
        let elapsed = now.duration_since(s.window_start).as_secs_f64();
        let accepted = if elapsed >= 0.25 {
            Some(s.window_ok as f64 / elapsed)
        } else {
            s.last_window_rate
        };
        let mut next = s.rate * 0.9;
        if let Some(acc) = accepted.filter(|a| *a >= MIN_RATE) {
            next = next.min(acc * 0.95);
            s.ceiling = Some(acc);
        }
        self.set_rate(&mut s, next.max(MIN_RATE), now);
    }

    fn set_rate(&self, s: &mut Control, rate: f64, now: Instant) {
        if (rate - s.rate).abs() < f64::EPSILON {
            return;
        }
        s.rate = rate;
        s.last_change = now;
        *self.limiter.write().expect("pacer lock") = limiter(rate, self.burst);
    }
}

/// Full-jitter exponential backoff: a random wait in `0..=min(cap, base * 2^attempt)`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(20));
    let max = exp.min(cap);
    let nanos = max.as_nanos().min(u64::MAX as u128) as u64;
    Duration::from_nanos(rand::random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_exponential_envelope_and_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..12 {
            let envelope = base.saturating_mul(1 << attempt).min(cap);
            for _ in 0..50 {
                assert!(backoff(attempt, base, cap) <= envelope);
            }
        }
    }

    #[test]
    fn a_rate_limited_answer_pauses_the_pool_and_lowers_the_rate() {
        let p = Pacer::new(400.0, 1, Duration::from_millis(200));
        p.on_rate_limited(Some(Duration::from_secs(30)));
        assert!(p.rate() < 400.0);
        let until = p.paused_until().expect("paused");
        assert!(
            until <= Instant::now() + Duration::from_millis(200),
            "pause is capped"
        );
    }
}
