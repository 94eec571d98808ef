//! The API's user fields and the validated row that only the validator can build.

use serde::Serialize;
use std::fmt;

/// One field of the Create User Account body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    ExternalUserId,
    Email,
    Phone,
    FirstName,
    LastName,
    Street,
    Number,
    City,
    PostCode,
    Country,
    Citizenship,
    Nationality,
    BirthCountry,
    BirthDate,
    HasAcceptedP100Tc,
    UserIdentificationNumber,
}

impl Field {
    pub const COUNT: usize = 16;
    pub const ALL: [Field; Field::COUNT] = [
        Field::ExternalUserId,
        Field::Email,
        Field::Phone,
        Field::FirstName,
        Field::LastName,
        Field::Street,
        Field::Number,
        Field::City,
        Field::PostCode,
        Field::Country,
        Field::Citizenship,
        Field::Nationality,
        Field::BirthCountry,
        Field::BirthDate,
        Field::HasAcceptedP100Tc,
        Field::UserIdentificationNumber,
    ];

    /// The JSON name the API uses.
    pub fn api_name(self) -> &'static str {
        match self {
            Field::ExternalUserId => "externalUserId",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::FirstName => "firstName",
            Field::LastName => "lastName",
            Field::Street => "street",
            Field::Number => "number",
            Field::City => "city",
            Field::PostCode => "postCode",
            Field::Country => "country",
            Field::Citizenship => "citizenship",
            Field::Nationality => "nationality",
            Field::BirthCountry => "birthCountry",
            Field::BirthDate => "birthDate",
            Field::HasAcceptedP100Tc => "hasAcceptedP100Tc",
            Field::UserIdentificationNumber => "userIdentificationNumber",
        }
    }

    /// Index into per-field arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a file must carry a column for it. `hasAcceptedP100Tc` may come from
    /// `--terms-accepted` instead, so the column itself is optional.
    pub fn column_required(self) -> bool {
        !matches!(
            self,
            Field::UserIdentificationNumber | Field::HasAcceptedP100Tc
        )
    }

    /// Whether the field holds personal data that must never reach logs or the ledger.
    pub fn is_personal(self) -> bool {
        !matches!(self, Field::ExternalUserId | Field::HasAcceptedP100Tc)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// A row that passed every local rule, already normalised: the exact request body.
///
/// Only the validator constructs it (its fields are private), so code after the
/// validator cannot receive an unchecked row. The values share one buffer: a
/// million-row file builds a million of these, and one allocation each instead of
/// fifteen was most of what checking a row cost beyond the rules themselves.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidatedUser {
    /// Every value one after another, in `Field::ALL` order.
    text: String,
    /// `ends[i]`: where the value of `Field::ALL[i]` ends in `text`.
    ends: [u32; Field::COUNT],
    terms: bool,
}

impl ValidatedUser {
    /// `values` indexed by [`Field::index`]; the `hasAcceptedP100Tc` cell is replaced
    /// by `terms`, and an empty `userIdentificationNumber` means none.
    pub(crate) fn new(values: &[&str; Field::COUNT], terms: bool) -> ValidatedUser {
        let mut text = String::with_capacity(values.iter().map(|v| v.len()).sum());
        let mut ends = [0; Field::COUNT];
        for field in Field::ALL {
            if field != Field::HasAcceptedP100Tc {
                text.push_str(values[field.index()]);
            }
            ends[field.index()] = u32::try_from(text.len()).expect("values are length-checked");
        }
        ValidatedUser { text, ends, terms }
    }

    /// The normalised value of `field`; empty for `hasAcceptedP100Tc` (see
    /// [`ValidatedUser::has_accepted_p100_tc`]) and for an absent identification number.
    pub fn get(&self, field: Field) -> &str {
        let i = field.index();
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start as usize..self.ends[i] as usize]
    }

    pub fn external_user_id(&self) -> &str {
        self.get(Field::ExternalUserId)
    }

    pub fn has_accepted_p100_tc(&self) -> bool {
        self.terms
    }

    pub fn user_identification_number(&self) -> Option<&str> {
        Some(self.get(Field::UserIdentificationNumber)).filter(|v| !v.is_empty())
    }
}

/// The Create User Account body: every field by its API name, in `Field::ALL` order,
/// `userIdentificationNumber` only when present.
impl Serialize for ValidatedUser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let uin = self.user_identification_number();
        let len = Field::COUNT - usize::from(uin.is_none());
        let mut body = serializer.serialize_struct("ValidatedUser", len)?;
        for field in Field::ALL {
            match (field, uin) {
                (Field::HasAcceptedP100Tc, _) => {
                    body.serialize_field(field.api_name(), &self.terms)?
                }
                (Field::UserIdentificationNumber, None) => body.skip_field(field.api_name())?,
                _ => body.serialize_field(field.api_name(), self.get(field))?,
            }
        }
        body.end()
    }
}

/// Names the row by its id only: personal data never reaches logs through `{:?}`.
impl fmt::Debug for ValidatedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedUser")
            .field("external_user_id", &self.external_user_id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(uin: &'static str) -> [&'static str; Field::COUNT] {
        [
            "c-1",
            "ann@example.com",
            "48601234567",
            "Ann",
            "Lee",
            "Main Street",
            "12/3",
            "Łódź",
            "90-001",
            "PL",
            "PL",
            "PL",
            "PL",
            "1990-01-31",
            "yes",
            uin,
        ]
    }

    #[test]
    fn the_body_names_every_field_in_order_and_omits_an_absent_identification_number() {
        let cases = [
            ("", false, ""),
            ("ID-9", true, r#","userIdentificationNumber":"ID-9""#),
        ];
        for (uin, terms, tail) in cases {
            let user = ValidatedUser::new(&values(uin), terms);
            let expected = format!(
                concat!(
                    r#"{{"externalUserId":"c-1","email":"ann@example.com","phone":"48601234567","#,
                    r#""firstName":"Ann","lastName":"Lee","street":"Main Street","number":"12/3","#,
                    r#""city":"Łódź","postCode":"90-001","country":"PL","citizenship":"PL","#,
                    r#""nationality":"PL","birthCountry":"PL","birthDate":"1990-01-31","#,
                    r#""hasAcceptedP100Tc":{}{}}}"#
                ),
                terms, tail
            );
            assert_eq!(serde_json::to_string(&user).unwrap(), expected);
        }
    }

    #[test]
    fn each_value_reads_back_as_given() {
        let v = values("ID-9");
        let user = ValidatedUser::new(&v, true);
        for field in Field::ALL {
            let expected = if field == Field::HasAcceptedP100Tc {
                ""
            } else {
                v[field.index()]
            };
            assert_eq!(user.get(field), expected, "{field}");
        }
        assert_eq!(user.external_user_id(), "c-1");
        assert_eq!(user.user_identification_number(), Some("ID-9"));
        assert_eq!(
            format!("{user:?}"),
            r#"ValidatedUser { external_user_id: "c-1", .. }"#
        );
    }
}
