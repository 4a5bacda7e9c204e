//! `launchguard scan` on the real invictus-ir archive, laid out as CloudTrail delivers it, with
//! bursts injected by the test kit: bursts across files and days, duplicate deliveries, a
//! truncated gzip, lookup-events exports, directory trees, standard input, and the documented
//! `--json` shape.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Parser;
use launchguard_cli::scan::{self, Completeness, LocalSource, ScanArgs, ScanReport, Silent, Source};
use launchguard_core::threshold::Verdict;
use launchguard_testkit::{Actor, Burst, fixture, fixtures_dir, invictus_background, run_instances_template, shift_to};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    scan: ScanArgs,
}

/// A scan of the launch rule (these tests were written for it), unless `args` name rules.
fn scan_with(args: &[&str]) -> ScanReport {
    let launch_only: &[&str] = if args.contains(&"--rule") { &[] } else { &["--rule", "ec2-mass-launch"] };
    let a = Cli::try_parse_from(std::iter::once("scan").chain(launch_only.iter().copied()).chain(args.iter().copied())).unwrap().scan;
    let local = LocalSource::new(a.inputs.clone());
    let sources: Vec<&dyn Source> = vec![&local];
    scan::run(&sources, &a.settings().unwrap(), Some(2), &Silent).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-scan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Write records as a gzip delivery file at `dir/AWSLogs/<acct>/CloudTrail/us-east-1/YYYY/MM/DD/name`.
fn deliver(dir: &Path, day: DateTime<Utc>, name: &str, records: &[Value]) -> PathBuf {
    let d = dir.join(format!("AWSLogs/111122223333/CloudTrail/us-east-1/{}", day.format("%Y/%m/%d")));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(format!("{name}.json.gz"));
    std::fs::write(&p, gzip(json!({ "Records": records }).to_string().as_bytes())).unwrap();
    p
}

fn user(name: &str, key: &str) -> Actor {
    Actor::IamUser { account: "111122223333".into(), name: name.into(), key: key.into() }
}

fn flagged_users(r: &ScanReport) -> Vec<String> {
    r.flagged().map(|b| b.principal.label()).collect()
}

#[test]
fn the_invictus_archive_flags_the_two_vcpu_limited_roles() {
    // GIVEN the invictus-ir delivery files (2,900 records; two roles asking for 10 instances each)
    let dir = fixtures_dir().join("cloudtrail/invictus");
    // WHEN scanned as a directory
    let r = scan_with(&[dir.to_str().unwrap()]);
    // THEN every record is read, the two roles are flagged and bert-jan (6 instances) is not
    assert_eq!((r.stats.rows, r.stats.matched, r.status), (2900, 8, Completeness::Complete));
    let flagged = flagged_users(&r);
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert!(flagged.iter().all(|l| l.contains("stratus-red-team-ec2lui-role")));
    assert!(r.flagged().all(|b| b.instances_requested == 10 && b.instances_launched == 0 && b.calls == 1));
    assert!(r.launchers.iter().any(|l| l.principal == "IAM user bert-jan" && l.bursts_flagged == 0));
    // AND a higher threshold flags nobody; a time range before the launches sees none
    assert_eq!(scan_with(&[dir.to_str().unwrap(), "--min-instances", "11"]).flagged().count(), 0);
    assert_eq!(scan_with(&[dir.to_str().unwrap(), "--end", "2023-07-10T11:50:00Z"]).stats.matched, 0);
}

/// Three days of the real background (shifted day by day), a steady launcher (one instance
/// every three hours), and a burst of 12 instances that starts at 23:59:40 on day 1 and ends
/// after midnight, its calls in two delivery files of two day folders.
fn three_days(dir: &Path) -> DateTime<Utc> {
    let t = run_instances_template();
    let day0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    for d in 0..3 {
        let mut bg = invictus_background();
        shift_to(&mut bg, day0 + Duration::days(d) + Duration::hours(9));
        for (i, chunk) in bg.chunks(500).enumerate() {
            // background eventIDs repeat from day to day: give each day its own
            let chunk: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r["eventID"] = json!(format!("{}-day{d}", r["eventID"].as_str().unwrap_or("none")));
                    r
                })
                .collect();
            deliver(dir, day0 + Duration::days(d), &format!("bg-{i}"), &chunk);
        }
    }
    let mut steady = Burst::new(user("steady", "AKIAEXAMPLESTEADY001"), 24, 1, day0);
    steady.spacing_s = 3 * 3600;
    for (i, day) in steady.records(&t, 1).chunks(8).enumerate() {
        deliver(dir, day0 + Duration::days(i as i64), "steady", day);
    }
    let burst_start = day0 + Duration::hours(23) + Duration::minutes(59) + Duration::seconds(40);
    let mut burst = Burst::new(user("mallory", "AKIAEXAMPLEMALLORY01"), 12, 1, burst_start);
    burst.spacing_s = 4;
    let records = burst.records(&t, 2);
    deliver(dir, day0, "burst-a", &records[..5]);
    deliver(dir, day0 + Duration::days(1), "burst-b", &records[5..]);
    burst_start
}

#[test]
fn a_burst_split_across_files_and_days_is_one_burst_and_a_steady_launcher_is_none() {
    // GIVEN three days of delivery files with a burst across midnight and a steady launcher
    let dir = tmp("days");
    let start = three_days(&dir);
    // WHEN the tree is scanned with the rule's horizons (10 instances within 5 minutes first)
    let r = scan_with(&[dir.to_str().unwrap()]);
    // THEN mallory's 12 calls are one flagged burst, from its first call to its last
    let b: Vec<_> = r.flagged().filter(|b| b.principal.label() == "IAM user mallory").collect();
    assert_eq!(b.len(), 1, "{:?}", flagged_users(&r));
    assert_eq!((b[0].start, b[0].end, b[0].calls, b[0].instances_launched), (start, start + Duration::seconds(44), 12, 12));
    assert_eq!(b[0].access_keys, vec!["AKIAEXAMPLEMALLORY01".to_owned()]);
    assert_eq!(b[0].source_ips, vec!["198.51.100.23".to_owned()]);
    assert_eq!(b[0].regions, vec!["us-east-1".to_owned()]);
    assert!(matches!(&b[0].verdict, Verdict::Flagged { reasons } if reasons.iter().any(|w| w.contains("within 5 min"))));
    // AND the steady launcher (24 instances over 3 days) is not flagged, but is listed
    assert!(!flagged_users(&r).iter().any(|l| l.contains("steady")));
    let steady = r.launchers.iter().find(|l| l.principal == "IAM user steady").unwrap();
    assert_eq!((steady.calls, steady.bursts_flagged), (24, 0));
    assert_eq!(r.stats.rows, 3 * 2900 + 24 + 12);
    // AND with --totals the whole-input sums flag it, as the old scan did
    let t = scan_with(&[dir.to_str().unwrap(), "--totals"]).rules[0].totals.clone().unwrap();
    assert!(t.flagged.iter().any(|p| p.principal.label() == "IAM user steady"));
    // AND a 5-second window splits mallory's 4-second-apart calls into no burst at all
    assert!(!flagged_users(&scan_with(&[dir.to_str().unwrap(), "--window", "5s"])).iter().any(|l| l.contains("mallory")));
}

#[test]
fn the_same_event_in_two_files_counts_once() {
    // GIVEN a burst's delivery file, and a second file holding the same records again
    let dir = tmp("dup");
    let day = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let records = Burst::new(user("dana", "AKIAEXAMPLEDANA00001"), 3, 3, day + Duration::hours(1)).records(&run_instances_template(), 7);
    deliver(&dir, day, "a", &records);
    deliver(&dir, day, "b", &records);
    // WHEN scanned
    let r = scan_with(&[dir.to_str().unwrap()]);
    // THEN 9 instances, not 18: dana stays under the threshold, and the duplicates are counted
    assert_eq!((r.stats.matched, r.stats.duplicates), (3, 3));
    assert_eq!(r.launchers[0].instances_launched, 9);
    assert_eq!(r.flagged().count(), 0);
}

#[test]
fn a_truncated_gzip_is_named_with_what_was_salvaged_and_the_scan_goes_on() {
    // GIVEN a whole delivery file and one whose gzip stops in the middle
    let dir = tmp("trunc");
    let whole = fixtures_dir().join("cloudtrail/invictus/218007301253_CloudTrail_us-east-1_20230710T1205Z_1dM7GQM67kudSyGD.json");
    let text = std::fs::read(&whole).unwrap();
    let gz = gzip(&text);
    std::fs::write(dir.join("whole.json.gz"), &gz).unwrap();
    std::fs::write(dir.join("cut.json.gz"), &gz[..gz.len() / 2]).unwrap();
    // WHEN scanned
    let r = scan_with(&[dir.to_str().unwrap()]);
    // THEN the report is incomplete, names the cut file, and counts what it salvaged
    let n = serde_json::from_slice::<Value>(&text).unwrap()["Records"].as_array().unwrap().len() as u64;
    assert_eq!(r.status, Completeness::Incomplete);
    assert_eq!(r.incomplete_inputs.len(), 1);
    assert!(r.incomplete_inputs[0].input.ends_with("cut.json.gz"));
    assert!(r.incomplete_inputs[0].problem.contains("gzip"), "{}", r.incomplete_inputs[0].problem);
    assert!(r.stats.rows > n && r.stats.rows < 2 * n, "{} records read, {n} in the whole file", r.stats.rows);
}

/// The records as `aws cloudtrail lookup-events` prints them: each record a JSON string.
fn lookup_events(records: &[Value]) -> Value {
    let events: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false", "EventTime": r["eventTime"],
                   "EventSource": r["eventSource"], "Username": "x", "Resources": [], "CloudTrailEvent": r.to_string()})
        })
        .collect();
    json!({ "Events": events, "NextToken": "eyJ..." })
}

#[test]
fn a_lookup_events_export_and_its_json_lines_are_read_like_the_trail() {
    // GIVEN the invictus records as lookup-events output (pretty-printed, as the CLI prints it)
    // and as JSON lines of its events
    let dir = tmp("lookup");
    let bg = invictus_background();
    let export = lookup_events(&bg);
    std::fs::write(dir.join("events.json"), serde_json::to_string_pretty(&export).unwrap()).unwrap();
    let lines: Vec<String> = export["Events"].as_array().unwrap().iter().map(Value::to_string).collect();
    std::fs::write(dir.join("events.jsonl"), lines.join("\n")).unwrap();
    for f in ["events.json", "events.jsonl"] {
        // WHEN each is scanned
        let r = scan_with(&[dir.join(f).to_str().unwrap()]);
        // THEN the same verdicts as the delivery files
        assert_eq!((r.stats.rows, r.stats.matched, r.stats.unparseable), (2900, 8, 0), "{f}");
        assert_eq!(r.flagged().count(), 2, "{f}");
    }
}

#[test]
fn stdin_streams_concatenated_gzip_and_the_exit_status_says_whether_all_was_read() {
    // GIVEN two gzip members of JSON lines, one after the other (`cat a.gz b.gz`)
    let bg = invictus_background();
    let (a, b) = bg.split_at(1000);
    let lines = |rs: &[Value]| rs.iter().map(|r| format!("{r}\n")).collect::<String>();
    let mut input = gzip(lines(a).as_bytes());
    input.extend(gzip(lines(b).as_bytes()));
    // WHEN piped into the binary with --json
    let run = |input: Vec<u8>, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_launchguard"))
            .arg("scan")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap())
    };
    let (code, v) = run(input.clone(), &["--json"]);
    // THEN every record is read and the exit status is 3 (read whole; the invictus records hold a
    // flagged launch burst)
    assert_eq!(code, Some(3));
    assert_eq!((v["stats"]["rows"].as_u64(), v["status"].as_str()), (Some(2900), Some("complete")));
    // AND cut short, it exits 1 (flagged bursts aside: --ignore-flagged), naming stdin, having
    // read the first member whole
    let (code, v) = run(input[..input.len() - 5000].to_vec(), &["--json", "--ignore-flagged", "-"]);
    assert_eq!(code, Some(1));
    assert_eq!(v["incomplete_inputs"][0]["input"], "stdin");
    assert!(v["stats"]["rows"].as_u64().unwrap() >= 1000);
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    for bad in [&["--min-instances", "0"][..], &["--window", "tomorrow"], &["--nope"], &["--start", "yesterday"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_launchguard")).arg("scan").args(bad).stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_launchguard")).args(["scan", "/no/such/file"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file"));
}

#[test]
fn the_documented_json_fields_are_in_the_output() {
    // GIVEN the fields docs/scan.md documents for `scan --json`
    let readme = fixture("../docs/scan.md");
    let section = readme.split("<!-- scan-json-fields -->").nth(1).unwrap();
    let fields: Vec<&str> = section
        .lines()
        .take_while(|l| !l.contains("<!-- /scan-json-fields -->"))
        .filter_map(|l| l.strip_prefix("- `")?.split('`').next())
        .collect();
    assert!(fields.len() > 10, "{fields:?}");
    // WHEN a scan with a flagged burst and --totals is printed as JSON
    let r = scan_with(&[fixtures_dir().join("cloudtrail/invictus").to_str().unwrap(), "--totals"]);
    let v = serde_json::to_value(&r).unwrap();
    // THEN each documented path exists (`a.b` an object member, `a[].b` in the first item)
    for f in fields {
        let mut at = &v;
        for part in f.split('.') {
            at = match part.strip_suffix("[]") {
                Some(list) => &at[list][0],
                None => &at[part],
            };
            assert!(!at.is_null(), "documented field {f} is not in the output");
        }
    }
}

#[test]
fn the_iam_rules_replay_real_user_and_key_creation() {
    // GIVEN the invictus-ir delivery files, where bert-jan creates 4 IAM users and 2 access keys
    // (one for another user) within three minutes
    let dir = fixtures_dir().join("cloudtrail/invictus");
    let dir = dir.to_str().unwrap();
    // WHEN replayed with the bundled iam-user-burst rule (5 users in 10 minutes)
    let r = scan_with(&[dir, "--rule", "iam-user-burst"]);
    // THEN its 4 calls are counted, with the rule's 10-minute window, and nobody is flagged
    let rule = r.rule("iam-user-burst").unwrap();
    assert_eq!((rule.event.as_str(), r.rules.len()), ("iam.amazonaws.com/CreateUser", 1));
    assert_eq!((r.stats.matched, rule.horizons[0].window_seconds, r.flagged().count()), (4, 600, 0));
    // AND at 4 calls bert-jan is flagged, once, and the launch counts are untouched
    let r = scan_with(&[dir, "--rule", "iam-user-burst", "--min-calls", "4"]);
    assert_eq!(flagged_users(&r), vec!["IAM user bert-jan"]);
    assert_eq!(r.flagged().next().map(|b| (b.calls, b.instances_requested)), Some((4, 0)));
    // AND the key rule counts its 2 calls; at 2 it flags bert-jan
    assert_eq!(scan_with(&[dir, "--rule", "iam-access-key-burst"]).stats.matched, 2);
    assert_eq!(flagged_users(&scan_with(&[dir, "--rule", "iam-access-key-burst", "--min-calls", "2"])), vec!["IAM user bert-jan"]);
}

#[test]
fn an_unknown_rule_or_a_threshold_of_another_kind_is_bad_usage() {
    for args in
        [&["--rule", "nope"][..], &["--rule", "iam-user-burst", "--min-instances", "3"], &["--rule", "ec2-mass-launch", "--min-calls", "3"]]
    {
        let a = Cli::try_parse_from(std::iter::once("scan").chain(args.iter().copied())).unwrap().scan;
        assert!(matches!(a.settings(), Err(launchguard_cli::CliError::Usage(_))), "{args:?}");
    }
}

/// Issue 22: the text report of a scan shows CloudTrail's values (the user's name, its user
/// agent) through the one escaping path. A name holding a line break and a forged report line,
/// and a user agent holding U+202E and U+2028, never start a line of their own or reorder one.
#[test]
fn a_forged_name_or_user_agent_never_becomes_a_line_of_the_scan_report() {
    let dir = tmp("forged-names");
    let t = run_instances_template();
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let evil = "mallory\n  FLAGGED   IAM user breakglass-admin";
    let mut records = Burst::new(user("mallory", "AKIAEXAMPLEMALLORY01"), 12, 1, at).records(&t, 2);
    for r in &mut records {
        r["userIdentity"]["userName"] = json!(evil);
        r["userAgent"] = json!("aws-cli/2\u{202E}hs.xif|\u{2028}lruc");
    }
    deliver(&dir, at, "burst", &records);
    let text = scan_with(&[dir.to_str().unwrap()]).to_string();
    assert!(text.contains("mallory"), "the burst was not reported: {text}");
    for line in text.lines() {
        assert!(!line.trim_start().starts_with("FLAGGED   IAM user breakglass-admin"), "{text}");
        assert!(!line.chars().any(launchguard_core::text::is_neutralised), "{line:?}");
    }
}
