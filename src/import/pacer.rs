//! The one rate limiter all workers share (a `governor` GCRA limiter), and the
//! pool-wide pause after a 429.
//!
//! Requests are paced one period (`1 / rate`) apart. The limiter tolerates one period
//! more than `--burst`: tokio's timers wake a waiter up to a millisecond late, and
//! without that slack every late wake-up would push all later requests back (a
//! `--rate 200` would send about 196/s). With it, a late request is made up by the
//! next one, so the pool sends at the rate itself, never above it on average.
//!
//! The rate starts at `--rate`. A 429 pauses every worker until its `Retry-After`
//! (capped) has passed, and remembers the rate as too fast: the pool falls back to
//! the last rate that ran cleanly (half the refused one if none did). While requests
//! succeed the rate climbs again in steps of 8 %, each held a second, and stops
//! one step below a rate the server refused: a `--rate` set too high so converges,
//! within 8 %, on what the server allows, after a few 429s, and then stays there.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Shared by all workers.
pub struct Pacer {
    state: Mutex<Control>,
    /// Rebuilt when the controller changes the rate.
    limiter: RwLock<Arc<DefaultDirectRateLimiter>>,
    max_pause: Duration,
}

/// The limiter's quota for `rate` and `--burst`, with one period of slack for late wake-ups.
fn quota(rate: f64, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst.max(1).saturating_add(1)).expect("at least 2");
    Quota::with_period(period_of(rate))
        .expect("a positive period")
        .allow_burst(burst)
}

/// The lowest rate the controller goes down to, in requests per second.
const MIN_RATE: f64 = 1.0;
/// How long a rate must run without a 429 before it counts as good and the next step up is taken.
const HOLD: Duration = Duration::from_secs(1);
/// A step up; the pool stops climbing one step below a refused rate.
const STEP: f64 = 1.08;
/// A refused rate is retried after this long converged below it: limits change.
const FORGET: Duration = Duration::from_secs(60);
/// 429s this close to the one that slowed the pool are answers to requests sent before it.
const SAME_BURST: Duration = Duration::from_millis(500);

/// The pacer's state, driven by explicit instants so tests need no clock.
#[derive(Debug)]
struct Control {
    /// Most the rate may reach: `--rate`.
    target: f64,
    burst: u32,
    rate: f64,
    paused_until: Option<Instant>,
    last_change: Instant,
    last_429: Option<Instant>,
    /// The lowest rate the server recently answered with a 429.
    too_fast: Option<f64>,
    /// The highest rate that ran for [`HOLD`] without a 429.
    good: Option<f64>,
}

fn period_of(rate: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rate.max(MIN_RATE))
}

impl Control {
    fn new(rate: f64, burst: u32, now: Instant) -> Control {
        Control {
            target: rate,
            burst: burst.max(1),
            rate,
            paused_until: None,
            last_change: now,
            last_429: None,
            too_fast: None,
            good: None,
        }
    }

    fn paused_at(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|t| *t > now)
    }

    fn on_answer(&mut self, now: Instant) {
        if self.rate >= self.target || now.duration_since(self.last_change) < HOLD {
            return;
        }
        // This rate ran a whole HOLD without a 429.
        self.good = Some(self.good.map_or(self.rate, |g| g.max(self.rate)));
        let step = self.rate * STEP;
        let next = match self.too_fast {
            None => step,
            // A whole step is worth a probe; a smaller one would cost a 429 for less.
            Some(bad) if bad > step * (1.0 + 1e-9) => step,
            Some(bad) => {
                // Converged just below a refused rate. Try above it again after a while.
                if now.duration_since(self.last_change) >= FORGET {
                    self.too_fast = Some(bad * STEP);
                    self.last_change = now;
                }
                return;
            }
        };
        self.set_rate(next.min(self.target), now);
    }

    fn on_rate_limited(&mut self, pause: Duration, now: Instant) {
        let until = now + pause;
        if self.paused_until.is_none_or(|t| t < until) {
            self.paused_until = Some(until);
        }
        // Many workers see the same burst of 429s: slow down once per burst.
        if self
            .last_429
            .is_some_and(|t| now.duration_since(t) < SAME_BURST)
        {
            return;
        }
        self.last_429 = Some(now);
        let refused = self.rate;
        self.too_fast = Some(self.too_fast.map_or(refused, |b| b.min(refused)));
        let next = match self.good {
            Some(g) if g < refused => g,
            // Refused at a rate that used to pass: the limit went down.
            Some(_) => {
                self.good = None;
                refused / STEP
            }
            None => refused / 2.0,
        };
        self.set_rate(next.max(MIN_RATE), until);
    }

    fn set_rate(&mut self, rate: f64, at: Instant) {
        if (rate - self.rate).abs() < f64::EPSILON {
            self.last_change = at;
            return;
        }
        self.rate = rate;
        self.last_change = at;
    }
}

impl Pacer {
    pub fn new(rate: f64, burst: u32, max_pause: Duration) -> Pacer {
        Pacer {
            state: Mutex::new(Control::new(rate, burst, Instant::now())),
            limiter: RwLock::new(Arc::new(RateLimiter::direct(quota(rate, burst)))),
            max_pause,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current sending rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// When the pool is paused by a 429, until when.
    pub fn paused_until(&self) -> Option<Instant> {
        self.lock().paused_at(Instant::now())
    }

    /// Waits out any pause, then for this worker's turn under the rate.
    pub async fn wait_turn(&self) {
        loop {
            if let Some(until) = self.paused_until() {
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            let limiter = self
                .limiter
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            limiter.until_ready().await;
            // A 429 may have arrived while we waited: respect the pause it started.
            if self.paused_until().is_none() {
                return;
            }
        }
    }

    /// A request was answered (anything but a 429).
    pub fn on_answer(&self) {
        self.control(|c, now| c.on_answer(now));
    }

    /// A 429 arrived: pause everyone and slow down.
    pub fn on_rate_limited(&self, retry_after: Option<Duration>) {
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(self.max_pause);
        self.control(|c, now| c.on_rate_limited(pause, now));
    }

    /// Runs the controller and gives the limiter the new rate if it changed.
    fn control(&self, f: impl FnOnce(&mut Control, Instant)) {
        let mut c = self.lock();
        let before = c.rate;
        f(&mut c, Instant::now());
        if c.rate != before {
            let limiter = Arc::new(RateLimiter::direct(quota(c.rate, c.burst)));
            *self.limiter.write().unwrap_or_else(|e| e.into_inner()) = limiter;
        }
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

    /// Permits a limiter grants in one simulated second when every waiter wakes
    /// `late` after the instant it was told.
    fn permits_in_one_second(rate: f64, burst: u32, late: Duration) -> u32 {
        use governor::clock::{Clock, FakeRelativeClock};
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(rate, burst), clock.clone());
        let mut elapsed = Duration::ZERO;
        let mut granted = 0;
        while elapsed < Duration::from_secs(1) {
            match limiter.check() {
                Ok(()) => granted += 1,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(clock.now()) + late;
                    clock.advance(wait);
                    elapsed += wait;
                }
            }
        }
        granted
    }

    #[test]
    fn late_wake_ups_do_not_lower_the_rate() {
        for late_us in [0, 300, 900, 1000] {
            let granted = permits_in_one_second(200.0, 1, Duration::from_micros(late_us));
            // 200 in the second, plus at most the slack the first instant allows.
            assert!(
                (200..=202).contains(&granted),
                "{late_us}µs late: {granted}"
            );
        }
    }

    #[test]
    fn after_idling_at_most_burst_and_one_go_back_to_back() {
        use governor::clock::FakeRelativeClock;
        for burst in [1, 3] {
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(quota(100.0, burst), clock.clone());
            clock.advance(Duration::from_secs(5));
            let back_to_back = (0..10).take_while(|_| limiter.check().is_ok()).count();
            assert_eq!(back_to_back as u32, burst + 1);
        }
    }

    /// Drives the controller against a server allowing `limit`/s: every second at a
    /// rate above the limit ends with a 429 and a one-second pause.
    fn converge(target: f64, limit: f64) -> (f64, u32) {
        let t0 = Instant::now();
        let mut c = Control::new(target, 1, t0);
        let mut now = t0;
        let mut refusals = 0;
        for _ in 0..40 {
            if c.rate > limit {
                refusals += 1;
                c.on_rate_limited(Duration::from_secs(1), now);
                now += Duration::from_secs(1);
            } else {
                now += Duration::from_millis(1100);
                c.on_answer(now);
            }
        }
        (c.rate, refusals)
    }

    #[test]
    fn a_rate_set_too_high_settles_one_step_below_the_limit_after_few_429s() {
        for (target, limit) in [
            (400.0, 100.0),
            (400.0, 120.0),
            (1000.0, 150.0),
            (50.0, 47.0),
        ] {
            let (rate, refusals) = converge(target, limit);
            assert!(
                rate <= limit && rate >= limit / STEP,
                "{target} → {limit}: {rate}"
            );
            assert!(refusals <= 6, "{target} → {limit}: {refusals} 429s");
        }
    }

    #[test]
    fn without_429s_the_rate_stays_at_the_target() {
        let (rate, refusals) = converge(200.0, 1000.0);
        assert_eq!((rate, refusals), (200.0, 0));
    }
}
