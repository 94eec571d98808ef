//! The API's base URL: HTTPS, except plain HTTP to this machine (the sandbox).

use std::fmt;
use std::net::IpAddr;

/// Staging: test data, no real money. The default.
pub const STAGING_URL: &str = "https://partner-api-stage.p100.io";
/// Production: real customers; the caller's IP must be on P100's allow-list.
pub const PRODUCTION_URL: &str = "https://partner-api.p100.io";

/// A checked base URL without a trailing slash, so paths can be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    text: String,
    loopback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("base URL {url:?} is not a valid URL: {reason}")]
    Invalid { url: String, reason: String },
    #[error("base URL {url:?} uses plain http to a remote host: the API key would cross the network unencrypted; use https (plain http is only allowed to this machine, e.g. the sandbox)")]
    PlainHttpToRemote { url: String },
    #[error(
        "base URL {url:?} has scheme {scheme:?}: only https (or http to this machine) is supported"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("base URL {url:?} must not carry {what}: give only scheme, host, port and path")]
    Extra { url: String, what: &'static str },
}

impl BaseUrl {
    pub fn parse(s: &str) -> Result<BaseUrl, BaseUrlError> {
        let url = reqwest::Url::parse(s.trim()).map_err(|e| BaseUrlError::Invalid {
            url: s.to_string(),
            reason: e.to_string(),
        })?;
        let extra = |what| {
            Err(BaseUrlError::Extra {
                url: s.to_string(),
                what,
            })
        };
        if !url.username().is_empty() || url.password().is_some() {
            return extra("credentials");
        }
        if url.query().is_some() {
            return extra("a query string");
        }
        if url.fragment().is_some() {
            return extra("a fragment");
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(BaseUrlError::Invalid {
                url: s.to_string(),
                reason: "it has no host".into(),
            });
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = match bare.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => bare.eq_ignore_ascii_case("localhost"),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(BaseUrlError::PlainHttpToRemote { url: s.to_string() }),
            other => {
                return Err(BaseUrlError::UnsupportedScheme {
                    url: s.to_string(),
                    scheme: other.to_string(),
                })
            }
        }
        Ok(BaseUrl {
            text: url.as_str().trim_end_matches('/').to_string(),
            loopback,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether requests stay on this machine (127.0.0.0/8, ::1, localhost).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    pub fn staging() -> BaseUrl {
        BaseUrl {
            text: STAGING_URL.to_string(),
            loopback: false,
        }
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = BaseUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BaseUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_to_this_machine_are_accepted() {
        let ok: &[(&str, &str, bool)] = &[
            (STAGING_URL, STAGING_URL, false),
            ("https://partner-api.p100.io/", PRODUCTION_URL, false),
            (
                "https://gw.example.com:8443/p100/",
                "https://gw.example.com:8443/p100",
                false,
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080", true),
            ("http://127.5.6.7:1/", "http://127.5.6.7:1", true),
            ("http://localhost:9000", "http://localhost:9000", true),
            ("http://[::1]:9000", "http://[::1]:9000", true),
            ("https://localhost", "https://localhost", true),
        ];
        for (input, text, loopback) in ok {
            let url = BaseUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(url.as_str(), *text, "{input}");
            assert_eq!(url.is_loopback(), *loopback, "{input}");
        }
    }

    #[test]
    fn plain_http_to_remote_hosts_and_garbage_are_refused_naming_the_url() {
        let bad: &[(&str, &str)] = &[
            ("http://partner-api.p100.io", "unencrypted"),
            ("http://10.0.0.1:8080", "unencrypted"),
            ("http://localhost.evil.com", "unencrypted"),
            ("ftp://partner-api.p100.io", "scheme \"ftp\""),
            ("partner-api.p100.io", "not a valid URL"),
            ("", "not a valid URL"),
            ("https://", "not a valid URL"),
            ("https://user:pw@partner-api.p100.io", "credentials"),
            ("https://partner-api.p100.io/?x=1", "query"),
        ];
        for (input, why) in bad {
            let err = BaseUrl::parse(input).expect_err(input).to_string();
            assert!(err.contains(why), "{input}: {err}");
            assert!(err.contains(&format!("{input:?}")), "{input}: {err}");
        }
    }
}
