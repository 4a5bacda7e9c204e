//! The stream detector in process: `cargo bench --bench stream` (`bench/run.py --only stream`).
//!
//! **Writes per event** and events per second (store without latency) at 1, 100 and 10,000
//! principals active together, none crossing a threshold (1 instance a call). The latency from an
//! event to containment, through the real dispatcher and handlers, is the dispatcher's benchmark
//! (`crates/responder-dispatcher/benches/chain.rs`, `cargo bench --bench chain`).
//!
//! Output: one JSON object per line.

#![allow(clippy::unwrap_used)] // a benchmark whose setup cannot unwrap has failed

use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_rules::intact;
use launchguard_stream::{Config, handle_event};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};

const ACCOUNT: &str = "218007301253";

/// The dispatcher, taking every finding at once (none is made: nobody crosses).
struct Containment;

impl Invoker for Containment {
    async fn invoke_async(&self, _f: &str, _p: Vec<u8>) -> Result<(), CallError> {
        Ok(())
    }
    async fn invoke_sync(&self, _f: &str, _p: Vec<u8>) -> Result<InvokeResponse, CallError> {
        unreachable!()
    }
}

fn config() -> Config {
    let vars = [
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher"),
        ("LG_STREAM_TABLE", "launchguard-stream"),
        ("LG_STREAM_ACCOUNTS", ACCOUNT),
        ("LG_STREAM_REGIONS", "us-east-1"),
        ("LG_STREAM_QUEUE_ARN", "arn:aws:sqs:us-east-1:218007301253:launchguard-stream-events"),
        ("LG_STREAM_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/218007301253/launchguard-stream-events"),
        ("LG_HEALTH_TOPIC_ARN", "arn:aws:sns:us-east-1:218007301253:launchguard-health"),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    Config::from_env(&env).unwrap()
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 38, 0).unwrap()
}

fn bodies(user: u32, calls: u32, per_call: u32) -> Vec<String> {
    let actor = Actor::IamUser { account: ACCOUNT.into(), name: format!("user-{user}"), key: format!("AKIAEXAMPLE{user:09}") };
    Burst::new(actor, calls, per_call, start())
        .records(&run_instances_template(), user)
        .iter()
        .map(|r| eventbridge_event(r, ACCOUNT, "us-east-1").to_string())
        .collect()
}

async fn writes(principals: u32) {
    let cfg = config();
    let store = MemoryStore::default();
    let sink = Containment;
    let now = start() + chrono::Duration::seconds(60);
    let per = (20_000 / principals).clamp(2, 5);
    let all: Vec<String> = (0..principals).flat_map(|u| bodies(u, per, 1)).collect();
    let t = Instant::now();
    for b in &all {
        handle_event(b, true, &cfg, &store, &sink, &intact(&cfg), now).await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let w = store.writes.load(Ordering::SeqCst);
    println!(
        "{}",
        serde_json::json!({"bench": "writes", "principals": principals, "events": all.len(), "writes": w,
            "writes_per_event": w as f64 / all.len() as f64, "events_per_s": all.len() as f64 / secs,
            "requests_per_event": store.requests.load(Ordering::SeqCst) as f64 / all.len() as f64})
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async {
        for n in [1, 100, 10_000] {
            writes(n).await;
        }
    });
}
