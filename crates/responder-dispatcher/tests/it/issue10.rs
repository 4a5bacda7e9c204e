//! Issue 10: a release undoes only what launchguard did and still owns; one page per incident; no
//! silent failure. Each case of the issue is one test, against the real handlers in-process.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_core::policy::{QUARANTINE_INLINE_POLICY, REVOKE_SESSIONS_POLICY};
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, handle};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{Iam, Lambda, Logs, Sns, config, iam};

const V3: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";
const USER: &str = "arn:aws:iam::111122223333:user/ci-deployer";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

/// The same principals, a later alarm with new activity: a new finding id.
fn newer_finding() -> Value {
    let mut f = finding();
    f["finding_id"] = json!("lg-newer-alarm");
    f
}

fn release(finding_id: Option<&str>, principal: Option<&str>) -> Value {
    json!({"schema_version": 1, "kind": "release", "finding_id": finding_id, "principal_arn": principal, "reason": "test",
        "requested_by": "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice", "dry_run": false})
}

struct World {
    iam: Iam,
    sns: Sns,
    logs: Logs,
    store: launchguard_aws::store::MemoryStore,
}

impl World {
    fn new() -> Self {
        Self { iam: iam(), sns: Sns::default(), logs: Logs::default(), store: Default::default() }
    }
    async fn send(&self, payload: &Value) -> Result<DispatchReport, DispatcherError> {
        self.send_with(payload, &[], &[]).await
    }
    async fn send_with(&self, payload: &Value, down: &[&str], extra: &[(&str, &str)]) -> Result<DispatchReport, DispatcherError> {
        let mut lambda = Lambda::new(&self.iam, &[], now());
        lambda.down = down.iter().map(|d| (*d).to_owned()).collect();
        let sealed = world::sealed(&lambda, payload, now());
        handle(&sealed, &config(extra), &lambda, &self.sns, &self.logs, &self.store, &lambda.kms, &self.logs.reports, world::trail(), now())
            .await
    }
    fn key1(&self) -> KeyStatus {
        self.iam.user("ci-deployer").keys[0].1
    }
    fn pages(&self) -> Vec<String> {
        self.sns.messages.lock().unwrap().iter().map(|(s, _)| s.clone()).collect()
    }
    fn records(&self) -> usize {
        self.logs.records.lock().unwrap().len()
    }
    /// What a person (or AWS's key-leak response) does by hand, outside launchguard.
    fn someone_contains_the_user(&self) {
        let mut users = self.iam.users.lock().unwrap();
        let u = users.get_mut("ci-deployer").unwrap();
        u.attached.push(V3.into());
        u.keys[0].1 = KeyStatus::Inactive;
    }
}

// Case 1: a release undoes only what launchguard did and still owns.
#[tokio::test(start_paused = true)]
async fn case1_a_release_by_principal_never_undoes_what_someone_else_did_later() {
    let w = World::new();
    w.send(&finding()).await.unwrap();
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    w.send(&release(Some(&f1), None)).await.unwrap();
    assert_eq!(w.key1(), KeyStatus::Active);
    w.someone_contains_the_user();
    let writes = w.iam.writes().len();
    let r = w.send(&release(None, Some(USER))).await.unwrap();
    assert_eq!(r.status, "nothing_to_release", "{:?}", r.outcomes);
    assert_eq!(w.iam.writes().len(), writes, "no IAM write");
    assert_eq!(w.key1(), KeyStatus::Inactive);
    assert!(w.iam.user("ci-deployer").attached.contains(&V3.to_string()));
}

#[tokio::test(start_paused = true)]
async fn case1_a_redelivered_release_never_undoes_a_newer_containment() {
    let w = World::new();
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    w.send(&finding()).await.unwrap();
    w.send(&release(Some(&f1), None)).await.unwrap();
    w.send(&newer_finding()).await.unwrap();
    assert_eq!(w.key1(), KeyStatus::Inactive);
    let writes = w.iam.writes().len();
    // byte for byte, the redelivery is a replay of a sealed release: refused outright
    assert!(matches!(w.send(&release(Some(&f1), None)).await, Err(DispatcherError::InvalidInput(_))));
    // sealed anew (another reason), the ledger still keeps F2's containment
    let mut again = release(Some(&f1), None);
    again["reason"] = json!("released once more");
    w.send(&again).await.unwrap();
    assert_eq!(w.iam.writes().len(), writes, "F2's containment stays");
    assert_eq!(w.key1(), KeyStatus::Inactive);
    assert!(w.iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY));
}

#[tokio::test(start_paused = true)]
async fn newest_wins_an_older_release_keeps_what_a_newer_containment_relies_on() {
    let w = World::new();
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    w.send(&finding()).await.unwrap();
    w.send(&newer_finding()).await.unwrap(); // F2 finds everything in place
    w.send(&release(Some(&f1), None)).await.unwrap();
    assert_eq!(w.key1(), KeyStatus::Inactive, "F2 still relies on F1's change");
    assert!(w.iam.user("ci-deployer").attached.contains(&V3.to_string()));
    // releasing F2 as well undoes launchguard's change, once
    w.send(&release(Some("lg-newer-alarm"), None)).await.unwrap();
    assert_eq!(w.key1(), KeyStatus::Active);
    assert!(!w.iam.user("ci-deployer").attached.contains(&V3.to_string()));
    assert!(!w.iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY));
}

#[tokio::test(start_paused = true)]
async fn a_key_someone_else_disabled_is_never_reenabled_by_a_release() {
    let w = World::new();
    w.iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().keys[0].1 = KeyStatus::Inactive;
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    w.send(&finding()).await.unwrap();
    w.send(&release(Some(&f1), None)).await.unwrap();
    assert_eq!(w.key1(), KeyStatus::Inactive);
}

// Case 3: decoys no longer make launchguard report "already contained" (issue 32: look-alike
// inline policies are not even read: launchguard's containment is attached managed policies).
#[tokio::test(start_paused = true)]
async fn case3_look_alike_policies_are_not_containment() {
    let w = World::new();
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    w.iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_INLINE_POLICY.into(), allow_all.into());
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-22T05:25:00Z"}}}]}"#;
    w.iam.roles.lock().unwrap().get_mut("DataScience").unwrap().inline.insert(REVOKE_SESSIONS_POLICY.into(), narrow.into());
    let r = w.send(&finding()).await.unwrap();
    assert_eq!(r.status, "contained");
    assert!(r.outcomes.iter().all(|o| o.outcome.name() == "applied"), "{:?}", r.outcomes);
    assert!(w.iam.user("ci-deployer").attached.contains(&V3.to_string()));
    assert!(w.iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY));
    // the look-alikes are someone else's: left as they were
    assert_eq!(w.iam.user("ci-deployer").inline[QUARANTINE_INLINE_POLICY], allow_all);
    assert_eq!(w.iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY], narrow);
}

// Case 4: a transient failure does not make containment unreleasable.
#[tokio::test(start_paused = true)]
async fn case4_a_throttled_incident_record_then_a_retry_is_still_releasable() {
    let w = World::new();
    w.logs.throttle_next.store(1, Ordering::SeqCst);
    let e = w.send(&finding()).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    w.send(&finding()).await.unwrap(); // Lambda's retry
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    let r = w.send(&release(Some(&f1), None)).await.unwrap();
    assert_eq!(r.status, "released", "{:?}", r.outcomes);
    assert_eq!(w.key1(), KeyStatus::Active);
    assert!(!w.iam.user("ci-deployer").attached.contains(&V3.to_string()));
}

// Case 5: a finding redelivered after its release does not contain again.
#[tokio::test(start_paused = true)]
async fn case5_a_finding_redelivered_after_its_release_does_not_contain_again() {
    let w = World::new();
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    w.send(&finding()).await.unwrap();
    w.send(&release(Some(&f1), None)).await.unwrap();
    let writes = w.iam.writes().len();
    let _ = w.send(&finding()).await;
    assert_eq!(w.iam.writes().len(), writes);
    assert_eq!(w.key1(), KeyStatus::Active);
    // a new alarm with new activity does contain
    w.send(&newer_finding()).await.unwrap();
    assert_eq!(w.key1(), KeyStatus::Inactive);
}

// Case 6: a final error never hides a retryable one.
#[tokio::test(start_paused = true)]
async fn case6_iam_unreachable_and_sns_denied_is_retryable() {
    let w = World { sns: Sns { fails: true, ..Sns::default() }, ..World::new() };
    let e = w.send_with(&finding(), &["iam"], &[]).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(text.contains("quarantine_user") && text.contains("sns:Publish"), "{text}");
}

/// How one part of a dispatch goes, in the table below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goes {
    Ok,
    Retryable,
    Final,
}

const ALL: [Goes; 3] = [Goes::Ok, Goes::Retryable, Goes::Final];

#[tokio::test(start_paused = true)]
async fn case6_table_retryable_iff_a_failed_part_is_and_every_failed_part_is_listed() {
    use launchguard_responder_dispatcher::Part;
    for action in ALL {
        for notify in ALL {
            for record in ALL {
                let case = format!("action {action:?}, notify {notify:?}, record {record:?}");
                // GIVEN the IAM handler unreachable (retryable) or crashing (final), SNS throttled
                // (retryable) or denied (final), the incident log throttled or denied
                let w = World {
                    sns: Sns { fails: notify != Goes::Ok, retryable: notify == Goes::Retryable, ..Sns::default() },
                    logs: Logs { denied: record == Goes::Final, ..Logs::default() },
                    ..World::new()
                };
                if record == Goes::Retryable {
                    w.logs.throttle_next.store(1, Ordering::SeqCst);
                }
                let down: &[&str] = if action == Goes::Retryable { &["iam"] } else { &[] };
                let broken: &[(&str, &str)] = if action == Goes::Final { &[("IAM_HANDLER_LAMBDA_NAME", "broken")] } else { &[] };
                // WHEN the finding is dispatched
                let result = w.send_with(&finding(), down, broken).await;
                // THEN it fails iff a part failed, retryably iff a failed part is retryable, and
                // lists every failed part, the failed actions whatever else failed
                let failed = [action, notify, record];
                if failed.iter().all(|g| *g == Goes::Ok) {
                    let r = result.unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(r.status, "contained", "{case}");
                    continue;
                }
                let e = result.err().unwrap_or_else(|| panic!("{case}: succeeded"));
                assert_eq!(e.is_retryable(), failed.contains(&Goes::Retryable), "{case}: {e}");
                // the IAM handler does two actions here: quarantine ci-deployer, revoke DataScience
                assert_eq!(e.failures_of(Part::Action), if action == Goes::Ok { 0 } else { 2 }, "{case}: {e}");
                assert_eq!(e.failures_of(Part::Notify), usize::from(notify != Goes::Ok), "{case}: {e}");
                assert_eq!(e.failures_of(Part::Record), usize::from(record != Goes::Ok), "{case}: {e}");
                assert_eq!(e.failures_of(Part::Ledger), 0, "{case}: {e}");
                let text = e.to_string();
                assert_eq!(text.contains("quarantine_user") && text.contains("revoke_role_sessions"), action != Goes::Ok, "{case}: {text}");
                assert_eq!(text.contains("sns:Publish"), notify != Goes::Ok, "{case}: {text}");
                assert_eq!(text.contains("logs:PutLogEvents"), record != Goes::Ok, "{case}: {text}");
                // the access keys were deactivated whatever else failed
                assert_eq!(w.key1(), KeyStatus::Inactive, "{case}");
            }
        }
    }
}

// Case 7: duplicate deliveries page once.
#[tokio::test(start_paused = true)]
async fn case7_the_same_alarm_three_times_sequentially_pages_once() {
    let w = World::new();
    for _ in 0..3 {
        w.send(&finding()).await.unwrap();
    }
    // one containment: the revocation, the key, the quarantine policy and its guard
    assert_eq!(w.iam.writes().len(), 4, "IAM changed once: {:?}", w.iam.writes());
    assert_eq!(w.pages().len(), 1, "{:?}", w.pages());
    assert_eq!(w.records(), 1);
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    let entry: Value = serde_json::from_slice(&w.store.object(&format!("findings/{f1}")).unwrap().body).unwrap();
    assert_eq!(entry["deliveries"], 3);
}

#[tokio::test(start_paused = true)]
async fn case7_the_same_alarm_three_times_concurrently_pages_once() {
    let w = World::new();
    let f = finding();
    let (a, b, c) = tokio::join!(w.send(&f), w.send(&f), w.send(&f));
    for r in [a, b, c] {
        r.unwrap();
    }
    // one containment: the revocation, the key, the quarantine policy and its guard
    assert_eq!(w.iam.writes().len(), 4, "IAM changed once: {:?}", w.iam.writes());
    assert_eq!(w.pages().len(), 1, "{:?}", w.pages());
    assert_eq!(w.records(), 1);
    let f1 = finding()["finding_id"].as_str().unwrap().to_owned();
    let entry: Value = serde_json::from_slice(&w.store.object(&format!("findings/{f1}")).unwrap().body).unwrap();
    assert_eq!(entry["deliveries"], 3);
}

#[tokio::test(start_paused = true)]
async fn a_changed_outcome_pages_again() {
    let w = World::new();
    let e = w.send_with(&finding(), &["iam"], &[]).await.unwrap_err();
    assert!(e.is_retryable());
    w.send(&finding()).await.unwrap(); // the retry now succeeds
    assert_eq!(w.pages().len(), 2, "{:?}", w.pages());
    assert!(w.pages()[1].contains("CONTAINED"));
}

// Case 8: size limits drop nothing that matters.

/// SNS accepts at most 256 KiB.
const SNS_MAX: usize = 256 * 1024;

fn key_use(id: String) -> Value {
    let kind = if id.starts_with("AKIA") { "long_term" } else { "temporary" };
    json!({"access_key_id": id, "kind": kind, "calls": 1, "launched": 1})
}

/// `ci-deployer` alone, with 5,000 role sessions, 3,000 session keys and its 2 long-term keys
/// (listed last).
fn huge_user_finding() -> Value {
    let mut f = finding();
    let mut p = f["principals"][1].clone();
    p["activity"]["session_names"] =
        json!((0..5000).map(|i| format!("botocore-session-{i:010}-padding-to-sixty-four-chars")).collect::<Vec<_>>());
    let mut keys: Vec<Value> = (0..3000).map(|i| key_use(format!("ASIA{i:016}"))).collect();
    keys.push(key_use("AKIAEXAMPLEDEPLOYER1".into()));
    keys.push(key_use("AKIAEXAMPLEDEPLOYER2".into()));
    p["activity"]["access_keys"] = json!(keys);
    f["principals"] = json!([p]);
    f
}

/// What the detector sends for `f`: its parts, each fit to the asynchronous invocation limit.
fn parts(f: &Value) -> Vec<Value> {
    // built in memory by the detector, never parsed: it may be over the limit; its evidence is
    // named before it is cut to fit, as the detector does
    let f: launchguard_core::contract::Finding = serde_json::from_value(world::witnessed(f, None)).unwrap();
    f.into_parts(launchguard_core::contract::MAX_PAYLOAD_BYTES).iter().map(|p| serde_json::to_value(p).unwrap()).collect()
}

impl World {
    fn messages(&self) -> Vec<(String, String)> {
        self.sns.messages.lock().unwrap().clone()
    }
    fn record_texts(&self) -> Vec<String> {
        self.logs.records.lock().unwrap().iter().map(|(_, r)| r.clone()).collect()
    }
}

fn assert_fits_sns(subject: &str, message: &str) {
    assert!(message.len() <= SNS_MAX, "a message of {} bytes", message.len());
    assert!(subject.len() < 100 && subject.is_ascii() && !subject.chars().any(char::is_control), "{subject:?}");
    assert!(message.contains("full detail:") && message.contains("ledger/"), "says where the full detail is");
}

#[tokio::test(start_paused = true)]
async fn case8_a_principal_with_thousands_of_sessions_and_keys_is_contained_and_told() {
    // GIVEN a finding far over the limit (the raw finding would be refused)
    let w = World::new();
    let raw = huge_user_finding();
    assert!(raw.to_string().len() > launchguard_core::contract::MAX_PAYLOAD_BYTES);
    // WHEN the detector's parts reach the dispatcher
    let parts = parts(&raw);
    assert_eq!(parts.len(), 1);
    let r = w.send(&parts[0]).await.unwrap();
    // THEN both long-term keys are deactivated, the user quarantined, and a person told
    assert_eq!(r.status, "contained", "{:?}", r.outcomes);
    assert!(w.iam.user("ci-deployer").keys.iter().all(|(_, s)| *s == KeyStatus::Inactive));
    assert!(w.iam.user("ci-deployer").attached.contains(&V3.to_string()));
    let messages = w.messages();
    assert_eq!(messages.len(), 1);
    assert_fits_sns(&messages[0].0, &messages[0].1);
    // with the full counts
    let record: Value = serde_json::from_str(&w.record_texts()[0]).unwrap();
    let totals = &record["finding"]["principals"][0]["activity"]["totals"];
    assert_eq!(totals["session_names"], 5000, "{totals}");
    assert_eq!(totals["access_keys"], 3002, "{totals}");
}

/// 300 roles, each with 10 long user agents and 10 sessions: a page body of about 450 kB.
fn three_hundred_roles(w: &World) -> Value {
    let mut f = finding();
    let template = f["principals"][0].clone();
    let principals: Vec<Value> = (0..300)
        .map(|i| {
            let name = format!("Role{i:03}");
            w.iam
                .roles
                .lock()
                .unwrap()
                .insert(name.clone(), world::Entity { arn: format!("arn:aws:iam::111122223333:role/{name}"), ..world::Entity::default() });
            let mut p = template.clone();
            p["principal"]["role_arn"] = json!(format!("arn:aws:iam::111122223333:role/{name}"));
            p["principal"]["role_name"] = json!(name);
            p["activity"]["user_agents"] = json!((0..10).map(|k| format!("agent-{k:02}/{i} {}", "x".repeat(200))).collect::<Vec<_>>());
            p["activity"]["session_names"] = json!((0..10).map(|k| format!("session-{k:02}-{}", "s".repeat(50))).collect::<Vec<_>>());
            // each role's own session key (CloudTrail files each role's calls under its own)
            p["activity"]["access_keys"] =
                json!([{"access_key_id": format!("ASIAEXAMPLEROLE{i:05}"), "kind": "temporary", "calls": 1, "launched": 1}]);
            p
        })
        .collect();
    f["principals"] = json!(principals);
    f["excluded"] = json!([]);
    f
}

#[test]
fn case8_a_notification_body_of_450_kb_is_cut_to_fit_sns() {
    use launchguard_responder_dispatcher::notify::{MAX_MESSAGE, finding_message, fit_message};
    let w = World::new();
    let f: launchguard_core::contract::Finding = serde_json::from_value(three_hundred_roles(&w)).unwrap();
    let (subject, body) = finding_message(&f, &[], &[], "launchguard-dispatcher");
    assert!(body.len() > 400 * 1024, "the attack: a body of {} bytes", body.len());
    let full = serde_json::to_value(&f).unwrap();
    let message = fit_message(body, &full, &json!({"finding_id": f.finding_id}), "full detail: the incident record and ledger/details");
    assert!(message.len() <= MAX_MESSAGE + 3 && message.len() <= SNS_MAX, "{}", message.len());
    assert_fits_sns(&subject, &message);
}

// Paused time: the dispatcher spaces its CloudTrail lookups 500 ms apart (2 a second), which
// for 300 principals is minutes of real sleeping; the in-memory services never wait on a clock.
#[tokio::test(start_paused = true)]
async fn case8_three_hundred_principals_are_contained_and_every_page_and_record_fits() {
    // GIVEN 300 roles whose finding is split, and whose pages and records would be too large
    let w = World::new();
    let parts = parts(&three_hundred_roles(&w));
    // WHEN every part reaches the dispatcher
    for p in &parts {
        let r = w.send(p).await.unwrap();
        assert_eq!(r.status, "contained", "{:?}", r.outcomes);
    }
    // THEN every role is contained, every page and record fits and says where the whole is
    assert!((0..300).all(|i| w.iam.role(&format!("Role{i:03}")).has_attached(REVOKE_SESSIONS_POLICY)));
    for (subject, message) in w.messages() {
        assert_fits_sns(&subject, &message);
    }
    let records = w.record_texts();
    assert_eq!(records.len(), parts.len());
    assert!(records.iter().any(|t| t.contains("\"cut\":")), "at least one record is too large whole: the cut path is exercised");
    for text in &records {
        assert!(text.len() <= 256 * 1024 - 26, "a log event of {} bytes", text.len());
        let r: Value = serde_json::from_str(text).unwrap();
        if r["finding"].is_null() {
            // cut: the whole record is in the ledger, named
            let detail = r["detail"].as_str().unwrap();
            let key = detail.split("/ledger/").nth(1).unwrap();
            let whole: Value = serde_json::from_slice(&w.store.object(key).unwrap().body).unwrap();
            assert_eq!(whole["finding_id"], r["finding_id"]);
            assert!(whole["finding"]["principals"].is_array());
        }
    }
}
