//! A stable 64-bit hash of a row's normalised content, so `import` can tell whether a
//! row changed since the ledger last saw it.
//!
//! The format is frozen: SipHash-1-3 with the fixed keys below over, for each field in
//! `Field::ALL` order, the field index (1 byte), the value length (8 bytes LE) and the
//! value bytes. `hasAcceptedP100Tc` contributes its resolved value, `true` or `false`.
//! Changing any of this changes every fingerprint in every ledger.

use crate::domain::Field;
use siphasher::sip::SipHasher13;
use std::hash::Hasher;

const K0: u64 = 0x7031_3030_6f6e_626f; // "p100onbo"
const K1: u64 = 0x6172_6466_7072_696e; // "ardfprin"

/// Hashes normalised values (indexed by `Field::index`) with the resolved terms value,
/// laid out in the caller's scratch buffer: one hasher call per row is much cheaper
/// than three per field.
pub fn fingerprint_with(values: &[&str; Field::COUNT], terms: bool, buf: &mut Vec<u8>) -> u64 {
    buf.clear();
    for field in Field::ALL {
        let v = if field == Field::HasAcceptedP100Tc {
            if terms {
                "true"
            } else {
                "false"
            }
        } else {
            values[field.index()]
        };
        buf.push(field.index() as u8);
        buf.extend_from_slice(&(v.len() as u64).to_le_bytes());
        buf.extend_from_slice(v.as_bytes());
    }
    let mut h = SipHasher13::new_with_keys(K0, K1);
    h.write(buf);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(values: &[&str; Field::COUNT], terms: bool) -> u64 {
        fingerprint_with(values, terms, &mut Vec::new())
    }

    fn row() -> [&'static str; Field::COUNT] {
        [
            "c1",
            "a@b.pl",
            "48601234567",
            "Anna",
            "Nowak",
            "Main",
            "1",
            "City",
            "00-001",
            "PL",
            "PL",
            "PL",
            "PL",
            "1990-01-01",
            "",
            "",
        ]
    }

    #[test]
    fn the_fingerprint_is_frozen_across_versions() {
        assert_eq!(fingerprint(&row(), true), 0x5aef_31b1_797b_93e3_u64);
    }

    #[test]
    fn any_change_of_content_or_terms_changes_the_fingerprint() {
        let base = fingerprint(&row(), true);
        assert_ne!(fingerprint(&row(), false), base);
        let mut moved = row();
        moved[Field::Street.index()] = "Mai";
        moved[Field::Number.index()] = "n1";
        assert_ne!(fingerprint(&moved, true), base);
    }
}
