//! The stream path in process, from an event to containment: `cargo bench --bench chain`
//! (`bench/run.py --only stream`).
//!
//! 1,000 incidents (IAM users launching 3 x 4 instances, 7 s apart: 12 of the launch rule's 10 in
//! 5 minutes), twice: one at a time (each alone, as each Lambda invocation runs in an instance of
//! its own), then 50 at a time on one thread (their CPU work in turn), each incident's events handled in order as SQS delivers them by the
//! stream detector's handler (`launchguard_stream::handle_event`, its records proven to come from
//! its queue) over the in-memory counter store answering every request after 20 ms. Its finding
//! goes, sealed with the stream's own key, to the real dispatcher (`launchguard_responder_dispatcher::handle`),
//! which invokes the real handlers in process (the dispatcher's test world,
//! `tests/it/world`: the access-key and IAM handlers over the in-memory IAM, every IAM call
//! answered after 50 ms; each handler invocation waits 10 ms, standing for Lambda's Invoke).
//! Measured per incident: from the crossing event entering the stream's handler to the return of
//! the last handler invocation (its last IAM call made); p50, p99 and max. Every incident must end
//! contained, or the benchmark fails.
//!
//! Output: one JSON object per run.

#![allow(clippy::unwrap_used)] // a benchmark whose setup cannot unwrap has failed

#[path = "../tests/it/world/mod.rs"]
mod world;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_core::auth::Purpose;
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::Config;
use launchguard_stream::memory::MemoryStore;
use launchguard_stream::{Outcome, handle_event};
use launchguard_testkit::eventbridge::eventbridge_event;
use launchguard_testkit::{Actor, Burst, run_instances_template};
use world::{ACCOUNT, Entity, Iam, Lambda, Logs, Sns};

/// Incidents (`LG_BENCH_INCIDENTS`, default 1,000) and how many run at once (`LG_BENCH_AT_ONCE`;
/// without it, two runs: 1 and 50), on one thread.
fn setting(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(default)
}
const STORE_LATENCY: Duration = Duration::from_millis(20);
const IAM_LATENCY: Duration = Duration::from_millis(50);

/// The handlers, as the dispatcher invokes them: the world's, timing the last invocation's end.
struct Handlers<'a> {
    lambda: &'a Lambda<'a>,
    last: Mutex<Option<Instant>>,
}

impl Invoker for Handlers<'_> {
    async fn invoke_async(&self, f: &str, p: Vec<u8>) -> Result<(), CallError> {
        self.lambda.invoke_async(f, p).await
    }
    async fn invoke_sync(&self, f: &str, p: Vec<u8>) -> Result<InvokeResponse, CallError> {
        let out = self.lambda.invoke_sync(f, p).await;
        *self.last.lock().unwrap() = Some(Instant::now());
        out
    }
}

/// Lambda as the stream detector invokes the dispatcher: the finding sealed with the stream's
/// own key (what `SealingInvoker` does with KMS), handed to the real dispatcher.
struct Dispatcher<'a> {
    cfg: &'a Config,
    sns: &'a Sns,
    logs: &'a Logs,
    now: DateTime<Utc>,
    handlers: Handlers<'a>,
    status: Mutex<Option<String>>,
}

impl Invoker for Dispatcher<'_> {
    async fn invoke_async(&self, _f: &str, payload: Vec<u8>) -> Result<(), CallError> {
        let lambda = self.handlers.lambda;
        let sealed = lambda.kms.sealed(world::STREAM_KEY, Purpose::Finding, std::str::from_utf8(&payload).unwrap(), self.now);
        let report = launchguard_responder_dispatcher::handle(
            &sealed,
            self.cfg,
            &self.handlers,
            self.sns,
            self.logs,
            &self.logs.ledger,
            &lambda.kms,
            &self.logs.reports,
            world::trail(),
            self.now,
        )
        .await
        .map_err(|e| CallError::new(e.to_string(), false))?;
        *self.status.lock().unwrap() = Some(report.status.as_str().to_owned());
        Ok(())
    }
    async fn invoke_sync(&self, f: &str, _p: Vec<u8>) -> Result<InvokeResponse, CallError> {
        Err(CallError::new(format!("the stream detector never waits for {f}"), false))
    }
}

fn stream_config() -> launchguard_stream::Config {
    let vars = [
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher"),
        ("LG_STREAM_TABLE", "launchguard-stream"),
        ("LG_STREAM_ACCOUNTS", ACCOUNT),
        ("LG_STREAM_REGIONS", "us-east-1"),
        ("LG_STREAM_QUEUE_ARN", "arn:aws:sqs:us-east-1:111122223333:launchguard-stream-events"),
        ("LG_STREAM_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/111122223333/launchguard-stream-events"),
        ("LG_HEALTH_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:launchguard-health"),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    launchguard_stream::Config::from_env(&env).unwrap()
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 38, 0).unwrap()
}

fn user(u: u32) -> (String, String) {
    (format!("user-{u}"), format!("AKIAEXAMPLE{u:09}"))
}

fn bodies(u: u32) -> Vec<String> {
    let (name, key) = user(u);
    let actor = Actor::IamUser { account: ACCOUNT.into(), name, key };
    Burst::new(actor, 3, 4, start())
        .records(&run_instances_template(), u)
        .iter()
        .map(|r| eventbridge_event(r, ACCOUNT, "us-east-1").to_string())
        .collect()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn chain(incidents_n: u32, at_once: usize) {
    let mut iam = Iam::default().with_latency(IAM_LATENCY);
    for u in 0..incidents_n {
        let (name, key) = user(u);
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{name}");
        iam = iam.with_user(&name, Entity { keys: vec![(key, KeyStatus::Active)], ..Entity::new(arn) });
    }
    let now = start() + chrono::Duration::seconds(30);
    let lambda = Lambda::new(&iam, &[], now);
    let (sns, logs, cfg, stream) = (Sns::default(), Logs::default(), world::config(&[]), stream_config());
    let store = MemoryStore::with_latency(STORE_LATENCY);
    let guard = launchguard_stream::memory_rules::intact(&stream);
    let incidents: Vec<(u32, Vec<String>)> = (0..incidents_n).map(|u| (u, bodies(u))).collect();
    let mut times = Vec::new();
    for chunk in incidents.chunks(at_once) {
        let runs = chunk.iter().map(|(u, events)| {
            let (lambda, sns, logs, cfg, stream, store, guard) = (&lambda, &sns, &logs, &cfg, &stream, &store, &guard);
            async move {
                let dispatcher =
                    Dispatcher { cfg, sns, logs, now, handlers: Handlers { lambda, last: Mutex::new(None) }, status: Mutex::new(None) };
                let mut entered = None;
                for b in events {
                    let t = Instant::now();
                    let out = handle_event(b, true, stream, store, &dispatcher, guard, now).await.unwrap();
                    if out.iter().any(|o| matches!(o, Outcome::Sent { .. })) {
                        entered = Some(t);
                    }
                }
                let entered = entered.unwrap_or_else(|| panic!("incident {u} made no finding"));
                let status = dispatcher.status.lock().unwrap().clone();
                assert_eq!(status.as_deref(), Some("contained"), "incident {u}");
                let last = dispatcher.handlers.last.lock().unwrap().unwrap_or_else(|| panic!("incident {u}: no handler invoked"));
                last - entered
            }
        });
        times.extend(futures_util::future::join_all(runs).await);
    }
    let inactive = (0..incidents_n).filter(|&u| iam.user(&user(u).0).keys[0].1 == KeyStatus::Inactive).count();
    assert_eq!(inactive, incidents_n as usize, "every incident's key Inactive");
    let iam_calls = iam.calls().len();
    times.sort();
    println!(
        "{}",
        serde_json::json!({"bench": "chain", "incidents": times.len(), "at_once": at_once,
            "store_ms": STORE_LATENCY.as_millis() as u64, "iam_ms": IAM_LATENCY.as_millis() as u64,
            "p50_ms": pct(&times, 0.5), "p99_ms": pct(&times, 0.99), "max_ms": pct(&times, 1.0),
            "contained": inactive, "iam_calls": iam_calls, "iam_calls_per_incident": iam_calls as f64 / f64::from(incidents_n),
            "store_requests": store.requests.load(std::sync::atomic::Ordering::SeqCst),
            "pages": sns.messages.lock().unwrap().len()})
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let incidents = setting("LG_BENCH_INCIDENTS", 1000);
    let runs = match std::env::var_os("LG_BENCH_AT_ONCE") {
        Some(_) => vec![setting("LG_BENCH_AT_ONCE", 50) as usize],
        None => vec![1, 50],
    };
    for at_once in runs {
        rt.block_on(chain(incidents, at_once));
    }
}
