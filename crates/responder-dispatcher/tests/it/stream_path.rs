//! Issue 26: one page per incident across both paths. The stream detector (EventBridge, in
//! seconds) and the alarm chain (minutes later) both find ci-deployer's burst; the dispatcher's
//! ledger holds the key and the quarantine under the stream's finding, so the alarm chain's
//! finding for the same principal changes nothing and pages no one a second time.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_responder::KeyStatus;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};
use world::{ACCOUNT, Lambda, Logs, Sns, config, iam};

/// The stream's own queue.
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:launchguard-stream-events";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 0).unwrap()
}

/// ci-deployer: 3 launches of 4 instances, 7 s apart, 90 s before now; eventIDs of their own.
fn burst() -> Vec<Value> {
    let actor = Actor::IamUser { account: ACCOUNT.into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() };
    Burst::new(actor, 3, 4, now() - Duration::seconds(90)).records(&run_instances_template(), 0x26)
}

/// Lambda in memory for a detector: the payloads it sends.
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

impl Invoked {
    fn one(&self) -> Value {
        let sent = self.0.lock().unwrap();
        assert_eq!(sent.len(), 1, "one finding");
        serde_json::from_slice(&sent[0]).unwrap()
    }
}

/// The stream detector's finding: the burst through EventBridge and SQS, 5 s after its last call.
async fn from_stream(records: &[Value]) -> Value {
    from_stream_at(records, now()).await
}

/// [`from_stream`] for a burst that started 90 s before `t0`.
async fn from_stream_at(records: &[Value], t0: DateTime<Utc>) -> Value {
    let cfg = stream_config();
    // delivered by the stream's own queue: its ARN, receipt handles it holds in flight
    let queue = MemoryQueue::new(QUEUE_ARN);
    let batch = queue.receive(&bodies(records));
    let invoked = Invoked::default();
    let at = t0 - Duration::seconds(90) + Duration::seconds(19);
    let (resp, report) = launchguard_stream::handle_batch(
        &batch,
        &cfg,
        &MemoryStore::default(),
        &invoked,
        &queue,
        &launchguard_stream::memory_rules::intact(&cfg),
        at,
    )
    .await;
    assert!(report.unproven.is_empty(), "{:?}", report.unproven);
    assert!(resp.batch_item_failures.is_empty());
    invoked.one()
}

/// The records as EventBridge delivers them to the stream's queue.
fn bodies(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| eventbridge_event(r, ACCOUNT, "us-east-1").to_string()).collect()
}

/// The stream detector's configuration in this account.
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

/// The alarm chain's finding: the real detector, fired by the launch alarm a minute later.
async fn from_alarm(records: &[Value]) -> Value {
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
    let ev = launchguard_testkit::sns_alarm_event(alarm, ACCOUNT, "us-east-1", "ALARM", now() - Duration::seconds(30), 60, 1);
    let logs: Vec<(i64, String)> = records
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    let invoked = Invoked::default();
    let function_arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:launchguard-detector");
    launchguard_detector::handle(&ev, &function_arn, &cfg, &MemoryLogs::new(logs), &MemoryAlarms::as_notified(&ev), &invoked, now())
        .await
        .unwrap();
    invoked.one()
}

#[tokio::test]
async fn the_alarm_chains_later_finding_is_already_contained_and_pages_no_one_again() {
    // GIVEN the burst in CloudTrail, found first by the stream and then by the alarm chain
    let records = burst();
    for r in &records {
        world::trail().record(r, std::time::Duration::ZERO);
    }
    let stream = from_stream(&records).await;
    let alarm = from_alarm(&records).await;
    assert_ne!(stream["finding_id"], alarm["finding_id"]);
    assert_eq!(stream["principals"][0]["principal"], alarm["principals"][0]["principal"]);
    let iam = iam();
    let (lambda, sns, logs) = (Lambda::new(&iam, &[], now()), Sns::default(), Logs::default());
    // WHEN the dispatcher gets the stream's finding, then the alarm chain's
    let first = world::dispatch_sealed_with(world::STREAM_KEY, &stream, &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    let second = world::dispatch(&alarm, &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    // THEN the stream's contains the key it used, the alarm chain's changes nothing
    assert_eq!(first.status.as_str(), "contained", "{first:?}");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
    assert_eq!(iam.user("ci-deployer").keys[1].1, KeyStatus::Active, "only the key used");
    assert_eq!(second.status.as_str(), "already_contained", "{second:?}");
    // AND one page for the incident, naming the path that caught it
    let pages = sns.messages.lock().unwrap();
    assert_eq!(pages.len(), 1, "{pages:#?}");
    assert!(pages[0].1.contains("EventBridge stream (caught"), "{}", pages[0].1);
}

/// CloudTrail's documented delivery to its event history: typically within 5 minutes.
const TRAIL_LAG: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// ci-deployer's burst of another incident, 90 s before `t0` (event ids of their own; `t0` days
/// away from the other tests' bursts, which share one CloudTrail: no lookup of ci-deployer's own
/// calls finds theirs).
fn lagging_burst(seed: u32, t0: DateTime<Utc>) -> Vec<Value> {
    let actor = Actor::IamUser { account: ACCOUNT.into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() };
    Burst::new(actor, 3, 4, t0 - Duration::seconds(90)).records(&run_instances_template(), seed)
}

#[tokio::test(start_paused = true)]
async fn a_stream_finding_contains_in_seconds_while_cloudtrails_event_history_still_lags() {
    // GIVEN the burst, which CloudTrail's event history will hold only 5 minutes from now
    let t0 = now() + Duration::days(3);
    let records = lagging_burst(0x2601, t0);
    for r in &records {
        world::trail().record(r, TRAIL_LAG);
    }
    let stream = from_stream_at(&records, t0).await;
    let iam = iam();
    let (lambda, sns, logs) = (Lambda::new(&iam, &[], t0), Sns::default(), Logs::default());
    // WHEN the dispatcher gets the stream's finding, seconds after the burst
    let started = tokio::time::Instant::now();
    let report = world::dispatch_sealed_with(world::STREAM_KEY, &stream, &config(&[]), &lambda, &sns, &logs, t0).await.unwrap();
    // THEN the key it used is contained, within the delivery, without waiting for CloudTrail
    assert_eq!(report.status.as_str(), "contained", "{report:?}");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
    assert_eq!(iam.user("ci-deployer").keys[1].1, KeyStatus::Active, "only the key used");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
    // AND no lookup was needed: the records AWS delivered to the stream confirmed it
    let ids: Vec<String> = records.iter().map(|r| r["eventID"].as_str().unwrap().to_owned()).collect();
    assert!(world::trail().lookups().iter().all(|(_, l)| !ids.iter().any(|id| l.contains(id.as_str()))));
}

#[tokio::test(start_paused = true)]
async fn records_said_delivered_by_aws_in_a_finding_the_detectors_key_sealed_are_not_trusted() {
    // GIVEN the stream's finding for a burst CloudTrail's event history does not hold yet, sealed
    // with the finding key: what the alarm chain's detector (or a FINDING_SIGNERS principal)
    // could send, records and all
    let t0 = now() + Duration::days(5);
    let records = lagging_burst(0x2602, t0);
    for r in &records {
        world::trail().record(r, TRAIL_LAG);
    }
    let stream = from_stream_at(&records, t0).await;
    assert!(!stream["principals"][0]["delivered_by_aws"].as_array().unwrap().is_empty());
    let iam = iam();
    let (lambda, sns, logs) = (Lambda::new(&iam, &[], t0), Sns::default(), Logs::default());
    // WHEN the dispatcher gets it
    let report = world::dispatch_sealed_with(world::FINDING_KEY, &stream, &config(&[]), &lambda, &sns, &logs, t0).await.unwrap();
    // THEN the records are ignored: CloudTrail does not hold them yet, so nobody is contained
    assert_eq!(report.status.as_str(), "action_needed", "{report:?}");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active);
    let pages = sns.messages.lock().unwrap();
    assert!(pages[0].1.contains("NOT contained, notify-only"), "{}", pages[0].1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_sealed_record_that_is_not_the_claims_own_confirms_nothing() {
    // GIVEN the stream's finding, sealed with the stream's key, whose delivered records were
    // altered: another user's calls, and counts bigger than the calls launched
    let t0 = now() + Duration::days(7);
    let records = lagging_burst(0x2603, t0);
    for r in &records {
        world::trail().record(r, TRAIL_LAG);
    }
    let stream = from_stream_at(&records, t0).await;
    let alter = |f: &dyn Fn(&mut Value)| {
        let mut s = stream.clone();
        for r in s["principals"][0]["delivered_by_aws"].as_array_mut().unwrap() {
            let mut v: Value = serde_json::from_str(r.as_str().unwrap()).unwrap();
            f(&mut v);
            *r = Value::String(v.to_string());
        }
        s
    };
    let other_user = alter(&|v| {
        v["userIdentity"]["userName"] = json!("alice");
        v["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/alice"));
    });
    let another_time = alter(&|v| v["eventTime"] = json!("2020-01-01T00:00:00Z"));
    for (what, finding) in [("another user's", other_user), ("another time's", another_time)] {
        let iam = iam();
        let (lambda, sns, logs) = (Lambda::new(&iam, &[], t0), Sns::default(), Logs::default());
        // WHEN the dispatcher gets it
        let report = world::dispatch_sealed_with(world::STREAM_KEY, &finding, &config(&[]), &lambda, &sns, &logs, t0).await.unwrap();
        // THEN they confirm nothing, CloudTrail does not hold the calls yet: nobody is contained
        assert_eq!(report.status.as_str(), "action_needed", "{what}: {report:?}");
        assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active, "{what}");
    }
}

/// rv finding 4's fix lets one proven finding follow an unproven one for the same principal in
/// the same incident. GIVEN two of ci-deployer's bursts in one incident, both in CloudTrail: the
/// first handed to the stream function by a direct invocation (unproven: its finding carries no
/// record), the second through the stream's own queue (proven: its finding carries them). WHEN
/// the dispatcher gets both findings, THEN the first contains the key it used (CloudTrail
/// confirms it), the second is "already contained" (its handlers find the key inactive and the
/// quarantine in place): nothing changes, and one page in all.
#[tokio::test(start_paused = true)]
async fn a_proven_stream_finding_after_an_unproven_one_is_already_contained_and_pages_no_one_again() {
    let t0 = now() + Duration::days(9);
    let (unproven_burst, proven_burst) = (lagging_burst(0x2604, t0), lagging_burst(0x2605, t0));
    for r in unproven_burst.iter().chain(&proven_burst) {
        world::trail().record(r, std::time::Duration::ZERO);
    }
    let (cfg, store, invoked) = (stream_config(), MemoryStore::default(), Invoked::default());
    let at = t0 - Duration::seconds(90) + Duration::seconds(19);
    let queue = MemoryQueue::new(QUEUE_ARN);
    let direct: Vec<Value> = bodies(&unproven_burst)
        .into_iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("f{i}"), "body": b, "receiptHandle": "AQEBforged", "eventSourceARN": QUEUE_ARN}))
        .collect();
    let direct: launchguard_stream::SqsEvent = serde_json::from_value(json!({ "Records": direct })).unwrap();
    let (_, report) =
        launchguard_stream::handle_batch(&direct, &cfg, &store, &invoked, &queue, &launchguard_stream::memory_rules::intact(&cfg), at)
            .await;
    assert_eq!(report.unproven.len(), 3);
    let (_, report) = launchguard_stream::handle_batch(
        &queue.receive(&bodies(&proven_burst)),
        &cfg,
        &store,
        &invoked,
        &queue,
        &launchguard_stream::memory_rules::intact(&cfg),
        at,
    )
    .await;
    assert!(report.unproven.is_empty());
    let findings: Vec<Value> = invoked.0.lock().unwrap().iter().map(|p| serde_json::from_slice(p).unwrap()).collect();
    assert_eq!(findings.len(), 2, "one unproven and one proven finding");
    assert!(findings[0]["principals"][0]["delivered_by_aws"].as_array().is_none_or(Vec::is_empty));
    assert_eq!(findings[1]["principals"][0]["delivered_by_aws"].as_array().map(Vec::len), Some(3));
    let iam = iam();
    let (lambda, sns, logs) = (Lambda::new(&iam, &[], t0), Sns::default(), Logs::default());
    // WHEN the dispatcher gets the unproven finding, then the proven one
    let first = world::dispatch_sealed_with(world::STREAM_KEY, &findings[0], &config(&[]), &lambda, &sns, &logs, t0).await.unwrap();
    let second = world::dispatch_sealed_with(world::STREAM_KEY, &findings[1], &config(&[]), &lambda, &sns, &logs, t0).await.unwrap();
    // THEN the first contains the key used, the second changes nothing
    assert_eq!(first.status.as_str(), "contained", "{first:?}");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
    assert_eq!(iam.user("ci-deployer").keys[1].1, KeyStatus::Active, "only the key used");
    assert_eq!(second.status.as_str(), "already_contained", "{second:?}");
    // AND one page for the incident
    let pages = sns.messages.lock().unwrap();
    assert_eq!(pages.len(), 1, "{pages:#?}");
}

#[test]
fn the_stream_key_may_not_be_the_finding_key() {
    // GIVEN a configuration whose stream key is the finding key: every detector's findings would
    // have their delivered records trusted
    let vars = [
        ("COMMAND_KEY_ID", world::COMMAND_KEY),
        ("FINDING_KEY_ID", world::FINDING_KEY),
        ("STREAM_FINDING_KEY_ID", world::FINDING_KEY),
        ("RELEASE_KEY_ID", world::RELEASE_KEY),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    // THEN the dispatcher refuses to start, naming the variable
    let err = launchguard_responder_dispatcher::auth::Seals::from_env(&env).unwrap_err();
    assert!(err.to_string().contains("STREAM_FINDING_KEY_ID"), "{err}");
    // AND with a key of its own, it starts
    let vars = [
        ("COMMAND_KEY_ID", world::COMMAND_KEY),
        ("FINDING_KEY_ID", world::FINDING_KEY),
        ("STREAM_FINDING_KEY_ID", world::STREAM_KEY),
        ("RELEASE_KEY_ID", world::RELEASE_KEY),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    let seals = launchguard_responder_dispatcher::auth::Seals::from_env(&env).unwrap();
    assert_eq!(seals.stream_finding_key_id.as_deref(), Some(world::STREAM_KEY));
}
