//! A confirmed launcher whose quarantine IAM refuses for good (`LimitExceeded`: it filled its ten
//! managed-policy slots itself) is contained by deactivating every active key it has instead
//! (`deactivate_user_access_keys`), and only then: the attacks around that fallback. The real
//! detector reads the records, CloudTrail's history is a `MemoryTrail`, the real handlers act
//! in-process against the in-memory IAM.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::CallError;
use launchguard_aws::trail::MemoryTrail;
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, handle};
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};

use crate::forged_records::detected;
use crate::world::{self, ACCOUNT, Entity, Iam, Lambda, Logs, Sns, config};

pub(crate) const KEY: &str = "AKIAEXAMPLEINTERN001";
/// The intern's second key (a production job's), never in a launch record.
pub(crate) const PROD_KEY: &str = "AKIAEXAMPLEINTERNPRD";
const BOB_KEY: &str = "AKIAEXAMPLEBOBLEAKED";
pub(crate) const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

pub(crate) fn now() -> DateTime<Utc> {
    crate::forged_records::now()
}

pub(crate) fn user(name: &str, keys: &[(&str, KeyStatus)]) -> Entity {
    Entity {
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        keys: keys.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect(),
        ..Entity::default()
    }
}

/// The intern (two active keys, its ten managed-policy slots full) and Bob (one inactive key).
pub(crate) fn iam() -> Iam {
    let iam = Iam::default()
        .with_user("intern", user("intern", &[(KEY, KeyStatus::Active), (PROD_KEY, KeyStatus::Active)]))
        .with_user("bob", user("bob", &[(BOB_KEY, KeyStatus::Inactive)]));
    iam.users.lock().unwrap().get_mut("intern").unwrap().attached =
        (0..10).map(|i| format!("arn:aws:iam::aws:policy/harmless-{i}")).collect();
    iam
}

pub(crate) fn limit_exceeded() -> CallError {
    CallError {
        message: "iam:AttachUserPolicy: Cannot exceed quota for PoliciesPerUser: 10 (LimitExceeded; HTTP 409)".into(),
        code: Some("LimitExceeded".into()),
        retryable: false,
    }
}

pub(crate) fn status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.user(user).keys.iter().find(|(k, _)| k == key).unwrap().1
}

/// The intern's confirmed burst (4 calls of 3 instances with `KEY`, in CloudTrail), as the
/// detector finds it.
pub(crate) async fn finding(seed: u32) -> (Value, MemoryTrail) {
    let who = Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: KEY.into() };
    let real = Burst::new(who, 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), seed);
    let trail = MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    (detected(&real).await, trail)
}

/// One account's dispatcher state (ledger, pages) across deliveries and releases.
#[derive(Default)]
pub(crate) struct Account {
    pub(crate) sns: Sns,
    pub(crate) logs: Logs,
    /// Settings of the dispatcher and the handlers beyond the world's (`PROTECTED_PRINCIPALS`...).
    pub(crate) env: Vec<(&'static str, &'static str)>,
}

impl Account {
    pub(crate) async fn send(
        &self,
        iam: &Iam,
        trail: &MemoryTrail,
        payload: &Value,
        at: DateTime<Utc>,
    ) -> Result<DispatchReport, DispatcherError> {
        let lambda = Lambda::new(iam, &self.env, at);
        let sealed = world::sealed(&lambda, payload, at);
        let logs = &self.logs;
        handle(&sealed, &config(&self.env), &lambda, &self.sns, logs, &logs.ledger, &lambda.kms, &logs.reports, trail, at).await
    }

    pub(crate) fn last_page(&self) -> String {
        self.sns.messages.lock().unwrap().last().unwrap().1.clone()
    }

    pub(crate) fn last_subject(&self) -> String {
        self.sns.messages.lock().unwrap().last().unwrap().0.clone()
    }
}

pub(crate) fn release(fid: Option<&str>, principal: Option<&str>, by: &str) -> Value {
    json!({"schema_version": 1, "kind": "release", "finding_id": fid, "principal_arn": principal, "reason": "false positive",
        "requested_by": by, "dry_run": false})
}

pub(crate) fn outcome<'a>(r: &'a DispatchReport, action: &str) -> Option<&'a launchguard_core::contract::ResponseOutcome> {
    r.outcomes.iter().find(|o| o.action.name() == action)
}

/// The report of a delivery that ended in an error: the outcomes are in the page's JSON block.
fn report_of(r: Result<DispatchReport, DispatcherError>) -> DispatchReport {
    match r {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

/// The fallback contains; a release by a responder undoes exactly what it did (the key launchguard
/// deactivated as used, and the other one), and nothing else.
#[tokio::test(start_paused = true)]
async fn a_full_user_is_contained_by_all_its_keys_and_a_release_undoes_exactly_that() {
    let (f, trail) = finding(901).await;
    let fid = f["finding_id"].as_str().unwrap().to_owned();
    let mut iam = iam();
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let e = acct.send(&iam, &trail, &f, now()).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!((status(&iam, "intern", KEY), status(&iam, "intern", PROD_KEY)), (KeyStatus::Inactive, KeyStatus::Inactive));
    let page = acct.last_page();
    assert!(page.contains("QUARANTINE FAILED"), "{page}");
    let writes_before = iam.writes();
    assert!(!writes_before.iter().any(|w| w.contains("bob")), "{writes_before:?}");
    // released by a responder: both keys work again, Bob's stays as a person left it
    let r = acct.send(&iam, &trail, &release(Some(&fid), None, RESPONDER), now() + Duration::minutes(30)).await.unwrap();
    assert_eq!(outcome(&r, "reactivate_user_access_keys").unwrap().outcome.name(), "applied", "{r:?}");
    assert_eq!((status(&iam, "intern", KEY), status(&iam, "intern", PROD_KEY)), (KeyStatus::Active, KeyStatus::Active));
    assert_eq!(status(&iam, "bob", BOB_KEY), KeyStatus::Inactive);
}

/// Attack: the quarantine is throttled (a reason a retry can help). It is retried (the delivery
/// answers a retryable error and Lambda delivers again), never turned into "deactivate every key":
/// the production key stays active, and the retry quarantines.
#[tokio::test(start_paused = true)]
async fn a_throttled_quarantine_is_retried_not_replaced_by_deactivating_every_key() {
    let (f, trail) = finding(902).await;
    let mut iam = iam();
    iam.users.lock().unwrap().get_mut("intern").unwrap().attached.clear();
    iam.fail_on(
        "AttachUserPolicy",
        CallError {
            message: "iam:AttachUserPolicy: Rate exceeded (Throttling; HTTP 400)".into(),
            code: Some("Throttling".into()),
            retryable: true,
        },
    );
    let acct = Account::default();
    let e = acct.send(&iam, &trail, &f, now()).await.unwrap_err();
    assert!(e.is_retryable(), "a throttled quarantine must be retried: {e}");
    assert_eq!(status(&iam, "intern", PROD_KEY), KeyStatus::Active, "a throttle turned into deactivating every key: {e}");
    assert!(!iam.writes().iter().any(|w| w.contains(PROD_KEY)), "{:?}", iam.writes());
    iam.heal("AttachUserPolicy");
    let r = report_of(acct.send(&iam, &trail, &f, now() + Duration::seconds(30)).await);
    assert_eq!(outcome(&r, "quarantine_user").unwrap().outcome.name(), "applied", "{r:?}");
    assert!(outcome(&r, "deactivate_user_access_keys").is_none(), "{r:?}");
    assert_eq!(status(&iam, "intern", PROD_KEY), KeyStatus::Active);
}

/// Renamed in IAM, as `iam:UpdateUser --new-user-name` does: the user keeps its id and keys.
pub(crate) fn rename(iam: &Iam, from: &str, to_path: &str, to: &str) {
    let mut users = iam.users.lock().unwrap();
    let mut u = users.remove(from).unwrap();
    u.arn = format!("arn:aws:iam::{ACCOUNT}:user{to_path}{to}");
    users.insert(to.to_owned(), u);
}

/// A write of IAM on user `name` (the fake's `<Op> <user> ...`).
fn wrote_on(iam: &Iam, name: &str) -> bool {
    iam.writes().iter().any(|w| w.split(' ').nth(1) == Some(name))
}

/// Attack (issue 22, the all-keys fallback; seen passing on 1e4edc1, the defect: the launcher's
/// production key stayed active, the page said "intern IS NOT CONTAINED"): the launcher fills
/// its ten managed-policy slots and renames itself between the burst and the action. The
/// quarantine, bound to the id CloudTrail confirmed, follows the confirmed key to the new name and
/// fails (LimitExceeded); the fallback looked for the old name only, found no such user, and
/// refused. Now it is bound as the quarantine was: every active key of the renamed user is
/// deactivated, nobody else's.
#[tokio::test(start_paused = true)]
async fn a_full_user_that_renamed_itself_is_still_contained_by_all_its_keys() {
    let (f, trail) = finding(906).await;
    let mut iam = iam();
    rename(&iam, "intern", "/", "intern-svc");
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&iam, &trail, &f, now()).await;
    let page = acct.last_page();
    assert_eq!(
        (status(&iam, "intern-svc", KEY), status(&iam, "intern-svc", PROD_KEY)),
        (KeyStatus::Inactive, KeyStatus::Inactive),
        "the renamed launcher kept a working key: {:?}\n{page}",
        iam.writes()
    );
    assert!(!page.contains("IS NOT CONTAINED"), "{page}");
    assert!(page.contains("IAM names the same user, by its unique id, intern-svc now"), "{page}");
    assert!(!wrote_on(&iam, "bob") && !wrote_on(&iam, "intern"), "{:?}", iam.writes());
}

/// The release of that containment: exactly the two keys work again. (Seen failing first: the
/// handler's every-key reversal names the user as IAM does now, `intern-svc`, and the ledger kept
/// only a reversal naming the finding's `intern`: it dropped it, so the release never sent it and
/// the production key stayed inactive. A bound action's reversal is now kept under IAM's name.)
#[tokio::test(start_paused = true)]
async fn a_full_user_that_renamed_itself_is_released_exactly() {
    let (f, trail) = finding(906).await;
    let fid = f["finding_id"].as_str().unwrap().to_owned();
    let mut iam = iam();
    rename(&iam, "intern", "/", "intern-svc");
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&iam, &trail, &f, now()).await;
    // released by a responder: exactly those two keys work again, Bob's stays as a person left it
    let r = acct.send(&iam, &trail, &release(Some(&fid), None, RESPONDER), now() + Duration::minutes(30)).await.unwrap();
    assert_eq!(outcome(&r, "reactivate_user_access_keys").map(|o| o.outcome.name()), Some("applied"), "{r:#?}");
    assert_eq!((status(&iam, "intern-svc", KEY), status(&iam, "intern-svc", PROD_KEY)), (KeyStatus::Active, KeyStatus::Active));
    assert_eq!(status(&iam, "bob", BOB_KEY), KeyStatus::Inactive);
    assert!(!wrote_on(&iam, "bob") && !wrote_on(&iam, "intern"), "{:?}", iam.writes());
}

/// Attack (issue 22, the tie between a key and its user's every-key containment): the intern
/// launches twice, with each of its keys, then renames itself `intern-svc`. Finding F1 (the burst
/// with KEY) deactivates that key only (a playbook without the quarantine); the handler follows
/// the key to the user's new name, and the ledger names the key's user `intern-svc`. Finding F2
/// (the burst with its production key) finds its slots full and contains it by every key, filed
/// under the name F2 gave it, `intern`. Releasing F1 alone reverses F1's key only where nothing
/// newer relies on it: F2's every-key containment of the same IAM user (one unique id, whatever
/// name each finding gave it) does. SAFE: both keys stay inactive, and the release says which
/// finding keeps the key. (Seen failing first: the key's tie to its user's every-key containment
/// went by the name `intern-svc` only, so F1's release turned the key on under F2.)
#[tokio::test(start_paused = true)]
async fn a_release_after_a_rename_keeps_a_key_a_newer_every_key_containment_relies_on() {
    let mut iam = iam();
    let intern_id = iam.user("intern").id.clone();
    // the two bursts, both recorded by CloudTrail under the name intern
    let (f1, trail) = finding(908).await;
    let fid1 = f1["finding_id"].as_str().unwrap().to_owned();
    let who = Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: PROD_KEY.into() };
    let mut real = Burst::new(who, 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), 909);
    for r in &mut real {
        // CloudTrail's principalId is IAM's unique id of the user, whichever key it used
        r["userIdentity"]["principalId"] = json!(intern_id);
        trail.record(r, std::time::Duration::ZERO);
    }
    let mut f2 = detected(&real).await;
    // another finding (the detector's id is the same for the same principal and window)
    let fid2 = format!("{fid1}-f2");
    f2["finding_id"] = json!(fid2);
    // then the intern renames itself and fills its slots
    rename(&iam, "intern", "/", "intern-svc");
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    // F1: contained by its key only
    let acct = Account { env: vec![("LG_USER_ACTIONS", "deactivate_access_keys")], ..Account::default() };
    acct.send(&iam, &trail, &f1, now()).await.unwrap();
    assert_eq!((status(&iam, "intern-svc", KEY), status(&iam, "intern-svc", PROD_KEY)), (KeyStatus::Inactive, KeyStatus::Active));
    // F2: the quarantine fails, every key is deactivated instead
    let acct = Account { env: Vec::new(), ..acct };
    let _ = acct.send(&iam, &trail, &f2, now() + Duration::minutes(1)).await;
    let page = acct.last_page();
    assert!(page.contains("QUARANTINE FAILED"), "baseline: F2 falls back to every key: {page}");
    assert_eq!(status(&iam, "intern-svc", PROD_KEY), KeyStatus::Inactive, "baseline: {page}");
    // WHEN F1 alone is released
    let r = acct.send(&iam, &trail, &release(Some(&fid1), None, RESPONDER), now() + Duration::minutes(30)).await;
    // THEN F2's containment still holds every key of the user
    assert_eq!(
        (status(&iam, "intern-svc", KEY), status(&iam, "intern-svc", PROD_KEY)),
        (KeyStatus::Inactive, KeyStatus::Inactive),
        "releasing F1 undid part of F2's newer containment: {r:#?}"
    );
    let r = r.unwrap();
    assert!(
        r.refusals.iter().any(|n| n.contains(KEY) && n.contains(&fid2)),
        "the release does not say which containment keeps the key: {r:#?}"
    );
    // AND once F2 is released too, its key works again, and F1's once F1's release is sent again
    let r2 = acct.send(&iam, &trail, &release(Some(&fid2), None, RESPONDER), now() + Duration::minutes(31)).await.unwrap();
    assert_eq!(status(&iam, "intern-svc", PROD_KEY), KeyStatus::Active, "{r2:#?}");
    let r3 = acct.send(&iam, &trail, &release(Some(&fid1), None, RESPONDER), now() + Duration::minutes(32)).await.unwrap();
    assert_eq!(status(&iam, "intern-svc", KEY), KeyStatus::Active, "{r3:#?}");
    assert!(!wrote_on(&iam, "bob") && !wrote_on(&iam, "intern"), "{:?}", iam.writes());
}

/// Attack (seen on 1e4edc1, the defect: the launcher kept its production key): the launcher fills
/// its slots, renames itself, and its old name is given to another user (a new hire, whose ten
/// slots are full too). The fallback follows the confirmed key to the launcher under its new
/// name and checks its unique id: the launcher's keys are all deactivated, the new hire's key
/// stays active, and nothing is written on the new hire.
#[tokio::test(start_paused = true)]
async fn a_name_given_to_another_user_before_the_action_never_deactivates_that_users_keys() {
    let (f, trail) = finding(903).await;
    let mut iam = iam();
    rename(&iam, "intern", "/", "intern-old");
    {
        let mut users = iam.users.lock().unwrap();
        let mut newcomer = user("intern", &[("AKIAEXAMPLENEWHIRE01", KeyStatus::Active)]);
        newcomer.id = "AIDAEXAMPLENEWHIRE01".into();
        newcomer.attached = (0..10).map(|i| format!("arn:aws:iam::aws:policy/harmless-{i}")).collect();
        users.insert("intern".into(), newcomer);
    }
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&iam, &trail, &f, now()).await;
    let page = acct.last_page();
    assert_eq!(status(&iam, "intern", "AKIAEXAMPLENEWHIRE01"), KeyStatus::Active, "another user's key was deactivated: {:?}", iam.writes());
    assert!(!wrote_on(&iam, "intern"), "{:?}", iam.writes());
    assert_eq!(
        (status(&iam, "intern-old", KEY), status(&iam, "intern-old", PROD_KEY)),
        (KeyStatus::Inactive, KeyStatus::Inactive),
        "the launcher, renamed, kept a working key: {:?}\n{page}",
        iam.writes()
    );
    assert!(!page.contains("IS NOT CONTAINED"), "{page}");
}

/// The same with a case-only rename (`intern` to `Intern`: IAM names compare without regard to
/// case, so the same user): contained by all its keys, released exactly.
#[tokio::test(start_paused = true)]
async fn a_full_user_renamed_only_in_case_is_contained_by_all_its_keys_and_released_exactly() {
    let (f, trail) = finding(907).await;
    let fid = f["finding_id"].as_str().unwrap().to_owned();
    let mut iam = iam();
    rename(&iam, "intern", "/", "Intern");
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&iam, &trail, &f, now()).await;
    let page = acct.last_page();
    assert_eq!(
        (status(&iam, "Intern", KEY), status(&iam, "Intern", PROD_KEY)),
        (KeyStatus::Inactive, KeyStatus::Inactive),
        "{:?}\n{page}",
        iam.writes()
    );
    assert!(!page.contains("IS NOT CONTAINED"), "{page}");
    let r = acct.send(&iam, &trail, &release(Some(&fid), None, RESPONDER), now() + Duration::minutes(30)).await.unwrap();
    assert_eq!(outcome(&r, "reactivate_user_access_keys").unwrap().outcome.name(), "applied", "{r:?}");
    assert_eq!((status(&iam, "Intern", KEY), status(&iam, "Intern", PROD_KEY)), (KeyStatus::Active, KeyStatus::Active));
    assert!(!wrote_on(&iam, "bob"), "{:?}", iam.writes());
}

/// Attack: the user is protected by its tag (`launchguard:protected=true`): IAM denies the
/// handlers' roles `AttachUserPolicy` and `UpdateAccessKey` on it (AccessDenied, final). The
/// fallback is tried and changes nothing; the page says the user is not contained.
#[tokio::test(start_paused = true)]
async fn a_user_protected_by_its_tag_keeps_every_key_and_the_page_says_so() {
    let (f, trail) = finding(904).await;
    let mut iam = iam();
    let denied = |op: &str| CallError {
        message: format!(
            "iam:{op}: User: arn:aws:sts::111122223333:assumed-role/launchguard-handler/x is not authorized to perform: iam:{op} on resource: user intern with an explicit deny in an identity-based policy (AccessDenied; HTTP 403)"
        ),
        code: Some("AccessDenied".into()),
        retryable: false,
    };
    iam.fail_on("AttachUserPolicy", denied("AttachUserPolicy"));
    iam.fail_on("UpdateAccessKey", denied("UpdateAccessKey"));
    let acct = Account::default();
    let e = acct.send(&iam, &trail, &f, now()).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!((status(&iam, "intern", KEY), status(&iam, "intern", PROD_KEY)), (KeyStatus::Active, KeyStatus::Active));
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
    let page = acct.last_page();
    assert!(page.contains("could NOT deactivate its access keys either"), "{page}");
}

/// Attack: a protected user by `PROTECTED_PRINCIPALS` (its real ARN, with its path), named by a
/// command without the path: refused by the handler before any write.
#[tokio::test]
async fn the_handler_refuses_a_protected_user_before_any_write() {
    let iam = Iam::default().with_user(
        "breakglass-1",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/breakglass-1"),
            keys: vec![(KEY.into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let action = launchguard_core::contract::Action::DeactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/breakglass-1"),
        user_name: "breakglass-1".into(),
        used_keys: vec![KEY.into()],
        bound: None,
    };
    let req = launchguard_core::contract::ResponseRequest::new("lg-test", action, false, now());
    let o = launchguard_responder::respond(&req, &lambda.ak, &iam, now()).await;
    assert_eq!(o.outcome.name(), "refused", "{o:?}");
    assert!(iam.writes().is_empty());
    assert_eq!(status(&iam, "breakglass-1", KEY), KeyStatus::Active);
}

/// Attack: a release that names another principal (Bob), within the intern's finding or alone,
/// never reactivates the intern's keys; the intern releasing itself is refused; and a release of
/// the intern after its name was given to another user refuses (IAM's unique id differs), so the
/// new user's inactive key is not turned on.
#[tokio::test(start_paused = true)]
async fn a_release_of_another_principal_or_by_the_user_itself_reactivates_none_of_its_keys() {
    let (f, trail) = finding(905).await;
    let fid = f["finding_id"].as_str().unwrap().to_owned();
    let mut iam = iam();
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&iam, &trail, &f, now()).await;
    assert_eq!(status(&iam, "intern", PROD_KEY), KeyStatus::Inactive);
    let bob = format!("arn:aws:iam::{ACCOUNT}:user/bob");
    let at = now() + Duration::minutes(30);
    let _ = acct.send(&iam, &trail, &release(Some(&fid), Some(&bob), RESPONDER), at).await;
    let _ = acct.send(&iam, &trail, &release(None, Some(&bob), RESPONDER), at + Duration::seconds(1)).await;
    assert_eq!(status(&iam, "intern", PROD_KEY), KeyStatus::Inactive, "a release of Bob reactivated the intern's key");
    // the intern (its other identity ARN, any case) asks for its own release
    let own = format!("arn:aws:iam::{ACCOUNT}:user/Intern");
    let r = acct.send(&iam, &trail, &release(Some(&fid), None, &own), at + Duration::seconds(2)).await;
    assert!(matches!(r, Err(DispatcherError::Rejected { .. })), "{r:?}");
    assert_eq!(status(&iam, "intern", PROD_KEY), KeyStatus::Inactive, "the intern released itself");
    // renamed away; the name given to a new user holding an inactive key with the same id
    {
        let mut users = iam.users.lock().unwrap();
        let mut launcher = users.remove("intern").unwrap();
        launcher.arn = format!("arn:aws:iam::{ACCOUNT}:user/intern-old");
        users.insert("intern-old".into(), launcher);
        let mut newcomer = user("intern", &[(PROD_KEY, KeyStatus::Inactive)]);
        newcomer.id = "AIDAEXAMPLENEWHIRE01".into();
        users.insert("intern".into(), newcomer);
    }
    let _ = acct.send(&iam, &trail, &release(Some(&fid), None, RESPONDER), at + Duration::seconds(3)).await;
    assert_eq!(status(&iam, "intern", PROD_KEY), KeyStatus::Inactive, "the release turned on a key of the user who now has the name");
}

/// Dry run: the handler says what it would do and changes nothing.
#[tokio::test]
async fn a_dry_run_says_which_keys_it_would_deactivate() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let action = launchguard_core::contract::Action::DeactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
        user_name: "intern".into(),
        used_keys: vec![KEY.into()],
        bound: None,
    };
    let req = launchguard_core::contract::ResponseRequest::new("lg-test", action, true, now());
    let o = launchguard_responder::respond(&req, &lambda.ak, &iam, now()).await;
    assert_eq!(o.outcome.name(), "dry_run", "{o:?}");
    assert!(
        o.detail
            .contains(&format!("would set Inactive every active access key of arn:aws:iam::{ACCOUNT}:user/intern (2: {KEY}, {PROD_KEY})")),
        "{}",
        o.detail
    );
    assert!(iam.writes().is_empty());
}
