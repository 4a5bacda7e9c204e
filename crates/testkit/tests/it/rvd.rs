//! Outside review of detection (branch `rvd`): the metric filters and alarms rendered from the
//! rules against what the rules count, on the CloudWatch model of `launchguard_testkit::cloudwatch`.
//! Each test asserts the SAFE outcome; those that fail today carry `#[ignore = "rvd finding N: ..."]`.

use std::collections::BTreeMap;

use launchguard_core::rules::RuleSet;
use launchguard_core::windows::judge;
use launchguard_testkit::cloudwatch;
use serde_json::{Value, json};

/// The real template launching `count` instances at `t`, its counts written as JSON strings
/// (`"maxCount": "12"`), as some exports write them and as core's reader accepts them.
fn launch_with_string_counts(t: &str, count: u64) -> Value {
    let mut r = launchguard_testkit::run_instances_template();
    r["eventTime"] = json!(t);
    r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = json!(count.to_string());
    r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(count.to_string());
    let item = r["responseElements"]["instancesSet"]["items"][0].clone();
    r["responseElements"]["instancesSet"]["items"] = json!(vec![item; usize::try_from(count).unwrap()]);
    r
}

/// Finding 7. GIVEN one launch of 12 instances whose `maxCount` is the string `"12"`, WHEN the
/// bundled rule judges it and the rendered filters and alarms see it, THEN an alarm of the rule
/// fires (it is what wakes the detector). Today core counts 12 and flags the caller, but none of
/// the three instances filters matches (`>= 1`, `< 1` and `NOT EXISTS` are all false for a
/// string): no datapoint, no alarm, the detector never runs.
#[test]
fn rvd_a_count_written_as_a_string_still_fires_an_alarm() {
    let records = vec![launch_with_string_counts("2026-03-02T12:00:30Z", 12)];
    let set = RuleSet::bundled().unwrap();
    let rule = set.get("ec2-mass-launch").unwrap();
    let points = crate::alarms::points(&records);
    assert!(!judge(&points, &rule.horizons_with(&rule.thresholds(false))).is_empty(), "the rule flags 12 instances");
    let plan = launchguard_core::alarm_plan::plan(&set).unwrap();
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, alarms) = cloudwatch::from_template(&resources, &BTreeMap::new()).unwrap();
    let fired = cloudwatch::firing(&filters, &alarms, &records, 0).unwrap();
    assert!(fired.iter().any(|a| a.starts_with("launchguard-runinstances")), "no alarm fires: {fired:?}");
}

/// Finding 7, the other side: the alarm on counts that are not numbers stays silent on what
/// CloudTrail writes (a number: the real template, a failed launch, a dry run, one omitted), and
/// fires on a count written as a string whatever its value, alone in its period.
#[test]
fn rvd_the_alarm_on_counts_that_are_not_numbers_fires_on_those_alone() {
    let set = RuleSet::bundled().unwrap();
    let plan = launchguard_core::alarm_plan::plan(&set).unwrap();
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, alarms) = cloudwatch::from_template(&resources, &BTreeMap::new()).unwrap();
    let unread: Vec<_> = alarms.iter().filter(|a| a.minus.is_some()).cloned().collect();
    assert_eq!(unread.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["launchguard-runinstances-count-not-a-number"]);
    let at = |i: u32| format!("2026-03-02T12:{:02}:30Z", i);
    let mut numeric = Vec::new();
    for (i, (code, count)) in
        [(None, 1u64), (None, 500), (Some("Client.InstanceLimitExceeded"), 12), (Some("Client.DryRunOperation"), 9)].into_iter().enumerate()
    {
        let mut r = launchguard_testkit::run_instances_template();
        r["eventTime"] = json!(at(u32::try_from(i).unwrap()));
        r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(count);
        if let Some(c) = code {
            r["errorCode"] = json!(c);
            r["responseElements"] = Value::Null;
        }
        numeric.push(r);
    }
    let mut omitted = launchguard_testkit::run_instances_template();
    omitted["eventTime"] = json!(at(9));
    omitted["requestParameters"] = json!({"omitted": true});
    numeric.push(omitted);
    assert_eq!(cloudwatch::firing(&filters, &unread, &numeric, 0).unwrap(), Vec::<String>::new());
    for count in [1u64, 12, 500] {
        let mut records = numeric.clone();
        records.push(launch_with_string_counts("2026-03-02T12:20:30Z", count));
        assert_eq!(cloudwatch::firing(&filters, &unread, &records, 0).unwrap().len(), 1, "a string count of {count}");
    }
}

/// Held: a dry run of 500 publishes nothing to the instances metric, and a failed launch of 12
/// publishes 12 (the rule counts what a failed call asked for).
#[test]
fn rvd_held_dry_runs_publish_nothing_and_failed_launches_publish_what_they_asked() {
    let set = RuleSet::bundled().unwrap();
    let plan = launchguard_core::alarm_plan::plan(&set).unwrap();
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, _) = cloudwatch::from_template(&resources, &BTreeMap::new()).unwrap();
    let mut dry = launchguard_testkit::run_instances_template();
    dry["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(500);
    dry["errorCode"] = json!("Client.DryRunOperation");
    dry["responseElements"] = Value::Null;
    let mut failed = launchguard_testkit::run_instances_template();
    failed["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(12);
    failed["errorCode"] = json!("Client.InstanceLimitExceeded");
    failed["responseElements"] = Value::Null;
    let sum = |r: &Value| -> f64 {
        let d = cloudwatch::datapoints(&filters, std::slice::from_ref(r)).unwrap();
        d.get(launchguard_core::alarm::INSTANCES_METRIC).map_or(0.0, |v| v.iter().map(|(_, x)| x).sum())
    };
    assert_eq!((sum(&dry), sum(&failed)), (0.0, 12.0));
}
