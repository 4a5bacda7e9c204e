//! Outside attack review (ra): the metric half of ra finding 1 (see `crates/core/tests/it/ra.rs`),
//! on the CloudWatch model of `launchguard_testkit::cloudwatch`. Each test asserts the SAFE outcome.

use std::collections::BTreeMap;

use launchguard_core::rules::RuleSet;
use launchguard_testkit::cloudwatch;
use serde_json::{Value, json};

fn create_asg(request: Value) -> Value {
    json!({
        "eventVersion": "1.09", "eventTime": "2026-03-02T09:00:29Z", "eventID": "7a000000-0000-4000-8000-00000000ra01",
        "awsRegion": "us-east-1", "eventSource": "autoscaling.amazonaws.com", "eventName": "CreateAutoScalingGroup",
        "sourceIPAddress": "autoscaling.amazonaws.com", "userAgent": "autoscaling.amazonaws.com",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLESLR:s",
            "arn": "arn:aws:sts::218007301253:assumed-role/AWSServiceRoleForAutoScaling/s", "accountId": "218007301253"},
        "recipientAccountId": "218007301253", "requestParameters": request, "responseElements": null,
    })
}

fn instances_published(r: &Value) -> f64 {
    let set = RuleSet::bundled().unwrap();
    let plan = launchguard_core::alarm_plan::plan(&set).unwrap();
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, _) = cloudwatch::from_template(&resources, &BTreeMap::new()).unwrap();
    let d = cloudwatch::datapoints(&filters, std::slice::from_ref(r)).unwrap();
    d.get(launchguard_core::alarm::INSTANCES_METRIC).map_or(0.0, |v| v.iter().map(|(_, x)| x).sum())
}

/// ra finding 1, its metric half. Core reads a count field without regard to its first letter
/// (`"DesiredCapacity": 1000` is a create of 1000, which sets the group's prior size and explains
/// an instances datapoint of 1000 in the detector's `unexplained`), but the instances filters
/// name `$.requestParameters.desiredCapacity` exactly: the forged create publishes nothing, so
/// the alarm's datapoint is the real resize's 1000 alone, which the forged create "explains".
///
/// Today: 0 published (this test fails). Suggested fix: read count fields exactly as CloudTrail
/// writes them (as the filters do), or publish `MAX_THRESHOLD` for a launch route whose count
/// fields are absent in the written case but present in another.
#[test]
#[ignore = "ra finding 1 (metric half, still open): the instances filters do not publish a create whose count field is written in another case; core no longer takes a prior size from it nor lets it explain a datapoint (SECURITY.md)"]
fn a_count_core_reads_is_one_the_instances_metric_publishes() {
    let forged = create_asg(json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "DesiredCapacity": 1000}));
    let core =
        launchguard_core::capacity::requested(launchguard_core::capacity::Route::CreateAutoScalingGroup, &forged["requestParameters"]);
    assert_eq!(core, Some(1000), "core reads the create as 1000");
    assert!(instances_published(&forged) >= 1000.0, "the instances metric publishes {}", instances_published(&forged));
}

/// Held: the same create in CloudTrail's case publishes its 1000.
#[test]
fn a_create_in_the_written_case_publishes_its_count() {
    let r = create_asg(json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "desiredCapacity": 1000}));
    assert_eq!(instances_published(&r), 1000.0);
}
