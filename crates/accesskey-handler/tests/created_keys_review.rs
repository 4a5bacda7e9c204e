//! Review of `deactivate_created_access_key` (issue 13, part 2): attacks that the change's own
//! tests do not cover. Each test states what should hold; a failing test is a finding.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_accesskey_handler::FUNCTION;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing;
use launchguard_responder::{Config, HandlerError, KeyStatus};
use serde_json::Value;

const ACCOUNT: &str = "111122223333";
const ATTACKER: &str = "arn:aws:iam::111122223333:user/mallory";

fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 30, 0).unwrap()
}

fn user(name: &str, keys: &[(&str, DateTime<Utc>)]) -> Entity {
    Entity {
        keys: keys.iter().map(|(k, _)| ((*k).to_owned(), KeyStatus::Active)).collect(),
        key_created: keys.iter().map(|(k, t)| ((*k).to_owned(), *t)).collect(),
        ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
    }
}

fn cfg() -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-accesskey-handler-role", &[])
}

fn created(key: &str, user: &str, at: DateTime<Utc>) -> Value {
    let action = Action::DeactivateCreatedAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: key.into(),
        user_name: user.into(),
        created_by: ATTACKER.into(),
        created_at: at,
    };
    serde_json::to_value(ResponseRequest::new("lg-test", action, false, call() + Duration::minutes(10))).unwrap()
}

async fn run(iam: &MemoryIam, payload: &Value) -> Result<ResponseOutcome, HandlerError> {
    testing::handle_sealed(iam, &cfg(), &payload.to_string(), call() + Duration::minutes(11)).await
}

fn status(iam: &MemoryIam, user: &str, key: &str) -> KeyStatus {
    iam.users.lock().unwrap()[user].keys.iter().find(|(k, _)| k == key).unwrap().1
}

/// DODGE (rename): mallory creates a key for `backdoor` (CloudTrail records `userName: backdoor`),
/// then `iam:UpdateUser --new-user-name backdoor2` before launchguard acts. The key id is unique
/// and IAM's CreateDate proves it is the very key the call created, yet the handler refuses on the
/// name and the attacker's key stays Active.
#[tokio::test]
async fn review_a_renamed_users_created_key_is_still_deactivated() {
    // the user the key was created for, renamed after the call
    let iam = MemoryIam::default().with_user("backdoor2", user("backdoor2", &[("AKIABACKDOORNEW00001", call() + Duration::seconds(1))]));
    let o = run(&iam, &created("AKIABACKDOORNEW00001", "backdoor", call())).await.unwrap();
    assert_eq!(
        status(&iam, "backdoor2", "AKIABACKDOORNEW00001"),
        KeyStatus::Inactive,
        "the key mallory created stays Active after a rename: {:?} {}",
        o.outcome,
        o.detail
    );
}

/// DODGE (rename into protection): the same, renamed to a name `PROTECTED_PRINCIPALS` covers
/// (`breakglass-*`). Protection wins, by design, but the dispatcher's plan (which checks the name
/// from the record) never knew, so no CRITICAL "rotate it by hand" line is written: only a refusal.
/// This test documents the behaviour (it passes): see the report.
#[tokio::test]
async fn review_rename_into_a_protected_name_is_only_a_refusal() {
    let iam =
        MemoryIam::default().with_user("breakglass-x", user("breakglass-x", &[("AKIABACKDOORNEW00001", call() + Duration::seconds(1))]));
    let o = run(&iam, &created("AKIABACKDOORNEW00001", "backdoor", call())).await.unwrap();
    assert!(matches!(o.outcome, OutcomeStatus::Refused { .. }), "{}", o.detail);
    assert_eq!(status(&iam, "breakglass-x", "AKIABACKDOORNEW00001"), KeyStatus::Active);
}

/// PANIC: SECURITY.md says "All time arithmetic is checked: no instant can make it panic". A
/// `created_at` at the edge of chrono's range (sealed by a compromised detector, copied by the
/// dispatcher into the command) makes `call - CLOCK_SKEW` overflow in `check_created`.
#[tokio::test]
async fn review_an_extreme_created_at_does_not_panic() {
    let iam = MemoryIam::default().with_user("victim", user("victim", &[("AKIAVICTIMCREATED001", call())]));
    let payload = created("AKIAVICTIMCREATED001", "victim", DateTime::<Utc>::MIN_UTC);
    // the command survives JSON (what the dispatcher sends is what the handler parses)
    let text = payload.to_string();
    assert!(ResponseRequest::parse(serde_json::from_str(&text).unwrap()).is_ok(), "{text}");
    let r = tokio::spawn(async move { run(&iam, &payload).await.map(|o| o.outcome) }).await;
    assert!(r.is_ok(), "the handler panicked on created_at = {}", DateTime::<Utc>::MIN_UTC);
}
