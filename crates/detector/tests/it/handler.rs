//! The detector handler in-process, with in-memory CloudWatch Logs and Lambda.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{ACCOUNT, ALARM_ARN, FUNCTION_ARN, FakeLambda, config};
use lambda_runtime::{Context, LambdaEvent};
use launchguard_core::alarm::AlarmState;
use launchguard_core::config::Env;
use launchguard_core::contract::Finding;
use launchguard_core::contract::FindingVerdict;
use launchguard_detector::memory::{Insights, MemoryAlarms, MemoryLogs};
use launchguard_detector::{Config, DetectorError, PrincipalVerdict, QueryStatus, ReportStatus, handle};
use launchguard_testkit::{invictus_background, run_instances_template, shift_to, sns_alarm_event, standard_bursts};
use serde_json::{Value, json};

/// CloudWatch knowing the configured alarm as [`alarm_event`] announces it, now in `state`
/// (`None`: CloudWatch does not know it).
fn alarms_in(state: Option<AlarmState>) -> MemoryAlarms {
    match state {
        Some(s) => MemoryAlarms::as_notified(&alarm_event("ALARM")).moved_to(
            s,
            alarm_at(),
            "Threshold Crossed: 1 datapoint [57.0 (22/11/26 05:39:00)] was greater than or equal to the threshold (10.0).",
        ),
        None => MemoryAlarms::default(),
    }
}

fn alarm_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 0).unwrap()
}

/// Real background shifted to start at 05:00; bursts at 05:38; alarm at 05:40 (period 60 s,
/// 1 evaluation period): the window is 05:34-05:45, which holds part of the background but not
/// the two real vCPU-limited attempts (05:21 and 05:24).
fn log_group() -> Vec<(i64, String)> {
    let mut records = invictus_background();
    shift_to(&mut records, Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap());
    let t = run_instances_template();
    let at = alarm_at() - Duration::minutes(2);
    let bursts = standard_bursts(ACCOUNT, at);
    for (i, b) in bursts.iter().enumerate() {
        records.extend(b.records(&t, i as u32));
    }
    let mut out: Vec<(i64, String)> = records
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

fn alarm_event(state: &str) -> Value {
    sns_alarm_event("launchguard-runinstances", ACCOUNT, "us-east-1", state, alarm_at(), 60, 1)
}

async fn run(logs: &MemoryLogs, lambda: &FakeLambda, cfg: &Config, event: Value) -> Result<launchguard_detector::Report, DetectorError> {
    let ev = LambdaEvent::new(event, Context::default());
    // CloudWatch knows the alarm as the event describes it: a genuine notification
    let alarms = MemoryAlarms::as_notified(&ev.payload);
    handle(&ev.payload, FUNCTION_ARN, cfg, logs, &alarms, lambda, alarm_at() + Duration::seconds(30)).await
}

fn flagged(f: &Finding) -> Vec<(String, u64, Vec<String>)> {
    f.principals
        .iter()
        .map(|p| {
            (p.principal.label(), p.activity.instances_launched, p.activity.access_keys.iter().map(|k| k.access_key_id.clone()).collect())
        })
        .collect()
}

fn expected_flagged() -> Vec<(String, u64, Vec<String>)> {
    vec![
        ("role DataScience".into(), 15, vec!["ASIAEXAMPLEDATASCI01".into()]),
        ("IAM user ci-deployer".into(), 12, vec!["AKIAEXAMPLEDEPLOYER1".into()]),
    ]
}

#[tokio::test(start_paused = true)]
async fn real_background_with_bursts_flags_exactly_the_user_and_the_role() {
    let logs = MemoryLogs::new(log_group());
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    assert_eq!(report.status, ReportStatus::Dispatched);
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(flagged(f), expected_flagged());
    assert_eq!(f.excluded.len(), 1, "Auto Scaling is excluded, and reported");
    assert_eq!(f.excluded[0].activity.instances_launched, 30);
    assert!(f.window_complete);
    assert!(!f.dry_run);
    assert_eq!(f.account_id, ACCOUNT);
    assert_eq!(f.read.method, "insights");
    assert_eq!(f.window.start, alarm_at() - Duration::minutes(7), "twice the 60-s span, and the 5-min margin");
    assert_eq!(f.window.end, alarm_at() + Duration::minutes(5));
    assert_eq!(lambda.sent.lock().unwrap()[0].0, "launchguard-dispatcher");
    // the report says who was below the threshold, too
    assert!(report.principals.iter().any(|p| p.principal == "IAM user benign" && p.verdict == PrincipalVerdict::BelowThreshold));
    // the background inside the window was read and skipped without a full parse
    let scan = report.scan.unwrap();
    assert!(scan.prefiltered > 100, "{scan:?}");
    assert_eq!(scan.unparseable, 0);
}

#[tokio::test(start_paused = true)]
async fn every_read_path_gives_the_same_finding() {
    let mut ids = Vec::new();
    for (method, service_filters, page_size) in
        [("insights", false, 1000), ("insights", true, 1000), ("filter_log_events", false, 7), ("filter_log_events", true, 3)]
    {
        let mut logs = MemoryLogs::new(log_group());
        logs.service_filters = service_filters;
        logs.page_size = page_size;
        let lambda = FakeLambda::default();
        run(&logs, &lambda, &config(&[("LG_READ_METHOD", method)]), alarm_event("ALARM")).await.unwrap();
        let f = lambda.findings().remove(0);
        assert_eq!(flagged(&f), expected_flagged(), "{method} filters={service_filters}");
        ids.push(f.finding_id);
        if method == "filter_log_events" {
            let pages = logs.calls().iter().filter(|c| c.starts_with("FilterLogEvents")).count();
            assert!(pages > 3, "paged through nextToken: {pages}");
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "same detector, window and principals: same finding id");
}

#[tokio::test(start_paused = true)]
async fn hitting_the_insights_row_limit_splits_the_range_and_loses_nothing() {
    let logs = MemoryLogs::new(log_group());
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[("LG_INSIGHTS_LIMIT", "40")]), alarm_event("ALARM")).await.unwrap();
    assert!(report.query_ids.len() > 3, "split into several queries: {:?}", report.query_ids);
    let f = lambda.findings().remove(0);
    assert_eq!(flagged(&f), expected_flagged());
    assert_eq!(f.read.method, "insights");
    // the same records as one unlimited query
    let logs2 = MemoryLogs::new(log_group());
    let lambda2 = FakeLambda::default();
    let r2 = run(&logs2, &lambda2, &config(&[]), alarm_event("ALARM")).await.unwrap();
    assert_eq!(report.scan.unwrap().matched, r2.scan.unwrap().matched);
}

#[tokio::test(start_paused = true)]
async fn queries_are_polled_through_running_until_complete() {
    let mut logs = MemoryLogs::new(log_group());
    logs.insights = Insights::Works { polls: 5 };
    let lambda = FakeLambda::default();
    run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    let polls = logs.calls().iter().filter(|c| c.starts_with("GetQueryResults")).count();
    assert_eq!(polls, 6);
    assert_eq!(flagged(&lambda.findings()[0]), expected_flagged());
}

#[tokio::test(start_paused = true)]
async fn a_query_that_fails_or_times_out_falls_back_to_filter_log_events() {
    for mode in [
        Insights::StartFails,
        Insights::EndsWith(QueryStatus::Failed),
        Insights::EndsWith(QueryStatus::Timeout),
        Insights::EndsWith(QueryStatus::Cancelled),
        Insights::NeverCompletes,
    ] {
        let mut logs = MemoryLogs::new(log_group());
        logs.insights = mode;
        let lambda = FakeLambda::default();
        let report = run(&logs, &lambda, &config(&[("LG_QUERY_DEADLINE_SECONDS", "20")]), alarm_event("ALARM")).await.unwrap();
        let f = lambda.findings().remove(0);
        assert_eq!(flagged(&f), expected_flagged(), "{mode:?}");
        assert_eq!(f.read.method, "insights→filter_log_events");
        assert!(f.window_complete);
        assert_eq!(report.status, ReportStatus::Dispatched);
        if mode == Insights::NeverCompletes {
            assert!(logs.calls().iter().any(|c| c.starts_with("StopQuery")), "the running query is stopped on the way out");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn when_both_reads_fail_the_error_is_retryable_and_nothing_is_sent() {
    let mut logs = MemoryLogs::new(log_group());
    logs.insights = Insights::StartFails;
    logs.filter_fails = true;
    let lambda = FakeLambda::default();
    let err = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap_err();
    assert!(err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("StartQuery") && msg.contains("FilterLogEvents") && msg.contains("cloudtrail-logs"), "{msg}");
    assert!(lambda.sent.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_dispatch_is_a_retryable_error() {
    let logs = MemoryLogs::new(log_group());
    let lambda = FakeLambda { fails: true, ..FakeLambda::default() };
    let err = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap_err();
    assert!(matches!(err, DetectorError::Invoke { .. }) && err.is_retryable(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn late_delivery_widens_the_window_once() {
    // the burst reached the logs two hours before the alarm window: nothing in the window
    let mut events = log_group();
    for e in &mut events {
        e.0 -= 2 * 3600 * 1000;
        let mut v: Value = serde_json::from_str(&e.1).unwrap();
        let t = DateTime::parse_from_rfc3339(v["eventTime"].as_str().unwrap()).unwrap() - Duration::hours(2);
        v["eventTime"] = json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        e.1 = v.to_string();
    }
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    assert!(report.widened);
    let f = lambda.findings().remove(0);
    assert!(f.read.widened);
    assert_eq!(f.window.start, alarm_at() - Duration::hours(12));
    // the wider window also holds the two real vCPU-limited attempts
    let labels: Vec<String> = f.principals.iter().map(|p| p.principal.label()).collect();
    assert!(labels.contains(&"IAM user ci-deployer".to_string()) && labels.contains(&"role DataScience".to_string()), "{labels:?}");
    assert_eq!(logs.calls().iter().filter(|c| c.starts_with("StartQuery")).count(), 2, "primary, then fallback, once");
}

/// Issue 11, case 4: the alarm fired and nobody is over the per-principal threshold: a person
/// is still told, with the top launchers, and nothing is to be changed.
#[tokio::test(start_paused = true)]
async fn nobody_over_threshold_still_tells_a_person_with_the_top_launchers() {
    // four users launching 8 instances each: 32 instances fire the alarm, nobody reaches 10
    let t = run_instances_template();
    let at = alarm_at() - Duration::minutes(2);
    let mut events = Vec::new();
    for i in 0..4u32 {
        let actor = launchguard_testkit::Actor::IamUser {
            account: ACCOUNT.into(),
            name: format!("team{i}"),
            key: format!("AKIAEXAMPLETEAM0000{i}"),
        };
        for r in launchguard_testkit::Burst::new(actor, 1, 8, at).records(&t, i) {
            events.push((at.timestamp_millis(), r.to_string()));
        }
    }
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    assert_eq!(report.status, ReportStatus::NoOneFlagged);
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1, "a person is told");
    let f = &findings[0];
    assert_eq!(f.verdict, FindingVerdict::NobodyOverThreshold);
    assert!(f.principals.is_empty(), "nothing to contain");
    assert_eq!(f.top_launchers.len(), 4);
    assert!(f.top_launchers.iter().all(|p| p.activity.instances_launched == 8));
    assert!(f.window_complete);
}

#[tokio::test(start_paused = true)]
async fn ignored_states_and_non_alarms_touch_nothing() {
    let mut non_alarm = alarm_event("ALARM");
    non_alarm["Records"][0]["Sns"]["Message"] = json!("hello from a test topic");
    let mut truncated = alarm_event("ALARM");
    truncated["Records"][0]["Sns"]["Message"] = json!("{\"AlarmName\": \"x\", \"NewState");
    for ev in [alarm_event("OK"), alarm_event("INSUFFICIENT_DATA"), non_alarm, truncated, json!({"hello": "world"}), json!([1, 2])] {
        let logs = MemoryLogs::new(log_group());
        let lambda = FakeLambda::default();
        let report = run(&logs, &lambda, &config(&[]), ev.clone()).await.unwrap();
        assert_eq!(report.status, ReportStatus::Ignored, "{ev}");
        assert!(!report.ignored.is_empty());
        assert!(logs.calls().is_empty(), "no read for {ev}");
        assert!(lambda.sent.lock().unwrap().is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn unparseable_records_are_counted_and_reported_not_fatal() {
    let mut events = log_group();
    let t = alarm_at().timestamp_millis() - 60_000;
    events.push((t, "{\"eventName\": \"RunInstances\", \"userIdentity\": ".into()));
    events.push((t, "not json \"RunInstances\"".into()));
    events.sort_by_key(|(t, _)| *t);
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    let f = lambda.findings().remove(0);
    assert_eq!(f.read.unparseable_records, 2);
    assert_eq!(flagged(&f), expected_flagged());
    assert_eq!(report.scan.unwrap().error_samples.len(), 2);
    // Issue 11, case 5: records that could not be read make the read incomplete, and say so
    assert!(!f.window_complete);
    assert_eq!(report.window_complete, Some(false));
    let why = f.incomplete_reason.as_deref().unwrap();
    assert!(why.contains("2 record(s)") && why.contains("could not be parsed"), "{why}");
}

/// Issue 11, case 5: three RunInstances records that fail to parse, nobody else: the finding
/// says the read is incomplete.
#[tokio::test(start_paused = true)]
async fn three_unreadable_launch_records_make_the_window_incomplete() {
    let t = alarm_at().timestamp_millis() - 60_000;
    let events = vec![
        (t, "{\"eventName\": \"RunInstances\", \"userIdentity\": ".to_owned()),
        (t, "{\"eventName\": \"RunInstances\", \"eventTime\": 12, \"requestParameters\": [".to_owned()),
        (t, "not json \"RunInstances\"".to_owned()),
    ];
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    assert_eq!(report.window_complete, Some(false));
    let f = lambda.findings().remove(0);
    assert!(!f.window_complete);
    assert!(f.incomplete_reason.as_deref().unwrap().contains("3 record(s)"), "{:?}", f.incomplete_reason);
}

/// Issue 11, case 3: one benign launch in the alarm window does not stop the wider search when
/// the alarm's datapoint says there was much more.
#[tokio::test(start_paused = true)]
async fn a_benign_launch_does_not_hide_a_late_burst() {
    let mut events = log_group();
    for e in &mut events {
        if e.1.contains("AKIAEXAMPLEBENIGN001") {
            continue;
        }
        e.0 -= 2 * 3600 * 1000;
        let mut v: Value = serde_json::from_str(&e.1).unwrap();
        let t = DateTime::parse_from_rfc3339(v["eventTime"].as_str().unwrap()).unwrap() - Duration::hours(2);
        v["eventTime"] = json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        e.1 = v.to_string();
    }
    let ev = forged(|m| {
        m["NewStateReason"] =
            json!("Threshold Crossed: 1 datapoint [57.0 (22/11/26 05:39:00)] was greater than or equal to the threshold (10.0).")
    });
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), ev).await.unwrap();
    assert!(report.widened, "2 instances found, the alarm counted 57: look wider");
    let f = lambda.findings().remove(0);
    assert_eq!(f.verdict, FindingVerdict::Contain);
    let labels: Vec<String> = f.principals.iter().map(|p| p.principal.label()).collect();
    assert!(labels.contains(&"IAM user ci-deployer".to_string()) && labels.contains(&"role DataScience".to_string()), "{labels:?}");
}

/// The same window with a datapoint the window explains is not widened.
#[tokio::test(start_paused = true)]
async fn a_window_that_explains_the_datapoint_is_not_widened() {
    let ev = forged(|m| {
        m["NewStateReason"] =
            json!("Threshold Crossed: 1 datapoint [13.0 (22/11/26 05:39:00)] was greater than or equal to the threshold (10.0).")
    });
    let logs = MemoryLogs::new(log_group());
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), ev).await.unwrap();
    assert!(!report.widened);
    assert_eq!(logs.calls().iter().filter(|c| c.starts_with("StartQuery")).count(), 1);
}

fn scheduled_event() -> Value {
    json!({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-11-22T05:45:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:218007301253:rule/launchguard-recheck"], "detail": {}})
}

/// Issue 11, case 2: while the alarm stays in ALARM, the scheduled event makes the detector
/// look at the last periods again; in OK it does nothing. (In-process, with a fake
/// DescribeAlarms; LocalStack was not used for this case.)
#[tokio::test(start_paused = true)]
async fn a_burst_that_goes_on_while_the_alarm_stays_in_alarm_is_seen_again() {
    // a second burst, 10 minutes after the alarm fired, long after the first window
    let later = alarm_at() + Duration::minutes(10);
    let t = run_instances_template();
    let actor =
        launchguard_testkit::Actor::IamUser { account: ACCOUNT.into(), name: "second-wave".into(), key: "AKIAEXAMPLESECOND001".into() };
    let events: Vec<(i64, String)> = launchguard_testkit::Burst::new(actor, 4, 5, later - Duration::seconds(30))
        .records(&t, 7)
        .iter()
        .map(|r| (later.timestamp_millis() - 30_000, r.to_string()))
        .collect();
    let now = later + Duration::seconds(20);
    let cfg = config(&[]);
    // ALARM: read the last period again and dispatch
    let logs = MemoryLogs::new(events.clone());
    let lambda = FakeLambda::default();
    let alarms = alarms_in(Some(AlarmState::Alarm));
    let report = handle(&scheduled_event(), FUNCTION_ARN, &cfg, &logs, &alarms, &lambda, now).await.unwrap();
    assert_eq!(alarms.asked(), [vec!["launchguard-runinstances".to_owned()]]);
    assert_eq!(report.status, ReportStatus::Dispatched);
    let f = lambda.findings().remove(0);
    assert_eq!(f.principals.len(), 1);
    assert_eq!(f.principals[0].principal.label(), "IAM user second-wave");
    assert_eq!(f.window.end, now + Duration::minutes(5));
    // OK: one DescribeAlarms, nothing read, nothing sent
    for state in [Some(AlarmState::Ok), Some(AlarmState::InsufficientData), None] {
        let logs = MemoryLogs::new(events.clone());
        let lambda = FakeLambda::default();
        let report = handle(&scheduled_event(), FUNCTION_ARN, &cfg, &logs, &alarms_in(state.clone()), &lambda, now).await.unwrap();
        assert_eq!(report.status, ReportStatus::Ignored, "{state:?}");
        assert!(logs.calls().is_empty());
        assert!(lambda.sent.lock().unwrap().is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn dry_run_marks_the_finding() {
    let logs = MemoryLogs::new(log_group());
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[("DRY_RUN", "true")]), alarm_event("ALARM")).await.unwrap();
    assert!(report.dry_run);
    assert!(lambda.findings()[0].dry_run);
}

#[test]
fn configuration_errors_name_the_variable() {
    let empty = |_: &str| None::<String>;
    assert!(Config::from_env(&empty).unwrap_err().to_string().contains("CLOUDTRAIL_LOG_GROUP_NAME"));
    let only_group = |k: &str| (k == "CLOUDTRAIL_LOG_GROUP_NAME").then(|| "g".to_string());
    assert!(Config::from_env(&only_group).unwrap_err().to_string().contains("DISPATCHER_LAMBDA_NAME"));
    let bad = |k: &str| match k {
        "CLOUDTRAIL_LOG_GROUP_NAME" | "DISPATCHER_LAMBDA_NAME" => Some("x".to_string()),
        "LG_READ_METHOD" => Some("grep".to_string()),
        _ => None,
    };
    assert!(Config::from_env(&bad).unwrap_err().to_string().contains("LG_READ_METHOD"));
    let env: &dyn Env = &|k: &str| match k {
        "CLOUDTRAIL_LOG_GROUP_NAME" | "DISPATCHER_LAMBDA_NAME" => Some("x".to_string()),
        "LG_INSIGHTS_LIMIT" => Some("20000".to_string()),
        _ => None,
    };
    assert!(Config::from_env(env).unwrap_err().to_string().contains("LG_INSIGHTS_LIMIT"));
}

#[tokio::test(start_paused = true)]
async fn a_finding_too_large_for_one_invocation_is_split_and_every_principal_is_sent() {
    let t = run_instances_template();
    let at = alarm_at() - Duration::minutes(2);
    let mut events = Vec::new();
    for i in 0..600u32 {
        let actor = launchguard_testkit::Actor::IamUser {
            account: ACCOUNT.into(),
            name: format!("user{i:04}"),
            key: format!("AKIAEXAMPLEUSER{i:05}"),
        };
        for r in launchguard_testkit::Burst::new(actor, 1, 10, at).records(&t, i) {
            events.push((at.timestamp_millis(), r.to_string()));
        }
    }
    let logs = MemoryLogs::new(events);
    let lambda = FakeLambda::default();
    let report = run(&logs, &lambda, &config(&[]), alarm_event("ALARM")).await.unwrap();
    let findings = lambda.findings();
    assert!(findings.len() > 1, "split into parts");
    assert_eq!(report.finding_parts.len(), findings.len());
    assert_eq!(findings.iter().map(|f| f.principals.len()).sum::<usize>(), 600);
    for f in &findings {
        assert!(launchguard_core::contract::sealed_len(f) <= launchguard_core::contract::MAX_PAYLOAD_BYTES);
        assert!(f.finding_id.starts_with(report.finding_id.as_deref().unwrap()));
    }
}

#[tokio::test]
async fn a_part_too_large_even_trimmed_is_not_sent_silently_it_is_a_typed_error() {
    // GIVEN a finding whose second principal alone is over the limit, whatever is cut
    let mut f = Finding::parse(serde_json::from_str(&launchguard_testkit::fixture("contract/finding.json")).unwrap()).unwrap();
    f.principals[1].reasons = vec!["x".repeat(300 * 1024)];
    let id = f.finding_id.clone();
    let parts = f.into_parts(launchguard_core::contract::MAX_PAYLOAD_BYTES);
    assert_eq!(parts.iter().map(|p| p.principals.len()).sum::<usize>(), 2, "no principal dropped");
    // WHEN the parts are sent
    let lambda = FakeLambda::default();
    let err = launchguard_detector::send_parts(&id, &parts, &config(&[]), &lambda).await.unwrap_err();
    // THEN every part that fits was sent, the other one is named in a final, typed error
    let DetectorError::PartsTooLarge { finding_id, parts: over, .. } = &err else { panic!("{err}") };
    assert_eq!(finding_id, &id);
    assert_eq!(over.len(), 1);
    assert!(!err.is_retryable());
    let sent = lambda.findings();
    assert_eq!(sent.len(), parts.len() - 1);
    assert!(sent.iter().all(|p| p.finding_id != over[0].0));
    assert!(sent.iter().any(|p| p.principals.iter().any(|x| x.principal == parts[0].principals[0].principal)));
}

/// The alarm message inside an SNS event, edited by `edit`.
fn forged(edit: impl Fn(&mut Value)) -> Value {
    let mut ev = alarm_event("ALARM");
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    edit(&mut msg);
    ev["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
    ev
}

/// Issue 16: only the configured alarm, in the detector's own account, recent, with a bounded
/// window, is looked at. Anything else is a typed refusal: no read, no finding, no error.
#[tokio::test(start_paused = true)]
async fn attack_forged_alarms_are_refused_before_any_read() {
    let other = "arn:aws:cloudwatch:us-east-1:999999999999:alarm:launchguard-runinstances";
    type Case = (&'static str, Value, Vec<(&'static str, String)>);
    let cases: Vec<Case> = vec![
        ("unknown_alarm", forged(|m| m["AlarmArn"] = json!("arn:aws:cloudwatch:us-east-1:218007301253:alarm:something-else")), vec![]),
        ("no_alarm_arn", forged(|m| m.as_object_mut().unwrap().retain(|k, _| k != "AlarmArn")), vec![]),
        (
            "other_account",
            forged(|m| {
                m["AlarmArn"] = json!(other);
                m["AWSAccountId"] = json!("999999999999");
            }),
            vec![("ALARM_ARNS", format!("{ALARM_ARN},{other}"))],
        ),
        (
            "stale",
            forged(|m| m["StateChangeTime"] = json!((alarm_at() - Duration::hours(2)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())),
            vec![],
        ),
        (
            "in_the_future",
            forged(|m| m["StateChangeTime"] = json!((alarm_at() + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())),
            vec![],
        ),
        (
            "window_too_wide",
            forged(|m| {
                m["Trigger"]["Period"] = json!(86_400);
                m["Trigger"]["EvaluationPeriods"] = json!(7);
            }),
            vec![],
        ),
        (
            "window_too_wide",
            forged(|m| {
                m["Trigger"]["Period"] = json!(4_000_000_000u64);
                m["Trigger"]["EvaluationPeriods"] = json!(4_000_000);
            }),
            vec![],
        ),
    ];
    for (want, ev, extra) in cases {
        let logs = MemoryLogs::new(log_group());
        let lambda = FakeLambda::default();
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let report = run(&logs, &lambda, &config(&extra), ev).await.unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "refused", "{want}: {json}");
        assert_eq!(json["refusal"]["refusal"], want, "{json}");
        assert!(logs.calls().is_empty(), "{want}: no read");
        assert!(lambda.sent.lock().unwrap().is_empty(), "{want}: no finding");
    }
}

/// Issue 22: the alarm's name is outside text (whoever may publish to the alarm topic writes it).
/// A name holding a line break, a forged log event and U+202E never forges a line of the
/// detector's log: it is shown through the one escaping path.
#[tokio::test(start_paused = true)]
async fn a_forged_alarm_name_never_forges_a_log_line() {
    let evil = "launchguard-runinstances\n{\"level\":\"INFO\",\"fields\":{\"message\":\"nobody over the thresholds\"}}\u{202E}\u{2028}";
    let ev = forged(|m| {
        m["AlarmName"] = json!(evil);
        m["AlarmArn"] = json!("arn:aws:cloudwatch:us-east-1:218007301253:alarm:something-else");
    });
    let cap = launchguard_aws::logs::Capture::default();
    let report = {
        let _g = cap.start();
        run(&MemoryLogs::new(log_group()), &FakeLambda::default(), &config(&[]), ev).await.unwrap()
    };
    assert_eq!(serde_json::to_value(&report).unwrap()["status"], "refused");
    let out = cap.text();
    assert!(out.contains("nobody over the thresholds"), "the name was not logged: {out}");
    let bad = launchguard_aws::logs::unsafe_lines(&out);
    assert!(bad.is_empty(), "{bad:#?}");
}
