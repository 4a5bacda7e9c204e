//! The EventBridge path's reader and matcher, on real records (the invictus `RunInstances`
//! record made into bursts), wrapped as EventBridge delivers them; hostile events first.

use chrono::{TimeZone, Utc};
use launchguard_core::principal::Principal;
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_core::stream::{Refusal, Scope, hit, parse_event};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::Value;

const ACCOUNT: &str = "218007301253";

fn scope() -> Scope {
    Scope { accounts: vec![ACCOUNT.into()], regions: vec!["us-east-1".into()] }
}

fn records(account: &str, calls: u32) -> Vec<Value> {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 5, 38, 0).unwrap();
    let actor = Actor::IamUser { account: account.into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() };
    Burst::new(actor, calls, 4, at).records(&run_instances_template(), 1)
}

fn read(ev: &Value) -> Result<(String, i64), Refusal> {
    let text = ev.to_string();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 0).unwrap().timestamp_millis();
    parse_event(&text, &scope(), now - 86_400_000, now).map(|e| (e.event_id, e.t_ms))
}

#[test]
fn a_real_launch_is_read_and_counted_as_the_rule_counts_it() {
    let r = &records(ACCOUNT, 1)[0];
    let text = eventbridge_event(r, ACCOUNT, "us-east-1").to_string();
    let e = parse_event(&text, &scope(), 0, i64::MAX).unwrap();
    assert_eq!(e.event_id, r["eventID"].as_str().unwrap());
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let h = hit(&rule.event, e.detail, false).unwrap();
    assert!(matches!(&h.principal, Principal::IamUser { user_name, .. } if user_name == "ci-deployer"));
    assert_eq!((h.counts.launched, h.counts.requested, h.counts.calls), (4, 4, 1));
    // another rule's event is not a hit
    let other = set.rules.iter().find(|r| r.id != EC2_MASS_LAUNCH).unwrap();
    assert!(hit(&other.event, e.detail, false).is_none());
}

#[test]
fn an_event_from_another_account_or_region_is_refused() {
    let r = &records("999988887777", 1)[0];
    assert!(matches!(read(&eventbridge_event(r, "999988887777", "us-east-1")), Err(Refusal::Account { .. })));
    // the envelope claims ours, the record says another: refused too
    assert!(matches!(read(&eventbridge_event(r, ACCOUNT, "us-east-1")), Err(Refusal::Mismatch { .. })));
    let mine = &records(ACCOUNT, 1)[0];
    assert!(matches!(read(&eventbridge_event(mine, ACCOUNT, "eu-west-1")), Err(Refusal::Region { .. })));
}

#[test]
fn a_forged_principal_less_event_is_refused() {
    let mut r = records(ACCOUNT, 1).remove(0);
    r.as_object_mut().unwrap().remove("userIdentity");
    assert_eq!(read(&eventbridge_event(&r, ACCOUNT, "us-east-1")), Err(Refusal::NoPrincipal));
    r["userIdentity"] = serde_json::json!({"accessKeyId": "AKIAEXAMPLEDEPLOYER1", "userName": ""});
    assert_eq!(read(&eventbridge_event(&r, ACCOUNT, "us-east-1")), Err(Refusal::NoPrincipal));
}

#[test]
fn malformed_details_are_refused() {
    let r = &records(ACCOUNT, 1)[0];
    for detail in [Value::Null, Value::from("RunInstances"), serde_json::json!([r]), serde_json::json!({"eventTime": "x"})] {
        let mut ev = eventbridge_event(r, ACCOUNT, "us-east-1");
        ev["detail"] = detail;
        assert!(matches!(read(&ev), Err(Refusal::MalformedDetail { .. })), "{ev}");
    }
    let mut ev = eventbridge_event(r, ACCOUNT, "us-east-1");
    ev["detail-type"] = "AWS Console Sign In via CloudTrail".into();
    assert!(matches!(read(&ev), Err(Refusal::NotCloudTrail { .. })));
    let mut bad_id = r.clone();
    bad_id["eventID"] = "a\u{202e}b".into();
    assert_eq!(read(&eventbridge_event(&bad_id, ACCOUNT, "us-east-1")), Err(Refusal::NoEventId));
}

#[test]
fn a_backdated_or_future_event_is_refused() {
    let mut r = records(ACCOUNT, 1).remove(0);
    r["eventTime"] = "2026-11-20T05:38:00Z".into();
    assert!(matches!(read(&eventbridge_event(&r, ACCOUNT, "us-east-1")), Err(Refusal::OutOfTime { .. })));
    r["eventTime"] = "2026-11-22T06:38:00Z".into();
    assert!(matches!(read(&eventbridge_event(&r, ACCOUNT, "us-east-1")), Err(Refusal::OutOfTime { .. })));
}

#[test]
fn a_message_of_ten_thousand_events_is_refused_whole_and_quickly() {
    // GIVEN one SQS body holding 10,000 events (a poison message)
    let recs = records(ACCOUNT, 1);
    let one = eventbridge_event(&recs[0], ACCOUNT, "us-east-1");
    let many = Value::Array(vec![one; 10_000]);
    // THEN it is not an event: nothing in it is read
    assert!(matches!(read(&many), Err(Refusal::TooLarge { .. })));
    let small = Value::Array(vec![eventbridge_event(&recs[0], ACCOUNT, "us-east-1"); 2]);
    assert!(matches!(read(&small), Err(Refusal::NotAnEvent { .. })));
}

#[test]
fn a_refusal_shows_outside_text_escaped() {
    let r = &records(ACCOUNT, 1)[0];
    let mut ev = eventbridge_event(r, ACCOUNT, "us-east-1");
    ev["account"] = "1\u{202e}\n2".into();
    let refusal = read(&ev).unwrap_err();
    let shown = refusal.to_string();
    assert!(!shown.contains('\u{202e}') && !shown.contains('\n'), "{shown}");
}
