//! The HTTP side: a hand-rolled hyper 1 server, because a dropped connection must
//! end with no response at all (a service `Err` does exactly that), which
//! frameworks such as axum cannot express.

use super::config::{RetryAfterFormat, SandboxConfig};
use super::dice::{Dice, Fault, Roll};
use super::ratelimit::TokenBucket;
use super::stats::Stats;
use super::store::{Store, Taken};
use super::validate::validate;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// The one endpoint the sandbox emulates.
pub const ENDPOINT: &str = "/v1/user/balances/crypto-and-fiat";
/// Bodies above this are refused (413): a user is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

pub type Body = Full<Bytes>;

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
pub struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

/// State shared by every connection.
pub struct Shared {
    api_key: SecretString,
    forbidden_countries: Vec<String>,
    poa_countries: Vec<String>,
    bucket: Option<TokenBucket>,
    retry_after_format: RetryAfterFormat,
    dice: Dice,
    hang_for: Duration,
    pub store: Store,
    pub stats: Stats,
    shutdown: CancellationToken,
}

impl Shared {
    pub fn new(cfg: &SandboxConfig, shutdown: CancellationToken) -> Self {
        Shared {
            api_key: cfg.api_key.clone(),
            forbidden_countries: cfg.forbidden_countries.clone(),
            poa_countries: cfg.poa_countries.clone(),
            bucket: cfg.rate_limit.map(TokenBucket::new),
            retry_after_format: cfg.retry_after_format,
            dice: Dice::new(cfg),
            hang_for: cfg.hang_for,
            store: Store::new(),
            stats: Stats::new(),
            shutdown,
        }
    }
}

/// Routes one request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::POST, ENDPOINT) => post(&shared, req).await,
        (&Method::GET, "/_sandbox/stats") => {
            Ok(json_response(StatusCode::OK, &shared.stats.snapshot()))
        }
        (&Method::GET, "/_sandbox/users") => {
            Ok(json_response(StatusCode::OK, &shared.store.list()))
        }
        (_, ENDPOINT) => Ok(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"message": "Method Not Allowed"}),
        )),
        _ => Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": "Not Found"}),
        )),
    }
}

/// What the endpoint decided, before latency is applied.
enum Decision {
    Answer {
        response: Response<Body>,
        code: Option<&'static str>,
    },
    Drop,
}

async fn post(shared: &Shared, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    shared.stats.post_arrived();
    let roll = shared.dice.roll();
    let decision = decide(shared, req, roll).await;
    if !roll.latency.is_zero() {
        tokio::time::sleep(roll.latency).await;
    }
    match decision {
        Decision::Answer { response, code } => {
            shared.stats.answered(response.status().as_u16(), code);
            Ok(response)
        }
        Decision::Drop => Err(Dropped),
    }
}

/// The endpoint's logic in the order a real gateway and API would apply it:
/// auth, rate limit, infrastructure trouble (hang, fault), validation,
/// uniqueness, forbidden country, creation.
async fn decide(shared: &Shared, req: Request<Incoming>, roll: Roll) -> Decision {
    let key = req
        .headers()
        .get("x-api-key")
        .map(|v| v.as_bytes() == shared.api_key.expose_secret().as_bytes());
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                json!({"message": "Payload Too Large"}),
            )
        }
        // The client went away mid-body: nobody is left to answer.
        Err(_) => return Decision::Drop,
    };
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    if let Some(id) = parsed
        .as_ref()
        .ok()
        .and_then(|v| v.get("externalUserId"))
        .and_then(Value::as_str)
    {
        let n = shared.store.count_post(id);
        shared.stats.max_posts_per_id.fetch_max(n, Relaxed);
    }
    match key {
        None => return access_denied("xo1"),
        Some(false) => return access_denied("xo2"),
        Some(true) => {}
    }
    if let Some(bucket) = &shared.bucket {
        if let Err(wait) = bucket.take(Instant::now()) {
            shared.stats.rate_limited.fetch_add(1, Relaxed);
            return too_many_requests(wait, shared.retry_after_format);
        }
    }
    if roll.hang {
        shared.stats.hung.fetch_add(1, Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(shared.hang_for) => {}
            _ = shared.shutdown.cancelled() => {}
        }
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Temporarily Unavailable",
        );
    }
    if let Some(fault) = roll.fault {
        shared.stats.faults.fetch_add(1, Relaxed);
        return match fault {
            Fault::P500 => p_error(
                "P500",
                Some("unknown-exception"),
                "Unknown exception".into(),
            ),
            Fault::P501 => p_error(
                "P501",
                Some("service-unavailable"),
                "Service temporarily unavailable".into(),
            ),
            Fault::Http502 => html(StatusCode::BAD_GATEWAY, "Bad Gateway"),
            Fault::Http503 => html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Temporarily Unavailable",
            ),
        };
    }
    let value = match parsed {
        Ok(v) => v,
        Err(e) => {
            return p_error(
                "P403",
                None,
                format!("request body must be valid JSON ({e})"),
            )
        }
    };
    let user = match validate(&value) {
        Ok(u) => u,
        Err(message) => return p_error("P403", None, message),
    };
    let forbidden = |c: &str| shared.forbidden_countries.iter().any(|f| f == c);
    let user_id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    let created = shared.store.create(
        &user.external_user_id,
        &user.phone,
        &user.email_lower,
        &user_id,
        || {
            [&user.country, &user.citizenship]
                .into_iter()
                .find(|c| forbidden(c))
                .map_or(Ok(()), |c| Err(c.clone()))
        },
    );
    match created {
        Err(Taken::ExternalUserId) => {
            p_error("P411", Some("user-exists"), "User already exists".into())
        }
        Err(Taken::Phone) => p_error(
            "P464",
            Some("phone-exists"),
            "User with this phone number already exists".into(),
        ),
        Err(Taken::Email) => p_error(
            "P465",
            Some("email-exists"),
            "User with this email already exists".into(),
        ),
        Ok(Err(country)) => p_error(
            "P431",
            Some("forbidden-country"),
            format!("Country {country} is forbidden"),
        ),
        Ok(Ok(())) => {
            shared.stats.created.fetch_add(1, Relaxed);
            if roll.drop {
                shared.stats.dropped.fetch_add(1, Relaxed);
                return Decision::Drop;
            }
            let poa = shared.poa_countries.contains(&user.country);
            answer(
                StatusCode::CREATED,
                None,
                json!({"userId": user_id, "poaRequiredForExtended": poa}),
            )
        }
    }
}

fn answer(status: StatusCode, code: Option<&'static str>, body: Value) -> Decision {
    Decision::Answer {
        response: json_response(status, &body),
        code,
    }
}

/// A business error as the API writes it; validation errors (P403) carry no name.
fn p_error(code: &'static str, name: Option<&str>, message: String) -> Decision {
    let body = match name {
        Some(name) => json!({"errorCode": code, "errorName": name, "errorMessage": message}),
        None => json!({"errorCode": code, "errorMessage": message}),
    };
    answer(StatusCode::BAD_REQUEST, Some(code), body)
}

fn access_denied(tag: &str) -> Decision {
    answer(
        StatusCode::UNAUTHORIZED,
        None,
        json!({"message": format!("Access Denied. {tag}")}),
    )
}

fn too_many_requests(wait: Duration, format: RetryAfterFormat) -> Decision {
    // Round up: a client that honours the header must find a token waiting.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let value = match format {
        RetryAfterFormat::Seconds => secs.to_string(),
        RetryAfterFormat::HttpDate => {
            // HTTP dates have whole seconds: add one so truncation never shortens the wait.
            httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(secs + 1))
        }
    };
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"message": "Too Many Requests"}),
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(RETRY_AFTER, v);
    }
    Decision::Answer {
        response,
        code: None,
    }
}

/// Gateways answer with HTML, not JSON: clients must cope.
fn html(status: StatusCode, title: &str) -> Decision {
    let text = format!(
        "<html><head><title>{code} {title}</title></head><body><h1>{code} {title}</h1></body></html>",
        code = status.as_u16()
    );
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    Decision::Answer {
        response,
        code: None,
    }
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
