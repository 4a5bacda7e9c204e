//! The CloudFormation metric filter counts exactly what the detector looks for (LocalStack skips
//! metric filters, so this is checked here), and the alarm feeds the topic the detector reads.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::query::EventRule;
use launchguard_testkit::fixture;
use serde_json::Value;

#[test]
fn the_metric_filter_pattern_is_the_detectors() {
    let t: Value = serde_json::from_str(&fixture("../deploy/base.template.json")).unwrap();
    let r = &t["Resources"];
    // issue 30: the metric filters and alarms are rendered from the rule file (wiring stack)
    let plan = launchguard_core::alarm_plan::plan(&launchguard_core::rules::RuleSet::bundled().unwrap()).unwrap();
    let inner = EventRule::run_instances().filter_pattern();
    let inner = inner.trim_end_matches(" }");
    let instances = plan.filters.iter().find(|f| f.metric == launchguard_core::alarm::INSTANCES_METRIC).unwrap();
    assert!(instances.pattern.starts_with(inner), "{}", instances.pattern);
    // the detector tells what a datapoint counts by this name
    assert!(plan.alarms.iter().any(|a| a.metric == launchguard_core::alarm::INSTANCES_METRIC));
    assert!(
        !r.as_object().unwrap().values().any(|v| v["Type"] == "AWS::CloudWatch::Alarm" || v["Type"] == "AWS::Logs::MetricFilter"),
        "no alarm is set by hand in the base template"
    );
    // one role per function, from policies/, named so that launchguard always protects it
    for f in [
        "launchguard-detector",
        "launchguard-dispatcher",
        "launchguard-accesskey-handler",
        "launchguard-iam-handler",
        "launchguard-ec2-handler",
        "launchguard-stream",
    ] {
        assert!(r.as_object().unwrap().values().any(|v| v["@role"] == f), "{f}");
        let role_arn = format!("arn:aws:iam::111122223333:role/{f}-role");
        let always = launchguard_core::ids::ArnPatterns::parse_list(&launchguard_core::guard::ALWAYS_PROTECTED.join(",")).unwrap();
        assert!(always.matching(&role_arn).is_some(), "{role_arn}");
    }
}

/// A CloudWatch Logs JSON selector (`$.a.b[0].c`) on a record: the value it picks, if any.
/// Only what the template uses: dotted keys and `[n]` indexes.
fn select<'a>(record: &'a Value, selector: &str) -> Option<&'a Value> {
    let mut v = record;
    for part in selector.strip_prefix("$.")?.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, Some(rest.strip_suffix(']')?.parse::<usize>().ok()?)),
            None => (part, None),
        };
        v = v.get(key)?;
        if let Some(i) = index {
            v = v.get(i)?;
        }
    }
    Some(v)
}

/// Issue 11, case 1: the alarm counts instances, not only calls. The instances metric filter's
/// value is the requested `maxCount` of the first launch specification: on every real
/// RunInstances record of the fixtures it is a number, and the filter pattern requires it (the
/// CloudWatch Logs documentation: a field used as the metric value must be matched by the
/// pattern, and must be numeric). Limitation, shown below: only `items[0]` is counted, so a
/// multi-item `instancesSet` is under-counted by the metric (never by the detector, which
/// counts every item).
#[test]
fn the_instances_metric_filter_counts_requested_instances_on_real_records() {
    let t: Value = serde_json::from_str(&fixture("../deploy/base.template.json")).unwrap();
    let r = &t["Resources"];
    let plan = launchguard_core::alarm_plan::plan(&launchguard_core::rules::RuleSet::bundled().unwrap()).unwrap();
    let f = plan.filters.iter().find(|f| f.logical_id == "MetricFilterInstancesRequested").unwrap();
    let value = f.value.as_str();
    assert_eq!(value, "$.requestParameters.instancesSet.items[0].maxCount");
    let pattern = f.pattern.as_str();
    // the pattern matches the value field, as a number of at least one (a negative count would
    // take a real launch off the Sum: review30)
    assert!(pattern.contains(&format!("({value} >= 1)")), "the pattern must match the value field: {pattern}");
    // issues 23 and 30: a dry run launches nothing: the instances metric leaves it out (a failed
    // launch still asked for its instances, as the rule counts them)
    assert!(pattern.contains("($.errorCode != \"Client.DryRunOperation\")"), "{pattern}");
    assert!(pattern.starts_with(EventRule::run_instances().filter_pattern().trim_end_matches(" }")), "{pattern}");
    // the base stack's alarm topic accepts the rendered alarms, which the wiring stack holds
    assert_eq!(t["Outputs"]["AlarmArns"]["Value"]["Fn::Join"][1], "@alarm-arns");
    // the scheduled re-check invokes the detector
    assert!(r["RecheckRule"]["Properties"]["Targets"][0]["Arn"]["Fn::Sub"].as_str().unwrap().ends_with(":function:launchguard-detector"));
    // real records: every RunInstances record of every dataset has a numeric maxCount there
    let mut seen = 0;
    for dir in ["cloudtrail/invictus", "cloudtrail/stratus", "cloudtrail/otrf", "cloudtrail/panther", "cloudtrail/custodian"] {
        for (_, text) in launchguard_testkit::fixture_dir(dir) {
            let Ok(doc) = serde_json::from_str::<Value>(&text) else { continue };
            let records = doc.get("Records").and_then(Value::as_array).cloned().unwrap_or_else(|| vec![doc.clone()]);
            for rec in records.iter().filter(|r| r["eventName"] == "RunInstances" && r["eventSource"] == "ec2.amazonaws.com") {
                if rec["requestParameters"].is_null() {
                    continue; // some sanitised datasets drop requestParameters: only the calls metric sees those
                }
                let n = select(rec, value).and_then(Value::as_u64);
                assert!(n.is_some_and(|n| n >= 1), "{dir}: {value} is not a count in {rec}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "real RunInstances records checked: {seen}");
    // one call asking for 500 instances: 1 for the calls metric, 500 for the instances metric
    let mut big = launchguard_testkit::run_instances_template();
    big["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = serde_json::json!(500);
    assert_eq!(select(&big, value).and_then(Value::as_u64), Some(500));
    // the limitation: a second launch specification is not in the metric
    big["requestParameters"]["instancesSet"]["items"] = serde_json::json!([{"minCount": 1, "maxCount": 5}, {"minCount": 1, "maxCount": 7}]);
    assert_eq!(select(&big, value).and_then(Value::as_u64), Some(5), "items[1] is not counted by the metric filter");
}

/// Issue 23: each horizon of the bundled launch rule can fire an alarm: one on the instances
/// metric whose period is the horizon's window, at most half the horizon's threshold (rounded up:
/// a sliding window that holds the threshold puts at least half of it in one period), whose name
/// fires the rule.
#[test]
fn each_horizon_of_the_launch_rule_has_an_alarm() {
    let set = launchguard_core::rules::RuleSet::bundled().unwrap();
    let plan = launchguard_core::alarm_plan::plan(&set).unwrap();
    let rule = set.get(launchguard_core::rules::EC2_MASS_LAUNCH).unwrap();
    assert!(rule.horizons.len() >= 3, "the seed's 5 minutes, and longer horizons");
    for h in &rule.horizons {
        let mine: Vec<_> = plan
            .alarms
            .iter()
            .filter(|a| a.metric == launchguard_core::alarm::INSTANCES_METRIC && a.period_seconds == h.window_seconds)
            .collect();
        assert_eq!(mine.len(), 1, "{h:?}");
        assert!(rule.fired_by(&mine[0].name), "{h:?}");
        assert!(mine[0].threshold <= h.threshold.div_ceil(2), "{} for {h:?}", mine[0].threshold);
    }
}
