//! What is wrong with a row, in words safe for logs and the ledger: a message names
//! the field and the rule, never a personal value.

use crate::domain::Field;
use std::fmt;

/// The rule a row broke. `as_str` is stable: it is stored in the ledger and counted
/// in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    Required,
    Email,
    Phone,
    Country,
    BirthDate,
    MinAge,
    Terms,
    ExternalUserId,
    Duplicate,
    Encoding,
    ControlChars,
    Length,
    FieldCount,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::Required,
        Rule::Email,
        Rule::Phone,
        Rule::Country,
        Rule::BirthDate,
        Rule::MinAge,
        Rule::Terms,
        Rule::ExternalUserId,
        Rule::Duplicate,
        Rule::Encoding,
        Rule::ControlChars,
        Rule::Length,
        Rule::FieldCount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Email => "email",
            Rule::Phone => "phone",
            Rule::Country => "country",
            Rule::BirthDate => "birth_date",
            Rule::MinAge => "min_age",
            Rule::Terms => "terms",
            Rule::ExternalUserId => "external_user_id",
            Rule::Duplicate => "duplicate",
            Rule::Encoding => "encoding",
            Rule::ControlChars => "control_chars",
            Rule::Length => "length",
            Rule::FieldCount => "field_count",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule of one row. `field` is `None` for row-level problems
/// (field count, encoding of an unmapped column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: Option<Field>,
    pub rule: Rule,
    pub message: String,
}

impl Problem {
    pub fn new(field: Field, rule: Rule, message: impl Into<String>) -> Problem {
        Problem {
            field: Some(field),
            rule,
            message: message.into(),
        }
    }

    pub fn row(rule: Rule, message: impl Into<String>) -> Problem {
        Problem {
            field: None,
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => write!(f, "row: {}", self.message),
        }
    }
}

/// All problems of a row on one line: `field: message; field: message`.
pub fn problems_text(problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&p.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_render_on_one_line_with_their_fields() {
        let ps = [
            Problem::new(Field::Email, Rule::Email, "not a valid address"),
            Problem::row(Rule::FieldCount, "row has 3 fields, the header has 16"),
        ];
        assert_eq!(
            problems_text(&ps),
            "email: not a valid address; row: row has 3 fields, the header has 16"
        );
    }

    #[test]
    fn rule_names_are_distinct() {
        let mut names: Vec<_> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Rule::ALL.len());
    }
}
