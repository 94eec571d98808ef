//! `p100-onboard report`: the ledger's rows in one state, as CSV or JSON. For
//! `rejected`, `failed` and `invalid` the CSV carries the source file's original
//! columns, re-read from the file, so it can be fixed and fed back.

use crate::exit::Exit;
use crate::ingest::{reread_lines, today_utc, IngestOptions};
use crate::ledger::store::LedgerRow;
use crate::ledger::{Ledger, State};
use crate::output::{create_private, neutralise};
use anyhow::Context;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  p100-onboard report --state rejected -o rejected.csv\n  \
    p100-onboard report --state created --format json\n\n\
    The CSV of rejected, failed or invalid rows has the source file's columns plus \
    line,state,errorCode,errorMessage: fix the cells and import it again."
)]
pub struct Args {
    #[command(flatten)]
    pub ledger: super::status::LedgerArg,

    /// Which rows: invalid, pending, in_flight, created, exists, rejected or failed.
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: State,

    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,

    /// Write here instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_state(s: &str) -> Result<State, String> {
    s.parse()
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let ledger = Ledger::open(&args.ledger.path, false)?;
    let rows = ledger.rows_in_state(args.state)?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            // Never the ledger nor any file it came from, whatever this state holds.
            let mut protected: Vec<_> = ledger
                .source_files()?
                .into_iter()
                .map(|f| (f, "a source file of this ledger"))
                .collect();
            protected.push((args.ledger.path.clone(), "the ledger itself"));
            Box::new(std::io::BufWriter::new(create_private(
                path, "-o", &protected,
            )?))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        Format::Csv if matches!(args.state, State::Rejected | State::Failed | State::Invalid) => {
            write_fixable_csv(&mut out, &rows)?
        }
        Format::Csv => write_plain_csv(&mut out, &rows)?,
    }
    out.flush()?;
    if let Some(path) = &args.output {
        eprintln!(
            "{} {} rows written to {}",
            rows.len(),
            args.state,
            path.display()
        );
    }
    Ok(Exit::Ok)
}

fn write_plain_csv(out: &mut dyn Write, rows: &[LedgerRow]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "externalUserId",
        "state",
        "sourceFile",
        "line",
        "userId",
        "poaRequiredForExtended",
        "attempts",
        "lastHttpStatus",
        "errorCode",
        "errorName",
        "errorMessage",
        "reconciled",
        "changedAfterCreation",
    ])?;
    for r in rows {
        let cells = [
            r.external_user_id.clone(),
            r.state.clone(),
            r.source_file.clone(),
            r.source_line.to_string(),
            r.user_id.clone().unwrap_or_default(),
            r.poa_required.map(|b| b.to_string()).unwrap_or_default(),
            r.attempts.to_string(),
            r.last_http_status
                .map(|s| s.to_string())
                .unwrap_or_default(),
            r.error_code.clone().unwrap_or_default(),
            r.error_name.clone().unwrap_or_default(),
            r.error_message.clone().unwrap_or_default(),
            r.reconciled.to_string(),
            r.changed_after_creation.to_string(),
        ];
        w.write_record(cells.iter().map(|c| neutralise(c.as_bytes())))?;
    }
    w.flush()?;
    Ok(())
}

/// One CSV per source header: rows from files with different columns cannot share
/// one header, so each file's rows come under its own header line group.
fn write_fixable_csv(out: &mut dyn Write, rows: &[LedgerRow]) -> anyhow::Result<()> {
    let mut by_file: BTreeMap<&str, Vec<&LedgerRow>> = BTreeMap::new();
    for r in rows {
        by_file.entry(r.source_file.as_str()).or_default().push(r);
    }
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut header_written: Option<csv::ByteRecord> = None;
    for (file, rows) in by_file {
        let opts = IngestOptions {
            path: PathBuf::from(file),
            mapping: None,
            delimiter: None,
            terms_accepted: true,
            for_import: false,
            min_age: 0,
            today: today_utc(),
        };
        let lines: HashSet<u64> = rows.iter().map(|r| r.source_line).collect();
        let (headers, records) = reread_lines(&opts, &lines)
            .with_context(|| format!("re-reading {file} for the report (was it moved?)"))?;
        let mut header = headers.clone();
        for extra in ["line", "state", "errorCode", "errorMessage"] {
            header.push_field(extra.as_bytes());
        }
        if header_written.as_ref() != Some(&header) {
            w.write_byte_record(&header)?;
            header_written = Some(header);
        }
        let by_line: std::collections::HashMap<u64, csv::ByteRecord> =
            records.into_iter().collect();
        for r in rows {
            let mut rec: Vec<Vec<u8>> = match by_line.get(&r.source_line) {
                Some(orig) => orig.iter().map(|c| neutralise(c).into_owned()).collect(),
                None => vec![Vec::new(); headers.len()],
            };
            rec.push(r.source_line.to_string().into_bytes());
            rec.push(r.state.clone().into_bytes());
            rec.push(neutralise(r.error_code.as_deref().unwrap_or("").as_bytes()).into_owned());
            rec.push(neutralise(r.error_message.as_deref().unwrap_or("").as_bytes()).into_owned());
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    Ok(())
}
