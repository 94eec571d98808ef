//! `p100-onboard sandbox`: flags, their checks, and the runtime that serves.

use crate::exit::Exit;
use crate::sandbox::{
    parse_duration, serve_cli, Latency, RateLimit, RetryAfterFormat, SandboxConfig,
    DEFAULT_FORBIDDEN_COUNTRIES, DEFAULT_POA_COUNTRIES,
};
use anyhow::Context;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EXAMPLES: &str = "\
Examples:
  p100-onboard sandbox
  p100-onboard sandbox --listen 127.0.0.1:0 --rate-limit 20 --rate-burst 5 \\
      --latency 10ms..80ms --fault-rate 0.05 --drop-rate 0.01 --seed 42

The first line of stdout is `listening on http://ADDR`. Stop with Ctrl-C.
Inspect with GET /_sandbox/stats and GET /_sandbox/users.";

/// Serve a local emulator of the Partner API endpoint.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The API key to accept [default: the public demo key `sandbox-demo-key`].
    #[arg(long, value_name = "KEY", env = "P100_API_KEY", hide_env_values = true)]
    pub api_key: Option<SecretString>,
    /// Comma-separated ISO codes answered with P431 (residence or citizenship).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_values_t = DEFAULT_FORBIDDEN_COUNTRIES.iter().map(|c| c.to_string()))]
    pub forbidden_countries: Vec<String>,
    /// Comma-separated residence countries answered with poaRequiredForExtended=true.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_values_t = DEFAULT_POA_COUNTRIES.iter().map(|c| c.to_string()))]
    pub poa_countries: Vec<String>,
    /// Requests per second allowed; excess requests get 429 with Retry-After.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<f64>,
    /// Requests allowed at once before the rate limit bites [default: the rate, at least 1].
    #[arg(long, value_name = "N", requires = "rate_limit")]
    pub rate_burst: Option<u32>,
    /// How Retry-After is written.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = RetryAfterArg::Seconds)]
    pub retry_after_format: RetryAfterArg,
    /// Latency and failures to inject (boxed: rarely set, and keeps the command enum small).
    #[command(flatten)]
    pub faults: Box<FaultArgs>,
}

/// Network trouble to rehearse against.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Fault injection")]
pub struct FaultArgs {
    /// Delay added to each answer: fixed (20ms) or a uniform range (10ms..80ms).
    #[arg(long, value_name = "DUR", value_parser = |s: &str| s.parse::<Latency>())]
    pub latency: Option<Latency>,
    /// Share of requests (0..=1) answered with a random P500/P501 or an HTML 502/503.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = rate)]
    pub fault_rate: f64,
    /// Share of would-be-successful requests (0..=1) that create the user and then
    /// close the connection without answering.
    #[arg(long, value_name = "D", default_value_t = 0.0, value_parser = rate)]
    pub drop_rate: f64,
    /// Share of requests (0..=1) held for --hang-for, then answered 503 (nothing created).
    #[arg(long, value_name = "H", default_value_t = 0.0, value_parser = rate)]
    pub hang_rate: f64,
    /// How long a hung request is held.
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    pub hang_for: Duration,
    /// Seed for the fault dice, to replay a run.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
}

/// `--retry-after-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RetryAfterArg {
    /// Whole seconds, e.g. `Retry-After: 2`.
    Seconds,
    /// An HTTP date, e.g. `Retry-After: Thu, 26 Nov 2026 10:00:00 GMT`.
    HttpDate,
}

impl From<RetryAfterArg> for RetryAfterFormat {
    fn from(a: RetryAfterArg) -> Self {
        match a {
            RetryAfterArg::Seconds => RetryAfterFormat::Seconds,
            RetryAfterArg::HttpDate => RetryAfterFormat::HttpDate,
        }
    }
}

/// A probability: clap reports the flag name with this message.
fn rate(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number; give a share between 0 and 1"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1; give a share such as 0.05"))
    }
}

impl Args {
    /// The one conversion from flags to the sandbox's config.
    pub fn into_config(self) -> anyhow::Result<SandboxConfig> {
        let rate_limit = match self.rate_limit {
            None => None,
            Some(r) if !(r.is_finite() && r > 0.0) => {
                anyhow::bail!(
                    "--rate-limit must be a positive number of requests per second, not {r}"
                )
            }
            Some(per_second) => Some(RateLimit {
                per_second,
                burst: self
                    .rate_burst
                    .unwrap_or(per_second.ceil().min(f64::from(u32::MAX)) as u32)
                    .max(1),
            }),
        };
        let countries = |flag: &str, list: Vec<String>| -> anyhow::Result<Vec<String>> {
            list.into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .map(|c| {
                    if crate::ingest::countries::is_alpha2(&c) {
                        Ok(c)
                    } else {
                        anyhow::bail!(
                            "{flag}: {c:?} is not an ISO 3166-1 alpha-2 code in upper case"
                        )
                    }
                })
                .collect()
        };
        let defaults = SandboxConfig::default();
        Ok(SandboxConfig {
            listen: self.listen,
            api_key: self.api_key.unwrap_or(defaults.api_key),
            forbidden_countries: countries("--forbidden-countries", self.forbidden_countries)?,
            poa_countries: countries("--poa-countries", self.poa_countries)?,
            rate_limit,
            retry_after_format: self.retry_after_format.into(),
            latency: self.faults.latency,
            fault_rate: self.faults.fault_rate,
            drop_rate: self.faults.drop_rate,
            hang_rate: self.faults.hang_rate,
            hang_for: self.faults.hang_for,
            seed: self.faults.seed,
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let cfg = args.into_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // Registered before the first line is printed, so a signal sent as soon as
        // the address is known still stops the server cleanly.
        let signals = Signals::register()?;
        tokio::spawn(signals.cancel(shutdown.clone()));
        serve_cli(cfg, shutdown).await
    })?;
    Ok(Exit::Ok)
}

/// SIGINT or SIGTERM ends serving cleanly.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
                term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn cancel(mut self, token: CancellationToken) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        token.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: Args,
    }

    fn parse(extra: &[&str]) -> Result<SandboxConfig, String> {
        let argv = std::iter::once("sandbox").chain(extra.iter().copied());
        let w = Wrap::try_parse_from(argv).map_err(|e| e.to_string())?;
        w.args.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn flags_become_a_config_and_bad_values_are_refused_with_the_reason() {
        let cfg = parse(&[
            "--rate-limit",
            "20",
            "--latency",
            "10ms..80ms",
            "--fault-rate",
            "0.1",
            "--retry-after-format",
            "http-date",
            "--forbidden-countries",
            "RU,KP",
        ])
        .expect("valid flags");
        assert_eq!(
            cfg.rate_limit,
            Some(RateLimit {
                per_second: 20.0,
                burst: 20
            })
        );
        assert_eq!(cfg.retry_after_format, RetryAfterFormat::HttpDate);
        assert_eq!(cfg.forbidden_countries, ["RU", "KP"]);
        assert_eq!(cfg.fault_rate, 0.1);

        for (flags, needle) in [
            (&["--fault-rate", "1.5"][..], "outside 0..=1"),
            (&["--drop-rate", "abc"][..], "not a number"),
            (&["--latency", "fast"][..], "not a duration"),
            (
                &["--rate-limit", "0"][..],
                "--rate-limit must be a positive",
            ),
            (&["--poa-countries", "gb"][..], "--poa-countries: \"gb\""),
            (&["--rate-burst", "3"][..], "--rate-limit"),
        ] {
            let err = parse(flags).expect_err(needle);
            assert!(err.contains(needle), "{flags:?}: {err}");
        }
    }
}
