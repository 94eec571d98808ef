//! Header names → API fields. A column matches a field when the names are equal
//! ignoring case, spaces, `_` and `-`; a mapping file names the rest.

use super::IngestError;
use crate::domain::Field;
use std::collections::HashMap;
use std::path::Path;

/// Which column feeds which field, and which columns nobody reads.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// Column index per field (`Field::index`), `None` if the file has no such column.
    pub columns: [Option<usize>; Field::COUNT],
    /// Original names of the columns no field reads, in file order.
    pub ignored: Vec<String>,
}

/// The comparison key: lower case without spaces, `_` and `-`.
pub fn key(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The field whose API name matches `name` under [`key`].
pub fn field_for(name: &str) -> Option<Field> {
    let k = key(name);
    Field::ALL.into_iter().find(|f| key(f.api_name()) == k)
}

/// Reads a TOML mapping file: `"E-Mail Address" = "email"`. Keys are compared to
/// headers with [`key`]; values must name an API field (same leniency).
pub fn load_mapping(path: &Path) -> Result<HashMap<String, Field>, IngestError> {
    let err = |message: String| IngestError::Mapping {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(format!("not valid TOML: {}", e.message())))?;
    let mut out = HashMap::new();
    for (header, value) in table {
        let Some(target) = value.as_str() else {
            return Err(err(format!(
                "\"{header}\" must map to a field name in quotes, e.g. \"{header}\" = \"email\""
            )));
        };
        let Some(field) = field_for(target) else {
            let names: Vec<_> = Field::ALL.iter().map(|f| f.api_name()).collect();
            return Err(err(format!(
                "\"{header}\" maps to \"{target}\", which is not a field; fields are: {}",
                names.join(", ")
            )));
        };
        out.insert(key(&header), field);
    }
    Ok(out)
}

/// Maps `headers` (already trimmed, BOM removed) to fields. Mapping-file entries win
/// over name matching. Fails on two columns for one field and on missing required ones.
pub fn map_columns(
    path: &Path,
    headers: &[String],
    mapping: &HashMap<String, Field>,
    delimiter: u8,
) -> Result<ColumnMap, IngestError> {
    let mut columns: [Option<usize>; Field::COUNT] = [None; Field::COUNT];
    let mut ignored = Vec::new();
    for (i, name) in headers.iter().enumerate() {
        let k = key(name);
        let field = mapping.get(&k).copied().or_else(|| field_for(name));
        match field {
            Some(f) => {
                if let Some(prev) = columns[f.index()] {
                    return Err(IngestError::DuplicateField {
                        path: path.to_path_buf(),
                        field: f,
                        first: headers[prev].clone(),
                        second: name.clone(),
                    });
                }
                columns[f.index()] = Some(i);
            }
            None if name.is_empty() => ignored.push(format!("(unnamed column {})", i + 1)),
            None => ignored.push(name.clone()),
        }
    }
    let missing: Vec<String> = Field::ALL
        .into_iter()
        .filter(|f| f.column_required() && columns[f.index()].is_none())
        .map(|f| f.api_name().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            found: headers.iter().map(|h| format!("\"{h}\"")).collect(),
            delimiter,
        });
    }
    Ok(ColumnMap { columns, ignored })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_match_fields_ignoring_case_spaces_underscores_and_dashes() {
        let cases = [
            ("first_name", Some(Field::FirstName)),
            ("First Name", Some(Field::FirstName)),
            ("FIRSTNAME", Some(Field::FirstName)),
            ("has_accepted_p100_tc", Some(Field::HasAcceptedP100Tc)),
            ("external-user-id", Some(Field::ExternalUserId)),
            ("Post Code", Some(Field::PostCode)),
            ("birth_date", Some(Field::BirthDate)),
            ("E-Mail", Some(Field::Email)),
            ("E-Mail Address", None),
            ("Mobile", None),
            ("notes", None),
        ];
        for (name, expected) in cases {
            assert_eq!(field_for(name), expected, "{name}");
        }
    }

    fn all_headers() -> Vec<String> {
        Field::ALL
            .iter()
            .map(|f| f.api_name().to_string())
            .collect()
    }

    #[test]
    fn extra_columns_are_ignored_by_name() {
        let mut headers = all_headers();
        headers.push("Notes".into());
        let map = map_columns(Path::new("f.csv"), &headers, &HashMap::new(), b',').unwrap();
        assert_eq!(map.ignored, vec!["Notes".to_string()]);
        assert_eq!(map.columns[Field::Email.index()], Some(1));
    }

    #[test]
    fn an_unnamed_extra_column_is_reported_by_position() {
        let mut headers = all_headers();
        headers.push(String::new());
        let map = map_columns(Path::new("f.csv"), &headers, &HashMap::new(), b',').unwrap();
        assert_eq!(map.ignored, vec!["(unnamed column 17)".to_string()]);
    }

    #[test]
    fn a_mapping_entry_names_a_column_the_rules_would_not_match() {
        let mut headers = all_headers();
        headers[1] = "E-Mail Address".into();
        let mapping = HashMap::from([(key("E-Mail Address"), Field::Email)]);
        let map = map_columns(Path::new("f.csv"), &headers, &mapping, b',').unwrap();
        assert_eq!(map.columns[Field::Email.index()], Some(1));
        assert!(map.ignored.is_empty());
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let mut headers = all_headers();
        headers.push("E_MAIL".into());
        let mapping = HashMap::from([(key("e_mail"), Field::Email)]);
        let err = map_columns(Path::new("f.csv"), &headers, &mapping, b',').unwrap_err();
        assert!(err.to_string().contains("both map to field email"), "{err}");
    }

    #[test]
    fn missing_required_columns_are_named_with_the_headers_found() {
        let headers: Vec<String> = vec!["externalUserId".into(), "email".into()];
        let err = map_columns(Path::new("f.csv"), &headers, &HashMap::new(), b';').unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("missing required column(s): phone, firstName"),
            "{text}"
        );
        assert!(
            text.contains("headers found: \"externalUserId\", \"email\""),
            "{text}"
        );
        assert!(!text.contains("userIdentificationNumber"), "{text}");
        assert!(!text.contains("hasAcceptedP100Tc,"), "{text}");
    }
}
