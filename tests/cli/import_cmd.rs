//! `p100-onboard import`, `status` and `report` through the real binary, against the
//! real sandbox on loopback and a real ledger file.

use crate::helpers::*;
use p100_onboard::sandbox::{Latency, RateLimit, SandboxConfig};
use std::time::Duration;

fn customers_rows() -> u64 {
    // Data rows of the clean sample (it has no quoted newlines).
    (std::fs::read_to_string(sample("customers.csv"))
        .unwrap()
        .lines()
        .count()
        - 1) as u64
}

fn import(
    sb: &TestSandbox,
    file: &std::path::Path,
    ledger: &std::path::Path,
) -> assert_cmd::Command {
    let mut cmd = bin();
    cmd.arg("import")
        .arg(file)
        .arg("--ledger")
        .arg(ledger)
        .args([
            "--base-url",
            &sb.url,
            "--rate",
            "2000",
            "--concurrency",
            "8",
        ])
        .args([
            "--backoff-base",
            "5ms",
            "--backoff-cap",
            "50ms",
            "--max-pause",
            "200ms",
        ]);
    cmd
}

#[test]
fn a_clean_file_is_created_exactly_once_and_a_second_run_sends_nothing() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let out = import(&sb, &sample("customers.csv"), &db).assert().code(0);
    let stdout = stdout_text(out.get_output());
    assert!(stdout.contains("Import finished"), "{stdout}");

    let n = customers_rows();
    let created = ids_in_state(&db, "created");
    assert_eq!(created.len() as u64, n);
    let users = sb.users();
    assert_eq!(
        users
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        created
    );
    // The ledger stores the userId the API returned.
    let c = ledger(&db);
    for (ext, uid) in &users {
        let stored: String = c
            .query_row(
                "SELECT user_id FROM rows WHERE external_user_id = ?1",
                [ext],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(&stored, uid);
    }
    let requests = sb.stats()["requests"].as_u64().unwrap();
    assert_eq!(requests, n);

    import(&sb, &sample("customers.csv"), &db).assert().code(0);
    assert_eq!(
        sb.stats()["requests"].as_u64().unwrap(),
        n,
        "second run sent nothing"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE outcome = 'completed'"),
        2
    );
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(
        std::fs::read(sample("customers.csv")).unwrap(),
    ));
    let stored: Option<String> = ledger(&db)
        .query_row("SELECT file_sha256 FROM runs WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, Some(sha), "each run records the file's SHA-256");
}

#[test]
fn the_ledger_is_private_to_its_owner_and_holds_no_personal_data() {
    use std::os::unix::fs::PermissionsExt;
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    import(&sb, &sample("customers.csv"), &db).assert().code(0);
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No email, phone or name of the sample appears anywhere in the ledger file.
    let bytes = std::fs::read(&db).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let sample_text = std::fs::read_to_string(sample("customers.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(sample_text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let pick = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (email, phone, last) = (
        pick("email").unwrap(),
        pick("phone").unwrap(),
        pick("lastName").or(pick("last_name")).unwrap(),
    );
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for i in [email, phone, last] {
            let v = rec.get(i).unwrap().trim();
            assert!(
                !text.contains(v),
                "personal value found in the ledger: column {i}"
            );
        }
    }
}

#[test]
fn a_wrong_key_stops_the_run_with_exit_3_and_nothing_failed_then_the_right_key_completes() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let out = import(&sb, &sample("customers.csv"), &db)
        .env("P100_API_KEY", "not-the-key")
        .assert()
        .code(3);
    let stderr = stderr_text(out.get_output());
    assert!(
        stderr.contains("xo2") || stderr.contains("wrong"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-key"));
    let st = states(&db);
    assert_eq!(st.get("failed"), None, "{st:?}");
    assert_eq!(st.get("in_flight"), None, "{st:?}");
    assert_eq!(sb.users().len(), 0);
    import(&sb, &sample("customers.csv"), &db).assert().code(0);
    assert_eq!(ids_in_state(&db, "created").len() as u64, customers_rows());
}

#[test]
fn a_ledger_bound_to_another_environment_is_refused_with_exit_2() {
    let sb = TestSandbox::plain();
    let other = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let part = subset_of_customers(dir.path(), "part.csv", 1..3);
    import(&sb, &part, &db).assert().code(0);
    let out = import(&other, &part, &db).assert().code(2);
    let stderr = stderr_text(out.get_output());
    assert!(stderr.contains("belongs to environment"), "{stderr}");
    assert_eq!(other.stats()["requests"].as_u64().unwrap(), 0);
}

#[test]
fn a_second_import_on_a_locked_ledger_exits_2_naming_the_holder() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Fixed(Duration::from_millis(200))),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let mut first = process()
        .args(["import"])
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &sb.url, "--rate", "5", "--concurrency", "1"])
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock (its run is recorded).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(db.exists()
        && std::panic::catch_unwind(|| count(&db, "SELECT count(*) FROM runs")).unwrap_or(0) > 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "first run never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = import(&sb, &sample("customers.csv"), &db).assert().code(2);
    let stderr = stderr_text(out.get_output());
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    first.kill().unwrap();
    first.wait().unwrap();
    // The killed run's lock does not outlive it.
    import(&sb, &sample("customers.csv"), &db).assert().code(0);
}

#[test]
fn transient_faults_are_retried_until_every_row_is_created() {
    let sb = TestSandbox::start(SandboxConfig {
        fault_rate: 0.3,
        seed: Some(7),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    import(&sb, &sample("customers.csv"), &db)
        .args(["--max-attempts", "10"])
        .assert()
        .code(0);
    let n = customers_rows();
    assert_eq!(ids_in_state(&db, "created").len() as u64, n);
    assert_eq!(sb.users().len() as u64, n);
    let attempts = count(&db, "SELECT count(*) FROM attempts");
    assert!(
        attempts > n,
        "retries are recorded: {attempts} attempts for {n} rows"
    );
    assert_eq!(attempts, sb.stats()["requests"].as_u64().unwrap());
    assert_eq!(count(&db, "SELECT sum(attempts) FROM rows"), attempts);
}

#[test]
fn a_rate_set_too_high_converges_without_failing_rows_and_a_matching_rate_sees_few_429s() {
    let sb = TestSandbox::start(SandboxConfig {
        rate_limit: Some(RateLimit {
            per_second: 50.0,
            burst: 5,
        }),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let mut cmd = bin();
    cmd.arg("import")
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &sb.url, "--rate", "200", "--max-pause", "1s"]);
    cmd.assert().code(0);
    assert_eq!(states(&db).get("failed"), None);
    assert!(
        sb.stats()["rate_limited"].as_u64().unwrap() > 0,
        "the server did push back"
    );

    let sb = TestSandbox::start(SandboxConfig {
        rate_limit: Some(RateLimit {
            per_second: 50.0,
            burst: 5,
        }),
        ..SandboxConfig::default()
    });
    let db2 = dir.path().join("l2.db");
    let mut cmd = bin();
    cmd.arg("import")
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db2)
        .args(["--base-url", &sb.url, "--rate", "45"]);
    cmd.assert().code(0);
    let limited = sb.stats()["rate_limited"].as_u64().unwrap();
    assert!(limited <= 1, "{limited} 429s at a matching rate");
}

#[test]
fn a_dry_run_on_a_half_imported_ledger_predicts_the_next_real_run() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let part = subset_of_customers(dir.path(), "part.csv", 1..21);
    import(&sb, &part, &db).assert().code(0);
    let before = std::fs::read(&db).unwrap();

    let dry = dir.path().join("dry.json");
    import(&sb, &sample("customers.csv"), &db)
        .arg("--dry-run")
        .arg("--summary-json")
        .arg(&dry)
        .assert()
        .code(1);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "a dry run writes nothing"
    );
    let requests_before = sb.stats()["requests"].as_u64().unwrap();
    assert_eq!(requests_before, 20, "a dry run sends nothing");
    let dry: serde_json::Value = serde_json::from_slice(&std::fs::read(&dry).unwrap()).unwrap();

    let real = dir.path().join("real.json");
    import(&sb, &sample("customers.csv"), &db)
        .arg("--summary-json")
        .arg(&real)
        .assert()
        .code(0);
    let real: serde_json::Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(dry["plan"], real["plan"]);
    assert_eq!(dry["plan"]["skip_done"].as_u64().unwrap(), 20);
    let sent = sb.stats()["requests"].as_u64().unwrap() - requests_before;
    assert_eq!(sent, dry["plan"]["send_new"].as_u64().unwrap());
    assert_eq!(real["results"]["created"].as_u64().unwrap(), sent);
}

#[test]
fn an_older_ledger_is_upgraded_on_open_and_a_newer_one_is_refused() {
    use p100_onboard::ledger::schema::{migration_sql, SCHEMA_VERSION};
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&old).unwrap();
        c.execute_batch(migration_sql(1).unwrap()).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }
    bin()
        .args(["status", "--ledger"])
        .arg(&old)
        .assert()
        .code(0);
    let c = ledger(&old);
    let v: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert_eq!(
        count(&old, "SELECT count(*) FROM attempts"),
        0,
        "attempts table exists"
    );

    let newer = dir.path().join("newer.db");
    {
        let c = rusqlite::Connection::open(&newer).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let out = bin()
        .args(["status", "--ledger"])
        .arg(&newer)
        .assert()
        .code(2);
    let stderr = stderr_text(out.get_output());
    assert!(stderr.contains("newer p100-onboard"), "{stderr}");
}

#[test]
fn status_json_counts_every_state_of_the_design() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    import(&sb, &sample("customers.csv"), &db).assert().code(0);
    let out = bin()
        .args(["status", "--json", "--ledger"])
        .arg(&db)
        .assert()
        .code(0);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    for s in [
        "invalid",
        "pending",
        "in_flight",
        "created",
        "exists",
        "rejected",
        "failed",
    ] {
        assert!(v["states"][s].is_u64(), "state {s} missing: {v}");
    }
    assert_eq!(v["states"]["created"].as_u64().unwrap(), customers_rows());
}

#[test]
fn an_import_killed_at_several_moments_resumes_until_every_row_is_created_exactly_once() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Uniform(
            Duration::from_millis(5),
            Duration::from_millis(40),
        )),
        drop_rate: 0.05,
        seed: Some(11),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let file = sample_file(dir.path(), 400, 5);
    let args = |cmd: &mut std::process::Command| {
        cmd.arg("import")
            .arg(&file)
            .arg("--ledger")
            .arg(&db)
            .args([
                "--base-url",
                &sb.url,
                "--rate",
                "400",
                "--concurrency",
                "16",
            ])
            .args([
                "--timeout",
                "2s",
                "--backoff-base",
                "5ms",
                "--backoff-cap",
                "50ms",
            ]);
    };
    let mut kills = 0;
    for after_ms in [150u64, 300, 450, 600, 800] {
        let mut cmd = process();
        args(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(after_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL: no chance to clean up
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        kills >= 3,
        "the runs were killed mid-import ({kills} kills)"
    );
    let mut exit = None;
    for _ in 0..5 {
        let mut cmd = process();
        args(&mut cmd);
        let status = cmd.status().unwrap();
        exit = status.code();
        if exit == Some(0) {
            break;
        }
    }
    assert_eq!(exit, Some(0), "the import completes after the kills");
    let created = ids_in_state(&db, "created");
    assert_eq!(created.len(), 400);
    let users = sb.users();
    assert_eq!(
        users
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        created
    );
    assert_eq!(
        states(&db).get("exists"),
        None,
        "no row of ours is taken for someone else's"
    );
    let stats = sb.stats();
    let dropped = stats["dropped"].as_u64().unwrap();
    let reconciled = count(&db, "SELECT count(*) FROM rows WHERE reconciled = 1");
    assert!(dropped > 0, "drops happened");
    // Every drop is reconciled; kills may add a few more unknown outcomes of their own.
    assert!(
        reconciled >= dropped,
        "reconciled {reconciled} < dropped {dropped}"
    );
    assert!(
        reconciled <= dropped + kills * 16,
        "reconciled {reconciled}"
    );
    // Rows reconciled have no userId: the API's answer never arrived.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM rows WHERE reconciled = 1 AND user_id IS NOT NULL"
        ),
        0
    );
}

#[test]
fn the_messy_sample_ends_in_exact_states_and_invalid_rows_never_reach_the_api() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let summary = dir.path().join("s.json");
    import(&sb, &sample("customers_messy.csv"), &db)
        .arg("--summary-json")
        .arg(&summary)
        .assert()
        .code(1);
    // 20 rows: 7 valid (one of them, line 18, is from a forbidden country), 13 invalid;
    // the later duplicate of m-002 (line 12) is not recorded over the first one.
    let st = states(&db);
    assert_eq!(st.get("created"), Some(&6), "{st:?}");
    assert_eq!(st.get("rejected"), Some(&1), "{st:?}");
    assert_eq!(st.get("invalid"), Some(&12), "{st:?}");
    assert_eq!(st.values().sum::<u64>(), 19);
    let stats = sb.stats();
    assert_eq!(
        stats["requests"].as_u64().unwrap(),
        7,
        "only valid rows are sent"
    );
    assert_eq!(stats["by_code"]["P431"].as_u64().unwrap(), 1);
    let c = ledger(&db);
    let (line, code): (u64, String) = c
        .query_row(
            "SELECT source_line, error_code FROM rows WHERE state = 'rejected'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((line, code.as_str()), (18, "P431"));
    let m002: (String, u64) = c
        .query_row(
            "SELECT state, source_line FROM rows WHERE external_user_id = 'm-002'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(m002, ("created".to_string(), 3));
    let uk: String = c
        .query_row(
            "SELECT error_message FROM rows WHERE external_user_id = 'm-003'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(uk.contains("did you mean GB"), "{uk}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["rows"]["read"], 20);
    assert_eq!(s["rows"]["invalid"], 13);
    assert_eq!(s["results"]["created"], 6);
    assert_eq!(s["results"]["rejected"], 1);
    assert_eq!(s["codes"][0]["code"], "P431");
    assert_eq!(s["exit_code"], 1);
    // The JSON summary's ledger counts are the ledger's.
    for (state, n) in &st {
        assert_eq!(s["ledger_states"][state].as_u64(), Some(*n), "{state}");
    }
}

#[test]
fn a_rejected_row_exported_by_report_fixed_and_fed_back_is_created() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    import(&sb, &sample("customers_messy.csv"), &db)
        .assert()
        .code(1);

    let rejected = dir.path().join("rejected.csv");
    bin()
        .args(["report", "--state", "rejected", "--ledger"])
        .arg(&db)
        .arg("-o")
        .arg(&rejected)
        .assert()
        .code(0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&rejected).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "reports hold personal data");
    let text = std::fs::read_to_string(&rejected).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("External User ID,E-mail"),
        "original columns: {header}"
    );
    assert!(
        header.ends_with("line,state,errorCode,errorMessage"),
        "{header}"
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("m-016,"), "{row}");
    assert!(row.contains(",18,rejected,P431,"), "{row}");
    assert_eq!(lines.next(), None);

    // Unchanged, a re-run does not resend it.
    import(&sb, &sample("customers_messy.csv"), &db)
        .assert()
        .code(1);
    assert_eq!(sb.stats()["requests"].as_u64().unwrap(), 7);

    // Fixed (the operator corrects the countries) and fed back: sent again, created.
    std::fs::write(&rejected, text.replace(",IR,IR,IR,IR,", ",DE,DE,DE,DE,")).unwrap();
    import(&sb, &rejected, &db).assert().code(0);
    assert_eq!(sb.stats()["requests"].as_u64().unwrap(), 8);
    let state: String = ledger(&db)
        .query_row(
            "SELECT state FROM rows WHERE external_user_id = 'm-016'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "created");
}

#[test]
fn the_invalid_report_neutralises_formula_cells_and_keeps_the_original_columns() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    import(&sb, &sample("customers_messy.csv"), &db)
        .assert()
        .code(1);
    let out = bin()
        .args(["report", "--state", "invalid", "--ledger"])
        .arg(&db)
        .assert()
        .code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r.get(r.len() - 3) == Some("invalid")));
    let m018 = rows.iter().find(|r| r.get(0) == Some("m-018")).unwrap();
    let notes = m018.iter().find(|c| c.contains("HYPERLINK")).unwrap();
    assert!(notes.starts_with("'="), "formula neutralised: {notes}");
}

#[test]
fn a_non_terminal_run_prints_periodic_progress_lines_without_escape_codes() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Fixed(Duration::from_millis(20))),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let out = bin()
        .arg("import")
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db)
        .args([
            "--base-url",
            &sb.url,
            "--rate",
            "40",
            "--progress-interval",
            "200ms",
        ])
        .assert()
        .code(0);
    let stderr = stderr_text(out.get_output());
    let stdout = stdout_text(out.get_output());
    let lines = stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .count();
    assert!(lines >= 3, "periodic progress lines: {stderr}");
    assert!(
        stderr.contains("rows (") && stderr.contains("req/s now"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\x1b') && !stdout.contains('\x1b'),
        "no escape codes"
    );

    let quiet = bin()
        .arg("import")
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &sb.url, "--quiet"])
        .assert()
        .code(0);
    assert!(
        quiet.get_output().stderr.is_empty(),
        "--quiet prints no progress or logs"
    );
    assert!(stdout_text(quiet.get_output()).contains("Import finished"));
}

#[test]
fn json_logs_are_one_object_per_line_and_name_rows_without_personal_data() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let out = import(&sb, &sample("customers_messy.csv"), &db)
        .args(["--log-format", "json", "-vv"])
        .assert()
        .code(1);
    let stderr = stderr_text(out.get_output());
    let mut objects = 0;
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON object per line");
        assert!(v["level"].is_string());
        objects += 1;
    }
    assert!(objects >= 7, "{stderr}");
    assert!(
        stderr.contains("m-016") && stderr.contains("P431"),
        "{stderr}"
    );
    for personal in [
        "dariush.karimi@example.org",
        "4915112345016",
        "Karimi",
        "1983-03-21",
        "Bergstraße",
    ] {
        assert!(
            !stderr.contains(personal),
            "personal data in logs: {personal}"
        );
    }
}

#[test]
fn the_readme_main_job_imports_the_sample_into_the_built_in_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("import")
        .arg(sample("customers.csv"))
        .args(["--sandbox", "--terms-accepted", "--rate", "200"])
        .assert()
        .code(0);
    let stdout = stdout_text(out.get_output());
    assert!(stdout.contains("created 50"), "{stdout}");
    let db = dir.path().join("p100-onboard.db");
    assert_eq!(ids_in_state(&db, "created").len() as u64, customers_rows());
    let env: String = ledger(&db)
        .query_row(
            "SELECT value FROM meta WHERE key = 'environment'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(env, "sandbox");
}

#[test]
fn sigint_stops_cleanly_with_exit_130_and_the_next_run_finishes_the_file() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Fixed(Duration::from_millis(50))),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let child = process()
        .arg("import")
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &sb.url, "--rate", "20", "--concurrency", "4"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sb.stats()["created"].as_u64().unwrap() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "import never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(stdout_text(&out).contains("interrupted"));
    // Requests in flight were finished and recorded: nothing is left in flight.
    assert_eq!(states(&db).get("in_flight"), None, "{:?}", states(&db));
    let created = ids_in_state(&db, "created");
    assert_eq!(
        created.len(),
        sb.users().len(),
        "every created user is recorded"
    );
    assert!(created.len() < 50);
    let runs: String = ledger(&db)
        .query_row(
            "SELECT outcome FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(runs, "interrupted");
    import(&sb, &sample("customers.csv"), &db).assert().code(0);
    assert_eq!(sb.users().len() as u64, customers_rows());
    assert_eq!(
        sb.stats()["max_posts_per_external_user_id"]
            .as_u64()
            .unwrap(),
        1
    );
}

#[test]
fn only_failed_retries_failures_without_starting_rows_never_tried() {
    // A server allowing 2 requests/s: a first run without retries leaves most rows failed.
    let sb = TestSandbox::start(SandboxConfig {
        rate_limit: Some(RateLimit {
            per_second: 2.0,
            burst: 2,
        }),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let part = subset_of_customers(dir.path(), "part.csv", 1..11);
    import(&sb, &part, &db)
        .args(["--max-attempts", "1"])
        .assert()
        .code(1);
    let failed = *states(&db).get("failed").expect("some rows failed");
    let created_first = ids_in_state(&db, "created").len() as u64;
    assert_eq!(failed + created_first, 10);
    let requests_first = sb.stats()["requests"].as_u64().unwrap();

    let out = bin()
        .arg("import")
        .arg(sample("customers.csv"))
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &sb.url, "--rate", "2", "--max-attempts", "20"])
        .args([
            "--max-pause",
            "1s",
            "--backoff-base",
            "100ms",
            "--backoff-cap",
            "1s",
        ])
        .arg("--only-failed")
        .assert()
        .code(1);
    let stdout = stdout_text(out.get_output());
    assert!(
        stdout.contains("never tried (--only-failed) 40"),
        "{stdout}"
    );
    assert_eq!(
        states(&db).get("created"),
        Some(&10),
        "the failed rows were retried"
    );
    assert_eq!(states(&db).get("failed"), None);
    let users = sb.users();
    assert_eq!(
        users.len(),
        10,
        "no row outside the failed ones was started"
    );
    assert!(sb.stats()["requests"].as_u64().unwrap() >= requests_first + failed);
}

#[test]
fn a_created_row_changed_afterwards_is_reported_and_not_sent_again() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let part = subset_of_customers(dir.path(), "part.csv", 1..4);
    import(&sb, &part, &db).assert().code(0);
    let text = std::fs::read_to_string(&part).unwrap();
    std::fs::write(&part, text.replacen("Warszawa", "Kraków", 1)).unwrap();
    let out = import(&sb, &part, &db).assert().code(0);
    let stdout = stdout_text(out.get_output());
    assert!(
        stdout.contains("changed after creation (not sent again): 1"),
        "{stdout}"
    );
    assert_eq!(sb.stats()["requests"].as_u64().unwrap(), 3);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM rows WHERE changed_after_creation = 1"
        ),
        1
    );
}

#[test]
fn an_import_of_a_file_missing_columns_exits_2_naming_them_and_sends_nothing() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let file = dir.path().join("short.csv");
    std::fs::write(&file, "externalUserId,email\nx-1,a@example.com\n").unwrap();
    let out = import(&sb, &file, &db)
        .arg("--terms-accepted")
        .assert()
        .code(2);
    let stderr = stderr_text(out.get_output());
    assert!(
        stderr.contains("phone") && stderr.contains("birthDate"),
        "{stderr}"
    );
    assert!(stderr.contains("short.csv"), "{stderr}");
    assert_eq!(sb.stats()["requests"].as_u64().unwrap(), 0);
}

#[test]
fn a_config_file_in_the_working_directory_sets_defaults_that_flags_override() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p100-onboard.toml"),
        format!(
            "base-url = \"{}\"\nledger = \"from-config.db\"\nrate = 500\n",
            sb.url
        ),
    )
    .unwrap();
    let part = subset_of_customers(dir.path(), "part.csv", 1..4);
    bin()
        .current_dir(dir.path())
        .arg("import")
        .arg(&part)
        .assert()
        .code(0);
    assert_eq!(
        ids_in_state(&dir.path().join("from-config.db"), "created").len(),
        3
    );

    let part2 = subset_of_customers(dir.path(), "part2.csv", 4..6);
    bin()
        .current_dir(dir.path())
        .arg("import")
        .arg(&part2)
        .args(["--ledger", "from-flag.db"])
        .assert()
        .code(0);
    assert_eq!(
        ids_in_state(&dir.path().join("from-flag.db"), "created").len(),
        2
    );

    std::fs::write(dir.path().join("p100-onboard.toml"), "rate = \"fast\"\n").unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("import")
        .arg(&part)
        .assert()
        .code(2);
    let stderr = stderr_text(out.get_output());
    assert!(stderr.contains("p100-onboard.toml"), "{stderr}");
}
