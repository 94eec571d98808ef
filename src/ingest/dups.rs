//! In-file duplicates: the only state that grows with the file, so it keeps a 64-bit
//! hash per key and the line that first used it, never whole rows. A hash collision
//! (about 1 in 10^7 for a million-row file) would flag a false duplicate; it names the
//! earlier line, so it is easy to check.

use crate::domain::Field;
use siphasher::sip::SipHasher13;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The keys are already SipHash outputs: hashing them again would be wasted work.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// First line per key of externalUserId (exact), email (case-insensitive) and phone
/// (normalised). Keys are computed by [`Dups::key`] (pure, so the reader thread can do
/// it) and recorded in file order by [`Dups::insert`].
#[derive(Default)]
pub struct Dups {
    seen: HashMap<u64, u64, BuildHasherDefault<IdentityHasher>>,
}

impl Dups {
    /// The 64-bit key of `value` in `field`; `None` for empty values, which are never
    /// duplicates (they fail `required` instead).
    pub fn key(field: Field, value: &str) -> Option<u64> {
        if value.is_empty() {
            return None;
        }
        let mut h = SipHasher13::new_with_keys(0x6475_7073, field.index() as u64);
        if field != Field::Email {
            h.write(value.as_bytes());
        } else if value.is_ascii() {
            let mut buf = [0u8; 256];
            for chunk in value.as_bytes().chunks(buf.len()) {
                let lower = &mut buf[..chunk.len()];
                lower.copy_from_slice(chunk);
                lower.make_ascii_lowercase();
                h.write(lower);
            }
        } else {
            h.write(value.to_lowercase().as_bytes());
        }
        Some(h.finish())
    }

    /// Makes room for `additional` more keys at once, sparing the rehashes (and the
    /// old-plus-new peak) of growing step by step.
    pub fn reserve(&mut self, additional: usize) {
        self.seen.reserve(additional);
    }

    /// Records `key` at `line`; returns the earlier line if the key was already seen.
    pub fn insert(&mut self, key: u64, line: u64) -> Option<u64> {
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(line);
                None
            }
        }
    }

    /// [`Dups::key`] then [`Dups::insert`].
    pub fn check(&mut self, field: Field, value: &str, line: u64) -> Option<u64> {
        Dups::key(field, value).and_then(|k| self.insert(k, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_names_the_line_that_used_it_first() {
        let mut d = Dups::default();
        assert_eq!(d.check(Field::Email, "Anna@Example.com", 2), None);
        assert_eq!(d.check(Field::Email, "anna@example.COM", 5), Some(2));
        assert_eq!(d.check(Field::Email, "anna@example.com", 9), Some(2));
        assert_eq!(d.check(Field::Email, "ŻANETA@example.com", 10), None);
        assert_eq!(d.check(Field::Email, "żaneta@EXAMPLE.com", 11), Some(10));
        assert_eq!(d.check(Field::Phone, "48601234567", 3), None);
        assert_eq!(d.check(Field::Phone, "48601234567", 7), Some(3));
        assert_eq!(d.check(Field::ExternalUserId, "C-1", 4), None);
        assert_eq!(
            d.check(Field::ExternalUserId, "c-1", 6),
            None,
            "ids are case-sensitive"
        );
    }

    #[test]
    fn the_same_value_in_different_fields_is_not_a_duplicate() {
        let mut d = Dups::default();
        assert_eq!(d.check(Field::ExternalUserId, "48601234567", 2), None);
        assert_eq!(d.check(Field::Phone, "48601234567", 2), None);
        assert_eq!(d.check(Field::Phone, "", 3), None);
        assert_eq!(d.check(Field::Phone, "", 4), None);
    }
}
