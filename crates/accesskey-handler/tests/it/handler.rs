//! The access-key handler in-process against the in-memory IAM, which records every call.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{TimeZone, Utc};
use launchguard_accesskey_handler::FUNCTION;
use launchguard_aws::CallError;
use launchguard_aws::command::GateError;
use launchguard_aws::mac::MemoryKms;
use launchguard_aws::store::MemoryStore;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::testing::{self, COMMAND_KEY, refused};
use launchguard_responder::{Config, HandlerError, KeyStatus, handle};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";

/// The account: a user with two keys, a protected one, and one whose only key is inactive.
fn with_users() -> MemoryIam {
    MemoryIam::default()
        .with_user(
            "ci-deployer",
            Entity {
                keys: vec![("AKIAEXAMPLEDEPLOYER1".into(), KeyStatus::Active), ("AKIAEXAMPLEDEPLOYER2".into(), KeyStatus::Active)],
                ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/ci/ci-deployer"))
            },
        )
        .with_user(
            "breakglass-admin",
            Entity {
                keys: vec![("AKIAEXAMPLEBREAKGLAS".into(), KeyStatus::Active)],
                ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/breakglass-admin"))
            },
        )
        .with_user(
            "old",
            Entity {
                keys: vec![("AKIAEXAMPLEOLDKEY001".into(), KeyStatus::Inactive)],
                ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/old"))
            },
        )
}

fn set_key(iam: &MemoryIam, user: &str, i: usize, status: KeyStatus) {
    iam.users.lock().unwrap().get_mut(user).unwrap().keys[i].1 = status;
}

fn cfg(extra: &[(&str, &str)]) -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-accesskey-handler-role", extra)
}

fn deactivate(key: &str, user: Option<&str>) -> Value {
    let action = Action::DeactivateAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: key.into(),
        user_name: user.map(str::to_owned),
        bound: None,
    };
    serde_json::to_value(ResponseRequest::new("lg-test", action, false, Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 0).unwrap())).unwrap()
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 1).unwrap()
}

/// Seal `payload` with the command key, as the dispatcher does, and handle it with a fresh
/// replay record.
async fn run(iam: &MemoryIam, cfg: &Config, payload: &Value) -> Result<ResponseOutcome, HandlerError> {
    testing::handle_sealed(iam, cfg, &payload.to_string(), at()).await
}

#[tokio::test]
async fn deactivates_exactly_the_given_key_and_reports_the_reversal() {
    let iam = with_users();
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert_eq!(
        iam.writes(),
        vec!["UpdateAccessKey ci-deployer AKIAEXAMPLEDEPLOYER1 Inactive"],
        "one write, that key, never the other, never a delete"
    );
    assert!(o.detail.contains("other 1 key(s) untouched"));
    assert_eq!(
        o.reversal,
        Some(Action::ReactivateAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: "AKIAEXAMPLEDEPLOYER1".into(),
            user_name: Some("ci-deployer".into())
        })
    );
    assert!(o.undo.unwrap().contains("--status Active"));
    // the owner was resolved and verified before the write
    assert_eq!(iam.calls()[..3], ["GetAccessKeyLastUsed AKIAEXAMPLEDEPLOYER1", "GetUser ci-deployer", "ListAccessKeys ci-deployer"]);
}

#[tokio::test]
async fn duplicate_delivery_is_already_applied() {
    let iam = with_users();
    let first = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", Some("ci-deployer"))).await.unwrap();
    assert_eq!(first.outcome, OutcomeStatus::Applied);
    // the fake applies the write for the second delivery
    set_key(&iam, "ci-deployer", 0, KeyStatus::Inactive);
    let second = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", Some("ci-deployer"))).await.unwrap();
    assert_eq!(second.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(second.request_id, first.request_id);
    assert_eq!(iam.writes().len(), 1);
    // the reversal is carried: whether launchguard made the change is the dispatcher's ledger's call
    assert_eq!(second.reversal, first.reversal);
}

#[tokio::test]
async fn reactivation_is_the_reversal() {
    let iam = with_users();
    let action = Action::ReactivateAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: "AKIAEXAMPLEOLDKEY001".into(),
        user_name: Some("old".into()),
    };
    let req = serde_json::to_value(ResponseRequest::new("lg-test", action, false, Utc::now())).unwrap();
    let o = run(&iam, &cfg(&[]), &req).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert_eq!(iam.writes(), vec!["UpdateAccessKey old AKIAEXAMPLEOLDKEY001 Active"]);
}

#[tokio::test]
async fn dry_run_from_the_request_or_the_environment_touches_nothing() {
    let iam = with_users();
    let mut req = deactivate("AKIAEXAMPLEDEPLOYER1", None);
    req["dry_run"] = json!(true);
    let o = run(&iam, &cfg(&[]), &req).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::DryRun);
    assert!(o.detail.contains("would set access key AKIAEXAMPLEDEPLOYER1 of ci-deployer from Active to Inactive"), "{}", o.detail);
    let o = run(&iam, &cfg(&[("DRY_RUN", "true")]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::DryRun);
    assert!(iam.writes().is_empty());
    assert!(!iam.calls().iter().any(|c| c.starts_with("UpdateAccessKey")));
}

#[tokio::test]
async fn refusals_happen_before_any_iam_call() {
    let cases: Vec<(Value, &str)> = vec![
        (deactivate("ASIAEXAMPLEDATASCI01", None), "temporary STS key"),
        (deactivate("akia-not-a-key", None), "invalid access key id"),
        (deactivate("LKIAEXAMPLEDATASCI01", None), "not an IAM user access key (expected a key starting with AKIA)"),
        (deactivate("AKIAEXAMPLEDEPLOYER1", Some("bad name!")), "user_name"),
        (
            {
                let mut r = deactivate("AKIAEXAMPLEDEPLOYER1", None);
                r["action"]["account_id"] = json!("999999999999");
                r
            },
            "ALLOWED_ACCOUNTS",
        ),
        (
            {
                let mut r = deactivate("AKIAEXAMPLEDEPLOYER1", None);
                r["action"]["account_id"] = json!("12");
                r
            },
            "12 digits",
        ),
        (
            serde_json::to_value(ResponseRequest::new(
                "lg-test",
                Action::QuarantineUser {
                    account_id: ACCOUNT.into(),
                    user_arn: format!("arn:aws:iam::{ACCOUNT}:user/x"),
                    user_name: "x".into(),
                    bound: None,
                },
                false,
                Utc::now(),
            ))
            .unwrap(),
            "launchguard-iam-handler",
        ),
    ];
    for (req, expect) in cases {
        let iam = with_users();
        let o = run(&iam, &cfg(&[]), &req).await.unwrap();
        let r = refused(&o);
        assert!(r.contains(expect), "{r} should contain {expect}");
        assert!(iam.calls().is_empty(), "no IAM call for {expect}: {:?}", iam.calls());
    }
}

#[tokio::test]
async fn protected_and_unverified_owners_are_refused_without_a_write() {
    let iam = with_users();
    let r = refused(&run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEBREAKGLAS", None)).await.unwrap());
    assert!(r.contains("protected"), "{r}");
    // the key is someone else's
    let r = refused(&run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", Some("old"))).await.unwrap());
    assert!(r.contains("belongs to user ci-deployer"), "{r}");
    // unknown key
    let r = refused(&run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEUNKNOWN01", None)).await.unwrap());
    assert!(r.contains("does not exist"), "{r}");
    // a protected pattern that names the user with its path
    let c = cfg(&[("PROTECTED_PRINCIPALS", "arn:aws:iam::111122223333:user/ci/*")]);
    assert!(refused(&run(&iam, &c, &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap()).contains("protected"));
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn invalid_payloads_are_errors_with_no_call() {
    let iam = with_users();
    let mut unknown = deactivate("AKIAEXAMPLEDEPLOYER1", None);
    unknown["action"]["also_delete"] = json!(true);
    let mut version = deactivate("AKIAEXAMPLEDEPLOYER1", None);
    version["schema_version"] = json!(9);
    for p in [unknown, version, json!({}), json!("hello"), json!({"schema_version": 1, "kind": "response_request"})] {
        let e = run(&iam, &cfg(&[]), &p).await.unwrap_err();
        assert!(matches!(e, HandlerError::Gate(GateError::Invalid(_))), "{e}");
    }
    let huge = vec![b'{'; 300 * 1024];
    let kms = MemoryKms::with_keys(&[COMMAND_KEY]);
    assert!(handle(&huge, &cfg(&[]), &iam, &kms, &MemoryStore::default(), at()).await.is_err());
    assert!(iam.calls().is_empty());
}

#[tokio::test]
async fn iam_failures_are_failed_outcomes_that_say_if_retrying_helps() {
    let mut iam = with_users();
    iam.fail_on(
        "UpdateAccessKey",
        CallError {
            message: "iam:UpdateAccessKey: Rate exceeded (Throttling; HTTP 400)".into(),
            code: Some("Throttling".into()),
            retryable: true,
        },
    );
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert!(matches!(&o.outcome, OutcomeStatus::Failed { retryable: true, error } if error.contains("Throttling")), "{:?}", o.outcome);
    let mut iam = with_users();
    for read in ["GetAccessKeyLastUsed", "GetUser", "ListAccessKeys"] {
        iam.fail_on(
            read,
            CallError {
                message: format!("iam:{read}: denied (AccessDenied; HTTP 403)"),
                code: Some("AccessDenied".into()),
                retryable: false,
            },
        );
    }
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert!(matches!(o.outcome, OutcomeStatus::Failed { retryable: false, .. }));
    assert!(iam.writes().is_empty());
}

#[tokio::test]
async fn emulator_key_prefixes_are_accepted_only_when_configured() {
    let iam = with_users();
    iam.users.lock().unwrap().get_mut("old").unwrap().keys.push(("LKIAQAAAAAAAEPB6SOGM".into(), KeyStatus::Active));
    let o = run(&iam, &cfg(&[("LG_LONG_TERM_KEY_PREFIXES", "AKIA,LKIA")]), &deactivate("LKIAQAAAAAAAEPB6SOGM", None)).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert_eq!(iam.writes(), vec!["UpdateAccessKey old LKIAQAAAAAAAEPB6SOGM Inactive"]);
}

#[test]
fn configuration_errors_name_the_variable() {
    let env = |k: &str| (k == "LG_LONG_TERM_KEY_PREFIXES").then(|| "AKIA,ASIA".to_string());
    assert!(FUNCTION.config(&env, ACCOUNT, "r").unwrap_err().to_string().contains("LG_LONG_TERM_KEY_PREFIXES"));
    let env = |k: &str| (k == "ALLOWED_ACCOUNTS").then(|| "abc".to_string());
    assert!(FUNCTION.config(&env, ACCOUNT, "r").unwrap_err().to_string().contains("ALLOWED_ACCOUNTS"));
    let env = |k: &str| (k == "PROTECTED_PRINCIPALS").then(|| "admin".to_string());
    assert!(FUNCTION.config(&env, ACCOUNT, "r").unwrap_err().to_string().contains("PROTECTED_PRINCIPALS"));
}

#[tokio::test]
async fn already_applied_still_carries_the_reversal() {
    let iam = with_users();
    let first = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", Some("ci-deployer"))).await.unwrap();
    set_key(&iam, "ci-deployer", 0, KeyStatus::Inactive);
    let again = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", Some("ci-deployer"))).await.unwrap();
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(again.reversal, first.reversal);
    assert!(again.reversal.is_some());
}

/// Issue 32: a contained user's other active keys stay active (the exact-key rule), and the
/// outcome names each with its last use so that a person can decide; a key id or a service that
/// carries control characters is escaped.
#[tokio::test]
async fn names_the_users_other_active_keys_with_their_last_use() {
    use launchguard_responder::ports::LastUse;
    let used = Utc.with_ymd_and_hms(2026, 11, 22, 4, 12, 5).unwrap();
    let iam = with_users().with_last_use(
        "AKIAEXAMPLEDEPLOYER2",
        LastUse { at: used, service: Some("ec2\u{1b}[2J".into()), region: Some("eu-west-3".into()) },
    );
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert_eq!(iam.writes(), vec!["UpdateAccessKey ci-deployer AKIAEXAMPLEDEPLOYER1 Inactive"], "the other key is left as it is");
    assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
    let w = &o.warnings[0];
    assert!(w.starts_with("other active access key AKIAEXAMPLEDEPLOYER2 of ci-deployer: last used 2026-11-22T04:12:05Z by ec2"), "{w}");
    assert!(w.contains("in eu-west-3") && w.contains("left active"), "{w}");
    assert!(!w.chars().any(char::is_control), "outside text is escaped: {w:?}");
    assert!(iam.calls().contains(&"GetAccessKeyLastUsed AKIAEXAMPLEDEPLOYER2".to_owned()), "{:?}", iam.calls());
    // a key never used says so; an inactive other key is not named; a reactivation names nothing
    let iam = with_users();
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert!(o.warnings[0].contains("AKIAEXAMPLEDEPLOYER2 of ci-deployer: never used"), "{:?}", o.warnings);
    set_key(&iam, "ci-deployer", 1, KeyStatus::Inactive);
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", None)).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::AlreadyApplied);
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);
}

/// Issue 32, item 11: replay records from before each handler had its own prefix
/// (`requests/<id>.json`). A release (a reversal) executed before the upgrade and sent again after
/// it is answered from its old record, not executed again (here: the key a newer containment
/// deactivated again stays inactive); a containment never reads the old records; nor does a
/// release read one that names another handler.
#[tokio::test]
async fn records_from_before_the_split_answer_a_release_only_and_only_for_this_handler() {
    use launchguard_aws::store::ConditionalStore;
    let (kms, store) = (MemoryKms::with_keys(&[COMMAND_KEY]), MemoryStore::default());
    let send = |payload: &Value| kms.sealed(COMMAND_KEY, launchguard_core::auth::Purpose::Command, &payload.to_string(), at());
    let action = Action::ReactivateAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: "AKIAEXAMPLEDEPLOYER1".into(),
        user_name: Some("ci-deployer".into()),
    };
    let release = ResponseRequest::new("lg-test", action, false, at());
    let old = ResponseOutcome::for_request(&release, "launchguard-accesskey-handler", OutcomeStatus::Applied, "reactivated", at());
    store.put_if_absent(&format!("requests/{}.json", release.request_id), serde_json::to_vec(&old).unwrap()).await.unwrap();
    let iam = with_users();
    set_key(&iam, "ci-deployer", 0, KeyStatus::Inactive);
    let o = handle(&send(&serde_json::to_value(&release).unwrap()), &cfg(&[]), &iam, &kms, &store, at()).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert!(o.detail.contains("answered from its record"), "{}", o.detail);
    assert!(iam.writes().is_empty(), "executed again: {:?}", iam.writes());
    // the same old record naming another handler answers nothing: executed
    let (store, iam) = (MemoryStore::default(), with_users());
    set_key(&iam, "ci-deployer", 0, KeyStatus::Inactive);
    let mut other = old.clone();
    other.handler = "launchguard-ec2-handler".into();
    store.put_if_absent(&format!("requests/{}.json", release.request_id), serde_json::to_vec(&other).unwrap()).await.unwrap();
    handle(&send(&serde_json::to_value(&release).unwrap()), &cfg(&[]), &iam, &kms, &store, at()).await.unwrap();
    assert_eq!(iam.writes(), vec!["UpdateAccessKey ci-deployer AKIAEXAMPLEDEPLOYER1 Active"]);
    // a containment: an old record is never read, and the new one is under the handler's prefix
    let (store, iam) = (MemoryStore::default(), with_users());
    let contain: ResponseRequest = serde_json::from_value(deactivate("AKIAEXAMPLEDEPLOYER1", None)).unwrap();
    let mut forged = ResponseOutcome::for_request(&contain, "launchguard-accesskey-handler", OutcomeStatus::AlreadyApplied, "forged", at());
    forged.detail = "forged".into();
    store.put_if_absent(&format!("requests/{}.json", contain.request_id), serde_json::to_vec(&forged).unwrap()).await.unwrap();
    let o = handle(&send(&serde_json::to_value(&contain).unwrap()), &cfg(&[]), &iam, &kms, &store, at()).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied);
    assert!(store.object(&format!("requests/launchguard-accesskey-handler/{}.json", contain.request_id)).is_some());
}

/// Ledger identity is IAM's: a key action reports IAM's unique id of the key's owner (the ledger
/// follows it to the every-key containments of the same user under any name), the same after the
/// user is renamed; a reactivation sent as a dry run reports it too (a release asks it for an
/// entry written without one), and a refusal reports none.
#[tokio::test]
async fn a_key_action_reports_its_owners_unique_id_through_a_rename() {
    let iam = with_users();
    let uid = iam.users.lock().unwrap()["ci-deployer"].id.clone();
    let o = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER1", Some("ci-deployer"))).await.unwrap();
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(o.principal_id.as_deref(), Some(uid.as_str()));
    let probe = ResponseRequest::new("lg-probe", o.reversal.clone().unwrap(), true, at());
    let p = run(&iam, &cfg(&[]), &serde_json::to_value(&probe).unwrap()).await.unwrap();
    assert_eq!(p.outcome, OutcomeStatus::DryRun, "{}", p.detail);
    assert_eq!(p.principal_id.as_deref(), Some(uid.as_str()), "{}", p.detail);
    {
        let mut users = iam.users.lock().unwrap();
        let mut u = users.remove("ci-deployer").unwrap();
        u.arn = format!("arn:aws:iam::{ACCOUNT}:user/ci/deploy-bot");
        users.insert("deploy-bot".into(), u);
    }
    let again = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEDEPLOYER2", None)).await.unwrap();
    assert_eq!(again.outcome, OutcomeStatus::Applied, "{}", again.detail);
    assert_eq!(again.principal_id.as_deref(), Some(uid.as_str()), "{}", again.detail);
    let refused = run(&iam, &cfg(&[]), &deactivate("AKIAEXAMPLEBREAKGLAS", None)).await.unwrap();
    assert!(matches!(refused.outcome, OutcomeStatus::Refused { .. }), "{}", refused.detail);
    assert_eq!(refused.principal_id, None, "a refusal reports no identity");
}
