//! Outside review of the stream's proof of its own queue (branch `rv`): the deploy template seen
//! as an attacker inside the account sees it. Each test asserts the SAFE outcome; one that fails
//! against today's template carries `#[ignore = "rv finding N: ..."]`.

use serde_json::Value;

fn stream_template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/stream.template.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("deploy/stream.template.json")).expect("the stream template is JSON")
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Finding 3. A message on the stream's own queue is now proven (its receipt handle held) and
/// its record carried as delivered by AWS: the dispatcher contains on it without CloudTrail.
/// GIVEN a principal of the account with `sqs:SendMessage` from an identity policy (PowerUser),
/// WHEN it sends a forged EventBridge envelope (a RunInstances burst "by" an innocent role) to
/// `launchguard-stream-dead-letters`, whose alarm then pages the admins, who move the dead
/// letters back to the stream queue (docs/stream.md: "moved back by admins only"), THEN the
/// forged message must never have been accepted: the dead-letter queue's policy denies
/// `sqs:SendMessage` to every principal (SQS moves a message past `maxReceiveCount` itself,
/// without `SendMessage`). Today nothing denies it (docs/stream.md: "sending one there is not
/// denied"), so the forged body, once moved back, arrives through the event source mapping with
/// a real receipt handle, is proven, and its innocent principal is contained on it alone.
/// Seen failing on 68f5cfb; fixed by the statement `NobodySends` (and evaluated with
/// iam-simulate by `e2e/test_iam_simulate.py::test_only_the_stream_rules_write_to_the_stream_queue`).
#[test]
fn rv_nobody_sends_to_the_stream_dead_letter_queue() {
    let t = stream_template();
    let statements = t["Resources"]["StreamDeadLettersPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("StreamDeadLettersPolicy has statements")
        .clone();
    let denies_send_to_all = statements.iter().any(|s| {
        s["Effect"] == "Deny"
            && s["Principal"] == "*"
            && list(&s["Action"]).iter().any(|a| a == "sqs:SendMessage" || a == "sqs:*" || a == "sqs:Send*")
            && s.get("Condition").is_none()
    });
    assert!(denies_send_to_all, "no unconditional Deny of sqs:SendMessage on the dead-letter queue: {statements:#?}");
}

/// Finding 3, by the other door. GIVEN a principal with `sqs:CreateQueue` and `sqs:*` on its own
/// queues, WHEN it creates a queue whose redrive policy names `launchguard-stream-dead-letters`,
/// sends a forged envelope to its own queue and receives it past `maxReceiveCount`, THEN SQS must
/// not move it into the stream's dead-letter queue: that queue's `RedriveAllowPolicy` names the
/// stream queue alone (SQS moves a message to a dead-letter queue without `SendMessage`, so
/// `NobodySends` does not stop this).
#[test]
fn rv_no_other_queue_redrives_into_the_stream_dead_letter_queue() {
    let t = stream_template();
    let allow = &t["Resources"]["StreamDeadLetters"]["Properties"]["RedriveAllowPolicy"];
    assert_eq!(allow["redrivePermission"], "byQueue", "{allow:#}");
    let sources = allow["sourceQueueArns"].as_array().expect("sourceQueueArns");
    assert_eq!(sources.len(), 1, "{allow:#}");
    let queue = t["Resources"]["StreamQueue"]["Properties"]["QueueName"].as_str().expect("the stream queue's name");
    assert_eq!(sources[0]["Fn::Sub"], format!("arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{queue}"));
}

/// Finding 5. rvd finding 7 made a `RunInstances` count written as a string fire an alarm of its
/// own (`launchguard-runinstances-count-not-a-number`), and core reads a string count on every
/// route alike (`capacity::requested`: `"7"` is 7). GIVEN one call of each other launch route
/// asking for 500 instances, its count written as the string `"500"` (the routes' own records of
/// `fixtures/launch-routes/routes.json`), WHEN the bundled launch rule judges it and the rendered
/// filters and alarms see it, THEN an alarm fires for each. Today the rule counts 500 for every
/// one, but none of the route's instances filters matches a string (`>= 1`, `< 0` and
/// `NOT EXISTS` are all false) and the count-not-a-number alarm watches `RunInstances` alone:
/// no datapoint, no alarm, the detector never runs.
#[test]
fn rv_a_string_count_on_every_launch_route_fires_an_alarm() {
    use launchguard_core::launch::launch_facts;
    use launchguard_core::record::parse_record;
    use launchguard_core::rules::RuleSet;
    use launchguard_testkit::cloudwatch;
    use serde_json::json;

    let doc: Value = serde_json::from_str(&launchguard_testkit::fixture("launch-routes/routes.json")).expect("routes fixture");
    let records = doc["Records"].as_array().expect("Records").clone();
    let by_id =
        |n: u32| records.iter().find(|r| r["eventID"].as_str().is_some_and(|e| e.ends_with(&format!("{n:012}")))).cloned().expect("record");
    // eventID's last digits -> the pointer of its count
    let cases = [
        (1, "/requestParameters/desiredCapacity"),
        (2, "/requestParameters/minSize"),
        (4, "/requestParameters/desiredCapacity"),
        (5, "/requestParameters/CreateFleetRequest/TargetCapacitySpecification/TotalTargetCapacity"),
        (7, "/requestParameters/instanceCount"),
        (8, "/requestParameters/spotFleetRequestConfig/targetCapacity"),
        // the routes added with rv finding 1
        (12, "/requestParameters/ModifyFleetRequest/TargetCapacitySpecification/TotalTargetCapacity"),
        (13, "/requestParameters/ModifySpotFleetRequestRequest/TargetCapacity"),
        (14, "/requestParameters/desiredCapacity"),
        (15, "/requestParameters/scalingConfig/desiredSize"),
        (16, "/requestParameters/scalingConfig/desiredSize"),
    ];
    let set = RuleSet::bundled().expect("bundled rules");
    let plan = launchguard_core::alarm_plan::plan(&set).expect("alarm plan");
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    let (filters, alarms) = cloudwatch::from_template(&resources, &std::collections::BTreeMap::new()).expect("filters");
    let mut silent = Vec::new();
    for (n, pointer) in cases {
        let mut r = by_id(n);
        *r.pointer_mut(pointer).expect(pointer) = json!("500");
        let text = r.to_string();
        // a resize read alone counts 0 (rv finding 6: its increase needs the group's size
        // before); core reads its string size as 500 all the same
        let f = launch_facts(&parse_record(&text).expect("record"));
        let read = if f.set_size.as_ref().is_some_and(|s| s.change == launchguard_core::capacity::Change::Resize) {
            f.set_size.map_or(0, |s| s.size)
        } else {
            f.requested
        };
        assert_eq!(read, 500, "core counts the string count of record {n}");
        if cloudwatch::firing(&filters, &alarms, std::slice::from_ref(&r), 0).expect("firing").is_empty() {
            silent.push(format!("{} ({pointer})", r["eventName"]));
        }
    }
    assert!(silent.is_empty(), "500 instances asked for, no alarm fires: {silent:?}");
}
