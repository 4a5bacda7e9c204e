//! What the stream tests share: the account, the configuration, real records made into bursts
//! and wrapped as EventBridge delivers them, SQS batches, Lambda in memory.

#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::InvokeResponse;
use launchguard_core::contract::Finding;
use launchguard_stream::{CallError, Config, Invoker, SqsEvent};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "218007301253";
pub const REGION: &str = "us-east-1";

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

/// An SQS batch of these bodies; message ids `m0`, `m1`...
pub fn batch(bodies: &[String]) -> SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("m{i}"), "body": b, "eventSource": "aws:sqs", "receiptHandle": "x"}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// A little after the last event of a burst of `calls`.
pub fn after(calls: u32) -> DateTime<Utc> {
    at() + Duration::seconds(7 * i64::from(calls) + 2)
}
