//! Issue 26: a front-run copy of a stream event. Someone who sees AWS's event first (a rule of
//! their own on the default bus) invokes launchguard-stream with it before the stream's queue
//! delivers it. The copy is stored unproven; the queue's proven delivery of the same `eventID`
//! must then replace it (its record carried as delivered by AWS, its own counts, in its own
//! bucket), never be a redelivery of the copy. Tests 1-3 were seen failing on 953c0d2 (the
//! proven delivery was a Duplicate: unproven records, a lowered count, a copy at another time
//! counted beside the real event).

use chrono::{DateTime, Duration, Utc};
use launchguard_core::stream::Counts;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::store::{CounterStore, EventItem, Recorded, StoredEvent, series_key};
use launchguard_stream::{Outcome, handle_batch};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Burst, run_instances_template};
use proptest::prelude::*;
use serde_json::Value;

use crate::common::{ACCOUNT, FakeLambda, QUEUE_ARN, REGION, after, at, bodies, config, deployer, forged_batch, intact, queue};

/// ci-deployer's series under the mass-launch rule.
fn series(body: &str) -> String {
    let cfg = config();
    let detail = serde_json::from_str::<Value>(body).unwrap()["detail"].to_string();
    let rule = &cfg.rules.iter().find(|r| r.rule.id == "ec2-mass-launch").unwrap().rule;
    let hit = launchguard_core::stream::hit(&rule.event, &detail, false).unwrap();
    series_key(&rule.id, &hit.principal)
}

async fn stored(store: &MemoryStore, series: &str) -> Vec<StoredEvent> {
    store.events(series, 0, i64::MAX / 2, 1000).await.unwrap()
}

fn carried(lambda: &FakeLambda) -> Vec<usize> {
    lambda.findings().iter().map(|f| f.principals[0].delivered_by_aws.len()).collect()
}

/// `calls` launches of `per_call` by ci-deployer from `start`, 7 s apart, eventIDs of `seed`.
fn bodies_at(start: DateTime<Utc>, calls: u32, per_call: u32, seed: u32) -> Vec<String> {
    Burst::new(deployer(), calls, per_call, start)
        .records(&run_instances_template(), seed)
        .iter()
        .map(|r| eventbridge_event(r, ACCOUNT, REGION).to_string())
        .collect()
}

/// Attack (1). GIVEN someone who invokes launchguard-stream with AWS's own events of
/// ci-deployer's burst (3 x 4, the genuine detail) before the queue delivers them: counted,
/// unproven, one finding carrying nothing. WHEN the queue delivers the same events (proven),
/// THEN they replace the copies: every stored event is proven, the count is the burst's once,
/// and the proven crossing sends the finding that carries the 3 records.
#[tokio::test]
async fn fr1_a_front_run_genuine_copy_is_replaced_by_the_queues_delivery() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let real = bodies(deployer(), 3, 4, 0xf01);
    let (_, report) =
        handle_batch(&forged_batch(&real, QUEUE_ARN, "AQEBforged"), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert_eq!(report.unproven.len(), 3, "{report:?}");
    assert_eq!(carried(&lambda), vec![0], "the front-run copies make one unproven finding");

    let q = MemoryQueue::new(QUEUE_ARN);
    let (resp, report) = handle_batch(&q.receive(&real), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let s = series(&real[0]);
    let events = stored(&store, &s).await;
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.proven), "the queue's delivery did not replace the front-run copies: {report:?}");
    assert_eq!(store.totals(&s).launched, 12, "counted once");
    assert_eq!(carried(&lambda), vec![0, 3], "the proven finding carries AWS's records: {report:?}");
}

/// Attack (2). GIVEN a front-run copy of each event of the burst with the count lowered to 1
/// (same eventIDs and times: 3 instances, below the rule's 10), WHEN the queue delivers the
/// real events (3 x 4), THEN the series holds the real counts (12, not 3) and the burst is found,
/// with its records carried.
#[tokio::test]
async fn fr2_a_front_run_lowered_count_does_not_under_count_the_real_burst() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let lowered = bodies(deployer(), 3, 1, 0xf02);
    handle_batch(&forged_batch(&lowered, QUEUE_ARN, "AQEBforged"), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert!(lambda.findings().is_empty(), "3 instances cross nothing");
    let s = series(&lowered[0]);
    assert_eq!(store.totals(&s).requested, 3);

    let q = MemoryQueue::new(QUEUE_ARN);
    let real = bodies(deployer(), 3, 4, 0xf02);
    let (resp, report) = handle_batch(&q.receive(&real), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let totals = store.totals(&s);
    assert_eq!((totals.launched, totals.requested, totals.calls), (12, 12, 3), "under-counted: {report:?}");
    assert!(report.outcomes().all(|o| !matches!(o, Outcome::Duplicate)), "{report:?}");
    assert_eq!(carried(&lambda), vec![3], "the real burst is found and carried: {report:?}");
    let details: Vec<String> = stored(&store, &s).await.into_iter().map(|e| e.detail).collect();
    let real_details: Vec<String> = real.iter().map(|b| serde_json::from_str::<Value>(b).unwrap()["detail"].to_string()).collect();
    assert_eq!(details, real_details, "the stored records are AWS's");
}

/// Attack (2), at another time. GIVEN front-run copies of the burst's events (same eventIDs)
/// dated 40 s earlier, count 1 each, WHEN the queue delivers the real events, THEN each real
/// event counts once in its own bucket, the copies' counts are taken out of the buckets they
/// went to, and no copy is left among the stored events.
#[tokio::test]
async fn fr3_a_front_run_copy_at_another_time_is_taken_out_of_its_bucket() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let early = at() - Duration::seconds(40);
    let copies = bodies_at(early, 3, 1, 0xf03);
    handle_batch(&forged_batch(&copies, QUEUE_ARN, "AQEBforged"), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    let s = series(&copies[0]);
    assert_eq!(store.totals(&s).requested, 3);

    let q = MemoryQueue::new(QUEUE_ARN);
    let real = bodies(deployer(), 3, 4, 0xf03);
    let (resp, report) = handle_batch(&q.receive(&real), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let events = stored(&store, &s).await;
    let times: Vec<i64> = events.iter().map(|e| e.t_ms).collect();
    let real_times: Vec<i64> = (0..3).map(|i| (at() + Duration::seconds(7 * i)).timestamp_millis()).collect();
    assert_eq!(times, real_times, "the copies stay beside the real events: {report:?}");
    assert!(events.iter().all(|e| e.proven));
    assert_eq!(store.totals(&s).requested, 12, "{report:?}");
    let early_buckets = store.buckets(&s, early.timestamp_millis() - 10_000, at().timestamp_millis() - 10_000).await.unwrap();
    let left = early_buckets.iter().fold(Counts::default(), |a, b| a.plus(b.counts));
    assert!(left.is_zero(), "the copies' counts are left in their buckets: {left:?}");
    assert_eq!(carried(&lambda), vec![3], "{report:?}");
}

/// GIVEN the queue's delivery of the burst (proven), WHEN someone invokes the function with
/// copies of its events, count lowered, THEN each is a redelivery: nothing replaced, nothing
/// counted, the stored records stay AWS's.
#[tokio::test]
async fn fr4_an_unproven_copy_after_the_proven_delivery_changes_nothing() {
    let cfg = config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let q = MemoryQueue::new(QUEUE_ARN);
    let real = bodies(deployer(), 3, 4, 0xf04);
    handle_batch(&q.receive(&real), &cfg, &store, &lambda, &q, &intact(), after(3)).await;
    let s = series(&real[0]);
    let before = stored(&store, &s).await;
    let lowered = bodies(deployer(), 3, 1, 0xf04);
    let (_, report) =
        handle_batch(&forged_batch(&lowered, QUEUE_ARN, "AQEBforged"), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    assert!(report.outcomes().all(|o| matches!(o, Outcome::Duplicate | Outcome::AlreadyClaimed { counted: false, .. })), "{report:?}");
    assert_eq!(stored(&store, &s).await, before);
    assert_eq!(store.totals(&s).requested, 12);
    assert_eq!(carried(&lambda), vec![3]);
}

/// One copy of an event: proven or not, its time (a step of 7 s from the event's own), its count.
#[derive(Debug, Clone)]
struct Copy {
    event: usize,
    proven: bool,
    step: i64,
    count: u64,
}

fn item(series: &str, c: &Copy) -> EventItem {
    let t_ms = 1_795_000_000_000 + i64::try_from(c.event).unwrap() * 3_000 + c.step * 7_000;
    EventItem {
        series: series.to_owned(),
        event_id: format!("ev-{}", c.event),
        t_ms,
        bucket_ms: launchguard_core::stream::bucket_start(t_ms, 10_000),
        counts: Counts { launched: c.count, requested: c.count, calls: 1, failed: 0 },
        detail: format!("{c:?}"),
        ttl: i64::MAX / 2,
        proven: c.proven,
    }
}

proptest! {
    /// Any interleaving of proven and unproven copies of the same events (other times, other
    /// counts) ends with each event stored once and counted once, in its bucket: the first
    /// proven copy's whenever a proven copy arrived, else the first copy's.
    #[test]
    fn fr5_any_interleaving_counts_each_event_once_with_the_proven_copys_counts(
        copies in prop::collection::vec((0usize..4, any::<bool>(), -3i64..3, 0u64..40), 1..24)
    ) {
        let copies: Vec<Copy> = copies.into_iter().map(|(event, proven, step, count)| Copy { event, proven, step, count }).collect();
        let store = MemoryStore::default();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let series = "s#ec2-mass-launch#prop";
        let mut kept: std::collections::BTreeMap<usize, Copy> = std::collections::BTreeMap::new();
        for c in &copies {
            let recorded = rt.block_on(store.record(&item(series, c))).unwrap();
            let expected = match kept.get(&c.event) {
                None => Recorded::New,
                Some(k) if c.proven && !k.proven => Recorded::Replaced,
                Some(_) => Recorded::Duplicate,
            };
            prop_assert_eq!(recorded, expected, "{:?}", c);
            if expected != Recorded::Duplicate {
                kept.insert(c.event, c.clone());
            }
        }
        let events = rt.block_on(store.events(series, 0, i64::MAX / 2, 1000)).unwrap();
        let mut want: Vec<StoredEvent> = kept.values().map(|c| {
            let i = item(series, c);
            StoredEvent { t_ms: i.t_ms, detail: i.detail, proven: c.proven }
        }).collect();
        want.sort_by_key(|e| e.t_ms);
        let mut got = events.clone();
        got.sort_by_key(|e| e.t_ms);
        prop_assert_eq!(got, want);
        let buckets = rt.block_on(store.buckets(series, 0, i64::MAX / 2)).unwrap();
        let mut want_buckets: std::collections::BTreeMap<i64, Counts> = std::collections::BTreeMap::new();
        for c in kept.values() {
            let i = item(series, c);
            let b = want_buckets.entry(i.bucket_ms).or_default();
            *b = b.plus(i.counts);
        }
        for b in &buckets {
            prop_assert_eq!(b.counts, want_buckets.get(&b.start_ms).copied().unwrap_or_default(), "bucket {}", b.start_ms);
        }
        for (start, counts) in &want_buckets {
            prop_assert!(counts.is_zero() || buckets.iter().any(|b| b.start_ms == *start), "bucket {} missing", start);
        }
    }
}

/// Two proven deliveries of one event kept unproven race (SQS delivers at least once; each
/// request takes 10 ms): both read the copy, one replaces it, the other's condition fails and its
/// message is delivered again, which is then a redelivery. The event counts once, the proven
/// counts, whichever way the race goes.
#[tokio::test(start_paused = true)]
async fn fr9_two_proven_deliveries_racing_to_replace_a_copy_count_once() {
    let store = MemoryStore::with_latency(std::time::Duration::from_millis(10));
    let series = "s#ec2-mass-launch#race";
    let copy = Copy { event: 0, proven: false, step: -2, count: 1 };
    let real = Copy { event: 0, proven: true, step: 0, count: 4 };
    assert_eq!(store.record(&item(series, &copy)).await.unwrap(), Recorded::New);
    let proven = item(series, &real);
    let (a, b) = tokio::join!(store.record(&proven), store.record(&proven));
    let mut answers = [a, b];
    answers.sort_by_key(Result::is_ok);
    let [lost, won] = answers;
    assert_eq!(won.unwrap(), Recorded::Replaced);
    let e = lost.unwrap_err();
    assert!(e.retryable && e.message.contains("delivered again"), "{e}");
    assert_eq!(store.record(&item(series, &real)).await.unwrap(), Recorded::Duplicate, "the retry");
    assert_eq!(store.totals(series), Counts { launched: 4, requested: 4, calls: 1, failed: 0 });
    assert_eq!(store.event_count(), 1);
}

// ---------- the DynamoDB adapter's replacement, on DynamoDB's answers ----------

mod adapter {
    use std::time::Duration;

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use launchguard_core::stream::Counts;
    use launchguard_stream::dynamo::DynamoStore;
    use launchguard_stream::store::{CounterStore, EventItem, Recorded};

    use crate::faults::cancelled;

    fn proven_item() -> EventItem {
        EventItem {
            series: "s#ec2-mass-launch#iam_user:218007301253:ci-deployer".into(),
            event_id: "00000000-0000-4000-8000-000001000001".into(),
            t_ms: 1_795_412_280_000,
            bucket_ms: 1_795_412_280_000,
            counts: Counts { launched: 4, requested: 4, calls: 1, failed: 0 },
            detail: "{}".into(),
            ttl: 1_795_420_000,
            proven: true,
        }
    }

    /// The id item of an unproven copy: count 1, 40 s earlier.
    fn unproven_copy() -> GetItemOutput {
        let n = |v: i64| AttributeValue::N(v.to_string());
        GetItemOutput::builder()
            .item("t_ms", n(1_795_412_240_000))
            .item("bucket_ms", n(1_795_412_240_000))
            .item("launched", n(1))
            .item("requested", n(1))
            .item("calls", n(1))
            .item("failed", n(0))
            .item("proven", AttributeValue::Bool(false))
            .build()
    }

    fn store(rules: &[&aws_smithy_mocks::Rule]) -> DynamoStore {
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |c| c
            .retry_config(RetryConfig::standard().with_max_attempts(1).with_initial_backoff(Duration::from_millis(1))));
        DynamoStore { client, table: "launchguard-stream".into() }
    }

    #[tokio::test]
    async fn fr6_a_proven_event_kept_unproven_is_replaced_in_one_more_transaction() {
        let kept = mock!(Client::transact_write_items)
            .then_http_response(|| cancelled(&["ConditionalCheckFailed", "ConditionalCheckFailed", "None"]));
        let read = mock!(Client::get_item).then_output(unproven_copy);
        let replace = mock!(Client::transact_write_items)
            .match_requests(|r| {
                // the id item, the copy's event item deleted, the event put, the copy's bucket
                // out and the event's bucket in
                let items = r.transact_items();
                items.len() == 5
                    && items[0].put().is_some_and(|p| p.condition_expression().is_some_and(|c| c.starts_with("proven = :no")))
                    && items[1].delete().is_some()
                    && items[2].put().is_some_and(|p| p.item().get("proven") == Some(&AttributeValue::Bool(true)))
                    && items[3]
                        .update()
                        .is_some_and(|u| u.expression_attribute_values().and_then(|m| m.get(":l")) == Some(&AttributeValue::N("-1".into())))
                    && items[4]
                        .update()
                        .is_some_and(|u| u.expression_attribute_values().and_then(|m| m.get(":l")) == Some(&AttributeValue::N("4".into())))
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        assert_eq!(store(&[&kept, &read, &replace]).record(&proven_item()).await.unwrap(), Recorded::Replaced);
    }

    #[tokio::test]
    async fn fr7_a_copy_changed_while_it_is_replaced_fails_the_message_for_a_retry() {
        let kept = mock!(Client::transact_write_items).then_http_response(|| cancelled(&["ConditionalCheckFailed", "None", "None"]));
        let read = mock!(Client::get_item).then_output(unproven_copy);
        let raced = mock!(Client::transact_write_items)
            .then_http_response(|| cancelled(&["ConditionalCheckFailed", "None", "None", "None", "None"]));
        let e = store(&[&kept, &read, &raced]).record(&proven_item()).await.unwrap_err();
        assert!(e.retryable && e.message.contains("delivered again"), "{e}");
    }

    #[tokio::test]
    async fn fr8_an_unproven_copy_of_a_kept_event_is_a_duplicate_without_a_read() {
        let kept = mock!(Client::transact_write_items).then_http_response(|| cancelled(&["ConditionalCheckFailed", "None", "None"]));
        let mut item = proven_item();
        item.proven = false;
        assert_eq!(store(&[&kept]).record(&item).await.unwrap(), Recorded::Duplicate);
    }
}
