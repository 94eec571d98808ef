//! `p100-onboard sandbox` through the real binary.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};

const ENDPOINT: &str = "/v1/user/balances/crypto-and-fiat";

/// The running binary; killed when dropped so a failing test leaves nothing behind.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: ChildStderr,
    first_line: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn base_url(&self) -> &str {
        self.first_line
            .trim_end()
            .strip_prefix("listening on ")
            .expect("first line names the address")
    }

    /// Stops the server with SIGTERM, checks it exits cleanly, and returns everything
    /// else it printed (stdout, then stderr).
    fn stop(mut self) -> String {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let mut rest = String::new();
        self.stdout
            .read_to_string(&mut rest)
            .expect("stdout closes on exit");
        self.stderr
            .read_to_string(&mut rest)
            .expect("stderr closes on exit");
        let status = self.child.wait().expect("child exits");
        assert!(status.success(), "sandbox exited with {status}");
        rest
    }
}

fn start(extra: &[&str], env_key: Option<&str>) -> Running {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("p100-onboard"));
    cmd.args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("P100_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = env_key {
        cmd.env("P100_API_KEY", k);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let stderr = child.stderr.take().expect("piped stderr");
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).expect("reads first line");
    Running {
        child,
        stdout,
        stderr,
        first_line,
    }
}

fn user(id: &str, phone: &str) -> serde_json::Value {
    serde_json::json!({
        "externalUserId": id, "email": format!("{id}@example.com"), "phone": phone,
        "firstName": "Ann", "lastName": "Lee", "street": "Main", "number": "1",
        "city": "Leeds", "postCode": "LS1 1AA", "country": "GB", "citizenship": "GB",
        "nationality": "GB", "birthCountry": "GB", "birthDate": "1990-01-31",
        "hasAcceptedP100Tc": true
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn first_stdout_line_names_the_bound_address_and_the_demo_key_follows() {
    let running = start(&[], None);
    let line = running.first_line.trim_end().to_string();
    let addr = line
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let port: u16 = addr.parse().expect("a port number");
    assert_ne!(port, 0, "the bound port, not the requested one");
    let rest = running.stop();
    assert!(rest.contains("sandbox-demo-key"), "{rest:?}");
    assert!(
        rest.contains("sandbox stopped"),
        "clean shutdown is reported: {rest:?}"
    );
}

#[test]
fn a_key_given_by_flag_or_environment_is_never_printed() {
    for (flags, env) in [
        (&["--api-key", "flag-secret-123"][..], None),
        (&[][..], Some("env-secret-456")),
    ] {
        let running = start(flags, env);
        let first = running.first_line.clone();
        let rest = running.stop();
        let all = format!("{first}{rest}");
        assert!(!all.contains("secret"), "key leaked: {all:?}");
        assert!(!all.contains("sandbox-demo-key"), "{all:?}");
    }
}

#[test]
fn stats_count_what_was_posted() {
    let running = start(&["--api-key", "k"], None);
    let base = running.base_url().to_string();
    let stats: serde_json::Value = runtime().block_on(async {
        let http = reqwest::Client::new();
        let post = |key: &'static str, body: serde_json::Value| {
            http.post(format!("{base}{ENDPOINT}"))
                .header("x-api-key", key)
                .json(&body)
                .send()
        };
        assert_eq!(post("k", user("a", "1111111")).await.unwrap().status(), 201);
        assert_eq!(post("k", user("a", "1111111")).await.unwrap().status(), 400);
        assert_eq!(
            post("wrong", user("b", "2222222")).await.unwrap().status(),
            401
        );
        let users: serde_json::Value = http
            .get(format!("{base}/_sandbox/users"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(users.as_array().map(Vec::len), Some(1));
        assert_eq!(users[0]["externalUserId"], "a");
        assert!(users[0].get("email").is_none(), "no personal data: {users}");
        http.get(format!("{base}/_sandbox/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(stats["requests"], 3, "{stats}");
    assert_eq!(stats["created"], 1, "{stats}");
    assert_eq!(stats["by_status"]["201"], 1, "{stats}");
    assert_eq!(stats["by_status"]["400"], 1, "{stats}");
    assert_eq!(stats["by_status"]["401"], 1, "{stats}");
    assert_eq!(stats["by_code"]["P411"], 1, "{stats}");
    assert_eq!(stats["max_posts_per_external_user_id"], 2, "{stats}");
    assert!(
        stats["max_requests_in_one_second"].as_u64() >= Some(1),
        "{stats}"
    );
    running.stop();
}

#[test]
fn out_of_range_rates_are_refused_as_usage_errors() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("p100-onboard"))
        .args(["sandbox", "--drop-rate", "2"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--drop-rate") && err.contains("0..=1"),
        "{err}"
    );
}
