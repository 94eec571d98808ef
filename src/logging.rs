//! Log set-up: text or JSON on stderr, routed around the progress bars on a
//! terminal so a log line never garbles them. Logs name rows by line and
//! `externalUserId` only; personal data never reaches them.

use std::io::IsTerminal;
use tracing_indicatif::IndicatifLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Whether colours may be used on stderr: a terminal, and `NO_COLOR` unset.
pub fn colours() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Installs the global subscriber. `bars` routes logs through tracing-indicatif.
/// Returns false if one was already installed (tests run several commands).
pub fn init(format: LogFormat, verbose: u8, quiet: bool, bars: bool) -> bool {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Our crate at `level`; dependencies only warn.
    let filter = EnvFilter::try_from_env("P100_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,p100_onboard={level}")));
    let registry = tracing_subscriber::registry();
    let result = match (format, bars) {
        (LogFormat::Json, _) => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
        (LogFormat::Text, true) => {
            let indicatif = IndicatifLayer::new();
            let writer = indicatif.get_stderr_writer();
            registry
                .with(
                    fmt::layer()
                        .with_target(false)
                        .with_ansi(colours())
                        .with_writer(writer)
                        .with_filter(filter),
                )
                .with(
                    indicatif.with_filter(tracing_subscriber::filter::filter_fn(|m| {
                        // Only our own progress span becomes a bar.
                        m.is_span() && m.target().starts_with("p100_onboard")
                    })),
                )
                .try_init()
        }
        (LogFormat::Text, false) => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(colours())
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
    result.is_ok()
}
