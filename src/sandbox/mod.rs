//! An in-memory emulator of `POST /v1/user/balances/crypto-and-fiat`, for
//! rehearsals and tests: auth, validation, uniqueness, forbidden countries, a rate
//! limit, and the failures real networks produce (faults, drops, hangs).
//!
//! `GET /_sandbox/stats` and `GET /_sandbox/users` let tests see what the server saw.

mod config;
mod dice;
mod fxhash;
#[cfg(test)]
mod http_tests;
mod ratelimit;
mod server;
mod stats;
mod store;
mod validate;

pub use config::{
    parse_duration, Latency, RateLimit, RetryAfterFormat, SandboxConfig,
    DEFAULT_FORBIDDEN_COUNTRIES, DEFAULT_POA_COUNTRIES, DEMO_API_KEY,
};
pub use server::ENDPOINT;
pub use stats::StatsSnapshot;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use secrecy::ExposeSecret;
use server::Shared;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running sandbox. Dropping it stops accepting; [`Sandbox::stop`] also waits.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    accept: JoinHandle<()>,
    /// Closes once every connection task has ended.
    connections_done: mpsc::Receiver<()>,
}

impl Sandbox {
    /// Binds and starts serving in the background; returns at once.
    pub async fn start(cfg: SandboxConfig) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared::new(&cfg, shutdown.clone()));
        let (done_tx, connections_done) = mpsc::channel(1);
        let accept = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            shutdown.clone(),
            done_tx,
        ));
        Ok(Sandbox {
            addr,
            shared,
            shutdown,
            accept,
            connections_done,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, ready to be a client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The same numbers as `GET /_sandbox/stats`.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Stops accepting, lets in-flight requests finish (hung ones answer at once),
    /// and waits for every connection to close, at most a few seconds.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let _ = (&mut self.accept).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.connections_done.recv()).await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    done: mpsc::Sender<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("sandbox accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let _done = done;
            let service = service_fn(move |req| server::handle(shared.clone(), req));
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

/// What `p100-onboard sandbox` runs: prints `listening on http://ADDR` as the first
/// line of stdout (scripts wait for it), names the demo key when no key was chosen
/// (never a chosen one), then serves until `shutdown` fires.
pub async fn serve_cli(cfg: SandboxConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let demo_key = cfg.api_key.expose_secret() == DEMO_API_KEY;
    let sandbox = Sandbox::start(cfg).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sandbox.base_url())?;
        if demo_key {
            writeln!(
                out,
                "api key: {DEMO_API_KEY} (the demo key; choose one with --api-key or P100_API_KEY)"
            )?;
        } else {
            writeln!(out, "api key: the one given (not shown)")?;
        }
        out.flush()?;
    }
    shutdown.cancelled().await;
    let stats = sandbox.stats();
    sandbox.stop().await;
    eprintln!(
        "sandbox stopped: {} requests, {} users created",
        stats.requests, stats.created
    );
    Ok(())
}
