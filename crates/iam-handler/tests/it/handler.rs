//! The IAM handler in-process against the in-memory IAM, which records every call.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::CallError;
use launchguard_aws::command::GateError;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::policy::{Containment, QUARANTINE_GUARD_POLICY, QUARANTINE_INLINE_POLICY, REVOKE_SESSIONS_POLICY};
use launchguard_iam_handler::FUNCTION;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, refused};
use launchguard_responder::{Config, HandlerError};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// The stack's containment policy `c` in the test account.
fn ours(c: Containment) -> String {
    c.arn("aws", ACCOUNT)
}

/// The account: a user with two managed and one inline policy, a protected user, a role with a
/// managed and an inline policy, and a service-linked role.
fn account() -> MemoryIam {
    let entity = |arn: &str, attached: &[&str], inline: &[&str]| Entity {
        arn: arn.into(),
        attached: attached.iter().map(|s| (*s).to_owned()).collect(),
        inline: inline.iter().map(|n| ((*n).to_owned(), "{}".to_owned())).collect(),
        ..Entity::default()
    };
    MemoryIam::default()
        .with_user(
            "ci-deployer",
            entity(
                &format!("arn:aws:iam::{ACCOUNT}:user/ci/ci-deployer"),
                &["arn:aws:iam::aws:policy/AmazonEC2FullAccess", "arn:aws:iam::111122223333:policy/deploy"],
                &["legacy-inline"],
            ),
        )
        .with_user(
            "breakglass-admin",
            entity(&format!("arn:aws:iam::{ACCOUNT}:user/breakglass-admin"), &["arn:aws:iam::aws:policy/AdministratorAccess"], &[]),
        )
        .with_role(
            "DataScience",
            entity(
                &format!("arn:aws:iam::{ACCOUNT}:role/DataScience"),
                &["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"],
                &["s3-access"],
            ),
        )
        .with_role(
            "AWSServiceRoleForAutoScaling",
            entity(
                &format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
                &[],
                &[],
            ),
        )
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 0).unwrap()
}

fn cfg(extra: &[(&str, &str)]) -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-iam-handler-role", extra)
}

fn req(action: Action) -> Value {
    serde_json::to_value(ResponseRequest::new("lg-test", action, false, now())).unwrap()
}

fn quarantine(user: &str, arn: &str) -> Value {
    req(Action::QuarantineUser { account_id: ACCOUNT.into(), user_arn: arn.into(), user_name: user.into(), bound: None })
}

fn revoke(role: &str, arn: &str, before: DateTime<Utc>) -> Value {
    req(Action::RevokeRoleSessions {
        account_id: ACCOUNT.into(),
        role_arn: arn.into(),
        role_name: role.into(),
        issued_before: before,
        covers_activity_until: None,
        bound: None,
    })
}

fn revoke_covering(before: DateTime<Utc>, covers: DateTime<Utc>) -> Value {
    req(Action::RevokeRoleSessions {
        account_id: ACCOUNT.into(),
        role_arn: "arn:aws:iam::111122223333:role/DataScience".into(),
        role_name: "DataScience".into(),
        issued_before: before,
        covers_activity_until: Some(covers),
        bound: None,
    })
}

#[tokio::test]
async fn a_second_revocation_is_already_applied() {
    let iam = account();
    let first = now() - Duration::minutes(10);
    run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", first)).await;
    // the same alarm, detected again later, or new activity: every session is denied already
    for covers in [first - Duration::minutes(2), first + Duration::minutes(1)] {
        let o = run(&iam, &cfg(&[]), &revoke_covering(now(), covers)).await;
        assert_eq!(o.outcome, OutcomeStatus::AlreadyApplied, "{}", o.detail);
    }
    assert_eq!(iam.role("DataScience").attached.iter().filter(|a| **a == ours(Containment::RoleSessions)).count(), 1);
    assert_eq!(iam.writes().len(), 1);
}

/// Seal `p` with the command key, as the dispatcher does, and handle it with a fresh replay record.
async fn handle_sealed(iam: &MemoryIam, cfg: &Config, p: &Value) -> Result<ResponseOutcome, HandlerError> {
    testing::handle_sealed(iam, cfg, &p.to_string(), now()).await
}

async fn run(iam: &MemoryIam, cfg: &Config, p: &Value) -> ResponseOutcome {
    handle_sealed(iam, cfg, p).await.expect("valid request")
}

async fn run_reversal(iam: &MemoryIam, o: &ResponseOutcome) -> ResponseOutcome {
    run(iam, &cfg(&[]), &req(o.reversal.clone().expect("a reversal"))).await
}

#[tokio::test]
async fn quarantine_attaches_the_deny_policy_and_keeps_everything_else() {
    let iam = account();
    let before = iam.user("ci-deployer");
    // the detector's ARN may lack the path: the real one is resolved
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let after = iam.user("ci-deployer");
    let guard = ours(Containment::Guard);
    assert_eq!(after.attached, [before.attached.clone(), vec![QUARANTINE.to_string(), guard.clone()]].concat());
    // the user's own inline policies untouched, and none written
    assert_eq!(after.inline, before.inline);
    assert_eq!(iam.writes(), vec![format!("AttachUserPolicy ci-deployer {QUARANTINE}"), format!("AttachUserPolicy ci-deployer {guard}")]);
    // duplicate delivery
    let again = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(iam.writes().len(), 2);
    // release detaches exactly those two
    let released = run_reversal(&iam, &o).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied, "{}", released.detail);
    assert_eq!(iam.user("ci-deployer").attached, before.attached);
    assert_eq!(iam.user("ci-deployer").inline, before.inline);
}

#[tokio::test]
async fn when_the_quarantine_policy_does_not_exist_the_stacks_deny_all_is_attached() {
    let iam = account().without_policy(QUARANTINE);
    let before = iam.user("ci-deployer");
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(o.detail.contains("NoSuchEntity"), "{}", o.detail);
    let after = iam.user("ci-deployer");
    assert_eq!(after.attached, [before.attached.clone(), vec![ours(Containment::DenyAll)]].concat());
    assert_eq!(after.inline, before.inline, "no inline document, ever");
    let again = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    let released = run_reversal(&iam, &o).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied, "{}", released.detail);
    assert_eq!(iam.user("ci-deployer").attached, before.attached);
}

/// GIVEN a user at IAM's limit of managed policies
/// WHEN launchguard quarantines it
/// THEN the outcome fails, saying so: no inline document is written instead (issue 32)
#[tokio::test]
async fn at_the_managed_policy_limit_the_quarantine_fails_and_writes_no_document() {
    let mut iam = account();
    iam.fail_on(
        "AttachUserPolicy",
        CallError {
            message: "iam:AttachUserPolicy: Cannot exceed quota for PoliciesPerUser: 10 (LimitExceeded; HTTP 409)".into(),
            code: Some("LimitExceeded".into()),
            retryable: false,
        },
    );
    let before = iam.user("ci-deployer");
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")).await;
    assert!(matches!(&o.outcome, OutcomeStatus::Failed { retryable: false, error } if error.contains("LimitExceeded")), "{:?}", o.outcome);
    assert_eq!(iam.user("ci-deployer"), before);
    assert!(iam.writes().is_empty());
    // any other attach error is a failure too
    let mut iam = account();
    iam.fail_on(
        "AttachUserPolicy",
        CallError {
            message: "iam:AttachUserPolicy: slow down (Throttling; HTTP 400)".into(),
            code: Some("Throttling".into()),
            retryable: true,
        },
    );
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert!(matches!(o.outcome, OutcomeStatus::Failed { retryable: true, .. }));
}

#[tokio::test]
async fn release_never_detaches_a_policy_launchguard_did_not_attach() {
    let iam = account();
    let a = Action::ReleaseUserQuarantine {
        account_id: ACCOUNT.into(),
        user_arn: "arn:aws:iam::111122223333:user/ci/ci-deployer".into(),
        user_name: "ci-deployer".into(),
        policy_arn: Some("arn:aws:iam::aws:policy/AmazonEC2FullAccess".into()),
        previous_document: None,
        guard_only: false,
    };
    assert!(refused(&run(&iam, &cfg(&[]), &req(a)).await).contains("only detaches what it attached"));
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn revocation_attaches_the_stacks_deny_policy_and_is_reversible() {
    let iam = account();
    let before = iam.role("DataScience");
    let o = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now() - Duration::minutes(1))).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let role = iam.role("DataScience");
    assert_eq!(role.attached, [before.attached.clone(), vec![ours(Containment::RoleSessions)]].concat());
    assert_eq!(role.inline, before.inline);
    assert_eq!(iam.writes(), vec![format!("AttachRolePolicy DataScience {}", ours(Containment::RoleSessions))]);
    let r = run_reversal(&iam, &o).await;
    assert_eq!(r.outcome, OutcomeStatus::Applied, "{}", r.detail);
    assert_eq!(iam.role("DataScience"), before);
    // a second release finds nothing to undo
    assert_eq!(run_reversal(&iam, &o).await.outcome, OutcomeStatus::AlreadyApplied);
}

#[tokio::test]
async fn dry_run_reports_and_writes_nothing() {
    let iam = account();
    let c = cfg(&[("DRY_RUN", "true")]);
    let o = run(&iam, &c, &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::DryRun);
    assert!(o.detail.contains("would attach"));
    let mut r = revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now());
    r["dry_run"] = json!(true);
    let o = run(&iam, &cfg(&[]), &r).await;
    assert_eq!(o.outcome, OutcomeStatus::DryRun);
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn every_protection_refuses_before_any_iam_call() {
    let cases: Vec<(Value, &str)> = vec![
        (quarantine("breakglass-admin", "arn:aws:iam::111122223333:user/breakglass-admin"), "protected"),
        (revoke("launchguard-iam-handler-role", "arn:aws:iam::111122223333:role/launchguard-iam-handler-role", now()), "protected"),
        (
            revoke(
                "AWSServiceRoleForAutoScaling",
                "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
                now(),
            ),
            "service-linked",
        ),
        (quarantine("root", "arn:aws:iam::111122223333:root"), "invalid IAM ARN"),
        (quarantine("ci-deployer", "arn:aws:iam::999999999999:user/ci-deployer"), "does not name user"),
        (
            req(Action::QuarantineUser {
                account_id: "999999999999".into(),
                user_arn: "arn:aws:iam::999999999999:user/x".into(),
                user_name: "x".into(),
                bound: None,
            }),
            "ALLOWED_ACCOUNTS",
        ),
        (quarantine("alice", "arn:aws:iam::111122223333:user/bob"), "does not name user alice"),
        (quarantine("DataScience", "arn:aws:iam::111122223333:role/DataScience"), "not a user ARN"),
        (revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now() + Duration::hours(1)), "in the future"),
        (
            req(Action::DeactivateAccessKey {
                account_id: ACCOUNT.into(),
                access_key_id: "AKIAEXAMPLEDEPLOYER1".into(),
                user_name: None,
                bound: None,
            }),
            "launchguard-accesskey-handler",
        ),
    ];
    for (p, expect) in cases {
        let iam = account();
        let r = refused(&run(&iam, &cfg(&[]), &p).await);
        assert!(r.contains(expect), "{r:?} should contain {expect:?}");
        assert!(iam.calls().is_empty(), "no IAM call for {expect}: {:?}", iam.calls());
    }
    // resolved ARNs are checked too: a path that makes the user protected
    let iam = account();
    let r = refused(
        &run(
            &iam,
            &cfg(&[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/ci/*")]),
            &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer"),
        )
        .await,
    );
    assert!(r.contains("protected"));
    assert!(iam.writes().is_empty());
    // a user that does not exist
    let r = refused(&run(&iam, &cfg(&[]), &quarantine("ghost", "arn:aws:iam::111122223333:user/ghost")).await);
    assert!(r.contains("does not exist"));
}

#[tokio::test]
async fn invalid_payloads_are_errors_with_no_call() {
    let iam = account();
    let mut p = quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer");
    p["action"]["detach_everything"] = json!(true);
    for p in [p, json!({"schema_version": 1}), json!(null)] {
        let e = handle_sealed(&iam, &cfg(&[]), &p).await.unwrap_err();
        assert!(matches!(e, HandlerError::Gate(GateError::Invalid(_))), "{e}");
    }
    assert!(iam.calls().is_empty());
}

#[tokio::test]
async fn a_failed_write_is_reported_with_retryability() {
    let mut iam = account();
    iam.fail_on(
        "AttachRolePolicy",
        CallError { message: "iam:AttachRolePolicy: could not reach the endpoint".into(), code: None, retryable: true },
    );
    let o = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now())).await;
    assert!(matches!(&o.outcome, OutcomeStatus::Failed { retryable: true, error } if error.contains("AttachRolePolicy")));
    assert!(o.reversal.is_none());
}

#[test]
fn bad_quarantine_policy_is_a_configuration_error() {
    let env = |k: &str| (k == "QUARANTINE_POLICY_ARN").then(|| "AdministratorAccess".to_string());
    assert!(FUNCTION.config(&env, ACCOUNT, "r").unwrap_err().to_string().contains("QUARANTINE_POLICY_ARN"));
}

// ---- issue 10, then issue 32: policies of launchguard's names are not launchguard's ----

const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// GIVEN inline policies named like launchguard's (an allow-all `launchguard-quarantine`, a narrow
/// `launchguard-revoke-sessions`)
/// WHEN launchguard contains and releases
/// THEN they are neither containment nor touched: launchguard attaches the stack's policies, and
/// its releases detach those only
#[tokio::test]
async fn look_alike_inline_policies_are_not_containment_and_are_never_touched() {
    let iam = account();
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_INLINE_POLICY.into(), ALLOW_ALL.into());
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_GUARD_POLICY.into(), ALLOW_ALL.into());
    iam.roles.lock().unwrap().get_mut("DataScience").unwrap().inline.insert(REVOKE_SESSIONS_POLICY.into(), ALLOW_ALL.into());
    let (user, role) = (iam.user("ci-deployer"), iam.role("DataScience"));
    let q = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    let r = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now())).await;
    assert_eq!((q.outcome.name(), r.outcome.name()), ("applied", "applied"), "{} / {}", q.detail, r.detail);
    assert!(iam.user("ci-deployer").has_attached(QUARANTINE_GUARD_POLICY));
    assert!(iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY));
    run_reversal(&iam, &q).await;
    run_reversal(&iam, &r).await;
    assert_eq!((iam.user("ci-deployer"), iam.role("DataScience")), (user, role));
}

#[tokio::test]
async fn already_applied_still_carries_the_reversal() {
    let iam = account();
    let q = quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer");
    let first = run(&iam, &cfg(&[]), &q).await;
    let again = run(&iam, &cfg(&[]), &q).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(again.reversal, first.reversal);
    let r = revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now());
    let first = run(&iam, &cfg(&[]), &r).await;
    let again = run(&iam, &cfg(&[]), &r).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    assert!(again.reversal.is_some(), "a retried dispatch must still learn how to undo it");
    assert!(first.reversal.is_some());
}

#[tokio::test]
async fn the_quarantine_guard_is_the_stacks_deny_only_policy() {
    // what the handler attaches is a policy of the stack (policies/containment/), deny only
    let guard: Value = serde_json::from_str(include_str!("../../../../policies/containment/launchguard-quarantine-guard.json")).unwrap();
    let denied: Vec<&str> = guard["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|s| assert_eq!(s["Effect"], "Deny", "{s}"))
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()))
        .collect();
    for a in ["kms:*", "lambda:*", "sts:*", "iam:*", "autoscaling:*", "ec2:CreateFleet", "ec2:RequestSpot*", "ec2:*LaunchTemplate*"] {
        assert!(denied.contains(&a), "{a} is not denied: {guard}");
    }
    assert_eq!(ours(Containment::Guard), "arn:aws:iam::111122223333:policy/launchguard/launchguard-quarantine-guard");
}

/// GIVEN AWSCompromisedKeyQuarantineV3 attached by someone else (a person, AWS's leaked-key response)
/// WHEN launchguard quarantines the user, then runs the reversal
/// THEN the quarantine is `applied` for launchguard's guard only, and the reversal removes the
/// guard and leaves the policy attached.
#[tokio::test]
async fn a_quarantine_policy_someone_else_attached_is_never_detached_by_the_reversal() {
    let iam = account();
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().attached.push(QUARANTINE.into());
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(matches!(o.reversal, Some(Action::ReleaseUserQuarantine { guard_only: true, .. })), "{:?}", o.reversal);
    assert!(iam.user("ci-deployer").attached.contains(&ours(Containment::GuardBeside)), "the second guard marks it");
    let released = run_reversal(&iam, &o).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied, "{}", released.detail);
    let user = iam.user("ci-deployer");
    assert!(!user.has_attached(Containment::GuardBeside.name()), "launchguard's guard goes");
    assert!(user.attached.contains(&QUARANTINE.to_owned()), "the policy launchguard did not attach stays: {:?}", iam.writes());
    assert_eq!(iam.writes().iter().filter(|w| w.contains(QUARANTINE)).count(), 0, "{:?}", iam.writes());
}

/// Ledger identity is IAM's: a quarantine and a revocation report IAM's unique id of the user or
/// role (`UserId`, `RoleId`), the same after the user is renamed (the dispatcher files both
/// findings' containments under it); a reversal, and a refusal, report none.
#[tokio::test]
async fn a_containment_reports_the_principals_unique_id_through_a_rename() {
    let iam = account();
    let uid = iam.users.lock().unwrap()["ci-deployer"].id.clone();
    let rid = iam.roles.lock().unwrap()["DataScience"].id.clone();
    assert!(uid.starts_with("AIDA") && rid.starts_with("AROA"), "{uid} {rid}");
    let q = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")).await;
    assert_eq!(q.outcome, OutcomeStatus::Applied, "{}", q.detail);
    assert_eq!(q.principal_id.as_deref(), Some(uid.as_str()));
    let r = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now())).await;
    assert_eq!(r.principal_id.as_deref(), Some(rid.as_str()));
    assert_eq!(run_reversal(&iam, &q).await.principal_id, None, "a reversal is filed under the entry it reverses");
    // renamed: the same user, the same id
    {
        let mut users = iam.users.lock().unwrap();
        let mut u = users.remove("ci-deployer").unwrap();
        u.arn = format!("arn:aws:iam::{ACCOUNT}:user/ci/deploy-bot");
        users.insert("deploy-bot".into(), u);
    }
    let again = run(&iam, &cfg(&[]), &quarantine("deploy-bot", "arn:aws:iam::111122223333:user/ci/deploy-bot")).await;
    assert!(matches!(again.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied), "{}", again.detail);
    assert_eq!(again.principal_id.as_deref(), Some(uid.as_str()));
    let ghost = run(&iam, &cfg(&[]), &quarantine("ghost", "arn:aws:iam::111122223333:user/ghost")).await;
    assert_eq!(ghost.principal_id, None, "a refusal reports no identity");
}

/// A reversal sent as a dry run reports IAM's unique id of whoever holds the name it names now
/// (a release asks it before undoing an entry written without an id): after the name is given to
/// another user, that user's id, never the contained one's.
#[tokio::test]
async fn a_dry_run_reversal_reports_the_current_holder_of_its_name() {
    let iam = account();
    let uid = iam.users.lock().unwrap()["ci-deployer"].id.clone();
    let q = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")).await;
    assert_eq!(q.outcome, OutcomeStatus::Applied, "{}", q.detail);
    let probe = |rev: Action| serde_json::to_value(ResponseRequest::new("lg-probe", rev, true, now())).unwrap();
    let p = run(&iam, &cfg(&[]), &probe(q.reversal.clone().unwrap())).await;
    assert_eq!(p.outcome, OutcomeStatus::DryRun, "{}", p.detail);
    assert_eq!(p.principal_id.as_deref(), Some(uid.as_str()));
    {
        let mut users = iam.users.lock().unwrap();
        let mut old = users.remove("ci-deployer").unwrap();
        old.arn = format!("arn:aws:iam::{ACCOUNT}:user/ci/ci-deployer-old");
        users.insert("ci-deployer-old".into(), old);
        let new = Entity { id: "AIDANEWCIDEPLOYER001".into(), ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/ci/ci-deployer")) };
        users.insert("ci-deployer".into(), new);
    }
    let p = run(&iam, &cfg(&[]), &probe(q.reversal.clone().unwrap())).await;
    assert!(matches!(p.outcome, OutcomeStatus::DryRun | OutcomeStatus::AlreadyApplied), "{}", p.detail);
    assert_eq!(p.principal_id.as_deref(), Some("AIDANEWCIDEPLOYER001"), "{}", p.detail);
}
