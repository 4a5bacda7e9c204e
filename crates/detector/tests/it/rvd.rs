//! Outside review of detection (branch `rvd`), through the detector's whole path: the alarm,
//! the read of the log group, the sliding windows and the finding. Each test asserts the SAFE
//! outcome; those that fail today carry `#[ignore = "rvd finding N: ..."]`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use launchguard_core::alarm::INSTANCES_METRIC;
use launchguard_core::contract::{Finding, FindingVerdict};
use launchguard_detector::handle;
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_testkit::{Actor, Burst, run_instances_template, sns_alarm_event};
use serde_json::{Value, json};

use crate::common::{ACCOUNT, FUNCTION_ARN, FakeLambda, config};

/// The 5-minute instances alarm in ALARM at `at`, one datapoint of `datapoint`.
fn instances_alarm(at: DateTime<Utc>, datapoint: f64) -> Value {
    let mut ev = sns_alarm_event("launchguard-runinstances", ACCOUNT, "us-east-1", "ALARM", at, 300, 1);
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    msg["Trigger"]["MetricName"] = json!(INSTANCES_METRIC);
    msg["NewStateReason"] = json!(format!(
        "Threshold Crossed: 1 datapoint [{datapoint:.1} ({})] was greater than or equal to the threshold (5.0).",
        (at - Duration::minutes(5)).format("%d/%m/%y %H:%M:%S")
    ));
    ev["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
    ev
}

/// Log events `(timestamp, message)`: each record at its `eventTime`, plus `shift_ms`.
fn events(records: &[Value], shift_ms: i64) -> Vec<(i64, String)> {
    records
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis() + shift_ms, r.to_string()))
        .collect()
}

async fn finding(events: Vec<(i64, String)>, alarm: Value, now: DateTime<Utc>) -> Finding {
    let mut events = events;
    events.sort_by_key(|(t, _)| *t);
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let ev = LambdaEvent::new(alarm, Context::default());
    let alarms = MemoryAlarms::as_notified(&ev.payload);
    handle(&ev.payload, FUNCTION_ARN, &config(&[]), &logs, &alarms, &lambda, now).await.unwrap();
    lambda.findings().remove(0)
}

fn labels(f: &Finding) -> (Vec<String>, Vec<String>) {
    (f.principals.iter().map(|p| p.principal.label()).collect(), f.excluded.iter().map(|p| p.principal.label()).collect())
}

/// Finding 1 in the detector. GIVEN a role session's 12 instances in 84 s, AND someone with
/// `logs:PutLogEvents` on the CloudTrail log group who copies each record as it arrives, changes
/// only `sessionIssuer` (to Auto Scaling's service-linked role) and writes the copy one second
/// earlier (so Insights' `sort @timestamp asc` reads it first), WHEN the 5-minute alarm fires,
/// THEN the role is contained. Today the copies are counted (AWS itself: excluded) and the
/// real records dropped as duplicates: nobody over threshold, and the read is "complete".
#[tokio::test(start_paused = true)]
async fn rvd_injected_copies_with_another_session_issuer_cannot_hide_a_roles_burst() {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap();
    let actor = Actor::AssumedRole {
        account: ACCOUNT.into(),
        role: "ci-deployer".into(),
        session: "gh-run-1".into(),
        key: "ASIAEXAMPLECIDEPLOY1".into(),
    };
    let real = Burst::new(actor, 12, 1, at - Duration::minutes(4)).records(&run_instances_template(), 11);
    let forged: Vec<Value> = real
        .iter()
        .map(|r| {
            let mut f = r.clone();
            let issuer = &mut f["userIdentity"]["sessionContext"]["sessionIssuer"];
            issuer["arn"] =
                json!(format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"));
            issuer["userName"] = json!("AWSServiceRoleForAutoScaling");
            f
        })
        .collect();
    let mut log = events(&forged, -1000);
    log.extend(events(&real, 0));
    let f = finding(log, instances_alarm(at, 12.0), at + Duration::seconds(30)).await;
    assert_eq!(f.verdict, FindingVerdict::Contain, "principals/excluded {:?}, read {:?}", labels(&f), f.read);
    assert!(labels(&f).0.contains(&"role ci-deployer".to_owned()), "{:?}", labels(&f));
}

/// Finding 3 in the detector. GIVEN nine launches in 63 s whose request and response CloudTrail
/// omitted (the instances metric counts each as 1,000,000, so the alarm's datapoint is 9,000,000),
/// WHEN the alarm fires, THEN the caller is contained: what it launched is unknown. Today
/// the detector counts 9 instances, reads 12 hours more, and tells a person nobody is over.
#[tokio::test(start_paused = true)]
async fn rvd_launches_of_unknown_size_are_contained() {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap();
    let actor = Actor::IamUser { account: ACCOUNT.into(), name: "mallory".into(), key: "AKIAEXAMPLEMALLORY01".into() };
    let records: Vec<Value> = Burst::new(actor, 9, 500, at - Duration::minutes(4))
        .records(&run_instances_template(), 12)
        .into_iter()
        .map(|mut r| {
            r["requestParameters"] = json!({"omitted": true, "originalSize": 180_000});
            r["responseElements"] = json!({"omitted": true, "originalSize": 1_200_000});
            r
        })
        .collect();
    let f = finding(events(&records, 0), instances_alarm(at, 9_000_000.0), at + Duration::seconds(30)).await;
    assert_eq!(f.verdict, FindingVerdict::Contain, "{:?}; unexplained {:?}", labels(&f), f.read.unexplained);
}

/// Held: a role's 12 instances split over 12 session names (one instance each) is one role,
/// contained.
#[tokio::test(start_paused = true)]
async fn rvd_held_a_roles_burst_split_over_sessions_is_contained() {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap();
    let t = run_instances_template();
    let mut records = Vec::new();
    for i in 0..12u32 {
        let actor = Actor::AssumedRole {
            account: ACCOUNT.into(),
            role: "batch".into(),
            session: format!("worker-{i}"),
            key: format!("ASIAEXAMPLEBATCH{i:04}"),
        };
        records.extend(Burst::new(actor, 1, 1, at - Duration::minutes(4) + Duration::seconds(i64::from(i) * 10)).records(&t, 300 + i));
    }
    let f = finding(events(&records, 0), instances_alarm(at, 12.0), at + Duration::seconds(30)).await;
    assert_eq!((f.verdict, labels(&f).0), (FindingVerdict::Contain, vec!["role batch".to_owned()]));
}

/// Finding 5 in the detector. GIVEN IAM user mallory's `CreateAutoScalingGroup` asking for 500
/// instances (`fixtures/launch-routes/routes.json`), AND the 50 `RunInstances` of 10 that Auto
/// Scaling's service-linked role then makes, WHEN the 5-minute instances alarm fires, THEN the
/// finding flags mallory for the 500 she asked for, and the service-linked role's launches stay
/// excluded (counted once).
#[tokio::test(start_paused = true)]
async fn rvd_a_launch_through_auto_scaling_is_found_for_its_caller() {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap();
    let doc: Value = serde_json::from_str(&launchguard_testkit::fixture("launch-routes/routes.json")).unwrap();
    let mut group = doc["Records"][0].clone();
    assert_eq!(group["eventName"], "CreateAutoScalingGroup");
    group["eventTime"] = json!("2026-03-02T09:01:00Z");
    let mut records = vec![group];
    records.extend(
        Burst::new(Actor::AutoScaling { account: ACCOUNT.into() }, 50, 10, at - Duration::minutes(3))
            .records(&run_instances_template(), 12),
    );
    let f = finding(events(&records, 0), instances_alarm(at, 500.0), at + Duration::seconds(30)).await;
    let (flagged, excluded) = labels(&f);
    assert_eq!(flagged, vec!["IAM user mallory".to_owned()], "excluded: {excluded:?}");
    assert_eq!(f.principals[0].activity.instances_requested, 500);
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert_eq!(f.excluded[0].activity.instances_launched, 500);
}
