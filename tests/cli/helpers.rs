//! Shared by the integration tests: the real sandbox on loopback, the real binary,
//! and a look inside the real ledger file.

#![allow(dead_code)]

use assert_cmd::Command;
use p100_onboard::sandbox::{Sandbox, SandboxConfig, DEMO_API_KEY};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A sandbox served on 127.0.0.1:0 by its own runtime for the test's lifetime.
pub struct TestSandbox {
    rt: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
    pub url: String,
}

impl TestSandbox {
    pub fn start(cfg: SandboxConfig) -> TestSandbox {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sandbox = rt
            .block_on(Sandbox::start(SandboxConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..cfg
            }))
            .expect("sandbox starts");
        let url = sandbox.base_url();
        TestSandbox {
            rt,
            sandbox: Some(sandbox),
            url,
        }
    }

    pub fn plain() -> TestSandbox {
        Self::start(SandboxConfig::default())
    }

    pub fn stats(&self) -> serde_json::Value {
        self.get_json("/_sandbox/stats")
    }

    /// externalUserId → userId of every user the sandbox created.
    pub fn users(&self) -> BTreeMap<String, String> {
        let v = self.get_json("/_sandbox/users");
        v.as_array()
            .expect("users is an array")
            .iter()
            .map(|u| {
                (
                    u["externalUserId"].as_str().unwrap().to_string(),
                    u["userId"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{}", self.url, path);
        self.rt.block_on(async {
            reqwest::get(&url)
                .await
                .expect("GET sandbox")
                .json()
                .await
                .expect("sandbox JSON")
        })
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if let Some(sb) = self.sandbox.take() {
            self.rt.block_on(sb.stop());
        }
    }
}

/// The real binary with a clean environment and the sandbox's key.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("p100-onboard").expect("binary built");
    for var in ["P100_API_KEY", "P100_BASE_URL", "P100_LEDGER", "NO_COLOR"] {
        cmd.env_remove(var);
    }
    cmd.env("P100_API_KEY", DEMO_API_KEY);
    cmd
}

/// The path of a file in `samples/`.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// Opens the ledger file read-only.
pub fn ledger(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("ledger opens")
}

/// state → count.
pub fn states(path: &Path) -> BTreeMap<String, u64> {
    let c = ledger(path);
    let mut stmt = c
        .prepare("SELECT state, count(*) FROM rows GROUP BY state")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The externalUserIds in `state`.
pub fn ids_in_state(path: &Path, state: &str) -> BTreeSet<String> {
    let c = ledger(path);
    let mut stmt = c
        .prepare("SELECT external_user_id FROM rows WHERE state = ?1")
        .unwrap();
    stmt.query_map([state], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// One SQL count from the ledger.
pub fn count(path: &Path, sql: &str) -> u64 {
    ledger(path).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A CSV made of `samples/customers.csv`'s header and the given data rows (1-based,
/// counting data rows only).
/// The header line and the row lines of `samples/customers.csv`.
pub fn customer_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(sample("customers.csv")).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

pub fn subset_of_customers(dir: &Path, name: &str, rows: std::ops::Range<usize>) -> PathBuf {
    let (header, lines) = customer_lines();
    let mut out = header;
    out.push('\n');
    for line in lines
        .iter()
        .skip(rows.start - 1)
        .take(rows.end - rows.start)
    {
        out.push_str(line);
        out.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, out).unwrap();
    p
}

/// What the sandbox has counted so far, read in-process (no HTTP round trip), for
/// tests that poll while an import runs.
impl TestSandbox {
    pub fn snapshot(&self) -> p100_onboard::sandbox::StatsSnapshot {
        self.sandbox.as_ref().expect("sandbox running").stats()
    }
}

/// The real binary as a plain process, for tests that kill or race it: a clean
/// environment, the sandbox's key, output discarded unless the test redirects it.
pub fn process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("p100-onboard"));
    for var in ["P100_API_KEY", "P100_BASE_URL", "P100_LEDGER", "NO_COLOR"] {
        cmd.env_remove(var);
    }
    cmd.env("P100_API_KEY", DEMO_API_KEY)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// A synthetic file of `rows` valid customers, written by the real `sample` command.
pub fn sample_file(dir: &Path, rows: u32, seed: u64) -> PathBuf {
    let path = dir.join(format!("sample-{rows}-{seed}.csv"));
    bin()
        .args([
            "sample",
            "--rows",
            &rows.to_string(),
            "--seed",
            &seed.to_string(),
            "-o",
        ])
        .arg(&path)
        .assert()
        .code(0);
    path
}

/// The externalUserIds of a CSV file whose first column is the id.
pub fn ids_of_file(path: &Path) -> BTreeSet<String> {
    let mut rdr = csv::Reader::from_path(path).expect("csv opens");
    rdr.records()
        .map(|r| r.expect("csv record")[0].to_string())
        .collect()
}

/// Standard error of a finished command, as text.
pub fn stderr_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output of a finished command, as text.
pub fn stdout_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
