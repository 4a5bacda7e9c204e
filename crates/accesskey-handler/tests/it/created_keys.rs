//! `deactivate_created_access_key`: a key a flagged principal created for another user. Each test
//! is an attack first: a finding that names a key the call did not create (a forged or misread
//! `CreateAccessKey` record), a protected user's key, another user's key, must change nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_accesskey_handler::FUNCTION;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, refused};
use launchguard_responder::{Config, HandlerError, KeyStatus};
use proptest::prelude::*;
use serde_json::Value;

const ACCOUNT: &str = "111122223333";
const ATTACKER: &str = "arn:aws:iam::111122223333:user/mallory";

/// The `CreateAccessKey` call the finding names.
fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 30, 0).unwrap()
}

/// `victim` has the key mallory created (at the call) and an old key of its own; the protected
/// `breakglass-admin` got a key from mallory too.
fn user(name: &str, keys: &[(&str, DateTime<Utc>)]) -> Entity {
    Entity {
        keys: keys.iter().map(|(k, _)| ((*k).to_owned(), KeyStatus::Active)).collect(),
        key_created: keys.iter().map(|(k, t)| ((*k).to_owned(), *t)).collect(),
        ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
    }
}

fn status(iam: &MemoryIam, user: &str, key: &str) -> KeyStatus {
    iam.users.lock().unwrap()[user].keys.iter().find(|(k, _)| k == key).unwrap().1
}

fn account() -> MemoryIam {
    MemoryIam::default()
        .with_user("victim", user("victim", &[("AKIAVICTIMCREATED001", call()), ("AKIAVICTIMOWNKEY0001", call() - Duration::days(400))]))
        .with_user("breakglass-admin", user("breakglass-admin", &[("AKIABREAKGLASSNEW001", call() + Duration::seconds(1))]))
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
        created_by_id: None,
    };
    serde_json::to_value(ResponseRequest::new("lg-test", action, false, call() + Duration::minutes(10))).unwrap()
}

async fn run(iam: &MemoryIam, payload: &Value) -> Result<ResponseOutcome, HandlerError> {
    testing::handle_sealed(iam, &cfg(), &payload.to_string(), call() + Duration::minutes(11)).await
}

#[tokio::test]
async fn the_key_the_call_created_is_deactivated_and_only_it() {
    let iam = account();
    let o = run(&iam, &created("AKIAVICTIMCREATED001", "victim", call())).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(iam.writes(), vec!["UpdateAccessKey victim AKIAVICTIMCREATED001 Inactive"], "the victim's own key untouched");
    // the reversal reactivates exactly that key of that user
    assert_eq!(
        o.reversal,
        Some(Action::ReactivateAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: "AKIAVICTIMCREATED001".into(),
            user_name: Some("victim".into())
        })
    );
    // and undoing it works under the same checks
    let back = ResponseRequest::new("lg-test-release", o.reversal.unwrap(), false, call() + Duration::minutes(20));
    let r = run(&iam, &serde_json::to_value(back).unwrap()).await.unwrap();
    assert_eq!(r.outcome, OutcomeStatus::Applied, "{}", r.detail);
    assert_eq!(iam.writes().last().unwrap(), "UpdateAccessKey victim AKIAVICTIMCREATED001 Active");
}

#[tokio::test]
async fn attack_a_record_naming_an_older_key_of_the_user_changes_nothing() {
    // GIVEN a forged CreateAccessKey record that names the victim's own 400-day-old key
    let iam = account();
    let o = run(&iam, &created("AKIAVICTIMOWNKEY0001", "victim", call())).await.unwrap();
    // THEN it is refused: the key is older than the call
    let why = refused(&o);
    assert!(why.contains("before the CreateAccessKey call"), "{why}");
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn attack_a_key_iam_gives_no_create_date_for_is_refused() {
    let iam = account();
    iam.users.lock().unwrap().get_mut("victim").unwrap().key_created.clear();
    let why = refused(&run(&iam, &created("AKIAVICTIMCREATED001", "victim", call())).await.unwrap());
    assert!(why.contains("no CreateDate"), "{why}");
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn a_key_created_for_a_protected_user_is_refused_and_named() {
    // GIVEN mallory created a key for the protected break-glass user
    let iam = account();
    let why = refused(&run(&iam, &created("AKIABREAKGLASSNEW001", "breakglass-admin", call())).await.unwrap());
    // THEN launchguard never touches a protected user: refused, for a person to rotate
    assert!(why.contains("protected"), "{why}");
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn attack_a_created_by_that_is_not_an_arn_is_rejected() {
    let iam = account();
    let mut payload = created("AKIAVICTIMCREATED001", "victim", call());
    payload["action"]["created_by"] = Value::from("mallory\nFORGED LINE");
    let r = run(&iam, &payload).await;
    assert!(r.is_err() || matches!(r.as_ref().unwrap().outcome, OutcomeStatus::Refused { .. }), "{r:?}");
    assert!(iam.writes().is_empty());
}

/// DODGE (rename): mallory creates a key for `backdoor` (CloudTrail records `userName: backdoor`),
/// then `iam:UpdateUser --new-user-name backdoor2` before launchguard acts. The key id is unique
/// and IAM's CreateDate proves it is the very key the call created, yet the handler refuses on the
/// name and the attacker's key stays Active.
#[tokio::test]
async fn attack_a_renamed_users_created_key_is_still_deactivated() {
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
    assert!(o.detail.contains("created it for backdoor; IAM names its user backdoor2 now"), "{}", o.detail);
}

/// DODGE (rename into protection): the same, renamed to a name `PROTECTED_PRINCIPALS` covers
/// (`breakglass-*`). Protection wins, by design, but the dispatcher's plan (which checks the name
/// from the record) never knew, so no CRITICAL "rotate it by hand" line is written: only a refusal.
/// This test documents the behaviour (it passes): see the report.
#[tokio::test]
async fn attack_rename_into_a_protected_name_is_only_a_refusal() {
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
async fn attack_an_extreme_created_at_does_not_panic() {
    let iam = MemoryIam::default().with_user("victim", user("victim", &[("AKIAVICTIMCREATED001", call())]));
    let payload = created("AKIAVICTIMCREATED001", "victim", DateTime::<Utc>::MIN_UTC);
    // the command survives JSON (what the dispatcher sends is what the handler parses)
    let text = payload.to_string();
    assert!(ResponseRequest::parse(serde_json::from_str(&text).unwrap()).is_ok(), "{text}");
    let r = tokio::spawn(async move { run(&iam, &payload).await.map(|o| o.outcome) }).await;
    assert!(r.is_ok(), "the handler panicked on created_at = {}", DateTime::<Utc>::MIN_UTC);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the call's time and the key's CreateDate, a write happens only when the key was
    /// created no more than a minute before the call, and then only on that key.
    #[test]
    fn only_a_key_created_at_or_after_the_call_is_written(offset_s in -100_000i64..100_000, claimed in -100_000i64..100_000) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let iam = account();
        let key_created = call() + Duration::seconds(offset_s);
        iam.users.lock().unwrap().get_mut("victim").unwrap().key_created.insert("AKIAVICTIMCREATED001".into(), key_created);
        let claimed_call = call() + Duration::seconds(claimed);
        let o = rt.block_on(run(&iam, &created("AKIAVICTIMCREATED001", "victim", claimed_call))).unwrap();
        let allowed = key_created >= claimed_call - Duration::seconds(60);
        prop_assert_eq!(o.outcome == OutcomeStatus::Applied, allowed, "{}", o.detail);
        prop_assert!(iam.writes().iter().all(|w| w == "UpdateAccessKey victim AKIAVICTIMCREATED001 Inactive"));
    }
}
