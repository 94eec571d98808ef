//! The endpoint's validation rules (P403): every failed rule, joined in one message.

use crate::ingest::countries::is_alpha2 as is_iso_country;
use serde_json::{Map, Value};

/// The parts of an accepted body the later checks (uniqueness, countries) need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub external_user_id: String,
    /// Lower-cased: the API treats emails case-insensitively.
    pub email_lower: String,
    pub phone: String,
    pub country: String,
    pub citizenship: String,
}

const REQUIRED_TEXT: [&str; 9] = [
    "externalUserId",
    "email",
    "phone",
    "firstName",
    "lastName",
    "street",
    "number",
    "city",
    "postCode",
];
const COUNTRY_FIELDS: [&str; 4] = ["country", "citizenship", "nationality", "birthCountry"];

/// Checks a request body; `Err` carries the P403 message (rules joined with `"; "`).
pub fn validate(body: &Value) -> Result<Accepted, String> {
    let Some(obj) = body.as_object() else {
        return Err("request body must be a JSON object".to_string());
    };
    let mut problems: Vec<String> = Vec::new();
    for name in REQUIRED_TEXT {
        if let Some(v) = text(obj, name, &mut problems) {
            match name {
                "email" if !email_address::EmailAddress::is_valid(v) => {
                    problems.push("email must be a valid email".into())
                }
                "phone" => check_phone(v, &mut problems),
                _ => {}
            }
        }
    }
    for name in COUNTRY_FIELDS {
        if let Some(v) = text(obj, name, &mut problems) {
            if !is_iso_country(v) {
                problems.push(format!(
                    "{name} must be an ISO 3166-1 alpha-2 country code in upper case"
                ));
            }
        }
    }
    if let Some(v) = text(obj, "birthDate", &mut problems) {
        if !is_calendar_date(v) {
            problems.push("birthDate must be a valid date in the format YYYY-MM-DD".into());
        }
    }
    match obj.get("hasAcceptedP100Tc") {
        Some(Value::Bool(true)) => {}
        None | Some(Value::Null) => problems.push("hasAcceptedP100Tc is required".into()),
        Some(Value::Bool(false)) => problems.push("hasAcceptedP100Tc must be true".into()),
        Some(_) => problems.push("hasAcceptedP100Tc must be a boolean".into()),
    }
    match obj.get("userIdentificationNumber") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => problems.push("userIdentificationNumber must be a string".into()),
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let get = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
    Ok(Accepted {
        external_user_id: get("externalUserId").to_string(),
        email_lower: get("email").to_lowercase(),
        phone: get("phone").to_string(),
        country: get("country").to_string(),
        citizenship: get("citizenship").to_string(),
    })
}

/// A required, non-blank string field; records why otherwise.
fn text<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<&'a str> {
    match obj.get(name) {
        None | Some(Value::Null) => problems.push(format!("{name} is required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            problems.push(format!("{name} must not be empty"))
        }
        Some(Value::String(s)) => return Some(s),
        Some(_) => problems.push(format!("{name} must be a string")),
    }
    None
}

fn check_phone(v: &str, problems: &mut Vec<String>) {
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        problems.push("phone must contain only digits".into());
    } else if !(7..=15).contains(&v.len()) {
        problems.push("phone must have between 7 and 15 digits".into());
    }
}

/// `YYYY-MM-DD` naming a day that exists (leap years included).
fn is_calendar_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "externalUserId": "ext-1", "email": "Ann@Example.com", "phone": "14155552671",
            "firstName": "Ann", "lastName": "Lee", "street": "Main", "number": "1/2",
            "city": "Leeds", "postCode": "LS1 1AA", "country": "GB", "citizenship": "GB",
            "nationality": "GB", "birthCountry": "GB", "birthDate": "2000-02-29",
            "hasAcceptedP100Tc": true
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = good();
        v[field] = value;
        v
    }

    #[test]
    fn a_complete_body_is_accepted_and_its_email_lower_cased() {
        let a = validate(&good()).expect("valid");
        assert_eq!(a.email_lower, "ann@example.com");
        assert_eq!(a.external_user_id, "ext-1");
    }

    #[test]
    fn each_broken_rule_is_named_and_all_are_joined_in_one_message() {
        let cases: Vec<(Value, &str)> = vec![
            (with("email", json!("nope")), "email must be a valid email"),
            (
                with("phone", json!("+4412345")),
                "phone must contain only digits",
            ),
            (
                with("phone", json!("123")),
                "phone must have between 7 and 15 digits",
            ),
            (
                with("country", json!("gb")),
                "country must be an ISO 3166-1",
            ),
            (
                with("birthCountry", json!("XX")),
                "birthCountry must be an ISO",
            ),
            (
                with("birthDate", json!("2001-02-29")),
                "birthDate must be a valid date",
            ),
            (
                with("birthDate", json!("01/02/2000")),
                "birthDate must be a valid date",
            ),
            (
                with("hasAcceptedP100Tc", json!(false)),
                "hasAcceptedP100Tc must be true",
            ),
            (
                with("hasAcceptedP100Tc", json!("true")),
                "hasAcceptedP100Tc must be a boolean",
            ),
            (with("city", json!("  ")), "city must not be empty"),
            (with("street", json!(5)), "street must be a string"),
            (with("lastName", Value::Null), "lastName is required"),
            (
                with("userIdentificationNumber", json!(7)),
                "userIdentificationNumber must be a string",
            ),
            (json!([1, 2]), "request body must be a JSON object"),
        ];
        for (body, want) in cases {
            let msg = validate(&body).expect_err(want);
            assert!(msg.contains(want), "{msg:?} should contain {want:?}");
        }
        let mut two = with("email", json!("nope"));
        two["phone"] = json!("12ab");
        assert_eq!(
            validate(&two).unwrap_err(),
            "email must be a valid email; phone must contain only digits"
        );
    }
}
