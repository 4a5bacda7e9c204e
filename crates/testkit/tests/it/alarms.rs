//! Issue 30: every arrangement of calls a rule flags fires at least one of the alarms deploy
//! renders from the same rule file. The alarms are evaluated by the CloudWatch model of
//! `launchguard_testkit::cloudwatch` (fixed periods aligned to the clock, Sum, M of N); the rule
//! by core's one window function (`launchguard_core::windows::judge`).

use std::collections::BTreeMap;

use launchguard_core::launch::launch_facts;
use launchguard_core::record::parse_record;
use launchguard_core::rules::{Rule, RuleSet};
use launchguard_core::scan::call_facts;
use launchguard_core::windows::{Point, judge, sort};
use launchguard_testkit::cloudwatch::{self, Alarm, Filter};
use launchguard_testkit::fixture;
use launchguard_testkit::iam::{IamEvent, find_iam_template};
use serde_json::{Value, json};

/// The metric filters and alarms of today's base template, its parameters at their defaults.
fn template_alarms() -> (Vec<Filter>, Vec<Alarm>) {
    let t: Value = serde_json::from_str(&fixture("../deploy/base.template.json")).unwrap();
    let params: BTreeMap<String, String> = t["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v["Default"].as_u64().map(|d| (k.clone(), d.to_string())))
        .collect();
    cloudwatch::from_template(&t["Resources"], &params).unwrap()
}

/// The real `RunInstances` and `CreateUser` records the attacks are made of (read once).
fn templates() -> &'static (Value, Value) {
    static T: std::sync::OnceLock<(Value, Value)> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let background = launchguard_testkit::invictus_background();
        (
            launchguard_testkit::find_run_instances_template(&background).unwrap(),
            find_iam_template(&background, IamEvent::CreateUser).unwrap(),
        )
    })
}

/// A `RunInstances` record (the real template) at `t` asking for `count` instances.
fn launch(t: &str, count: u64) -> Value {
    let mut r = templates().0.clone();
    r["eventTime"] = json!(t);
    r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = json!(1);
    r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(count);
    let item = r["responseElements"]["instancesSet"]["items"][0].clone();
    r["responseElements"]["instancesSet"]["items"] = json!(vec![item; usize::try_from(count).unwrap()]);
    r
}

/// A real `CreateUser` record at `t`.
fn create_user(t: &str) -> Value {
    let mut r = templates().1.clone();
    r["eventTime"] = json!(t);
    r
}

/// One principal's calls as core's windows see them.
fn points(records: &[Value]) -> Vec<Point> {
    let mut out: Vec<Point> = records
        .iter()
        .map(|v| {
            let text = v.to_string();
            let r = parse_record(&text).unwrap();
            let f = if r.is_event("ec2.amazonaws.com", "RunInstances") { launch_facts(&r) } else { call_facts(&r) };
            Point { t_ms: r.time_ms().unwrap(), launched: f.launched, requested: f.requested, failed: f.failed, dry_run: f.dry_run }
        })
        .collect();
    sort(&mut out);
    out
}

fn bundled(id: &str) -> Rule {
    RuleSet::bundled().unwrap().get(id).unwrap().clone()
}

/// The rule flags the records, and which of today's alarms fire on them (periods aligned to the
/// clock, as CloudWatch aligns them).
fn attack(rule: &str, records: &[Value]) -> Vec<String> {
    let rule = bundled(rule);
    let flagged = judge(&points(records), &rule.horizons_with(&rule.thresholds(false)));
    assert!(!flagged.is_empty(), "the rule {} flags the attack", rule.id);
    let (filters, alarms) = template_alarms();
    cloudwatch::firing(&filters, &alarms, records, 0).unwrap()
}

#[test]
fn attack_one_call_of_15_instances() {
    let fired = attack("ec2-mass-launch", &[launch("2026-03-02T12:00:30Z", 15)]);
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn attack_5_plus_5_across_a_minute_boundary() {
    let fired = attack("ec2-mass-launch", &[launch("2026-03-02T12:04:55Z", 5), launch("2026-03-02T12:05:05Z", 5)]);
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn attack_4_plus_4_create_user_across_an_iam_period_boundary() {
    let mut records: Vec<Value> = (0..4).map(|i| create_user(&format!("2026-03-02T12:09:{:02}Z", 50 + i))).collect();
    records.extend((0..4).map(|i| create_user(&format!("2026-03-02T12:10:{:02}Z", 1 + i))));
    let fired = attack("iam-user-burst", &records);
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn attack_the_calls_alarms_60_s_period_split() {
    // ten calls of one instance, five each side of 12:01:00: 10 calls within 10 s
    let mut records: Vec<Value> = (0..5).map(|i| launch(&format!("2026-03-02T12:00:{:02}Z", 55 + i), 1)).collect();
    records.extend((0..5).map(|i| launch(&format!("2026-03-02T12:01:{:02}Z", i), 1)));
    let fired = attack("ec2-mass-launch", &records);
    assert!(!fired.contains(&"launchguard-runinstances".to_owned()), "{fired:?}");
}
