//! Outside review of the proof of the stream's own queue (branch `rv`). Each test states the
//! attack and asserts the SAFE outcome; one that fails against today's code carries
//! `#[ignore = "rv finding N: ..."]` (run it with `--include-ignored`).

use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::{Outcome, handle_batch};

use crate::common::{FakeLambda, QUEUE_ARN, after, bodies, config, deployer, forged_batch, intact, queue};

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
#[ignore = "rv finding 4: a forged, unproven finding holds the principal's claim; the real burst's proven finding is never sent"]
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
