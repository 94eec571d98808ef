//! [`Checker`]: the per-row work that needs no other row (UTF-8, field count,
//! normalisation, rules, fingerprint, duplicate keys), so it can run on any thread.

use super::dups::Dups;
use super::fingerprint::fingerprint_with;
use super::header::ColumnMap;
use super::normalise::{normalise_row, Normalisations};
use super::problem::{Problem, Rule};
use super::reader::Row;
use super::validate::{check_values, resolve_terms, validate, Rules, MAX_LEN};
use crate::domain::Field;
use csv::ByteRecord;
use std::borrow::Cow;

/// The pure per-row work: everything but duplicate detection. Each checking thread
/// owns a clone.
#[derive(Clone)]
pub(super) struct Checker {
    pub(super) rules: Rules,
    pub(super) width: usize,
    /// Trimmed header names, for messages.
    pub(super) names: Vec<String>,
    pub(super) map: ColumnMap,
    pub(super) bom_len: u64,
    /// Fingerprints and request bodies wanted (see `IngestOptions::for_import`).
    pub(super) for_import: bool,
    /// The fingerprint's buffer.
    pub(super) scratch: Vec<u8>,
}

/// The 64-bit duplicate keys of a row's externalUserId, email and phone.
pub(super) type DupKeys = [Option<u64>; 3];

impl Checker {
    /// Checks one record. The row's `record` is left empty: the caller's thread copies
    /// it for invalid rows.
    pub(super) fn check(&mut self, record: &ByteRecord) -> (Row, DupKeys) {
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
        // One UTF-8 check for the whole record; its cells are then valid if each starts
        // on a character boundary. Only a failure takes the per-cell path.
        let text = std::str::from_utf8(record.as_slice()).ok().filter(|s| {
            (0..record.len()).all(|i| record.range(i).is_some_and(|r| s.is_char_boundary(r.start)))
        });
        let mut raw: [Cow<'_, str>; Field::COUNT] = Default::default();
        for field in Field::ALL {
            let Some(range) = self.map.columns[field.index()].and_then(|c| record.range(c)) else {
                continue;
            };
            raw[field.index()] = match text.and_then(|s| s.get(range.clone())) {
                Some(cell) => Cow::Borrowed(cell),
                None => String::from_utf8_lossy(&record.as_slice()[range]),
            };
        }
        if text.is_none() {
            self.encoding_problems(record, line, pos.byte(), &mut problems);
        }
        let mut keys = [None; 3];
        let row = self.check_cells(line, raw, problems, &mut keys);
        (row, keys)
    }

    /// Names the column and the byte offset of each cell that is not UTF-8. The offset
    /// is exact for unquoted cells.
    fn encoding_problems(
        &self,
        record: &ByteRecord,
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

    /// The rules on a record's cells (indexed by `Field::index`, absent ones empty).
    fn check_cells(
        &mut self,
        line: u64,
        raw: [Cow<'_, str>; Field::COUNT],
        mut problems: Vec<Problem>,
        keys: &mut DupKeys,
    ) -> Row {
        let mut normalised = Normalisations::default();
        let cells = normalise_row(raw, &mut normalised);
        let values: [&str; Field::COUNT] = std::array::from_fn(|i| cells[i].as_ref());
        let terms = resolve_terms(values[Field::HasAcceptedP100Tc.index()], self.rules.terms)
            .unwrap_or(false);
        let fingerprint = self
            .for_import
            .then(|| fingerprint_with(&values, terms, &mut self.scratch));
        *keys = [Field::ExternalUserId, Field::Email, Field::Phone]
            .map(|f| Dups::key(f, values[f.index()]));
        let id = values[Field::ExternalUserId.index()];
        let external_user_id = (!id.is_empty()
            && id.len() <= MAX_LEN
            && !id
                .chars()
                .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER))
        .then(|| id.to_string());
        let checked = if self.for_import {
            validate(&values, &self.rules).map(Some)
        } else {
            check_values(&values, &self.rules).map(|_| None)
        };
        let verdict = match checked {
            Ok(user) if problems.is_empty() => Ok(user),
            Ok(_) => Err(problems),
            Err(mut rule_problems) => {
                problems.append(&mut rule_problems);
                Err(problems)
            }
        };
        Row {
            line,
            external_user_id,
            fingerprint,
            record: None,
            verdict,
            normalised,
        }
    }
}
