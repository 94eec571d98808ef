//! What an answer from the API means for the importer: a pure function of status,
//! `Retry-After` and body, decided by `errorCode` first because P500/P501 arrive
//! with HTTP 400.

use serde_json::Value;
use std::time::{Duration, SystemTime};

/// What one request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 201: the user exists now. `user_id` is `None` if the body could not be read.
    Created {
        user_id: Option<String>,
        poa_required: bool,
    },
    /// P411: the `externalUserId` is taken (by us earlier, or by someone else).
    AlreadyExists,
    /// A permanent refusal of this row: P403, P431, P464, P465, any other P-code, or
    /// an unexpected 4xx without a code (`code` is then `HTTP<status>`).
    Rejected {
        code: String,
        name: Option<String>,
        message: String,
    },
    /// Worth sending again later. `may_have_reached_server` is true when the
    /// request may have been processed (the user may exist); `rate_limited` asks the
    /// whole pool to slow down.
    Retryable {
        reason: String,
        code: Option<String>,
        retry_after: Option<Duration>,
        may_have_reached_server: bool,
        rate_limited: bool,
    },
    /// Every later request would fail the same way: stop the run.
    Fatal { reason: String },
}

/// Longest piece of an unexpected body kept in a message (HTML pages are long).
const BODY_EXCERPT: usize = 200;

/// Classifies an HTTP answer. `now` anchors `Retry-After` HTTP dates.
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8], now: SystemTime) -> Outcome {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let retry_after = retry_after.and_then(|v| parse_retry_after(v, now));

    if (200..300).contains(&status) {
        return Outcome::Created {
            user_id: field("userId"),
            poa_required: json
                .as_ref()
                .and_then(|v| v.get("poaRequiredForExtended"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
    }
    if status == 401 {
        return Outcome::Fatal {
            reason: access_denied(body),
        };
    }
    if status == 429 {
        return Outcome::Retryable {
            reason: "HTTP 429 Too Many Requests: the API asks us to slow down".into(),
            code: field("errorCode"),
            retry_after,
            may_have_reached_server: false,
            rate_limited: true,
        };
    }
    if let Some(code) = field("errorCode") {
        let name = field("errorName");
        let message = field("errorMessage")
            .or_else(|| field("message"))
            .unwrap_or_default();
        return match code.as_str() {
            "P411" => Outcome::AlreadyExists,
            "P500" | "P501" => Outcome::Retryable {
                reason: format!("{code}: {message}"),
                code: Some(code),
                retry_after,
                may_have_reached_server: true,
                rate_limited: false,
            },
            _ => Outcome::Rejected {
                code,
                name,
                message,
            },
        };
    }
    let excerpt = excerpt(body);
    match status {
        408 | 500..=599 => Outcome::Retryable {
            reason: format!("HTTP {status} without an error code: {excerpt}"),
            code: None,
            retry_after,
            may_have_reached_server: true,
            rate_limited: false,
        },
        403..=405 => Outcome::Fatal {
            reason: format!(
                "HTTP {status} without an error code ({excerpt}): this is not the Partner API endpoint; check --base-url"
            ),
        },
        300..=399 => Outcome::Fatal {
            reason: format!("HTTP {status} redirect: redirects are not followed; check --base-url"),
        },
        _ => Outcome::Rejected {
            code: format!("HTTP{status}"),
            name: None,
            message: excerpt,
        },
    }
}

/// Reads the 401 reason tag from the body, whatever wraps it.
fn access_denied(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let reason = if text.contains("xo1") {
        "no API key was sent (xo1)"
    } else if text.contains("xo2") {
        "the API key is wrong (xo2; staging and production keys differ)"
    } else if text.contains("xo3") {
        "this machine's IP address is not on P100's allow-list for production; ask P100 to add it (xo3)"
    } else {
        return format!(
            "HTTP 401 Access Denied without a known reason tag: {}",
            excerpt(body)
        );
    };
    format!("HTTP 401 Access Denied: {reason}")
}

/// `Retry-After` as delay-seconds or an HTTP date; a date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".into();
    }
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(
        reason_has: &str,
        code: Option<&str>,
        retry_after: Option<u64>,
        reached: bool,
        rate_limited: bool,
    ) -> Box<dyn Fn(&Outcome) -> bool> {
        let (reason_has, code) = (reason_has.to_string(), code.map(str::to_string));
        Box::new(move |o| {
            matches!(o, Outcome::Retryable { reason, code: c, retry_after: ra, may_have_reached_server, rate_limited: rl }
                if reason.contains(&reason_has) && *c == code
                    && *ra == retry_after.map(Duration::from_secs)
                    && *may_have_reached_server == reached && *rl == rate_limited)
        })
    }

    fn fatal(has: &'static str) -> Box<dyn Fn(&Outcome) -> bool> {
        Box::new(move |o| matches!(o, Outcome::Fatal { reason } if reason.contains(has)))
    }

    fn rejected(
        code: &'static str,
        name: Option<&'static str>,
        message: &'static str,
    ) -> Box<dyn Fn(&Outcome) -> bool> {
        Box::new(move |o| {
            *o == Outcome::Rejected {
                code: code.into(),
                name: name.map(Into::into),
                message: message.into(),
            }
        })
    }

    #[test]
    fn every_documented_answer_is_classified_by_its_code_first() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let in_7s = httpdate::fmt_http_date(now + Duration::from_secs(7));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        let html = b"<html><body><h1>502 Bad Gateway</h1></body></html>".as_slice();
        type Check = Box<dyn Fn(&Outcome) -> bool>;
        type Case<'a> = (&'a str, u16, Option<&'a str>, &'a [u8], Check);
        let cases: Vec<Case> = vec![
            ("201 created", 201, None,
             br#"{"userId":"f63064b1-c26b-4c9e-af22-0b483262751f","poaRequiredForExtended":true}"#,
             Box::new(|o| *o == Outcome::Created { user_id: Some("f63064b1-c26b-4c9e-af22-0b483262751f".into()), poa_required: true })),
            ("201 with an unreadable body", 201, None, b"<html>ok</html>",
             Box::new(|o| *o == Outcome::Created { user_id: None, poa_required: false })),
            ("P403 has no errorName and keeps the full message", 400, None,
             br#"{"errorCode":"P403","errorMessage":"email must be a valid email; phone must contain only digits"}"#,
             rejected("P403", None, "email must be a valid email; phone must contain only digits")),
            ("P411", 400, None, br#"{"errorCode":"P411","errorName":"user-exists","errorMessage":"User already exists"}"#,
             Box::new(|o| *o == Outcome::AlreadyExists)),
            ("P431", 400, None, br#"{"errorCode":"P431","errorName":"forbidden-country","errorMessage":"Country KP is forbidden"}"#,
             rejected("P431", Some("forbidden-country"), "Country KP is forbidden")),
            ("P464", 400, None, br#"{"errorCode":"P464","errorName":"phone-exists","errorMessage":"phone taken"}"#,
             rejected("P464", Some("phone-exists"), "phone taken")),
            ("P465", 400, None, br#"{"errorCode":"P465","errorName":"email-exists","errorMessage":"email taken"}"#,
             rejected("P465", Some("email-exists"), "email taken")),
            ("unknown P-code", 400, None, br#"{"errorCode":"P999","errorName":"new-thing","errorMessage":"Something new"}"#,
             rejected("P999", Some("new-thing"), "Something new")),
            ("P500 with HTTP 400", 400, None, br#"{"errorCode":"P500","errorName":"unknown-exception","errorMessage":"Unknown exception"}"#,
             retry("P500: Unknown exception", Some("P500"), None, true, false)),
            ("P501 with HTTP 400", 400, Some("3"), br#"{"errorCode":"P501","errorMessage":"Service temporarily unavailable"}"#,
             retry("P501", Some("P501"), Some(3), true, false)),
            ("429 with seconds", 429, Some(" 2 "), br#"{"message":"Too Many Requests"}"#,
             retry("429", None, Some(2), false, true)),
            ("429 with an HTTP date", 429, Some(&in_7s), b"", retry("429", None, Some(7), false, true)),
            ("429 with a past HTTP date", 429, Some(&past), b"", retry("429", None, Some(0), false, true)),
            ("429 with a garbled Retry-After", 429, Some("soon"), b"", retry("429", None, None, false, true)),
            ("502 HTML", 502, None, html, retry("HTTP 502 without an error code: <html>", None, None, true, false)),
            ("503 HTML with Retry-After", 503, Some("10"), b"<html>down</html>", retry("HTTP 503", None, Some(10), true, false)),
            ("500 empty body", 500, None, b"", retry("empty body", None, None, true, false)),
            ("408", 408, None, b"", retry("HTTP 408", None, None, true, false)),
            ("401 xo1 in JSON", 401, None, br#"{"message":"Access Denied. xo1"}"#, fatal("no API key was sent")),
            ("401 xo2 as plain text", 401, None, b"Access Denied. xo2", fatal("the API key is wrong (xo2; staging and production keys differ)")),
            ("401 xo3 in another wrapper", 401, None, br#"{"error":{"msg":"Access Denied XO3"}}"#, fatal("allow-list for production; ask P100 to add it")),
            ("401 without a tag", 401, None, b"nope", fatal("without a known reason tag: nope")),
            ("404 without a code", 404, None, b"<html>Not Found</html>", fatal("check --base-url")),
            ("405 without a code", 405, None, b"", fatal("check --base-url")),
            ("403 without a code", 403, None, b"Forbidden", fatal("check --base-url")),
            ("404 with a P-code is a rejection", 404, None, br#"{"errorCode":"P412","errorName":"invalid-user","errorMessage":"User does not exist"}"#,
             rejected("P412", Some("invalid-user"), "User does not exist")),
            ("unknown 4xx without a code", 422, None, b"unprocessable", rejected("HTTP422", None, "unprocessable")),
            ("redirect", 301, None, b"", fatal("redirects are not followed")),
        ];
        for (name, status, retry_after, body, check) in cases {
            let got = classify(status, retry_after, body, now);
            assert!(check(&got), "{name}: got {got:?}");
        }
    }

    #[test]
    fn long_bodies_are_cut_in_messages() {
        let body = "x".repeat(5000);
        let Outcome::Retryable { reason, .. } =
            classify(502, None, body.as_bytes(), SystemTime::now())
        else {
            panic!("502 is retryable");
        };
        assert!(reason.len() < 300, "{}", reason.len());
    }
}
