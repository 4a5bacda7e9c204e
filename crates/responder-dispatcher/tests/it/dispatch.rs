//! The dispatcher end to end in-process: a finding in, the real handlers acting on an in-memory
//! IAM, one notification and one incident record out; then the release.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_core::contract::{Finding, FlaggedPrincipal, OutcomeStatus};
use launchguard_core::policy::{QUARANTINE_GUARD_POLICY, REVOKE_SESSIONS_POLICY};
use launchguard_core::principal::Principal;
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, IncidentRecord, Part, handle};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Lambda, Logs, Sns, config, iam};

const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

async fn dispatch(
    payload: &Value,
    cfg: &launchguard_responder_dispatcher::Config,
    lambda: &Lambda<'_>,
    sns: &Sns,
    logs: &Logs,
) -> Result<DispatchReport, DispatcherError> {
    world::dispatch(payload, cfg, lambda, sns, logs, now()).await
}

fn statuses(r: &DispatchReport) -> Vec<(String, String)> {
    r.outcomes.iter().map(|o| (o.action.name().to_owned(), o.outcome.name().to_owned())).collect()
}

#[tokio::test(start_paused = true)]
async fn a_finding_is_contained_notified_and_recorded_once() {
    let iam = iam();
    let before = iam.user("ci-deployer");
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "contained");
    assert_eq!(
        statuses(&r),
        vec![
            ("revoke_role_sessions".into(), "applied".into()),
            ("deactivate_access_key".into(), "applied".into()),
            ("quarantine_user".into(), "applied".into())
        ]
    );
    // IAM state: the used key only, the quarantine added, nothing removed
    let u = iam.user("ci-deployer");
    assert_eq!(
        u.keys,
        vec![("AKIAEXAMPLEDEPLOYER1".to_string(), KeyStatus::Inactive), ("AKIAEXAMPLEDEPLOYER2".to_string(), KeyStatus::Active)]
    );
    let guard = launchguard_core::policy::Containment::Guard.arn("aws", ACCOUNT);
    assert_eq!(u.attached, [before.attached.clone(), vec![QUARANTINE.to_string(), guard]].concat());
    // the user's inline policies kept; launchguard writes none (issue 32)
    assert_eq!(u.inline, before.inline);
    assert!(u.has_attached(QUARANTINE_GUARD_POLICY));
    assert!(iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY));
    // one notification that a human can read
    let msgs = sns.messages.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    let (subject, body) = &msgs[0];
    assert_eq!(subject, "[launchguard] CONTAINED: 2 principal(s), 27 instances in 111122223333");
    assert!(subject.len() <= 100);
    for needle in [
        "IAM user ci-deployer",
        "role DataScience",
        "12 instances launched",
        "198.51.100.23",
        "t3.micro",
        "APPLIED    access key AKIAEXAMPLEDEPLOYER1 of ci-deployer set to Inactive",
        "EXCLUDED (AWS itself, never contained)",
        "service-linked role AWSServiceRoleForAutoScaling: 30 instances",
        "undo by hand: aws iam update-access-key",
        "launchguard release --dispatcher launchguard-dispatcher --finding lg-",
        "--- machine-readable (JSON) ---",
    ] {
        assert!(body.contains(needle), "notification lacks {needle:?}:\n{body}");
    }
    // one incident record, queryable JSON
    let recs = logs.records.lock().unwrap().clone();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, "incidents/2026/11/22");
    let rec: IncidentRecord = serde_json::from_str(&recs[0].1).unwrap();
    assert_eq!((rec.record_type.as_str(), rec.status.as_str(), rec.outcomes.len()), ("incident", "contained", 3));
    assert_eq!(rec.notification, "msg-1");
    assert_eq!(r.incident_record.as_deref(), Some("/launchguard/incidents/incidents/2026/11/22"));
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_delivery_changes_nothing_and_pages_nobody_again() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    let writes = iam.writes().len();
    let r = dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    // the ledger's outcomes: what the first delivery did, no handler invoked again
    assert_eq!(r.status, "contained");
    assert!(r.outcomes.iter().all(|o| o.outcome == OutcomeStatus::Applied), "{:?}", statuses(&r));
    assert_eq!(lambda.calls().len(), 3);
    assert_eq!(iam.writes().len(), writes);
    assert_eq!(sns.messages.lock().unwrap().len(), 1, "no second page for the same outcome");
    assert_eq!(logs.records.lock().unwrap().len(), 1, "no second incident record");
    assert_eq!(r.deliveries, 2);
}

#[tokio::test(start_paused = true)]
async fn the_release_restores_exactly_what_was_changed() {
    let iam = iam();
    let before_user = iam.user("ci-deployer");
    let before_role = iam.role("DataScience");
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let contained = dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    // a dry-run release first: nothing moves
    let mut release: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    release["finding_id"] = json!(contained.finding_id);
    release["dry_run"] = json!(true);
    let writes = iam.writes().len();
    let preview = dispatch(&release, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(preview.status, "dry_run");
    assert_eq!(iam.writes().len(), writes);
    release["dry_run"] = json!(false);
    let r = dispatch(&release, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "released");
    assert_eq!(
        statuses(&r),
        // in target order: the key (account + key id), the role, the user
        vec![
            ("reactivate_access_key".into(), "applied".into()),
            ("restore_role_sessions".into(), "applied".into()),
            ("release_user_quarantine".into(), "applied".into())
        ]
    );
    assert_eq!(iam.user("ci-deployer"), before_user);
    assert_eq!(iam.role("DataScience"), before_role);
    let recs = logs.records.lock().unwrap().clone();
    let last: IncidentRecord = serde_json::from_str(&recs.last().unwrap().1).unwrap();
    assert_eq!(last.record_type, "release");
    // the same sealed release again is a replay; a new release finds nothing left to undo
    let replay = handle(
        &world::sealed(&lambda, &release, now()),
        &config(&[]),
        &lambda,
        &sns,
        &logs,
        &logs.ledger,
        &lambda.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        now(),
    )
    .await;
    assert!(matches!(replay, Err(DispatcherError::InvalidInput(_))), "{replay:?}");
    release["reason"] = json!("released again, by someone else");
    let again = dispatch(&release, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(again.status, "nothing_to_release", "{:?}", statuses(&again));
}

#[tokio::test(start_paused = true)]
async fn a_release_by_principal_touches_only_that_principal() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    let mut release: Value = serde_json::from_str(&fixture("contract/release.by_principal.json")).unwrap();
    release["dry_run"] = json!(false);
    let r = dispatch(&release, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(
        statuses(&r),
        vec![("reactivate_access_key".into(), "applied".into()), ("release_user_quarantine".into(), "applied".into())]
    );
    assert!(iam.role("DataScience").has_attached(REVOKE_SESSIONS_POLICY), "the role stays contained");
    // unknown finding: nothing to release, nothing invoked
    let calls = lambda.calls().len();
    let r = dispatch(
        &json!({"schema_version": 1, "kind": "release", "finding_id": "lg-unknown", "principal_arn": null, "reason": null,
        "requested_by": "arn:aws:iam::111122223333:user/security-oncall", "dry_run": false}),
        &config(&[]),
        &lambda,
        &sns,
        &logs,
    )
    .await
    .unwrap();
    assert_eq!(r.status, "nothing_to_release");
    assert_eq!(lambda.calls().len(), calls);
    // a release that does not say who asks is refused
    let anonymous = json!({"schema_version": 1, "kind": "release", "finding_id": "lg-unknown", "principal_arn": null, "reason": null, "dry_run": false});
    assert!(matches!(dispatch(&anonymous, &config(&[]), &lambda, &sns, &logs).await, Err(DispatcherError::Rejected { .. })));
}

#[tokio::test(start_paused = true)]
async fn protected_principals_are_refused_loudly_without_invoking_a_handler() {
    let iam = iam();
    let extra = [("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/ci-deployer")];
    let lambda = Lambda::new(&iam, &extra, now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&finding(), &config(&extra), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "action_needed");
    assert_eq!(lambda.calls(), vec!["iam revoke_role_sessions"], "only the role was sent to a handler");
    assert!(iam.user("ci-deployer").keys.iter().all(|(_, s)| *s == KeyStatus::Active));
    assert!(r.refusals[0].contains("protected"));
    let (subject, body) = sns.messages.lock().unwrap()[0].clone();
    assert!(subject.contains("ACTION NEEDED"));
    assert!(body.contains("!!! REFUSED: launchguard did NOT act on these principals !!!"));
    assert!(body.contains("IAM user ci-deployer: arn:aws:iam::111122223333:user/ci-deployer is protected"));
}

fn with_principal(p: Principal) -> Value {
    let mut f = finding();
    let mut fp: FlaggedPrincipal = serde_json::from_value(f["principals"][1].clone()).unwrap();
    fp.principal = p;
    f["principals"] = json!([fp]);
    f
}

#[tokio::test(start_paused = true)]
async fn root_federated_identity_center_and_services_get_no_automated_change() {
    let cases = [
        (Principal::Root { arn: format!("arn:aws:iam::{ACCOUNT}:root"), account_id: ACCOUNT.into() }, "CRITICAL: the root user"),
        (
            Principal::FederatedUser {
                arn: format!("arn:aws:sts::{ACCOUNT}:federated-user/bob"),
                account_id: ACCOUNT.into(),
                issuer_arn: None,
            },
            "federated user",
        ),
        (
            Principal::FederatedUser {
                arn: format!("arn:aws:sts::{ACCOUNT}:federated-user/f0"),
                account_id: ACCOUNT.into(),
                issuer_arn: Some(format!("arn:aws:iam::{ACCOUNT}:user/bob")),
            },
            "tokens of arn:aws:iam::",
        ),
        (
            Principal::AssumedRole {
                role_arn: format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"),
                role_arn_derived: false,
                role_name: "AWSReservedSSO_Admin_0123".into(),
                account_id: ACCOUNT.into(),
                service_linked: false,
                identity_center: true,
            },
            "IAM Identity Center",
        ),
        (
            Principal::AssumedRole {
                role_arn: format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
                role_arn_derived: false,
                role_name: "AWSServiceRoleForAutoScaling".into(),
                account_id: ACCOUNT.into(),
                service_linked: true,
                identity_center: false,
            },
            "never changes it",
        ),
        (Principal::AwsService { service: "autoscaling.amazonaws.com".into() }, "never acts on AWS itself"),
    ];
    for (p, expect) in cases {
        let iam = iam();
        let lambda = Lambda::new(&iam, &[], now());
        let (sns, logs) = (Sns::default(), Logs::default());
        let r = dispatch(&with_principal(p.clone()), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        assert!(lambda.calls().is_empty(), "{p:?}");
        assert!(iam.writes().is_empty());
        assert_eq!(r.status, "action_needed");
        let body = &sns.messages.lock().unwrap()[0].1;
        assert!(body.contains(expect), "{expect}:\n{body}");
    }
}

#[tokio::test(start_paused = true)]
async fn one_handler_down_does_not_stop_the_others_and_the_error_is_retryable() {
    let iam = iam();
    let mut lambda = Lambda::new(&iam, &[], now());
    lambda.down = vec!["iam".into()];
    let (sns, logs) = (Sns::default(), Logs::default());
    let err = dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap_err();
    assert!(err.failures_of(Part::Action) == 2 && err.is_retryable(), "{err}");
    // the key was still deactivated
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
    let (subject, body) = sns.messages.lock().unwrap()[0].clone();
    assert!(subject.contains("FAILED"));
    assert!(body.contains("APPLIED    access key AKIAEXAMPLEDEPLOYER1"));
    assert!(body.contains("FAILED     quarantine_user on user ci-deployer: invoking iam: lambda:Invoke: could not reach iam (connection refused) (will be retried)"), "{body}");
    assert_eq!(logs.records.lock().unwrap().len(), 1, "recorded even though it failed");
}

#[tokio::test(start_paused = true)]
async fn a_handler_error_is_a_failed_outcome_and_a_final_error() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let e = dispatch(&finding(), &config(&[("IAM_HANDLER_LAMBDA_NAME", "broken")]), &lambda, &sns, &logs).await.unwrap_err();
    assert!(e.failures_of(Part::Action) == 2 && !e.is_retryable(), "{e}");
    assert!(e.to_string().contains("Panic: boom"));
    let rec: IncidentRecord = serde_json::from_str(&logs.records.lock().unwrap()[0].1).unwrap();
    assert_eq!(rec.status, "failed");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive, "the access key handler still acted");
}

#[tokio::test(start_paused = true)]
async fn dry_run_changes_nothing_and_says_so() {
    for (extra, mut f) in [
        (vec![("DRY_RUN", "true")], finding()),
        (vec![], {
            let mut f = finding();
            f["dry_run"] = json!(true);
            f
        }),
    ] {
        let iam = iam();
        let lambda = Lambda::new(&iam, &[], now());
        let (sns, logs) = (Sns::default(), Logs::default());
        f["finding_id"] = json!("lg-dry");
        let r = dispatch(&f, &config(&extra), &lambda, &sns, &logs).await.unwrap();
        assert_eq!(r.status, "dry_run");
        assert!(r.outcomes.iter().all(|o| o.outcome == OutcomeStatus::DryRun));
        assert!(iam.writes().is_empty());
        let (subject, body) = sns.messages.lock().unwrap()[0].clone();
        assert!(subject.contains("DRY RUN") && body.contains("DRY RUN: nothing was changed"));
    }
}

#[tokio::test(start_paused = true)]
async fn bad_findings_are_rejected_with_no_call() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut other = finding();
    other["account_id"] = json!("999999999999");
    let mut empty = finding();
    empty["principals"] = json!([]);
    let mut version = finding();
    version["schema_version"] = json!(7);
    let mut unknown = finding();
    unknown["principals"][0]["principal"]["admin"] = json!(true);
    for (f, retryable_expected) in [(other, false), (empty, false), (version, false), (unknown, false), (json!("x"), false)] {
        let e = dispatch(&f, &config(&[]), &lambda, &sns, &logs).await.unwrap_err();
        assert_eq!(e.is_retryable(), retryable_expected, "{e}");
    }
    assert!(lambda.calls().is_empty());
    assert!(sns.messages.lock().unwrap().is_empty());
    // another account is fine when allowed (the handlers still check their own ALLOWED_ACCOUNTS)
    let mut other = finding();
    other["account_id"] = json!("999999999999");
    assert!(dispatch(&other, &config(&[("ALLOWED_ACCOUNTS", "999999999999")]), &lambda, &sns, &logs).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn handlers_run_concurrently_within_the_bound() {
    let iam = iam();
    // ten users with two keys each: 30 actions
    let mut f = finding();
    let template: FlaggedPrincipal = serde_json::from_value(f["principals"][1].clone()).unwrap();
    let mut principals = Vec::new();
    for i in 0..10 {
        let name = format!("user{i}");
        let keys = vec![(format!("AKIAEXAMPLEUSER{i:04}A"), KeyStatus::Active), (format!("AKIAEXAMPLEUSER{i:04}B"), KeyStatus::Active)];
        iam.users.lock().unwrap().insert(
            name.clone(),
            world::Entity { arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"), keys: keys.clone(), ..Default::default() },
        );
        let mut p = template.clone();
        p.principal = Principal::IamUser {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            arn_derived: false,
            user_name: name,
            account_id: ACCOUNT.into(),
        };
        p.activity.access_keys = keys
            .iter()
            .map(|(k, _)| launchguard_core::aggregate::AccessKeyUse {
                access_key_id: k.clone(),
                kind: launchguard_core::principal::KeyKind::LongTerm,
                calls: 1,
                launched: 5,
            })
            .collect();
        principals.push(p);
    }
    f["principals"] = serde_json::to_value(&principals).unwrap();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&f, &config(&[("LG_MAX_CONCURRENCY", "4")]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.outcomes.len(), 30);
    assert!(r.outcomes.iter().all(|o| o.outcome == OutcomeStatus::Applied));
    let max = lambda.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=4).contains(&max), "max in flight {max}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_publish_still_records_and_is_reported() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns { fails: true, ..Sns::default() }, Logs::default());
    let e = dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap_err();
    assert_eq!(e.failures_of(Part::Notify), 1, "{e}");
    let rec: IncidentRecord = serde_json::from_str(&logs.records.lock().unwrap()[0].1).unwrap();
    assert!(rec.notification.starts_with("not published"));
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
}

#[test]
fn the_example_finding_is_the_one_used_here() {
    let f = Finding::parse(finding()).unwrap();
    assert_eq!(f.account_id, ACCOUNT);
}

/// Issue 11, case 4: the alarm fired and nobody is over the threshold: no action, a person is
/// told who launched most and that nothing was changed, and it is recorded.
#[tokio::test(start_paused = true)]
async fn a_nobody_over_threshold_finding_tells_a_person_and_changes_nothing() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = finding();
    let top = f["principals"].clone();
    f["principals"] = json!([]);
    f["verdict"] = json!("nobody_over_threshold");
    f["top_launchers"] = top;
    let r = dispatch(&f, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "nobody_over_threshold");
    assert!(r.outcomes.is_empty());
    assert!(lambda.calls().is_empty(), "no handler invoked");
    let text = {
        let msgs = sns.messages.lock().unwrap();
        assert_eq!(msgs.len(), 1);
        format!("{msgs:?}")
    };
    assert!(text.contains("NOBODY OVER THRESHOLD") && text.contains("NOTHING WAS CHANGED") && text.contains("TOP LAUNCHERS"), "{text}");
    assert!(text.contains("ci-deployer"), "the top launchers are named: {text}");
    assert!(r.incident_record.is_some());
    // a nobody finding that names principals to contain is refused
    let mut bad = finding();
    bad["verdict"] = json!("nobody_over_threshold");
    assert!(dispatch(&bad, &config(&[]), &lambda, &sns, &logs).await.is_err());
}

/// Issue 32: only the key that was used is deactivated; the page names the user's other active
/// key with its last use (from the accesskey-handler, which resolved the user through IAM), so
/// that a person can decide.
#[tokio::test]
async fn the_page_names_the_users_other_active_key_with_its_last_use() {
    let used = DateTime::parse_from_rfc3339("2026-11-21T23:04:00Z").unwrap().with_timezone(&Utc);
    let last = launchguard_responder::ports::LastUse { at: used, service: Some("s3".into()), region: Some("us-west-2".into()) };
    let iam = iam().with_last_use("AKIAEXAMPLEDEPLOYER2", last);
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&finding(), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "contained");
    let keys = iam.user("ci-deployer").keys;
    assert_eq!(keys[0], ("AKIAEXAMPLEDEPLOYER1".to_owned(), KeyStatus::Inactive));
    assert_eq!(keys[1], ("AKIAEXAMPLEDEPLOYER2".to_owned(), KeyStatus::Active), "the other key stays active");
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(
        page.contains("other active access key AKIAEXAMPLEDEPLOYER2 of ci-deployer: last used 2026-11-21T23:04:00Z by s3 in us-west-2"),
        "{page}"
    );
}
