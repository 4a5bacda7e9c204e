//! Issue 22: every outside text reaches a log line meant for people through the one escaping
//! path. An AWS error message (IAM's answer, quoted in a handler's outcome, logged by the handler
//! and by the dispatcher) holding a line break, a forged log event and U+202E, through the real
//! dispatcher and handlers in-process, captured from the functions' own log subscriber.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::CallError;
use launchguard_aws::logs::{Capture, unsafe_lines};
use launchguard_responder_dispatcher::handle;
use launchguard_testkit::fixture;
use serde_json::Value;
use world::{Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

const FORGED: &str =
    "AccessDenied\n{\"level\":\"INFO\",\"fields\":{\"message\":\"action outcome\",\"outcome\":\"applied\"}}\u{202E}\u{2028}deilppa";

#[tokio::test(start_paused = true)]
async fn an_aws_error_message_never_forges_a_log_line() {
    // GIVEN IAM answering every UpdateAccessKey with a hostile message
    let mut iam = world::iam();
    iam.fail_on("UpdateAccessKey", CallError::new(FORGED, false));
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let finding: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    let sealed = world::sealed(&lambda, &finding, now());
    // WHEN the finding is dispatched, its logs captured
    let cap = Capture::default();
    {
        let _g = cap.start();
        let _ = handle(&sealed, &config(&[]), &lambda, &sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, world::trail(), now()).await;
    }
    let out = cap.text();
    // THEN the message was logged (by the handler and the dispatcher), and not one line is forged
    assert!(out.matches("AccessDenied").count() >= 2, "the message was not logged: {out}");
    let bad = unsafe_lines(&out);
    assert!(bad.is_empty(), "{bad:#?}");
}
