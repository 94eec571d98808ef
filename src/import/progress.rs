//! Live progress: bars on a terminal, a plain line every interval elsewhere (cron,
//! pipes, CI), nothing with `--quiet`. Figures come from the shared [`Tally`].

use super::pacer::Pacer;
use super::tally::Tally;
use indicatif::ProgressStyle;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// indicatif bars on the terminal (stderr).
    Bars,
    /// A plain line on stderr every interval; no escape codes.
    Lines(Duration),
    /// Nothing until the summary.
    Quiet,
}

/// Rows whose fate this run has settled: skipped, recorded invalid, or answered.
fn settled(t: &Tally) -> u64 {
    let g = Tally::get;
    let read = g(&t.rows_read);
    read.saturating_sub(t.to_send()) + t.finished() + g(&t.returned_to_pending)
}

/// The counters line shared by bars and plain lines.
fn counters(t: &Tally) -> String {
    let g = Tally::get;
    format!(
        "created {} · already done {} · rejected {} · failed {} · invalid {}",
        g(&t.created) + g(&t.reconciled),
        g(&t.skip_done) + g(&t.skip_changed_after_creation),
        g(&t.rejected) + g(&t.exists),
        g(&t.failed),
        g(&t.invalid)
    )
}

/// Counts the file's lines (a quick pass), to size the bar and the ETA. Records
/// with quoted newlines make it an upper bound, which is fine for an estimate.
pub fn estimate_rows(path: &std::path::Path) -> Option<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    let mut last = b'\n';
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Some(lines.saturating_sub(1))
}

/// Runs until `done` fires, then draws a last time.
pub async fn show(
    mode: ProgressMode,
    tally: Arc<Tally>,
    pacer: Arc<Pacer>,
    total: Option<u64>,
    done: CancellationToken,
) {
    match mode {
        ProgressMode::Quiet => done.cancelled().await,
        ProgressMode::Lines(every) => lines(every, &tally, &pacer, total, &done).await,
        ProgressMode::Bars => bars(&tally, &pacer, total, &done).await,
    }
}

async fn lines(
    every: Duration,
    t: &Tally,
    pacer: &Pacer,
    total: Option<u64>,
    done: &CancellationToken,
) {
    let start = Instant::now();
    let mut last = (Instant::now(), Tally::get(&t.requests));
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now = Instant::now();
        let requests = Tally::get(&t.requests);
        let current = (requests - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
        last = (now, requests);
        let elapsed = start.elapsed().as_secs_f64();
        let average = requests as f64 / elapsed.max(1e-3);
        let s = settled(t);
        let of = match total {
            Some(n) => format!("{s}/{n} rows ({:.1}%)", 100.0 * s as f64 / n.max(1) as f64),
            None => format!("{s} rows"),
        };
        let eta = match total {
            Some(n) if s > 0 && n > s => {
                let secs = (n - s) as f64 * elapsed / s as f64;
                format!(
                    ", ETA {}",
                    humantime::format_duration(Duration::from_secs(secs as u64))
                )
            }
            _ => String::new(),
        };
        let paused = match pacer.paused_until() {
            Some(until) => format!(
                ", paused by 429 for {:.1}s",
                until.saturating_duration_since(now).as_secs_f64()
            ),
            None => String::new(),
        };
        eprintln!(
            "progress: {of}; {}; {current:.1} req/s now, {average:.1} avg{eta}{paused}",
            counters(t)
        );
    }
}

async fn bars(t: &Tally, pacer: &Pacer, total: Option<u64>, done: &CancellationToken) {
    use tracing_indicatif::span_ext::IndicatifSpanExt;
    let span = tracing::info_span!("import");
    span.pb_set_style(
        &ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{wide_bar}] {pos}/{len} rows · {per_sec} · ETA {eta}\n  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    if let Some(n) = total {
        span.pb_set_length(n);
    }
    span.pb_start();
    let start = Instant::now();
    loop {
        let now = Instant::now();
        let average = Tally::get(&t.requests) as f64 / start.elapsed().as_secs_f64().max(1e-3);
        let paused = match pacer.paused_until() {
            Some(until) => format!(
                "  || paused by the server (429) for {:.1}s",
                until.saturating_duration_since(now).as_secs_f64()
            ),
            None => String::new(),
        };
        span.pb_set_position(settled(t));
        span.pb_set_message(&format!(
            "{} · {average:.1} req/s avg · rate {:.0}/s{paused}",
            counters(t),
            pacer.rate()
        ));
        tokio::select! {
            _ = done.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}
