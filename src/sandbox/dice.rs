//! The random decisions (hang, fault, drop, latency): seeded for replayable runs.

use super::config::{Latency, SandboxConfig};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;
use std::time::Duration;

/// What the dice chose for one POST, drawn all at once so a seed replays exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roll {
    pub hang: bool,
    pub fault: Option<Fault>,
    pub drop: bool,
    pub latency: Duration,
}

/// An injected failure, as real gateways and the real API produce them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    P500,
    P501,
    Http502,
    Http503,
}

pub struct Dice {
    hang_rate: f64,
    fault_rate: f64,
    drop_rate: f64,
    latency: Option<Latency>,
    /// `None` when nothing is random: then no lock is taken at all.
    rng: Option<Mutex<SmallRng>>,
}

impl Dice {
    pub fn new(cfg: &SandboxConfig) -> Self {
        let random = cfg.hang_rate > 0.0
            || cfg.fault_rate > 0.0
            || cfg.drop_rate > 0.0
            || matches!(cfg.latency, Some(Latency::Uniform(..)));
        let rng = random.then(|| {
            Mutex::new(match cfg.seed {
                Some(seed) => SmallRng::seed_from_u64(seed),
                None => SmallRng::from_rng(&mut rand::rng()),
            })
        });
        Dice {
            hang_rate: cfg.hang_rate,
            fault_rate: cfg.fault_rate,
            drop_rate: cfg.drop_rate,
            latency: cfg.latency,
            rng,
        }
    }

    pub fn roll(&self) -> Roll {
        let fixed = match self.latency {
            Some(Latency::Fixed(d)) => d,
            _ => Duration::ZERO,
        };
        let Some(rng) = &self.rng else {
            return Roll {
                hang: false,
                fault: None,
                drop: false,
                latency: fixed,
            };
        };
        let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
        let (h, f, k, d, l): (f64, f64, u8, f64, f64) = (
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
        );
        Roll {
            hang: h < self.hang_rate,
            fault: (f < self.fault_rate).then_some(match k % 4 {
                0 => Fault::P500,
                1 => Fault::P501,
                2 => Fault::Http502,
                _ => Fault::Http503,
            }),
            drop: d < self.drop_rate,
            latency: match self.latency {
                Some(Latency::Uniform(lo, hi)) => lo + (hi - lo).mul_f64(l),
                _ => fixed,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_rolls_the_same_faults() {
        let cfg = SandboxConfig {
            fault_rate: 0.5,
            drop_rate: 0.3,
            seed: Some(7),
            ..SandboxConfig::default()
        };
        let a: Vec<Roll> = {
            let d = Dice::new(&cfg);
            (0..50).map(|_| d.roll()).collect()
        };
        let b: Vec<Roll> = {
            let d = Dice::new(&cfg);
            (0..50).map(|_| d.roll()).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(|r| r.fault.is_some()) && a.iter().any(|r| r.fault.is_none()));
    }

    #[test]
    fn uniform_latency_stays_within_its_range() {
        let cfg = SandboxConfig {
            latency: Some(Latency::Uniform(
                Duration::from_millis(10),
                Duration::from_millis(20),
            )),
            ..SandboxConfig::default()
        };
        let d = Dice::new(&cfg);
        for _ in 0..100 {
            let l = d.roll().latency;
            assert!(l >= Duration::from_millis(10) && l <= Duration::from_millis(20));
        }
    }
}
