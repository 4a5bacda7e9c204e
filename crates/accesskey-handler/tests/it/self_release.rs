//! A reversal a release asked for is refused when who asked is the key's own user by IAM's unique
//! id (`UserId`): a user renamed after its key was deactivated is still itself. The handler checks
//! it before anything else (`launchguard_responder`'s `self_release`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, TimeZone, Utc};
use launchguard_accesskey_handler::FUNCTION;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseRequest, SELF_RELEASE};
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, handle_sealed, refused};
use launchguard_responder::{Config, KeyStatus};

const ACCOUNT: &str = "111122223333";
const K: &str = "AKIABOBKEY0000000001";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 1).unwrap()
}

fn cfg() -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-accesskey-handler-role", &[])
}

/// bob's key K, deactivated by launchguard; bob then renamed `bob2`; alice another user.
fn account() -> MemoryIam {
    let iam = MemoryIam::default()
        .with_user("bob", Entity { keys: vec![(K.into(), KeyStatus::Inactive)], ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")) })
        .with_user("alice", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/alice")));
    {
        let mut users = iam.users.lock().unwrap();
        let mut u = users.remove("bob").unwrap();
        u.arn = format!("arn:aws:iam::{ACCOUNT}:user/bob2");
        users.insert("bob2".into(), u);
    }
    iam
}

/// The reactivation of K (the reversal names the user IAM reported when it deactivated it).
fn reactivation(by: &str, dry_run: bool) -> String {
    let action = Action::ReactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: K.into(), user_name: Some("bob2".into()) };
    let mut req = ResponseRequest::new("lg-test", action, dry_run, at());
    req.requested_by = Some(by.into());
    serde_json::to_string(&req).unwrap()
}

fn status(iam: &MemoryIam) -> KeyStatus {
    iam.user("bob2").keys[0].1
}

/// The key's user, under a name it did not have when contained, is refused, in a dry run (the
/// dispatcher's check before marking) and for real; the key stays inactive.
#[tokio::test]
async fn the_keys_own_user_renamed_never_reactivates_it() {
    let iam = account();
    for dry_run in [true, false] {
        let o = handle_sealed(&iam, &cfg(), &reactivation(&format!("arn:aws:iam::{ACCOUNT}:user/bob2"), dry_run), at()).await.unwrap();
        let reason = refused(&o);
        assert!(reason.contains(SELF_RELEASE), "{reason}");
    }
    assert_eq!(status(&iam), KeyStatus::Inactive);
    assert!(!iam.writes().iter().any(|w| w.starts_with("UpdateAccessKey")), "{:?}", iam.writes());
}

/// Another user (another unique id), or a role session, reactivates it.
#[tokio::test]
async fn someone_else_reactivates_it() {
    for by in [format!("arn:aws:iam::{ACCOUNT}:user/alice"), "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice".into()] {
        let iam = account();
        let o = handle_sealed(&iam, &cfg(), &reactivation(&by, false), at()).await.unwrap();
        assert_eq!(o.outcome, OutcomeStatus::Applied, "{by}: {:?} {}", o.outcome, o.detail);
        assert_eq!(status(&iam), KeyStatus::Active);
    }
}
