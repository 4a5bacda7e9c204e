//! Outside attacks on the stream path's new trust (issues 26 and 32): a finding the stream
//! detector seals is contained on the records it carries (`delivered_by_aws`), with no lookup in
//! CloudTrail's event history. That trust rests on every record having come from AWS through the
//! queue. Each test is an attacker's route around that, run through the real stream detector
//! (`launchguard_stream::handle_batch`, what its Lambda entry point runs on any payload) and the
//! real dispatcher, and asserts the safe outcome.

use std::sync::LazyLock;

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_responder::KeyStatus;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_health::MemoryHealth;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::memory_rules::MemoryRules;
use launchguard_stream::store::{CounterStore, EventItem, series_key};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};
use world::{ACCOUNT, Lambda, Logs, Sns, config, iam};

/// CloudTrail's documented delivery to its event history: typically within 5 minutes.
const TRAIL_LAG: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Days away from every other test's bursts (they share one CloudTrail per thread, but not time).
fn t0(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 0).unwrap() + Duration::days(days)
}

fn deployer() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() }
}

/// Lambda in memory for the stream detector: the payloads it sends the dispatcher.
#[derive(Default)]
struct Invoked(std::sync::Mutex<Vec<Vec<u8>>>);

impl launchguard_aws::Invoker for Invoked {
    async fn invoke_async(&self, _f: &str, payload: Vec<u8>) -> Result<(), launchguard_aws::CallError> {
        self.0.lock().unwrap().push(payload);
        Ok(())
    }
    async fn invoke_sync(&self, f: &str, _p: Vec<u8>) -> Result<launchguard_aws::InvokeResponse, launchguard_aws::CallError> {
        Err(launchguard_aws::CallError::new(format!("detectors never wait for {f}"), false))
    }
}

fn stream_config() -> launchguard_stream::Config {
    let vars = [
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher"),
        ("LG_STREAM_TABLE", "launchguard-stream"),
        ("LG_STREAM_ACCOUNTS", ACCOUNT),
        ("LG_STREAM_REGIONS", "us-east-1"),
        ("LG_STREAM_QUEUE_ARN", QUEUE_ARN),
        ("LG_STREAM_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/111122223333/launchguard-stream-events"),
        ("LG_HEALTH_TOPIC_ARN", "arn:aws:sns:us-east-1:218007301253:launchguard-health"),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    launchguard_stream::Config::from_env(&env).unwrap()
}

/// The stream's own queue (`LG_STREAM_QUEUE_ARN`): public knowledge.
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:launchguard-stream-events";

/// The stream's queue in memory: only its poller (the event source mapping, as the stream's
/// role) receives its messages and their receipt handles.
static QUEUE: LazyLock<MemoryQueue> = LazyLock::new(|| MemoryQueue::new(QUEUE_ARN));

fn bodies(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| eventbridge_event(r, ACCOUNT, "us-east-1").to_string()).collect()
}

/// The Lambda payload of an SQS batch of these records as EventBridge wraps them and the
/// stream's queue delivers them.
fn sqs_payload(records: &[Value]) -> launchguard_stream::SqsEvent {
    QUEUE.receive(&bodies(records))
}

/// The same batch as someone with `lambda:InvokeFunction` on `launchguard-stream` writes it:
/// the queue ARN and a receipt handle of their choosing.
fn forged_payload(records: &[Value], arn: &str, handle: &str) -> launchguard_stream::SqsEvent {
    let msgs: Vec<Value> = bodies(records)
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"messageId": format!("forged-{i}"), "receiptHandle": handle, "eventSource": "aws:sqs", "eventSourceARN": arn, "body": body})
        })
        .collect();
    serde_json::from_value(json!({ "Records": msgs })).unwrap()
}

/// What the stream detector sends for this payload at `at` (every finding it sealed).
async fn stream_findings(store: &MemoryStore, payload: &launchguard_stream::SqsEvent, at: DateTime<Utc>) -> Vec<Value> {
    stream_findings_with(store, payload, at, &launchguard_stream::memory_rules::intact(&stream_config())).await
}

/// [`stream_findings`], the stream's rules and health topic as `guard` holds them.
async fn stream_findings_with(
    store: &MemoryStore,
    payload: &launchguard_stream::SqsEvent,
    at: DateTime<Utc>,
    guard: &launchguard_stream::Guard<MemoryRules, MemoryHealth>,
) -> Vec<Value> {
    let invoked = Invoked::default();
    let (resp, _) = launchguard_stream::handle_batch(payload, &stream_config(), store, &invoked, &*QUEUE, guard, at).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    invoked.0.lock().unwrap().iter().map(|p| serde_json::from_slice(p).unwrap()).collect()
}

/// Each finding the stream sent, sealed with the stream's own key as its Lambda does, given to
/// the dispatcher; the statuses.
async fn dispatched(findings: &[Value], iam: &world::Iam, at: DateTime<Utc>) -> (Vec<String>, Sns) {
    let (lambda, sns, logs) = (Lambda::new(iam, &[], at), Sns::default(), Logs::default());
    let mut statuses = Vec::new();
    for f in findings {
        let r = world::dispatch_sealed_with(world::STREAM_KEY, f, &config(&[]), &lambda, &sns, &logs, at).await.unwrap();
        statuses.push(r.status.as_str().to_owned());
    }
    (statuses, sns)
}

#[tokio::test(start_paused = true)]
async fn atk1_a_direct_invoke_of_the_stream_function_with_records_aws_never_sent_contains_no_one() {
    // GIVEN a principal with lambda:InvokeFunction on launchguard-stream (PowerUserAccess has
    // it; Lambda resource policies cannot deny it, and the example SCP does not), which writes
    // the SQS batch Lambda would deliver: three RunInstances of 4 instances "by" ci-deployer,
    // `source: aws.ec2`, that never happened (CloudTrail holds nothing of them)
    let at = t0(41);
    let forged = Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c1);
    // WHEN it invokes the stream function with them, and the stream's sealed finding reaches
    // the dispatcher
    // (naming the stream's real queue, with a receipt handle the queue never gave out)
    let payload = forged_payload(&forged, QUEUE_ARN, "AQEBforged");
    let findings = stream_findings(&MemoryStore::default(), &payload, at - Duration::seconds(60)).await;
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(55)).await;
    // THEN nobody is contained on records no queue delivered: the key stays Active
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active, "contained on forged records: {statuses:?}");
    assert!(statuses.iter().all(|s| s != "contained"), "{statuses:?}");
    // AND the burst is still seen (a finding), carrying no record as AWS's, and saying why
    assert_eq!(findings.len(), 1, "the forged burst is counted, not lost");
    assert!(findings[0]["principals"][0].get("delivered_by_aws").is_none(), "{}", findings[0]);
    assert!(findings[0]["trigger"]["name"].as_str().unwrap().contains("not proven sent by the stream's queue"), "{}", findings[0]);
}

#[tokio::test(start_paused = true)]
async fn atk1_records_from_another_queue_are_not_vouched_for_and_contain_no_one() {
    // GIVEN the same forged burst, in a batch naming a queue of the attacker's own (whose
    // receipt handles it holds), not the stream's
    let at = t0(63);
    let forged = Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c8);
    let theirs = MemoryQueue::new("arn:aws:sqs:us-east-1:444455556666:launchguard-stream-events");
    let mut payload = theirs.receive(&bodies(&forged));
    for m in &mut payload.records {
        assert_ne!(m.event_source_arn, QUEUE_ARN);
        m.receipt_handle = m.receipt_handle.replace("AQEB", "AQEC");
    }
    // WHEN it invokes the stream function with it
    let findings = stream_findings(&MemoryStore::default(), &payload, at - Duration::seconds(60)).await;
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(55)).await;
    // THEN the burst is counted, but no record is carried as AWS's and no one is contained
    assert_eq!(findings.len(), 1);
    assert!(findings[0]["principals"][0].get("delivered_by_aws").is_none(), "{}", findings[0]);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active, "{statuses:?}");
}

#[tokio::test(start_paused = true)]
async fn atk1_a_genuine_handle_of_the_stream_queue_under_a_foreign_arn_is_not_vouched_for() {
    // GIVEN a burst whose receipt handles the stream's queue really holds, but whose batch names
    // another queue: the queue named is the one claimed, and it is not ours
    let at = t0(67);
    let records = Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c9);
    let mut payload = sqs_payload(&records);
    for m in &mut payload.records {
        m.event_source_arn = "arn:aws:sqs:us-east-1:111122223333:launchguard-stream-events-copy".into();
    }
    let findings = stream_findings(&MemoryStore::default(), &payload, at - Duration::seconds(60)).await;
    // THEN nothing is carried as AWS's (CloudTrail, holding nothing yet, contains no one)
    assert_eq!(findings.len(), 1);
    assert!(findings[0]["principals"][0].get("delivered_by_aws").is_none(), "{}", findings[0]);
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(55)).await;
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active, "{statuses:?}");
}

#[tokio::test(start_paused = true)]
#[ignore = "atk finding 2: the code vouches for whatever the table holds; deployed, the table policy (test_only_the_stream_role_writes_the_stream_table) lets no one else write it"]
async fn atk2_records_written_into_the_stream_table_by_someone_else_contain_no_one() {
    // GIVEN a principal with dynamodb:PutItem/UpdateItem on the table launchguard-stream (it has
    // no resource policy: PowerUserAccess suffices) that writes three forged RunInstances of 4
    // instances "by" ci-deployer into its series, with their bucket sums: the two items of the
    // stream's own TransactWriteItems
    let at = t0(43);
    let cfg = stream_config();
    let rule = &cfg.rules.iter().find(|r| r.rule.id == "ec2-mass-launch").unwrap().rule;
    let store = MemoryStore::default();
    let forged = Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c2);
    for r in &forged {
        let detail = r.to_string();
        let hit = launchguard_core::stream::hit(&rule.event, &detail, false).unwrap();
        let t_ms = hit.t_ms;
        let item = EventItem {
            series: series_key(&rule.id, &hit.principal),
            event_id: r["eventID"].as_str().unwrap().to_owned(),
            t_ms,
            bucket_ms: launchguard_core::stream::bucket_start(t_ms, 10_000),
            counts: hit.counts,
            detail,
            ttl: t_ms / 1000 + 90_000,
            // a writer of the table writes whatever it likes
            proven: true,
        };
        store.record(&item).await.unwrap();
    }
    // AND ci-deployer's one real launch of one instance, which CloudTrail and EventBridge deliver
    let real = Burst::new(deployer(), 1, 1, at - Duration::seconds(40)).records(&run_instances_template(), 0xa7c3);
    world::trail().record(&real[0], TRAIL_LAG);
    // WHEN the real event reaches the stream, and its finding the dispatcher
    let findings = stream_findings(&store, &sqs_payload(&real), at - Duration::seconds(35)).await;
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(30)).await;
    // THEN one instance is no burst: nobody is contained on records the table was given by
    // another writer
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active, "contained on forged table items: {statuses:?}");
    assert!(statuses.iter().all(|s| s != "contained"), "{statuses:?}");
}

/// `records` each padded as a launcher may pad its own call: two tag specifications (instance
/// and volume) of 50 tags each, keys of 128 characters and values of 256 (EC2's limits), which
/// CloudTrail records in `requestParameters`. About 40 KB a record.
fn padded(mut records: Vec<Value>) -> Vec<Value> {
    for r in &mut records {
        let tags: Vec<Value> = (0..50).map(|i| json!({"key": format!("{i:02}{}", "k".repeat(126)), "value": "v".repeat(256)})).collect();
        r["requestParameters"]["tagSpecificationSet"] = json!({"items": [
            {"resourceType": "instance", "tags": tags.clone()},
            {"resourceType": "volume", "tags": tags},
        ]});
    }
    records
}

#[tokio::test(start_paused = true)]
async fn atk3_a_burst_padded_with_tags_is_still_contained_in_seconds() {
    // GIVEN ci-deployer's real burst (3 x 4 instances in 14 s), each call carrying 100 tags of
    // EC2's largest size, which CloudTrail's event history holds only 5 minutes from now
    let at = t0(47);
    let records = padded(Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c4));
    let sizes: Vec<usize> = records.iter().map(|r| r.to_string().len()).collect();
    assert!(sizes.iter().all(|&s| s > 22 * 1024 && s < 64 * 1024), "{sizes:?}");
    for r in &records {
        world::trail().record(r, TRAIL_LAG);
    }
    // WHEN the stream catches it and the dispatcher gets its finding, seconds after the burst
    let findings = stream_findings(&MemoryStore::default(), &sqs_payload(&records), at - Duration::seconds(69)).await;
    assert_eq!(findings.len(), 1, "the stream flags the burst");
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(65)).await;
    // THEN the key it used is contained now, not minutes later by the alarm chain
    assert_eq!(statuses, ["contained"], "delivered_by_aws: {}", findings[0]["principals"][0]["delivered_by_aws"]);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
}

#[tokio::test(start_paused = true)]
async fn atk3_one_call_of_thirty_instances_is_contained_in_seconds() {
    // GIVEN ci-deployer's one real call launching 30 instances (EC2 answers with every
    // instance's description: about 2.5 KB each), which CloudTrail's event history holds only 5
    // minutes from now
    let at = t0(61);
    let records = Burst::new(deployer(), 1, 30, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c7);
    let size = records[0].to_string().len();
    assert!(size > 64 * 1024 && size < 256 * 1024, "{size}");
    world::trail().record(&records[0], TRAIL_LAG);
    // WHEN the stream catches it and the dispatcher gets its finding, seconds after the call
    let findings = stream_findings(&MemoryStore::default(), &sqs_payload(&records), at - Duration::seconds(80)).await;
    assert_eq!(findings.len(), 1, "the stream flags the call");
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(75)).await;
    // THEN the key it used is contained now, not minutes later by the alarm chain
    assert_eq!(statuses, ["contained"]);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
}

/// The alarm chain's finding for `records`: the real detector, fired by the launch alarm.
async fn from_alarm(records: &[Value], now: DateTime<Utc>) -> Value {
    let alarm = "launchguard-runinstances";
    let alarm_arn = format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{alarm}");
    let vars = [
        ("CLOUDTRAIL_LOG_GROUP_NAME", "cloudtrail-logs".to_owned()),
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher".to_owned()),
        ("LG_POLL_INITIAL_MS", "100".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("ALARM_ARNS", alarm_arn),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let cfg = launchguard_detector::Config::from_env(&env).unwrap();
    let ev = launchguard_testkit::sns_alarm_event(alarm, ACCOUNT, "us-east-1", "ALARM", now - Duration::seconds(30), 60, 1);
    let logs: Vec<(i64, String)> = records
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    let invoked = Invoked::default();
    let function_arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:launchguard-detector");
    launchguard_detector::handle(&ev, &function_arn, &cfg, &MemoryLogs::new(logs), &MemoryAlarms::as_notified(&ev), &invoked, now)
        .await
        .unwrap();
    let sent = invoked.0.lock().unwrap();
    assert_eq!(sent.len(), 1, "one finding");
    serde_json::from_slice(&sent[0]).unwrap()
}

#[tokio::test(start_paused = true)]
async fn atk_held_a_stream_finding_left_notify_only_does_not_make_the_alarm_chains_finding_a_no_op() {
    // GIVEN the stream's finding for a real burst whose records it could not carry (over
    // MAX_DELIVERED_BYTES) while CloudTrail lags: it contains no one, and the stream's claim keeps
    // it from sending another for a day
    let at = t0(53);
    let records = Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c5);
    for r in &records {
        world::trail().record(r, TRAIL_LAG);
    }
    let mut findings = stream_findings(&MemoryStore::default(), &sqs_payload(&records), at - Duration::seconds(69)).await;
    findings[0]["principals"][0]["delivered_by_aws"] = json!([]);
    let iam = iam();
    let (lambda, sns, logs) = (Lambda::new(&iam, &[], at), Sns::default(), Logs::default());
    let first =
        world::dispatch_sealed_with(world::STREAM_KEY, &findings[0], &config(&[]), &lambda, &sns, &logs, at - Duration::seconds(65))
            .await
            .unwrap();
    // WHEN the alarm chain's finding arrives minutes later, CloudTrail now holding the calls
    let alarm = from_alarm(&records, at).await;
    tokio::time::advance(TRAIL_LAG).await;
    let later = at + Duration::minutes(6);
    let lambda = Lambda::new(&iam, &[], later);
    let second = world::dispatch(&alarm, &config(&[]), &lambda, &sns, &logs, later).await.unwrap();
    // THEN the alarm chain contains it: the stream's finding held nothing that makes it a no-op
    assert_eq!(first.status.as_str(), "action_needed", "{first:?}");
    assert_eq!(second.status.as_str(), "contained", "{second:?}");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
}

#[tokio::test(start_paused = true)]
async fn atk_held_a_burst_delivered_in_reverse_and_twice_makes_one_finding_that_contains() {
    // GIVEN ci-deployer's real burst, its messages delivered newest first, then all again
    let at = t0(59);
    let mut records = Burst::new(deployer(), 4, 3, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7c6);
    for r in &records {
        world::trail().record(r, TRAIL_LAG);
    }
    records.reverse();
    let store = MemoryStore::default();
    let mut findings = stream_findings(&store, &sqs_payload(&records), at - Duration::seconds(60)).await;
    findings.extend(stream_findings(&store, &sqs_payload(&records), at - Duration::seconds(50)).await);
    // THEN exactly one finding, and the records it carries contain the key it used
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(45)).await;
    assert_eq!(statuses, ["contained"]);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
}

#[tokio::test(start_paused = true)]
async fn tgt1_records_a_rewritten_stream_rule_delivered_through_the_queue_contain_no_one() {
    // GIVEN someone with events:PutTargets on launchguard-stream-ec2 (an account without the
    // example SCP) whose InputTransformer makes the genuine rule write three RunInstances of 4
    // instances "by" ci-deployer that never happened: they pass the queue policy (the genuine
    // rule's aws:SourceArn) and the queue's proof (the genuine queue delivers them)
    // (seen failing first on 68f5cfb: "contained on records a rewritten rule wrote: [\"contained\"]")
    let at = t0(71);
    let written = Burst::new(deployer(), 3, 4, at - Duration::seconds(90)).records(&run_instances_template(), 0xa7d1);
    let payload = sqs_payload(&written);
    let guard = launchguard_stream::memory_rules::intact(&stream_config());
    guard.rules.change("launchguard-stream-ec2", |r| r.targets[0].input_transformer = Some("{\"detail\":<forged>}".into()));
    // WHEN the stream's sealed finding reaches the dispatcher (CloudTrail holds nothing of them)
    let findings = stream_findings_with(&MemoryStore::default(), &payload, at - Duration::seconds(60), &guard).await;
    let iam = iam();
    let (statuses, _) = dispatched(&findings, &iam, at - Duration::seconds(55)).await;
    // THEN nobody is contained on what the rewritten rule wrote, and launchguard's health is paged
    assert_eq!(findings.len(), 1);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active, "contained on records a rewritten rule wrote: {statuses:?}");
    assert!(statuses.iter().all(|s| s != "contained"), "{statuses:?}");
    assert_eq!(guard.health.pages().len(), 1);
}
