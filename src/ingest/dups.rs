//! In-file duplicates: the only state that grows with the file, so it keeps a 64-bit
//! hash per key and the line that first used it, never whole rows. A hash collision
//! (odds about 1 in 4 million for a million-row file) would flag a false duplicate; it names the
//! earlier line, so it is easy to check.

use crate::domain::Field;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// First line per key of externalUserId (exact), email (case-insensitive) and phone
/// (normalised). Keys are computed by [`Dups::key`] (pure, so the checking threads can do
/// it) and recorded in file order by [`Dups::insert`].
///
/// The table is a flat open-addressing array of (key, line) pairs: the keys are already
/// uniform hashes, and one cache line per lookup instead of hashbrown's two (control
/// bytes, then the slot) is what a million-row file spends its time on here.
pub struct Dups {
    /// `(key, line)`; key 0 marks an empty slot.
    slots: Vec<(u64, u64)>,
    len: usize,
}

impl Default for Dups {
    fn default() -> Self {
        Dups {
            slots: vec![(0, 0); 1024],
            len: 0,
        }
    }
}

impl Dups {
    /// The 64-bit key of `value` in `field`; `None` for empty values, which are never
    /// duplicates (they fail `required` instead).
    ///
    /// XXH3 rather than the fingerprint's SipHash: these keys never leave the process,
    /// so only speed and spread matter, and XXH3 is several times faster on short
    /// values. The field seeds the hash, so one value in two fields gives two keys.
    pub fn key(field: Field, value: &str) -> Option<u64> {
        if value.is_empty() {
            return None;
        }
        let seed = 0x6475_7073_0000 | field.index() as u64;
        let mut buf = [0u8; 256];
        Some(match field {
            Field::Email if value.len() <= buf.len() && value.is_ascii() => {
                let lower = &mut buf[..value.len()];
                lower.copy_from_slice(value.as_bytes());
                lower.make_ascii_lowercase();
                xxh3_64_with_seed(lower, seed)
            }
            Field::Email => xxh3_64_with_seed(value.to_lowercase().as_bytes(), seed),
            _ => xxh3_64_with_seed(value.as_bytes(), seed),
        })
    }

    /// Makes room for `additional` more keys at once, sparing the rehashes (and the
    /// old-plus-new peak) of growing step by step.
    pub fn reserve(&mut self, additional: usize) {
        let needed = (self.len + additional).saturating_mul(4) / 3 + 1;
        if needed > self.slots.len() {
            self.rehash(needed.next_power_of_two());
        }
    }

    /// Asks the CPU to fetch the slot where `key` would start its probe. The table is
    /// far larger than the caches, so every probe is a memory access; issued a few rows
    /// ahead, they overlap instead of queueing.
    pub fn prefetch(&self, key: u64) {
        let slot = &self.slots[key.max(1) as usize & (self.slots.len() - 1)];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: SSE is part of every x86_64 CPU, and a prefetch only hints the
            // cache; the pointer is a live slot besides.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Records `key` at `line`; returns the earlier line if the key was already seen.
    pub fn insert(&mut self, key: u64, line: u64) -> Option<u64> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.rehash(self.slots.len() * 2);
        }
        let key = key.max(1);
        let mask = self.slots.len() - 1;
        let mut i = key as usize & mask;
        loop {
            let (k, l) = self.slots[i];
            if k == 0 {
                self.slots[i] = (key, line);
                self.len += 1;
                return None;
            }
            if k == key {
                return Some(l);
            }
            i = (i + 1) & mask;
        }
    }

    fn rehash(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
        let mask = size - 1;
        for (k, l) in old.into_iter().filter(|(k, _)| *k != 0) {
            let mut i = k as usize & mask;
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (k, l);
        }
    }

    /// [`Dups::key`] then [`Dups::insert`], for tests.
    #[cfg(test)]
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
    fn the_table_keeps_every_key_as_it_grows() {
        let mut d = Dups::default();
        for n in 0..100_000u64 {
            assert_eq!(d.check(Field::Phone, &format!("4860{n:07}"), n + 2), None);
        }
        d.reserve(1_000_000);
        assert_eq!(d.check(Field::Phone, "48600000000", 200_000), Some(2));
        assert_eq!(d.check(Field::Phone, "48600099999", 200_001), Some(100_001));
        assert_eq!(
            d.insert(0, 7),
            None,
            "key 0 is stored, not taken for an empty slot"
        );
        assert_eq!(d.insert(0, 8), Some(7));
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
