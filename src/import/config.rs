//! The validated configuration of one import. Built from flags, environment and
//! config file by `cli::import`; the pipeline sees nothing else.

use crate::api::BaseUrl;
use crate::ingest::IngestOptions;
use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A sandbox started in-process on a free loopback port.
    Sandbox,
    /// A real (or separately started) API.
    Api {
        base_url: BaseUrl,
        api_key: SecretString,
    },
}

impl Target {
    /// The name a ledger is bound to.
    pub fn environment(&self) -> String {
        match self {
            Target::Sandbox => "sandbox".to_string(),
            Target::Api { base_url, .. } => base_url.as_str().trim_end_matches('/').to_string(),
        }
    }
}

/// Every knob of a run, already checked.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    pub input: IngestOptions,
    pub ledger: PathBuf,
    pub target: Target,
    /// Requests per second at most.
    pub rate: f64,
    pub burst: u32,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest pool-wide pause a `Retry-After` can impose.
    pub max_pause: Duration,
    pub only_failed: bool,
    pub dry_run: bool,
    pub progress: super::progress::ProgressMode,
}

impl ImportConfig {
    /// The options recorded in the `runs` table: everything but the key.
    pub fn options_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rate": self.rate,
            "burst": self.burst,
            "concurrency": self.concurrency,
            "max_attempts": self.max_attempts,
            "timeout_ms": self.timeout.as_millis() as u64,
            "only_failed": self.only_failed,
            "min_age": self.input.min_age,
            "terms_accepted_flag": self.input.terms_accepted,
        })
    }
}
