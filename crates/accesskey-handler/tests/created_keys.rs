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
fn account() -> MemoryIam {
    let user = |name: &str, keys: &[(&str, DateTime<Utc>)]| Entity {
        keys: keys.iter().map(|(k, _)| ((*k).to_owned(), KeyStatus::Active)).collect(),
        key_created: keys.iter().map(|(k, t)| ((*k).to_owned(), *t)).collect(),
        ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
    };
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
async fn a_user_renamed_after_the_call_does_not_save_the_key() {
    // GIVEN the record names the key's user as it was then; IAM has another name for it now
    let iam = account();
    let o = run(&iam, &created("AKIAVICTIMCREATED001", "victim-before-rename", call())).await.unwrap();
    // THEN the key (unique, created by that call) is deactivated under IAM's owner, and the
    // outcome says the names differ
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(iam.writes(), vec!["UpdateAccessKey victim AKIAVICTIMCREATED001 Inactive"]);
    assert!(o.detail.contains("created it for victim-before-rename; IAM names its user victim now"), "{}", o.detail);
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
