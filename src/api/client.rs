//! One request to Create User Account, with the network's failures turned into
//! outcomes too.

use super::base_url::BaseUrl;
use super::classify::{classify, Outcome};
use crate::domain::ValidatedUser;
use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use std::error::Error as _;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

/// The endpoint's path under the base URL.
pub const CREATE_USER_PATH: &str = "/v1/user/balances/crypto-and-fiat";

/// How to reach the API. `Debug` shows the key as `[REDACTED]` (secrecy's own).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: BaseUrl,
    pub api_key: SecretString,
    /// Whole-request limit: after it the outcome is unknown.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_idle_per_host: usize,
}

/// One answer and how long it took.
#[derive(Debug, Clone)]
pub struct Answer {
    pub outcome: Outcome,
    /// `None` when no response arrived.
    pub http_status: Option<u16>,
    pub latency: Duration,
}

/// A pooled HTTPS client, built once. TLS verification cannot be turned off.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    endpoint: String,
    base_url: BaseUrl,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(cfg: ClientConfig) -> anyhow::Result<Self> {
        let mut key = HeaderValue::from_str(cfg.api_key.expose_secret()).map_err(|_| {
            anyhow::anyhow!("the API key contains characters not allowed in an HTTP header")
        })?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        let mut builder = reqwest::Client::builder();
        if cfg.base_url.is_loopback() {
            // The sandbox is on this machine: a proxy from the environment would only
            // get in the way.
            builder = builder.no_proxy();
        }
        let http = builder
            .use_rustls_tls()
            .default_headers(headers)
            .user_agent(concat!("p100-onboard/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .pool_max_idle_per_host(cfg.max_idle_per_host)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client")?;
        Ok(ApiClient {
            http,
            endpoint: format!("{}{CREATE_USER_PATH}", cfg.base_url.as_str()),
            base_url: cfg.base_url,
        })
    }

    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    /// Sends one Create User Account request. Never fails: every failure is an
    /// [`Outcome`].
    pub async fn create_user(&self, user: &ValidatedUser) -> Answer {
        let started = Instant::now();
        let sent = self.http.post(&self.endpoint).json(user).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    outcome: network_failure(&e),
                    http_status: None,
                    latency: started.elapsed(),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let outcome = match response.bytes().await {
            Ok(body) => classify(status, retry_after.as_deref(), &body, SystemTime::now()),
            // The head arrived but the body did not: a 201 may be hiding in there.
            Err(e) => network_failure(&e),
        };
        Answer {
            outcome,
            http_status: Some(status),
            latency: started.elapsed(),
        }
    }
}

/// A request that got no (complete) answer. Only a failed connect proves the
/// server never saw it; anything later may have created the user.
fn network_failure(e: &reqwest::Error) -> Outcome {
    let reached = !e.is_connect();
    let what = if e.is_timeout() && reached {
        "timed out waiting for the answer"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed before a complete answer"
    };
    Outcome::Retryable {
        reason: format!("{what}: {}", error_chain(e)),
        code: None,
        retry_after: None,
        may_have_reached_server: reached,
        rate_limited: false,
    }
}

/// The error and its causes on one line (reqwest's own message hides the cause).
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
