//! Normalisation before the rules: trimming, line breaks inside cells, upper-case
//! country codes, phone punctuation. Every change is counted so it is never silent.

use crate::domain::Field;
use std::borrow::Cow;

/// A kind of normalisation, counted per cell changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// Leading or trailing whitespace removed.
    Trimmed,
    /// Line breaks or tabs inside a cell replaced by one space.
    LineBreak,
    /// Country code upper-cased.
    CountryUpper,
    /// Spaces, dashes, dots, parentheses, a leading `+` or `00` removed from a phone.
    PhoneFormat,
}

impl NormKind {
    pub const ALL: [NormKind; 4] = [
        NormKind::Trimmed,
        NormKind::LineBreak,
        NormKind::CountryUpper,
        NormKind::PhoneFormat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NormKind::Trimmed => "trimmed",
            NormKind::LineBreak => "line_break",
            NormKind::CountryUpper => "country_upper",
            NormKind::PhoneFormat => "phone_format",
        }
    }
}

/// Counts per [`NormKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Normalisations([u64; 4]);

impl Normalisations {
    pub fn add(&mut self, kind: NormKind) {
        self.0[kind as usize] += 1;
    }

    pub fn get(&self, kind: NormKind) -> u64 {
        self.0[kind as usize]
    }

    pub fn merge(&mut self, other: &Normalisations) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Whether a field holds an ISO country code.
pub fn is_country_field(field: Field) -> bool {
    matches!(
        field,
        Field::Country | Field::Citizenship | Field::Nationality | Field::BirthCountry
    )
}

/// Normalises a row's cells, indexed by [`Field::index`], counting what changed.
pub fn normalise_row<'a>(
    raw: [Cow<'a, str>; Field::COUNT],
    counts: &mut Normalisations,
) -> [Cow<'a, str>; Field::COUNT] {
    let mut fields = Field::ALL.into_iter();
    raw.map(|cell| normalise_cell(fields.next().expect("one cell per field"), cell, counts))
}

/// Normalises one cell of `field`, counting what changed.
pub fn normalise_cell<'a>(
    field: Field,
    raw: Cow<'a, str>,
    counts: &mut Normalisations,
) -> Cow<'a, str> {
    let mut value = trim(raw, counts);
    if field != Field::ExternalUserId && value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\t')) {
        counts.add(NormKind::LineBreak);
        value = Cow::Owned(collapse_breaks(&value));
    }
    if is_country_field(field) && value.bytes().any(|b| b.is_ascii_lowercase()) {
        counts.add(NormKind::CountryUpper);
        value = Cow::Owned(value.to_ascii_uppercase());
    }
    if field == Field::Phone {
        let cleaned = clean_phone(&value);
        if cleaned.len() != value.len() {
            counts.add(NormKind::PhoneFormat);
            value = Cow::Owned(cleaned.to_string());
        }
    }
    value
}

fn trim<'a>(raw: Cow<'a, str>, counts: &mut Normalisations) -> Cow<'a, str> {
    // Fast path: an ASCII non-space byte at both ends cannot be trimmed.
    let b = raw.as_bytes();
    let solid = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii() && !c.is_ascii_whitespace());
    if b.is_empty() || (solid(b.first()) && solid(b.last())) {
        return raw;
    }
    let trimmed = raw.trim();
    if trimmed.len() == raw.len() {
        return raw;
    }
    counts.add(NormKind::Trimmed);
    match raw {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
    }
}

fn collapse_breaks(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_break = false;
    for c in s.chars() {
        if matches!(c, '\r' | '\n' | '\t') {
            if !in_break {
                out.push(' ');
            }
            in_break = true;
        } else {
            out.push(c);
            in_break = false;
        }
    }
    out
}

/// A phone without separators and without a leading `+` or `00`. A leading `'` (the
/// spreadsheet text marker, which our own CSV exports add before `+`) goes too, so an
/// exported row can be fed back. Only removes, so a changed length means a change.
pub fn clean_phone(s: &str) -> Cow<'_, str> {
    // Bytes, not chars: 0xC2 leads U+00A0 (no-break space) and a few others, which the
    // slow path sorts out.
    let needs = s
        .bytes()
        .any(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+' | 0xc2))
        || s.starts_with("00")
        || s.starts_with('\'');
    if !needs {
        return Cow::Borrowed(s);
    }
    let s = s.strip_prefix('\'').unwrap_or(s);
    let stripped: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let body = stripped
        .strip_prefix('+')
        .or_else(|| stripped.strip_prefix("00"))
        .unwrap_or(&stripped);
    Cow::Owned(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(field: Field, raw: &str) -> (String, Normalisations) {
        let mut counts = Normalisations::default();
        let out = normalise_cell(field, Cow::Borrowed(raw), &mut counts).into_owned();
        (out, counts)
    }

    #[test]
    fn each_normalisation_changes_the_value_and_is_counted() {
        let cases = [
            (Field::FirstName, "  Anna ", "Anna", Some(NormKind::Trimmed)),
            (Field::FirstName, "Anna", "Anna", None),
            (
                Field::Street,
                "Main St\r\nFlat 2",
                "Main St Flat 2",
                Some(NormKind::LineBreak),
            ),
            (Field::Country, "gb", "GB", Some(NormKind::CountryUpper)),
            (Field::Citizenship, "pl", "PL", Some(NormKind::CountryUpper)),
            (Field::Nationality, "De", "DE", Some(NormKind::CountryUpper)),
            (
                Field::BirthCountry,
                "fr",
                "FR",
                Some(NormKind::CountryUpper),
            ),
            (Field::FirstName, "anna", "anna", None),
            (
                Field::Phone,
                "+48 601-234.567",
                "48601234567",
                Some(NormKind::PhoneFormat),
            ),
            (
                Field::Phone,
                "0044 (20) 7946 0958",
                "442079460958",
                Some(NormKind::PhoneFormat),
            ),
            (Field::Phone, "48601234567", "48601234567", None),
            (
                Field::Phone,
                "'+48 601 234 567",
                "48601234567",
                Some(NormKind::PhoneFormat),
            ),
            (Field::Email, " a@b.pl", "a@b.pl", Some(NormKind::Trimmed)),
        ];
        for (field, raw, expected, kind) in cases {
            let (out, counts) = norm(field, raw);
            assert_eq!(out, expected, "{field} {raw:?}");
            for k in NormKind::ALL {
                let want = u64::from(Some(k) == kind);
                assert_eq!(counts.get(k), want, "{field} {raw:?} {}", k.as_str());
            }
        }
    }

    #[test]
    fn a_padded_phone_counts_both_trimming_and_formatting() {
        let (out, counts) = norm(Field::Phone, " +44 20 7946 0958 ");
        assert_eq!(out, "442079460958");
        assert_eq!(counts.get(NormKind::Trimmed), 1);
        assert_eq!(counts.get(NormKind::PhoneFormat), 1);
    }
}
