//! `p100-onboard validate` and `sample` through the real binary.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const HEADER: &str = "externalUserId,email,phone,firstName,lastName,street,number,city,postCode,country,citizenship,nationality,birthCountry,birthDate,hasAcceptedP100Tc,userIdentificationNumber";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A valid row whose id, email and phone are unique per `n`.
fn valid_row(n: u32) -> String {
    format!("c-{n},user{n}@example.com,4860100{n:04},Anna,Nowak,\"ul. Długa, 3\",12,Gdańsk,80-827,PL,PL,PL,PL,1980-01-31,true,")
}

fn bin() -> Command {
    Command::cargo_bin("p100-onboard").unwrap()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn validate(args: &[&str]) -> Run {
    let out = bin().arg("validate").args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &TempDir, name: &str, content: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn the_clean_sample_is_entirely_valid() {
    let file = samples().join("customers.csv");
    let run = validate(&[file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("rows read: 50\nvalid: 50\ninvalid: 0\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ignored columns: none"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_messy_sample_reports_every_problem_with_its_line() {
    let file = samples().join("customers_messy.csv");
    let run = validate(&[file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = format!(
        "{}
rows read: 20
valid: 7
invalid: 13
  required: 1
  email: 2
  phone: 2
  country: 2
  birth_date: 3
  min_age: 1
  terms: 2
  duplicate: 3
normalisations applied: 15
  trimmed: 7
  line_break: 1
  country_upper: 4
  phone_format: 3
ignored columns: Notes
first problems (13 of 13 invalid rows):
  line 4 (m-003): country: \"UK\" is not an ISO 3166-1 alpha-2 code; did you mean GB?
  line 5 (m-004): birthDate: must be a real date written YYYY-MM-DD (day-first dates are not accepted)
  line 6 (m-005): birthDate: must be a real date written YYYY-MM-DD
  line 7 (m-006): birthDate: is in the future
  line 8 (m-007): birthDate: the person is under 18
  line 9 (m-008): email: is not a valid email address
  line 10 (m-009): phone: must have 7 to 15 digits, has 5
  line 12 (m-002): externalUserId: also used on line 3
  line 13 (m-012): email: also used on line 2
  line 14 (m-013): phone: also used on line 3
  line 15 (m-014): hasAcceptedP100Tc: is false: the user has not accepted P100's terms
  line 19 (m-017): email: is required but empty; firstName: is required but empty
  line 20 (m-018): email: is not a valid email address; phone: must have 7 to 15 digits, has 4; country: \"DEU\" is not an ISO 3166-1 alpha-2 code; did you mean DE?; hasAcceptedP100Tc: is false: the user has not accepted P100's terms
",
        file.display()
    );
    assert_eq!(run.stdout, expected);
}

#[test]
fn problem_messages_of_the_messy_sample_quote_no_personal_value() {
    let file = samples().join("customers_messy.csv");
    let run = validate(&[file.to_str().unwrap()]);
    for personal in [
        "jan.kowalski",
        "12345",
        "4860",
        "31/12/1990",
        "1990-02-30",
        "2015-03-10",
        "broken-at",
        "EWA.MAZUR",
        "Wrona",
    ] {
        assert!(!run.stdout.contains(personal), "summary quotes {personal}");
    }
}

#[test]
fn a_minimum_age_flag_changes_the_age_rule() {
    let file = samples().join("customers_messy.csv");
    let run = validate(&[file.to_str().unwrap(), "--min-age", "5"]);
    assert!(!run.stdout.contains("min_age"), "{}", run.stdout);
    assert!(run.stdout.contains("valid: 8\n"), "{}", run.stdout);
}

#[test]
fn errors_out_holds_the_invalid_rows_as_read_with_line_and_errors_first() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("errors.csv");
    let file = samples().join("customers_messy.csv");
    let run = validate(&[
        file.to_str().unwrap(),
        "--errors-out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 14, "{text}");
    assert_eq!(lines[0], "line,errors,External User ID,E-mail,Phone ,First Name,LAST_NAME,Street,Number,City,Post Code,Country,Citizenship,Nationality,Birth Country,Birth Date,Has Accepted P100 TC,User Identification Number,Notes");
    assert_eq!(lines[1], "4,\"country: \"\"UK\"\" is not an ISO 3166-1 alpha-2 code; did you mean GB?\",m-003,george.evans@example.org,447700900123,George,Evans,Church Road,14,Bristol,BS1 4DJ,UK,GB,GB,GB,1975-11-02,true,,");
    assert_eq!(lines[9], "13,email: also used on line 2,m-012,EWA.MAZUR@example.org,48601100012,Ewa,Mazur-Nowak,ul. Chmielna,7,Warszawa,00-020,PL,PL,PL,PL,1985-04-12,true,,");
    assert!(
        lines[13].ends_with(",m-018,broken-at-example.org,4860,Max,Schmidt,Hauptstraße,18,Dresden,01067,DEU,DE,DE,DE,1985-04-12,false,,\"'=HYPERLINK(\"\"http://example.org\"\")\""),
        "{}",
        lines[13]
    );
}

#[test]
fn errors_out_neutralises_cells_a_spreadsheet_would_run() {
    let dir = TempDir::new().unwrap();
    let csv = format!("{HEADER}\nc-1,=cmd@example.com,+48 601 000 111,@Anna,-Nowak,x,1,y,z,PL,PL,PL,PL,1980-01-01,false,\n");
    let input = write(&dir, "in.csv", csv.as_bytes());
    let out = dir.path().join("err.csv");
    validate(&[&input, "--errors-out", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out).unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.contains(",'=cmd@example.com,'+48 601 000 111,'@Anna,'-Nowak,"),
        "{row}"
    );
}

#[test]
fn errors_out_refuses_to_overwrite_the_input_file() {
    let dir = TempDir::new().unwrap();
    let input = write(
        &dir,
        "in.csv",
        format!("{HEADER}\n{}\n", valid_row(1)).as_bytes(),
    );
    let run = validate(&[&input, "--errors-out", &input]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is the input file itself"),
        "{}",
        run.stderr
    );
    assert!(std::fs::read_to_string(&input).unwrap().starts_with(HEADER));
}

#[test]
fn a_mapping_file_makes_a_foreign_export_importable() {
    let s = samples();
    let run = validate(&[
        s.join("crm_export.csv").to_str().unwrap(),
        "--mapping",
        s.join("mapping.toml").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("rows read: 8\nvalid: 8\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("ignored columns: Account Manager, Created At"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("phone_format: 8"), "{}", run.stdout);
}

#[test]
fn without_its_mapping_a_foreign_export_names_missing_columns_and_headers_found() {
    let file = samples().join("crm_export.csv");
    let run = validate(&[file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "crm_export.csv, line 1: missing required column(s): externalUserId, email, phone"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("headers found: \"Customer No\", \"E-Mail Address\", \"Mobile\""),
        "{}",
        run.stderr
    );
}

#[test]
fn two_columns_mapping_to_one_field_stop_the_run() {
    let dir = TempDir::new().unwrap();
    let input = write(
        &dir,
        "in.csv",
        format!("{HEADER},Mail\n{},x\n", valid_row(1)).as_bytes(),
    );
    let mapping = write(&dir, "m.toml", b"\"Mail\" = \"email\"\n");
    let run = validate(&[&input, "--mapping", &mapping]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("columns \"email\" and \"Mail\" both map to field email"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_mapping_to_an_unknown_field_stops_the_run_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let input = write(
        &dir,
        "in.csv",
        format!("{HEADER}\n{}\n", valid_row(1)).as_bytes(),
    );
    let mapping = write(&dir, "m.toml", b"\"Mobile\" = \"mobile_phone\"\n");
    let run = validate(&[&input, "--mapping", &mapping]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("m.toml: \"Mobile\" maps to \"mobile_phone\", which is not a field"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_terms_column_or_flag_the_command_refuses_to_start() {
    let dir = TempDir::new().unwrap();
    let header = HEADER.replace(",hasAcceptedP100Tc", "");
    let row = valid_row(1).replace(",true,", ",");
    let input = write(&dir, "in.csv", format!("{header}\n{row}\n").as_bytes());
    let run = validate(&[&input]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no column hasAcceptedP100Tc and no --terms-accepted"),
        "{}",
        run.stderr
    );
    let run = validate(&[&input, "--terms-accepted"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn with_both_terms_column_and_flag_an_empty_cell_takes_the_flag_and_a_false_cell_wins() {
    let dir = TempDir::new().unwrap();
    let empty = valid_row(1).replace(",true,", ",,");
    let no = valid_row(2).replace(",true,", ",no,");
    let input = write(
        &dir,
        "in.csv",
        format!("{HEADER}\n{empty}\n{no}\n").as_bytes(),
    );
    let run = validate(&[&input, "--terms-accepted"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("valid: 1\ninvalid: 1\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("line 3 (c-2): hasAcceptedP100Tc: is false"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_empty_file_is_unusable() {
    let dir = TempDir::new().unwrap();
    let input = write(&dir, "empty.csv", b"");
    let run = validate(&[&input]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("empty.csv is empty"), "{}", run.stderr);
}

#[test]
fn a_missing_file_is_named() {
    let run = validate(&["/nonexistent/dir/customers.csv"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read /nonexistent/dir/customers.csv"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_header_without_rows_reads_zero_rows() {
    let dir = TempDir::new().unwrap();
    let input = write(&dir, "in.csv", format!("{HEADER}\r\n").as_bytes());
    let run = validate(&[&input]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("rows read: 0\nvalid: 0\ninvalid: 0\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unterminated_quote_makes_an_invalid_row_that_says_so() {
    let dir = TempDir::new().unwrap();
    let broken = valid_row(2).replace("\"ul. Długa, 3\"", "\"ul. Długa, 3");
    let input = write(
        &dir,
        "in.csv",
        format!("{HEADER}\n{}\n{broken}\n{}\n", valid_row(1), valid_row(3)).as_bytes(),
    );
    let run = validate(&[&input]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("rows read: 2\nvalid: 1\ninvalid: 1\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("line 3 (c-2): row: has 17 fields, the header has 16 (an unterminated quote may have joined the following lines)"), "{}", run.stdout);
}

#[test]
fn invalid_utf8_makes_an_invalid_row_naming_line_column_and_byte_offset() {
    let dir = TempDir::new().unwrap();
    let mut content = format!("{HEADER}\n{}\n", valid_row(1)).into_bytes();
    let offset = content.len() + "c-2,user2@example.com,48601000002,".len() + 2;
    content.extend_from_slice(b"c-2,user2@example.com,48601000002,An\xff\xfena,Nowak,x,1,y,z,PL,PL,PL,PL,1980-01-01,true,\n");
    let input = write(&dir, "in.csv", &content);
    let run = validate(&[&input]);
    assert_eq!(run.code, 1);
    let expected = format!("line 3 (c-2): firstName: line 3: column \"firstName\" is not valid UTF-8 at byte offset {offset}");
    assert!(
        run.stdout.contains(&expected),
        "{}\nexpected {expected}",
        run.stdout
    );
}

/// The record's bytes are checked for UTF-8 in one piece: a character split across
/// two cells (valid once the cells are joined) must still be caught in each cell.
#[test]
fn a_character_split_across_two_cells_is_invalid_in_both() {
    let dir = TempDir::new().unwrap();
    let mut content = format!("{HEADER}\n").into_bytes();
    let start = content.len() + "c-2,user2@example.com,48601000002,".len();
    content.extend_from_slice(b"c-2,user2@example.com,48601000002,Ann\xc3,\xa9Nowak,x,1,y,z,PL,PL,PL,PL,1980-01-01,true,\n");
    let input = write(&dir, "in.csv", &content);
    let run = validate(&[&input]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for (column, offset) in [("firstName", start + 3), ("lastName", start + 5)] {
        let expected = format!("column \"{column}\" is not valid UTF-8 at byte offset {offset}");
        assert!(
            run.stdout.contains(&expected),
            "{}\nexpected {expected}",
            run.stdout
        );
    }
}

#[test]
fn a_header_that_is_not_utf8_is_unusable() {
    let dir = TempDir::new().unwrap();
    let input = write(&dir, "in.csv", b"externalUserId,em\xffail\n1,2\n");
    let run = validate(&[&input]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("line 1: the header is not valid UTF-8 (byte offset 17)"),
        "{}",
        run.stderr
    );
}

#[test]
fn nul_bytes_in_a_field_make_the_row_invalid() {
    let dir = TempDir::new().unwrap();
    let row = valid_row(1).replace("Anna", "An\0na");
    let input = write(&dir, "in.csv", format!("{HEADER}\n{row}\n").as_bytes());
    let run = validate(&[&input]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("line 2 (c-1): firstName: contains control characters"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_ten_megabyte_field_is_refused_without_being_quoted() {
    let dir = TempDir::new().unwrap();
    let huge = "A".repeat(10 * 1024 * 1024);
    let row = valid_row(1).replace("Anna", &huge);
    let input = write(
        &dir,
        "in.csv",
        format!("{HEADER}\n{row}\n{}\n", valid_row(2)).as_bytes(),
    );
    let run = validate(&[&input]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("line 2 (c-1): firstName: is longer than 255 characters"),
        "{}",
        &run.stdout[..run.stdout.len().min(2000)]
    );
    assert!(run.stdout.len() < 2000);
}

#[test]
fn a_wrong_delimiter_flag_reports_missing_columns() {
    let file = samples().join("customers.csv");
    let run = validate(&[file.to_str().unwrap(), "--delimiter", ";"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("missing required column(s)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("delimiter ';'"), "{}", run.stderr);
}

#[test]
fn an_unknown_delimiter_is_a_usage_error() {
    let file = samples().join("customers.csv");
    let run = validate(&[file.to_str().unwrap(), "--delimiter", ":"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("expected one of , ; | tab"),
        "{}",
        run.stderr
    );
}

#[test]
fn tab_and_pipe_delimited_files_are_detected() {
    let dir = TempDir::new().unwrap();
    for (name, d) in [("tab.tsv", "\t"), ("pipe.csv", "|")] {
        let header = HEADER.replace(',', d);
        let row = valid_row(1)
            .replace("\"ul. Długa, 3\"", "ul. Długa 3")
            .replace(',', d);
        let input = write(&dir, name, format!("{header}\n{row}\n").as_bytes());
        let run = validate(&[&input]);
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
    }
}

#[test]
fn a_row_with_too_few_fields_is_invalid_not_a_crash() {
    let dir = TempDir::new().unwrap();
    let input = write(&dir, "in.csv", format!("{HEADER}\nc-1,a@b.pl\n").as_bytes());
    let run = validate(&[&input]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "line 2 (c-1): row: has 2 fields, the header has 16; phone: is required but empty"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_generated_sample_is_deterministic_and_validates_by_its_invalid_share() {
    let dir = TempDir::new().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    for p in [&a, &b] {
        bin()
            .args([
                "sample",
                "--rows",
                "500",
                "--invalid-share",
                "0.2",
                "--seed",
                "9",
                "-o",
            ])
            .arg(p)
            .assert()
            .success();
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let run = validate(&[a.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let invalid: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("invalid: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((60..=140).contains(&invalid), "{invalid} invalid of 500");

    let clean = dir.path().join("clean.csv");
    bin()
        .args(["sample", "--rows", "300", "-o"])
        .arg(&clean)
        .assert()
        .success();
    let run = validate(&[clean.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("rows read: 300\nvalid: 300\n"));
}

#[test]
fn a_sample_goes_to_stdout_without_an_output_file() {
    let out = bin().args(["sample", "--rows", "3"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.starts_with(HEADER));
}

/// Rows are checked on several threads, a thousand or so at a time; what comes out must
/// still be in file order, every duplicate naming the line that came first, even when
/// that line was checked in another batch on another thread.
#[test]
fn rows_of_many_batches_come_out_in_file_order_with_duplicates_naming_the_first_line() {
    let dir = TempDir::new().unwrap();
    let mut csv = format!("{HEADER}\n");
    let mut expected: Vec<(String, String)> = Vec::new();
    for n in 0..30_000u32 {
        let line = n + 2;
        let mut row = valid_row(n);
        if n == 11_500 {
            row = row.replace("user11500@", "user3@");
            expected.push((line.to_string(), "email: also used on line 5".into()));
        } else if n % 1000 == 999 {
            let first = n - 998;
            row = row.replacen(&format!("c-{n},"), &format!("c-{first},"), 1);
            expected.push((
                line.to_string(),
                format!("externalUserId: also used on line {}", first + 2),
            ));
        } else if n % 97 == 13 {
            row = row.replace(",PL,PL,PL,PL,", ",XX,PL,PL,PL,");
            expected.push((
                line.to_string(),
                "country: \"XX\" is not an ISO 3166-1 alpha-2 code".into(),
            ));
        }
        csv.push_str(&row);
        csv.push('\n');
    }
    let input = write(&dir, "many.csv", csv.as_bytes());
    let errors = dir.path().join("errors.csv");
    let run = validate(&[&input, "--errors-out", errors.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "rows read: 30000\nvalid: {}\ninvalid: {}\n",
            30_000 - expected.len(),
            expected.len()
        )),
        "{}",
        run.stdout
    );
    let mut reader = csv::Reader::from_path(&errors).unwrap();
    let got: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    assert_eq!(got, expected);
}
