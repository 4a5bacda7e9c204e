//! Issue 23: bursts that a single short window misses, paced launches, and a steady launcher,
//! each a file of fixtures/windows/ replayed with the bundled rules' defaults.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use clap::Parser;
use launchguard_cli::scan::{self, LocalSource, ScanArgs, ScanReport, Silent, Source};
use launchguard_testkit::fixtures_dir;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    scan: ScanArgs,
}

fn scan_fixture(name: &str, extra: &[&str]) -> ScanReport {
    let path = fixtures_dir().join("windows").join(name);
    let args: Vec<&str> = std::iter::once("scan").chain(std::iter::once(path.to_str().unwrap())).chain(extra.iter().copied()).collect();
    let a = Cli::try_parse_from(args).unwrap().scan;
    let local = LocalSource::new(a.inputs.clone());
    let sources: Vec<&dyn Source> = vec![&local];
    scan::run(&sources, &a.settings().unwrap(), Some(1), &Silent).unwrap()
}

fn flagged(r: &ScanReport) -> Vec<String> {
    let mut v: Vec<String> = r.flagged().map(|b| b.principal.label()).collect();
    v.dedup();
    v
}

#[test]
fn terraform_18_instances_in_100_seconds_as_six_calls_of_three_is_flagged() {
    // GIVEN six RunInstances of three instances, 20 s apart (as Terraform launches them)
    let r = scan_fixture("terraform-18-in-100s.json", &[]);
    // THEN the seed's "more than 10 instances within 5 minutes" flags the user
    assert_eq!(r.stats.matched, 6);
    assert_eq!(flagged(&r), vec!["IAM user terraform-ci".to_string()]);
}

#[test]
fn one_user_13_instances_in_two_and_a_half_minutes_is_flagged() {
    let r = scan_fixture("user-13-in-150s.json", &[]);
    assert_eq!(r.stats.matched, 13);
    assert_eq!(flagged(&r), vec!["IAM user mallory".to_string()]);
}

#[test]
fn nine_every_five_and_a_half_minutes_for_six_hours_is_flagged() {
    // GIVEN 9 instances every 330 s for 6 h (never 10 within 5 minutes, about 98 an hour)
    let r = scan_fixture("paced-9-every-330s-6h.json", &[]);
    assert_eq!(r.stats.matched, 66);
    // THEN a longer horizon catches what the 5-minute one cannot
    assert_eq!(flagged(&r), vec!["IAM user pacer".to_string()]);
}

#[test]
fn a_steady_launcher_one_an_hour_for_four_days_is_never_flagged() {
    let r = scan_fixture("steady-hourly-4d.json", &[]);
    assert_eq!(r.stats.matched, 96);
    assert!(flagged(&r).is_empty(), "{:?}", flagged(&r));
}

#[test]
fn a_dry_run_of_500_launches_nothing_and_flags_nobody() {
    let r = scan_fixture("dry-run-500.json", &[]);
    assert_eq!(r.stats.matched, 13);
    assert!(flagged(&r).is_empty(), "{:?}", flagged(&r));
}

/// Records of a fixture, as JSON values.
fn records(name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("windows").join(name)).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["Records"].as_array().unwrap().clone()
}

fn scan_records(name: &str, records: &[serde_json::Value], extra: &[&str]) -> ScanReport {
    let dir = std::env::temp_dir().join(format!("lg-windows-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("records.json");
    std::fs::write(&path, serde_json::json!({ "Records": records }).to_string()).unwrap();
    let args: Vec<&str> = ["scan", path.to_str().unwrap()].into_iter().chain(extra.iter().copied()).collect();
    let a = Cli::try_parse_from(args).unwrap().scan;
    let local = LocalSource::new(a.inputs.clone());
    let sources: Vec<&dyn Source> = vec![&local];
    let r = scan::run(&sources, &a.settings().unwrap(), Some(1), &Silent).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

#[test]
fn the_window_is_half_open_at_its_edge() {
    // GIVEN two calls of 5 instances, exactly 5 minutes apart, then 1 ms less
    let mut two = records("terraform-18-in-100s.json")[..2].to_vec();
    for (r, n) in two.iter_mut().zip([5, 5]) {
        r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = serde_json::json!(n);
        r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = serde_json::json!(n);
        let items = r["responseElements"]["instancesSet"]["items"].as_array().unwrap()[0].clone();
        r["responseElements"]["instancesSet"]["items"] = serde_json::json!(vec![items; 5]);
    }
    two[1]["eventTime"] = serde_json::json!("2026-03-02T09:05:00Z");
    // THEN `[t, t + 5 min)` holds one of them: nobody flagged
    assert!(flagged(&scan_records("edge-out", &two, &["--rule", "ec2-mass-launch"])).is_empty());
    // AND a call a second earlier is inside: flagged, crossed at that call
    two[1]["eventTime"] = serde_json::json!("2026-03-02T09:04:59Z");
    let r = scan_records("edge-in", &two, &["--rule", "ec2-mass-launch"]);
    assert_eq!(flagged(&r), vec!["IAM user terraform-ci".to_string()]);
    assert_eq!(r.bursts[0].crossed.unwrap().at.to_rfc3339(), "2026-03-02T09:04:59+00:00");
    // AND --help says which edge is which
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_launchguard")).args(["scan", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("half-open") && help.contains("t <= time < t + 5 min"), "{help}");
}

#[test]
fn the_table_says_why_with_every_threshold_and_the_horizon_crossed() {
    // GIVEN the Terraform fixture, every rule replayed
    let r = scan_fixture("terraform-18-in-100s.json", &[]);
    assert_eq!(r.rules.len(), 3, "every rule of the bundled set, in one report");
    let b = &r.rule("ec2-mass-launch").unwrap().bursts[0];
    assert_eq!(b.rule, "ec2-mass-launch");
    let c = b.crossed.unwrap();
    assert_eq!((c.window_seconds, c.threshold, c.count), (300, 10, 12));
    // WHEN printed for people
    let text = r.to_string();
    // THEN the header shows every threshold in force, and the row why in words
    assert!(text.contains("10 instances within 5 min, or 40 instances within 1 h, or 150 instances within 24 h"), "{text}");
    assert!(text.contains("crossed at 2026-03-02T09:01:00Z, over 100s: 6 calls, 0 failed, 18 launched, 18 requested"), "{text}");
    assert!(text.contains("12 instances within 5 min; requested 18, launched 18"), "{text}");
    // AND the IAM rules have their own layout: no launch columns
    let iam = text.split("Rule iam-user-burst").nth(1).unwrap();
    assert!(!iam.contains("LAUNCHED") && !iam.contains("Launchers"), "{iam}");
    // AND the JSON names the rule and the horizon crossed on every burst
    let v = serde_json::to_value(&r).unwrap();
    assert!(v["bursts"].as_array().unwrap().iter().all(|b| b["rule"].is_string() && b["crossed"]["window_seconds"].is_u64()));
}

#[test]
fn principals_print_with_their_account_when_the_input_holds_several() {
    // GIVEN the same launches by a user of the same name in two accounts
    let one = records("terraform-18-in-100s.json");
    let other: Vec<serde_json::Value> = one
        .iter()
        .map(|r| serde_json::from_str(&r.to_string().replace("111122223333", "444455556666").replace("terraform-ci-", "other-")).unwrap())
        .collect();
    let both: Vec<serde_json::Value> = one.iter().chain(other.iter()).cloned().collect();
    let text = scan_records("accounts", &both, &["--rule", "ec2-mass-launch"]).to_string();
    assert!(text.contains("111122223333 IAM user terraform-ci") && text.contains("444455556666 IAM user terraform-ci"), "{text}");
    // AND one account alone prints no account
    assert!(!scan_records("one-account", &one, &["--rule", "ec2-mass-launch"]).to_string().contains("111122223333 IAM user"));
}

/// The horizon a rule's first flagged burst crossed first: (window, threshold, count, at).
fn first_crossed(r: &ScanReport) -> (u64, u64, u64, String) {
    let c = r.flagged().next().unwrap().crossed.unwrap();
    (c.window_seconds, c.threshold, c.count, c.at.to_rfc3339())
}

#[test]
fn a_paced_iam_user_burst_that_ten_minutes_miss_is_flagged_by_the_hour() {
    // GIVEN 4 CreateUser calls every 10.5 minutes for 2 hours (never 5 within 10 minutes; 24 an hour)
    let r = scan_fixture("iam-users-4-every-630s-2h.json", &["--rule", "iam-user-burst"]);
    assert_eq!(r.stats.matched, 48);
    // THEN the rule's 1-hour horizon flags the caller, at the 15th user
    assert_eq!(flagged(&r), vec!["IAM user paced-admin".to_string()]);
    assert_eq!(first_crossed(&r), (3600, 15, 15, "2026-03-02T09:32:10+00:00".to_string()));
    // AND the 10-minute horizon alone misses it
    assert!(flagged(&scan_fixture("iam-users-4-every-630s-2h.json", &["--rule", "iam-user-burst", "--window", "10m"])).is_empty());
}

#[test]
fn a_paced_access_key_burst_that_ten_minutes_miss_is_flagged_by_the_hour() {
    // GIVEN 2 CreateAccessKey calls every 10.5 minutes for 2 hours (never 3 within 10 minutes)
    let r = scan_fixture("iam-keys-2-every-630s-2h.json", &["--rule", "iam-access-key-burst"]);
    assert_eq!(r.stats.matched, 24);
    assert_eq!(flagged(&r), vec!["IAM user key-pacer".to_string()]);
    assert_eq!(first_crossed(&r), (3600, 10, 10, "2026-03-02T09:42:20+00:00".to_string()));
    assert!(flagged(&scan_fixture("iam-keys-2-every-630s-2h.json", &["--rule", "iam-access-key-burst", "--window", "10m"])).is_empty());
}

#[test]
fn a_slow_drip_of_iam_users_is_flagged_by_the_day() {
    // GIVEN 3 CreateUser calls every 20 minutes for 12 hours (9 an hour: under 10 minutes and 1 hour)
    let r = scan_fixture("iam-users-3-every-20min-12h.json", &["--rule", "iam-user-burst"]);
    assert_eq!(r.stats.matched, 108);
    // THEN the 24-hour horizon flags it at the 50th user, and no shorter horizon was crossed
    assert_eq!(flagged(&r), vec!["IAM user drip-admin".to_string()]);
    assert_eq!(first_crossed(&r), (86_400, 50, 50, "2026-03-02T14:20:20+00:00".to_string()));
    assert!(r.flagged().all(|b| b.horizons.iter().all(|c| c.window_seconds == 86_400)));
    // AND the report says which horizon was crossed and when
    let text = r.to_string();
    assert!(text.contains("50 calls within 24 h") && text.contains("2026-03-02T14:20:20Z"), "{text}");
}

#[test]
fn a_steady_provisioner_one_user_and_one_key_an_hour_for_four_days_is_never_flagged() {
    // GIVEN one CreateUser and one CreateAccessKey an hour, for 4 days (24 of each a day)
    let r = scan_fixture("iam-steady-hourly-4d.json", &[]);
    let (users, keys) = (r.rule("iam-user-burst").unwrap(), r.rule("iam-access-key-burst").unwrap());
    assert_eq!((users.stats.matched, keys.stats.matched), (96, 96));
    // THEN every IAM rule has several horizons, the 10-minute one first, and none flags it
    for rule in [users, keys] {
        assert!(rule.horizons.len() >= 3 && rule.horizons[0].window_seconds == 600, "{}: {:?}", rule.rule, rule.horizons);
    }
    assert!(flagged(&r).is_empty(), "{:?}", flagged(&r));
}
