//! Outside review (`rvs`): attacks on the binding of containment to the principal CloudTrail
//! confirmed. Each test asserts the SAFE outcome; the ones that fail against today's code are
//! ignored with the finding's number (the fixer un-ignores them).
//!
//! Attempts that held (read against the code; no test needed beyond the existing ones):
//! - bound `deactivate_access_key` on a key of another user: `check_user_id` on the key's owner
//!   refuses (owner's `UserId` differs); a key deleted since: refused (no owner).
//! - bound quarantine after a rename: follows the key to the current name, checks `UserId`, and
//!   re-checks protection on both the finding's ARN and IAM's (a rename never sheds a protection).
//! - a deleted-and-recreated user with the same name, key gone: `bound_user` falls back to the
//!   name, `check_user_id` refuses the new user's id.
//! - case-only renames: names compared without case in resolve, ledger (`name_seg`) and fallback.
//! - assumed-role session keys (ASIA) are never deactivated; root and federated users get `human`
//!   only; service-linked and Identity Center roles refused on the real ARN.
//! - the fallback's `used_keys` check (keys never move between users) stops a name given to
//!   another user when the plan holds a per-key action (existing test in quarantine_slots.rs).
//! - `reactivate_user_access_keys` sets Active only keys still listed under the user and
//!   Inactive; `check_principal_id` refuses a name that IAM gives another id now.
//! - a release of an older finding whose key a newer all-keys containment of the same user (under
//!   a new name) relies on: `without_held_keys` + `entries_on` follow the entries' principal ids.
//! - a new finding on a target another finding holds: entries are per (target, finding), so the
//!   newer one still acts; a release of either keeps what the other holds.
//! - protected patterns: `?` and non-ASCII refused at parse; every kind/path form rendered;
//!   code protects a superset of IAM (case), documented and closed by the tag.
//! - forged log-group records: bound ids and keys come only from CloudTrail's own records
//!   (`Proven`), never from the finding.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::CallError;
use launchguard_aws::trail::MemoryTrail;
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, handle};
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::Value;

use crate::forged_records::detected;
use crate::world::{self, ACCOUNT, Entity, Iam, Lambda, Logs, Sns, config};

const KEY: &str = "AKIAEXAMPLEINTERN001";
const PROD_KEY: &str = "AKIAEXAMPLEINTERNPRD";
const NEWHIRE_KEY: &str = "AKIAEXAMPLENEWHIRE01";
const NEWHIRE_KEY2: &str = "AKIAEXAMPLENEWHIRE02";

fn now() -> DateTime<Utc> {
    crate::forged_records::now()
}

fn user(name: &str, keys: &[(&str, KeyStatus)]) -> Entity {
    Entity {
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        keys: keys.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect(),
        ..Entity::default()
    }
}

fn full() -> Vec<String> {
    (0..10).map(|i| format!("arn:aws:iam::aws:policy/harmless-{i}")).collect()
}

fn limit_exceeded() -> CallError {
    CallError {
        message: "iam:AttachUserPolicy: Cannot exceed quota for PoliciesPerUser: 10 (LimitExceeded; HTTP 409)".into(),
        code: Some("LimitExceeded".into()),
        retryable: false,
    }
}

fn status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.user(user).keys.iter().find(|(k, _)| k == key).unwrap().1
}

/// The intern's confirmed burst (4 calls of 3 instances with `KEY`, in CloudTrail).
async fn finding(seed: u32) -> (Value, MemoryTrail) {
    let who = Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: KEY.into() };
    let real = Burst::new(who, 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), seed);
    let trail = MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    (detected(&real).await, trail)
}

/// The launcher (CloudTrail's `intern`, two active keys, its ten slots full) renamed itself to
/// `intern-old` after the burst; the name `intern` now belongs to a new hire (another unique id)
/// with two active keys of its own.
fn renamed_and_name_reused() -> Iam {
    let iam = Iam::default().with_user("intern", user("intern", &[(KEY, KeyStatus::Active), (PROD_KEY, KeyStatus::Active)]));
    {
        let mut users = iam.users.lock().unwrap();
        let mut launcher = users.remove("intern").unwrap();
        launcher.arn = format!("arn:aws:iam::{ACCOUNT}:user/intern-old");
        launcher.attached = full();
        users.insert("intern-old".into(), launcher);
        let mut newcomer = user("intern", &[(NEWHIRE_KEY, KeyStatus::Active), (NEWHIRE_KEY2, KeyStatus::Active)]);
        newcomer.id = "AIDAEXAMPLENEWHIRE01".into();
        users.insert("intern".into(), newcomer);
    }
    iam
}

#[derive(Default)]
struct Account {
    sns: Sns,
    logs: Logs,
}

impl Account {
    async fn send(
        &self,
        cfg: &[(&str, &str)],
        iam: &Iam,
        trail: &MemoryTrail,
        payload: &Value,
        at: DateTime<Utc>,
    ) -> Result<DispatchReport, DispatcherError> {
        let lambda = Lambda::new(iam, &[], at);
        let sealed = world::sealed(&lambda, payload, at);
        let logs = &self.logs;
        handle(&sealed, &config(cfg), &lambda, &self.sns, logs, &logs.ledger, &lambda.kms, &logs.reports, trail, at).await
    }

    fn last_page(&self) -> String {
        self.sns.messages.lock().unwrap().last().map(|m| m.1.clone()).unwrap_or_default()
    }
}

/// rvs finding 1. Playbook `LG_USER_ACTIONS=quarantine_user` (no per-key action). The quarantine
/// is bound to CloudTrail's user id and follows the key to `intern-old`, where IAM answers
/// `LimitExceeded`; the fallback `deactivate_user_access_keys` is built from the finding's NAME
/// with no key to check (`used_keys` empty) and no id, so it deactivates every key of the new hire
/// who now holds the name `intern`: an action on a principal CloudTrail never saw.
#[tokio::test(start_paused = true)]
async fn rvs_fallback_without_used_keys_never_deactivates_the_keys_of_whoever_holds_the_name_now() {
    let (f, trail) = finding(951).await;
    let mut iam = renamed_and_name_reused();
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&[("LG_USER_ACTIONS", "quarantine_user")], &iam, &trail, &f, now()).await;
    let wrong: Vec<String> = iam.writes().into_iter().filter(|w| w.starts_with("UpdateAccessKey intern ")).collect();
    assert!(wrong.is_empty(), "the new hire's keys were deactivated for the intern's burst: {wrong:?}\n{}", acct.last_page());
    assert_eq!(
        (status(&iam, "intern", NEWHIRE_KEY), status(&iam, "intern", NEWHIRE_KEY2)),
        (KeyStatus::Active, KeyStatus::Active),
        "{}",
        acct.last_page()
    );
}

/// rvs finding 2. Default playbook. The launcher renamed itself (`intern-old`) and filled its ten
/// slots; the bound `deactivate_access_key` and quarantine follow its key to `intern-old`, but the
/// fallback is sent to the finding's name `intern` (the new hire), refused there, and the
/// launcher's second key stays active: the confirmed launcher is not contained although launchguard
/// knew its current name. Safe outcome: the fallback acts on the user the quarantine was bound to.
#[tokio::test(start_paused = true)]
async fn rvs_fallback_follows_the_bound_user_to_its_current_name() {
    let (f, trail) = finding(952).await;
    let mut iam = renamed_and_name_reused();
    iam.fail_on("AttachUserPolicy", limit_exceeded());
    let acct = Account::default();
    let _ = acct.send(&[], &iam, &trail, &f, now()).await;
    assert_eq!(status(&iam, "intern", NEWHIRE_KEY), KeyStatus::Active, "{:?}", iam.writes());
    assert_eq!(status(&iam, "intern-old", KEY), KeyStatus::Inactive, "{:?}", iam.writes());
    assert_eq!(
        status(&iam, "intern-old", PROD_KEY),
        KeyStatus::Inactive,
        "the renamed launcher kept its second key: {:?}\n{}",
        iam.writes(),
        acct.last_page()
    );
}

fn release_principal(principal: &str) -> Value {
    serde_json::json!({"schema_version": 1, "kind": "release", "finding_id": null, "principal_arn": principal,
        "reason": "the user intern says it is locked out", "requested_by": RESPONDER, "dry_run": false})
}

const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

/// rvs finding 3. The launcher (CloudTrail's `intern`, id `AIDAEXAMPLEINTERN001`) renamed itself
/// `intern-old` and the name `intern` went to a new hire. The bound quarantine lands on
/// `intern-old` (right), but the ledger files it under the finding's name `intern`. A responder
/// then releases the principal `user/intern` (the new hire, who says it is locked out): the scope
/// check (`release/identity.rs`) dry-runs the entry's reversal, which names `intern-old`, whose id
/// is the entry's, so the entry stays in scope, and the LAUNCHER's quarantine is detached by a
/// release that named another user. Safe outcome: the release of `user/intern` leaves the
/// launcher's quarantine attached (IAM gives the name `intern` another id now).
#[tokio::test(start_paused = true)]
async fn rvs_a_release_naming_the_new_holder_of_the_name_never_releases_the_renamed_launcher() {
    let (f, trail) = finding(953).await;
    let iam = renamed_and_name_reused();
    iam.users.lock().unwrap().get_mut("intern-old").unwrap().attached.clear();
    let acct = Account::default();
    let r = acct.send(&[], &iam, &trail, &f, now()).await;
    assert!(iam.user("intern-old").has_attached("launchguard-quarantine-guard"), "setup: the launcher is quarantined: {r:?}");
    let before = iam.writes().len();
    let at = now() + Duration::minutes(30);
    let _ = acct.send(&[], &iam, &trail, &release_principal(&format!("arn:aws:iam::{ACCOUNT}:user/intern")), at).await;
    let undone: Vec<String> = iam.writes()[before..].iter().filter(|w| w.contains("intern-old")).cloned().collect();
    assert!(undone.is_empty(), "a release of user/intern (the new hire) released the renamed launcher: {undone:?}\n{}", acct.last_page());
    assert!(iam.user("intern-old").has_attached("launchguard-quarantine-guard"));
}

/// rvs finding 4. A role is not bound to CloudTrail's `sessionIssuer.principalId` (its `RoleId`):
/// the role that launched (`ci-deployer`, `AROAEXAMPLECIROLE001`) was deleted and a role of the
/// same name made again (another `RoleId`: another principal, whose sessions are not the
/// launcher's). `revoke_role_sessions` denies every session of the new role. Safe outcome: refused,
/// nothing attached, the page says so.
#[tokio::test(start_paused = true)]
async fn rvs_a_role_made_again_under_the_launchers_name_is_not_revoked() {
    let who = Actor::AssumedRole {
        account: ACCOUNT.into(),
        role: "ci-deployer".into(),
        session: "build-7".into(),
        key: "ASIAEXAMPLECIROLE001".into(),
    };
    let real = Burst::new(who, 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), 954);
    assert_eq!(real[0]["userIdentity"]["sessionContext"]["sessionIssuer"]["principalId"], "AROAEXAMPLECIROLE001");
    let trail = MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    let f = detected(&real).await;
    let iam = Iam::default().with_role(
        "ci-deployer",
        Entity { arn: format!("arn:aws:iam::{ACCOUNT}:role/ci-deployer"), id: "AROAEXAMPLEREMADE0001".into(), ..Entity::default() },
    );
    let acct = Account::default();
    let _ = acct.send(&[], &iam, &trail, &f, now()).await;
    let revoked: Vec<String> = iam.writes().into_iter().filter(|w| w.starts_with("AttachRolePolicy ci-deployer")).collect();
    assert!(revoked.is_empty(), "the sessions of another role (same name, other RoleId) were revoked: {revoked:?}\n{}", acct.last_page());
}
