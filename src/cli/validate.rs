//! `validate`: the dry run. Exactly the reader and rules `import` uses, no API call.

use super::input::InputArgs;
use crate::exit::Exit;
use crate::ingest::{problems_text, CsvSource, IngestOptions, NormKind, Normalisations, Row, Rule};
use crate::output::neutralise;
use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How many problem lines the summary prints.
const SHOWN_PROBLEMS: usize = 20;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  p100-onboard validate customers.csv --terms-accepted
  p100-onboard validate export.csv --mapping mapping.toml --errors-out invalid.csv

Exit codes: 0 every row valid, 1 some rows invalid, 2 the file or its header is unusable.")]
pub struct Args {
    /// The CSV file to check.
    pub file: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Write the invalid rows here as CSV: `line`, `errors`, then the original columns.
    #[arg(long, value_name = "FILE")]
    pub errors_out: Option<PathBuf>,
}

/// Counts for the summary.
#[derive(Debug, Default)]
struct Summary {
    rows: u64,
    valid: u64,
    invalid: u64,
    /// Invalid rows per rule (a row breaking a rule twice counts once).
    by_rule: [u64; Rule::ALL.len()],
    normalised: Normalisations,
    shown: Vec<String>,
}

impl Summary {
    fn add(&mut self, row: &Row) {
        self.rows += 1;
        self.normalised.merge(&row.normalised);
        match &row.verdict {
            Ok(_) => self.valid += 1,
            Err(problems) => {
                self.invalid += 1;
                for (i, rule) in Rule::ALL.iter().enumerate() {
                    if problems.iter().any(|p| p.rule == *rule) {
                        self.by_rule[i] += 1;
                    }
                }
                if self.shown.len() < SHOWN_PROBLEMS {
                    let id = match &row.external_user_id {
                        Some(id) => format!(" ({id})"),
                        None => String::new(),
                    };
                    self.shown.push(format!(
                        "  line {}{id}: {}",
                        row.line,
                        problems_text(problems)
                    ));
                }
            }
        }
    }

    fn print(&self, out: &mut impl Write, file: &Path, ignored: &[String]) -> std::io::Result<()> {
        writeln!(out, "{}", file.display())?;
        writeln!(out, "rows read: {}", self.rows)?;
        writeln!(out, "valid: {}", self.valid)?;
        writeln!(out, "invalid: {}", self.invalid)?;
        for (i, rule) in Rule::ALL.iter().enumerate() {
            if self.by_rule[i] > 0 {
                writeln!(out, "  {}: {}", rule.as_str(), self.by_rule[i])?;
            }
        }
        writeln!(out, "normalisations applied: {}", self.normalised.total())?;
        for kind in NormKind::ALL {
            let n = self.normalised.get(kind);
            if n > 0 {
                writeln!(out, "  {}: {n}", kind.as_str())?;
            }
        }
        if ignored.is_empty() {
            writeln!(out, "ignored columns: none")?;
        } else {
            writeln!(out, "ignored columns: {}", ignored.join(", "))?;
        }
        if !self.shown.is_empty() {
            writeln!(
                out,
                "first problems ({} of {} invalid rows):",
                self.shown.len(),
                self.invalid
            )?;
            for line in &self.shown {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let opts = IngestOptions {
        for_import: false,
        ..args.input.to_options(args.file.clone())?
    };
    let mut source = CsvSource::open(&opts)?;
    let mut errors = match &args.errors_out {
        Some(path) => Some(ErrorsOut::create(path, &args.file, source.raw_headers())?),
        None => None,
    };
    let mut summary = Summary::default();
    while let Some(row) = source.next_row() {
        let row = row?;
        summary.add(&row);
        if let (Some(out), Err(problems)) = (errors.as_mut(), &row.verdict) {
            out.write(&row, &problems_text(problems))?;
        }
    }
    if let Some(out) = errors {
        out.finish()?;
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    summary.print(&mut lock, &args.file, source.ignored_columns())?;
    lock.flush()?;
    Ok(if summary.invalid == 0 {
        Exit::Ok
    } else {
        Exit::Partial
    })
}

/// The `--errors-out` CSV. `line` and `errors` come first so they stay aligned even
/// when a row has more or fewer cells than the header.
struct ErrorsOut {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
}

impl ErrorsOut {
    fn create(path: &Path, input: &Path, headers: &csv::ByteRecord) -> anyhow::Result<ErrorsOut> {
        let file = crate::output::create_private(
            path,
            "--errors-out",
            &[(input.to_path_buf(), "the input file itself")],
        )?;
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(BufWriter::new(file));
        let mut header = csv::ByteRecord::new();
        header.push_field(b"line");
        header.push_field(b"errors");
        for cell in headers.iter() {
            header.push_field(&neutralise(cell));
        }
        writer
            .write_byte_record(&header)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(ErrorsOut {
            path: path.to_path_buf(),
            writer,
        })
    }

    fn write(&mut self, row: &Row, errors: &str) -> anyhow::Result<()> {
        let mut out = csv::ByteRecord::new();
        out.push_field(row.line.to_string().as_bytes());
        out.push_field(&neutralise(errors.as_bytes()));
        for cell in row.record.iter().flatten() {
            out.push_field(&neutralise(cell));
        }
        self.writer
            .write_byte_record(&out)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}
