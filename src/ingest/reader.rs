//! [`CsvSource`]: opens the file, settles dialect and header, then yields one [`Row`]
//! per record, validated, in constant memory apart from duplicate keys.

use super::dialect::{detect_delimiter, BOM};
use super::dups::Dups;
use super::fingerprint::fingerprint;
use super::header::{load_mapping, map_columns, ColumnMap};
use super::normalise::{normalise_cell, Normalisations};
use super::problem::{Problem, Rule};
use super::validate::{resolve_terms, validate, Rules, TermsSource, MAX_LEN};
use super::{IngestError, IngestOptions};
use crate::domain::{Field, ValidatedUser};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// One record of the file, checked.
#[derive(Debug)]
pub struct Row {
    /// Physical line the record starts on (header = 1).
    pub line: u64,
    /// Trimmed id, `None` if empty, absent or unusable (control characters, too long).
    pub external_user_id: Option<String>,
    /// See [`super::fingerprint`]: stable hash of the normalised mapped content.
    pub fingerprint: u64,
    /// The fields exactly as read, for `--errors-out` and reports.
    pub record: csv::ByteRecord,
    pub verdict: Result<ValidatedUser, Vec<Problem>>,
    /// What normalisation changed in this row.
    pub normalised: Normalisations,
}

type Csv = csv::Reader<BufReader<File>>;

/// An opened, header-checked input file.
pub struct CsvSource {
    path: PathBuf,
    reader: Csv,
    raw_headers: csv::ByteRecord,
    headers: csv::StringRecord,
    map: ColumnMap,
    rules: Rules,
    dups: Dups,
    bom_len: u64,
    delimiter: u8,
    done: bool,
}

/// Opens the file with its dialect settled and reads the header record.
fn open_raw(opts: &IngestOptions) -> Result<(Csv, csv::ByteRecord, u64, u8), IngestError> {
    let path = &opts.path;
    let file = File::open(path).map_err(|source| IngestError::Open {
        path: path.clone(),
        source,
    })?;
    let mut buf = BufReader::with_capacity(1 << 18, file);
    let head = buf.fill_buf().map_err(|source| IngestError::Open {
        path: path.clone(),
        source,
    })?;
    let bom_len = if head.starts_with(BOM) { BOM.len() } else { 0 };
    let delimiter = opts
        .delimiter
        .unwrap_or_else(|| detect_delimiter(&head[bom_len..]));
    buf.consume(bom_len);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 16)
        .from_reader(buf);
    let mut header = csv::ByteRecord::new();
    match read_record(&mut reader, &mut header) {
        Ok(true) => {}
        Ok(false) => return Err(IngestError::Empty { path: path.clone() }),
        Err(source) => {
            return Err(IngestError::Read {
                path: path.clone(),
                line: 1,
                source,
            })
        }
    }
    Ok((reader, header, bom_len as u64, delimiter))
}

/// Reads the next non-blank record. Records end at `\n` only, and a `\r` before it is
/// dropped here: csv's own CRLF handling dates each record from the previous line's
/// `\n`, which would put every line number one too low in CRLF files.
fn read_record(reader: &mut Csv, record: &mut csv::ByteRecord) -> csv::Result<bool> {
    loop {
        if !reader.read_byte_record(record)? {
            return Ok(false);
        }
        let n = record.len();
        if let Some(last) = record.get(n - 1).filter(|l| l.ends_with(b"\r")) {
            let kept = last[..last.len() - 1].to_vec();
            record.truncate(n - 1);
            record.push_field(&kept);
        }
        if !(record.len() == 1 && record[0].is_empty()) {
            return Ok(true);
        }
    }
}

impl CsvSource {
    pub fn open(opts: &IngestOptions) -> Result<CsvSource, IngestError> {
        let (reader, raw_headers, bom_len, delimiter) = open_raw(opts)?;
        let path = opts.path.clone();
        let mut names = Vec::with_capacity(raw_headers.len());
        let mut offset = bom_len;
        for cell in raw_headers.iter() {
            match std::str::from_utf8(cell) {
                Ok(s) => names.push(s.to_string()),
                Err(e) => {
                    return Err(IngestError::HeaderEncoding {
                        path,
                        offset: offset + e.valid_up_to() as u64,
                    })
                }
            }
            offset += cell.len() as u64 + 1;
        }
        let headers = csv::StringRecord::from(names.clone());
        let trimmed: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
        let mapping = match &opts.mapping {
            Some(m) => load_mapping(m)?,
            None => HashMap::new(),
        };
        let map = map_columns(&path, &trimmed, &mapping, delimiter)?;
        let has_column = map.columns[Field::HasAcceptedP100Tc.index()].is_some();
        let terms = match (has_column, opts.terms_accepted) {
            (true, false) => TermsSource::Column,
            (true, true) => TermsSource::ColumnElseFlag,
            (false, true) => TermsSource::AssertedByFlag,
            (false, false) => return Err(IngestError::NoTermsSource { path }),
        };
        Ok(CsvSource {
            path,
            reader,
            raw_headers,
            headers,
            map,
            rules: Rules {
                today: opts.today,
                min_age: opts.min_age,
                terms,
            },
            dups: Dups::default(),
            bom_len,
            delimiter,
            done: false,
        })
    }

    /// Header names as written in the file.
    pub fn headers(&self) -> &csv::StringRecord {
        &self.headers
    }

    /// Header cells as bytes, for writing them back out unchanged.
    pub fn raw_headers(&self) -> &csv::ByteRecord {
        &self.raw_headers
    }

    /// Columns no field reads, in file order.
    pub fn ignored_columns(&self) -> &[String] {
        &self.map.ignored
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    pub fn terms_source(&self) -> TermsSource {
        self.rules.terms
    }

    /// The next record, checked. `Err` only for I/O failures that end the file.
    pub fn next_row(&mut self) -> Option<Result<Row, IngestError>> {
        if self.done {
            return None;
        }
        let mut record = csv::ByteRecord::new();
        match read_record(&mut self.reader, &mut record) {
            Ok(true) => Some(Ok(self.check(record))),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(source) => {
                self.done = true;
                let line = self.reader.position().line();
                Some(Err(IngestError::Read {
                    path: self.path.clone(),
                    line,
                    source,
                }))
            }
        }
    }

    fn check(&mut self, record: csv::ByteRecord) -> Row {
        let pos = record
            .position()
            .cloned()
            .unwrap_or_else(csv::Position::new);
        let line = pos.line();
        let mut problems = Vec::new();
        let width = self.raw_headers.len();
        if record.len() != width {
            let mut msg = format!("has {} fields, the header has {width}", record.len());
            if record.iter().any(|c| c.contains(&b'\n')) {
                msg.push_str(" (an unterminated quote may have joined the following lines)");
            }
            problems.push(Problem::row(Rule::FieldCount, msg));
        }

        // Encoding: name the column and the byte offset; the cell is read lossily so
        // the other rules still run on the rest of the row.
        let mut offset = pos.byte() + self.bom_len;
        for (i, cell) in record.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(cell) {
                let field = self.field_of_column(i);
                let name = self.headers.get(i).unwrap_or("(extra)").trim();
                problems.push(Problem {
                    field,
                    rule: Rule::Encoding,
                    message: format!(
                        "line {line}: column \"{name}\" is not valid UTF-8 at byte offset {}",
                        offset + e.valid_up_to() as u64
                    ),
                });
            }
            offset += cell.len() as u64 + 1;
        }

        let mut normalised = Normalisations::default();
        let mut cells: [Cow<'_, str>; Field::COUNT] = Default::default();
        for field in Field::ALL {
            if let Some(bytes) = self.map.columns[field.index()].and_then(|c| record.get(c)) {
                let raw = String::from_utf8_lossy(bytes);
                cells[field.index()] = normalise_cell(field, raw, &mut normalised);
            }
        }
        let values: [&str; Field::COUNT] = std::array::from_fn(|i| cells[i].as_ref());
        let terms = resolve_terms(values[Field::HasAcceptedP100Tc.index()], self.rules.terms)
            .unwrap_or(false);
        let fp = fingerprint(&values, terms);
        let verdict = validate(&values, &self.rules);

        for field in [Field::ExternalUserId, Field::Email, Field::Phone] {
            if let Some(first) = self.dups.check(field, values[field.index()], line) {
                problems.push(Problem::new(
                    field,
                    Rule::Duplicate,
                    format!("also used on line {first}"),
                ));
            }
        }

        let id = values[Field::ExternalUserId.index()];
        let external_user_id = (!id.is_empty()
            && id.len() <= MAX_LEN
            && !id
                .chars()
                .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER))
        .then(|| id.to_string());

        let verdict = match verdict {
            Ok(user) if problems.is_empty() => Ok(user),
            Ok(_) => Err(problems),
            Err(mut rule_problems) => {
                // Row-level and encoding problems first, then field rules, then duplicates.
                let dup_start = problems
                    .iter()
                    .position(|p| p.rule == Rule::Duplicate)
                    .unwrap_or(problems.len());
                let dups = problems.split_off(dup_start);
                problems.append(&mut rule_problems);
                problems.extend(dups);
                Err(problems)
            }
        };
        drop(cells);
        Row {
            line,
            external_user_id,
            fingerprint: fp,
            record,
            verdict,
            normalised,
        }
    }

    fn field_of_column(&self, column: usize) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| self.map.columns[f.index()] == Some(column))
    }
}

impl Iterator for CsvSource {
    type Item = Result<Row, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}

/// The original records at `lines` (record start lines), in file order, for reports
/// written after a run. Reads the file again with the same dialect.
pub fn reread_lines(
    opts: &IngestOptions,
    lines: &HashSet<u64>,
) -> Result<Vec<(u64, csv::ByteRecord)>, IngestError> {
    let (mut reader, _, _, _) = open_raw(opts)?;
    let mut out = Vec::with_capacity(lines.len());
    let mut record = csv::ByteRecord::new();
    loop {
        match read_record(&mut reader, &mut record) {
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                if lines.contains(&line) {
                    out.push((line, record.clone()));
                    if out.len() == lines.len() {
                        break;
                    }
                }
            }
            Ok(false) => break,
            Err(source) => {
                return Err(IngestError::Read {
                    path: opts.path.clone(),
                    line: reader.position().line(),
                    source,
                })
            }
        }
    }
    Ok(out)
}
