//! The file's dialect: an optional UTF-8 BOM and the delimiter, guessed from the
//! header line when the operator does not name it.

/// The UTF-8 byte-order mark Excel writes.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Delimiters worth guessing, in tie-break order.
pub const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The first line of `head` (without BOM), ignoring delimiters inside quotes.
/// The most frequent candidate wins; ties and no candidate at all give `,`.
pub fn detect_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for &b in head {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => break,
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|c| *c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..4 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_delimiter_on_the_header_line_wins() {
        let cases: [(&[u8], u8); 7] = [
            (b"a,b,c\n1;2;3;4;5", b','),
            (b"a;b;c\r\n", b';'),
            (b"a\tb\tc", b'\t'),
            (b"a|b|c", b'|'),
            (b"\"x;y;z\",b,c", b','),
            (b"single", b','),
            (b"", b','),
        ];
        for (head, expected) in cases {
            assert_eq!(
                detect_delimiter(head),
                expected,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }
}
