//! [`CsvSource`]: opens the file, settles dialect and header, then yields one [`Row`]
//! per record, validated, in constant memory apart from duplicate keys.

use super::dialect::{detect_delimiter, BOM};
use super::dups::Dups;
use super::fingerprint::fingerprint_with;
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
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

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

/// Rows read before the duplicate table is sized from the average row length.
const SIZING_ROWS: u64 = 1024;
/// Upper bound of that reservation (about 500 MB of table); beyond it the table grows.
const MAX_RESERVED_KEYS: u64 = 30_000_000;

/// Records per hand-over between the parser thread and the checker.
const BATCH: usize = 1024;
/// Batches in circulation: bounds memory while letting the parser run ahead.
const BATCHES: usize = 4;

/// From the parser thread: a batch of records (`len` of them filled), or the I/O
/// error that ended the file and the line it happened near.
enum Parsed {
    Batch(Vec<csv::ByteRecord>, usize),
    Failed(csv::Error, u64),
}

/// An opened, header-checked input file.
///
/// A parser thread splits records into batches of reused buffers and hands them over;
/// the caller's thread checks them. Nothing allocated on one thread is freed on the
/// other: an earlier design that checked rows on the parser thread made glibc free
/// every row's strings across threads and ran 2.9× slower than one thread.
pub struct CsvSource {
    path: PathBuf,
    raw_headers: csv::ByteRecord,
    headers: csv::StringRecord,
    ignored: Vec<String>,
    terms: TermsSource,
    delimiter: u8,
    checker: Checker,
    full: Receiver<Parsed>,
    empty: SyncSender<Vec<csv::ByteRecord>>,
    parser: Option<JoinHandle<()>>,
    batch: Vec<csv::ByteRecord>,
    batch_len: usize,
    next: usize,
    /// File size, to size the duplicate table once the average row length is known.
    file_len: u64,
    rows: u64,
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
            scratch: Vec::new(),
        };
        let width = raw_headers.len().max(1);
        let (full_tx, full) = sync_channel::<Parsed>(BATCHES);
        let (empty, empty_rx) = sync_channel::<Vec<csv::ByteRecord>>(BATCHES);
        let parser = std::thread::Builder::new()
            .name("csv-parser".into())
            .spawn(move || parse_loop(reader, width, full_tx, empty_rx))
            .map_err(|source| IngestError::Open {
                path: path.clone(),
                source,
            })?;
        Ok(CsvSource {
            path,
            raw_headers,
            headers,
            ignored,
            terms,
            delimiter,
            checker,
            full,
            empty,
            parser: Some(parser),
            batch: Vec::new(),
            batch_len: 0,
            next: 0,
            file_len: std::fs::metadata(&opts.path).map_or(0, |m| m.len()),
            rows: 0,
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
        while self.next == self.batch_len {
            if self.done {
                return None;
            }
            if !self.batch.is_empty() {
                // The parser may have finished; then the batch is simply dropped.
                let _ = self.empty.send(std::mem::take(&mut self.batch));
            }
            match self.full.recv() {
                Ok(Parsed::Batch(batch, len)) => {
                    self.batch = batch;
                    self.batch_len = len;
                    self.next = 0;
                }
                Ok(Parsed::Failed(source, line)) => {
                    self.done = true;
                    return Some(Err(IngestError::Read {
                        path: self.path.clone(),
                        line,
                        source,
                    }));
                }
                Err(_) => {
                    self.done = true;
                    let crashed = self.parser.take().is_some_and(|p| p.join().is_err());
                    return crashed.then(|| {
                        Err(IngestError::ParserStopped {
                            path: self.path.clone(),
                        })
                    });
                }
            }
        }
        let record = self.batch[self.next].clone();
        self.next += 1;
        self.rows += 1;
        if self.rows == SIZING_ROWS {
            self.size_dups(&record);
        }
        let mut keys = [None; 3];
        let mut row = self.checker.check(record, &mut keys);
        self.record_dups(&mut row, keys);
        Some(Ok(row))
    }

    /// Reserves the duplicate table for the whole file, estimated from the bytes the
    /// first rows took; capped so a strange first stretch cannot reserve wildly.
    fn size_dups(&mut self, record: &csv::ByteRecord) {
        let done = record.position().map_or(0, |p| p.byte()).max(1);
        let est_rows = self.file_len.saturating_mul(SIZING_ROWS) / done;
        let keys = est_rows.saturating_mul(3).min(MAX_RESERVED_KEYS);
        self.dups.reserve(keys as usize);
    }

    /// Adds duplicate problems after the row's own, in file order so the earlier line wins.
    fn record_dups(&mut self, row: &mut Row, keys: [Option<u64>; 3]) {
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

/// The parser thread: fills recycled batches until the file ends, the reader fails or
/// the consumer hangs up.
fn parse_loop(
    mut reader: Csv,
    width: usize,
    full: SyncSender<Parsed>,
    empty: Receiver<Vec<csv::ByteRecord>>,
) {
    let mut spare: Vec<Vec<csv::ByteRecord>> = (0..BATCHES)
        .map(|_| {
            (0..BATCH)
                // Sized for an ordinary row: a 100,000-column header must not make
                // every recycled record reserve room for 100,000 fields up front.
                .map(|_| csv::ByteRecord::with_capacity(256, width.min(64)))
                .collect()
        })
        .collect();
    loop {
        let mut batch = match spare.pop() {
            Some(b) => b,
            None => match empty.recv() {
                Ok(b) => b,
                Err(_) => return,
            },
        };
        let mut len = 0;
        while len < batch.len() {
            match read_record(&mut reader, &mut batch[len]) {
                Ok(true) => len += 1,
                Ok(false) => {
                    if len > 0 {
                        let _ = full.send(Parsed::Batch(batch, len));
                    }
                    return;
                }
                Err(e) => {
                    if len > 0 && full.send(Parsed::Batch(batch, len)).is_err() {
                        return;
                    }
                    let _ = full.send(Parsed::Failed(e, reader.position().line()));
                    return;
                }
            }
        }
        if full.send(Parsed::Batch(batch, len)).is_err() {
            return;
        }
    }
}

/// The pure per-row work: everything but duplicate detection.
struct Checker {
    rules: Rules,
    width: usize,
    /// Trimmed header names, for messages.
    names: Vec<String>,
    map: ColumnMap,
    bom_len: u64,
    scratch: Vec<u8>,
}

impl Checker {
    fn check(&mut self, record: csv::ByteRecord, keys: &mut [Option<u64>; 3]) -> Row {
        let pos = record
            .position()
            .cloned()
            .unwrap_or_else(csv::Position::new);
        let line = pos.line();
        let mut problems = Vec::new();
        if record.len() != self.width {
            let mut msg = format!("has {} fields, the header has {}", record.len(), self.width);
            if record.iter().any(|c| c.contains(&b'\n')) {
                msg.push_str(" (an unterminated quote may have joined the following lines)");
            }
            problems.push(Problem::row(Rule::FieldCount, msg));
        }
        // One UTF-8 check for the whole record; only a failure takes the per-cell path.
        match csv::StringRecord::from_byte_record(record) {
            Ok(text) => self.check_text(line, text, problems, keys),
            Err(e) => {
                let record = e.into_byte_record();
                self.encoding_problems(&record, line, pos.byte(), &mut problems);
                let lossy: Vec<String> = record
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                let text = csv::StringRecord::from(lossy);
                let mut row = self.check_text(line, text, problems, keys);
                row.record = record;
                row
            }
        }
    }

    /// Names the column and the byte offset of each cell that is not UTF-8. The offset
    /// is exact for unquoted cells.
    fn encoding_problems(
        &self,
        record: &csv::ByteRecord,
        line: u64,
        start: u64,
        problems: &mut Vec<Problem>,
    ) {
        let mut offset = start + self.bom_len;
        for (i, cell) in record.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(cell) {
                let field = Field::ALL
                    .into_iter()
                    .find(|f| self.map.columns[f.index()] == Some(i));
                let name = self.names.get(i).map_or("(extra)", String::as_str);
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
    }

    /// The rules on a record's text; the returned row carries that text's bytes.
    fn check_text(
        &mut self,
        line: u64,
        text: csv::StringRecord,
        mut problems: Vec<Problem>,
        keys: &mut [Option<u64>; 3],
    ) -> Row {
        let mut normalised = Normalisations::default();
        let mut cells: [Cow<'_, str>; Field::COUNT] = Default::default();
        for field in Field::ALL {
            if let Some(cell) = self.map.columns[field.index()].and_then(|c| text.get(c)) {
                cells[field.index()] = normalise_cell(field, Cow::Borrowed(cell), &mut normalised);
            }
        }
        let values: [&str; Field::COUNT] = std::array::from_fn(|i| cells[i].as_ref());
        let terms = resolve_terms(values[Field::HasAcceptedP100Tc.index()], self.rules.terms)
            .unwrap_or(false);
        let fingerprint = fingerprint_with(&values, terms, &mut self.scratch);
        *keys = [Field::ExternalUserId, Field::Email, Field::Phone]
            .map(|f| Dups::key(f, values[f.index()]));
        let id = values[Field::ExternalUserId.index()];
        let external_user_id = (!id.is_empty()
            && id.len() <= MAX_LEN
            && !id
                .chars()
                .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER))
        .then(|| id.to_string());
        let verdict = match validate(&values, &self.rules) {
            Ok(user) if problems.is_empty() => Ok(user),
            Ok(_) => Err(problems),
            Err(mut rule_problems) => {
                problems.append(&mut rule_problems);
                Err(problems)
            }
        };
        drop(cells);
        Row {
            line,
            external_user_id,
            fingerprint,
            record: text.into_byte_record(),
            verdict,
            normalised,
        }
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
