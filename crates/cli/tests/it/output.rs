//! How `scan` and `report` write what they found (issue 31): the same `--format` and `--out`
//! (`scan --json` kept as an alias), and a text report that fits 100 columns.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use launchguard_testkit::fixtures_dir;

const SAMPLE: &str = "fixtures/windows/terraform-18-in-100s.json";

fn root() -> PathBuf {
    fixtures_dir().parent().unwrap().to_path_buf()
}

fn lg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .args(args)
        .current_dir(root())
        .env_remove("LG_RULES")
        .env_remove("LG_RULES_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn said(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-output-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn scan_takes_format_json_and_json_stays_its_alias() {
    let by_format = lg(&["scan", "--format", "json", SAMPLE]);
    let by_alias = lg(&["scan", "--json", SAMPLE]);
    assert_eq!(by_format.status.code(), Some(3), "{}", said(&by_format));
    assert_eq!(by_alias.status.code(), Some(3), "{}", said(&by_alias));
    assert_eq!(json(&by_format.stdout), json(&by_alias.stdout));
    assert_eq!(json(&by_format.stdout)["version"], 1);
    let text = lg(&["scan", "--format", "text", SAMPLE]);
    assert_eq!(text.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("6 records in 1 input(s)"), "{}", said(&text));
    // a format the scan does not write, and --json against --format text, are bad usage
    for args in [&["scan", "--format", "html", SAMPLE][..], &["scan", "--json", "--format", "text", SAMPLE][..]] {
        let o = lg(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", said(&o));
    }
}

#[test]
fn scan_out_writes_the_report_to_a_file_and_nothing_to_stdout() {
    let dir = tmp("out");
    for (format, name) in [("text", "scan.txt"), ("json", "scan.json")] {
        let path = dir.join(name);
        let o = lg(&["scan", "--format", format, "--out", path.to_str().unwrap(), SAMPLE]);
        // the exit status is the scan's, wherever the report goes
        assert_eq!(o.status.code(), Some(3), "{}", said(&o));
        assert!(o.stdout.is_empty(), "{}", said(&o));
        let written = std::fs::read(&path).unwrap();
        let stdout = lg(&["scan", "--format", format, SAMPLE]).stdout;
        if format == "json" {
            assert_eq!(json(&written), json(&stdout));
        } else {
            assert_eq!(String::from_utf8_lossy(&written), String::from_utf8_lossy(&stdout));
        }
    }
    // a file that cannot be written: the error names it, exit 1
    let o = lg(&["scan", "--out", dir.join("no/such/dir/x.txt").to_str().unwrap(), SAMPLE]);
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("x.txt"), "{}", said(&o));
}

#[test]
fn scan_and_report_offer_the_same_format_and_out_options() {
    for sub in ["scan", "report"] {
        let o = lg(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{sub}: {}", said(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains("--format <FORMAT>") && help.contains("--out <FILE>"), "{sub}:\n{help}");
    }
}

fn assert_fits(o: &Output, what: &str) {
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.is_empty(), "{what}: {}", said(o));
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "{what}: a line of {} columns:\n{line}\n\n{text}", line.chars().count());
    }
}

/// Every bundled sample (fixtures/windows, fixtures/cloudtrail, fixtures/scan), each rule, with
/// --totals: no line of the text report is wider than 100 columns.
#[test]
fn the_text_report_of_every_bundled_sample_fits_100_columns() {
    let mut inputs: Vec<String> = Vec::new();
    for dir in ["windows", "cloudtrail", "scan"] {
        for e in std::fs::read_dir(fixtures_dir().join(dir)).unwrap() {
            let p = e.unwrap().path();
            inputs.push(p.strip_prefix(root()).unwrap().to_str().unwrap().to_owned());
        }
    }
    inputs.sort();
    assert!(inputs.len() >= 20, "{inputs:?}");
    for input in &inputs {
        let o = lg(&["scan", "--totals", input]);
        assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{input}: {}", said(&o));
        assert_fits(&o, input);
    }
    // AND all of them at once (several accounts: principals print with their account)
    let mut all = vec!["scan", "--totals"];
    all.extend(inputs.iter().map(String::as_str));
    assert_fits(&lg(&all), "every sample at once");
}

/// A principal's name, a user agent and a file name longer than a line are wrapped, not cut
/// off and not left wider than 100 columns; the details stay below the burst's line.
#[test]
fn long_names_are_wrapped_within_100_columns_with_the_details_on_their_own_lines() {
    let dir = tmp("long-names");
    let long = format!("terraform-ci-{}", "x".repeat(150));
    let sample = std::fs::read_to_string(root().join(SAMPLE)).unwrap().replace("terraform-ci", &long);
    let file = dir.join(format!("{}.json", "a-file-name-".repeat(12)));
    std::fs::write(&file, sample).unwrap();
    let o = lg(&["scan", "--rule", "ec2-mass-launch", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", said(&o));
    assert_fits(&o, "long names");
    let text = String::from_utf8_lossy(&o.stdout);
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains(&long), "the whole name is kept, wrapped:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("  FLAGGED   IAM user terraform-ci-x")).unwrap_or_else(|| panic!("{text}"));
    let below = &lines[at + 1..];
    for (label, what) in
        [("crossed at ", "the figures"), ("why: 12 instances within 5 min", "why"), ("keys: ", "keys"), ("regions: ", "regions")]
    {
        assert!(below.iter().any(|l| l.starts_with(&format!("            {label}"))), "{what} on its own line:\n{text}");
    }
}
