//! `launchguard release` seals exactly the request the dispatcher checks, with the release key,
//! and reports refusals; bad ids never leave the machine.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::Mutex;

use chrono::{TimeZone, Utc};
use launchguard_aws::mac::{MemoryKms, open};
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_cli::CliError;
use launchguard_cli::release::{DEFAULT_DISPATCHER, DEFAULT_RELEASE_KEY, ReleaseArgs, release, render, succeeded};
use launchguard_core::auth::{Freshness, Purpose};
use launchguard_core::contract::{DispatcherInput, decode_payload};
use serde_json::json;

const ME: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

struct Dispatcher {
    sent: Mutex<Vec<Vec<u8>>>,
    answer: Vec<u8>,
    error: Option<String>,
}

impl Invoker for Dispatcher {
    async fn invoke_async(&self, _f: &str, _p: Vec<u8>) -> Result<(), CallError> {
        Err(CallError::new("launchguard release waits for the dispatcher's answer", false))
    }
    async fn invoke_sync(&self, _f: &str, p: Vec<u8>) -> Result<InvokeResponse, CallError> {
        self.sent.lock().unwrap().push(p);
        Ok(InvokeResponse { payload: self.answer.clone(), function_error: self.error.clone() })
    }
}

fn args(finding: &str) -> ReleaseArgs {
    ReleaseArgs {
        finding_id: Some(finding.into()),
        principal_arn: None,
        reason: "false positive: load test".into(),
        dry_run: false,
        dispatcher: DEFAULT_DISPATCHER.into(),
        key_id: DEFAULT_RELEASE_KEY.into(),
    }
}

#[tokio::test]
async fn the_release_is_sealed_with_the_release_key_and_names_the_caller() {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap();
    let kms = MemoryKms::with_keys(&[DEFAULT_RELEASE_KEY]);
    let answer = json!({"status": "released", "finding_id": "lg-1", "outcomes": [{"outcome": {"status": "applied"},
        "action": {"type": "reactivate_access_key", "user_name": "ci-deployer"}, "detail": "access key set to Active"}], "refusals": []});
    let d = Dispatcher { sent: Mutex::new(Vec::new()), answer: answer.to_string().into_bytes(), error: None };
    let got = release(&args("lg-1"), ME, &kms, &d, now).await.unwrap();
    assert!(succeeded(&got));
    assert!(render(&got).contains("APPLIED: reactivate_access_key on ci-deployer"), "{}", render(&got));
    let sent = d.sent.lock().unwrap()[0].clone();
    let sealed = open(&kms, DEFAULT_RELEASE_KEY, Purpose::Release, Freshness::commands(), &sent, now).await.unwrap();
    match DispatcherInput::parse(decode_payload(sealed.payload.as_bytes(), "t").unwrap()).unwrap() {
        DispatcherInput::Release(r) => {
            assert_eq!(r.finding_id.as_deref(), Some("lg-1"));
            assert_eq!(r.requested_by.as_deref(), Some(ME));
            assert!(!r.dry_run);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refusal_is_an_error_and_bad_ids_never_leave_the_machine() {
    let now = Utc::now();
    let kms = MemoryKms::with_keys(&[DEFAULT_RELEASE_KEY]);
    let err = json!({"errorType": "launchguard.Final", "errorMessage": "refused, nothing done: the MAC does not verify"});
    let d = Dispatcher { sent: Mutex::new(Vec::new()), answer: err.to_string().into_bytes(), error: Some("Unhandled".into()) };
    let e = release(&args("lg-1"), ME, &kms, &d, now).await.unwrap_err();
    assert!(matches!(&e, CliError::Refused(m) if m.contains("MAC does not verify")), "{e}");
    let before = d.sent.lock().unwrap().len();
    let e = release(&args("lg-1'; reboot; '"), ME, &kms, &d, now).await.unwrap_err();
    assert!(matches!(e, CliError::Usage(ref m) if m.contains("finding_id")), "{e}");
    // a key the caller may not use: KMS says no, nothing is sent
    let e = release(&ReleaseArgs { key_id: "alias/not-mine".into(), ..args("lg-1") }, ME, &kms, &d, now).await.unwrap_err();
    assert!(matches!(e, CliError::Aws { .. }), "{e}");
    assert_eq!(d.sent.lock().unwrap().len(), before);
}

/// Review of issue 22 (finding 5): the dispatcher's answer is outside text (names, AWS error
/// messages); a line break or a terminal escape in it never becomes a line or an escape of its own.
#[test]
fn the_printed_answer_escapes_every_outside_text() {
    let answer = serde_json::json!({
        "status": "partial",
        "finding_id": "lg-1",
        "outcomes": [{"outcome": {"status": "failed"}, "action": {"type": "reactivate_access_key", "user_name": "bob\u{1b}[2J"},
                      "detail": "AccessDenied\n- APPLIED: undo by hand: curl x | sh\u{2028}"}],
        "refusals": ["refused\r\n- APPLIED: fake"],
        "human_actions": ["aws iam \u{202e}hs | x lruc"]
    });
    let out = launchguard_cli::release::render(&answer);
    // GIVEN five values with line breaks and controls THEN one line each, nothing raw
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{2028}') && !out.contains('\u{202e}') && !out.contains('\r'), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("- APPLIED")), "{out}");
}
