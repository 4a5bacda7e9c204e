//! Issue 32, items 1 and 2: the iam-handler never grants a principal a permission it did not
//! have. A sealed command can name a policy document (`previous_document`, `written_document`)
//! and say who attached the quarantine (`guard_only`): none of it is ever written or believed.
//! Every IAM write is the attachment of a deny-only policy (the stack's, or AWS's quarantine
//! policy), or the removal of exactly what launchguard placed, read back from IAM.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, TimeZone, Utc};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_iam_handler::FUNCTION;
use launchguard_responder::Config;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing;

const ACCOUNT: &str = "111122223333";
const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";
const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 0).unwrap()
}

fn cfg() -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-iam-handler-role", &[])
}

fn account() -> MemoryIam {
    MemoryIam::default()
        .with_user("mallory", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/mallory")))
        .with_user("leaked", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/leaked")))
        .with_role("Worker", Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/Worker")))
}

async fn run(iam: &MemoryIam, action: Action) -> ResponseOutcome {
    let req = serde_json::to_value(ResponseRequest::new("lg-test", action, false, now())).unwrap();
    testing::handle_sealed(iam, &cfg(), &req.to_string(), now()).await.expect("valid request")
}

/// Every write that put a policy document (inline): there must be none.
fn documents_written(iam: &MemoryIam) -> Vec<String> {
    iam.writes().into_iter().filter(|w| w.starts_with("PutUserPolicy") || w.starts_with("PutRolePolicy")).collect()
}

fn allows_everything(e: &Entity) -> bool {
    e.inline.values().any(|d| d.contains("\"Allow\""))
}

/// GIVEN a user launchguard quarantined
/// WHEN a sealed release names an allow-all `previous_document`
/// THEN no document is written: the user never gains an allow-all policy.
#[tokio::test]
async fn a_release_never_writes_the_commands_previous_document_on_a_user() {
    let iam = account();
    let q = run(
        &iam,
        Action::QuarantineUser {
            account_id: ACCOUNT.into(),
            user_arn: format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
            user_name: "mallory".into(),
            bound: None,
        },
    )
    .await;
    assert_eq!(q.outcome, OutcomeStatus::Applied, "{}", q.detail);
    for guard_only in [false, true] {
        for policy_arn in [Some(QUARANTINE.to_owned()), None] {
            let release = Action::ReleaseUserQuarantine {
                account_id: ACCOUNT.into(),
                user_arn: format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
                user_name: "mallory".into(),
                policy_arn,
                previous_document: Some(ALLOW_ALL.into()),
                guard_only,
            };
            run(&iam, release).await;
            assert!(!allows_everything(&iam.user("mallory")), "the release wrote the command's document: {:?}", iam.writes());
            // quarantine again for the next variant
            run(
                &iam,
                Action::QuarantineUser {
                    account_id: ACCOUNT.into(),
                    user_arn: format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
                    user_name: "mallory".into(),
                    bound: None,
                },
            )
            .await;
        }
    }
    assert_eq!(documents_written(&iam), Vec::<String>::new());
}

/// GIVEN a role whose sessions launchguard revoked
/// WHEN a sealed restore names the role's current document and an allow-all `previous_document`
/// THEN no document is written on the role.
#[tokio::test]
async fn a_restore_never_writes_the_commands_previous_document_on_a_role() {
    let iam = account();
    let r = run(
        &iam,
        Action::RevokeRoleSessions {
            account_id: ACCOUNT.into(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/Worker"),
            role_name: "Worker".into(),
            issued_before: now(),
            covers_activity_until: None,
            bound: None,
        },
    )
    .await;
    assert_eq!(r.outcome, OutcomeStatus::Applied, "{}", r.detail);
    let written = iam.role("Worker").inline.values().next().cloned();
    run(
        &iam,
        Action::RestoreRoleSessions {
            account_id: ACCOUNT.into(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/Worker"),
            role_name: "Worker".into(),
            written_document: written,
            previous_document: Some(ALLOW_ALL.into()),
        },
    )
    .await;
    assert!(!allows_everything(&iam.role("Worker")), "the restore wrote the command's document: {:?}", iam.writes());
    assert_eq!(documents_written(&iam), Vec::<String>::new());
}

/// GIVEN AWSCompromisedKeyQuarantineV3 attached by AWS after a key leak, and launchguard's guard beside it
/// WHEN a sealed release says launchguard attached the policy (`guard_only: false`)
/// THEN the policy stays attached: the handler believes IAM, not the command.
#[tokio::test]
async fn a_release_never_detaches_a_quarantine_launchguard_did_not_attach() {
    let iam = account();
    iam.users.lock().unwrap().get_mut("leaked").unwrap().attached.push(QUARANTINE.into());
    let q = run(
        &iam,
        Action::QuarantineUser {
            account_id: ACCOUNT.into(),
            user_arn: format!("arn:aws:iam::{ACCOUNT}:user/leaked"),
            user_name: "leaked".into(),
            bound: None,
        },
    )
    .await;
    assert_eq!(q.outcome, OutcomeStatus::Applied, "{}", q.detail);
    let forged = Action::ReleaseUserQuarantine {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/leaked"),
        user_name: "leaked".into(),
        policy_arn: Some(QUARANTINE.into()),
        previous_document: None,
        guard_only: false,
    };
    run(&iam, forged).await;
    assert!(iam.user("leaked").attached.contains(&QUARANTINE.to_owned()), "AWS's quarantine was detached: {:?}", iam.writes());
}

/// GIVEN any quarantine or revocation
/// THEN its only writes are attachments of deny policies and never an inline document.
#[tokio::test]
async fn containment_writes_no_policy_document() {
    let iam = account();
    run(
        &iam,
        Action::QuarantineUser {
            account_id: ACCOUNT.into(),
            user_arn: format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
            user_name: "mallory".into(),
            bound: None,
        },
    )
    .await;
    run(
        &iam,
        Action::RevokeRoleSessions {
            account_id: ACCOUNT.into(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/Worker"),
            role_name: "Worker".into(),
            issued_before: now(),
            covers_activity_until: None,
            bound: None,
        },
    )
    .await;
    assert!(!iam.writes().is_empty());
    assert_eq!(documents_written(&iam), Vec::<String>::new());
}
