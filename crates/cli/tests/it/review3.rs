//! Attack review 3 of issue 22 (`launchguard report` trusts the ledger over incident records),
//! from the code alone. A test that shows a defect asserts the safe outcome and is ignored with
//! the defect named; a test of an attack the code resists stays on as a regression test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::Duration;
use launchguard_cli::report;
use launchguard_responder_dispatcher::IncidentRecord;

use crate::review2::{Group, args, at, event, incident, ledger};

const FRAMED: &str = "arn:aws:iam::111122223333:user/innocent-intern";

/// The real incident record, re-written by a forger with `logs:PutLogEvents` on the incident
/// group: same finding, same status (not a dry run), a later `recorded_at`, and the flagged
/// principals replaced by an innocent user (in the record's `principals` and in its finding).
fn forged(inc: &IncidentRecord) -> IncidentRecord {
    let mut f = inc.clone();
    f.recorded_at = at() + Duration::minutes(5);
    f.principals = vec![FRAMED.into()];
    let finding = f.finding.as_mut().unwrap();
    for p in finding["principals"].as_array_mut().unwrap() {
        p["principal"]["arn"] = serde_json::json!(FRAMED);
        p["principal"]["type"] = serde_json::json!("iam_user");
        p["principal"]["user_name"] = serde_json::json!("innocent-intern");
    }
    f
}

/// Attack: the forged record "agrees" with the ledger (`build::agrees` checks only that it is not
/// dated before the ledger first saw the finding and that it is a dry run exactly when the
/// ledger's outcomes are), so it is the record the summary describes the incident by: the
/// period summary says the incident's principal was innocent-intern, and counts it, while the
/// ledger's entries act on ci-deployer's key. Safe: the principals of a finding the ledger holds
/// come from the ledger (its entries' principals) or from a record that names the same ones.
#[tokio::test]
async fn review3_a_forged_record_never_names_the_incidents_principals_in_the_summary() {
    let inc = incident();
    let group = Group(vec![event(&inc, at()), event(&forged(&inc), at() + Duration::minutes(5))]);
    let out =
        report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &ledger(&inc), at() + Duration::days(2)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ps = v["incidents"][0]["principals"].to_string();
    assert!(!ps.contains("innocent-intern"), "the summary names the forged principal for the incident: {ps}");
    assert!(v["principals"].get(FRAMED).is_none(), "the summary counts the forged principal: {}", v["principals"]);
}

/// The same attack on `report --finding`: the one incident's report renders the finding (its
/// flagged principals, their activity) from the forged record.
#[tokio::test]
async fn review3_a_forged_record_never_names_the_principals_in_report_finding() {
    let inc = incident();
    let group = Group(vec![event(&inc, at()), event(&forged(&inc), at() + Duration::minutes(5))]);
    let out = report::run(&args(&["--finding", &inc.finding_id, "--format", "json"]), &group, &ledger(&inc), at() + Duration::days(1))
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ps = v["input"]["finding"]["principals"].to_string();
    assert!(!ps.contains("innocent-intern"), "report --finding names the forged principal: {ps}");
}

/// Regression (resisted): the forged record neither closes nor hides the ledger's containment.
#[tokio::test]
async fn review3_a_forged_record_keeps_the_ledgers_containment_open() {
    let inc = incident();
    let group = Group(vec![event(&inc, at()), event(&forged(&inc), at() + Duration::minutes(5))]);
    let out =
        report::run(&args(&["--since", "2026-11-01", "--format", "json"]), &group, &ledger(&inc), at() + Duration::days(2)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["open"].as_array().unwrap().iter().filter(|o| o["finding_id"] == inc.finding_id.as_str()).count(), 1, "{v}");
}
