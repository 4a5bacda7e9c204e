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
    assert_eq!(alarm["AlarmActions"][0]["Ref"], "AlarmTopic");
    assert_eq!(alarm["Statistic"], "Sum");
    // one role per function, from policies/, named so that launchguard always protects it
    for f in ["launchguard-detector", "launchguard-dispatcher", "launchguard-accesskey-handler", "launchguard-iam-handler"] {
        assert!(r.as_object().unwrap().values().any(|v| v["@role"] == f), "{f}");
        let role_arn = format!("arn:aws:iam::111122223333:role/{f}-role");
        let always = launchguard_core::ids::ArnPatterns::parse_list(&launchguard_core::guard::ALWAYS_PROTECTED.join(",")).unwrap();
        assert!(always.matching(&role_arn).is_some(), "{role_arn}");
    }
}
