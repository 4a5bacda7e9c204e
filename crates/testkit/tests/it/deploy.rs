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
    assert_eq!(r["RunInstancesMetricFilter"]["Properties"]["FilterPattern"], EventRule::run_instances().filter_pattern());
    let metric = &r["RunInstancesMetricFilter"]["Properties"]["MetricTransformations"][0];
    let alarm = &r["RunInstancesAlarm"]["Properties"];
    assert_eq!((&alarm["Namespace"], &alarm["MetricName"]), (&metric["MetricNamespace"], &metric["MetricName"]));
    // the detector tells what a datapoint counts by these names
    assert_eq!(alarm["MetricName"], launchguard_core::alarm::CALLS_METRIC);
    assert_eq!(r["RunInstancesInstancesAlarm"]["Properties"]["MetricName"], launchguard_core::alarm::INSTANCES_METRIC);
    assert_eq!(alarm["AlarmActions"][0]["Ref"], "AlarmTopic");
    assert_eq!(alarm["Statistic"], "Sum");
    // one role per function, from policies/, named so that launchguard always protects it
    for f in [
        "launchguard-detector",
        "launchguard-dispatcher",
        "launchguard-accesskey-handler",
        "launchguard-iam-handler",
        "launchguard-ec2-handler",
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
    let f = &r["RunInstancesInstancesMetricFilter"]["Properties"];
    let value = f["MetricTransformations"][0]["MetricValue"].as_str().unwrap();
    assert_eq!(value, "$.requestParameters.instancesSet.items[0].maxCount");
    let pattern = f["FilterPattern"].as_str().unwrap();
    assert!(pattern.contains(&format!("({value} = *)")), "the pattern must match the value field: {pattern}");
    // issue 23: a dry run (or any failed call) launches nothing: the instances metric leaves it out
    assert!(pattern.contains("($.errorCode NOT EXISTS)"), "{pattern}");
    assert!(pattern.starts_with(&EventRule::run_instances().filter_pattern().trim_end_matches(" }").to_owned()), "{pattern}");
    // both alarms feed the detector's topic, and both are in ALARM_ARNS
    for alarm in ["RunInstancesAlarm", "RunInstancesInstancesAlarm", "RunInstancesInstances1hAlarm", "RunInstancesInstances24hAlarm"] {
        assert_eq!(r[alarm]["Properties"]["AlarmActions"][0]["Ref"], "AlarmTopic", "{alarm}");
        let arns = t["Outputs"]["AlarmArns"]["Value"]["Fn::Join"][1].as_array().unwrap();
        assert!(arns.iter().any(|a| a["Fn::GetAtt"][0] == alarm), "{alarm}");
    }
    assert_eq!(
        r["RunInstancesInstancesAlarm"]["Properties"]["MetricName"], f["MetricTransformations"][0]["MetricName"],
        "the instances alarm watches the instances metric"
    );
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
    let t: Value = serde_json::from_str(&fixture("../deploy/base.template.json")).unwrap();
    let r = t["Resources"].as_object().unwrap();
    let set = launchguard_core::rules::RuleSet::bundled().unwrap();
    let rule = set.get(launchguard_core::rules::EC2_MASS_LAUNCH).unwrap();
    assert!(rule.horizons.len() >= 3, "the seed's 5 minutes, and longer horizons");
    for h in &rule.horizons {
        let mine: Vec<&Value> = r
            .values()
            .filter(|v| v["Type"] == "AWS::CloudWatch::Alarm")
            .map(|v| &v["Properties"])
            .filter(|p| p["MetricName"] == launchguard_core::alarm::INSTANCES_METRIC && p["Period"].as_u64() == Some(h.window_seconds))
            .collect();
        assert_eq!(mine.len(), 1, "{h:?}");
        assert!(rule.fired_by(mine[0]["AlarmName"].as_str().unwrap()), "{h:?}");
        let param = mine[0]["Threshold"]["Ref"].as_str().unwrap();
        let default = t["Parameters"][param]["Default"].as_u64().unwrap();
        assert!(default <= h.threshold.div_ceil(2), "{param}: {default} for {h:?}");
    }
}
