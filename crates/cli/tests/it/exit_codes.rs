//! The exit statuses of the binary, as a cron job or a CI step sees them: 3 when something was
//! flagged (unless --ignore-flagged), 1 when an input was not read whole or nothing was read,
//! 2 for bad usage; what `scan` says when it waits on a terminal.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use launchguard_testkit::fixtures_dir;

fn lg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_launchguard"))
        .args(args)
        .current_dir(fixtures_dir().parent().unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-exit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_flagged_burst_exits_3_and_ignore_flagged_makes_it_0() {
    let o = lg(&["scan", "fixtures/windows/terraform-18-in-100s.json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("FLAGGED"), "{}", text(&o));
    for flag in ["--ignore-flagged", "--ignore-exit-code-3"] {
        let o = lg(&["scan", flag, "--json", "fixtures/windows/terraform-18-in-100s.json"]);
        assert_eq!(o.status.code(), Some(0), "{flag}: {}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(v["bursts"].as_array().unwrap().iter().any(|b| b["verdict"] == "flagged"));
    }
}

#[test]
fn nothing_flagged_in_a_whole_input_exits_0() {
    // the same sample under a threshold it does not reach
    let o = lg(&["scan", "--rule", "ec2-mass-launch", "--min-instances", "1000", "fixtures/windows/terraform-18-in-100s.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("No burst"), "{}", text(&o));
}

#[test]
fn an_empty_directory_or_file_is_a_warning_and_exits_1() {
    let dir = tmp("empty-dir");
    let empty = tmp("empty-file").join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    for input in [dir.to_str().unwrap(), empty.to_str().unwrap()] {
        let o = lg(&["scan", input]);
        assert_eq!(o.status.code(), Some(1), "{input}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("nothing was read"), "{input}: {}", text(&o));
        let o = lg(&["scan", "--json", input]);
        assert_eq!(o.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["nothing_read"], true);
    }
}

#[test]
fn an_input_cut_short_exits_1_and_a_burst_beside_it_still_exits_3() {
    let o = lg(&["scan", "fixtures/scan/truncated.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // a burst is never hidden behind an incomplete input: 3 wins, the report names both
    let o = lg(&["scan", "fixtures/scan/truncated.jsonl", "fixtures/windows/terraform-18-in-100s.json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("NOT READ WHOLE"), "{}", text(&o));
    let o = lg(&["scan", "--ignore-flagged", "fixtures/scan/truncated.jsonl", "fixtures/windows/terraform-18-in-100s.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn bad_usage_exits_2_in_every_subcommand() {
    for args in [
        &["scan", "--rule", "no-such-rule", "fixtures/windows/terraform-18-in-100s.json"][..],
        &["scan", "--no-such-flag"],
        &["scan", "/no/such/file"],
        &["report"],
        &["release", "--reason", "x"],
        &["rules", "--rule", "no-such-rule"],
    ] {
        let o = lg(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
}

#[test]
fn every_subcommand_help_ends_with_examples_and_its_exit_statuses() {
    for sub in ["scan", "report", "release", "rules", "completions"] {
        for flag in ["-h", "--help"] {
            let o = lg(&[sub, flag]);
            assert_eq!(o.status.code(), Some(0), "{sub} {flag}");
            let help = String::from_utf8_lossy(&o.stdout);
            let (ex, st) = (help.find("EXAMPLES:").unwrap_or(usize::MAX), help.find("EXIT STATUS:").unwrap_or(usize::MAX));
            assert!(ex < st && st < help.len(), "{sub} {flag}:\n{help}");
            assert!(help[ex..].contains(&format!("launchguard {sub}")), "{sub} {flag}:\n{help}");
            assert!(help[st..].contains("  0  ") && help[st..].contains("  2  "), "{sub} {flag}:\n{help}");
        }
    }
    let scan = String::from_utf8_lossy(&lg(&["scan", "--help"]).stdout).into_owned();
    assert!(scan.contains("  3  a burst was flagged"), "{scan}");
}
