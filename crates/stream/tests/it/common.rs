//! What the stream tests share: the account, the configuration, real records made into bursts
//! and wrapped as EventBridge delivers them, SQS batches, Lambda in memory.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::InvokeResponse;
use launchguard_core::contract::Finding;
use launchguard_stream::memory_health::MemoryHealth;
use launchguard_stream::memory_queue::MemoryQueue;
use launchguard_stream::memory_rules::MemoryRules;
use launchguard_stream::{CallError, Config, Guard, Invoker, SqsEvent};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "218007301253";
pub const REGION: &str = "us-east-1";
/// The stream's own queue.
pub const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:218007301253:launchguard-stream-events";
pub const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/218007301253/launchguard-stream-events";

static QUEUE: LazyLock<MemoryQueue> = LazyLock::new(|| MemoryQueue::new(QUEUE_ARN));

/// The stream's queue in memory, which delivered every [`batch`].
pub fn queue() -> &'static MemoryQueue {
    &QUEUE
}

/// Lambda in memory: the findings sent; `fail_next` makes that many sends fail.
#[derive(Default)]
pub struct FakeLambda {
    pub sent: Mutex<Vec<Vec<u8>>>,
    pub fail_next: AtomicU64,
}

impl Invoker for FakeLambda {
    async fn invoke_async(&self, _function: &str, payload: Vec<u8>) -> Result<(), CallError> {
        if self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(CallError::new("lambda:Invoke: Rate exceeded (TooManyRequestsException; HTTP 429)", true));
        }
        self.sent.lock().unwrap().push(payload);
        Ok(())
    }
    async fn invoke_sync(&self, function: &str, _p: Vec<u8>) -> Result<InvokeResponse, CallError> {
        Err(CallError::new(format!("the stream detector never waits for {function}"), false))
    }
}

impl FakeLambda {
    pub fn findings(&self) -> Vec<Finding> {
        self.sent.lock().unwrap().iter().map(|p| Finding::parse(serde_json::from_slice(p).unwrap()).unwrap()).collect()
    }
}

pub fn config() -> Config {
    let vars = [
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher"),
        ("LG_STREAM_TABLE", "launchguard-stream"),
        ("LG_STREAM_ACCOUNTS", ACCOUNT),
        ("LG_STREAM_REGIONS", REGION),
        ("LG_STREAM_QUEUE_ARN", QUEUE_ARN),
        ("LG_STREAM_QUEUE_URL", QUEUE_URL),
        ("LG_HEALTH_TOPIC_ARN", "arn:aws:sns:us-east-1:218007301253:launchguard-health"),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    Config::from_env(&env).unwrap()
}

pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 38, 0).unwrap()
}

pub fn deployer() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "ci-deployer".into(), key: "AKIAEXAMPLEDEPLOYER1".into() }
}

pub fn benign() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "benign".into(), key: "AKIAEXAMPLEBENIGN001".into() }
}

/// `calls` launches of `per_call` instances by `actor`, 7 s apart from `at()`, as EventBridge bodies.
pub fn bodies(actor: Actor, calls: u32, per_call: u32, seed: u32) -> Vec<String> {
    Burst::new(actor, calls, per_call, at())
        .records(&run_instances_template(), seed)
        .iter()
        .map(|r| eventbridge_event(r, ACCOUNT, REGION).to_string())
        .collect()
}

/// An SQS batch of these bodies as the stream's queue delivers it ([`queue`]); message ids
/// `m0`, `m1`...
pub fn batch(bodies: &[String]) -> SqsEvent {
    QUEUE.receive(bodies)
}

/// The Lambda payload of a batch of these bodies written by someone else: `eventSourceARN` and
/// receipt handle as given; message ids `f0`, `f1`...
pub fn forged_batch(bodies: &[String], arn: &str, handle: &str) -> SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("f{i}"), "body": b, "eventSource": "aws:sqs", "receiptHandle": handle, "eventSourceARN": arn}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// A little after the last event of a burst of `calls`.
pub fn after(calls: u32) -> DateTime<Utc> {
    at() + Duration::seconds(7 * i64::from(calls) + 2)
}

/// The stream's rules as `make deploy` leaves them (rendered from [`config`]'s rule set), and a
/// health topic, in memory.
pub fn intact() -> Guard<MemoryRules, MemoryHealth> {
    launchguard_stream::memory_rules::intact(&config())
}
