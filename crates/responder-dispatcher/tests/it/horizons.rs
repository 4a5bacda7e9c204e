//! Issue 23: the page says which horizon was crossed and when, and an alarm nothing read
//! explains is said so, with what was read.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{TimeZone, Utc};
use launchguard_core::contract::{Finding, FindingVerdict};
use launchguard_core::windows::{Crossing, Measure};
use launchguard_responder_dispatcher::notify::finding_message;
use launchguard_testkit::fixture;

fn finding() -> Finding {
    Finding::parse(serde_json::from_str(&fixture("contract/finding.json")).unwrap()).unwrap()
}

#[test]
fn the_page_names_the_horizon_crossed_and_when() {
    // GIVEN a finding whose principal crossed the 1-hour horizon
    let mut f = finding();
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 55, 0).unwrap();
    f.principals[0].crossed = Some(Crossing {
        measure: Measure::Instances,
        window_seconds: 3600,
        threshold: 40,
        count: 45,
        window_start: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        at,
    });
    // WHEN the notification is written
    let (_, body) = finding_message(&f, &[], &[], "launchguard-dispatcher");
    // THEN it says which horizon, how many, and when
    assert!(body.contains("horizon crossed: 45 instances within 1 h (threshold 40), crossed at 2026-03-02T09:55:00Z"), "{body}");
}

#[test]
fn an_unexplained_alarm_pages_a_person_with_what_was_read() {
    // GIVEN a "nobody over threshold" finding whose read does not explain the datapoint
    let mut f = finding();
    f.verdict = FindingVerdict::NobodyOverThreshold;
    f.top_launchers = std::mem::take(&mut f.principals);
    f.read.unexplained = Some("the alarm's datapoint (500 instances) is not explained: 1 dry run(s)\nundo: rm -rf".into());
    // WHEN the notification is written
    let (subject, body) = finding_message(&f, &[], &[], "launchguard-dispatcher");
    // THEN it says so, with the detector's words escaped onto one line
    assert!(subject.contains("NOBODY OVER THRESHOLD"), "{subject}");
    assert!(body.contains("UNEXPLAINED ALARM: the alarm's datapoint (500 instances) is not explained: 1 dry run(s)\\nundo"), "{body}");
}
