//! Issue 14: the dispatcher writes the incident report to REPORT_BUCKET, links it from the
//! notification with a pre-signed URL, names it in the record and the ledger; a report that
//! cannot be written never blocks containment or the page, which then says why it is missing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::store::StoreOp;
use launchguard_responder_dispatcher::report::ReportState;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, IncidentRecord, handle};
use launchguard_testkit::fixture;
use serde_json::Value;
use world::{Lambda, Logs, Sns, config, iam};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

const WITH_REPORTS: &[(&str, &str)] = &[("REPORT_BUCKET", "launchguard-reports-111122223333"), ("LG_REPORT_URL_SECONDS", "3600")];

async fn dispatch(lambda: &Lambda<'_>, sns: &Sns, logs: &Logs, extra: &[(&str, &str)]) -> Result<DispatchReport, DispatcherError> {
    let finding: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    let sealed = world::sealed(lambda, &finding, now());
    handle(&sealed, &config(extra), lambda, sns, logs, &logs.ledger, &lambda.kms, &logs.reports, world::trail(), now()).await
}

fn record(logs: &Logs) -> IncidentRecord {
    serde_json::from_str(&logs.records.lock().unwrap()[0].1).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_report_is_written_linked_recorded_and_shows_every_outcome() {
    // GIVEN a dispatcher with a report bucket
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    // WHEN it contains the example finding
    let r = dispatch(&lambda, &sns, &logs, WITH_REPORTS).await.unwrap();
    // THEN the HTML and Markdown reports are in the bucket, under the finding
    let keys = logs.reports.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let html_key = keys.iter().find(|k| k.ends_with(".html")).unwrap();
    assert!(html_key.starts_with(&format!("{}/", r.finding_id)), "{html_key}");
    let html = String::from_utf8(logs.reports.object(html_key).unwrap().body).unwrap();
    // with every principal and every action and outcome the handlers answered
    for o in &r.outcomes {
        assert!(html.contains(o.action.name()), "{}", o.action.name());
        assert!(html.contains(&launchguard_report::escape::html(&o.detail)), "{}", o.detail);
    }
    for needle in ["IAM user ci-deployer", "role DataScience", "AKIAEXAMPLEDEPLOYER1", "APPLIED", "reactivate_access_key", "CONTAINED"] {
        assert!(html.contains(needle), "{needle}");
    }
    // AND the notification links it near its top with a URL that expires in LG_REPORT_URL_SECONDS
    let body = sns.messages.lock().unwrap()[0].1.clone();
    let link = format!("memory:///{html_key}?X-Amz-Expires=3600");
    let line = body.lines().position(|l| l.contains(&link)).unwrap_or_else(|| panic!("no link in:\n{body}"));
    assert!(line <= 3, "the link is in the first lines:\n{body}");
    assert!(body.contains("the link works until 2026-11-22T06:21:30Z"), "{body}");
    // AND the record and the ledger name the object, never the URL (a bearer credential)
    let object = format!("s3://launchguard-reports-111122223333/reports/{html_key}");
    let rec = record(&logs);
    assert_eq!(rec.report.as_ref().and_then(|s| s.object()), Some(object.as_str()));
    assert!(!logs.records.lock().unwrap()[0].1.contains("memory:///"));
    let entry: Value = serde_json::from_slice(&logs.ledger.object(&format!("findings/{}", r.finding_id)).unwrap().body).unwrap();
    assert_eq!(entry["reports"], serde_json::json!([object]));
}

#[tokio::test(start_paused = true)]
async fn a_report_that_cannot_be_written_blocks_nothing_and_the_page_says_why() {
    // GIVEN a report bucket that refuses every write
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    logs.reports.fail_next(StoreOp::Put, 10, false);
    // WHEN the finding is dispatched
    let r = dispatch(&lambda, &sns, &logs, WITH_REPORTS).await.unwrap();
    // THEN containment and the notification happened as without reports
    assert_eq!(r.status, "contained");
    assert_eq!(r.outcomes.len(), 3);
    let body = sns.messages.lock().unwrap()[0].1.clone();
    // and the page says the report is missing, and why
    assert!(body.contains("incident report MISSING: writing to launchguard-reports-111122223333"), "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    assert!(matches!(record(&logs).report, Some(ReportState::Missing { object: None, .. })));
    assert!(logs.reports.keys().is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_a_report_bucket_nothing_is_written_and_nothing_is_said() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&lambda, &sns, &logs, &[]).await.unwrap();
    assert_eq!(logs.reports.calls().len(), 0);
    assert!(!sns.messages.lock().unwrap()[0].1.contains("incident report"));
    assert!(record(&logs).report.is_none());
}
