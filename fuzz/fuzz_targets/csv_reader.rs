//! The CSV reader and validator on arbitrary bytes: every input ends in rows or a
//! clear error, never a panic. The first byte picks the options (delimiter, terms
//! flag); the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p100_onboard::ingest::{CsvSource, Date, IngestOptions};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let (knobs, body) = match data.split_first() {
        Some((k, rest)) => (*k, rest),
        None => (0, data),
    };
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(body).expect("write temp file");
    file.flush().expect("flush temp file");
    let opts = IngestOptions {
        path: file.path().to_path_buf(),
        mapping: None,
        delimiter: match knobs & 0b111 {
            1 => Some(b','),
            2 => Some(b';'),
            3 => Some(b'|'),
            4 => Some(b'\t'),
            _ => None,
        },
        terms_accepted: knobs & 0b1000 != 0,
        for_import: true,
        min_age: u32::from(knobs >> 4) * 8,
        today: Date::new(2026, 11, 26).expect("a real date"),
    };
    let Ok(mut source) = CsvSource::open(&opts) else {
        return;
    };
    let _ = source.headers();
    let _ = source.ignored_columns();
    let mut rows = 0u64;
    while let Some(row) = source.next_row() {
        match row {
            Ok(row) => {
                rows += 1;
                assert!(row.line >= 2, "data rows start after the header line");
                if let Err(problems) = &row.verdict {
                    let _ = p100_onboard::ingest::problems_text(problems);
                }
            }
            Err(e) => {
                let _ = e.to_string();
                break;
            }
        }
    }
    assert!(rows as usize <= body.len(), "more rows than bytes");
});
