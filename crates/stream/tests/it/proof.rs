//! The proof that a message came from the stream's own queue (atk finding 1): anyone with
//! `lambda:InvokeFunction` on launchguard-stream can hand it a batch it wrote. Each attack was
//! written first against the code that vouched for every record; now a message is counted
//! whatever its provenance (a burst is never unseen), but its record is carried as delivered by
//! AWS only when its `eventSourceARN` is the configured queue and that queue holds its receipt
//! handle. A proof the queue cannot make now fails the batch's messages, which SQS redelivers.

use std::sync::atomic::Ordering;

use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::receipts::{Provenance, provenance};
use launchguard_stream::{Outcome, handle_batch};
use proptest::prelude::*;

use crate::common::{FakeLambda, QUEUE_ARN, after, batch, bodies, config, deployer, forged_batch, intact, queue};

#[tokio::test]
async fn a_forged_receipt_handle_carries_no_record_as_aws_delivered_but_the_burst_is_still_found() {
    // GIVEN a batch written by hand: the stream's real queue ARN, a handle the queue never gave
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let forged = forged_batch(&bodies(deployer(), 3, 4, 0x51), QUEUE_ARN, "AQEBforged");
    // WHEN the stream function is invoked with it
    let (resp, report) = handle_batch(&forged, &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN every message is counted and the burst found, but no record is carried as AWS's,
    // and the finding says why
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(report.unproven.len(), 3, "{report:?}");
    assert!(report.unproven.iter().all(|(_, why)| why.contains("ReceiptHandleIsInvalid")), "{report:?}");
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1, "{report:?}");
    assert!(findings[0].principals[0].delivered_by_aws.is_empty());
    let trigger = &findings[0].trigger.as_ref().unwrap().name;
    assert!(trigger.contains("3 records not proven sent by the stream's queue"), "{trigger}");
    assert!(trigger.len() <= 256);
}

#[tokio::test]
async fn a_foreign_event_source_arn_carries_no_record_and_the_queue_is_not_asked() {
    // GIVEN a batch a queue of the attacker's own really delivered (real handles of that queue)
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let theirs = MemoryQueue::new("arn:aws:sqs:us-east-1:444455556666:launchguard-stream-events");
    let payload = theirs.receive(&bodies(deployer(), 3, 4, 0x52));
    // WHEN the stream function is handed it
    let (resp, report) = handle_batch(&payload, &cfg, &store, &lambda, &theirs, &intact(), after(3)).await;
    // THEN counted, found, nothing carried as AWS's; the queue it names was never the proof
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(theirs.calls.load(Ordering::SeqCst), 0, "a foreign queue is never asked");
    assert_eq!(report.unproven.len(), 3);
    assert!(report.unproven.iter().all(|(_, why)| why.contains("eventSourceARN")), "{report:?}");
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    assert!(findings[0].principals[0].delivered_by_aws.is_empty());
}

#[tokio::test]
async fn a_genuine_batch_carries_every_claims_record() {
    // GIVEN the stream's queue delivering a real burst
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let (resp, report) = handle_batch(&batch(&bodies(deployer(), 3, 4, 0x53)), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN proven, and the finding carries its claims' records, its trigger saying nothing more
    assert!(resp.batch_item_failures.is_empty() && report.unproven.is_empty(), "{report:?}");
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].principals[0].delivered_by_aws.len(), 3);
    assert!(!findings[0].trigger.as_ref().unwrap().name.contains("not proven"));
}

#[tokio::test]
async fn forged_records_counted_first_are_never_carried_beside_genuine_ones() {
    // GIVEN two forged launches of 4 "by" ci-deployer, counted unproven
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let all = bodies(deployer(), 3, 4, 0x54);
    let (resp, _) =
        handle_batch(&forged_batch(&all[..2], QUEUE_ARN, "AQEBforged"), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty());
    assert!(lambda.findings().is_empty(), "8 instances: no crossing yet");
    // WHEN the third, genuine, crosses the threshold
    let (resp, _) = handle_batch(&batch(&all[2..]), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty());
    // THEN the finding carries the genuine record only, and says two were left to CloudTrail
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    let p = &findings[0].principals[0];
    assert_eq!(p.delivered_by_aws.len(), 1);
    let third: serde_json::Value = serde_json::from_str(&all[2]).unwrap();
    let carried: serde_json::Value = serde_json::from_str(&p.delivered_by_aws[0]).unwrap();
    assert_eq!(carried["eventID"], third["detail"]["eventID"]);
    assert!(findings[0].trigger.as_ref().unwrap().name.contains("2 records not proven"));
}

#[tokio::test]
async fn a_proof_outage_fails_the_batch_and_its_redelivery_counts_each_event_once() {
    // GIVEN the stream's queue throttling the proof call once
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let q = MemoryQueue::new(QUEUE_ARN);
    let three = bodies(deployer(), 3, 4, 0x55);
    q.outages.store(1, Ordering::SeqCst);
    // WHEN a genuine batch arrives
    let (resp, report) = handle_batch(&q.receive(&three), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    // THEN every message fails (SQS delivers them again), nothing is counted or vouched for
    assert_eq!(resp.batch_item_failures.len(), 3, "{resp:?}");
    assert!(report.messages.iter().all(|(_, r)| r.as_ref().is_err_and(|e| e.contains("ThrottlingException"))), "{report:?}");
    assert_eq!(store.writes.load(Ordering::SeqCst), 0);
    assert!(lambda.findings().is_empty());
    // AND SQS's redelivery is proven, counted once and found once, its records carried
    let (resp, report) = handle_batch(&q.receive(&three), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert!(report.outcomes().all(|o| !matches!(o, Outcome::Duplicate)), "{report:?}");
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].principals[0].delivered_by_aws.len(), 3);
    // AND a third delivery of the same events counts nothing
    let (_, report) = handle_batch(&q.receive(&three), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(report.outcomes().all(|o| matches!(o, Outcome::Duplicate | Outcome::AlreadyClaimed { counted: false, .. })), "{report:?}");
    assert_eq!(lambda.findings().len(), 1);
}

#[test]
fn a_handle_sqs_says_is_not_its_own_is_refused_whatever_sender_fault_says_and_a_service_failure_retries() {
    use launchguard_stream::receipts::Receipt;
    // LocalStack answers a made-up handle `ReceiptHandleIsInvalid` with `SenderFault: false`
    for code in ["ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"] {
        assert_eq!(Receipt::failed(code, false), Receipt::Refused { code: code.into() });
        assert_eq!(Receipt::failed(code, true), Receipt::Refused { code: code.into() });
    }
    assert_eq!(Receipt::failed("InternalError", false), Receipt::Failed { code: "InternalError".into() });
    assert_eq!(Receipt::failed("ServiceUnavailable", false), Receipt::Failed { code: "ServiceUnavailable".into() });
    assert_eq!(Receipt::failed("Whatever", true), Receipt::Refused { code: "Whatever".into() });
}

#[tokio::test]
async fn more_than_ten_messages_are_proven_ten_at_a_time() {
    let q = MemoryQueue::new(QUEUE_ARN);
    let bodies: Vec<String> = (0..23).map(|i| format!("{{\"n\":{i}}}")).collect();
    let b = q.receive(&bodies);
    let msgs: Vec<(&str, &str)> = b.records.iter().map(|m| (m.event_source_arn.as_str(), m.receipt_handle.as_str())).collect();
    let p = provenance(QUEUE_ARN, &msgs, &q).await;
    assert_eq!(p, vec![Provenance::Proven; 23]);
    assert_eq!(q.calls.load(Ordering::SeqCst), 3);
}

proptest! {
    /// Proven exactly when the ARN is the queue's and the queue holds the handle; never lost (one
    /// answer per message, in order).
    #[test]
    fn proven_iff_own_arn_and_a_handle_the_queue_holds(cases in proptest::collection::vec((any::<bool>(), any::<bool>(), "[ -~]{0,12}"), 0..25)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let q = MemoryQueue::new(QUEUE_ARN);
        let held = q.receive(&vec![String::new(); cases.len()]);
        let msgs: Vec<(String, String)> = cases
            .iter()
            .zip(&held.records)
            .map(|((own, genuine, junk), m)| {
                let arn = if *own { QUEUE_ARN.to_owned() } else { format!("{QUEUE_ARN}{junk}x") };
                let handle = if *genuine { m.receipt_handle.clone() } else { format!("forged{junk}") };
                (arn, handle)
            })
            .collect();
        let refs: Vec<(&str, &str)> = msgs.iter().map(|(a, h)| (a.as_str(), h.as_str())).collect();
        let p = rt.block_on(provenance(QUEUE_ARN, &refs, &q));
        prop_assert_eq!(p.len(), cases.len());
        for ((own, genuine, _), got) in cases.iter().zip(&p) {
            prop_assert_eq!(*got == Provenance::Proven, *own && *genuine, "{:?}", got);
            prop_assert!(!matches!(got, Provenance::Retry(_)));
        }
    }
}
