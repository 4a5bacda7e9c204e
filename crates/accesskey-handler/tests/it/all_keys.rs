//! `deactivate_user_access_keys` (every active key of a user whose quarantine IAM refused for
//! good) and its reversal, at the handler: exactly the active keys, and back exactly those, each
//! only while IAM lists it under the same user (by IAM's unique id).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, TimeZone, Utc};
use launchguard_accesskey_handler::FUNCTION;
use launchguard_core::contract::{ANOTHER_PRINCIPAL, Action, BoundPrincipal, OutcomeStatus, ResponseRequest, SELF_RELEASE};
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, handle_sealed, refused};
use launchguard_responder::{Config, KeyStatus};

const ACCOUNT: &str = "111122223333";
const USED: &str = "AKIAEXAMPLEINTERN001";
const OTHER: &str = "AKIAEXAMPLEINTERNPRD";
const OLD: &str = "AKIAEXAMPLEINTERNOLD";
const BOB: &str = "AKIAEXAMPLEBOBLEAKED";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 1).unwrap()
}

fn cfg() -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-accesskey-handler-role", &[])
}

/// The intern: two active keys and one a person deactivated long ago; Bob: one inactive key.
fn account() -> MemoryIam {
    MemoryIam::default()
        .with_user(
            "intern",
            Entity {
                keys: vec![(USED.into(), KeyStatus::Active), (OTHER.into(), KeyStatus::Active), (OLD.into(), KeyStatus::Inactive)],
                ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/intern"))
            },
        )
        .with_user(
            "bob",
            Entity { keys: vec![(BOB.into(), KeyStatus::Inactive)], ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")) },
        )
}

fn status(iam: &MemoryIam, user: &str, key: &str) -> KeyStatus {
    iam.user(user).keys.iter().find(|(k, _)| k == key).unwrap().1
}

fn all(used: &[&str]) -> Action {
    Action::DeactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
        user_name: "intern".into(),
        used_keys: used.iter().map(|k| (*k).to_owned()).collect(),
        bound: None,
    }
}

fn sealed(action: Action, by: Option<&str>, principal_id: Option<&str>) -> String {
    let mut req = ResponseRequest::new("lg-test", action, false, at());
    req.requested_by = by.map(str::to_owned);
    req.principal_id = principal_id.map(str::to_owned);
    serde_json::to_string(&req).unwrap()
}

#[tokio::test]
async fn exactly_the_active_keys_are_deactivated_and_the_reversal_names_exactly_them() {
    let iam = account();
    let o = handle_sealed(&iam, &cfg(), &sealed(all(&[USED]), None, None), at()).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(
        iam.writes(),
        vec![format!("UpdateAccessKey intern {USED} Inactive"), format!("UpdateAccessKey intern {OTHER} Inactive")],
        "only the active keys, only their status: no delete, no policy"
    );
    let Some(Action::ReactivateUserAccessKeys { access_key_ids, user_name, .. }) = &o.reversal else { panic!("{:?}", o.reversal) };
    assert_eq!((access_key_ids.as_slice(), user_name.as_str()), (&[USED.to_owned(), OTHER.to_owned()][..], "intern"));
    assert!(o.principal_id.as_deref().is_some_and(|id| id.starts_with("AIDA")), "the ledger files it by IAM's id: {o:?}");
    // the reversal turns on those two, never the key a person had deactivated
    let back = handle_sealed(&iam, &cfg(), &sealed(o.reversal.clone().unwrap(), None, o.principal_id.as_deref()), at()).await.unwrap();
    assert_eq!(back.outcome, OutcomeStatus::Applied, "{}", back.detail);
    assert_eq!([USED, OTHER, OLD].map(|k| status(&iam, "intern", k)), [KeyStatus::Active, KeyStatus::Active, KeyStatus::Inactive]);
}

#[tokio::test]
async fn a_user_whose_name_names_none_of_the_used_keys_is_refused_before_any_write() {
    let iam = account();
    let o = handle_sealed(&iam, &cfg(), &sealed(all(&[BOB]), None, None), at()).await.unwrap();
    assert!(refused(&o).contains("IAM lists none of the keys"), "{o:?}");
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
}

/// A reversal naming a key of another user (planted, or a key moved by a name reuse) changes
/// nothing of that key: only keys IAM lists under the user are reactivated.
#[tokio::test]
async fn the_reversal_never_reactivates_a_key_not_listed_under_the_user() {
    let iam = account();
    let planted = Action::ReactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
        user_name: "intern".into(),
        access_key_ids: vec![BOB.into()],
    };
    let o = handle_sealed(&iam, &cfg(), &sealed(planted, None, None), at()).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::AlreadyApplied, "{}", o.detail);
    assert!(o.detail.contains("not listed under"), "{}", o.detail);
    assert_eq!(status(&iam, "bob", BOB), KeyStatus::Inactive);
    assert!(iam.writes().is_empty());
}

/// The reversal is refused when the user asks for it (under any name IAM gives it), or when the
/// name belongs to another user now (IAM's unique id differs from the containment's).
#[tokio::test]
async fn the_reversal_refuses_the_user_itself_and_a_reused_name() {
    let iam = account();
    let o = handle_sealed(&iam, &cfg(), &sealed(all(&[USED]), None, None), at()).await.unwrap();
    let (rev, id) = (o.reversal.unwrap(), o.principal_id.unwrap());
    let me = format!("arn:aws:iam::{ACCOUNT}:user/intern");
    let r = handle_sealed(&iam, &cfg(), &sealed(rev.clone(), Some(&me), Some(&id)), at()).await.unwrap();
    assert!(refused(&r).contains(SELF_RELEASE), "{r:?}");
    let r = handle_sealed(&iam, &cfg(), &sealed(rev, None, Some("AIDAEXAMPLEOTHERUSER")), at()).await.unwrap();
    assert!(refused(&r).contains(ANOTHER_PRINCIPAL), "{r:?}");
    assert_eq!([USED, OTHER].map(|k| status(&iam, "intern", k)), [KeyStatus::Inactive, KeyStatus::Inactive]);
}

/// The fallback bound to the user CloudTrail confirmed (as the quarantine it replaces was).
fn bound_all(user: &str, id: &str, key: &str) -> Action {
    Action::DeactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
        user_name: user.into(),
        used_keys: vec![USED.into()],
        bound: Some(BoundPrincipal { principal_id: id.into(), access_key_id: Some(key.into()) }),
    }
}

/// The intern renamed `to`; with `newcomer`, its old name given to another user with one active key.
fn renamed(to: &str, newcomer: bool) -> (MemoryIam, String) {
    let iam = account();
    let id = iam.user("intern").id;
    {
        let mut users = iam.users.lock().unwrap();
        let mut u = users.remove("intern").unwrap();
        u.arn = format!("arn:aws:iam::{ACCOUNT}:user/{to}");
        users.insert(to.into(), u);
        if newcomer {
            let mut n =
                Entity { keys: vec![(NEWCOMER.into(), KeyStatus::Active)], ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/intern")) };
            n.id = "AIDAEXAMPLENEWHIRE01".into();
            users.insert("intern".into(), n);
        }
    }
    (iam, id)
}

const NEWCOMER: &str = "AKIAEXAMPLENEWHIRE01";

/// Bound, the handler follows the confirmed key to the user's current name (renamed, or in case
/// only) and deactivates every active key of that user, checked by its unique id; the reversal
/// names it by that name, and the new owner of the old name is never touched.
#[tokio::test]
async fn bound_it_follows_the_confirmed_key_to_the_renamed_user_and_touches_nobody_else() {
    for (to, newcomer) in [("intern-svc", false), ("intern-old", true), ("Intern", false)] {
        let (iam, id) = renamed(to, newcomer);
        let o = handle_sealed(&iam, &cfg(), &sealed(bound_all("intern", &id, USED), None, None), at()).await.unwrap();
        assert_eq!(o.outcome, OutcomeStatus::Applied, "{to}: {}", o.detail);
        assert_eq!(
            iam.writes(),
            vec![format!("UpdateAccessKey {to} {USED} Inactive"), format!("UpdateAccessKey {to} {OTHER} Inactive")],
            "{to}"
        );
        let named = o.detail.contains(&format!("IAM names the same user, by its unique id, {to} now"));
        assert_eq!(named, !to.eq_ignore_ascii_case("intern"), "a rename is named, a case-only one needs no words: {}", o.detail);
        assert_eq!(o.principal_id.as_deref(), Some(id.as_str()));
        let Some(Action::ReactivateUserAccessKeys { user_name, .. }) = &o.reversal else { panic!("{:?}", o.reversal) };
        assert_eq!(user_name, to);
        if newcomer {
            assert_eq!(status(&iam, "intern", NEWCOMER), KeyStatus::Active);
        }
        // the reversal, filed under the id, turns on exactly those keys of the same user
        let back = handle_sealed(&iam, &cfg(), &sealed(o.reversal.clone().unwrap(), None, Some(&id)), at()).await.unwrap();
        assert_eq!(back.outcome, OutcomeStatus::Applied, "{}", back.detail);
        assert_eq!([USED, OTHER, OLD].map(|k| status(&iam, to, k)), [KeyStatus::Active, KeyStatus::Active, KeyStatus::Inactive]);
    }
}

/// Attacks on the binding: the confirmed key is another account's (IAM here knows no owner for
/// it), or another user's of this account, or the action names another account. The id decides:
/// the user IAM gives the name (or the key's owner) must have it; nothing is written otherwise,
/// and another account is refused before any IAM call.
#[tokio::test]
async fn bound_it_never_acts_on_another_users_or_another_accounts_keys() {
    const FOREIGN: &str = "AKIAEXAMPLEOTHERACCT";
    // another account's key, the intern renamed and its name given to a new hire: the name's user
    // has another id
    let (iam, id) = renamed("intern-old", true);
    let o = handle_sealed(&iam, &cfg(), &sealed(bound_all("intern", &id, FOREIGN), None, None), at()).await.unwrap();
    assert!(refused(&o).contains("not ") && refused(&o).contains(&id), "{o:?}");
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
    // another account's key, the intern renamed away: no user has the name now
    let (iam, id) = renamed("intern-old", false);
    let o = handle_sealed(&iam, &cfg(), &sealed(bound_all("intern", &id, FOREIGN), None, None), at()).await.unwrap();
    assert!(refused(&o).contains("does not exist now"), "{o:?}");
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
    // another account's key, nothing renamed: the name's user has the id, and is contained
    let iam = account();
    let id = iam.user("intern").id;
    let o = handle_sealed(&iam, &cfg(), &sealed(bound_all("intern", &id, FOREIGN), None, None), at()).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(status(&iam, "bob", BOB), KeyStatus::Inactive);
    // Bob's key bound to the intern's id: Bob is not the intern, nothing of his changes
    let iam = account();
    let id = iam.user("intern").id;
    let o = handle_sealed(&iam, &cfg(), &sealed(bound_all("intern", &id, BOB), None, None), at()).await.unwrap();
    assert!(refused(&o).contains("IAM's user bob"), "{o:?}");
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
    // the action names another account: refused before any IAM call
    let iam = account();
    let Action::DeactivateUserAccessKeys { bound, .. } = bound_all("intern", &iam.user("intern").id, USED) else { unreachable!() };
    let other = Action::DeactivateUserAccessKeys {
        account_id: "444455556666".into(),
        user_arn: "arn:aws:iam::444455556666:user/intern".into(),
        user_name: "intern".into(),
        used_keys: vec![USED.into()],
        bound,
    };
    let o = handle_sealed(&iam, &cfg(), &sealed(other, None, None), at()).await.unwrap();
    assert_eq!(o.outcome.name(), "refused", "{o:?}");
    assert!(iam.calls().is_empty() && iam.writes().is_empty(), "{:?}", iam.calls());
}
