//! DynamoDB throttling and conflicts (issue 26: "DynamoDB throttling or an outage fails the batch
//! item so that it is retried; it never drops a count"). Each fault is injected on every request
//! of a crossing batch in turn: exactly the message whose request failed is reported in the
//! partial batch response, the others are handled, and SQS's redelivery of that message counts
//! it once and finds the burst once. Then the DynamoDB adapter itself, with the SDK's mock
//! client: each throttling or conflict answer is an error (a failed message), never a
//! "duplicate" (a message dropped as already counted).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use launchguard_core::stream::Counts;
use launchguard_stream::dynamo::DynamoStore;
use launchguard_stream::memory::{Fault, MemoryStore};
use launchguard_stream::store::{CounterStore, EventItem, Recorded};
use launchguard_stream::{Outcome, handle_batch};

use crate::attacks::deployer_series;
use crate::common::{FakeLambda, after, batch, bodies, deployer, intact, queue};

/// The requests a batch of 3 x 4 launches makes, in order: the first two messages record and read
/// their buckets; the third crosses the threshold (12 of 10) and also reads the claim, the events,
/// claims the incident and marks it sent.
const REQUESTS: [(&str, usize); 10] = [
    ("TransactWriteItems", 0),
    ("Query buckets", 0),
    ("TransactWriteItems", 1),
    ("Query buckets", 1),
    ("TransactWriteItems", 2),
    ("Query buckets", 2),
    ("GetItem claim", 2),
    ("Query events", 2),
    ("PutItem claim", 2),
    ("UpdateItem sent", 2),
];

#[tokio::test]
async fn each_store_fault_fails_exactly_its_message_and_the_redelivery_counts_it_once() {
    let cfg = crate::common::config();
    let three = bodies(deployer(), 3, 4, 1);
    // the batch untouched makes exactly the requests listed
    let clean = MemoryStore::default();
    handle_batch(&batch(&three), &cfg, &clean, &FakeLambda::default(), queue(), &intact(), after(3)).await;
    assert_eq!(clean.requests.load(std::sync::atomic::Ordering::SeqCst), REQUESTS.len() as u64);
    for fault in Fault::ALL {
        for (at, (request, message)) in REQUESTS.iter().enumerate() {
            let case = format!("{fault:?} on request {at} ({request} of m{message})");
            let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
            store.fail_at(at as u64, fault);
            // WHEN the batch meets the fault
            let (resp, report) = handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
            // THEN exactly that message is delivered again; the others were handled
            let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
            assert_eq!(failed, [format!("m{message}")], "{case}");
            let handled = report.messages.iter().filter(|(_, r)| r.is_ok()).count();
            assert_eq!(handled, 2, "{case}: {report:?}");
            // AND the message's redelivery, later, as SQS makes it (after the visibility timeout)
            let again = &three[*message..=*message];
            let later = after(3) + chrono::Duration::seconds(360);
            let (resp, report) = handle_batch(&batch(again), &cfg, &store, &lambda, queue(), &intact(), later).await;
            assert!(resp.batch_item_failures.is_empty(), "{case}: {report:?}");
            // counts every event once: 3 calls, 12 instances, 3 events kept
            let totals = store.totals(&deployer_series());
            assert_eq!((totals.calls, totals.launched), (3, 12), "{case}");
            assert_eq!(store.event_count(), 3, "{case}");
            // and finds the burst: one finding (a send that failed to be marked sent goes again
            // with the same id, which the dispatcher's ledger holds once)
            let mut ids: Vec<String> = lambda.findings().into_iter().map(|f| f.finding_id).collect();
            assert!(!ids.is_empty(), "{case}: the burst was never found");
            ids.dedup();
            assert_eq!(ids.len(), 1, "{case}: {ids:?}");
            // a whole-batch redelivery after that counts nothing and sends nothing
            let sent = lambda.findings().len();
            let (resp, report) = handle_batch(&batch(&three), &cfg, &store, &lambda, queue(), &intact(), later).await;
            assert!(resp.batch_item_failures.is_empty(), "{case}");
            assert_eq!(store.totals(&deployer_series()), totals, "{case}");
            assert_eq!(lambda.findings().len(), sent, "{case}");
            assert!(
                report.outcomes().all(|o| matches!(o, Outcome::Duplicate | Outcome::AlreadyClaimed { counted: false, .. })),
                "{case}: {report:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_throttled_message_never_holds_up_the_rest_of_its_batch() {
    // GIVEN a batch of two principals' events, the second message's recording throttled
    let cfg = crate::common::config();
    let (store, lambda) = (MemoryStore::default(), FakeLambda::default());
    let mut all = bodies(deployer(), 3, 4, 1);
    all.insert(1, bodies(crate::common::benign(), 1, 1, 2).remove(0));
    store.fail_at(2, Fault::Throughput);
    let (resp, _) = handle_batch(&batch(&all), &cfg, &store, &lambda, queue(), &intact(), after(3)).await;
    // THEN only m1 (benign's) fails; the deployer's three are counted and the burst is found
    let failed: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m1"]);
    assert_eq!(store.totals(&deployer_series()).launched, 12);
    assert_eq!(lambda.findings().len(), 1);
}

// ---------- the DynamoDB adapter's reading of DynamoDB's answers ----------

pub(crate) fn dynamo_error(code: &str, extra: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"from the test"{extra}}}"#)),
    )
}

pub(crate) fn cancelled(reasons: &[&str]) -> HttpResponse {
    let reasons: Vec<String> = reasons.iter().map(|c| format!(r#"{{"Code":"{c}"}}"#)).collect();
    dynamo_error("TransactionCanceledException", &format!(r#","CancellationReasons":[{}]"#, reasons.join(",")))
}

/// What a case is called, and DynamoDB's answer in it.
type Answer = (&'static str, fn() -> HttpResponse);

fn item() -> EventItem {
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

async fn record_answering(response: fn() -> HttpResponse) -> Result<Recorded, launchguard_stream::CallError> {
    let rule = mock!(Client::transact_write_items).then_http_response(response);
    // a kept event's id item, read when the condition failed: proven (a redelivery)
    let kept = mock!(Client::get_item).then_output(|| {
        aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
            .item("proven", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .build()
    });
    // one attempt: what the adapter makes of the answer (the SDK's own retries come before it)
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&rule, &kept], |c| c
        .retry_config(RetryConfig::standard().with_max_attempts(1).with_initial_backoff(Duration::from_millis(1))));
    DynamoStore { client, table: "launchguard-stream".into() }.record(&item()).await
}

#[tokio::test]
async fn the_adapter_reads_throttling_and_conflicts_as_retryable_failures_never_as_duplicates() {
    let answers: [Answer; 8] = [
        ("ProvisionedThroughputExceededException", || dynamo_error("ProvisionedThroughputExceededException", "")),
        ("ThrottlingException", || dynamo_error("ThrottlingException", "")),
        ("TransactionConflictException", || dynamo_error("TransactionConflictException", "")),
        ("cancelled: TransactionConflict on the bucket", || cancelled(&["None", "TransactionConflict"])),
        ("cancelled: TransactionConflict on the event", || cancelled(&["TransactionConflict", "None"])),
        ("cancelled: ThrottlingError", || cancelled(&["None", "ThrottlingError"])),
        ("cancelled: ProvisionedThroughputExceeded", || cancelled(&["ProvisionedThroughputExceeded", "None"])),
        ("InternalServerError", || dynamo_error("InternalServerError", "")),
    ];
    for (what, response) in answers {
        let e = record_answering(response).await.expect_err(what);
        assert!(e.message.contains("dynamodb:TransactWriteItems"), "{what}: {e}");
        // ProvisionedThroughputExceeded and TransactionConflict are not in the SDK's throttling
        // list; a failed message is delivered again whatever `retryable` says
        if what.starts_with("cancelled") || what == "ThrottlingException" {
            assert!(e.retryable, "{what}: {e}");
        }
    }
}

#[tokio::test]
async fn the_adapter_reads_only_the_events_failed_condition_as_a_duplicate() {
    let d = record_answering(|| cancelled(&["ConditionalCheckFailed", "None"])).await.unwrap();
    assert_eq!(d, Recorded::Duplicate);
    // a malformed request is a failure for a person, not a duplicate
    let e = record_answering(|| cancelled(&["None", "ValidationError"])).await.unwrap_err();
    assert!(!e.retryable, "{e}");
}
