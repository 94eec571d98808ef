//! The sandbox's knobs and the parsing of the durations the command line gives them.

use secrecy::SecretString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// The key the sandbox accepts when none is chosen: public on purpose, so demos work.
pub const DEMO_API_KEY: &str = "sandbox-demo-key";

/// Countries whose residents or citizens cannot be onboarded (P431): the usual
/// sanctions-list suspects, so rehearsals meet realistic rejections.
pub const DEFAULT_FORBIDDEN_COUNTRIES: &[&str] = &[
    "AF", "BY", "CU", "IR", "KP", "MM", "RU", "SD", "SS", "SY", "VE", "YE",
];

/// Residence countries for which the sandbox answers `poaRequiredForExtended: true`.
pub const DEFAULT_POA_COUNTRIES: &[&str] = &["BR", "IN", "NG", "PK", "TR", "UA", "US", "ZA"];

/// Everything a running sandbox needs to know.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port (see [`crate::sandbox::Sandbox::addr`]).
    pub listen: SocketAddr,
    /// The only key accepted in `x-api-key`.
    pub api_key: SecretString,
    /// P431 when the residence country or the citizenship is listed here.
    pub forbidden_countries: Vec<String>,
    /// `poaRequiredForExtended: true` for these residence countries.
    pub poa_countries: Vec<String>,
    /// Token bucket for POSTs; excess requests get 429 with `Retry-After`.
    pub rate_limit: Option<RateLimit>,
    /// How `Retry-After` is written.
    pub retry_after_format: RetryAfterFormat,
    /// Delay added to every POST answer.
    pub latency: Option<Latency>,
    /// Share of POSTs answered with a random P500/P501 (HTTP 400) or 502/503 (HTML).
    pub fault_rate: f64,
    /// Share of would-be-successful POSTs that create the user and then close the
    /// connection without answering.
    pub drop_rate: f64,
    /// Share of POSTs held for `hang_for` and then answered 503, creating nothing.
    pub hang_rate: f64,
    /// How long a hung request is held.
    pub hang_for: Duration,
    /// Seed for the fault dice, so a run can be replayed.
    pub seed: Option<u64>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            api_key: SecretString::from(DEMO_API_KEY),
            forbidden_countries: DEFAULT_FORBIDDEN_COUNTRIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            poa_countries: DEFAULT_POA_COUNTRIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            rate_limit: None,
            retry_after_format: RetryAfterFormat::Seconds,
            latency: None,
            fault_rate: 0.0,
            drop_rate: 0.0,
            hang_rate: 0.0,
            hang_for: Duration::from_secs(60),
            seed: None,
        }
    }
}

/// A token bucket: `per_second` tokens flow in, at most `burst` are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// How `Retry-After` is written: both forms are legal HTTP and clients meet both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryAfterFormat {
    /// Whole seconds, rounded up, at least 1.
    #[default]
    Seconds,
    /// An IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
    HttpDate,
}

impl FromStr for RetryAfterFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "seconds" => Ok(RetryAfterFormat::Seconds),
            "http-date" => Ok(RetryAfterFormat::HttpDate),
            other => Err(format!(
                "unknown Retry-After format {other:?}: use seconds or http-date"
            )),
        }
    }
}

/// Delay added to each POST answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    Fixed(Duration),
    /// Uniformly drawn from `min..=max`.
    Uniform(Duration, Duration),
}

impl FromStr for Latency {
    type Err = String;
    /// Parses `20ms` or `10ms..80ms`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once("..") {
            None => Ok(Latency::Fixed(parse_duration(s)?)),
            Some((lo, hi)) => {
                let (lo, hi) = (parse_duration(lo)?, parse_duration(hi)?);
                if lo > hi {
                    return Err(format!(
                        "latency range {s:?} has its minimum above its maximum"
                    ));
                }
                Ok(Latency::Uniform(lo, hi))
            }
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::Fixed(d) => write!(f, "{d:?}"),
            Latency::Uniform(lo, hi) => write!(f, "{lo:?}..{hi:?}"),
        }
    }
}

/// Parses a duration such as `250ms`, `1.5s`, `2m` or `500us`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: expected e.g. 20ms, 1.5s or 2m"))?;
    let scale = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "" => return Err(format!("{s:?} has no unit: write e.g. 20ms or 2s")),
        other => {
            return Err(format!(
                "{s:?} has an unknown unit {other:?}: use us, ms, s or m"
            ))
        }
    };
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("{s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_parses_fixed_values_and_ranges_and_refuses_nonsense() {
        let ms = Duration::from_millis;
        let cases: &[(&str, Result<Latency, ()>)] = &[
            ("20ms", Ok(Latency::Fixed(ms(20)))),
            ("1.5s", Ok(Latency::Fixed(ms(1500)))),
            ("10ms..80ms", Ok(Latency::Uniform(ms(10), ms(80)))),
            ("0ms..1s", Ok(Latency::Uniform(ms(0), ms(1000)))),
            ("80ms..10ms", Err(())),
            ("20", Err(())),
            ("fast", Err(())),
            ("-5ms", Err(())),
            ("5h", Err(())),
        ];
        for (input, want) in cases {
            let got = input.parse::<Latency>().map_err(|_| ());
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn retry_after_format_accepts_only_its_two_names() {
        assert_eq!("seconds".parse(), Ok(RetryAfterFormat::Seconds));
        assert_eq!("http-date".parse(), Ok(RetryAfterFormat::HttpDate));
        assert!("date".parse::<RetryAfterFormat>().is_err());
    }
}
