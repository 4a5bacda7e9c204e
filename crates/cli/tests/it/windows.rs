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
