//! Input flags shared by `validate` and `import`, so both read a file the same way.

use crate::ingest::{today_utc, IngestOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// TOML file mapping other header names to fields, e.g. `"E-Mail Address" = "email"`.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Field delimiter: `,` `;` `|` or `tab`. Default: detected from the header line.
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// Assert that every user accepted P100's terms. A hasAcceptedP100Tc column, where
    /// present and non-empty, still wins per row.
    #[arg(long)]
    pub terms_accepted: bool,
    /// Minimum age in whole years on today's date (UTC).
    #[arg(long, value_name = "N", default_value_t = 18)]
    pub min_age: u32,
}

impl InputArgs {
    pub fn to_options(&self, path: PathBuf) -> anyhow::Result<IngestOptions> {
        let delimiter = self.delimiter.as_deref().map(parse_delimiter).transpose()?;
        Ok(IngestOptions {
            path,
            mapping: self.mapping.clone(),
            delimiter,
            terms_accepted: self.terms_accepted,
            for_import: true,
            min_age: self.min_age,
            today: today_utc(),
        })
    }
}

/// `tab` and `\t` spell the invisible one.
pub fn parse_delimiter(s: &str) -> anyhow::Result<u8> {
    match s {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "tab" | "TAB" | "\\t" | "\t" => Ok(b'\t'),
        other => anyhow::bail!("--delimiter {other:?}: expected one of , ; | tab"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_spelled_as_operators_type_them() {
        let cases = [
            (",", Some(b',')),
            (";", Some(b';')),
            ("|", Some(b'|')),
            ("tab", Some(b'\t')),
            ("\\t", Some(b'\t')),
            ("\t", Some(b'\t')),
            (":", None),
            (",,", None),
        ];
        for (s, expected) in cases {
            assert_eq!(parse_delimiter(s).ok(), expected, "{s:?}");
        }
    }
}
