//! `p100-onboard import`: flags, environment and config file merged into one
//! validated [`ImportConfig`]; then the run, its summary and its exit code.

use super::input::InputArgs;
use crate::api::{BaseUrl, STAGING_URL};
use crate::config_file::FileConfig;
use crate::exit::{Exit, FatalApiError};
use crate::import::progress::ProgressMode;
use crate::import::{self, ImportConfig, Outcome, Tally, Target};
use crate::logging::{self, LogFormat};
use anyhow::{bail, Context};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EXAMPLES: &str = "\
Examples:
  # Rehearse on the built-in sandbox
  p100-onboard import samples/customers.csv --sandbox --terms-accepted

  # Staging, key from the environment, 5 requests/s
  P100_API_KEY=... p100-onboard import customers.csv --rate 5 --terms-accepted

  # See what a run would do, without sending or writing anything
  p100-onboard import customers.csv --dry-run --terms-accepted

  # Retry only the rows that failed last time
  p100-onboard import customers.csv --only-failed --terms-accepted";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The CSV file of customers to create.
    pub file: PathBuf,

    #[command(flatten)]
    pub input: InputArgs,

    /// Ledger file recording every row's state; shared by runs of different files.
    /// [default: ./p100-onboard.db]
    #[arg(long, env = "P100_LEDGER", value_name = "PATH")]
    pub ledger: Option<PathBuf>,

    /// API base URL. Plain http:// is refused except on loopback.
    /// [default: https://partner-api-stage.p100.io]
    #[arg(
        long,
        env = "P100_BASE_URL",
        value_name = "URL",
        conflicts_with = "sandbox"
    )]
    pub base_url: Option<String>,

    /// Read the API key from this file (must not be readable by others).
    /// Otherwise the key comes from P100_API_KEY, or a prompt on a terminal.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Requests per second at most. [default: 10]
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,

    /// Requests allowed back to back; 1 paces requests evenly. [default: 1]
    #[arg(long, value_name = "N")]
    pub burst: Option<u32>,

    /// Requests in flight at once. [default: 8]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Tries per row per run before it is marked failed. [default: 5]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// Time limit of one request, e.g. 30s. [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,

    /// Time limit to connect, e.g. 10s. [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub connect_timeout: Option<Duration>,

    /// First retry waits up to this long, doubling each time (full jitter). [default: 500ms]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub backoff_base: Option<Duration>,

    /// Longest wait between retries. [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub backoff_cap: Option<Duration>,

    /// Longest pool-wide pause a 429's Retry-After can impose. [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_pause: Option<Duration>,

    /// Retry rows that failed or whose outcome is unknown; start no row never tried.
    #[arg(long)]
    pub only_failed: bool,

    /// Read, validate and consult the ledger; print what a real run would do; send
    /// and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Start the built-in sandbox on a free loopback port and import into it.
    #[arg(long)]
    pub sandbox: bool,

    /// Write the final summary as JSON to this file (shape in the README).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Config file. [default: ./p100-onboard.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print only errors and the final summary (for cron).
    #[arg(short, long)]
    pub quiet: bool,

    /// More log detail: -v for every row's outcome, -vv for every attempt.
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Log format on stderr: text, or json for log shippers.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// When stderr is not a terminal, print a progress line this often.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub progress_interval: Duration,
}

impl Args {
    /// The one conversion: flags > environment > config file > defaults.
    pub fn into_config(self) -> anyhow::Result<(ImportConfig, Option<PathBuf>)> {
        let file = FileConfig::load(self.config.as_deref())?;
        let mut input = self.input.to_options(self.file.clone())?;
        if input.mapping.is_none() {
            input.mapping = file.mapping.clone();
        }
        if input.delimiter.is_none() {
            if let Some(d) = &file.delimiter {
                input.delimiter = Some(super::input::parse_delimiter(d)?);
            }
        }
        let dur =
            |flag: Option<Duration>, name: &str, value: &Option<String>, default: Duration| {
                anyhow::Ok(match flag {
                    Some(d) => d,
                    None => file.duration(name, value)?.unwrap_or(default),
                })
            };
        let rate = self.rate.or(file.rate).unwrap_or(10.0);
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rate must be a positive number of requests per second, not {rate}");
        }
        let burst = self.burst.or(file.burst).unwrap_or(1);
        let concurrency = self.concurrency.or(file.concurrency).unwrap_or(8);
        if !(1..=1024).contains(&concurrency) {
            bail!("--concurrency must be between 1 and 1024, not {concurrency}");
        }
        let max_attempts = self.max_attempts.or(file.max_attempts).unwrap_or(5);
        if max_attempts == 0 {
            bail!("--max-attempts must be at least 1");
        }
        let target = if self.sandbox {
            Target::Sandbox
        } else {
            let url = self
                .base_url
                .or(file.base_url.clone())
                .unwrap_or_else(|| STAGING_URL.to_string());
            let base_url = BaseUrl::parse(&url).with_context(|| "--base-url".to_string())?;
            let api_key = if self.dry_run {
                SecretString::from("")
            } else {
                read_api_key(self.api_key_file.as_deref())?
            };
            Target::Api { base_url, api_key }
        };
        let cfg = ImportConfig {
            input,
            ledger: self
                .ledger
                .or(file.ledger.clone())
                .unwrap_or_else(|| PathBuf::from("p100-onboard.db")),
            target,
            rate,
            burst: burst.max(1),
            concurrency,
            max_attempts,
            timeout: dur(
                self.timeout,
                "timeout",
                &file.timeout,
                Duration::from_secs(30),
            )?,
            connect_timeout: dur(
                self.connect_timeout,
                "connect-timeout",
                &file.connect_timeout,
                Duration::from_secs(10),
            )?,
            backoff_base: dur(
                self.backoff_base,
                "backoff-base",
                &file.backoff_base,
                Duration::from_millis(500),
            )?,
            backoff_cap: dur(
                self.backoff_cap,
                "backoff-cap",
                &file.backoff_cap,
                Duration::from_secs(30),
            )?,
            max_pause: dur(
                self.max_pause,
                "max-pause",
                &file.max_pause,
                Duration::from_secs(60),
            )?,
            only_failed: self.only_failed,
            dry_run: self.dry_run,
            progress: progress_mode(self.quiet, self.dry_run, self.progress_interval),
        };
        Ok((cfg, self.summary_json))
    }
}

/// Bars on a terminal, plain lines elsewhere, nothing when quiet or dry.
fn progress_mode(quiet: bool, dry_run: bool, interval: Duration) -> ProgressMode {
    use std::io::IsTerminal;
    if quiet || dry_run {
        ProgressMode::Quiet
    } else if std::io::stderr().is_terminal() {
        ProgressMode::Bars
    } else {
        ProgressMode::Lines(interval.max(Duration::from_millis(100)))
    }
}

/// The key from `--api-key-file`, `P100_API_KEY` or a prompt; never echoed.
fn read_api_key(file: Option<&Path>) -> anyhow::Result<SecretString> {
    if let Some(path) = file {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("reading --api-key-file {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "--api-key-file {} can be read by other users; fix it with: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --api-key-file {}", path.display()))?;
        let key = text.trim();
        if key.is_empty() {
            bail!("--api-key-file {} is empty", path.display());
        }
        return Ok(SecretString::from(key.to_string()));
    }
    if let Ok(key) = std::env::var("P100_API_KEY") {
        if !key.trim().is_empty() {
            return Ok(SecretString::from(key.trim().to_string()));
        }
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let key = super::prompt::secret("P100 API key (not echoed): ")
            .context("reading the API key from the terminal")?;
        if !key.trim().is_empty() {
            return Ok(SecretString::from(key.trim().to_string()));
        }
    }
    bail!(
        "no API key: set P100_API_KEY, or pass --api-key-file FILE (chmod 600), \
         or use --sandbox to rehearse locally"
    )
}

/// Runs an import with signal handling: the first SIGINT/SIGTERM stops cleanly, the
/// second exits at once (rows in flight are reconciled by the next run).
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let (format, verbose, quiet) = (args.log_format, args.verbose, args.quiet);
    let (cfg, summary_json) = args.into_config()?;
    logging::init(format, verbose, quiet, cfg.progress == ProgressMode::Bars);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        let tally = Arc::new(Tally::default());
        let summary = import::run(cfg, shutdown, tally).await?;
        print!("{}", summary.render());
        if let Some(path) = summary_json {
            let json = serde_json::to_string_pretty(&summary)?;
            std::fs::write(&path, json + "\n")
                .with_context(|| format!("writing --summary-json {}", path.display()))?;
        }
        match &summary.outcome {
            Outcome::Fatal(reason) => Err(FatalApiError(format!(
                "{reason}. Nothing was marked failed: fix the key (P100_API_KEY or \
                 --api-key-file) or the allow-list, then run the same command again."
            ))
            .into()),
            Outcome::LedgerError(e) => bail!("{e}"),
            Outcome::ReadError(e) => bail!("{e}"),
            _ => Ok(summary.exit()),
        }
    })
}

async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    eprintln!("stopping: finishing the requests in flight (press Ctrl-C again to quit at once)");
    shutdown.cancel();
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    eprintln!("quitting at once: rows in flight are reconciled by the next run");
    std::process::exit(Exit::Interrupted as i32);
}
