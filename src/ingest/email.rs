//! Email syntax: what `email_address` accepts under RFC 5322, narrowed to the form a
//! customer record holds: no display name (`Ann <ann@example.com>`), no quoted local
//! part, no `[IP]` domain, and a dotted domain (partners' customers do not have
//! addresses at bare hosts).
//!
//! Addresses made only of letters, digits and the other unquoted atom characters,
//! nearly every address in a real file, are settled by `plain`, which accepts
//! exactly what the crate would (a property test holds it to that); the crate
//! allocates and scans each address several times, which made it the largest single
//! cost of checking a row.

use email_address::{EmailAddress, Options};

/// Whether `value` is a deliverable-looking address (see the module notes).
pub fn is_valid(value: &str) -> bool {
    plain(value).unwrap_or_else(|| by_the_crate(value))
}

fn by_the_crate(value: &str) -> bool {
    let options = Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    EmailAddress::parse_with_options(value, options).is_ok()
        && value
            .rsplit_once('@')
            .is_some_and(|(local, _)| !local.starts_with('"'))
}

/// RFC 5322 `atext` in ASCII, by byte.
const ATEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'/' | b'=' | b'?' | b'^'..=b'`' | b'{'..=b'~');
        i += 1;
    }
    table
};

/// The verdict for an address of atom characters, dots and `@` only; `None` for
/// anything else (spaces, quotes, brackets, non-ASCII), which the crate decides.
pub(crate) fn plain(value: &str) -> Option<bool> {
    let b = value.as_bytes();
    if !b
        .iter()
        .all(|&c| ATEXT[c as usize] || c == b'.' || c == b'@')
    {
        return None;
    }
    let Some(at) = b.iter().rposition(|&c| c == b'@') else {
        return Some(false);
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    let local_ok = local.len() <= 64 && local.split(|&c| c == b'.').all(is_atom);
    let domain_ok = domain.len() <= 254
        && domain.contains(&b'.')
        && domain.split(|&c| c == b'.').all(|label| {
            label.len() <= 63
                && label.first().is_some_and(u8::is_ascii_alphanumeric)
                && label.last().is_some_and(u8::is_ascii_alphanumeric)
                && is_atom(label)
        });
    Some(local_ok && domain_ok)
}

fn is_atom(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| ATEXT[c as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_a_customer_record_may_hold() {
        let long_label = format!("a@{}.com", "b".repeat(63));
        let too_long_label = format!("a@{}.com", "b".repeat(64));
        let long_local = format!("{}@example.com", "a".repeat(64));
        let too_long_local = format!("{}@example.com", "a".repeat(65));
        let cases: &[(&str, bool)] = &[
            ("anna@example.com", true),
            ("Anna.Nowak+tag@example.co.uk", true),
            ("o'brien@example.ie", true),
            ("a!#$%&'*+-/=?^_`{|}~@example.com", true),
            ("żaneta@przykład.pl", true),
            (&long_label, true),
            (&long_local, true),
            ("anna@example", false),
            ("anna.example.com", false),
            ("anna@@example.com", false),
            ("an na@example.com", false),
            ("anna@exa..mple.com", false),
            (".anna@example.com", false),
            ("anna.@example.com", false),
            ("anna@-example.com", false),
            ("anna@example-.com", false),
            ("anna@.example.com", false),
            ("anna@example.com.", false),
            ("@example.com", false),
            ("anna@", false),
            ("", false),
            (&too_long_label, false),
            (&too_long_local, false),
            ("Anna <anna@example.com>", false),
            ("\"anna\"@example.com", false),
            ("\"an na\"@example.com", false),
            ("anna@[192.168.0.1]", false),
            ("anna@example.com (home)", false),
        ];
        for &(address, valid) in cases {
            assert_eq!(is_valid(address), valid, "{address:?}");
        }
    }

    /// The rules as the crate states them, for the property below.
    fn crate_verdict(value: &str) -> bool {
        by_the_crate(value)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Addresses of atom characters: the fast path decides, as the crate does.
        #[test]
        fn the_fast_path_agrees_with_the_crate(
            value in r#"[a-cA-C0-9._+!'~]{0,12}(@[a-c0-9.\-]{0,10}){0,2}"#
        ) {
            prop_assert_eq!(plain(&value), Some(crate_verdict(&value)), "{:?}", value);
        }

        /// Anything else is left to the crate.
        #[test]
        fn other_characters_are_left_to_the_crate(
            value in r#"[a-c.@"<> \[\]()ä]{0,8}[ "<\[ä][a-c.@"<> \[\]()ä]{0,8}"#
        ) {
            prop_assert_eq!(plain(&value), None, "{:?}", value);
        }

        /// Long parts, where the length limits decide.
        #[test]
        fn the_fast_path_agrees_on_length_limits(local in 55usize..75, label in 55usize..75, labels in 1usize..6) {
            let domain = vec!["d".repeat(label); labels].join(".");
            let value = format!("{}@{domain}", "l".repeat(local));
            prop_assert_eq!(plain(&value), Some(crate_verdict(&value)), "{}", value);
        }
    }
}
