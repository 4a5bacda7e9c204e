//! Outside review of the proof of the stream's own queue (branch `rv`). Each test states the
//! attack and asserts the SAFE outcome. Finding 4 (a forged, unproven finding held the
//! principal's claim) was seen failing on 68f5cfb and is fixed: an unproven claim gives way to
//! one proven finding, once.

use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::{Outcome, handle_batch};

use crate::common::{FakeLambda, QUEUE_ARN, after, bodies, config, deployer, forged_batch, intact, queue};
use launchguard_core::contract::Finding;

/// Finding 4. GIVEN someone with `lambda:InvokeFunction` on launchguard-stream (the threat the
/// proof answers) hands it a forged burst of ci-deployer's (3 x 4 instances, eventIDs CloudTrail
/// never wrote): it is counted, unproven, and its finding (nothing carried as delivered by AWS)
/// goes to the dispatcher, which finds none of its records in CloudTrail and contains no one.
/// WHEN ci-deployer's real burst then arrives through the stream's own queue (every message
/// proven), THEN the stream sends a finding that carries the real records, so the dispatcher
/// contains at once. Today the forged finding holds ci-deployer's claim for the longest horizon:
/// the real crossing is "already claimed" and nothing is sent; the fast path is switched off for
/// that principal by anyone who may invoke the function, and the burst waits for the alarms.
#[tokio::test]
async fn rv_a_forged_unproven_finding_does_not_hold_back_the_real_bursts_finding() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let forged = forged_batch(&bodies(deployer(), 3, 4, 0x71), QUEUE_ARN, "AQEBforged");
    let (_, report) = handle_batch(&forged, &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert_eq!(report.unproven.len(), 3, "{report:?}");
    assert_eq!(lambda.findings().len(), 1, "the forged burst is still counted and found");

    let q = MemoryQueue::new(QUEUE_ARN);
    let real = q.receive(&bodies(deployer(), 3, 4, 0x72));
    let (resp, report) = handle_batch(&real, &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert!(report.unproven.is_empty(), "{report:?}");
    let carried: Vec<usize> = lambda.findings().iter().map(|f| f.principals[0].delivered_by_aws.len()).collect();
    let outcomes: Vec<&Outcome> = report.outcomes().collect();
    assert!(
        carried.iter().any(|&n| n > 0),
        "no finding carries the real burst's proven records (records carried per finding: {carried:?}); the real batch: {outcomes:?}"
    );
}

/// The findings' records carried as delivered by AWS, one count per finding sent.
fn carried(lambda: &FakeLambda) -> Vec<usize> {
    lambda.findings().iter().map(|f: &Finding| f.principals[0].delivered_by_aws.len()).collect()
}

/// Finding 4, as a page flood. GIVEN someone who invokes launchguard-stream with 20 forged bursts
/// of ci-deployer's (eventIDs of their own each time), WHEN the real burst comes through the
/// queue, and then 20 more forged bursts and a second real burst inside the same incident, THEN
/// the stream sends two findings in all: one unproven (the first forged burst's) and one proven
/// (the real burst's records): no forged burst makes a second unproven finding, and no burst,
/// forged or real, makes a second proven one.
#[tokio::test]
async fn rv_forged_bursts_make_one_unproven_finding_and_real_ones_one_proven_finding_per_incident() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let forge = |seed: u32| forged_batch(&bodies(deployer(), 3, 4, seed), QUEUE_ARN, "AQEBforged");
    for i in 0..20 {
        let (resp, _) = handle_batch(&forge(0x1000 + i), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
        assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    }
    assert_eq!(carried(&lambda), vec![0], "one unproven finding for 20 forged bursts");
    let q = MemoryQueue::new(QUEUE_ARN);
    let (resp, _) = handle_batch(&q.receive(&bodies(deployer(), 3, 4, 0x2000)), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(carried(&lambda), vec![0, 3], "the real burst's finding carries its 3 records");
    for i in 0..20 {
        handle_batch(&forge(0x3000 + i), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    }
    let (_, report) = handle_batch(&q.receive(&bodies(deployer(), 3, 4, 0x4000)), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert_eq!(carried(&lambda), vec![0, 3], "nothing more in the same incident");
    assert!(report.outcomes().all(|o| matches!(o, Outcome::AlreadyClaimed { .. })), "{report:?}");
    let ids: Vec<String> = lambda.findings().iter().map(|f| f.finding_id.clone()).collect();
    assert_ne!(ids[0], ids[1], "the proven finding has an id of its own (the same window as the forged one)");
}

/// Finding 4, mixed. GIVEN ci-deployer's first two real launches (8 instances, under the 10 of
/// the rule), proven, and then a forged launch of 4 more invoked directly at the same time: the
/// exact events cross, with a forged record among the claims, so the finding is unproven and
/// carries what was proven. WHEN the third real launch comes through the queue, THEN the proven
/// events cross by themselves, and the stream sends the finding of those alone (3 records
/// carried, none forged), which the forged crossing did not hold back.
#[tokio::test]
async fn rv_a_forged_launch_among_real_ones_does_not_hold_back_the_proven_crossing() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let q = MemoryQueue::new(QUEUE_ARN);
    let real = bodies(deployer(), 3, 4, 0x5000);
    handle_batch(&q.receive(&real[..2]), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(lambda.findings().is_empty());
    let forged = forged_batch(&bodies(deployer(), 1, 4, 0x5001), QUEUE_ARN, "AQEBforged");
    handle_batch(&forged, &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    let first = lambda.findings();
    assert_eq!(first.len(), 1);
    assert!(first[0].trigger.as_ref().unwrap().name.contains("not proven"), "{:?}", first[0].trigger);
    let (resp, report) = handle_batch(&q.receive(&real[2..]), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let findings = lambda.findings();
    assert_eq!(findings.len(), 2, "{report:?}");
    let ids: Vec<String> = real
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["detail"]["eventID"].as_str().unwrap().to_owned())
        .collect();
    let carried_ids: Vec<String> = findings[1].principals[0]
        .delivered_by_aws
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(carried_ids.len(), 3, "{carried_ids:?}");
    assert!(carried_ids.iter().all(|id| ids.contains(id)), "only the real records: {carried_ids:?}");
    assert!(!findings[1].trigger.as_ref().unwrap().name.contains("not proven"), "{:?}", findings[1].trigger);
}
