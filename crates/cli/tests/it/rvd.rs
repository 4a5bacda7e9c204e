//! Outside review of detection (branch `rvd`), through `launchguard scan`: hostile files that
//! hide a burst or flag an innocent. Each test asserts the SAFE outcome; those that fail today
//! carry `#[ignore = "rvd finding N: ..."]`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use clap::Parser;
use launchguard_cli::scan::{self, LocalSource, ScanArgs, ScanReport, Silent, Source};
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};

const ACCOUNT: &str = "218007301253";

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    scan: ScanArgs,
}

/// A fresh directory of this test under the system's temporary directory.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-rvd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `launchguard scan <paths>` (in this order), with the bundled rules.
fn scan_paths(paths: &[PathBuf]) -> ScanReport {
    let args: Vec<String> = std::iter::once("scan".to_owned()).chain(paths.iter().map(|p| p.to_str().unwrap().to_owned())).collect();
    let a = Cli::try_parse_from(args).unwrap().scan;
    let local = LocalSource::new(a.inputs.clone());
    let sources: Vec<&dyn Source> = vec![&local];
    scan::run(&sources, &a.settings().unwrap(), Some(1), &Silent).unwrap()
}

fn delivery_file(path: &PathBuf, records: &[Value]) {
    std::fs::write(path, json!({ "Records": records }).to_string()).unwrap();
}

/// Finding 1 in `scan`. GIVEN an archive whose first file holds a forged copy of each record of
/// a role session's 12-instance burst (same eventID, ARN, principalId, key, time and counts;
/// `sessionIssuer` names an innocent role), and whose second file holds the real records, WHEN
/// scanned, THEN the real role is flagged and the innocent is not. Today the forged copies
/// decide, and the real records are counted as duplicates.
#[test]
fn rvd_a_forged_file_read_first_cannot_move_a_burst_to_an_innocent_role() {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let actor = Actor::AssumedRole {
        account: ACCOUNT.into(),
        role: "ci-deployer".into(),
        session: "gh-run-1".into(),
        key: "ASIAEXAMPLECIDEPLOY1".into(),
    };
    let real = Burst::new(actor, 12, 1, at).records(&run_instances_template(), 21);
    let forged: Vec<Value> = real
        .iter()
        .map(|r| {
            let mut f = r.clone();
            let issuer = &mut f["userIdentity"]["sessionContext"]["sessionIssuer"];
            issuer["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:role/web-frontend"));
            issuer["userName"] = json!("web-frontend");
            f
        })
        .collect();
    let d = dir("forged-first");
    let (a, b) = (d.join("a.json"), d.join("b.json"));
    delivery_file(&a, &forged);
    delivery_file(&b, &real);
    let r = scan_paths(&[a, b]);
    let flagged: Vec<String> = r.flagged().map(|b| b.principal.label()).collect();
    let _ = std::fs::remove_dir_all(&d);
    assert!(!flagged.contains(&"role web-frontend".to_owned()), "{flagged:?}");
    assert!(flagged.contains(&"role ci-deployer".to_owned()), "{flagged:?}");
}

/// Held: the same burst twice (a file reached twice, a re-delivery) is counted once, and a
/// window edge is half-open: 5 + 5 instances exactly 5 minutes apart is not 10 in 5 minutes.
#[test]
fn rvd_held_duplicate_files_count_once_and_the_window_is_half_open() {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let user = Actor::IamUser { account: ACCOUNT.into(), name: "edge".into(), key: "AKIAEXAMPLEEDGE00001".into() };
    let t = run_instances_template();
    let mut records = Burst::new(user.clone(), 1, 5, at).records(&t, 22);
    records.extend(Burst::new(user, 1, 5, at + chrono::Duration::minutes(5)).records(&t, 23));
    let d = dir("dup-edge");
    let (a, b) = (d.join("a.json"), d.join("b.json"));
    delivery_file(&a, &records);
    delivery_file(&b, &records);
    let r = scan_paths(&[a, b]);
    let _ = std::fs::remove_dir_all(&d);
    assert_eq!(r.flagged().count(), 0, "{:?}", r.flagged().map(|b| b.principal.label()).collect::<Vec<_>>());
    let rule = r.rule("ec2-mass-launch").unwrap();
    assert_eq!((rule.stats.matched, rule.stats.duplicates), (2, 2));
}

/// Finding 5 in `scan`. GIVEN the launch routes of `fixtures/launch-routes/routes.json` (an Auto
/// Scaling group of 500 and a spot fleet of 300 asked for by IAM user mallory, a group resized
/// to 60 and a fleet of 120 by role ci-deployer, a dry run, a refused spot request, a request
/// CloudTrail omitted), WHEN scanned with the bundled rules, THEN both callers are flagged by the
/// launch rule for the capacity they asked for, and the read says one count was not readable.
#[test]
fn rvd_capacity_asked_through_groups_fleets_and_spot_requests_is_flagged() {
    let path = launchguard_testkit::fixtures_dir().join("launch-routes/routes.json");
    let r = scan_paths(&[path]);
    let mut flagged: Vec<String> = r.flagged().map(|b| b.principal.label()).collect();
    flagged.sort();
    flagged.dedup();
    assert_eq!(flagged, vec!["IAM user mallory".to_owned(), "role ci-deployer".to_owned()]);
    let rule = r.rule("ec2-mass-launch").unwrap();
    // (the fixture's 16 records: the five resizes and node groups added with rv finding 1)
    assert_eq!((rule.stats.matched, rule.stats.uncounted), (16, 1));
    // the resizes of group "web", whose size before the file does not show (its update sets a
    // minimum only, its scheduled action a desired size), count 0 and are shown, in the JSON
    // and the text report
    let shown: Vec<(&str, u64)> =
        rule.launchers.iter().flat_map(|l| l.unknown_prior_resizes.iter().map(|u| (u.group.as_str(), u.new_size))).collect();
    assert_eq!(shown, vec![("web", 60), ("web", 70)]);
    let text = r.to_string();
    assert!(text.contains("Resizes of unknown prior size"), "{text}");
}
