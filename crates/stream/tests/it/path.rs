//! The stream path on real records: a burst crosses a horizon and makes exactly one finding,
//! carrying the events that crossed it, naming its path and how fast; an innocent makes none.

use launchguard_core::contract::FindingVerdict;
use launchguard_core::principal::Principal;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::{Outcome, handle_batch, handle_event};

use crate::common::{FakeLambda, after, batch, benign, bodies, config, deployer, intact, queue};

#[tokio::test]
async fn a_burst_makes_exactly_one_finding_and_an_innocent_none() {
    // GIVEN ci-deployer launching 3 x 4 instances within 14 s (threshold 10 in 5 min), and
    // benign launching 2 x 1, interleaved in one batch
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let mut all = bodies(deployer(), 3, 4, 1);
    all.extend(bodies(benign(), 2, 1, 2));
    // WHEN the batch is handled
    let (resp, report) = handle_batch(&batch(&all), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN nothing failed, and one finding went to the dispatcher: ci-deployer's
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1, "{report:?}");
    let f = &findings[0];
    assert_eq!(f.verdict, FindingVerdict::Contain);
    assert_eq!(f.detector, "launchguard-stream/ec2-mass-launch");
    assert_eq!(f.read.method, "eventbridge_stream");
    assert_eq!(f.principals.len(), 1);
    let p = &f.principals[0];
    assert!(matches!(&p.principal, Principal::IamUser { user_name, .. } if user_name == "ci-deployer"));
    assert_eq!(p.activity.instances_launched, 12);
    // carrying the events that crossed it: 3 calls make 10 (4 + 4 + 4)
    let ev = p.evidence.as_ref().unwrap();
    assert_eq!(ev.events.len(), 3);
    assert!(ev.events.iter().all(|e| e.event_id.starts_with("00000000-0000-4000-8000-000001")));
    // the page says the path and how long after the first event: 21 s to the third call + 2 s
    let trigger = f.trigger.as_ref().unwrap();
    assert_eq!(trigger.name, "EventBridge stream (caught 23 s after the first event)");
    assert!(report.outcomes().any(|o| matches!(o, Outcome::Sent { seconds_after_first_event: 23, .. })));
}

#[tokio::test]
async fn events_after_the_finding_add_no_second_one() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let all = bodies(deployer(), 8, 4, 1);
    for b in &all {
        handle_event(b, false, &cfg, &store, &lambda, &intact(), after(8)).await.unwrap();
    }
    assert_eq!(lambda.findings().len(), 1);
    let o = handle_event(&bodies(deployer(), 9, 4, 1)[8], false, &cfg, &store, &lambda, &intact(), after(9)).await.unwrap();
    let sent = lambda.findings()[0].finding_id.clone();
    assert_eq!(o, [Outcome::AlreadyClaimed { finding_id: sent, counted: true }]);
    assert_eq!(lambda.findings().len(), 1);
}

#[tokio::test]
async fn a_redelivered_crossing_event_says_it_was_counted_before_and_names_the_finding_that_holds_the_incident() {
    // GIVEN the burst found: its crossing event (the third) made the finding
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let three = bodies(deployer(), 3, 4, 1);
    handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    let sent = lambda.findings()[0].finding_id.clone();
    // WHEN SQS delivers the crossing event again
    let cap = launchguard_aws::logs::Capture::default();
    let (resp, report) = {
        let _g = cap.start();
        handle_batch(&batch(&three[2..]), &cfg, &store, &lambda, queue(), &intact(), after(3)).await
    };
    // THEN it is a redelivery that counted nothing, held by the finding sent: no second one
    assert!(resp.batch_item_failures.is_empty());
    let outcomes: Vec<&Outcome> = report.outcomes().collect();
    assert_eq!(outcomes, [&Outcome::AlreadyClaimed { finding_id: sent.clone(), counted: false }]);
    assert_eq!(lambda.findings().len(), 1);
    // the batch log (the function prints the report as JSON) says so in those words
    let logged = serde_json::to_value(&report).unwrap();
    assert_eq!(logged["messages"][0][1]["Ok"][0], serde_json::json!({"outcome": "already_claimed", "finding_id": sent, "counted": false}));
    // and the function's log line says, in words, a redelivery held by that finding
    let line = cap.text().lines().find(|l| l.contains(&sent)).map(str::to_owned).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    let message = v["fields"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("redelivered event, counted before and not again;"), "{line}");
    assert!(message.contains("already has its finding, sent to the dispatcher: nothing sent"), "{line}");
    assert_eq!(v["fields"]["redelivery"], true, "{line}");
    assert!(launchguard_aws::logs::unsafe_lines(&cap.text()).is_empty());
}

#[tokio::test]
async fn three_writes_an_event_and_none_for_an_event_no_rule_watches() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let all = bodies(benign(), 2, 1, 2);
    handle_batch(&batch(&all), &cfg, &store, &lambda, queue(), &intact(), after(2)).await;
    // each event: its id item, its event item and its bucket (issue 26: the id item is what a
    // proven delivery finds an unproven copy by, whatever time the copy carried)
    assert_eq!(store.writes.load(std::sync::atomic::Ordering::SeqCst), 6);
    // a DescribeInstances call: no rule, nothing written
    let mut other: serde_json::Value = serde_json::from_str(&all[0]).unwrap();
    other["detail"]["eventName"] = "DescribeInstances".into();
    other["detail"]["eventID"] = "11111111-0000-4000-8000-000000000000".into();
    let o = handle_event(&other.to_string(), false, &cfg, &store, &lambda, &intact(), after(2)).await.unwrap();
    assert_eq!(o, vec![Outcome::Ignored]);
    assert_eq!(store.writes.load(std::sync::atomic::Ordering::SeqCst), 6);
}

/// rvd finding 5 on the stream path: one `CreateAutoScalingGroup` asking for 500 instances
/// (`fixtures/launch-routes/routes.json`) is a finding for the user who asked, counted as the
/// 500 instances requested; AWS's own launches for the group are not needed to see it.
#[tokio::test]
async fn a_group_of_500_asked_through_auto_scaling_is_a_finding_for_its_caller() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let doc: serde_json::Value = serde_json::from_str(&launchguard_testkit::fixture("launch-routes/routes.json")).unwrap();
    let mut group = doc["Records"][0].clone();
    group["eventTime"] = serde_json::json!(crate::common::at().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let body = launchguard_testkit::eventbridge::eventbridge_event(&group, crate::common::ACCOUNT, crate::common::REGION).to_string();
    handle_event(&body, false, &cfg, &store, &lambda, &intact(), after(1)).await.unwrap();
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    let p = &findings[0].principals[0];
    assert!(matches!(&p.principal, Principal::IamUser { user_name, .. } if user_name == "mallory"), "{:?}", p.principal);
    assert_eq!(p.activity.instances_requested, 500);
    assert_eq!(p.evidence.as_ref().unwrap().events.len(), 1);
}
