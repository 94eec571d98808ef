//! Snapshots of what an operator reads: every `--help` and the text summary.

use crate::helpers::*;

fn help(args: &[&str]) -> String {
    let out = bin()
        .args(args)
        .arg("--help")
        .env("COLUMNS", "100")
        .assert()
        .code(0);
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in [
        "import",
        "validate",
        "status",
        "report",
        "sandbox",
        "sample",
        "completions",
    ] {
        let text = help(&[sub]);
        assert!(text.contains("Example"), "{sub} --help has examples");
        insta::assert_snapshot!(format!("help_{sub}"), text);
    }
    insta::assert_snapshot!("help_top", help(&[]));
}

#[test]
fn version_names_the_ledger_schema() {
    let out = bin().arg("--version").assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(
        text.trim(),
        format!(
            "p100-onboard {} (ledger schema {})",
            env!("CARGO_PKG_VERSION"),
            p100_onboard::ledger::schema::SCHEMA_VERSION
        )
    );
}

#[test]
fn completions_are_printed_for_bash() {
    let out = bin().args(["completions", "bash"]).assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("_p100__onboard()") && text.contains("--only-failed"));
}

#[test]
fn the_text_summary_of_the_messy_sample_reads_as_documented() {
    let sb = TestSandbox::plain();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let out = bin()
        .arg("import")
        .arg(sample("customers_messy.csv"))
        .arg("--ledger")
        .arg(&db)
        .args(["--base-url", &sb.url, "--rate", "1000", "--quiet"])
        .assert()
        .code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    insta::with_settings!({filters => vec![
        (r"\d+\.\d+s, \d+\.\d+ requests/s", "[elapsed], [rate] requests/s"),
        (regex_escape(&db.display().to_string()).as_str(), "[ledger]"),
        (regex_escape(&sample("customers_messy.csv").display().to_string()).as_str(), "[file]"),
    ]}, {
        insta::assert_snapshot!("summary_messy", text);
    });
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}
