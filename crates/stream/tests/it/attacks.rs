//! Hostile input, each written first as the attack: a redelivered event, an event from another
//! account, a forged principal-less event, a 10,000-event poison message, a throttled store, a
//! dispatcher that fails once. Each is refused or counted once, and never makes a finding.

use std::sync::atomic::Ordering;

use launchguard_stream::memory::MemoryStore;
use launchguard_stream::store::series_key;
use launchguard_stream::{Outcome, handle_batch, handle_event};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::Value;

use crate::common::{ACCOUNT, FakeLambda, REGION, after, at, batch, bodies, config, deployer, intact, queue};

pub fn deployer_series() -> String {
    let set = launchguard_core::rules::RuleSet::bundled().unwrap();
    let rule = set.get(launchguard_core::rules::EC2_MASS_LAUNCH).unwrap();
    let first = bodies(deployer(), 1, 4, 1).remove(0);
    let v: Value = serde_json::from_str(&first).unwrap();
    let h = launchguard_core::stream::hit(&rule.event, &v["detail"].to_string(), false).unwrap();
    series_key(&rule.id, &h.principal)
}

#[tokio::test]
async fn a_redelivered_event_counts_once() {
    // GIVEN 2 launches of 4 (8: under 10), each delivered three times, in one batch and again
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let two = bodies(deployer(), 2, 4, 1);
    let thrice: Vec<String> = two.iter().flat_map(|b| [b.clone(), b.clone(), b.clone()]).collect();
    let (resp, report) = handle_batch(&batch(&thrice), &cfg, &store, &lambda, queue(), &intact(), after(2)).await;
    handle_batch(&batch(&thrice), &cfg, &store, &lambda, queue(), &intact(), after(2)).await;
    // THEN 2 calls, 8 instances: no finding
    assert!(resp.batch_item_failures.is_empty());
    let totals = store.totals(&deployer_series());
    assert_eq!((totals.calls, totals.launched), (2, 8));
    assert_eq!(report.outcomes().filter(|o| **o == Outcome::Duplicate).count(), 4);
    assert!(lambda.findings().is_empty());
}

#[tokio::test]
async fn an_event_from_another_account_is_refused_and_counts_nowhere() {
    // GIVEN a burst of 5 x 4 by a user of another account, its envelope ours or its own
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let actor = Actor::IamUser { account: "999988887777".into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() };
    let records = Burst::new(actor, 5, 4, at()).records(&run_instances_template(), 3);
    let mut all: Vec<String> = records.iter().map(|r| eventbridge_event(r, "999988887777", REGION).to_string()).collect();
    all.extend(records.iter().map(|r| eventbridge_event(r, ACCOUNT, REGION).to_string()));
    let (resp, report) = handle_batch(&batch(&all), &cfg, &store, &lambda, queue(), &intact(), after(5)).await;
    // THEN every message is refused (reported, on its way to the DLQ), nothing counted or sent
    assert_eq!(resp.batch_item_failures.len(), 10);
    assert!(report.outcomes().all(|o| matches!(o, Outcome::Refused { .. })));
    assert_eq!(store.event_count(), 0);
    assert!(lambda.findings().is_empty());
}

#[tokio::test]
async fn a_forged_principal_less_event_is_refused() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let forged: Vec<String> = bodies(deployer(), 5, 4, 1)
        .iter()
        .map(|b| {
            let mut v: Value = serde_json::from_str(b).unwrap();
            v["detail"].as_object_mut().unwrap().remove("userIdentity");
            v.to_string()
        })
        .collect();
    let (resp, _) = handle_batch(&batch(&forged), &cfg, &store, &lambda, queue(), &intact(), after(5)).await;
    assert_eq!(resp.batch_item_failures.len(), 5);
    assert_eq!(store.event_count(), 0);
    assert!(lambda.findings().is_empty());
}

#[tokio::test]
async fn a_ten_thousand_event_poison_message_is_reported_and_blocks_nothing() {
    // GIVEN a batch: a real launch, one body of 10,000 events, another real launch
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let real = bodies(deployer(), 2, 4, 1);
    let one: Value = serde_json::from_str(&real[0]).unwrap();
    let poison = Value::Array(vec![one; 10_000]).to_string();
    let (resp, _) =
        handle_batch(&batch(&[real[0].clone(), poison, real[1].clone()]), &cfg, &store, &lambda, queue(), &intact(), after(2)).await;
    // THEN only the poison message is reported failed; both launches are counted
    let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m1"]);
    assert_eq!(store.totals(&deployer_series()).calls, 2);
}

#[tokio::test]
async fn a_throttled_store_fails_the_item_and_its_retry_counts_it_once() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let three = bodies(deployer(), 3, 4, 1);
    // the first request (the first event's record) is throttled
    store.fail_next(1);
    let (resp, _) = handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m0"]);
    assert!(lambda.findings().is_empty(), "8 instances counted: under 10");
    // SQS delivers it again: counted once, and the burst is found
    let (resp, _) = handle_batch(&batch(&three[..1]), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(store.totals(&deployer_series()).calls, 3);
    assert_eq!(lambda.findings().len(), 1);
}

#[tokio::test]
async fn a_dispatcher_that_fails_once_gets_the_finding_on_redelivery_exactly_once() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let three = bodies(deployer(), 3, 4, 1);
    lambda.fail_next.store(1, Ordering::SeqCst);
    let (resp, _) = handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert_eq!(resp.batch_item_failures.len(), 1);
    assert!(lambda.findings().is_empty());
    // the failed message comes again; so does, needlessly, the whole batch
    let again = &resp.batch_item_failures[0].item_identifier;
    let i: usize = again[1..].parse().unwrap();
    handle_batch(&batch(&three[i..=i]), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert_eq!(lambda.findings().len(), 1);
    assert_eq!(store.totals(&deployer_series()).calls, 3);
}

#[tokio::test]
async fn outside_text_reaches_the_log_escaped() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let mut v: Value = serde_json::from_str(&bodies(deployer(), 1, 4, 1)[0]).unwrap();
    v["region"] = "us-east-1\u{202e}\nFAKE".into();
    let o = handle_event(&v.to_string(), false, &cfg, &store, &lambda, &intact(), after(1)).await.unwrap();
    let Outcome::Refused { refusal } = &o[0] else { panic!("{o:?}") };
    let shown = refusal.to_string();
    assert!(!shown.contains('\u{202e}') && !shown.contains('\n'), "{shown}");
}

/// `bodies`, each envelope's `source` replaced by `source`.
fn with_source(bodies: &[String], source: &str) -> Vec<String> {
    bodies
        .iter()
        .map(|b| {
            let mut v: Value = serde_json::from_str(b).unwrap();
            v["source"] = Value::String(source.to_owned());
            v.to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_envelope_aws_did_not_send_is_refused_and_counts_nowhere() {
    // GIVEN a burst of 5 x 4 whose envelopes no AWS service sent: a custom source (what PutEvents
    // allows anyone), another service's, a look-alike, none at all
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let five = bodies(deployer(), 5, 4, 7);
    let mut all = Vec::new();
    for source in ["custom.ec2", "aws.iam", "aws.ec2x", "AWS.EC2", ""] {
        all.extend(with_source(&five, source));
    }
    let sourceless: Vec<String> = five
        .iter()
        .map(|b| {
            let mut v: Value = serde_json::from_str(b).unwrap();
            v.as_object_mut().unwrap().remove("source");
            v.to_string()
        })
        .collect();
    all.extend(sourceless);
    let (resp, report) = handle_batch(&batch(&all), &cfg, &store, &lambda, queue(), &intact(), after(5)).await;
    // THEN every message is refused as not AWS's (on its way to the DLQ), nothing counted or sent
    assert_eq!(resp.batch_item_failures.len(), all.len());
    assert!(
        report.outcomes().all(|o| matches!(o, Outcome::Refused { refusal: launchguard_core::stream::Refusal::NotFromAws { .. } })),
        "{report:?}"
    );
    assert_eq!(store.event_count(), 0);
    assert!(lambda.findings().is_empty());
}

#[tokio::test]
async fn the_finding_carries_its_claims_records_as_aws_delivered_them() {
    // GIVEN a burst of 3 x 4 delivered by AWS (source aws.ec2)
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let three = bodies(deployer(), 3, 4, 8);
    let (resp, _) = handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty());
    // THEN its one finding carries, for its principal, exactly the records of its claims, as sent
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    let p = &findings[0].principals[0];
    let claims: Vec<&str> = p.evidence.as_ref().unwrap().claims().map(|c| c.event_id.as_str()).collect();
    let sent: Vec<String> = three.iter().map(|b| serde_json::from_str::<Value>(b).unwrap()["detail"].to_string()).collect();
    assert_eq!(p.delivered_by_aws.len(), claims.len());
    for (record, id) in p.delivered_by_aws.iter().zip(&claims) {
        let v: Value = serde_json::from_str(record).unwrap();
        assert_eq!(v["eventID"], *id);
        // as sent, less what no check reads (`carried`: tags, instance descriptions)
        let as_carried = |s: &String| serde_json::from_str::<Value>(&launchguard_stream::event::carried(s).unwrap()).unwrap();
        assert!(sent.iter().any(|s| as_carried(s) == v), "a record AWS did not send: {record}");
    }
}
