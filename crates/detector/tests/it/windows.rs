//! Issue 23 in the detector: a dry run of 500 fires the instances alarm and explains nothing;
//! the fallback read must never judge a steady launcher's 12-hour total by the 5-minute
//! threshold, and a person is told what was read.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use launchguard_core::alarm::INSTANCES_METRIC;
use launchguard_core::contract::FindingVerdict;
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_detector::{Report, handle};
use launchguard_testkit::{fixtures_dir, sns_alarm_event};
use serde_json::{Value, json};

use crate::common::{ACCOUNT, FUNCTION_ARN, FakeLambda, config};

/// The records of fixtures/windows/`name`, in the test account, as log events.
fn fixture_events(name: &str) -> Vec<(i64, String)> {
    let text = std::fs::read_to_string(fixtures_dir().join("windows").join(name)).unwrap().replace("111122223333", ACCOUNT);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<(i64, String)> = doc["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

/// The instances alarm (60-s period), in ALARM at `at` with one datapoint of `datapoint` instances.
fn instances_alarm(at: DateTime<Utc>, period: u32, datapoint: f64) -> Value {
    let mut ev = sns_alarm_event("launchguard-runinstances", ACCOUNT, "us-east-1", "ALARM", at, period, 1);
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    msg["Trigger"]["MetricName"] = json!(INSTANCES_METRIC);
    msg["NewStateReason"] = json!(format!(
        "Threshold Crossed: 1 datapoint [{datapoint:.1} ({})] was greater than or equal to the threshold (10.0).",
        (at - Duration::minutes(1)).format("%d/%m/%y %H:%M:%S")
    ));
    ev["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
    ev
}

async fn run(logs: &MemoryLogs, lambda: &FakeLambda, event: Value, now: DateTime<Utc>) -> Report {
    let ev = LambdaEvent::new(event, Context::default());
    let alarms = MemoryAlarms::as_notified(&ev.payload);
    handle(&ev.payload, FUNCTION_ARN, &config(&[]), logs, &alarms, lambda, now).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn attack_a_dry_run_of_500_never_contains_a_steady_launcher() {
    // GIVEN a user who launched one instance an hour for 12 hours, then someone's
    // `run-instances --dry-run --count 500`, which the instances alarm counted as 500
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 2, 0).unwrap();
    let logs = MemoryLogs::new(fixture_events("dry-run-500.json"));
    let lambda = FakeLambda::default();
    // WHEN the detector handles the alarm
    run(&logs, &lambda, instances_alarm(at, 60, 500.0), at + Duration::seconds(30)).await;
    // THEN nobody is contained: 12 instances in 12 hours reach no horizon
    let f = lambda.findings().remove(0);
    assert_eq!(
        f.verdict,
        FindingVerdict::NobodyOverThreshold,
        "{:?}",
        f.principals.iter().map(|p| p.principal.label()).collect::<Vec<_>>()
    );
    assert!(f.principals.is_empty());
    // AND the person paged is told that nothing read explains the datapoint, and what was read
    let why = f.read.unexplained.clone().expect("the finding says the datapoint is unexplained");
    assert!(why.contains("500") && why.contains("dry run"), "{why}");
}

#[tokio::test(start_paused = true)]
async fn terraform_18_instances_in_100_seconds_is_contained_with_the_horizon_named() {
    // GIVEN six calls of three instances 20 s apart, and the 5-minute instances alarm
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap();
    let logs = MemoryLogs::new(fixture_events("terraform-18-in-100s.json"));
    let lambda = FakeLambda::default();
    run(&logs, &lambda, instances_alarm(at, 300, 18.0), at + Duration::seconds(30)).await;
    // THEN the user is contained, and the finding says which horizon was crossed and when
    let f = lambda.findings().remove(0);
    assert_eq!(f.verdict, FindingVerdict::Contain);
    assert_eq!(f.principals.len(), 1);
    let crossed = f.principals[0].crossed.expect("the horizon crossed");
    assert_eq!((crossed.window_seconds, crossed.threshold, crossed.count), (300, 10, 12));
    assert_eq!(crossed.at, Utc.with_ymd_and_hms(2026, 3, 2, 9, 1, 0).unwrap());
}
