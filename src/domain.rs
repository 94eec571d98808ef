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
/// Only the validator constructs it (the private field seals it), so code after the
/// validator cannot receive an unchecked row.
#[derive(Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ValidatedUser {
    pub external_user_id: String,
    pub email: String,
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub street: String,
    pub number: String,
    pub city: String,
    pub post_code: String,
    pub country: String,
    pub citizenship: String,
    pub nationality: String,
    pub birth_country: String,
    pub birth_date: String,
    #[serde(rename = "hasAcceptedP100Tc")]
    pub has_accepted_p100_tc: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identification_number: Option<String>,
    #[serde(skip)]
    pub(crate) _sealed: Sealed,
}

/// Zero-sized seal: only this crate can build a [`ValidatedUser`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Sealed(());

/// Names the row by its id only: personal data never reaches logs through `{:?}`.
impl fmt::Debug for ValidatedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedUser")
            .field("external_user_id", &self.external_user_id)
            .finish_non_exhaustive()
    }
}
