//! ISO 3166-1 alpha-2 codes, and hints for the mistakes CRM exports really contain.

/// Every officially assigned alpha-2 code (249), sorted.
pub const ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A 26×26 membership table, so the hot path does one index instead of a search.
const TABLE: [bool; 676] = {
    let mut t = [false; 676];
    let mut i = 0;
    while i < ALPHA2.len() {
        let b = ALPHA2[i].as_bytes();
        t[(b[0] - b'A') as usize * 26 + (b[1] - b'A') as usize] = true;
        i += 1;
    }
    t
};

/// Whether `code` (already upper-cased) is an assigned alpha-2 code.
pub fn is_alpha2(code: &str) -> bool {
    match code.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => TABLE[(a - b'A') as usize * 26 + (b - b'A') as usize],
        _ => false,
    }
}

/// Alpha-3 codes and English names people type instead of alpha-2, plus the two
/// reserved codes that look official (`UK`, `EL`). Keys are upper case.
const HINTS: &[(&str, &str)] = &[
    ("UK", "GB"),
    ("EL", "GR"),
    ("GBR", "GB"),
    ("DEU", "DE"),
    ("POL", "PL"),
    ("USA", "US"),
    ("FRA", "FR"),
    ("ESP", "ES"),
    ("ITA", "IT"),
    ("NLD", "NL"),
    ("BEL", "BE"),
    ("AUT", "AT"),
    ("CHE", "CH"),
    ("CZE", "CZ"),
    ("SVK", "SK"),
    ("HUN", "HU"),
    ("ROU", "RO"),
    ("BGR", "BG"),
    ("GRC", "GR"),
    ("PRT", "PT"),
    ("IRL", "IE"),
    ("SWE", "SE"),
    ("NOR", "NO"),
    ("DNK", "DK"),
    ("FIN", "FI"),
    ("EST", "EE"),
    ("LVA", "LV"),
    ("LTU", "LT"),
    ("UKR", "UA"),
    ("CAN", "CA"),
    ("AUS", "AU"),
    ("NZL", "NZ"),
    ("JPN", "JP"),
    ("CHN", "CN"),
    ("IND", "IN"),
    ("BRA", "BR"),
    ("MEX", "MX"),
    ("ARG", "AR"),
    ("TUR", "TR"),
    ("ISR", "IL"),
    ("ZAF", "ZA"),
    ("HRV", "HR"),
    ("SVN", "SI"),
    ("SRB", "RS"),
    ("LUX", "LU"),
    ("MLT", "MT"),
    ("CYP", "CY"),
    ("ISL", "IS"),
    ("GER", "DE"),
    ("UNITED KINGDOM", "GB"),
    ("GREAT BRITAIN", "GB"),
    ("ENGLAND", "GB"),
    ("SCOTLAND", "GB"),
    ("WALES", "GB"),
    ("GERMANY", "DE"),
    ("DEUTSCHLAND", "DE"),
    ("POLAND", "PL"),
    ("POLSKA", "PL"),
    ("FRANCE", "FR"),
    ("SPAIN", "ES"),
    ("ITALY", "IT"),
    ("NETHERLANDS", "NL"),
    ("HOLLAND", "NL"),
    ("BELGIUM", "BE"),
    ("AUSTRIA", "AT"),
    ("SWITZERLAND", "CH"),
    ("CZECHIA", "CZ"),
    ("CZECH REPUBLIC", "CZ"),
    ("IRELAND", "IE"),
    ("PORTUGAL", "PT"),
    ("SWEDEN", "SE"),
    ("UNITED STATES", "US"),
    ("UKRAINE", "UA"),
    ("GREECE", "GR"),
];

/// The alpha-2 code a mistaken value most likely meant. Case and surrounding spaces are
/// ignored; dots are dropped so `U.K.` and `U.S.A.` are caught too.
pub fn hint(value: &str) -> Option<&'static str> {
    let key: String = value
        .trim()
        .chars()
        .filter(|c| *c != '.')
        .flat_map(char::to_uppercase)
        .collect();
    HINTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_249_distinct_sorted_codes() {
        assert!(ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(TABLE.iter().filter(|b| **b).count(), 249);
    }

    #[test]
    fn membership_accepts_assigned_codes_and_rejects_everything_else() {
        let cases = [
            ("GB", true),
            ("PL", true),
            ("AX", true),
            ("SS", true),
            ("XK", false),
            ("UK", false),
            ("EL", false),
            ("gb", false),
            ("G", false),
            ("GBR", false),
            ("", false),
            ("Ü1", false),
        ];
        for (code, ok) in cases {
            assert_eq!(is_alpha2(code), ok, "{code}");
        }
    }

    #[test]
    fn common_mistakes_get_the_code_they_meant() {
        let cases = [
            ("UK", Some("GB")),
            ("uk", Some("GB")),
            ("U.K.", Some("GB")),
            ("EL", Some("GR")),
            ("GBR", Some("GB")),
            ("deu", Some("DE")),
            ("POL", Some("PL")),
            ("USA", Some("US")),
            ("U.S.A.", Some("US")),
            ("Germany", Some("DE")),
            (" united kingdom ", Some("GB")),
            ("XX", None),
            ("Atlantis", None),
        ];
        for (value, expected) in cases {
            assert_eq!(hint(value), expected, "{value}");
        }
    }
}
