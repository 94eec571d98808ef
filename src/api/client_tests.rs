//! The client against the real sandbox over loopback: every answer the importer can
//! meet, produced by a server rather than imagined.

use super::*;
use crate::domain::ValidatedUser;
use crate::sandbox::{RateLimit, RetryAfterFormat, Sandbox, SandboxConfig, DEMO_API_KEY};
use secrecy::SecretString;
use std::time::Duration;

fn user(id: &str, phone: &str, email: &str, country: &str) -> ValidatedUser {
    user_born(id, phone, email, country, "1990-01-31")
}

/// A body the local rules would refuse is still buildable here, to see what the
/// sandbox says of it.
fn user_born(id: &str, phone: &str, email: &str, country: &str, born: &str) -> ValidatedUser {
    let values = [
        id,
        email,
        phone,
        "Ann",
        "Lee",
        "Main Street",
        "12/3",
        "Leeds",
        "LS1 1AA",
        country,
        "GB",
        "GB",
        "GB",
        born,
        "",
        "",
    ];
    ValidatedUser::new(&values, true)
}

fn nth_user(n: usize) -> ValidatedUser {
    user(
        &format!("ext-{n}"),
        &format!("4860000{n:04}"),
        &format!("u{n}@example.com"),
        "GB",
    )
}

fn client_for(base: &str, key: &str, timeout: Duration) -> ApiClient {
    ApiClient::new(ClientConfig {
        base_url: BaseUrl::parse(base).expect("loopback URL"),
        api_key: SecretString::from(key),
        timeout,
        connect_timeout: Duration::from_secs(2),
        max_idle_per_host: 4,
    })
    .expect("client builds")
}

fn client(sandbox: &Sandbox) -> ApiClient {
    client_for(&sandbox.base_url(), DEMO_API_KEY, Duration::from_secs(5))
}

async fn listed_ids(sandbox: &Sandbox) -> Vec<String> {
    let users: Vec<serde_json::Value> =
        reqwest::get(format!("{}/_sandbox/users", sandbox.base_url()))
            .await
            .expect("users endpoint answers")
            .json()
            .await
            .expect("users are JSON");
    users
        .iter()
        .filter_map(|u| u["externalUserId"].as_str().map(str::to_string))
        .collect()
}

fn code_of(o: &Outcome) -> String {
    match o {
        Outcome::Created { .. } => "created".into(),
        Outcome::AlreadyExists => "exists".into(),
        Outcome::Rejected { code, .. } => code.clone(),
        Outcome::Retryable { code, reason, .. } => code.clone().unwrap_or_else(|| reason.clone()),
        Outcome::Fatal { reason } => reason.clone(),
    }
}

#[tokio::test]
async fn every_business_answer_of_the_sandbox_is_classified_as_specified() {
    let sandbox = Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        poa_countries: vec!["PL".into()],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = client(&sandbox);
    let bad = user_born("bad", "12ab", "nope", "GB", "1990-02-30");

    type Check = fn(&Outcome) -> bool;
    let cases: Vec<(&str, ValidatedUser, Option<u16>, Check)> = vec![
        (
            "a new user is created",
            user("a", "1111111", "a@x.io", "GB"),
            Some(201),
            |o| matches!(o, Outcome::Created { user_id: Some(id), poa_required: false } if uuid::Uuid::parse_str(id).is_ok()),
        ),
        (
            "a proof-of-address country is flagged",
            user("p", "2222222", "p@x.io", "PL"),
            Some(201),
            |o| {
                matches!(
                    o,
                    Outcome::Created {
                        user_id: Some(_),
                        poa_required: true
                    }
                )
            },
        ),
        (
            "a taken externalUserId is P411",
            user("a", "3333333", "other@x.io", "GB"),
            Some(400),
            |o| *o == Outcome::AlreadyExists,
        ),
        (
            "a taken phone is P464",
            user("b", "1111111", "b@x.io", "GB"),
            Some(400),
            |o| matches!(o, Outcome::Rejected { code, name: Some(_), .. } if code == "P464"),
        ),
        (
            "a taken email in other case is P465",
            user("c", "4444444", "A@X.IO", "GB"),
            Some(400),
            |o| matches!(o, Outcome::Rejected { code, name: Some(_), .. } if code == "P465"),
        ),
        (
            "a forbidden residence country is P431",
            user("d", "5555555", "d@x.io", "KP"),
            Some(400),
            |o| matches!(o, Outcome::Rejected { code, name: Some(n), message } if code == "P431" && n == "forbidden-country" && message.contains("KP")),
        ),
        (
            "every broken rule comes back in one P403 without a name",
            bad,
            Some(400),
            |o| {
                matches!(o, Outcome::Rejected { code, name: None, message }
             if code == "P403" && message.contains("email must be a valid email; phone must contain only digits")
                && message.contains("birthDate"))
            },
        ),
    ];
    for (name, u, status, check) in cases {
        let answer = api.create_user(&u).await;
        assert_eq!(answer.http_status, status, "{name}: {answer:?}");
        assert!(check(&answer.outcome), "{name}: {answer:?}");
    }

    let wrong_key = client_for(&sandbox.base_url(), "not-the-key", Duration::from_secs(5));
    let answer = wrong_key.create_user(&nth_user(1)).await;
    assert!(
        matches!(&answer.outcome, Outcome::Fatal { reason } if reason.contains("the API key is wrong")),
        "{answer:?}"
    );

    let no_key = reqwest::Client::new()
        .post(format!("{}{CREATE_USER_PATH}", sandbox.base_url()))
        .json(&nth_user(2))
        .send()
        .await
        .unwrap();
    let status = no_key.status().as_u16();
    let body = no_key.bytes().await.unwrap();
    let outcome = classify(status, None, &body, std::time::SystemTime::now());
    assert!(
        matches!(&outcome, Outcome::Fatal { reason } if reason.contains("no API key was sent")),
        "{outcome:?}"
    );

    let wrong_path = client_for(
        &format!("{}/nope", sandbox.base_url()),
        DEMO_API_KEY,
        Duration::from_secs(5),
    );
    let answer = wrong_path.create_user(&nth_user(3)).await;
    assert!(
        matches!(&answer.outcome, Outcome::Fatal { reason } if reason.contains("check --base-url")),
        "{answer:?}"
    );

    let stats = sandbox.stats();
    assert_eq!(stats.created, 2);
    assert_eq!(stats.by_code.get("P403"), Some(&1));
    assert_eq!(stats.by_status.get("401"), Some(&2));
    sandbox.stop().await;
}

#[tokio::test]
async fn injected_faults_are_retryable_and_a_seed_replays_them() {
    async fn run(seed: u64) -> Vec<String> {
        let sandbox = Sandbox::start(SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            fault_rate: 0.6,
            seed: Some(seed),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let api = client(&sandbox);
        let mut seen = Vec::new();
        for n in 0..40 {
            let answer = api.create_user(&nth_user(n)).await;
            if let Outcome::Retryable {
                may_have_reached_server,
                rate_limited,
                ..
            } = &answer.outcome
            {
                assert!(*may_have_reached_server && !*rate_limited, "{answer:?}");
            }
            let status = answer.http_status.map_or("-".into(), |s| s.to_string());
            seen.push(format!("{status} {}", code_of(&answer.outcome)));
        }
        assert_eq!(
            sandbox.stats().faults as usize,
            seen.iter().filter(|s| !s.contains("created")).count()
        );
        sandbox.stop().await;
        seen
    }
    let first = run(42).await;
    for kind in [
        "201 created",
        "400 P500",
        "400 P501",
        "502 HTTP 502 without an error code: <html>",
        "503 HTTP 503",
    ] {
        assert!(
            first.iter().any(|s| s.starts_with(kind)),
            "{kind} missing from {first:#?}"
        );
    }
    assert_eq!(first, run(42).await, "same seed, same faults");
    assert_ne!(first, run(43).await, "another seed, other faults");
}

#[tokio::test]
async fn rate_limited_answers_carry_retry_after_in_seconds_or_as_a_date() {
    for format in [RetryAfterFormat::Seconds, RetryAfterFormat::HttpDate] {
        let sandbox = Sandbox::start(SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            rate_limit: Some(RateLimit {
                per_second: 0.5,
                burst: 1,
            }),
            retry_after_format: format,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let api = client(&sandbox);
        assert!(matches!(
            api.create_user(&nth_user(1)).await.outcome,
            Outcome::Created { .. }
        ));
        let answer = api.create_user(&nth_user(2)).await;
        assert_eq!(answer.http_status, Some(429));
        let Outcome::Retryable {
            retry_after: Some(wait),
            rate_limited: true,
            may_have_reached_server: false,
            ..
        } = answer.outcome
        else {
            panic!("{format:?}: {answer:?}");
        };
        // One token every 2 s: the wait is about 2 s (a date adds up to 2 s of rounding).
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(4),
            "{format:?}: {wait:?}"
        );
        assert_eq!(sandbox.stats().rate_limited, 1);
        sandbox.stop().await;
    }
}

#[tokio::test]
async fn a_dropped_connection_may_have_created_the_user_and_a_resend_proves_it() {
    let sandbox = Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        drop_rate: 1.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = client(&sandbox);
    let answer = api.create_user(&nth_user(7)).await;
    assert!(
        matches!(
            answer.outcome,
            Outcome::Retryable {
                may_have_reached_server: true,
                rate_limited: false,
                ..
            }
        ),
        "{answer:?}"
    );
    assert_eq!(answer.http_status, None);
    assert_eq!(listed_ids(&sandbox).await, ["ext-7"]);
    assert_eq!(
        api.create_user(&nth_user(7)).await.outcome,
        Outcome::AlreadyExists
    );
    let stats = sandbox.stats();
    assert_eq!(
        (
            stats.dropped,
            stats.created,
            stats.max_posts_per_external_user_id
        ),
        (1, 1, 2)
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_hung_request_times_out_as_an_unknown_outcome_and_creates_nothing() {
    let sandbox = Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        hang_rate: 1.0,
        hang_for: Duration::from_secs(30),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = client_for(
        &sandbox.base_url(),
        DEMO_API_KEY,
        Duration::from_millis(300),
    );
    let answer = api.create_user(&nth_user(1)).await;
    assert!(
        matches!(&answer.outcome, Outcome::Retryable { may_have_reached_server: true, reason, .. } if reason.contains("timed out")),
        "{answer:?}"
    );
    assert!(listed_ids(&sandbox).await.is_empty());
    assert_eq!(sandbox.stats().hung, 1);
    // Stopping does not wait out the hang.
    tokio::time::timeout(Duration::from_secs(5), sandbox.stop())
        .await
        .expect("stop is prompt");
}

#[tokio::test]
async fn configured_latency_delays_every_answer() {
    let sandbox = Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        latency: Some(crate::sandbox::Latency::Fixed(Duration::from_millis(80))),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = client(&sandbox);
    for n in 0..2 {
        // The second POST is a P411: errors are delayed too.
        let answer = api.create_user(&nth_user(0)).await;
        assert!(
            answer.latency >= Duration::from_millis(80),
            "request {n}: {answer:?}"
        );
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn a_refused_connection_never_reached_the_server() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = client_for(
        &format!("http://127.0.0.1:{port}"),
        DEMO_API_KEY,
        Duration::from_secs(2),
    );
    let answer = api.create_user(&nth_user(1)).await;
    assert!(
        matches!(&answer.outcome, Outcome::Retryable { may_have_reached_server: false, reason, .. } if reason.contains("could not connect")),
        "{answer:?}"
    );
}

#[tokio::test]
async fn the_api_key_appears_in_no_debug_or_display_output() {
    const KEY: &str = "super-secret-key-4711";
    let cfg = ClientConfig {
        base_url: BaseUrl::parse("http://127.0.0.1:9").unwrap(),
        api_key: SecretString::from(KEY),
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        max_idle_per_host: 1,
    };
    let api = ApiClient::new(cfg.clone()).unwrap();
    let network = api.create_user(&nth_user(1)).await;
    let sandbox_cfg = SandboxConfig {
        api_key: SecretString::from(KEY),
        ..SandboxConfig::default()
    };
    let bad_key = ApiClient::new(ClientConfig {
        api_key: SecretString::from(format!("{KEY}\n")),
        ..cfg.clone()
    })
    .expect_err("a newline is not a header value");
    let sandbox = Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..sandbox_cfg.clone()
    })
    .await
    .unwrap();
    let refused = client_for(&sandbox.base_url(), "wrong", Duration::from_secs(2))
        .create_user(&nth_user(2))
        .await;
    let outputs = [
        format!("{cfg:?}"),
        format!("{api:?}"),
        format!("{network:?}"),
        format!("{refused:?}"),
        format!("{sandbox_cfg:?}"),
        format!("{bad_key:?} {bad_key} {bad_key:#}"),
        format!("{} {:?}", cfg.base_url, cfg.base_url),
    ];
    for out in &outputs {
        assert!(!out.contains(KEY), "key leaked in {out}");
    }
    assert!(outputs[0].contains("REDACTED"), "{}", outputs[0]);
    sandbox.stop().await;
}
