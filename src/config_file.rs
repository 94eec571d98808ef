//! `p100-onboard.toml`: defaults for `import`, read from the working directory or
//! `--config FILE`. Flags and environment variables override it. It never holds
//! the API key: a key in a config file ends up in backups and repositories.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_NAME: &str = "p100-onboard.toml";

/// Every setting the file may hold; all optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub base_url: Option<String>,
    pub rate: Option<f64>,
    pub burst: Option<u32>,
    pub concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub backoff_base: Option<String>,
    pub backoff_cap: Option<String>,
    pub max_pause: Option<String>,
    pub ledger: Option<PathBuf>,
    pub mapping: Option<PathBuf>,
    pub delimiter: Option<String>,
    /// Where the file was read from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl FileConfig {
    /// Reads `explicit`, or `p100-onboard.toml` in the working directory if present.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<FileConfig> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(DEFAULT_NAME);
                if !p.exists() {
                    return Ok(FileConfig::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        if text.lines().any(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            l.starts_with("api-key") || l.starts_with("api_key")
        }) {
            bail!(
                "{}: an API key does not belong in a config file; remove it and set \
                 P100_API_KEY or use --api-key-file",
                path.display()
            );
        }
        let mut cfg: FileConfig = toml::from_str(&text)
            .with_context(|| format!("in the config file {}", path.display()))?;
        cfg.source = Some(path);
        Ok(cfg)
    }

    /// Parses one of the file's duration settings, naming it on error.
    pub fn duration(
        &self,
        name: &str,
        value: &Option<String>,
    ) -> anyhow::Result<Option<std::time::Duration>> {
        value
            .as_deref()
            .map(|v| {
                humantime::parse_duration(v).with_context(|| {
                    format!(
                        "{}: `{name}` = \"{v}\" is not a duration (e.g. \"30s\", \"500ms\")",
                        self.source
                            .as_deref()
                            .unwrap_or(Path::new(DEFAULT_NAME))
                            .display()
                    )
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_read_and_unknown_keys_or_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "rate = 25\nconcurrency = 4\ntimeout = \"5s\"\n").unwrap();
        let c = FileConfig::load(Some(&p)).unwrap();
        assert_eq!(c.rate, Some(25.0));
        assert_eq!(c.concurrency, Some(4));
        assert_eq!(
            c.duration("timeout", &c.timeout).unwrap(),
            Some(std::time::Duration::from_secs(5))
        );
        std::fs::write(&p, "rat = 25\n").unwrap();
        assert!(FileConfig::load(Some(&p)).is_err());
        std::fs::write(&p, "api-key = \"s3cr3t\"\n").unwrap();
        let err = FileConfig::load(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("does not belong"), "{err}");
        assert!(!err.contains("s3cr3t"));
    }
}
