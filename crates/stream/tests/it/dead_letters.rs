//! Dead letters, recounted (rv finding 3). Nobody may send to `launchguard-stream-dead-letters`,
//! and moving its messages back (`StartMessageMoveTask`) sends to the stream queue without one of
//! the stream rules' `aws:SourceArn`, which the queue's policy denies. The documented path
//! (docs/stream.md, "Dead letters") is an admin who receives them and invokes launchguard-stream
//! with them as the SQS batch Lambda would deliver: their `eventSourceARN` is the dead-letter
//! queue's, so they are counted but never vouched for (unproven), and the dispatcher confirms
//! them in CloudTrail's event history, which holds them by then.

use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::{Outcome, handle_batch};

use crate::attacks::deployer_series;
use crate::common::{FakeLambda, after, batch, bodies, config, deployer, intact, queue};

const DEAD_LETTERS_ARN: &str = "arn:aws:sqs:us-east-1:218007301253:launchguard-stream-dead-letters";

#[tokio::test]
async fn dead_letters_of_a_store_outage_recounted_by_invoking_the_function_are_counted_once_and_found_unproven() {
    // GIVEN ci-deployer's burst (3 x 4 instances) delivered 5 times while the table throttles
    // every request: each delivery fails every message, which then rests in the dead letters
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let burst = bodies(deployer(), 3, 4, 0xd1);
    store.fail_next(u64::MAX);
    for _ in 0..5 {
        let (resp, _) = handle_batch(&batch(&burst), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
        assert_eq!(resp.batch_item_failures.len(), 3, "{resp:?}");
    }
    store.fail_next(0);
    assert_eq!(store.event_count(), 0, "nothing counted during the outage");
    // WHEN an admin receives them from the dead-letter queue and invokes the function with them
    let dead_letters = MemoryQueue::new(DEAD_LETTERS_ARN);
    let recount = dead_letters.receive(&burst);
    let (resp, report) = handle_batch(&recount, &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN none fails (the admin deletes them), each is counted once, never vouched for, and the
    // burst is found: one finding, carrying no record as delivered by AWS
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(report.unproven.len(), 3, "{report:?}");
    assert!(report.unproven.iter().all(|(_, why)| why.contains("eventSourceARN")), "{report:?}");
    assert_eq!(store.totals(&deployer_series()).launched, 12);
    let findings = lambda.findings();
    assert_eq!(findings.len(), 1, "{report:?}");
    assert!(findings[0].principals[0].delivered_by_aws.is_empty());
    assert!(findings[0].trigger.as_ref().unwrap().name.contains("3 records not proven"), "{:?}", findings[0].trigger);
    // AND recounting the same dead letters again counts nothing and sends nothing more
    let (_, report) = handle_batch(&dead_letters.receive(&burst), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert_eq!(store.totals(&deployer_series()).launched, 12);
    assert_eq!(lambda.findings().len(), 1, "{report:?}");
    assert!(report.outcomes().all(|o| matches!(o, Outcome::Duplicate | Outcome::AlreadyClaimed { counted: false, .. })), "{report:?}");
}
