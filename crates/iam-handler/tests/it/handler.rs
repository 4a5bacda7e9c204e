//! The IAM handler in-process against the in-memory IAM, which records every call.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::CallError;
use launchguard_aws::command::GateError;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::policy::{
    QUARANTINE_GUARD_POLICY, QUARANTINE_INLINE_POLICY, REVOKE_SESSIONS_POLICY, quarantine_guard_document, revoke_sessions_document,
    revoked_before,
};
use launchguard_iam_handler::FUNCTION;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, refused};
use launchguard_responder::{Config, HandlerError};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

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
    req(Action::QuarantineUser { account_id: ACCOUNT.into(), user_arn: arn.into(), user_name: user.into() })
}

fn revoke(role: &str, arn: &str, before: DateTime<Utc>) -> Value {
    req(Action::RevokeRoleSessions {
        account_id: ACCOUNT.into(),
        role_arn: arn.into(),
        role_name: role.into(),
        issued_before: before,
        covers_activity_until: None,
    })
}

fn revoke_covering(before: DateTime<Utc>, covers: DateTime<Utc>) -> Value {
    req(Action::RevokeRoleSessions {
        account_id: ACCOUNT.into(),
        role_arn: "arn:aws:iam::111122223333:role/DataScience".into(),
        role_name: "DataScience".into(),
        issued_before: before,
        covers_activity_until: Some(covers),
    })
}

#[tokio::test]
async fn a_revocation_that_covers_the_findings_activity_is_already_applied() {
    let iam = account();
    let first = now() - Duration::minutes(10);
    run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", first)).await;
    // the same alarm, detected again later: the attacker was last seen before the first cut-off
    let o = run(&iam, &cfg(&[]), &revoke_covering(now(), first - Duration::minutes(2))).await;
    assert_eq!(o.outcome, OutcomeStatus::AlreadyApplied, "{}", o.detail);
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(first));
    // new activity after the cut-off: moved forward
    assert_eq!(run(&iam, &cfg(&[]), &revoke_covering(now(), first + Duration::minutes(1))).await.outcome, OutcomeStatus::Applied);
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(now()));
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
    assert_eq!(after.attached, [before.attached.clone(), vec![QUARANTINE.to_string()]].concat());
    // the user's own inline policies untouched; launchguard's guard added beside them
    let mut expected = before.inline.clone();
    expected.insert(QUARANTINE_GUARD_POLICY.to_owned(), quarantine_guard_document());
    assert_eq!(after.inline, expected);
    assert_eq!(
        iam.writes(),
        vec![format!("AttachUserPolicy ci-deployer {QUARANTINE}"), format!("PutUserPolicy ci-deployer {QUARANTINE_GUARD_POLICY}")]
    );
    // duplicate delivery
    let again = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(iam.writes().len(), 2);
    // release detaches exactly that policy
    let released = run_reversal(&iam, &o).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied, "{}", released.detail);
    assert_eq!(iam.user("ci-deployer").attached, before.attached);
    assert_eq!(iam.user("ci-deployer").inline, before.inline);
}

#[tokio::test]
async fn when_the_managed_policy_cannot_be_attached_an_inline_deny_is_used() {
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
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert!(o.detail.contains("LimitExceeded"));
    let after = iam.user("ci-deployer");
    assert_eq!(after.attached, before.attached);
    assert!(after.inline.contains_key(QUARANTINE_INLINE_POLICY));
    assert!(after.inline.contains_key("legacy-inline"));
    let again = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    let released = run_reversal(&iam, &o).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied);
    assert_eq!(iam.user("ci-deployer").inline, before.inline);
    // any other attach error is a failure, not a silent fallback
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
    assert!(!iam.user("ci-deployer").inline.contains_key(QUARANTINE_INLINE_POLICY));
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
async fn revocation_moves_forward_never_back_and_is_reversible() {
    let iam = account();
    let t1 = now() - Duration::minutes(1);
    let o = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", t1)).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let role = iam.role("DataScience");
    assert_eq!(revoked_before(&role.inline[REVOKE_SESSIONS_POLICY]), Some(t1));
    assert!(role.inline.contains_key("s3-access"));
    assert_eq!(role.attached.len(), 1);
    // an older cut-off changes nothing
    let o2 = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", t1 - Duration::hours(1))).await;
    assert_eq!(o2.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(t1));
    // a newer one moves it forward
    let t2 = now();
    let o3 = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", t2)).await;
    assert_eq!(o3.outcome, OutcomeStatus::Applied);
    assert!(o3.detail.contains("moved forward"));
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(t2));
    // the newer revocation's reversal restores the older cut-off; the older one's removes the
    // policy launchguard created, and only that
    let r = run_reversal(&iam, &o3).await;
    assert_eq!(r.outcome, OutcomeStatus::Applied);
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(t1));
    assert_eq!(run_reversal(&iam, &o).await.outcome, OutcomeStatus::Applied);
    let role = iam.role("DataScience");
    assert!(!role.inline.contains_key(REVOKE_SESSIONS_POLICY));
    assert!(role.inline.contains_key("s3-access"));
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
            }),
            "ALLOWED_ACCOUNTS",
        ),
        (quarantine("alice", "arn:aws:iam::111122223333:user/bob"), "does not name user alice"),
        (quarantine("DataScience", "arn:aws:iam::111122223333:role/DataScience"), "not a user ARN"),
        (revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now() + Duration::hours(1)), "in the future"),
        (
            req(Action::DeactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: "AKIAEXAMPLEDEPLOYER1".into(), user_name: None }),
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
        "PutRolePolicy",
        CallError { message: "iam:PutRolePolicy: could not reach the endpoint".into(), code: None, retryable: true },
    );
    let o = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now())).await;
    assert!(matches!(&o.outcome, OutcomeStatus::Failed { retryable: true, error } if error.contains("PutRolePolicy")));
    assert!(o.reversal.is_none());
}

#[test]
fn bad_quarantine_policy_is_a_configuration_error() {
    let env = |k: &str| (k == "QUARANTINE_POLICY_ARN").then(|| "AdministratorAccess".to_string());
    assert!(FUNCTION.config(&env, ACCOUNT, "r").unwrap_err().to_string().contains("QUARANTINE_POLICY_ARN"));
}

// ---- issue 10: exact documents, restoring what was there, reversals that survive retries ----

const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn decoy_revocation(t: DateTime<Utc>) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": t.to_rfc3339()}}}]})
    .to_string()
}

fn set_role_inline(iam: &MemoryIam, doc: &str) {
    iam.roles.lock().unwrap().get_mut("DataScience").unwrap().inline.insert(REVOKE_SESSIONS_POLICY.into(), doc.into());
}

fn same_json(a: &str, b: &str) -> bool {
    serde_json::from_str::<Value>(a).unwrap() == serde_json::from_str::<Value>(b).unwrap()
}

#[tokio::test]
async fn a_decoy_quarantine_that_allows_everything_is_not_already_applied() {
    let iam = account();
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_INLINE_POLICY.into(), ALLOW_ALL.into());
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(iam.user("ci-deployer").attached.contains(&QUARANTINE.to_string()));
    assert!(
        o.warnings.iter().any(|w| w.contains(QUARANTINE_INLINE_POLICY) && w.contains("not written by launchguard")),
        "{:?}",
        o.warnings
    );
}

#[tokio::test]
async fn a_decoy_inline_quarantine_is_overwritten_and_restored_exactly_on_release() {
    let mut iam = account();
    iam.fail_on(
        "AttachUserPolicy",
        CallError { message: "quota (LimitExceeded; HTTP 409)".into(), code: Some("LimitExceeded".into()), retryable: false },
    );
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_INLINE_POLICY.into(), ALLOW_ALL.into());
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(same_json(&iam.user("ci-deployer").inline[QUARANTINE_INLINE_POLICY], &launchguard_core::policy::quarantine_document()));
    assert!(!o.warnings.is_empty());
    let r = run_reversal(&iam, &o).await;
    assert_eq!(r.outcome, OutcomeStatus::Applied, "{}", r.detail);
    assert_eq!(iam.user("ci-deployer").inline[QUARANTINE_INLINE_POLICY], ALLOW_ALL, "the previous document is back");
}

#[tokio::test]
async fn the_inline_quarantine_reversal_never_deletes_a_document_launchguard_did_not_write() {
    let iam = account();
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_INLINE_POLICY.into(), ALLOW_ALL.into());
    let a = Action::ReleaseUserQuarantine {
        account_id: ACCOUNT.into(),
        user_arn: "arn:aws:iam::111122223333:user/ci/ci-deployer".into(),
        user_name: "ci-deployer".into(),
        policy_arn: None,
        previous_document: None,
        guard_only: false,
    };
    let r = refused(&run(&iam, &cfg(&[]), &req(a)).await);
    assert!(r.contains("not the document launchguard wrote"), "{r}");
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn a_decoy_revocation_that_denies_one_action_is_not_already_applied() {
    let iam = account();
    let decoy = decoy_revocation(now() + Duration::minutes(4));
    set_role_inline(&iam, &decoy);
    let o = run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now())).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(same_json(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY], &revoke_sessions_document(now())));
    assert!(o.warnings.iter().any(|w| w.contains("not written by launchguard")), "{:?}", o.warnings);
    // the release puts the previous document back, as it was
    let r = run_reversal(&iam, &o).await;
    assert_eq!(r.outcome, OutcomeStatus::Applied, "{}", r.detail);
    assert_eq!(iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY], decoy);
    // an empty policy of that name is overwritten too, not trusted, not refused
    set_role_inline(&iam, r#"{"Version":"2012-10-17","Statement":[]}"#);
    assert_eq!(
        run(&iam, &cfg(&[]), &revoke("DataScience", "arn:aws:iam::111122223333:role/DataScience", now())).await.outcome,
        OutcomeStatus::Applied
    );
}

#[tokio::test]
async fn releasing_an_older_revocation_restores_the_previous_cut_off_and_never_deletes_a_newer_one() {
    let iam = account();
    let arn = "arn:aws:iam::111122223333:role/DataScience";
    let (t1, t2) = (now() - Duration::minutes(30), now());
    let o1 = run(&iam, &cfg(&[]), &revoke("DataScience", arn, t1)).await;
    let o2 = run(&iam, &cfg(&[]), &revoke("DataScience", arn, t2)).await;
    assert_eq!((o1.outcome.name(), o2.outcome.name()), ("applied", "applied"));
    // F1's reversal while F2's cut-off is in place: not what F1 wrote, so nothing is touched
    let r1 = run_reversal(&iam, &o1).await;
    assert!(refused(&r1).contains("not the document launchguard wrote"), "{}", r1.detail);
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(t2));
    // F2's reversal restores F1's cut-off, then F1's removes the policy it created
    assert_eq!(run_reversal(&iam, &o2).await.outcome, OutcomeStatus::Applied);
    assert_eq!(revoked_before(&iam.role("DataScience").inline[REVOKE_SESSIONS_POLICY]), Some(t1));
    assert_eq!(run_reversal(&iam, &o1).await.outcome, OutcomeStatus::Applied);
    assert!(!iam.role("DataScience").inline.contains_key(REVOKE_SESSIONS_POLICY));
    assert!(iam.role("DataScience").inline.contains_key("s3-access"));
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
async fn the_quarantine_denies_launchguards_keys_and_functions_and_a_look_alike_guard_is_not_enough() {
    // AWSCompromisedKeyQuarantineV3 attached by someone else, and a "guard" that denies nothing
    let iam = account();
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().attached.push(QUARANTINE.into());
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_GUARD_POLICY.into(), ALLOW_ALL.into());
    let o = run(&iam, &cfg(&[]), &quarantine("ci-deployer", "arn:aws:iam::111122223333:user/ci-deployer")).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "a look-alike guard is not containment: {}", o.detail);
    let guard: serde_json::Value = serde_json::from_str(&iam.user("ci-deployer").inline[QUARANTINE_GUARD_POLICY]).unwrap();
    let denied: Vec<String> = guard["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect::<Vec<_>>())
        .collect();
    for a in ["kms:GenerateMac", "lambda:InvokeFunction"] {
        assert!(denied.iter().any(|d| d == a), "{a} is not denied: {guard}");
    }
    // its release removes the guard only while it is launchguard's
    iam.users.lock().unwrap().get_mut("ci-deployer").unwrap().inline.insert(QUARANTINE_GUARD_POLICY.into(), ALLOW_ALL.into());
    let released = run_reversal(&iam, &o).await;
    assert_eq!(iam.user("ci-deployer").inline[QUARANTINE_GUARD_POLICY], ALLOW_ALL, "{}", released.detail);
    assert!(released.warnings.iter().any(|w| w.contains("not the document launchguard wrote")), "{:?}", released.warnings);
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
    let released = run_reversal(&iam, &o).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied, "{}", released.detail);
    let user = iam.user("ci-deployer");
    assert!(!user.inline.contains_key(QUARANTINE_GUARD_POLICY), "launchguard's guard goes");
    assert!(user.attached.contains(&QUARANTINE.to_owned()), "the policy launchguard did not attach stays: {:?}", iam.writes());
    assert!(!iam.writes().iter().any(|w| w.starts_with("DetachUserPolicy")), "{:?}", iam.writes());
}
