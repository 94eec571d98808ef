//! Reliability and security: chaos, fault storms, hostile input, secrets, races.
//!
//! The chaos test reads `CHAOS_ROWS`, `CHAOS_KILLS` and `CHAOS_SEED`, so
//! `.ci/chaos.sh` runs its long form with the same code.

use crate::helpers::*;
use p100_onboard::sandbox::{Latency, SandboxConfig};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `import FILE` against `sb` with fast retries, as a plain process.
fn import_process(sb: &TestSandbox, file: &Path, db: &Path) -> Command {
    import_with(sb, file, db, &[])
}

/// The same with some flags' values replaced (clap refuses a flag given twice).
fn import_with(sb: &TestSandbox, file: &Path, db: &Path, overrides: &[(&str, &str)]) -> Command {
    let defaults = [
        ("--base-url", sb.url.as_str()),
        ("--rate", "2000"),
        ("--concurrency", "16"),
        ("--timeout", "2s"),
        ("--backoff-base", "1ms"),
        ("--backoff-cap", "20ms"),
        ("--max-pause", "200ms"),
        ("--max-attempts", "10"),
    ];
    let mut cmd = process();
    cmd.arg("import").arg(file).arg("--ledger").arg(db);
    for (flag, value) in defaults {
        let value = overrides
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(value, |(_, v)| *v);
        cmd.args([flag, value]);
    }
    cmd
}

/// Runs a command to its end with both outputs captured.
fn run(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.output().expect("the binary runs")
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The sandbox's own count of answers with `status`.
fn answered(sb: &TestSandbox, status: &str) -> u64 {
    sb.snapshot().by_status.get(status).copied().unwrap_or(0)
}

fn assert_no_panic(what: &str, out: &Output) {
    let stderr = stderr_text(out);
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{what}: exit {code:?} (killed by a signal?), stderr: {stderr}"
    );
}

// ---------------------------------------------------------------------------
// 1. Chaos: SIGKILL at random moments under faults, drops and latency.
// ---------------------------------------------------------------------------

#[test]
fn an_import_killed_at_random_moments_under_faults_and_drops_creates_every_row_exactly_once() {
    let rows: u32 = env_or("CHAOS_ROWS", 2000);
    let kills_wanted: u32 = env_or("CHAOS_KILLS", 10);
    let seed: u64 = env_or("CHAOS_SEED", rand::random());
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Uniform(
            Duration::from_millis(1),
            Duration::from_millis(8),
        )),
        fault_rate: 0.1,
        drop_rate: 0.02,
        seed: Some(seed),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chaos.db");
    let file = sample_file(dir.path(), rows, seed % 1000);
    let expected = ids_of_file(&file);
    assert_eq!(expected.len(), rows as usize);
    let mut rng = SmallRng::seed_from_u64(seed);
    let replay =
        format!("replay with CHAOS_SEED={seed} CHAOS_ROWS={rows} CHAOS_KILLS={kills_wanted}");

    // Each kill lands after a random number of this run's requests (so it falls
    // mid-import, wherever the import is), or during start-up one time in five.
    let max_step = u64::from((rows / kills_wanted / 2).max(2));
    let mut kills = 0u32;
    while kills < kills_wanted {
        let before = sb.snapshot().requests;
        let mut child = import_process(&sb, &file, &db).spawn().unwrap();
        let startup_kill = rng.random_bool(0.2);
        let step = rng.random_range(1..=max_step);
        let start_delay = Duration::from_micros(rng.random_range(0..40_000));
        let spawned = Instant::now();
        let deadline = spawned + Duration::from_secs(60);
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            let due = if startup_kill {
                spawned.elapsed() >= start_delay
            } else {
                sb.snapshot().requests >= before + step
            };
            if due {
                child.kill().unwrap(); // SIGKILL: no chance to clean up
                child.wait().unwrap();
                kills += 1;
                break None;
            }
            assert!(
                Instant::now() < deadline,
                "a run neither progressed nor ended; {replay}"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        if let Some(status) = finished {
            panic!("the import ended ({status}) before {kills_wanted} kills landed ({kills} did); {replay}");
        }
    }

    let out = run(import_process(&sb, &file, &db));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the final run: {}\n{replay}",
        stdout_text(&out)
    );

    // Every valid row exists exactly once on the server, and the ledger agrees.
    let users = sb.users();
    let stats = sb.snapshot();
    assert_eq!(
        users.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{replay}"
    );
    assert_eq!(
        stats.created,
        u64::from(rows),
        "the server created each user once; {replay}"
    );
    assert_eq!(ids_in_state(&db, "created"), expected, "{replay}");
    let st = states(&db);
    assert_eq!(
        st.len(),
        1,
        "every row is created, none exists/in_flight/failed: {st:?}; {replay}"
    );

    // A created row either carries the userId the server returned, or was reconciled
    // from a P411 after an unknown outcome of ours: never both, never neither.
    let c = ledger(&db);
    let mut stmt = c
        .prepare("SELECT external_user_id, user_id, reconciled FROM rows")
        .unwrap();
    let mut reconciled = 0u64;
    let mut with_user_id = 0u64;
    for row in stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })
        .unwrap()
    {
        let (ext, uid, rec) = row.unwrap();
        match (uid, rec) {
            (Some(uid), false) => {
                assert_eq!(
                    Some(&uid),
                    users.get(&ext),
                    "{ext}: stored userId; {replay}"
                );
                with_user_id += 1;
            }
            (None, true) => reconciled += 1,
            other => panic!("{ext}: userId/reconciled {other:?}; {replay}"),
        }
    }
    // Every unknown outcome was reconciled, and nothing else: the users the server
    // created whose 201 never reached the ledger are exactly the reconciled rows.
    // They are the drops plus the answers a SIGKILL cut off, at most one per
    // request in flight at each kill.
    let unknown = stats.created - with_user_id;
    assert_eq!(reconciled, unknown, "{replay}");
    let cut_off = reconciled.checked_sub(stats.dropped).unwrap_or_else(|| {
        panic!(
            "reconciled {reconciled} < drops {}; {replay}",
            stats.dropped
        )
    });
    assert!(
        cut_off <= u64::from(kills) * 16,
        "{cut_off} unknown outcomes beyond the drops for {kills} kills; {replay}"
    );
    assert!(
        stats.dropped > 0 && stats.faults > 0,
        "faults were injected: {stats:?}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE outcome = 'running'"),
        0
    );

    // And a further run sends nothing at all.
    let requests = sb.snapshot().requests;
    assert_eq!(run(import_process(&sb, &file, &db)).status.code(), Some(0));
    assert_eq!(
        sb.snapshot().requests,
        requests,
        "a created row is never sent again"
    );

    println!(
        "chaos: rows {rows}, kills {kills}, requests {requests}, faults {}, drops {}, \
         answers cut off by kills {cut_off}, reconciled {reconciled}, seed {seed}",
        stats.faults, stats.dropped
    );
}

#[test]
fn without_kills_the_reconciled_rows_are_exactly_the_dropped_connections() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Uniform(
            Duration::from_millis(1),
            Duration::from_millis(5),
        )),
        fault_rate: 0.1,
        drop_rate: 0.05,
        seed: Some(5),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("drops.db");
    let file = sample_file(dir.path(), 500, 5);
    let out = run(import_process(&sb, &file, &db));
    assert_eq!(out.status.code(), Some(0), "{}", stdout_text(&out));
    let stats = sb.snapshot();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM rows WHERE reconciled = 1"),
        stats.dropped
    );
    assert_eq!(ids_in_state(&db, "created"), ids_of_file(&file));
    assert_eq!(stats.created, 500);
}

// ---------------------------------------------------------------------------
// 2. Fault storm: half the requests fail, some hang past the client's timeout.
// ---------------------------------------------------------------------------

#[test]
fn a_storm_of_half_failed_requests_and_hangs_ends_with_every_row_created_and_none_rejected() {
    let rows = 100u32;
    let sb = TestSandbox::start(SandboxConfig {
        fault_rate: 0.5,
        hang_rate: 0.05,
        hang_for: Duration::from_millis(1500),
        seed: Some(21),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("storm.db");
    let file = sample_file(dir.path(), rows, 21);
    let storm = |sb: &TestSandbox| run(import_with(sb, &file, &db, &[("--timeout", "300ms")]));
    // At ~52% failure per attempt a row exhausts 10 attempts with p ≈ 0.0016: the
    // first run may leave one or two rows `failed`, which the next run retries.
    let mut codes = Vec::new();
    for run_no in 0..3 {
        let out = storm(&sb);
        assert_no_panic("import", &out);
        codes.push(out.status.code());
        let st = states(&db);
        assert_eq!(
            st.get("rejected"),
            None,
            "a transient fault was taken as permanent: {st:?}"
        );
        assert_eq!(st.get("exists"), None, "{st:?}");
        if run_no == 0 {
            assert!(st.get("failed").copied().unwrap_or(0) <= 3, "{st:?}");
        }
        if out.status.code() == Some(0) {
            break;
        }
    }
    assert_eq!(codes.last(), Some(&Some(0)), "runs ended {codes:?}");
    let expected = ids_of_file(&file);
    assert_eq!(ids_in_state(&db, "created"), expected);
    assert_eq!(
        sb.users().keys().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    let stats = sb.snapshot();
    assert!(stats.hung > 0, "requests hung past the timeout: {stats:?}");
    assert!(
        answered(&sb, "503") > 0 && answered(&sb, "502") > 0,
        "HTML 502/503 answers were served: {stats:?}"
    );
    assert!(stats.by_code.contains_key("P500") && stats.by_code.contains_key("P501"));
    // No drops: a hang creates nothing, so nothing needed reconciling.
    assert_eq!(
        count(&db, "SELECT count(*) FROM rows WHERE reconciled = 1"),
        0
    );
    println!(
        "fault storm: rows {rows}, requests {}, faults {}, hangs {}, runs {}",
        stats.requests,
        stats.faults,
        stats.hung,
        codes.len()
    );
}

// ---------------------------------------------------------------------------
// 4. Hostile input.
// ---------------------------------------------------------------------------

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hostile")
        .join(name)
}

/// Runs the binary and measures its peak resident memory with `wait4`.
///
/// The figure never falls below this test process's own peak: a forked child starts
/// with its parent's high-water mark. So the tests here write large inputs piece by
/// piece rather than building them in memory.
fn run_measured(mut cmd: Command, dir: &Path) -> (Output, u64) {
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // Reaped below by wait4, which std's wait cannot replace: it reports no rusage.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4");
    use std::os::unix::process::ExitStatusExt;
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn each_hostile_file_ends_in_a_message_naming_the_line_or_a_per_row_error_never_a_panic() {
    // (file, exit of `validate`, text naming where the trouble is)
    let cases: &[(&str, i32, &str)] = &[
        ("empty.csv", 2, "is empty: expected a header line"),
        ("blank_lines.csv", 2, "is empty: expected a header line"),
        ("bom_only.csv", 2, "is empty: expected a header line"),
        (
            "invalid_utf8_header.csv",
            2,
            "line 1: the header is not valid UTF-8",
        ),
        (
            "invalid_utf8_row.csv",
            1,
            "line 3 (cust-0002): firstName: line 3: column \"first_name\" is not valid UTF-8",
        ),
        (
            "nul_bytes.csv",
            1,
            "line 3: externalUserId: contains control characters",
        ),
        (
            "unterminated_quote.csv",
            1,
            "line 3 (cust-0002): row: has 4 fields, the header has 16 (an unterminated quote",
        ),
        (
            "header_repeated.csv",
            1,
            "line 3 (external_user_id): email: is not a valid email address",
        ),
        (
            "formula_injection.csv",
            1,
            "line 3 (=cmd|' /C calc'!A0): email: is not a valid email address",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, code, needle) in cases {
        let out = run({
            let mut c = process();
            c.arg("validate").arg(hostile(name)).arg("--terms-accepted");
            c
        });
        assert_no_panic(name, &out);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{name}: {}",
            stderr_text(&out)
        );
        let text = stdout_text(&out) + &stderr_text(&out);
        assert!(text.contains(needle), "{name}: {needle:?} not in:\n{text}");

        // The import reads the file the same way: the same verdict, no panic.
        let db = dir.path().join(format!("{name}.db"));
        let out = run({
            let mut c = process();
            c.arg("import")
                .arg(hostile(name))
                .args(["--sandbox", "--terms-accepted", "--dry-run", "--ledger"])
                .arg(&db);
            c
        });
        assert_no_panic(name, &out);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "import --dry-run {name}: {}",
            stderr_text(&out)
        );
    }
}

/// `validate FILE --terms-accepted` with its peak memory; never a panic.
fn validate_measured(file: &Path, dir: &Path) -> (Output, u64) {
    let mut cmd = process();
    cmd.arg("validate").arg(file).arg("--terms-accepted");
    let (out, peak) = run_measured(cmd, dir);
    assert_no_panic("validate", &out);
    (out, peak)
}

#[test]
fn a_fifty_megabyte_field_is_one_per_row_error_in_memory_bounded_by_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = customer_lines();
    let row: Vec<&str> = rows[0].split(',').collect();
    let next = &rows[1];
    let file = dir.path().join("big-field.csv");
    {
        // Piece by piece: see `run_measured`.
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        write!(out, "{header}\n{},", row[..3].join(",")).unwrap();
        let chunk = [b'a'; 1 << 16];
        for _ in 0..(50 << 20) / chunk.len() {
            out.write_all(&chunk).unwrap();
        }
        writeln!(out, ",{}\n{next}", row[4..].join(",")).unwrap();
    }
    let (out, peak) = validate_measured(&file, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stdout = stdout_text(&out);
    assert!(
        stdout.contains("line 2 (cust-0001): firstName: is longer than 255 characters"),
        "{stdout}"
    );
    assert!(
        stdout.contains("valid: 1"),
        "the next row is read normally: {stdout}"
    );
    assert!(
        peak < 4 * (50 << 20),
        "peak memory {} MB for a 50 MB file",
        peak >> 20
    );
}

/// Batches end at a byte budget as well as a row count, and outsized record buffers
/// are not reused: a file of large rows keeps a few megabytes in flight, not a
/// thousand rows' worth.
#[test]
fn a_file_of_megabyte_rows_is_read_in_memory_bounded_by_a_few_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = customer_lines();
    let file = dir.path().join("fat-rows.csv");
    {
        // Row by row: see `run_measured`.
        use std::io::Write;
        let big = "b".repeat(1 << 20);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        writeln!(out, "{header}").unwrap();
        for n in 0..160 {
            let mut cells: Vec<&str> = rows[n % rows.len()].split(',').collect();
            cells[4] = &big;
            let id = format!("fat-{n}");
            cells[0] = &id;
            writeln!(out, "{}", cells.join(",")).unwrap();
        }
    }
    let (out, peak) = validate_measured(&file, dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout_text(&out).contains("rows read: 160\nvalid: 0\ninvalid: 160\n"),
        "{}",
        stdout_text(&out)
    );
    assert!(
        peak < 100 << 20,
        "peak memory {} MB for 160 rows of 1 MB",
        peak >> 20
    );
}

#[test]
fn a_hundred_thousand_columns_in_a_row_or_in_the_header_are_handled_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = customer_lines();
    let row = &rows[0];
    let extra = 100_000 - 16;

    let wide_row = dir.path().join("wide-row.csv");
    std::fs::write(
        &wide_row,
        format!("{header}\n{row}{}\n", ",x".repeat(extra)),
    )
    .unwrap();
    let out = run({
        let mut c = process();
        c.arg("validate").arg(&wide_row).arg("--terms-accepted");
        c
    });
    assert_no_panic("wide row", &out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout_text(&out).contains("line 2 (cust-0001): row: has 100000 fields, the header has 16"),
        "{}",
        stdout_text(&out)
    );

    let wide_header = dir.path().join("wide-header.csv");
    let names: String = (0..extra).map(|i| format!(",extra{i}")).collect();
    std::fs::write(
        &wide_header,
        format!("{header}{names}\n{row}{}\n", ",".repeat(extra)),
    )
    .unwrap();
    let mut cmd = process();
    cmd.arg("validate")
        .arg(&wide_header)
        .arg("--terms-accepted");
    let (out, peak) = run_measured(cmd, dir.path());
    assert_no_panic("wide header", &out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    assert!(
        stdout_text(&out).contains("extra99983"),
        "the ignored columns are named"
    );
    assert!(peak < 512 << 20, "peak memory {} MB", peak >> 20);
}

/// Every cell of a CSV export that a spreadsheet would evaluate.
fn formula_cells(csv_bytes: &[u8]) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_bytes);
    let mut bad = Vec::new();
    for rec in rdr.byte_records() {
        for cell in rec.unwrap().iter() {
            if matches!(
                cell.first(),
                Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
            ) {
                bad.push(String::from_utf8_lossy(cell).into_owned());
            }
        }
    }
    bad
}

#[test]
fn formula_cells_are_neutralised_in_errors_out_and_in_every_report_export() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("formulas.csv");
    std::fs::copy(hostile("formula_injection.csv"), &input).unwrap();

    let errors = dir.path().join("errors.csv");
    let out = run({
        let mut c = process();
        c.arg("validate")
            .arg(&input)
            .arg("--terms-accepted")
            .arg("--errors-out")
            .arg(&errors);
        c
    });
    assert_eq!(out.status.code(), Some(1));
    let written = std::fs::read(&errors).unwrap();
    assert!(
        String::from_utf8_lossy(&written).contains("'=cmd|"),
        "the cell is kept, defused"
    );
    assert_eq!(formula_cells(&written), Vec::<String>::new());

    let db = dir.path().join("l.db");
    let out = run({
        let mut c = import_process(&sb, &input, &db);
        c.arg("--terms-accepted");
        c
    });
    assert_eq!(out.status.code(), Some(1), "{}", stdout_text(&out));
    for state in ["invalid", "created"] {
        let report = dir.path().join(format!("{state}.csv"));
        let out = run({
            let mut c = process();
            c.args(["report", "--state", state, "--ledger"])
                .arg(&db)
                .arg("-o")
                .arg(&report);
            c
        });
        assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
        let written = std::fs::read(&report).unwrap();
        assert!(!written.is_empty());
        assert_eq!(
            formula_cells(&written),
            Vec::<String>::new(),
            "report --state {state}"
        );
    }
}

#[test]
fn errors_out_may_not_be_the_input_by_any_path_nor_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::copy(hostile("formula_injection.csv"), &input).unwrap();
    let original = std::fs::read(&input).unwrap();
    let symlink = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let hardlink = dir.path().join("hard.csv");
    std::fs::hard_link(&input, &hardlink).unwrap();
    let subdir = dir.path().join("out");
    std::fs::create_dir(&subdir).unwrap();
    let dotted = dir.path().join("out/../in.csv");
    let mut problems = Vec::new();
    for (out_path, needle) in [
        (&input, "is the input file itself"),
        (&dotted, "is the input file itself"),
        (&symlink, "is the input file itself"),
        (&hardlink, "is the input file itself"),
        (&subdir, "is a directory"),
    ] {
        let out = run({
            let mut c = process();
            c.arg("validate")
                .arg(&input)
                .arg("--terms-accepted")
                .arg("--errors-out")
                .arg(out_path);
            c
        });
        assert_no_panic("validate", &out);
        let stderr = stderr_text(&out);
        if out.status.code() != Some(2) || !stderr.contains(needle) {
            problems.push(format!(
                "--errors-out {}: exit {:?}, {stderr:?}",
                out_path.display(),
                out.status.code()
            ));
        }
        if std::fs::read(&input).unwrap() != original {
            problems.push(format!(
                "--errors-out {} overwrote the input",
                out_path.display()
            ));
            std::fs::write(&input, &original).unwrap();
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn report_output_may_not_be_the_ledger_or_a_source_file_by_any_path_nor_a_directory() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let input = subset_of_customers(dir.path(), "in.csv", 1..4);
    let db = dir.path().join("l.db");
    assert_eq!(run(import_process(&sb, &input, &db)).status.code(), Some(0));
    let ledger_bytes = std::fs::read(&db).unwrap();
    let input_bytes = std::fs::read(&input).unwrap();
    let link = |name: &str, to: &Path, hard: bool| {
        let p = dir.path().join(name);
        if hard {
            std::fs::hard_link(to, &p).unwrap();
        } else {
            std::os::unix::fs::symlink(to, &p).unwrap();
        }
        p
    };
    let cases = [
        (db.clone(), "created", "is the ledger itself"),
        (
            link("ledger-link.db", &db, false),
            "created",
            "is the ledger itself",
        ),
        (
            link("ledger-hard.db", &db, true),
            "created",
            "is the ledger itself",
        ),
        (input.clone(), "created", "is a source file"),
        (
            link("input-link.csv", &input, false),
            "created",
            "is a source file",
        ),
        (
            link("input-hard.csv", &input, true),
            "created",
            "is a source file",
        ),
        // No row is `failed`, but the file is still a source of this ledger.
        (input.clone(), "failed", "is a source file"),
        (dir.path().to_path_buf(), "created", "is a directory"),
    ];
    let mut problems = Vec::new();
    for (out_path, state, needle) in cases {
        let out = run({
            let mut c = process();
            c.args(["report", "--state", state, "--ledger"])
                .arg(&db)
                .arg("-o")
                .arg(&out_path);
            c
        });
        assert_no_panic("report", &out);
        let stderr = stderr_text(&out);
        let what = format!("report --state {state} -o {}", out_path.display());
        if out.status.code() != Some(2) || !stderr.contains(needle) {
            problems.push(format!("{what}: exit {:?}, {stderr:?}", out.status.code()));
        }
        if std::fs::read(&db).unwrap() != ledger_bytes {
            problems.push(format!("{what} overwrote the ledger"));
            std::fs::write(&db, &ledger_bytes).unwrap();
        }
        if std::fs::read(&input).unwrap() != input_bytes {
            problems.push(format!("{what} overwrote the input"));
            std::fs::write(&input, &input_bytes).unwrap();
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------
// 5. Secrets and privacy.
// ---------------------------------------------------------------------------

const SECRET: &str = "p100-live-7f3c9a1e5b2d4f6a8c0e";

/// Every file under `dir`, as bytes, with its name.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn the_api_key_never_appears_in_output_ledger_wal_reports_or_debug_output_by_any_route() {
    use std::os::unix::fs::PermissionsExt;
    let sb = TestSandbox::start(SandboxConfig {
        api_key: SECRET.to_string().into(),
        forbidden_countries: vec!["PL".into()],
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let keyfile = dir.path().join("key");
    std::fs::write(&keyfile, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let db = work.join("l.db");
    let first = subset_of_customers(&work, "first.csv", 1..20);
    let all = sample("customers.csv");
    let mut outputs = Vec::new();

    // Route 1: P100_API_KEY. Some rows are rejected (PL is forbidden here), so
    // error paths print too.
    let out = run({
        let mut c = import_process(&sb, &first, &db);
        c.env("P100_API_KEY", SECRET)
            .arg("--summary-json")
            .arg(work.join("summary1.json"));
        c
    });
    assert_eq!(out.status.code(), Some(1), "{}", stderr_text(&out));
    outputs.push(out);

    // A reader keeps the WAL from being checkpointed away, so its bytes are checked too.
    let reader = ledger(&db);
    let _: u64 = reader
        .query_row("SELECT count(*) FROM rows", [], |r| r.get(0))
        .unwrap();
    // Route 2: --api-key-file.
    let out = run({
        let mut c = import_process(&sb, &all, &db);
        c.env_remove("P100_API_KEY")
            .arg("--api-key-file")
            .arg(&keyfile)
            .arg("--summary-json")
            .arg(work.join("summary2.json"));
        c
    });
    assert_eq!(out.status.code(), Some(1), "{}", stderr_text(&out));
    outputs.push(out);
    // A wrong key (401) must not be echoed either.
    let wrong = format!("{SECRET}-wrong");
    let out = run({
        let mut c = import_process(&sb, &all, &dir.path().join("other.db"));
        c.env("P100_API_KEY", &wrong);
        c
    });
    assert_eq!(out.status.code(), Some(3));
    assert!(!contains(&out.stderr, &wrong) && !contains(&out.stdout, &wrong));
    outputs.push(out);
    for state in ["created", "rejected", "failed", "invalid"] {
        for format in ["csv", "json"] {
            outputs.push(run({
                let mut c = process();
                c.args(["report", "--state", state, "--format", format, "--ledger"])
                    .arg(&db)
                    .arg("-o")
                    .arg(work.join(format!("report-{state}.{format}")));
                c
            }));
        }
    }
    outputs.push(run({
        let mut c = process();
        c.args(["status", "--json", "--ledger"]).arg(&db);
        c
    }));
    for out in &outputs {
        assert!(
            !contains(&out.stdout, SECRET),
            "stdout: {}",
            stdout_text(out)
        );
        assert!(
            !contains(&out.stderr, SECRET),
            "stderr: {}",
            stderr_text(out)
        );
    }
    let files = files_under(&work);
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().ends_with("-wal")),
        "the WAL was kept for inspection: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes) in &files {
        assert!(!contains(bytes, SECRET), "the key is in {}", path.display());
    }
    drop(reader);

    // Core structures print no key in their Debug output.
    use clap::Parser;
    let argv: Vec<std::ffi::OsString> = vec![
        "p100-onboard".into(),
        "import".into(),
        all.clone().into(),
        "--terms-accepted".into(),
        "--base-url".into(),
        sb.url.clone().into(),
        "--api-key-file".into(),
        keyfile.clone().into(),
    ];
    let cli = p100_onboard::cli::Cli::try_parse_from(argv).unwrap();
    let p100_onboard::cli::Command::Import(args) = cli.command else {
        panic!("import parsed")
    };
    let (cfg, _) = args.into_config().unwrap();
    let p100_onboard::import::Target::Api { base_url, api_key } = cfg.target.clone() else {
        panic!("an API target")
    };
    let client_cfg = p100_onboard::api::ClientConfig {
        base_url,
        api_key,
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        max_idle_per_host: 1,
    };
    let client = p100_onboard::api::ApiClient::new(client_cfg.clone()).unwrap();
    let sandbox_cfg = SandboxConfig {
        api_key: SECRET.to_string().into(),
        ..SandboxConfig::default()
    };
    for debug in [
        format!("{cfg:?}"),
        format!("{cfg:#?}"),
        format!("{client_cfg:?}"),
        format!("{client:?}"),
        format!("{sandbox_cfg:?}"),
    ] {
        assert!(!debug.contains(SECRET), "{debug}");
    }
}

#[test]
fn no_personal_data_of_the_input_reaches_standard_error() {
    let sb = TestSandbox::start(SandboxConfig {
        forbidden_countries: vec!["PL".into(), "DE".into()],
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let input = sample("customers_messy.csv");
    let out = run({
        let mut c = import_process(&sb, &input, &db);
        c.arg("--terms-accepted");
        c
    });
    assert_no_panic("import", &out);
    let stderr = stderr_text(&out);
    let out2 = run({
        let mut c = process();
        c.arg("import")
            .arg(&input)
            .args(["--sandbox", "--terms-accepted", "--ledger"])
            .arg(dir.path().join("l2.db"));
        c
    });
    let stderr = stderr + &stderr_text(&out2);
    let first_line = std::fs::read_to_string(&input).unwrap();
    let delimiter = if first_line.lines().next().unwrap().contains(';') {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_path(&input)
        .unwrap();
    let headers = rdr.headers().unwrap().clone();
    let personal: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            let h: String = h
                .to_ascii_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            [
                "email",
                "phone",
                "firstname",
                "lastname",
                "street",
                "birthdate",
            ]
            .iter()
            .any(|k| h.contains(k))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        personal.len() >= 5,
        "the personal columns were found: {headers:?}"
    );
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for &i in &personal {
            let v = rec.get(i).unwrap_or("").trim();
            if v.len() >= 4 {
                assert!(
                    !stderr.contains(v),
                    "{v:?} (column {}) is on stderr:\n{stderr}",
                    &headers[i]
                );
            }
        }
    }
}

#[test]
fn ledger_wal_and_lock_files_are_private_and_a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let input = subset_of_customers(dir.path(), "in.csv", 1..4);
    let reader_keeps_wal = {
        assert_eq!(run(import_process(&sb, &input, &db)).status.code(), Some(0));
        ledger(&db)
    };
    let _: u64 = reader_keeps_wal
        .query_row("SELECT count(*) FROM rows", [], |r| r.get(0))
        .unwrap();
    let more = subset_of_customers(dir.path(), "more.csv", 4..8);
    assert_eq!(run(import_process(&sb, &more, &db)).status.code(), Some(0));
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        let mode = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "{} has mode {:o}",
            p.display(),
            mode & 0o777
        );
    }

    let keyfile = dir.path().join("key");
    std::fs::write(&keyfile, p100_onboard::sandbox::DEMO_API_KEY).unwrap();
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(mode)).unwrap();
        let requests = sb.snapshot().requests;
        let out = run({
            let mut c = import_process(&sb, &input, &dir.path().join("k.db"));
            c.env_remove("P100_API_KEY")
                .arg("--api-key-file")
                .arg(&keyfile);
            c
        });
        assert_eq!(out.status.code(), Some(2), "mode {mode:o}");
        assert!(
            stderr_text(&out).contains("chmod 600"),
            "{}",
            stderr_text(&out)
        );
        assert_eq!(sb.snapshot().requests, requests, "nothing was sent");
    }
}

#[test]
fn plain_http_to_any_host_but_this_machine_is_refused_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let input = subset_of_customers(dir.path(), "in.csv", 1..3);
    // A non-loopback address of this machine, if it has one: a listener there
    // proves no connection is even attempted.
    let local_ip = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    let listener = local_ip.and_then(|ip| std::net::TcpListener::bind((ip, 0)).ok());
    let mut urls = vec![
        "http://example.com".to_string(),
        "HTTP://example.com:80/".to_string(),
        "http://10.0.0.1:8080".to_string(),
        "http://0.0.0.0:8080".to_string(),
        "http://localhost.example.com".to_string(),
        "http://127.0.0.1.nip.io".to_string(),
    ];
    if let Some(l) = &listener {
        urls.push(format!("http://{}", l.local_addr().unwrap()));
    }
    for url in &urls {
        let db = dir.path().join("l.db");
        let out = run({
            let mut c = process();
            c.arg("import")
                .arg(&input)
                .args(["--terms-accepted", "--base-url", url, "--ledger"])
                .arg(&db);
            c
        });
        let stderr = stderr_text(&out);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("plain http"), "{url}: {stderr}");
        assert!(!db.exists(), "{url}: nothing was even recorded");
    }
    if let Some(l) = listener {
        l.set_nonblocking(true).unwrap();
        assert!(
            matches!(l.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a connection reached the listener"
        );
    }
}

#[test]
fn no_flag_or_setting_switches_tls_verification_off() {
    for args in [
        &["--help"][..],
        &["import", "--help"],
        &["validate", "--help"],
        &["report", "--help"],
        &["status", "--help"],
        &["sandbox", "--help"],
    ] {
        let out = run({
            let mut c = process();
            c.args(args);
            c
        });
        assert_eq!(out.status.code(), Some(0));
        let help = stdout_text(&out).to_ascii_lowercase();
        for word in [
            "insecure",
            "verify",
            "danger",
            "invalid-cert",
            "accept-invalid",
            "no-tls",
            "skip-tls",
            "certificate",
        ] {
            assert!(!help.contains(word), "{args:?} mentions {word:?}:\n{help}");
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Two imports, one ledger.
// ---------------------------------------------------------------------------

/// Starts two imports of `file` on `db` at the same moment; returns (pid, output) of each.
fn race(sb: &TestSandbox, file: &Path, db: &Path) -> [(u32, Output); 2] {
    let spawn = || {
        let mut c = import_with(sb, file, db, &[("--rate", "50"), ("--concurrency", "2")]);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (pa, pb) = (a.id(), b.id());
    [
        (pa, a.wait_with_output().unwrap()),
        (pb, b.wait_with_output().unwrap()),
    ]
}

fn assert_exactly_one_ran(runs: &[(u32, Output); 2], what: &str) {
    let codes: Vec<_> = runs.iter().map(|(_, o)| o.status.code()).collect();
    let winner = runs.iter().position(|(_, o)| o.status.code() == Some(0));
    let Some(w) = winner else {
        panic!(
            "{what}: no run completed: {codes:?} {}",
            stderr_text(&runs[0].1)
        );
    };
    let (winner_pid, _) = &runs[w];
    let (_, loser) = &runs[1 - w];
    let stderr = stderr_text(loser);
    assert_eq!(
        loser.status.code(),
        Some(2),
        "{what}: exits {codes:?}; loser said: {stderr}"
    );
    assert!(
        stderr.contains(&format!("is locked by pid {winner_pid}")),
        "{what}: the loser names the holder: {stderr}"
    );
}

#[test]
fn two_imports_racing_on_one_ledger_run_once_and_the_other_exits_2_naming_the_holder() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Fixed(Duration::from_millis(20))),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = subset_of_customers(dir.path(), "in.csv", 1..21);

    // On an existing ledger.
    let db = dir.path().join("existing.db");
    let first = subset_of_customers(dir.path(), "first.csv", 1..2);
    assert_eq!(run(import_process(&sb, &first, &db)).status.code(), Some(0));
    let runs = race(&sb, &file, &db);
    assert_exactly_one_ran(&runs, "existing ledger");
    assert_eq!(ids_in_state(&db, "created").len(), 20);

    // On a ledger neither has created yet: the race reaches the file's creation
    // and its migrations, and must still end the same way. Repeated, because the
    // window is narrow.
    for round in 0..8 {
        let db = dir.path().join(format!("fresh-{round}.db"));
        let small = subset_of_customers(dir.path(), &format!("small-{round}.csv"), 1..6);
        let runs = race(&sb, &small, &db);
        assert_exactly_one_ran(&runs, &format!("fresh ledger, round {round}"));
    }
    assert!(sb.snapshot().max_posts_per_external_user_id >= 1);
}

#[test]
fn a_lock_left_by_a_killed_import_is_taken_over_and_the_run_is_recorded_as_killed() {
    let sb = TestSandbox::start(SandboxConfig {
        latency: Some(Latency::Fixed(Duration::from_millis(50))),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let file = sample("customers.csv");
    let mut child = {
        import_with(&sb, &file, &db, &[("--rate", "20"), ("--concurrency", "1")])
            .spawn()
            .unwrap()
    };
    // Holding the lock: it has sent its first request.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sb.snapshot().requests == 0 {
        assert!(Instant::now() < deadline, "the first run never sent");
        std::thread::sleep(Duration::from_millis(5));
    }
    let lock = PathBuf::from(format!("{}.lock", db.display()));
    assert!(std::fs::read_to_string(&lock)
        .unwrap()
        .contains(&format!("pid {}", child.id())));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lock.exists(), "the lock file outlives its holder");

    let out = run(import_process(&sb, &file, &db));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE outcome = 'killed'"),
        1
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE outcome = 'completed'"),
        1
    );
    let expected = ids_of_file(&file);
    assert_eq!(ids_in_state(&db, "created"), expected);
    assert_eq!(sb.users().len(), expected.len());
}

// ---------------------------------------------------------------------------
// 7. A full disk: the file size limit of the importer's process.
// ---------------------------------------------------------------------------

/// Limits the files the child may write to `bytes` (RLIMIT_FSIZE), with SIGXFSZ
/// ignored so a write past it fails with EFBIG, as on a full disk.
fn limit_file_size(cmd: &mut Command, bytes: u64) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_ledger_that_cannot_be_written_stops_the_run_and_no_request_leaves_unmarked() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let file = sample_file(dir.path(), 3000, 9);
    let head = subset_of_customers(dir.path(), "head.csv", 1..3);
    assert_eq!(run(import_process(&sb, &head, &db)).status.code(), Some(0));
    let before = sb.snapshot().requests;
    let created_before = ids_in_state(&db, "created");

    let mut cmd = import_process(&sb, &file, &db);
    limit_file_size(&mut cmd, 160 * 1024);
    let out = run(cmd);
    assert_no_panic("import", &out);
    let stderr = stderr_text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("writing the ledger failed"), "{stderr}");

    // Every request that left has its write-ahead mark on disk.
    let sent = sb.snapshot().requests - before;
    let marked: BTreeSet<String> = ids_in_state(&db, "in_flight")
        .into_iter()
        .chain(
            ids_in_state(&db, "created")
                .difference(&created_before)
                .cloned(),
        )
        .collect();
    assert!(sent > 0, "the run got going before the disk filled");
    assert!(
        sent <= marked.len() as u64,
        "{sent} requests sent, only {} rows marked",
        marked.len()
    );
    let on_server: BTreeSet<String> = sb.users().into_keys().collect();
    let unmarked: Vec<_> = on_server
        .difference(&created_before)
        .filter(|id| !marked.contains(*id))
        .collect();
    assert!(unmarked.is_empty(), "created without a mark: {unmarked:?}");

    // With room again the next run finishes the job without doubling anyone.
    let out = run(import_process(&sb, &file, &db));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let mut expected = ids_of_file(&file);
    expected.extend(created_before);
    assert_eq!(ids_in_state(&db, "created"), expected);
    assert_eq!(sb.snapshot().created as usize, expected.len());
}

// ---------------------------------------------------------------------------
// 2b. A gateway's Retry-After on a 503 cannot stall the run.
// ---------------------------------------------------------------------------

/// A loopback server answering every request with `response`; counts requests.
fn canned_server(response: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then as much body as Content-Length says.
                let body_start = loop {
                    let Ok(n) = stream.read(&mut chunk) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < body_start + length {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = stream.write_all(response.as_bytes());
            });
        }
    });
    (url, hits)
}

#[test]
fn a_retry_after_of_an_hour_on_a_gateway_503_does_not_hold_the_run_for_an_hour() {
    let (url, hits) = canned_server(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\nContent-Type: text/html\r\n\
         Content-Length: 19\r\nConnection: close\r\n\r\n<html>down</html>\r\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let input = subset_of_customers(dir.path(), "in.csv", 1..3);
    let db = dir.path().join("l.db");
    let mut cmd = process();
    cmd.arg("import")
        .arg(&input)
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &url, "--max-attempts", "2"])
        .args([
            "--backoff-base",
            "1ms",
            "--backoff-cap",
            "20ms",
            "--max-pause",
            "1s",
        ]);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let sent = hits.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        status.is_some(),
        "after {sent} requests the run was still waiting 10 s later: a 503's Retry-After \
         is honoured without the --max-pause/--backoff-cap bound"
    );
    assert_eq!(
        status.unwrap().code(),
        Some(1),
        "the rows end failed, for the next run"
    );
    assert_eq!(sent, 4, "two rows, two attempts each");
    assert_eq!(ids_in_state(&db, "failed").len(), 2);
}

#[test]
fn a_key_typed_at_the_prompt_is_not_echoed_and_never_stored() {
    // `script` gives the binary a terminal, as an operator at a prompt has.
    let secret = "typed-at-the-prompt-7f3a";
    let sb = TestSandbox::start(p100_onboard::sandbox::SandboxConfig {
        api_key: secrecy::SecretString::from(secret),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let input = subset_of_customers(dir.path(), "in.csv", 1..4);
    let command = format!(
        "{} import {} --base-url {} --ledger {} --quiet",
        assert_cmd::cargo::cargo_bin("p100-onboard").display(),
        input.display(),
        sb.url,
        db.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("P100_API_KEY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs");
    // Typed only once the prompt is up: earlier, the terminal would still echo it.
    let mut seen = Vec::new();
    {
        use std::io::{Read, Write};
        let stdout = child.stdout.as_mut().unwrap();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("(not echoed): ") {
            assert_eq!(stdout.read(&mut byte).unwrap(), 1, "the prompt never came");
            seen.push(byte[0]);
        }
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{secret}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}{}",
        String::from_utf8_lossy(&seen),
        stdout_text(&out),
        stderr_text(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("API key (not echoed)"), "{text}");
    assert!(text.contains("created 3"), "{text}");
    assert!(!text.contains(secret), "the key was echoed: {text}");
    for file in ["l.db", "l.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            assert!(!String::from_utf8_lossy(&bytes).contains(secret), "{file}");
        }
    }
}
