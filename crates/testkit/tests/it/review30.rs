//! Review 30: "the alarm chain never misses what a rule flags", attacked from the code. Each test
//! asserts the safe outcome: whenever core's one window function (`windows::judge`) flags a rule
//! on one principal's calls, an alarm rendered for that rule (`alarm_plan::plan`, read back from
//! its CloudFormation resources as deploy puts them in the stack) fires under the CloudWatch
//! model of `launchguard_testkit::cloudwatch`, wherever the periods are aligned. A test that
//! fails against today's code is ignored with the defect in one line.

use std::collections::BTreeMap;

use launchguard_core::alarm_plan::plan;
use launchguard_core::launch::launch_facts;
use launchguard_core::record::parse_record;
use launchguard_core::rules::RuleSet;
use launchguard_core::scan::call_facts;
use launchguard_core::windows::{Point, judge, sort};
use launchguard_testkit::cloudwatch;
use launchguard_testkit::iam::{IamEvent, find_iam_template};
use serde_json::{Value, json};

/// The real `RunInstances` and `CreateUser` records of the invictus-ir data set (read once).
fn templates() -> &'static (Value, Value) {
    static T: std::sync::OnceLock<(Value, Value)> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let background = launchguard_testkit::invictus_background_shared();
        (
            launchguard_testkit::find_run_instances_template(background).unwrap(),
            find_iam_template(background, IamEvent::CreateUser).unwrap(),
        )
    })
}

/// A real `RunInstances` record at `t` asking for `count` instances and launching them.
fn launch(t: &str, count: u64) -> Value {
    let mut r = templates().0.clone();
    r["eventTime"] = json!(t);
    r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = json!(1);
    r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(count);
    let item = r["responseElements"]["instancesSet"]["items"][0].clone();
    r["responseElements"]["instancesSet"]["items"] = json!(vec![item; usize::try_from(count).unwrap()]);
    r
}

/// The same principal's `RunInstances` refused by EC2: `errorCode`, no response, and the request
/// as CloudTrail records it, with `minCount`/`maxCount` as sent.
fn refused_launch(t: &str, min_count: i64, max_count: i64) -> Value {
    let mut r = templates().0.clone();
    r["eventTime"] = json!(t);
    r["errorCode"] = json!("Client.InvalidParameterValue");
    r["errorMessage"] = json!("Invalid value for MaxCount");
    r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = json!(min_count);
    r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(max_count);
    r["responseElements"] = Value::Null;
    r
}

/// A real IAM record (the `CreateUser` template) at `t`, as `event_name`.
fn iam_call(t: &str, event_name: &str) -> Value {
    let mut r = templates().1.clone();
    r["eventTime"] = json!(t);
    r["eventName"] = json!(event_name);
    r
}

/// One principal's calls as core's windows see them (the records matching `rule`'s events).
fn points(rule: &launchguard_core::rules::Rule, records: &[Value]) -> Vec<Point> {
    let mut out: Vec<Point> = records
        .iter()
        .filter_map(|v| {
            let text = v.to_string();
            let r = parse_record(&text).unwrap();
            if !rule.event.matches(&r) {
                return None;
            }
            let f = if launchguard_core::capacity::is_launch(&r) { launch_facts(&r) } else { call_facts(&r) };
            Some(Point { t_ms: r.time_ms().unwrap(), launched: f.launched, requested: f.requested, failed: f.failed, dry_run: f.dry_run })
        })
        .collect();
    sort(&mut out);
    out
}

/// Whether `rule_id` of `set` flags `records`, and, when it does, the periods alignments (seconds
/// past the hour, every minute) at which none of the alarms deploy renders for it fires.
fn missed(set: &RuleSet, rule_id: &str, records: &[Value]) -> (bool, Vec<i64>) {
    let rule = set.get(rule_id).unwrap();
    let flagged = !judge(&points(rule, records), &rule.horizons_with(&rule.thresholds(false))).is_empty();
    let p = plan(set).unwrap();
    let resources = p.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, alarms) = cloudwatch::from_template(&resources, &BTreeMap::new()).unwrap();
    let mine: Vec<&str> = p.alarms.iter().filter(|a| a.rule == rule_id).map(|a| a.name.as_str()).collect();
    let silent = (0..3600)
        .step_by(60)
        .filter(|offset_s| {
            let fired = cloudwatch::firing(&filters, &alarms, records, offset_s * 1000).unwrap();
            !fired.iter().any(|a| mine.contains(&a.as_str()))
        })
        .collect();
    (flagged, silent)
}

fn rule_set(rules: Value) -> RuleSet {
    RuleSet::parse(&json!({"schema_version": 1, "rules": rules}).to_string(), "review30").unwrap()
}

fn calls_rule(id: &str, event: &str, threshold: u64, alarm: &str) -> Value {
    json!({"id": id, "event_source": "iam.amazonaws.com", "event_names": [event], "counts": "calls",
           "horizons": [{"window_seconds": 600, "threshold": threshold}], "actions": [], "alarms": [alarm]})
}

/// Two rule ids whose CamelCase is one (`burst-1` and `burst1` are both `Burst1`): their metric
/// (`Burst1Calls`), metric filter (`MetricFilterBurst1Calls`) and alarm (`AlarmBurst1Calls600`)
/// get one logical id. `plan` keeps the first rule's filter, `resources` the second rule's alarm:
/// the first rule has no alarm at all, the second an alarm on the first rule's events.
#[test]
fn review30_rules_whose_ids_camel_case_alike_each_keep_an_alarm_that_fires() {
    let set = rule_set(json!([
        calls_rule("burst-1", "CreateUser", 5, "launchguard-users-*"),
        calls_rule("burst1", "CreateAccessKey", 3, "launchguard-keys-*"),
    ]));
    let p = plan(&set).expect("the renderer accepts the rule file");
    let resources = p.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let deployed = resources.as_object().unwrap().values().filter(|r| r["Type"] == "AWS::CloudWatch::Alarm").count();
    let users: Vec<Value> = (0..5).map(|i| iam_call(&format!("2026-03-02T12:00:{:02}Z", 10 + i), "CreateUser")).collect();
    let keys: Vec<Value> = (0..3).map(|i| iam_call(&format!("2026-03-02T12:00:{:02}Z", 10 + i), "CreateAccessKey")).collect();
    let (users_flagged, users_silent) = missed(&set, "burst-1", &users);
    let (keys_flagged, keys_silent) = missed(&set, "burst1", &keys);
    assert!(users_flagged && keys_flagged, "each rule flags its attack");
    assert_eq!(deployed, p.alarms.len(), "every planned alarm is a resource of the stack");
    assert!(users_silent.is_empty(), "burst-1 flags 5 CreateUser; none of its alarms fires at +{users_silent:?} s");
    assert!(keys_silent.is_empty(), "burst1 flags 3 CreateAccessKey; none of its alarms fires at +{keys_silent:?} s");
}

/// The same collision between one rule's failed-calls horizon and another rule's calls: rule
/// `keys` with `min_failed_calls` renders `KeysFailedCalls` / `AlarmKeysFailedCalls600`, rule
/// `keys-failed` counting calls renders `KeysFailed`+`Calls` / `AlarmKeysFailedCalls600`.
#[test]
fn review30_a_failed_calls_horizon_and_another_rules_calls_each_keep_an_alarm_that_fires() {
    let mut keys = calls_rule("keys", "CreateAccessKey", 3, "launchguard-keys-*");
    keys["min_failed_calls"] = json!(2);
    let set = rule_set(json!([keys, calls_rule("keys-failed", "CreateUser", 5, "launchguard-users-*")]));
    let users: Vec<Value> = (0..5).map(|i| iam_call(&format!("2026-03-02T12:00:{:02}Z", 10 + i), "CreateUser")).collect();
    let (flagged, silent) = missed(&set, "keys-failed", &users);
    assert!(flagged, "keys-failed flags 5 CreateUser");
    assert!(silent.is_empty(), "keys-failed flags 5 CreateUser; none of its alarms fires at +{silent:?} s");
    let mut denied: Vec<Value> = (0..2).map(|i| iam_call(&format!("2026-03-02T12:00:{:02}Z", 10 + i), "CreateAccessKey")).collect();
    for r in &mut denied {
        r["errorCode"] = json!("AccessDenied");
        r["responseElements"] = Value::Null;
    }
    let (flagged, silent) = missed(&set, "keys", &denied);
    assert!(flagged, "keys flags 2 failed CreateAccessKey");
    assert!(silent.is_empty(), "keys flags 2 failed CreateAccessKey; none of its alarms fires at +{silent:?} s");
}

/// One launch of 15 instances and, in the same second, one refused call whose `maxCount` is
/// negative. Core reads the refused call as one instance requested (a negative count is not a
/// count: `minCount`, else 1), so 16 within 5 min: flagged. The instances metric filter publishes
/// `maxCount` as it is written: 15 + (-1,000,000) in every period, and no instances alarm fires.
#[test]
fn review30_a_refused_launch_with_a_negative_max_count_does_not_silence_the_instances_alarms() {
    let set = RuleSet::bundled().unwrap();
    let records = [launch("2026-03-02T12:00:30Z", 15), refused_launch("2026-03-02T12:00:30Z", 1, -1_000_000)];
    let (flagged, silent) = missed(&set, "ec2-mass-launch", &records);
    assert!(flagged, "15 instances and a refused call within 5 min flag ec2-mass-launch");
    assert!(silent.is_empty(), "ec2-mass-launch flags; none of its alarms fires at +{silent:?} s");
}

/// The control of the test above: the launch alone fires (so the negative count is what hides it).
#[test]
fn review30_control_the_launch_alone_fires_the_instances_alarm() {
    let set = RuleSet::bundled().unwrap();
    let (flagged, silent) = missed(&set, "ec2-mass-launch", &[launch("2026-03-02T12:00:30Z", 15)]);
    assert!(flagged && silent.is_empty(), "silent at +{silent:?} s");
}

/// Ten refused calls asking for 0 instances (`minCount` = `maxCount` = 0) within a minute: core
/// counts each as one instance requested (a call that is not a dry run asked for at least one),
/// 10 within 5 min, and flags; the metric adds `maxCount`, 0, and no alarm fires.
#[test]
fn review30_refused_launches_of_zero_instances_are_counted_alike_by_core_and_the_metric() {
    let set = RuleSet::bundled().unwrap();
    let records: Vec<Value> = (0..10).map(|i| refused_launch(&format!("2026-03-02T12:00:{:02}Z", 10 + i), 0, 0)).collect();
    let (flagged, silent) = missed(&set, "ec2-mass-launch", &records);
    assert!(!flagged || silent.is_empty(), "ec2-mass-launch flags 10 calls of 0 instances; none of its alarms fires at +{silent:?} s");
}

/// A dry run (`Client.DryRunOperation`) of an IAM event: neither counts it. Withstood.
#[test]
fn review30_withstood_dry_runs_and_failed_calls_of_a_calls_rule_count_alike() {
    let set = RuleSet::bundled().unwrap();
    let mut records: Vec<Value> = (0..3).map(|i| iam_call(&format!("2026-03-02T12:00:{:02}Z", 10 + i), "CreateAccessKey")).collect();
    for (r, code) in records.iter_mut().zip(["AccessDenied", "Client.DryRunOperation", "LimitExceeded"]) {
        r["errorCode"] = json!(code);
        r["responseElements"] = Value::Null;
    }
    records.push(iam_call("2026-03-02T12:00:20Z", "CreateAccessKey"));
    // 3 attempts (one dry run left out) reach iam-access-key-burst's 3 in 10 min
    let (flagged, silent) = missed(&set, "iam-access-key-burst", &records);
    assert!(flagged && silent.is_empty(), "flagged {flagged}, silent at +{silent:?} s");
}

/// The largest value `deploy/settings.py` accepts for `key` (`_int(lo, hi)`).
fn settings_max(key: &str) -> u64 {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/settings.py")).unwrap();
    let line = text.lines().find(|l| l.trim_start().starts_with(&format!("\"{key}\""))).unwrap();
    let args = line.split("_int(").nth(1).unwrap().split(')').next().unwrap();
    args.split(',').nth(1).unwrap().trim().parse().unwrap()
}

/// While an alarm stays in `ALARM`, CloudWatch sends nothing more: only the scheduled re-check
/// (every `RECHECK_RATE_MINUTES`, settings accept 1 to 60) reads again, each time
/// `[now - 2 x Period x EvaluationPeriods - margin_before, now]` (`WindowPolicy::primary`). A
/// burst is read by some re-check only when consecutive reads overlap by the delivery delay the
/// alarms allow for (`LATE_DELIVERY_SECONDS`). A rule with one 5-minute horizon: its alarm
/// (300 s x 4) is re-read over 45 minutes; at 60 minutes between re-checks, a burst made while the
/// alarm stays in `ALARM` (the account's other launches, or one call CloudTrail omitted the request
/// of, which counts as 1,000,000, keep it there) falls between two reads and is never judged.
#[test]
fn review30_every_recheck_rate_settings_accept_rereads_each_alarm_without_a_gap() {
    use launchguard_core::alarm::{AlarmDelivery, AlarmState, AlarmStateChange, Provenance};
    use launchguard_core::alarm_plan::LATE_DELIVERY_SECONDS;
    use launchguard_core::window::WindowPolicy;

    let rate_max_s = settings_max("RECHECK_RATE_MINUTES") * 60;
    let one_horizon = json!({"id": "fast-launch", "event_source": "ec2.amazonaws.com", "event_names": ["RunInstances"],
        "counts": "instances", "horizons": [{"window_seconds": 300, "threshold": 10}], "actions": [], "alarms": ["launchguard-fast-*"]});
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let policy = WindowPolicy::default();
    let mut gaps = Vec::new();
    for set in [RuleSet::bundled().unwrap(), rule_set(json!([one_horizon]))] {
        for a in plan(&set).unwrap().alarms {
            let alarm = AlarmStateChange {
                alarm_name: a.name.clone(),
                alarm_arn: Some(format!("arn:aws:cloudwatch:us-east-1:111122223333:alarm:{}", a.name)),
                account_id: Some("111122223333".into()),
                region: Some("us-east-1".into()),
                new_state: AlarmState::Alarm,
                old_state: None,
                reason: None,
                datapoints: Vec::new(),
                state_change_time: now,
                period_seconds: u32::try_from(a.period_seconds).unwrap(),
                period_provenance: Provenance::Declared,
                evaluation_periods: a.evaluation_periods,
                evaluation_periods_provenance: Provenance::Declared,
                metric_math: false,
                metric_name: Some(a.metric.clone()),
                delivery: AlarmDelivery::Scheduled,
            };
            let read = policy.primary(&alarm).unwrap();
            // what the re-check reads before `now`, against what passed since the last one (and late)
            let back_s = u64::try_from((now - read.start).num_seconds()).unwrap();
            if back_s < rate_max_s + LATE_DELIVERY_SECONDS {
                gaps.push(format!("{} ({}): re-read {back_s} s back, re-checks up to {rate_max_s} s apart", a.name, a.rule));
            }
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}

/// `LG_QUERY_DEADLINE_SECONDS` ("overall time for reading") is accepted up to 840 s, but the
/// detector runs with the timeout of its `[package.metadata.lambda.deploy]`: a deadline past it
/// is never reached; Lambda ends the function mid-read, and what the detector does with a read cut
/// by its deadline (judge what was read, say it is incomplete, retry) never happens.
#[test]
fn review30_the_read_deadline_settings_accept_ends_before_the_detectors_timeout() {
    let cargo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../detector/Cargo.toml")).unwrap();
    let deploy = cargo.split("[package.metadata.lambda.deploy]").nth(1).unwrap();
    let timeout: u64 = deploy.lines().find_map(|l| l.trim().strip_prefix("timeout =")).unwrap().trim().parse().unwrap();
    let deadline = settings_max("LG_QUERY_DEADLINE_SECONDS");
    assert!(deadline < timeout, "LG_QUERY_DEADLINE_SECONDS is accepted up to {deadline} s; the detector's timeout is {timeout} s");
}
