//! The per-row rules: a pure function from normalised cells to a [`ValidatedUser`] or
//! every [`Problem`] of the row. Messages never quote personal values.

use super::countries;
use super::date::Date;
use super::email;
use super::normalise::{is_country_field, normalise_row, Normalisations};
use super::problem::{Problem, Rule};
use crate::domain::{Field, ValidatedUser};

/// Longest value accepted in any field; the API documents no limits, this keeps
/// a stray 10 MB cell out of requests and the ledger.
pub const MAX_LEN: usize = 255;

/// Where `hasAcceptedP100Tc` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermsSource {
    /// Only the column: an empty cell is a missing value.
    Column,
    /// No column; `--terms-accepted` asserts acceptance for every row.
    AssertedByFlag,
    /// Column and flag: a cell's value wins, an empty cell falls back to the flag.
    ColumnElseFlag,
}

/// The run-wide inputs of the rules.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub today: Date,
    pub min_age: u32,
    pub terms: TermsSource,
}

/// Parses the yes/no spellings CRM exports use, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "yes", "1", "y"];
    const FALSE: [&str; 4] = ["false", "no", "0", "n"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// Terms acceptance for a row, or the problem. `cell` is the normalised column value
/// (empty when the file has no column).
pub fn resolve_terms(cell: &str, source: TermsSource) -> Result<bool, Problem> {
    let f = Field::HasAcceptedP100Tc;
    if source == TermsSource::AssertedByFlag
        || (cell.is_empty() && source == TermsSource::ColumnElseFlag)
    {
        return Ok(true);
    }
    match parse_bool(cell) {
        Some(true) => Ok(true),
        Some(false) => Err(Problem::new(
            f,
            Rule::Terms,
            "is false: the user has not accepted P100's terms",
        )),
        None if cell.is_empty() => Err(Problem::new(
            f,
            Rule::Required,
            "is required but empty (or pass --terms-accepted)",
        )),
        None => Err(Problem::new(
            f,
            Rule::Terms,
            "is not a yes/no value (true/false, yes/no, 1/0, y/n)",
        )),
    }
}

/// Checks one normalised row. `values` is indexed by [`Field::index`]; absent columns
/// are empty strings.
pub fn validate(
    values: &[&str; Field::COUNT],
    rules: &Rules,
) -> Result<ValidatedUser, Vec<Problem>> {
    check_values(values, rules).map(|terms| ValidatedUser::new(values, terms))
}

/// [`validate`] without building the body: the resolved terms value, or every problem.
pub fn check_values(values: &[&str; Field::COUNT], rules: &Rules) -> Result<bool, Vec<Problem>> {
    let mut problems = Vec::new();
    for field in Field::ALL {
        if field == Field::HasAcceptedP100Tc {
            continue;
        }
        check_field(field, values[field.index()], rules, &mut problems);
    }
    let terms = resolve_terms(values[Field::HasAcceptedP100Tc.index()], rules.terms);
    let terms = match terms {
        Ok(t) => t,
        Err(p) => {
            problems.push(p);
            false
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(terms)
}

/// Normalises raw cells (as read, absent columns empty) and validates them: the whole
/// per-row rule set except in-file duplicates, which need the rows before.
pub fn check_raw(
    raw: &[&str; Field::COUNT],
    rules: &Rules,
) -> (Result<ValidatedUser, Vec<Problem>>, Normalisations) {
    let mut counts = Normalisations::default();
    let cells = normalise_row(raw.map(std::borrow::Cow::Borrowed), &mut counts);
    let values: [&str; Field::COUNT] = std::array::from_fn(|i| cells[i].as_ref());
    (validate(&values, rules), counts)
}

fn check_field(field: Field, value: &str, rules: &Rules, problems: &mut Vec<Problem>) {
    let id = field == Field::ExternalUserId;
    if value.is_empty() {
        if field != Field::UserIdentificationNumber {
            problems.push(Problem::new(field, Rule::Required, "is required but empty"));
        }
        return;
    }
    if value.len() > MAX_LEN && value.chars().count() > MAX_LEN {
        let rule = if id {
            Rule::ExternalUserId
        } else {
            Rule::Length
        };
        problems.push(Problem::new(
            field,
            rule,
            format!("is longer than {MAX_LEN} characters"),
        ));
        return;
    }
    if has_control(value) {
        let rule = if id {
            Rule::ExternalUserId
        } else {
            Rule::ControlChars
        };
        problems.push(Problem::new(field, rule, "contains control characters"));
        return;
    }
    let problem = match field {
        Field::Email => (!email::is_valid(value))
            .then(|| (Rule::Email, "is not a valid email address".to_string())),
        Field::Phone => phone_problem(value).map(|msg| (Rule::Phone, msg)),
        Field::BirthDate => birth_date_problem(value, rules),
        f if is_country_field(f) => {
            (!countries::is_alpha2(value)).then(|| (Rule::Country, country_message(value)))
        }
        _ => None,
    };
    if let Some((rule, message)) = problem {
        problems.push(Problem::new(field, rule, message));
    }
}

/// Control characters. Eight bytes at a time settle almost every value; only text
/// with a 0xC2 lead byte, where C1 controls live, is decoded.
pub fn has_control(s: &str) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `x` is below `n` (n <= 0x80), or is zero: exact as a yes/no.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let suspicious =
        |x: u64| below(x, 0x20) || below(x ^ (ONES * 0x7f), 1) || below(x ^ (ONES * 0xc2), 1);
    let b = s.as_bytes();
    // Whole words, the last one overlapping the one before when the length is not a
    // multiple of eight.
    let found = match b.last_chunk::<8>() {
        Some(last) => b
            .as_chunks::<8>()
            .0
            .iter()
            .chain([last])
            .any(|w| suspicious(u64::from_ne_bytes(*w))),
        None => b
            .iter()
            .fold(false, |f, &c| f | (c < 0x20) | (c == 0x7f) | (c == 0xc2)),
    };
    found && s.chars().any(char::is_control)
}

fn phone_problem(value: &str) -> Option<String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Some("must contain only digits (spaces, dashes, dots, parentheses and a leading + or 00 are removed)".into());
    }
    let n = value.len();
    (!(7..=15).contains(&n)).then(|| format!("must have 7 to 15 digits, has {n}"))
}

fn country_message(value: &str) -> String {
    // Short letter codes are not personal and help the reader; longer text might be.
    let shown = if value.len() <= 3 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        format!("\"{value}\" is not an ISO 3166-1 alpha-2 code")
    } else {
        "is not an ISO 3166-1 alpha-2 code".to_string()
    };
    match countries::hint(value) {
        Some(code) => format!("{shown}; did you mean {code}?"),
        None => shown,
    }
}

fn birth_date_problem(value: &str, rules: &Rules) -> Option<(Rule, String)> {
    let Some(born) = Date::parse_iso(value) else {
        let b = value.as_bytes();
        let day_first = b.len() == 10
            && matches!(b[2], b'/' | b'.' | b'-')
            && b[..2].iter().all(u8::is_ascii_digit);
        let msg = if day_first {
            "must be a real date written YYYY-MM-DD (day-first dates are not accepted)"
        } else {
            "must be a real date written YYYY-MM-DD"
        };
        return Some((Rule::BirthDate, msg.to_string()));
    };
    if born > rules.today {
        Some((Rule::BirthDate, "is in the future".to_string()))
    } else if born.years_until(rules.today) < rules.min_age as i32 {
        Some((
            Rule::MinAge,
            format!("the person is under {}", rules.min_age),
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date {
        year: 2025,
        month: 6,
        day: 15,
    };

    fn rules() -> Rules {
        Rules {
            today: TODAY,
            min_age: 18,
            terms: TermsSource::Column,
        }
    }

    fn good() -> [&'static str; Field::COUNT] {
        [
            "cust-1",
            "anna@example.com",
            "48601234567",
            "Anna",
            "Nowak",
            "Marszałkowska",
            "12/5",
            "Warszawa",
            "00-001",
            "PL",
            "PL",
            "PL",
            "PL",
            "1990-02-28",
            "true",
            "",
        ]
    }

    fn problems_for(
        field: Field,
        value: &'static str,
        r: &Rules,
    ) -> Vec<(Option<Field>, Rule, String)> {
        let mut v = good();
        v[field.index()] = value;
        match validate(&v, r) {
            Ok(_) => vec![],
            Err(ps) => ps
                .into_iter()
                .map(|p| (p.field, p.rule, p.message))
                .collect(),
        }
    }

    #[test]
    fn a_complete_row_becomes_the_request_body() {
        let user = validate(&good(), &rules()).unwrap();
        assert_eq!(user.external_user_id(), "cust-1");
        assert!(user.has_accepted_p100_tc());
        assert_eq!(user.user_identification_number(), None);
    }

    /// A field, its value, and the one problem expected (if any).
    type Case = (Field, &'static str, Option<(Rule, &'static str)>);

    #[test]
    fn each_rule_reports_its_field_rule_and_message() {
        use Field::*;
        let cases: &[Case] = &[
            (FirstName, "", Some((Rule::Required, "is required but empty"))),
            (City, "", Some((Rule::Required, "is required but empty"))),
            (UserIdentificationNumber, "", None),
            (UserIdentificationNumber, "ABC123456", None),
            (Email, "anna@example", Some((Rule::Email, "is not a valid email address"))),
            (Email, "anna.example.com", Some((Rule::Email, "is not a valid email address"))),
            (Email, "anna@@example.com", Some((Rule::Email, "is not a valid email address"))),
            (Email, "an na@example.com", Some((Rule::Email, "is not a valid email address"))),
            (Email, "anna@exa..mple.com", Some((Rule::Email, "is not a valid email address"))),
            (Email, "Anna.Nowak+tag@example.co.uk", None),
            (Phone, "123456", Some((Rule::Phone, "must have 7 to 15 digits, has 6"))),
            (Phone, "1234567", None),
            (Phone, "123456789012345", None),
            (Phone, "1234567890123456", Some((Rule::Phone, "must have 7 to 15 digits, has 16"))),
            (Phone, "48601x34567", Some((Rule::Phone, "must contain only digits (spaces, dashes, dots, parentheses and a leading + or 00 are removed)"))),
            (Country, "UK", Some((Rule::Country, "\"UK\" is not an ISO 3166-1 alpha-2 code; did you mean GB?"))),
            (Citizenship, "EL", Some((Rule::Country, "\"EL\" is not an ISO 3166-1 alpha-2 code; did you mean GR?"))),
            (Nationality, "DEU", Some((Rule::Country, "\"DEU\" is not an ISO 3166-1 alpha-2 code; did you mean DE?"))),
            (BirthCountry, "XX", Some((Rule::Country, "\"XX\" is not an ISO 3166-1 alpha-2 code"))),
            (Country, "United Kingdom", Some((Rule::Country, "is not an ISO 3166-1 alpha-2 code; did you mean GB?"))),
            (Country, "IR", None),
            (BirthDate, "1990-02-30", Some((Rule::BirthDate, "must be a real date written YYYY-MM-DD"))),
            (BirthDate, "31/12/1990", Some((Rule::BirthDate, "must be a real date written YYYY-MM-DD (day-first dates are not accepted)"))),
            (BirthDate, "31.12.1990", Some((Rule::BirthDate, "must be a real date written YYYY-MM-DD (day-first dates are not accepted)"))),
            (BirthDate, "2025-06-16", Some((Rule::BirthDate, "is in the future"))),
            (BirthDate, "2007-06-16", Some((Rule::MinAge, "the person is under 18"))),
            (BirthDate, "2007-06-15", None),
            (BirthDate, "2025-06-15", Some((Rule::MinAge, "the person is under 18"))),
            (HasAcceptedP100Tc, "false", Some((Rule::Terms, "is false: the user has not accepted P100's terms"))),
            (HasAcceptedP100Tc, "N", Some((Rule::Terms, "is false: the user has not accepted P100's terms"))),
            (HasAcceptedP100Tc, "maybe", Some((Rule::Terms, "is not a yes/no value (true/false, yes/no, 1/0, y/n)"))),
            (HasAcceptedP100Tc, "", Some((Rule::Required, "is required but empty (or pass --terms-accepted)"))),
            (HasAcceptedP100Tc, "YES", None),
            (ExternalUserId, "", Some((Rule::Required, "is required but empty"))),
            (ExternalUserId, "id\u{1}x", Some((Rule::ExternalUserId, "contains control characters"))),
            (FirstName, "An\u{0}na", Some((Rule::ControlChars, "contains control characters"))),
            (LastName, "No\u{85}wak", Some((Rule::ControlChars, "contains control characters"))),
            (LastName, "Nowak\u{7f}", Some((Rule::ControlChars, "contains control characters"))),
            (LastName, "Łąckà", None),
        ];
        for (field, value, expected) in cases {
            let got = problems_for(*field, value, &rules());
            let want: Vec<_> = expected
                .iter()
                .map(|(rule, msg)| (Some(*field), *rule, msg.to_string()))
                .collect();
            assert_eq!(got, want, "{field} = {value:?}");
        }
    }

    #[test]
    fn values_longer_than_255_characters_are_refused() {
        let long: &'static str = Box::leak("x".repeat(256).into_boxed_str());
        let ok: &'static str = Box::leak("ż".repeat(255).into_boxed_str());
        assert_eq!(
            problems_for(Field::ExternalUserId, long, &rules())[0].1,
            Rule::ExternalUserId
        );
        assert_eq!(
            problems_for(Field::Street, long, &rules())[0].1,
            Rule::Length
        );
        assert!(problems_for(Field::Street, ok, &rules()).is_empty());
    }

    #[test]
    fn every_problem_of_a_row_is_reported_not_just_the_first() {
        let mut v = good();
        v[Field::Email.index()] = "nope";
        v[Field::Phone.index()] = "12";
        v[Field::Country.index()] = "UK";
        v[Field::HasAcceptedP100Tc.index()] = "no";
        let rules: Vec<_> = validate(&v, &rules())
            .unwrap_err()
            .iter()
            .map(|p| p.rule)
            .collect();
        assert_eq!(
            rules,
            vec![Rule::Email, Rule::Phone, Rule::Country, Rule::Terms]
        );
    }

    #[test]
    fn messages_never_quote_personal_values() {
        let mut v = good();
        let personal = [
            "zz@@secret",
            "999",
            "Secretname",
            "Hidden Lane 7\u{1}",
            "31/12/1950",
        ];
        v[Field::Email.index()] = personal[0];
        v[Field::Phone.index()] = personal[1];
        v[Field::FirstName.index()] = "";
        v[Field::LastName.index()] = personal[2];
        v[Field::Street.index()] = personal[3];
        v[Field::BirthDate.index()] = personal[4];
        v[Field::Country.index()] = "Secretland";
        let text = super::super::problems_text(&validate(&v, &rules()).unwrap_err());
        for p in personal.iter().chain(&["Secretland"]) {
            assert!(!text.contains(p), "{text} quotes {p}");
        }
    }

    #[test]
    fn the_terms_flag_fills_rows_without_a_value_but_a_column_value_wins() {
        let cases = [
            ("", TermsSource::AssertedByFlag, Ok(true)),
            ("false", TermsSource::AssertedByFlag, Ok(true)),
            ("", TermsSource::ColumnElseFlag, Ok(true)),
            ("no", TermsSource::ColumnElseFlag, Err(Rule::Terms)),
            ("yes", TermsSource::ColumnElseFlag, Ok(true)),
            ("", TermsSource::Column, Err(Rule::Required)),
            ("1", TermsSource::Column, Ok(true)),
            ("0", TermsSource::Column, Err(Rule::Terms)),
            ("y", TermsSource::Column, Ok(true)),
            ("True", TermsSource::Column, Ok(true)),
        ];
        for (cell, source, expected) in cases {
            assert_eq!(
                resolve_terms(cell, source).map_err(|p| p.rule),
                expected,
                "{cell:?} {source:?}"
            );
        }
    }

    #[test]
    fn raw_cells_are_normalised_before_the_rules_and_the_changes_counted() {
        let mut raw = good();
        raw[Field::Phone.index()] = " +48 601 234 567";
        raw[Field::Country.index()] = "pl";
        let (verdict, counts) = check_raw(&raw, &rules());
        let user = verdict.unwrap();
        assert_eq!(
            (user.get(Field::Phone), user.get(Field::Country)),
            ("48601234567", "PL")
        );
        assert_eq!(counts.total(), 3);
    }

    #[test]
    fn the_minimum_age_is_configurable() {
        let r = Rules {
            min_age: 21,
            ..rules()
        };
        assert_eq!(
            problems_for(Field::BirthDate, "2005-01-01", &r)[0].2,
            "the person is under 21"
        );
        let r = Rules {
            min_age: 0,
            ..rules()
        };
        assert!(problems_for(Field::BirthDate, "2025-06-15", &r).is_empty());
    }

    #[test]
    fn every_control_character_is_found_at_every_position() {
        for c in ('\0'..='\u{2ff}').chain(['€', '\u{2028}', '\u{feff}']) {
            for at in 0..18 {
                let s: String = (0..18).map(|i| if i == at { c } else { 'a' }).collect();
                assert_eq!(has_control(&s), c.is_control(), "{c:?} at {at}");
                assert_eq!(
                    has_control(&s[..s.len() - (17 - at)]),
                    c.is_control(),
                    "{c:?} last"
                );
            }
        }
    }

    proptest::proptest! {
        /// The word-at-a-time scan finds exactly what decoding every character would.
        #[test]
        fn control_characters_are_found_wherever_they_are(
            s in "[a-z\u{0}-\u{1f}\u{7f}-\u{a1}\u{100}ä€]{0,40}"
        ) {
            proptest::prop_assert_eq!(has_control(&s), s.chars().any(char::is_control));
        }
    }
}
