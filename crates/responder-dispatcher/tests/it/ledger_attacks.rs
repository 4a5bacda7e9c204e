//! Attacks on the ledger: a release undoes only what launchguard did and still owns; every
//! incident is paged; no failure answers OK. Each test is one weakness an attacker review found.

#![allow(clippy::unwrap_used)]

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::store::{MemoryStore, StoreOp};
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_core::policy::QUARANTINE_GUARD_POLICY;
use launchguard_responder::KeyStatus;
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

/// The dispatcher's configuration; a busy claim is not waited for (each test says when the next
/// delivery comes).
fn cfg() -> launchguard_responder_dispatcher::Config {
    config(&[("LG_CLAIM_WAIT_SECONDS", "0")])
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
    /// The IAM handler attaches the quarantine policy, then Lambda stops it (timeout, out of
    /// memory) before it puts the guard or writes its replay record.
    IamCrashesAfterAttach,
    /// The access-key handler sets the key `Inactive`, then Lambda stops it before it writes its
    /// replay record.
    KeyCrashesAfterDeactivating,
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
        if function == "ak" && self.fault == Fault::KeyCrashesAfterDeactivating {
            self.inner.iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().keys[0].1 = KeyStatus::Inactive;
            return Ok(InvokeResponse {
                payload: br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 60.00 seconds"}"#.to_vec(),
                function_error: Some("Unhandled".into()),
            });
        }
        if function == "iam" {
            match self.fault {
                Fault::IamHangs => return std::future::pending().await,
                Fault::IamFailsAfterActing => {
                    let _ = self.inner.invoke_sync(function, payload).await?;
                    return Ok(InvokeResponse {
                        payload: br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 30.00 seconds"}"#.to_vec(),
                        function_error: Some("Unhandled".into()),
                    });
                }
                Fault::IamCrashesAfterAttach => {
                    self.inner.iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().attached.push(V3.into());
                    self.inner.iam.record_write(format!("AttachUserPolicy ci-deployer {V3}"));
                    return Ok(InvokeResponse {
                        payload: br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 60.00 seconds"}"#.to_vec(),
                        function_error: Some("Unhandled".into()),
                    });
                }
                Fault::None | Fault::KeyCrashesAfterDeactivating => {}
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
        let sealed = world::sealed(&lambda.inner, payload, at);
        handle(
            &sealed,
            &cfg(),
            &lambda,
            &self.sns,
            &self.logs,
            &self.store,
            &lambda.inner.kms,
            &launchguard_aws::store::MemoryStore::default(),
            world::trail(),
            at,
        )
        .await
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

/// GIVEN AWS (or a person) attached AWSCompromisedKeyQuarantineV3 to the user before launchguard came
/// WHEN launchguard contains the user, then the finding is released
/// THEN the quarantine was `applied` for launchguard's guard only, and the release removes the
/// guard and leaves the policy attached.
#[tokio::test(start_paused = true)]
async fn a_release_never_detaches_a_quarantine_policy_someone_else_attached() {
    let w = World::new();
    w.iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().attached.push(V3.into());
    // WHEN launchguard contains the user, then the finding is released
    let r = w.send(&finding(), t0()).await.unwrap();
    let q = r.outcomes.iter().find(|o| o.action.name() == "quarantine_user").unwrap();
    assert_eq!(q.outcome.name(), "applied", "launchguard only added its guard: {}", q.detail);
    w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::hours(1)).await.unwrap();
    // THEN launchguard removes its guard, but the policy it found in place stays attached
    assert!(!w.user().has_attached(QUARANTINE_GUARD_POLICY), "launchguard's own guard goes");
    assert!(!w.user().has_attached(launchguard_core::policy::Containment::GuardBeside.name()), "launchguard's own guard goes");
    assert!(
        w.user().attached.contains(&V3.to_string()),
        "launchguard did not attach {V3}: its release must not detach it. IAM writes: {:?}",
        w.iam.writes()
    );
}

/// GIVEN a delivery that claimed every action, deactivated the key and died waiting for the IAM
/// handler (no page)
/// WHEN Lambda retries the event within the stale bound, then after it
/// THEN the first retry is a retryable busy error (never OK), and the next takes the claims over,
/// learns the outcomes (the handlers answer from their replay records) and pages once.
#[tokio::test(start_paused = true)]
async fn a_delivery_that_died_mid_way_is_retried_until_one_pages() {
    let w = World::new();
    // GIVEN a delivery that claims every action, deactivates the key, and dies waiting for the
    // IAM handler (the function timeout: the future is dropped, as Lambda kills the process)
    // (30 s of paused time: its evidence, and the records that show its keys and instances, are
    // looked up first, 500 ms apart, before any handler is invoked; the IAM handler never answers)
    let died = tokio::time::timeout(std::time::Duration::from_secs(30), w.send_at(&finding(), t0(), Fault::IamHangs)).await;
    assert!(died.is_err(), "the first delivery died");
    assert_eq!(w.user().keys[0].1, KeyStatus::Inactive, "IAM was changed before it died");
    // WHEN Lambda retries the event one minute later: the claims are fresh
    let early = w.send(&finding(), t0() + Duration::minutes(1)).await.unwrap_err();
    assert!(matches!(early, DispatcherError::Busy { .. }) && early.is_retryable(), "{early}");
    assert!(early.to_string().contains("holds the claim since 2026-11-22T05:21:30Z"), "{early}");
    assert!(w.pages().is_empty());
    // AND again three minutes later: the claims are stale
    let r = w.send(&finding(), t0() + Duration::minutes(3)).await.unwrap();
    // THEN that delivery pages, with the real outcome of the key
    assert_eq!(w.pages().len(), 1, "{:?}", w.pages());
    let key = r.outcomes.iter().find(|o| o.action.name() == "deactivate_access_key").unwrap();
    assert_eq!(key.outcome.name(), "applied", "answered from the replay record: {}", key.detail);
    assert!(key.detail.contains("answered from its record"), "{}", key.detail);
}

/// GIVEN the first settle of a delivery (a ledger write) fails once, and no retry of the event ever
/// comes (the entry stays claimed)
/// WHEN a person releases the finding a day later
/// THEN the stale claim blocks nothing: the rest is released, and the claimed entry is named to a
/// person (what to check, how to undo it), never reported as cleanly released.
#[tokio::test(start_paused = true)]
async fn a_claim_left_by_a_failed_ledger_write_never_blocks_a_release() {
    let w = World::new();
    w.store.fail_next(StoreOp::PutIfMatch, 1, true);
    let e = w.send(&finding(), t0()).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let r = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(r.status, "release_action_needed", "{r:?}");
    assert_eq!(r.human_actions.len(), 1, "{:?}", r.human_actions);
    assert!(r.human_actions[0].contains("launchguard cannot tell whether it made this change"), "{:?}", r.human_actions);
    assert!(r.outcomes.iter().all(|o| o.outcome.name() == "applied"), "the rest is undone: {:?}", r.outcomes);
    assert!(!r.outcomes.is_empty());
}

/// GIVEN the first settle of a delivery fails once
/// WHEN Lambda retries the event within the stale bound, then after it
/// THEN the first retry is busy (retryable), the second takes the claim over and pages the
/// complete outcome (the first delivery paged what it had recorded), and a release a day later
/// undoes everything.
#[tokio::test(start_paused = true)]
async fn a_claim_left_by_a_failed_ledger_write_is_taken_over_by_a_later_retry() {
    let w = World::new();
    w.store.fail_next(StoreOp::PutIfMatch, 1, true);
    assert!(w.send(&finding(), t0()).await.unwrap_err().is_retryable());
    let busy = w.send(&finding(), t0() + Duration::minutes(1)).await.unwrap_err();
    assert!(matches!(busy, DispatcherError::Busy { .. }), "{busy}");
    assert_eq!(w.pages().len(), 1, "{:?}", w.pages());
    let r = w.send(&finding(), t0() + Duration::minutes(4)).await.unwrap();
    assert_eq!(r.status, "contained");
    assert_eq!(r.outcomes.len(), 3, "{:?}", r.outcomes);
    assert_eq!(w.pages().len(), 2, "{:?}", w.pages());
    let released = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(released.status, "released", "{released:?}");
    assert!(w.user().keys[0].1 == KeyStatus::Active);
}

/// GIVEN the IAM handler changed IAM, then Lambda stopped it (`Sandbox.Timedout`)
/// WHEN the dispatch ends, and the finding is released without a retry
/// THEN the dispatch error is retryable, and the release names the quarantine to a person (what
/// to check, how to undo it) instead of reporting it released.
#[tokio::test(start_paused = true)]
async fn a_handler_that_acted_then_timed_out_is_retried_and_never_silently_released() {
    let w = World::new();
    let e = w.send_at(&finding(), t0(), Fault::IamFailsAfterActing).await.unwrap_err();
    assert!(w.user().attached.contains(&V3.to_string()), "the handler did attach V3");
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("may have changed IAM"), "{e}");
    let r = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::hours(1)).await.unwrap();
    assert_eq!(r.status, "release_action_needed", "{r:?}");
    let told = r.human_actions.iter().find(|n| n.contains("user ci-deployer") && n.contains("quarantine_user")).unwrap();
    assert!(told.contains("aws iam detach-user-policy --user-name ci-deployer --policy-arn arn:aws:iam::111122223333:policy/launchguard/launchguard-quarantine-guard"), "{told}");
    assert!(w.user().attached.contains(&V3.to_string()), "never undone by itself");
}

/// GIVEN SNS is throttled, and giving the page's mark back fails at the same moment
/// WHEN Lambda retries within the stale bound, then after it
/// THEN the first delivery lists the mark it could not give back (retryable), the first retry is
/// a retryable failure (the page may not have been sent), and the next one sends the page.
#[tokio::test(start_paused = true)]
async fn a_page_whose_mark_cannot_be_given_back_is_sent_by_a_later_retry() {
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
    let cfg = cfg();
    let sealed = world::sealed(&lambda, &finding(), at);
    let first = handle(
        &sealed,
        &cfg,
        &lambda,
        &sns,
        &w.logs,
        &w.store,
        &lambda.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        at,
    )
    .await
    .unwrap_err();
    assert!(first.is_retryable(), "{first}");
    assert!(first.to_string().contains("its mark could not be given back"), "{first}");
    // Lambda's retry, one minute later
    let at2 = at + Duration::minutes(1);
    let lambda2 = w.lambda(at2);
    let sealed2 = world::sealed(&lambda2, &finding(), at2);
    let retry = handle(
        &sealed2,
        &cfg,
        &lambda2,
        &sns,
        &w.logs,
        &w.store,
        &lambda2.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        at2,
    )
    .await
    .unwrap_err();
    assert!(retry.is_retryable() && retry.to_string().contains("being sent by another delivery"), "{retry}");
    assert_eq!(sns.inner.messages.lock().unwrap().len(), 0);
    // Lambda's second retry, after the stale bound
    let at3 = at + Duration::minutes(4);
    let lambda3 = w.lambda(at3);
    let sealed3 = world::sealed(&lambda3, &finding(), at3);
    let last = handle(
        &sealed3,
        &cfg,
        &lambda3,
        &sns,
        &w.logs,
        &w.store,
        &lambda3.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        at3,
    )
    .await
    .unwrap();
    assert!(last.notification_message_id.is_some());
    assert_eq!(sns.inner.messages.lock().unwrap().len(), 1);
}

/// Runs a new finding on the same principals the moment the release sends its first reversal.
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

/// GIVEN a contained finding being released
/// WHEN a new finding on the same principals is dispatched while the release reverses
/// THEN the new finding never counts on a change the release undoes: it answers busy
/// (retryable) and changes nothing; its retry, once the release is over, contains again.
#[tokio::test(start_paused = true)]
async fn a_containment_racing_a_release_waits_for_it_and_contains_again() {
    let w = World::new();
    w.send(&finding(), t0()).await.unwrap();
    let at = t0() + Duration::hours(1);
    let lambda = RaceOnReversal { inner: w.lambda(at), w: &w, fired: false.into(), second: std::sync::Mutex::new(None) };
    let sealed = world::sealed(&lambda.inner, &release(Some(&fid()), None, "false positive"), at);
    let r = handle(
        &sealed,
        &cfg(),
        &lambda,
        &w.sns,
        &w.logs,
        &w.store,
        &lambda.inner.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        at,
    )
    .await
    .unwrap();
    assert_eq!(r.status, "released", "{r:?}");
    let second = lambda.second.lock().unwrap().take().unwrap();
    let busy = second.unwrap_err();
    assert!(busy.contains("a release of finding") && busy.contains("retry"), "{busy}");
    let role = w.iam.role("DataScience");
    assert!(!role.has_attached(launchguard_core::policy::REVOKE_SESSIONS_POLICY), "the release went through");
    // Lambda retries the new finding a minute later
    let mut newer = finding();
    newer["finding_id"] = json!("lg-newer-alarm");
    let again = w.send(&newer, at + Duration::minutes(1)).await.unwrap();
    assert_eq!(again.status, "contained", "{again:?}");
    assert!(w.iam.role("DataScience").has_attached(launchguard_core::policy::REVOKE_SESSIONS_POLICY));
    assert_eq!(w.user().keys[0].1, KeyStatus::Inactive);
}

/// GIVEN a finding naming one role twice: by its real ARN (path included) and by the ARN derived
/// from a session ARN (no path)
/// WHEN it is dispatched
/// THEN the role's sessions are revoked once, the delivery never takes its own claim for someone
/// else's, and the page says the two ARNs are one IAM entity.
#[tokio::test(start_paused = true)]
async fn one_role_under_two_arns_is_contained_once_and_paged() {
    let w = World::new();
    w.iam
        .roles
        .lock()
        .unwrap()
        .insert("Builder".into(), world::Entity { arn: "arn:aws:iam::111122223333:role/team/Builder".into(), ..world::Entity::default() });
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
    let r = w.send(&f, t0()).await.unwrap();
    assert_eq!(r.status, "contained", "{r:?}");
    assert!(w.iam.role("Builder").has_attached(launchguard_core::policy::REVOKE_SESSIONS_POLICY));
    assert_eq!(w.iam.writes().iter().filter(|x| x.starts_with("AttachRolePolicy Builder")).count(), 1, "{:?}", w.iam.writes());
    assert_eq!(w.user().keys[0].1, KeyStatus::Inactive);
    assert_eq!(w.pages().len(), 1);
    assert_eq!(w.logs.records.lock().unwrap().len(), 1);
    let body = w.sns.messages.lock().unwrap()[0].1.clone();
    assert!(body.contains("is the same IAM entity as arn:aws:iam::111122223333:role/team/Builder"), "{body}");
}

/// GIVEN the IAM handler is stopped by Lambda (out of memory: `Runtime.ExitError`)
/// WHEN a finding is dispatched
/// THEN the failure is retryable (the handler may have acted; a retry answers from its record),
/// while a handler's own final error (`launchguard.Final`) stays final.
#[tokio::test(start_paused = true)]
async fn a_crashed_handler_is_retryable_and_its_own_final_error_is_not() {
    let w = World::new();
    let lambda = w.lambda(t0());
    let sealed = world::sealed(&lambda, &finding(), t0());
    let crashed = config(&[("IAM_HANDLER_LAMBDA_NAME", "crashed"), ("LG_CLAIM_WAIT_SECONDS", "0")]);
    let e = handle(
        &sealed,
        &crashed,
        &lambda,
        &w.sns,
        &w.logs,
        &w.store,
        &lambda.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        t0(),
    )
    .await
    .unwrap_err();
    assert!(e.is_retryable() && e.to_string().contains("Runtime.ExitError"), "{e}");
    let w = World::new();
    let lambda = w.lambda(t0());
    let sealed = world::sealed(&lambda, &finding(), t0());
    let broken = config(&[("IAM_HANDLER_LAMBDA_NAME", "broken"), ("LG_CLAIM_WAIT_SECONDS", "0")]);
    let e = handle(
        &sealed,
        &broken,
        &lambda,
        &w.sns,
        &w.logs,
        &w.store,
        &lambda.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        t0(),
    )
    .await
    .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
}

/// The owner the ledger holds for the entry whose key contains `part`.
fn owner_of(w: &World, part: &str) -> Value {
    let key = w.store.keys().into_iter().find(|k| k.starts_with("targets/") && k.contains(part)).unwrap();
    serde_json::from_slice::<Value>(&w.store.object(&key).unwrap().body).unwrap()["owner"].clone()
}

/// GIVEN the IAM handler attached AWSCompromisedKeyQuarantineV3 and was then stopped by Lambda
/// before it put its guard or wrote its replay record (the delivery fails, retryably; the ledger
/// says owner unknown)
/// WHEN Lambda retries the event, which finds V3 attached without a guard and answers `applied`
/// for the guard only, and a person later releases the finding
/// THEN the owner stays unknown (a guard-only reversal does not prove launchguard made the whole
/// change), the retry's page says so, and the release never detaches V3 by itself but names it
/// to a person with the commands that undo it, answering `release_action_needed`.
#[tokio::test(start_paused = true)]
async fn a_quarantine_interrupted_after_attach_stays_unknown_and_is_named_to_a_person() {
    let w = World::new();
    let e = w.send_at(&finding(), t0(), Fault::IamCrashesAfterAttach).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    // Lambda's retry a minute later: the entry is done/failed, taken over at once
    let r = w.send(&finding(), t0() + Duration::minutes(1)).await.unwrap();
    let q = r.outcomes.iter().find(|o| o.action.name() == "quarantine_user").unwrap();
    assert_eq!(q.outcome.name(), "applied", "{}", q.detail);
    assert_eq!(owner_of(&w, "/quarantine/"), json!("unknown"), "an unknown owner is sticky");
    assert!(r.human_actions.iter().any(|h| h.contains("user ci-deployer") && h.contains("cannot tell")), "{:?}", r.human_actions);
    let released = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::hours(1)).await.unwrap();
    let still = w.user().attached.contains(&V3.to_string());
    assert!(
        !still || !released.human_actions.is_empty(),
        "launchguard attached {V3}; after the release it is still attached ({still}) and the release says {:?} with no human action: {:?}",
        released.status,
        released.outcomes.iter().map(|o| o.detail.clone()).collect::<Vec<_>>()
    );
    assert_eq!(released.status, "release_action_needed", "{released:?}");
    assert!(still, "never detached by itself");
    let told = released.human_actions.iter().find(|h| h.contains("user ci-deployer")).unwrap();
    assert!(told.contains("found arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3 already attached"), "{told}");
    assert!(told.contains(&format!("aws iam detach-user-policy --user-name ci-deployer --policy-arn {V3}")), "{told}");
}

/// GIVEN the access-key handler set the key `Inactive` and was then stopped by Lambda before it
/// wrote its replay record (owner unknown)
/// WHEN Lambda retries the event, which finds the key already `Inactive` (`already_applied`),
/// and a person later releases the finding
/// THEN the owner stays unknown (never `other`, which a release would skip silently): the key
/// stays `Inactive` and the release names it with the command that reactivates it.
#[tokio::test(start_paused = true)]
async fn a_key_deactivation_interrupted_before_its_record_stays_unknown_and_is_named() {
    let w = World::new();
    let e = w.send_at(&finding(), t0(), Fault::KeyCrashesAfterDeactivating).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let r = w.send(&finding(), t0() + Duration::minutes(1)).await.unwrap();
    let k = r.outcomes.iter().find(|o| o.action.name() == "deactivate_access_key").unwrap();
    assert_eq!(k.outcome.name(), "already_applied", "{}", k.detail);
    assert_eq!(owner_of(&w, "/key/"), json!("unknown"));
    let released = w.send(&release(Some(&fid()), None, "false positive"), t0() + Duration::hours(1)).await.unwrap();
    assert_eq!(released.status, "release_action_needed", "{released:?}");
    assert_eq!(w.user().keys[0].1, KeyStatus::Inactive, "never reactivated by itself");
    let told = released.human_actions.iter().find(|h| h.contains("deactivate_access_key")).unwrap();
    assert!(told.contains("--status Active"), "{told}");
}

/// KMS answering GenerateMac for the command key after `delay` (throttled: the SDK's standard
/// retries with backoff, 5 attempts).
struct SlowKms<'a> {
    inner: &'a launchguard_aws::mac::MemoryKms,
    delay: std::time::Duration,
}

impl launchguard_aws::mac::MacSigner for SlowKms<'_> {
    async fn generate_mac(&self, key_id: &str, message: &[u8]) -> Result<Vec<u8>, CallError> {
        if key_id == world::COMMAND_KEY {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.generate_mac(key_id, message).await
    }
}

impl launchguard_aws::mac::MacVerifier for SlowKms<'_> {
    async fn verify_mac(&self, key_id: &str, message: &[u8], mac: &[u8]) -> Result<bool, CallError> {
        self.inner.verify_mac(key_id, message, mac).await
    }
}

/// Records when each handler invocation reaches Lambda, from the delivery's start.
struct Timed<'a> {
    inner: Lambda<'a>,
    start: tokio::time::Instant,
    at: std::sync::Mutex<Vec<(String, std::time::Duration)>>,
}

impl Invoker for Timed<'_> {
    async fn invoke_async(&self, f: &str, p: Vec<u8>) -> Result<(), CallError> {
        self.inner.invoke_async(f, p).await
    }
    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        self.at.lock().unwrap().push((function.to_owned(), self.start.elapsed()));
        self.inner.invoke_sync(function, payload).await
    }
}

/// GIVEN KMS answers the command key's GenerateMac in 25 s (throttled; the SDK retries 5 times
/// with backoff) and LG_MAX_CONCURRENCY=1
/// WHEN a finding with three actions is dispatched
/// THEN no handler is invoked after the delivery's first 60 s (INVOKE_WINDOW: the stale bound of
/// 150 s relies on it): the third request, sealed at 75 s, is not sent, and the delivery fails
/// retryably, saying so.
#[tokio::test(start_paused = true)]
async fn no_handler_is_invoked_after_the_invoke_window_even_when_sealing_is_slow() {
    let w = World::new();
    let lambda = Timed { inner: w.lambda(t0()), start: tokio::time::Instant::now(), at: std::sync::Mutex::new(Vec::new()) };
    let kms = SlowKms { inner: &lambda.inner.kms, delay: std::time::Duration::from_secs(25) };
    let sealed = world::sealed(&lambda.inner, &finding(), t0());
    let cfg = config(&[("LG_CLAIM_WAIT_SECONDS", "0"), ("LG_MAX_CONCURRENCY", "1")]);
    let r = handle(
        &sealed,
        &cfg,
        &lambda,
        &w.sns,
        &w.logs,
        &w.store,
        &kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        t0(),
    )
    .await;
    let at = lambda.at.lock().unwrap().clone();
    eprintln!("invocations: {at:?}; result: {:?}", r.as_ref().map(|r| r.status));
    assert!(at.iter().all(|(_, t)| *t <= std::time::Duration::from_secs(60)), "handlers invoked after the 60 s invoke window: {at:?}");
    assert_eq!(at.len(), 2, "{at:?}");
    let e = r.unwrap_err();
    assert!(e.is_retryable() && e.to_string().contains("not sent") && e.to_string().contains("sealed too late"), "{e}");
}

/// GIVEN a finding whose quarantine handler acted then timed out (owner unknown: a release must
/// name it to a person), and another of its entries held by a fresh claim when a person releases it
/// WHEN the release answers busy (retryable; it marked the quarantine released) and the person
/// sends the release again later, and once more
/// THEN every release that covers it after the busy one names the quarantine to the person (not
/// only the release that first marked it), and it is never undone by itself.
#[tokio::test(start_paused = true)]
async fn an_unknown_change_is_named_by_every_release_even_after_a_busy_one() {
    let w = World::new();
    let _ = w.send_at(&finding(), t0(), Fault::IamFailsAfterActing).await.unwrap_err();
    let t1 = t0() + Duration::hours(1);
    // another entry of the finding is claimed right now (a delivery acting on it)
    let key = w.store.keys().into_iter().find(|k| k.contains("/role/datascience/sessions/")).unwrap();
    let mut e: Value = serde_json::from_slice(&w.store.object(&key).unwrap().body).unwrap();
    e["state"] = json!("claimed");
    e["claimed_at"] = json!(t1 - Duration::seconds(10));
    e["claimed_by"] = json!(9);
    w.store.insert(&key, serde_json::to_vec(&e).unwrap());
    let busy = w.send(&release(Some(&fid()), None, "false positive"), t1).await.unwrap_err();
    assert!(matches!(busy, DispatcherError::Busy { .. }), "{busy}");
    // the person sends the release again once the claim is stale
    let r = w.send(&release(Some(&fid()), None, "false positive"), t1 + Duration::minutes(5)).await.unwrap();
    eprintln!("second release: {:?} human={:?}", r.status, r.human_actions);
    assert!(w.user().attached.contains(&V3.to_string()), "the quarantine the handler made is still there");
    assert!(
        r.human_actions.iter().any(|h| h.contains("user ci-deployer") && h.contains("quarantine")),
        "the quarantine of unknown ownership was never named to a person: first release {busy}; second {:?} {:?}",
        r.status,
        r.human_actions
    );
    assert_eq!(r.status, "release_action_needed", "{r:?}");
    let again = w.send(&release(Some(&fid()), None, "false positive"), t1 + Duration::hours(1)).await.unwrap();
    assert_eq!(again.status, "release_action_needed", "{again:?}");
    assert!(again.human_actions.iter().any(|h| h.contains("user ci-deployer") && h.contains("quarantine")), "{again:?}");
    assert!(w.user().attached.contains(&V3.to_string()));
}
