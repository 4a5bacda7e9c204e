//! Alarm parsing and windows, on the published alarm fixtures.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{Duration, TimeZone, Utc};
use launchguard_core::alarm::{AlarmDelivery, AlarmNotice, AlarmState, IgnoreReason, Provenance, parse_event, parse_event_bytes};
use launchguard_core::window::WindowPolicy;
use launchguard_testkit::{fixture, sns_alarm_event};
use serde_json::{Value, json};

fn notices(rel: &str) -> Vec<AlarmNotice> {
    let v: Value = serde_json::from_str(&fixture(rel)).expect("fixture is JSON");
    parse_event(&v).expect("recognised envelope")
}

fn one_alarm(ev: &Value) -> launchguard_core::alarm::AlarmStateChange {
    match parse_event(ev).expect("recognised").as_slice() {
        [AlarmNotice::Alarm(a)] => a.clone(),
        other => panic!("expected one alarm, got {other:?}"),
    }
}

fn only_alarm(rel: &str) -> launchguard_core::alarm::AlarmStateChange {
    match notices(rel).as_slice() {
        [AlarmNotice::Alarm(a)] => a.clone(),
        other => panic!("{rel}: expected one alarm, got {other:?}"),
    }
}

#[test]
fn sns_single_metric_alarm_gives_period_and_evaluation_periods() {
    let a = only_alarm("alarms/rust-runtime.example-cloudwatch-alarm-sns-payload-single-metric.json");
    assert_eq!(a.alarm_name, "EXAMPLE");
    assert_eq!(a.new_state, AlarmState::Alarm);
    assert_eq!(a.old_state, Some(AlarmState::InsufficientData));
    assert_eq!(a.state_change_time, Utc.with_ymd_and_hms(2015, 6, 3, 17, 43, 27).unwrap() + Duration::milliseconds(123));
    assert_eq!((a.period_seconds, a.period_provenance), (60, Provenance::Declared));
    assert_eq!((a.evaluation_periods, a.evaluation_periods_provenance), (1, Provenance::Declared));
    assert!(!a.metric_math);
    assert_eq!(a.delivery, AlarmDelivery::Sns);
}

#[test]
fn sns_metric_math_alarm_is_recognised_for_every_record() {
    let ns = notices("alarms/rust-runtime.example-cloudwatch-alarm-sns-payload-multiple-metrics.json");
    assert_eq!(ns.len(), 2);
    for n in ns {
        let AlarmNotice::Alarm(a) = n else { panic!("expected alarm") };
        assert!(a.metric_math);
        assert_eq!(a.period_seconds, 60);
        assert_eq!(a.evaluation_periods, 1);
    }
}

#[test]
fn alarm_back_to_ok_is_ignored_with_its_state() {
    for rel in ["alarms/notify-slack.HEAD.cloudwatch_alarm.json", "alarms/notify-slack.bb805aa.cloudwatch_alarm.json"] {
        assert_eq!(
            notices(rel),
            vec![AlarmNotice::Ignored(IgnoreReason::NotInAlarmState { alarm_name: "DBMigrationRequired".into(), state: "OK".into() })],
            "{rel}"
        );
    }
}

#[test]
fn null_description_and_missing_arn_are_accepted() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 5, 31, 3).unwrap();
    let ev = sns_alarm_event("lg-runinstances", "000000000000", "us-east-1", "ALARM", at, 60, 3);
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    assert!(msg["AlarmDescription"].is_null());
    msg.as_object_mut().unwrap().remove("AlarmArn");
    let mut ev2 = ev.clone();
    ev2["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
    let a = one_alarm(&ev2);
    assert_eq!(a.alarm_arn, None);
    assert_eq!(a.region, None);
    assert_eq!(a.evaluation_periods, 3);
    // and with the ARN, the region code comes from it, not from the display name
    let a = one_alarm(&ev);
    assert_eq!(a.region.as_deref(), Some("us-east-1"));
    assert_eq!(a.account_id.as_deref(), Some("000000000000"));
}

#[test]
fn direct_alarm_action_payloads_are_read() {
    let a = only_alarm("alarms/powertools.cloudWatchAlarmEventSingleMetric.json");
    assert_eq!(a.alarm_name, "Test alert");
    assert_eq!(a.delivery, AlarmDelivery::AlarmAction);
    assert_eq!((a.period_seconds, a.period_provenance), (60, Provenance::Declared));
    // one evaluated datapoint in reasonData
    assert_eq!((a.evaluation_periods, a.evaluation_periods_provenance), (1, Provenance::Derived));
    assert!(a.metric_math, "m1/m2 expression");
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    assert_eq!(a.account_id.as_deref(), Some("123456789012"));

    // the published fixture with stray spaces in its timestamps still parses
    let a = only_alarm("alarms/rust-runtime.example-cloudwatch-alarm-metric.json");
    assert_eq!(a.state_change_time, Utc.with_ymd_and_hms(2023, 8, 4, 12, 36, 15).unwrap() + Duration::milliseconds(490));
    assert_eq!(a.period_seconds, 60);
}

#[test]
fn composite_alarms_have_no_period_and_say_it_is_assumed() {
    for rel in ["alarms/powertools.cloudWatchAlarmEventCompositeMetric.json", "alarms/rust-runtime.example-cloudwatch-alarm-composite.json"]
    {
        let ns = notices(rel);
        match ns.as_slice() {
            // previous state ALARM -> new state ALARM: still an alarm
            [AlarmNotice::Alarm(a)] => {
                assert_eq!(a.period_provenance, Provenance::Assumed, "{rel}");
                assert_eq!(a.evaluation_periods_provenance, Provenance::Assumed, "{rel}");
            }
            other => panic!("{rel}: {other:?}"),
        }
    }
    // EventBridge-shaped composite with suppression: read from top-level alarmData
    let a = only_alarm("alarms/rust-runtime.example-cloudwatch-alarm-composite-with-suppressor-alarm.json");
    assert_eq!(a.alarm_name, "ServiceAggregatedAlarm");
}

#[test]
fn plain_sns_messages_are_ignored_not_errors() {
    for rel in
        ["alarms/rust-runtime.example-sns-event.json", "alarms/powertools.snsEvent.json", "alarms/rust-runtime.example-sns-event-obj.json"]
    {
        let ns = notices(rel);
        assert!(!ns.is_empty());
        assert!(ns.iter().all(|n| matches!(n, AlarmNotice::Ignored(IgnoreReason::NotAnAlarm { .. }))), "{rel}: {ns:?}");
    }
}

#[test]
fn unrecognised_and_malformed_inputs_are_typed_errors() {
    for bad in [&b"{\"Records\": [{\"EventSource\": "[..], b"\xff\xfe\x00garbage", b"[]", b"42", b"{\"hello\": 1}", b"{\"Records\": []}"] {
        assert!(parse_event_bytes(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    // SNS envelope with wrong types
    let v = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": 5}}]});
    assert!(parse_event(&v).is_err());
}

#[test]
fn alarm_messages_with_bad_fields_are_ignored_with_the_reason() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 5, 31, 3).unwrap();
    let base = sns_alarm_event("a", "000000000000", "us-east-1", "ALARM", at, 60, 1);
    let msg: Value = serde_json::from_str(base["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    let cases = [
        ("StateChangeTime", json!("yesterday"), "StateChangeTime"),
        ("StateChangeTime", Value::Null, "StateChangeTime is missing"),
        ("NewStateValue", json!("BROKEN"), "NewStateValue"),
        ("NewStateValue", json!(7), "NewStateValue is missing"),
    ];
    for (field, value, expect) in cases {
        let mut m = msg.clone();
        m[field] = value;
        let mut ev = base.clone();
        ev["Records"][0]["Sns"]["Message"] = json!(m.to_string());
        match parse_event(&ev).unwrap().as_slice() {
            [AlarmNotice::Ignored(IgnoreReason::NotAnAlarm { detail })] => assert!(detail.contains(expect), "{detail}"),
            other => panic!("{field}: {other:?}"),
        }
    }
    // truncated message
    let mut ev = base.clone();
    ev["Records"][0]["Sns"]["Message"] = json!("{\"AlarmName\": \"a\", \"NewStateVal");
    assert!(matches!(parse_event(&ev).unwrap()[0], AlarmNotice::Ignored(IgnoreReason::NotAnAlarm { .. })));
}

#[test]
fn a_five_megabyte_message_is_handled_and_reported_briefly() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 5, 31, 3).unwrap();
    let mut ev = sns_alarm_event("a", "000000000000", "us-east-1", "ALARM", at, 60, 1);
    ev["Records"][0]["Sns"]["Message"] = json!("x".repeat(5 * 1024 * 1024));
    match parse_event(&ev).unwrap().as_slice() {
        [AlarmNotice::Ignored(IgnoreReason::NotAnAlarm { detail })] => assert!(detail.len() < 1024, "detail is {} bytes", detail.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn window_is_twice_the_evaluated_periods_plus_margins_and_fallback_reaches_back_twelve_hours() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let ev = sns_alarm_event("a", "000000000000", "us-east-1", "ALARM", at, 60, 3);
    let a = one_alarm(&ev);
    let p = WindowPolicy::default();
    let w = p.primary(&a).unwrap();
    // a sliding window as long as the 3 evaluated minutes that overlaps them is read whole
    assert_eq!(w.start, at - Duration::minutes(6) - Duration::minutes(5));
    assert_eq!(w.end, at + Duration::minutes(5));
    let f = p.fallback(&a).unwrap();
    assert_eq!(f.start, at - Duration::hours(12));
    assert_eq!(f.end, w.end);
    let custom =
        WindowPolicy { margin_before: Duration::minutes(1), margin_after: Duration::zero(), fallback_lookback: Duration::hours(1) };
    assert_eq!(custom.primary(&a).unwrap().start, at - Duration::minutes(7));
    assert_eq!(custom.primary(&a).unwrap().end, at);
    // splitting covers the window exactly once
    let (l, r) = w.split().unwrap();
    assert_eq!(l.start, w.start);
    assert_eq!(r.end, w.end);
    assert_eq!(r.start_ms(), l.end_ms() + 1);
}

/// Issue 16: a forged alarm with huge numbers does not panic; the window is refused instead.
#[test]
fn attack_huge_period_and_evaluation_periods_give_no_window() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let mut ev = sns_alarm_event("a", "000000000000", "us-east-1", "ALARM", at, 60, 1);
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    msg["Trigger"]["Period"] = json!(4_000_000_000u64);
    msg["Trigger"]["EvaluationPeriods"] = json!(4_000_000);
    ev["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
    let a = one_alarm(&ev);
    assert_eq!(WindowPolicy::default().primary(&a), None);
    assert_eq!(WindowPolicy::default().fallback(&a), None);
    let week = one_alarm(&sns_alarm_event("a", "000000000000", "us-east-1", "ALARM", at, 86_400, 7));
    assert_eq!(WindowPolicy::default().primary(&week), None, "more than a day is refused");
}

/// Issue 11, case 3: the datapoints are read from both alarm shapes.
#[test]
fn datapoints_are_read_from_the_reason() {
    use launchguard_core::alarm::datapoints_from_reason;
    assert_eq!(
        datapoints_from_reason(
            "Threshold Crossed: 1 datapoint [12.0 (22/11/26 05:31:00)] was greater than or equal to the threshold (10.0)."
        ),
        vec![12.0]
    );
    assert_eq!(
        datapoints_from_reason(
            "Threshold Crossed: 2 out of the last 2 datapoints [5.0 (03/06/15 17:43:00), 11.5 (03/06/15 17:42:00)] were greater"
        ),
        vec![5.0, 11.5]
    );
    assert!(
        datapoints_from_reason("Threshold Crossed: 1 out of the last 1 datapoints was greater than or equal to the threshold (10.0).")
            .is_empty()
    );
    assert!(datapoints_from_reason("[NaN (x), -3 (y), inf (z)]").is_empty());
}
