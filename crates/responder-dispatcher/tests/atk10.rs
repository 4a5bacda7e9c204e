//! Attack tests (reviewer atk10): a release undoes only what launchguard did and still owns; one
//! page per incident; no silent failure. Each test FAILS on the current code, demonstrating a weakness.

#![allow(clippy::unwrap_used)]

mod world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_accesskey_handler::KeyStatus;
use launchguard_aws::store::{MemoryStore, StoreOp};
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_core::policy::QUARANTINE_GUARD_POLICY;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, Notifier, handle};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{Iam, Lambda, Logs, Sns, config, iam};

const V3: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

fn fid() -> String {
    finding()["finding_id"].as_str().unwrap().to_owned()
}

fn release(finding_id: Option<&str>, principal: Option<&str>, reason: &str) -> Value {
    json!({"schema_version": 1, "kind": "release", "finding_id": finding_id, "principal_arn": principal, "reason": reason,
        "requested_by": "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice", "dry_run": false})
}

/// How the wrapped Lambda misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// The IAM handler never answers (the dispatcher times out while waiting).
    IamHangs,
    /// The IAM handler does its work, then Lambda reports the invocation failed (e.g.
    /// "Task timed out" while writing the replay record).
    IamFailsAfterActing,
}

struct Faulty<'a> {
    inner: Lambda<'a>,
    fault: Fault,
}

impl Invoker for Faulty<'_> {
    async fn invoke_async(&self, f: &str, p: Vec<u8>) -> Result<(), CallError> {
        self.inner.invoke_async(f, p).await
    }
    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        if function == "iam" {
            match self.fault {
                Fault::IamHangs => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                Fault::IamFailsAfterActing => {
                    let _ = self.inner.invoke_sync(function, payload).await?;
                    return Ok(InvokeResponse {
                        payload: br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 30.00 seconds"}"#.to_vec(),
                        function_error: Some("Unhandled".into()),
                    });
                }
                Fault::None => {}
            }
        }
        self.inner.invoke_sync(function, payload).await
    }
}

/// SNS that is throttled for the next `n` publishes, and runs `on_fail` when it is.
struct FlakySns<'a> {
    inner: Sns,
    throttle: std::sync::atomic::AtomicUsize,
    on_fail: Box<dyn Fn() + Send + Sync + 'a>,
}

impl Notifier for FlakySns<'_> {
    async fn publish(&self, topic: &str, subject: &str, message: &str, a: &[(&str, String)]) -> Result<String, CallError> {
        use std::sync::atomic::Ordering;
        if self.throttle.load(Ordering::SeqCst) > 0 {
            self.throttle.fetch_sub(1, Ordering::SeqCst);
            (self.on_fail)();
            return Err(CallError::new("sns:Publish: Rate exceeded (Throttling; HTTP 400)", true));
        }
        self.inner.publish(topic, subject, message, a).await
    }
}

struct World {
    iam: Iam,
    sns: Sns,
    logs: Logs,
    store: MemoryStore,
    /// The handlers' replay records (in the same bucket in production): shared across deliveries.
    replay: MemoryStore,
}

impl World {
    fn new() -> Self {
        Self { iam: iam(), sns: Sns::default(), logs: Logs::default(), store: MemoryStore::default(), replay: MemoryStore::default() }
    }
    fn lambda(&self, at: DateTime<Utc>) -> Lambda<'_> {
        let mut l = Lambda::new(&self.iam, &[], at);
        l.store = self.replay.clone();
        l
    }
    async fn send_at(&self, payload: &Value, at: DateTime<Utc>, fault: Fault) -> Result<DispatchReport, DispatcherError> {
        let lambda = Faulty { inner: self.lambda(at), fault };
        let sealed = world::sealed(&lambda.inner.kms, payload, at);
        handle(&sealed, &config(&[]), &lambda, &self.sns, &self.logs, &self.store, &lambda.inner.kms, at).await
    }
    async fn send(&self, payload: &Value, at: DateTime<Utc>) -> Result<DispatchReport, DispatcherError> {
        self.send_at(payload, at, Fault::None).await
    }
    fn pages(&self) -> Vec<String> {
        self.sns.messages.lock().unwrap().iter().map(|(s, _)| s.clone()).collect()
    }
    fn user(&self) -> world::Entity {
        self.iam.user("ci-deployer")
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A quarantine someone else attached (AWS's leaked-key response, a person) becomes
//    launchguard's: the release detaches it.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn atk10_1_release_detaches_a_quarantine_policy_someone_else_attached() {
    let w = World::new();
    // GIVEN AWS (or a person) already attached AWSCompromisedKeyQuarantineV3 to the user
    w.iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().attached.push(V3.into());
    // WHEN launchguard contains the user, then the finding is released
    let r = w.send(&finding(), t0()).await.unwrap();
    let q = r.outcomes.iter().find(|o| o.action.name() == "quarantine_user").unwrap();
    assert_eq!(q.outcome.name(), "applied", "launchguard only added its guard: {}", q.detail);
    w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::hours(1)).await.unwrap();
    // THEN launchguard removes its guard, but the policy it found in place stays attached
    assert!(!w.user().inline.contains_key(QUARANTINE_GUARD_POLICY), "launchguard's own guard goes");
    assert!(
        w.user().attached.contains(&V3.to_string()),
        "launchguard did not attach {V3}: its release must not detach it. IAM writes: {:?}",
        w.iam.writes()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A dispatcher that dies mid-way (Lambda timeout) leaves its claims; Lambda's retries (1 and
//    2 minutes later) see them as "busy", answer OK, and nobody is ever paged.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn atk10_2_a_delivery_that_died_mid_way_is_never_paged_nor_retried() {
    let w = World::new();
    // GIVEN a delivery that claims every action, deactivates the key, and dies waiting for the
    // IAM handler (the function timeout: the future is dropped, as Lambda kills the process)
    let died = tokio::time::timeout(std::time::Duration::from_millis(500), w.send_at(&finding(), t0(), Fault::IamHangs)).await;
    assert!(died.is_err(), "the first delivery died");
    assert_eq!(w.user().keys[0].1, KeyStatus::Inactive, "IAM was changed before it died");
    // WHEN Lambda retries the event (after the 300 s timeout, then +1 min, then +2 min)
    let mut results = Vec::new();
    for after in [6, 8] {
        results.push(w.send(&finding(), t0() + Duration::minutes(after)).await);
    }
    // THEN some delivery pages about the change made, or the error stays retryable until one can
    let paged = !w.pages().is_empty();
    let still_retrying = results.iter().any(|r| r.as_ref().is_err_and(DispatcherError::is_retryable));
    assert!(
        paged || still_retrying,
        "a key was deactivated, no page was ever sent, and every retry answered OK: {:?}",
        results.iter().map(|r| r.as_ref().map(|x| x.status.as_str().to_owned()).map_err(ToString::to_string)).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A settle that fails once (S3 503) leaves the entry "claimed" forever: Lambda's retry sees it
//    busy and answers OK, and every release, even days later, is refused "being contained right now".
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn atk10_3_a_failed_ledger_settle_makes_the_containment_unreleasable_forever() {
    let w = World::new();
    // GIVEN the first settle (a ledger put_if_match) fails once, retryably
    w.store.fail_next(StoreOp::PutIfMatch, 1, true);
    let e = w.send(&finding(), t0()).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    // AND Lambda's retries come one and three minutes later
    let retry = w.send(&finding(), t0() + Duration::minutes(1)).await;
    let retry2 = w.send(&finding(), t0() + Duration::minutes(3)).await;
    assert!(retry.is_ok() && retry2.is_ok(), "the retries answered OK: Lambda stops retrying");
    // WHEN a person releases the finding a day later
    let r = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::days(1)).await;
    // THEN the release goes through
    assert!(r.is_ok(), "a day later, the release is still refused: {}", r.err().unwrap());
}

// ---------------------------------------------------------------------------------------------
// 4. The IAM handler changed IAM, then its invocation failed (timeout): the failure is final (no
//    retry), the ledger's owner stays unset, and the release says "released" while launchguard's
//    quarantine stays, with no word to a person.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn atk10_4_a_handler_that_acted_then_timed_out_is_final_and_its_change_silently_survives_release() {
    let w = World::new();
    let e = w.send_at(&finding(), t0(), Fault::IamFailsAfterActing).await.unwrap_err();
    assert!(w.user().attached.contains(&V3.to_string()), "the handler did attach V3");
    let retryable = e.is_retryable();
    let r = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::hours(1)).await.unwrap();
    let v3_left = w.user().attached.contains(&V3.to_string());
    let told = r.refusals.iter().chain(&r.human_actions).any(|n| n.contains("quarantine"));
    assert!(
        retryable || !v3_left || told,
        "dispatch error was final ({e}); release status {:?}, V3 still attached by launchguard, nobody told: refusals {:?} human {:?}",
        r.status,
        r.refusals,
        r.human_actions
    );
}

// ---------------------------------------------------------------------------------------------
// 5. SNS throttled, and giving the page claim back fails (the error is dropped): Lambda's retry
//    thinks the page was sent. No page is ever sent, and the retry answers OK.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn atk10_5_a_page_whose_claim_cannot_be_given_back_is_lost_silently() {
    let w = World::new();
    let store = w.store.clone();
    let sns = FlakySns {
        inner: Sns::default(),
        throttle: std::sync::atomic::AtomicUsize::new(1),
        // S3 is throttled at the same moment: the next conditional put (giving the claim back) fails
        on_fail: Box::new(move || store.fail_next(StoreOp::PutIfMatch, 1, true)),
    };
    let at = t0();
    let lambda = w.lambda(at);
    let cfg = config(&[]);
    let sealed = world::sealed(&lambda.kms, &finding(), at);
    let first = handle(&sealed, &cfg, &lambda, &sns, &w.logs, &w.store, &lambda.kms, at).await;
    assert!(first.as_ref().is_err_and(DispatcherError::is_retryable), "{:?}", first.err());
    // Lambda's retry, one minute later
    let at2 = at + Duration::minutes(1);
    let lambda2 = w.lambda(at2);
    let sealed2 = world::sealed(&lambda2.kms, &finding(), at2);
    let retry = handle(&sealed2, &cfg, &lambda2, &sns, &w.logs, &w.store, &lambda2.kms, at2).await;
    let pages = sns.inner.messages.lock().unwrap().len();
    assert!(
        pages == 1 || retry.is_err(),
        "the incident was contained, {pages} page(s) were ever sent, and the retry answered {:?}",
        retry.map(|r| (r.status, r.notification_message_id))
    );
}

// ---------------------------------------------------------------------------------------------
// 6. A release checks "does any unreleased containment hold this target?" once, then reverses.
//    A new finding that contains the same user in between finds launchguard's change in place
//    (already_applied, owner other) and is recorded as holding; the release then undoes it.
// ---------------------------------------------------------------------------------------------
struct RaceOnReversal<'a> {
    inner: Lambda<'a>,
    w: &'a World,
    fired: std::sync::atomic::AtomicBool,
    second: std::sync::Mutex<Option<Result<DispatchReport, String>>>,
}

impl Invoker for RaceOnReversal<'_> {
    async fn invoke_async(&self, f: &str, p: Vec<u8>) -> Result<(), CallError> {
        self.inner.invoke_async(f, p).await
    }
    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        // the first reversal request of the release: a new alarm's finding is dispatched right now
        if !self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut f2 = finding();
            f2["finding_id"] = json!("lg-newer-alarm");
            let at = self.inner.now;
            let r = Box::pin(self.w.send(&f2, at)).await.map_err(|e| e.to_string());
            *self.second.lock().unwrap() = Some(r);
        }
        self.inner.invoke_sync(function, payload).await
    }
}

#[tokio::test]
async fn atk10_6_a_containment_racing_a_release_is_undone_yet_reported_contained() {
    let w = World::new();
    w.send(&finding(), t0()).await.unwrap();
    let at = t0() + Duration::hours(1);
    let lambda = RaceOnReversal { inner: w.lambda(at), w: &w, fired: false.into(), second: std::sync::Mutex::new(None) };
    let sealed = world::sealed(&lambda.inner.kms, &release(Some(&fid()), None, "false positive"), at);
    let r = handle(&sealed, &config(&[]), &lambda, &w.sns, &w.logs, &w.store, &lambda.inner.kms, at).await;
    let second = lambda.second.lock().unwrap().take().unwrap().unwrap();
    println!("release: {:?}", r.map(|r| r.status));
    println!("new finding: {:?} {:?}", second.status, second.outcomes.iter().map(|o| (o.action.name(), o.outcome.name())).collect::<Vec<_>>());
    // the new finding says the user is contained (already in place)...
    assert_ne!(second.status.as_str(), "failed");
    // ...so the role's sessions must still be revoked (the first reversal the release runs is
    // the role's: targets are walked in key order, role before user)
    let role = w.iam.role("DataScience");
    assert!(
        role.inline.contains_key(launchguard_core::policy::REVOKE_SESSIONS_POLICY),
        "finding lg-newer-alarm reported {:?} (revoke_role_sessions already_applied), but the racing release deleted the revocation: {:?}; IAM writes {:?}",
        second.status,
        role.inline,
        w.iam.writes()
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Two principals of one finding that land on the same ledger target (a role seen with its real
//    ARN, path included, and with the ARN derived from the session ARN, path-less: the detector keys
//    principals by ARN and does not merge them) make the delivery see its own claim as "another
//    delivery is acting": nobody pages, no incident record, and the dispatch answers OK.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn atk10_7_one_role_under_two_arns_contains_without_any_page() {
    let w = World::new();
    w.iam.roles.lock().unwrap().insert(
        "Builder".into(),
        world::Entity { arn: "arn:aws:iam::111122223333:role/team/Builder".into(), ..world::Entity::default() },
    );
    let mut f = finding();
    f["finding_id"] = json!("lg-two-arns-one-role");
    let mut real = f["principals"][0].clone();
    real["principal"]["role_arn"] = json!("arn:aws:iam::111122223333:role/team/Builder");
    real["principal"]["role_name"] = json!("Builder");
    let mut derived = real.clone();
    derived["principal"]["role_arn"] = json!("arn:aws:iam::111122223333:role/Builder");
    derived["principal"]["role_arn_derived"] = json!(true);
    let user = f["principals"][1].clone();
    f["principals"] = json!([real, derived, user]);
    let r = w.send(&f, t0()).await;
    println!("{:?}", r.as_ref().map(|r| (r.status, r.notification_message_id.clone(), r.incident_record.clone())));
    assert!(w.iam.role("Builder").inline.contains_key(launchguard_core::policy::REVOKE_SESSIONS_POLICY), "IAM was changed");
    assert_eq!(w.user().keys[0].1, KeyStatus::Inactive, "IAM was changed");
    assert!(
        !w.pages().is_empty() || r.is_err(),
        "the role's sessions were revoked and the user quarantined, yet no page, no record ({} records), and OK: {:?}",
        w.logs.records.lock().unwrap().len(),
        r.map(|r| r.status)
    );
}
