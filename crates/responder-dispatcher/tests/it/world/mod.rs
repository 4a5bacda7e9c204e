//! An in-memory account for the dispatcher tests: IAM (the responder library's in-memory IAM,
//! `launchguard_responder::memory`), the real handlers invoked in-process, SNS and the incident
//! log. Every call is recorded.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use launchguard_aws::mac::MemoryKms;
use launchguard_aws::store::MemoryStore;
use launchguard_aws::trail::MemoryTrail;
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_core::auth::Purpose;
use launchguard_responder::KeyStatus;
pub use launchguard_responder::memory::{Entity, MemoryIam as Iam};
use launchguard_responder_dispatcher::{Config, IncidentLog, Notifier};

pub const ACCOUNT: &str = "111122223333";
pub const COMMAND_KEY: &str = "alias/launchguard-command";
pub const FINDING_KEY: &str = "alias/launchguard-finding";
pub const RELEASE_KEY: &str = "alias/launchguard-release";
/// The stream detector's own key (`STREAM_FINDING_KEY_ID`).
pub const STREAM_KEY: &str = "alias/launchguard-stream-finding";

/// The ARN of the user `name` in [`ACCOUNT`] (no path).
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

/// IAM's `UpdateUser --new-user-name`: the user keeps its unique id, keys and policies.
pub fn rename(iam: &Iam, from: &str, to: &str) {
    let mut users = iam.users.lock().unwrap();
    let mut u = users.remove(from).unwrap();
    u.arn = user_arn(to);
    assert!(users.insert(to.to_owned(), u).is_none(), "IAM names are unique");
}

/// The account of the example finding (`fixtures/contract/finding.json`).
pub fn iam() -> Iam {
    Iam::default()
        .with_user(
            "ci-deployer",
            Entity {
                id: String::new(),
                arn: format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer"),
                keys: vec![("AKIAEXAMPLEDEPLOYER1".into(), KeyStatus::Active), ("AKIAEXAMPLEDEPLOYER2".into(), KeyStatus::Active)],
                attached: vec!["arn:aws:iam::aws:policy/AmazonEC2FullAccess".into()],
                inline: [("deploy".to_string(), "{}".to_string())].into_iter().collect(),
                key_created: Default::default(),
                tags: Default::default(),
            },
        )
        .with_role(
            "DataScience",
            Entity {
                attached: vec!["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess".into()],
                ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/DataScience"))
            },
        )
}

fn env(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut vars: Vec<(String, String)> = extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    vars.insert(0, ("PROTECTED_PRINCIPALS".into(), "arn:aws:iam::*:user/breakglass-*".into()));
    for (k, v) in [
        ("COMMAND_KEY_ID", COMMAND_KEY),
        ("FINDING_KEY_ID", FINDING_KEY),
        ("RELEASE_KEY_ID", RELEASE_KEY),
        ("LEDGER_BUCKET", "ledger"),
        ("STREAM_FINDING_KEY_ID", STREAM_KEY),
    ] {
        vars.insert(0, (k.into(), v.into()));
    }
    move |k: &str| vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

/// The real handlers, run in-process behind the Invoke API.
pub struct Lambda<'a> {
    pub iam: &'a Iam,
    pub ak: launchguard_responder::Config,
    pub ih: launchguard_responder::Config,
    /// The account's EC2 (empty unless a test puts instances in it) and the EC2 handler's config.
    pub ec2: launchguard_responder::memory_ec2::MemoryEc2,
    pub eh: launchguard_responder::Config,
    pub calls: Mutex<Vec<String>>,
    pub down: Vec<String>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub now: DateTime<Utc>,
    /// The account's KMS, holding the three launchguard keys.
    pub kms: MemoryKms,
    /// The ledger bucket (the handlers' replay record).
    pub store: MemoryStore,
    /// Every payload sent to a handler, as sent (what an eavesdropper could capture).
    pub sent: Mutex<Vec<(String, Vec<u8>)>>,
}

impl<'a> Lambda<'a> {
    pub fn new(iam: &'a Iam, extra: &[(&str, &str)], now: DateTime<Utc>) -> Self {
        let e = env(extra);
        Self {
            iam,
            ak: launchguard_accesskey_handler::FUNCTION
                .config(&e, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-accesskey-handler")
                .unwrap(),
            ih: launchguard_iam_handler::FUNCTION.config(&e, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-iam-handler").unwrap(),
            ec2: launchguard_responder::memory_ec2::MemoryEc2::default(),
            eh: launchguard_ec2_handler::FUNCTION.config(&e, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-ec2-handler").unwrap(),
            calls: Mutex::new(Vec::new()),
            down: Vec::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            now,
            kms: MemoryKms::with_keys(&[COMMAND_KEY, FINDING_KEY, RELEASE_KEY, STREAM_KEY]),
            store: MemoryStore::default(),
            sent: Mutex::new(Vec::new()),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Invoker for Lambda<'_> {
    async fn invoke_async(&self, f: &str, _p: Vec<u8>) -> Result<(), CallError> {
        Err(CallError::new(format!("{f}: the dispatcher waits for its handlers; this world has no asynchronous invocation"), false))
    }

    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        self.sent.lock().unwrap().push((function.to_owned(), payload.clone()));
        let sealed: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let v: serde_json::Value = serde_json::from_str(sealed["payload"].as_str().unwrap_or("{}")).unwrap_or_default();
        self.calls.lock().unwrap().push(format!("{function} {}", v["action"]["type"].as_str().unwrap_or("?")));
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.down.iter().any(|d| d == function) {
            return Err(CallError::new(format!("lambda:Invoke: could not reach {function} (connection refused)"), true));
        }
        let out = match function {
            "ak" => serde_json::to_vec(
                &launchguard_responder::handle(&payload, &self.ak, self.iam, &self.kms, &self.store, self.now)
                    .await
                    .map_err(|e| CallError::new(e.to_string(), false))?,
            ),
            "iam" => serde_json::to_vec(
                &launchguard_responder::handle(&payload, &self.ih, self.iam, &self.kms, &self.store, self.now)
                    .await
                    .map_err(|e| CallError::new(e.to_string(), false))?,
            ),
            "ec2" => serde_json::to_vec(
                &launchguard_responder::handle_ec2(&payload, &self.eh, &self.ec2, self.iam, &self.kms, &self.store, self.now)
                    .await
                    .map_err(|e| CallError::new(e.to_string(), false))?,
            ),
            // a handler that answers with its own final error (`launchguard_aws::diagnostic`):
            // a retry cannot help
            "broken" => {
                return Ok(InvokeResponse {
                    payload: br#"{"errorType":"launchguard.Final","errorMessage":"Panic: boom"}"#.to_vec(),
                    function_error: Some("Unhandled".into()),
                });
            }
            // a handler that Lambda stopped (out of memory): it may have acted, a retry can help
            "crashed" => {
                return Ok(InvokeResponse {
                    payload: br#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: signal: killed"}"#.to_vec(),
                    function_error: Some("Unhandled".into()),
                });
            }
            other => panic!("no function {other}"),
        };
        Ok(InvokeResponse { payload: out.unwrap(), function_error: None })
    }
}

#[derive(Default)]
pub struct Sns {
    pub messages: Mutex<Vec<(String, String)>>,
    /// Refuse every publish: 403 (final), or throttled (retryable) with `retryable`.
    pub fails: bool,
    pub retryable: bool,
}

impl Notifier for Sns {
    async fn publish(&self, _topic: &str, subject: &str, message: &str, _a: &[(&str, String)]) -> Result<String, CallError> {
        if self.fails && self.retryable {
            return Err(CallError::new("sns:Publish: Rate exceeded (Throttling; HTTP 400)", true));
        }
        if self.fails {
            return Err(CallError::new("sns:Publish: not authorized (AuthorizationError; HTTP 403)", false));
        }
        let mut m = self.messages.lock().unwrap();
        m.push((subject.into(), message.into()));
        Ok(format!("msg-{}", m.len()))
    }
}

#[derive(Default)]
pub struct Logs {
    pub records: Mutex<Vec<(String, String)>>,
    /// Throttle this many appends (PutLogEvents) before accepting.
    pub throttle_next: AtomicUsize,
    /// Refuse every append: access denied (final).
    pub denied: bool,
    /// The ledger's store, kept beside the incident log (both are the dispatcher's records).
    pub ledger: launchguard_aws::store::MemoryStore,
    /// The report bucket (`REPORT_BUCKET`; keys under its `reports/` prefix).
    pub reports: launchguard_aws::store::MemoryStore,
}

impl IncidentLog for Logs {
    async fn append(&self, _g: &str, stream: &str, record: String, _at: DateTime<Utc>) -> Result<(), CallError> {
        if self.denied {
            return Err(CallError::new("logs:PutLogEvents: not authorized (AccessDeniedException; HTTP 400)", false));
        }
        if self.throttle_next.load(Ordering::SeqCst) > 0 {
            self.throttle_next.fetch_sub(1, Ordering::SeqCst);
            return Err(CallError::new("logs:PutLogEvents: Rate exceeded (ThrottlingException; HTTP 400)", true));
        }
        self.records.lock().unwrap().push((stream.into(), record));
        Ok(())
    }
    async fn search(&self, _g: &str, _s: DateTime<Utc>, _e: DateTime<Utc>, _p: &str) -> Result<Vec<String>, CallError> {
        // like LocalStack: the pattern is ignored, every record comes back
        Ok(self.records.lock().unwrap().iter().map(|(_, r)| r.clone()).collect())
    }
}

/// The account's CloudTrail event history, one a test (a thread-local, leaked once a test;
/// event ids are unique: [`witnessed`]).
pub fn trail() -> &'static MemoryTrail {
    // one trail a test (libtest runs each test on a thread of its own): a user of the same name
    // in another test, with another unique id, never shows in this test's confirmed records
    thread_local! {
        static TRAIL: &'static MemoryTrail = Box::leak(Box::default());
    }
    TRAIL.with(|t| *t)
}

/// An instance a witnessed call launched: its id, `launched_at`, reservation id.
type Launched = (String, Option<String>, Option<String>);
/// A witnessed call: the key used, its region, the instances it launched.
type Call = (Option<String>, String, Vec<Launched>);

/// `finding` as the detector writes it when CloudTrail really recorded the calls: each flagged
/// principal without evidence gets `RunInstances` calls of its own, recorded in [`trail`] and
/// named as its evidence: one a key it used (CloudTrail's `accessKeyId`), one a region of the
/// instances it launched (their ids, launch times and reservation), and one more that makes them
/// cross the first horizon of the finding's rule by themselves; all at its `first_seen`, kept
/// inside the finding's window. What CloudTrail holds is then what the finding says: the keys and
/// instances an action takes come from these records (`plan/proven.rs`). The tests of
/// confirmation itself (`forged_records`) build their evidence and trail by hand.
pub fn witnessed(finding: &serde_json::Value, iam: Option<&Iam>) -> serde_json::Value {
    use serde_json::{Value, json};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut f = finding.clone();
    let rule = f.get("rule").and_then(Value::as_str).unwrap_or("ec2-mass-launch").to_owned();
    let horizon = launchguard_core::rules::RuleSet::bundled()
        .ok()
        .and_then(|rs| rs.get(&rule).and_then(|r| r.horizons.first().copied()))
        .map_or_else(|| json!({"measure": "calls", "window_seconds": 60, "threshold": 1}), |h| serde_json::to_value(h).unwrap());
    let (calls, threshold) = (horizon["measure"] == "calls", horizon["threshold"].as_u64().unwrap_or(1).max(1));
    let window = (f["window"]["start"].as_str().map(str::to_owned), f["window"]["end"].as_str().map(str::to_owned));
    let Some(principals) = f.get_mut("principals").and_then(|p| p.as_array_mut()) else { return f };
    for p in principals.iter_mut().filter(|p| p.get("evidence").is_none()) {
        let mut at = p["activity"]["first_seen"].as_str().unwrap_or("2026-11-22T05:20:00Z").to_owned();
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|d| d.with_timezone(&Utc));
        if let (Some(t), Some(start), Some(end)) = (parse(&at), window.0.as_deref().and_then(parse), window.1.as_deref().and_then(parse))
            && !(start..=end).contains(&t)
        {
            at = end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        }
        let who = p["principal"].clone();
        let identity = |key: Option<&str>| -> Option<Value> {
            let mut id = match who["type"].as_str() {
                // CloudTrail's principalId is IAM's unique id: the one this world's IAM holds for
                // the user (none when it holds no such user)
                Some("iam_user") => {
                    let mut id =
                        json!({"type": "IAMUser", "arn": who["arn"], "accountId": who["account_id"], "userName": who["user_name"]});
                    if let Some(uid) = iam.map(|i| i.user(who["user_name"].as_str().unwrap_or_default()).id).filter(|u| !u.is_empty()) {
                        id["principalId"] = json!(uid);
                    }
                    id
                }
                Some("assumed_role") => json!({"type": "AssumedRole", "arn": format!("{}/s", who["role_arn"].as_str().unwrap_or_default()),
                    "accountId": who["account_id"], "sessionContext": {"sessionIssuer": {"type": "Role", "arn": who["role_arn"], "userName": who["role_name"]}}}),
                _ => return None,
            };
            if let Some(k) = key {
                id["accessKeyId"] = json!(k);
            }
            Some(id)
        };
        // long-term keys only (a session key is never deactivated), at most 20
        let keys: Vec<String> = p["activity"]["access_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["access_key_id"].as_str().filter(|k| k.starts_with("AKIA")).map(str::to_owned))
            .take(20)
            .collect();
        // the key the calls were made with: a long-term one, else the session's (CloudTrail files
        // a session's calls under its ASIA key: the dispatcher asks for them by it)
        let first_key = keys.first().cloned().or_else(|| {
            p["activity"]["access_keys"].as_array().into_iter().flatten().find_map(|k| k["access_key_id"].as_str().map(str::to_owned))
        });
        if identity(None).is_none() {
            continue;
        }
        // (key, region, instances: (id, launchTime, reservation))
        let mut calls_made: Vec<Call> = Vec::new();
        for k in &keys {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            calls_made.push((Some(k.clone()), "us-east-1".into(), vec![(format!("i-7{n:015x}"), None, None)]));
        }
        // one call a region and reservation, as EC2 answers
        let mut by_region: std::collections::BTreeMap<(String, Option<String>), Vec<Launched>> = Default::default();
        for l in p["activity"]["launches"].as_array().into_iter().flatten() {
            let (Some(id), Some(region)) = (l["instance_id"].as_str(), l["region"].as_str()) else { continue };
            by_region.entry((region.to_owned(), l["reservation_id"].as_str().map(str::to_owned))).or_default().push((
                id.to_owned(),
                l["launched_at"].as_str().map(str::to_owned),
                l["reservation_id"].as_str().map(str::to_owned),
            ));
        }
        for ((region, _), instances) in by_region {
            calls_made.push((first_key.clone(), region, instances));
        }
        // enough to cross the horizon by themselves
        let counted = |c: &[Call]| -> u64 { if calls { c.len() as u64 } else { c.iter().map(|(_, _, i)| i.len() as u64).sum() } };
        while counted(&calls_made) < threshold {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let more = if calls { 1 } else { threshold - counted(&calls_made) };
            calls_made.push((
                first_key.clone(),
                "us-east-1".into(),
                (0..more).map(|j| (format!("i-6{n:011x}{j:04x}"), None, None)).collect(),
            ));
        }
        let mut events = Vec::new();
        for (key, region, instances) in calls_made {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let id = format!("77777777-0000-4000-8000-{n:012x}");
            let mut r = launchguard_testkit::run_instances_template();
            r["eventID"] = json!(id);
            r["eventTime"] = json!(at);
            r["awsRegion"] = json!(region);
            r["userIdentity"] = identity(key.as_deref()).unwrap_or(Value::Null);
            r["errorCode"] = Value::Null;
            let count = instances.len();
            r["requestParameters"]["instancesSet"]["items"] = json!([{"imageId": "ami-1", "minCount": count, "maxCount": count}]);
            let reservation = instances.iter().find_map(|(_, _, r)| r.clone());
            r["responseElements"]["instancesSet"]["items"] = json!(
                instances
                    .iter()
                    .map(|(i, t, _)| match t {
                        Some(t) => match DateTime::parse_from_rfc3339(t) {
                            Ok(d) => json!({"instanceId": i, "launchTime": d.timestamp_millis()}),
                            Err(_) => json!({"instanceId": i}),
                        },
                        None => json!({"instanceId": i}),
                    })
                    .collect::<Vec<_>>()
            );
            if let Some(res) = reservation {
                r["responseElements"]["reservationId"] = json!(res);
            }
            trail().record(&r, std::time::Duration::ZERO);
            events.push(json!({"event_id": id, "event_name": "RunInstances", "region": region, "event_time": at,
                "launched": count, "requested": count, "failed": false}));
        }
        p["evidence"] = json!({"horizon": horizon, "events": events});
        // the keys it created, as CloudTrail recorded their CreateAccessKey (IAM's events are in
        // us-east-1), made with the first key it used
        for c in p["activity"]["created"].as_array().into_iter().flatten().filter(|c| c["kind"] == "access_key") {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let r = json!({"eventVersion": "1.09", "eventID": format!("66666666-0000-4000-8000-{n:012x}"), "eventTime": c["created_at"],
                "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
                "userIdentity": identity(first_key.as_deref()), "sourceIPAddress": "198.51.100.7",
                "requestParameters": {"userName": c["user_name"]},
                "responseElements": {"accessKey": {"accessKeyId": c["access_key_id"], "userName": c["user_name"], "status": "Active",
                    "createDate": c["created_at"]}}});
            trail().record(&r, std::time::Duration::ZERO);
        }
    }
    f
}

/// Seal a finding or a release payload the way the detector or `launchguard release` does; a
/// finding is [`witnessed`] first.
pub fn sealed(lambda: &Lambda<'_>, payload: &serde_json::Value, at: DateTime<Utc>) -> Vec<u8> {
    let kms = &lambda.kms;
    let witnessed = if payload.get("kind").and_then(|k| k.as_str()) == Some("finding") {
        witnessed(payload, Some(lambda.iam))
    } else {
        payload.clone()
    };
    let payload = &witnessed;
    let (key, purpose) = match payload["kind"].as_str() {
        Some("release") => (RELEASE_KEY, Purpose::Release),
        _ => (FINDING_KEY, Purpose::Finding),
    };
    kms.sealed(key, purpose, &payload.to_string(), at)
}

/// Seal `payload` at `at` and hand it to the dispatcher with this world's services: what the
/// detector's invocation does.
pub async fn dispatch(
    payload: &serde_json::Value,
    cfg: &Config,
    lambda: &Lambda<'_>,
    sns: &Sns,
    logs: &Logs,
    at: DateTime<Utc>,
) -> Result<launchguard_responder_dispatcher::DispatchReport, launchguard_responder_dispatcher::DispatcherError> {
    launchguard_responder_dispatcher::handle(
        &sealed(lambda, payload, at),
        cfg,
        lambda,
        sns,
        logs,
        &logs.ledger,
        &lambda.kms,
        &logs.reports,
        trail(),
        at,
    )
    .await
}

/// Hand `finding` to the dispatcher sealed with `key` as it is (not [`witnessed`]): what the
/// stream detector's invocation does with [`STREAM_KEY`].
pub async fn dispatch_sealed_with(
    key: &str,
    finding: &serde_json::Value,
    cfg: &Config,
    lambda: &Lambda<'_>,
    sns: &Sns,
    logs: &Logs,
    at: DateTime<Utc>,
) -> Result<launchguard_responder_dispatcher::DispatchReport, launchguard_responder_dispatcher::DispatcherError> {
    let sealed = lambda.kms.sealed(key, Purpose::Finding, &finding.to_string(), at);
    launchguard_responder_dispatcher::handle(&sealed, cfg, lambda, sns, logs, &logs.ledger, &lambda.kms, &logs.reports, trail(), at).await
}

pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut base = vec![
        ("ACCESS_KEY_HANDLER_LAMBDA_NAME", "ak"),
        ("IAM_HANDLER_LAMBDA_NAME", "iam"),
        ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:launchguard-notifications"),
        ("INCIDENT_LOG_GROUP", "/launchguard/incidents"),
        ("LEDGER_BUCKET", "launchguard-ledger-111122223333"),
    ];
    base.extend_from_slice(extra);
    Config::from_env(&env(&base), ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-dispatcher").unwrap()
}

/// A ledger object as the layout before IAM's unique ids filed it: `None` for an object under
/// `ids/` (there was none), else the body without the entry's `principal_id` (none was kept).
pub fn before_ids(key: &str, body: &str) -> Option<String> {
    if key.starts_with("ids/") {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("principal_id");
            }
            Some(v.to_string())
        }
        Err(_) => Some(body.to_owned()),
    }
}
