//! The sandbox at the HTTP level, spoken raw where a client library would hide the
//! detail (keep-alive, malformed bodies).

use super::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn start() -> Sandbox {
    Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn post(body: &str, key: Option<&str>) -> String {
    let key = key.map_or(String::new(), |k| format!("x-api-key: {k}\r\n"));
    format!(
        "POST {ENDPOINT} HTTP/1.1\r\nhost: sandbox\r\ncontent-type: application/json\r\n{key}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one response: status and body (by content-length).
async fn read_response(r: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut status_line = String::new();
    r.read_line(&mut status_line).await.unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect(&status_line);
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn one_connection_carries_many_requests() {
    let sandbox = start().await;
    let mut conn = BufReader::new(TcpStream::connect(sandbox.addr()).await.unwrap());
    let cases = [
        (
            post("{not json", Some(DEMO_API_KEY)),
            400,
            "\"errorCode\":\"P403\"",
        ),
        (post("{}", None), 401, "Access Denied. xo1"),
        (post("{}", Some("wrong")), 401, "Access Denied. xo2"),
        (post("[]", Some(DEMO_API_KEY)), 400, "must be a JSON object"),
        (
            "GET /v1/user/balances/crypto-and-fiat HTTP/1.1\r\nhost: s\r\n\r\n".to_string(),
            405,
            "Method Not Allowed",
        ),
        (
            "GET /elsewhere HTTP/1.1\r\nhost: s\r\n\r\n".to_string(),
            404,
            "Not Found",
        ),
        (
            "GET /_sandbox/users HTTP/1.1\r\nhost: s\r\n\r\n".to_string(),
            200,
            "[]",
        ),
    ];
    for (request, status, needle) in cases {
        conn.get_mut().write_all(request.as_bytes()).await.unwrap();
        let (got, body) = read_response(&mut conn).await;
        assert_eq!(got, status, "{request:?} -> {body}");
        assert!(body.contains(needle), "{request:?} -> {body}");
    }
    let stats = sandbox.stats();
    assert_eq!(stats.requests, 4, "only POSTs to the endpoint count");
    assert_eq!(stats.by_code.get("P403"), Some(&2));
    sandbox.stop().await;
}

#[tokio::test]
async fn validation_errors_carry_no_error_name() {
    let sandbox = start().await;
    let mut conn = BufReader::new(TcpStream::connect(sandbox.addr()).await.unwrap());
    let body = r#"{"externalUserId":"x","hasAcceptedP100Tc":false}"#;
    conn.get_mut()
        .write_all(post(body, Some(DEMO_API_KEY)).as_bytes())
        .await
        .unwrap();
    let (status, body) = read_response(&mut conn).await;
    assert_eq!(status, 400);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["errorCode"], "P403");
    assert!(json.get("errorName").is_none(), "{json}");
    let message = json["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("email is required; phone is required"),
        "{message}"
    );
    assert!(
        message.ends_with("hasAcceptedP100Tc must be true"),
        "{message}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let sandbox = start().await;
    let mut conn = BufReader::new(TcpStream::connect(sandbox.addr()).await.unwrap());
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(100_000));
    conn.get_mut()
        .write_all(post(&huge, Some(DEMO_API_KEY)).as_bytes())
        .await
        .unwrap();
    let (status, _) = read_response(&mut conn).await;
    assert_eq!(status, 413);
    sandbox.stop().await;
}
