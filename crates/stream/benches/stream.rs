//! The stream detector in process: `cargo bench --bench stream` (`bench/run.py --only stream`).
//!
//! 1. **Latency**: 1,000 incidents (IAM users launching 3 x 4 instances, 7 s apart: 12 of the
//!    rule's 10 in 5 minutes), 50 at a time, each incident's events handled in order as SQS
//!    delivers them; the counter store answers every request after 20 ms, and the finding's
//!    containment is one IAM call of 50 ms (the dispatcher and handler are not run: the invoker
//!    waits 50 ms where they would call `UpdateAccessKey`). Measured: from the crossing event
//!    entering the function to the end of that call; p50 and p99.
//! 2. **Writes per event** and events per second (store without latency) at 1, 100 and 10,000
//!    principals active together, none crossing a threshold (1 instance a call).
//!
//! Output: one JSON object per line.

#![allow(clippy::unwrap_used)] // a benchmark whose setup cannot unwrap has failed

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::memory_rules::intact;
use launchguard_stream::{Config, Outcome, handle_event};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};

const ACCOUNT: &str = "218007301253";

/// The dispatcher and its handler, as one IAM call of `latency`.
struct Containment {
    latency: Duration,
}

impl Invoker for Containment {
    async fn invoke_async(&self, _f: &str, _p: Vec<u8>) -> Result<(), CallError> {
        tokio::time::sleep(self.latency).await;
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

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn latency() {
    let cfg = config();
    let store = MemoryStore::with_latency(Duration::from_millis(20));
    let iam = Containment { latency: Duration::from_millis(50) };
    let now = start() + chrono::Duration::seconds(30);
    let incidents: Vec<Vec<String>> = (0..1000).map(|u| bodies(u, 3, 4)).collect();
    let mut times = Vec::new();
    for chunk in incidents.chunks(50) {
        let runs = chunk.iter().map(|events| {
            let (cfg, store, iam) = (&cfg, &store, &iam);
            async move {
                let mut took = None;
                for b in events {
                    let t = Instant::now();
                    let out = handle_event(b, true, cfg, store, iam, &intact(cfg), now).await.unwrap();
                    if out.iter().any(|o| matches!(o, Outcome::Sent { .. })) {
                        took = Some(t.elapsed());
                    }
                }
                took.expect("every incident crosses")
            }
        });
        times.extend(futures_util::future::join_all(runs).await);
    }
    times.sort();
    println!(
        "{}",
        serde_json::json!({"bench": "latency", "incidents": times.len(), "store_ms": 20, "iam_ms": 50,
            "p50_ms": pct(&times, 0.5), "p99_ms": pct(&times, 0.99), "max_ms": pct(&times, 1.0),
            "store_requests": store.requests.load(Ordering::SeqCst)})
    );
}

async fn writes(principals: u32) {
    let cfg = config();
    let store = MemoryStore::default();
    let sink = Containment { latency: Duration::ZERO };
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
        latency().await;
        for n in [1, 100, 10_000] {
            writes(n).await;
        }
    });
}
