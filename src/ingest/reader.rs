//! [`CsvSource`]: opens the file, settles dialect and header, then yields one [`Row`]
//! per record, validated, in constant memory apart from duplicate keys.

use super::check::{Checker, DupKeys};
use super::dialect::{detect_delimiter, BOM};
use super::dups::Dups;
use super::header::{load_mapping, map_columns};
use super::normalise::Normalisations;
use super::pool::{Checked, Pool};
use super::problem::{Problem, Rule};
use super::validate::{Rules, TermsSource};
use super::{IngestError, IngestOptions};
use crate::domain::{Field, ValidatedUser};
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
    /// See [`super::fingerprint`]: stable hash of the normalised mapped content;
    /// `None` unless [`IngestOptions::for_import`] asked for it.
    pub fingerprint: Option<u64>,
    /// The fields exactly as read, for `--errors-out`: kept for invalid rows only, so
    /// a valid row costs no copy.
    pub record: Option<csv::ByteRecord>,
    /// Every problem of the row, or the request body; `Ok(None)` for a valid row when
    /// [`IngestOptions::for_import`] did not ask for bodies.
    pub verdict: Result<Option<ValidatedUser>, Vec<Problem>>,
    /// What normalisation changed in this row.
    pub normalised: Normalisations,
}

pub(super) type Csv = csv::Reader<BufReader<File>>;

/// How many rows ahead the duplicate table's slots are fetched.
const PREFETCH_AHEAD: usize = 8;
/// Upper bound of the duplicate table's reservation, made from the first batch (about
/// 500 MB of table); beyond it the table grows.
const MAX_RESERVED_KEYS: u64 = 30_000_000;

/// An opened, header-checked input file.
///
/// The records are split and checked on other threads (see the `pool` module); the
/// caller's thread only records duplicate keys, in file order, so the earlier line
/// always wins.
pub struct CsvSource {
    path: PathBuf,
    raw_headers: csv::ByteRecord,
    headers: csv::StringRecord,
    ignored: Vec<String>,
    terms: TermsSource,
    delimiter: u8,
    pool: Pool,
    batch: std::vec::IntoIter<(Row, DupKeys)>,
    /// The current batch's records, for copying the invalid ones into their rows.
    records: Vec<csv::ByteRecord>,
    /// Index in `records` of the next row of `batch`.
    at: usize,
    /// File size, to size the duplicate table once the average row length is known.
    file_len: u64,
    sized: bool,
    dups: Dups,
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
pub(super) fn read_record(reader: &mut Csv, record: &mut csv::ByteRecord) -> csv::Result<bool> {
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
        let ignored = map.ignored.clone();
        let checker = Checker {
            rules: Rules {
                today: opts.today,
                min_age: opts.min_age,
                terms,
            },
            width: raw_headers.len(),
            names: trimmed,
            map,
            bom_len,
            for_import: opts.for_import,
            scratch: Vec::new(),
        };
        let pool = Pool::start(reader, raw_headers.len(), checker).map_err(|source| {
            IngestError::Open {
                path: path.clone(),
                source,
            }
        })?;
        Ok(CsvSource {
            path,
            raw_headers,
            headers,
            ignored,
            terms,
            delimiter,
            pool,
            batch: Vec::new().into_iter(),
            records: Vec::new(),
            at: 0,
            file_len: std::fs::metadata(&opts.path).map_or(0, |m| m.len()),
            sized: false,
            dups: Dups::default(),
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
        &self.ignored
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    pub fn terms_source(&self) -> TermsSource {
        self.terms
    }

    /// The next record, checked. `Err` only for I/O failures that end the file.
    pub fn next_row(&mut self) -> Option<Result<Row, IngestError>> {
        loop {
            if let Some((mut row, keys)) = self.batch.next() {
                if let Some((_, ahead)) = self.batch.as_slice().get(PREFETCH_AHEAD) {
                    ahead.iter().flatten().for_each(|&k| self.dups.prefetch(k));
                }
                self.record_dups(&mut row, keys);
                if row.verdict.is_err() {
                    // Copied here, not on the checking thread: memory allocated on
                    // one thread and freed on another was what the allocator held on
                    // to longest (a file of 1 MB rows grew without bound).
                    row.record = self.records.get(self.at).cloned();
                }
                self.at += 1;
                return Some(Ok(row));
            }
            if !self.records.is_empty() {
                self.pool.recycle(std::mem::take(&mut self.records));
            }
            if self.done {
                return None;
            }
            match self.pool.next_batch() {
                Some(Checked::Rows(rows, (records, _), end)) => {
                    if !self.sized {
                        self.sized = true;
                        self.size_dups(rows.len() as u64, end);
                    }
                    self.batch = rows.into_iter();
                    self.records = records;
                    self.at = 0;
                }
                Some(Checked::Failed(source, line)) => {
                    self.done = true;
                    return Some(Err(IngestError::Read {
                        path: self.path.clone(),
                        line,
                        source,
                    }));
                }
                Some(Checked::Lost) => {
                    self.done = true;
                    return Some(Err(IngestError::ParserStopped {
                        path: self.path.clone(),
                    }));
                }
                None => self.done = true,
            }
        }
    }

    /// Reserves the duplicate table for the whole file, estimated from the bytes the
    /// first batch took; capped so a strange first stretch cannot reserve wildly.
    fn size_dups(&mut self, rows: u64, end: u64) {
        let est_rows = self.file_len.saturating_mul(rows) / end.max(1);
        let keys = est_rows.saturating_mul(3).min(MAX_RESERVED_KEYS);
        self.dups.reserve(keys as usize);
    }

    /// Adds duplicate problems after the row's own, in file order so the earlier line wins.
    fn record_dups(&mut self, row: &mut Row, keys: DupKeys) {
        let mut found = Vec::new();
        for (field, key) in [Field::ExternalUserId, Field::Email, Field::Phone]
            .into_iter()
            .zip(keys)
        {
            if let Some(first) = key.and_then(|k| self.dups.insert(k, row.line)) {
                found.push(Problem::new(
                    field,
                    Rule::Duplicate,
                    format!("also used on line {first}"),
                ));
            }
        }
        if !found.is_empty() {
            match &mut row.verdict {
                Ok(_) => row.verdict = Err(found),
                Err(problems) => problems.append(&mut found),
            }
        }
    }
}

impl Iterator for CsvSource {
    type Item = Result<Row, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}

/// The header and the original records at `lines` (record start lines), in file
/// order, for reports written after a run. Reads the file again with the same dialect.
pub fn reread_lines(
    opts: &IngestOptions,
    lines: &HashSet<u64>,
) -> Result<(csv::ByteRecord, Vec<(u64, csv::ByteRecord)>), IngestError> {
    let (mut reader, header, _, _) = open_raw(opts)?;
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
    Ok((header, out))
}
