//! Issue 23: a caller paced so that only a rule's longest horizon catches it. Nobody is
//! contained before CloudTrail confirms the finding's evidence, and the evidence must hold every
//! record the horizon needs: a drip of one IAM call at a time needs as many records as the
//! horizon's threshold. Capped below it, the drip is flagged and then always notify-only: pacing
//! to a day would dodge containment. Where a crossing needs more records than a finding can name
//! (a horizon of instances crossed one instance a call), the confirmation says so plainly.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::CoreError;
use launchguard_core::burst::Tracker;
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::evidence::{Answer, Confirmation, MAX_EVIDENCE, confirm};
use launchguard_core::rules::RuleSet;
use launchguard_core::scan::Scanner;
use launchguard_core::windows::Measure;
use launchguard_testkit::fixtures_dir;
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("windows").join(name)).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["Records"].as_array().unwrap().clone()
}

/// The bundled rule `rule_id` judging `records` as the detector does (its reads go through a
/// `Scanner` into a `Tracker`, judged by every horizon): who it flags.
fn flagged(rule_id: &str, records: &[Value]) -> Vec<FlaggedPrincipal> {
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(rule_id).unwrap();
    let mut scan = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    for r in records {
        scan.push_message(&r.to_string());
    }
    let t = rule.thresholds(false);
    scan.aggregate.assess(&rule.horizons_with(&t), &t).flagged
}

/// CloudTrail's event history holding every one of `records`: its answer to each evidence event.
fn answers(f: &FlaggedPrincipal, records: &[Value]) -> Vec<Answer> {
    f.evidence
        .as_ref()
        .unwrap()
        .events
        .iter()
        .map(|e| Answer {
            event_id: e.event_id.clone(),
            record: records.iter().find(|r| r["eventID"] == e.event_id.as_str()).map(Value::to_string),
        })
        .collect()
}

#[test]
fn a_launch_drip_whose_crossing_needs_more_records_than_a_finding_names_says_so() {
    // GIVEN one instance every 515 s for 25 hours (7 an hour: never 10 in 5 minutes nor 40 in an
    // hour; the 150th within 24 hours comes at 21:18:55)
    let records = fixture("drip-7-an-hour-25h.json");
    let f = flagged("ec2-mass-launch", &records);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].principal.label(), "IAM user drip-launcher");
    let c = f[0].crossed.unwrap();
    assert_eq!((c.window_seconds, c.threshold, c.count, c.at.to_rfc3339()), (86_400, 150, 150, "2026-03-02T21:18:55+00:00".into()));
    // THEN its evidence is the most a finding names, which cannot cross 150 by itself: nothing
    // is worth looking up, and the reason says so (not "may be forged")
    let ev = f[0].evidence.as_ref().unwrap();
    assert_eq!((ev.horizon.window_seconds, ev.events.len()), (86_400, MAX_EVIDENCE));
    match confirm(&f[0].principal, Some(ev), &answers(&f[0], &records)) {
        Confirmation::Unconfirmed { why, .. } => assert!(why.contains("needs more records than a finding"), "{why}"),
        Confirmation::Confirmed => panic!("80 one-instance records cannot cross 150 instances"),
    }
}

#[test]
fn a_slow_drip_of_iam_users_is_confirmed_by_cloudtrail() {
    // GIVEN 3 CreateUser calls every 20 minutes for 12 hours: only the 24-hour horizon (50) catches it
    let records = fixture("iam-users-3-every-20min-12h.json");
    let f = flagged("iam-user-burst", &records);
    assert_eq!(f.len(), 1, "{:?}", f.iter().map(|p| p.principal.label()).collect::<Vec<_>>());
    let ev = f[0].evidence.as_ref().unwrap();
    assert_eq!((ev.horizon.window_seconds, ev.horizon.threshold, ev.events.len()), (86_400, 50, 50));
    assert_eq!(confirm(&f[0].principal, Some(ev), &answers(&f[0], &records)), Confirmation::Confirmed);
}

#[test]
fn every_bundled_horizon_of_calls_can_be_confirmed() {
    // GIVEN the bundled rules: every horizon counting calls (one call a record) fits in the
    // evidence a finding names, and the evidence of a drip crossing it can cross it
    for rule in RuleSet::bundled().unwrap().rules {
        for h in rule.horizons.iter().filter(|h| h.measure == Measure::Calls) {
            assert!(
                usize::try_from(h.threshold).unwrap() <= MAX_EVIDENCE,
                "{}: {} needs more records than MAX_EVIDENCE",
                rule.id,
                h.describe()
            );
        }
    }
}

#[test]
fn a_rule_whose_calls_could_never_all_be_confirmed_is_refused() {
    // GIVEN a rule counting calls with a horizon above what a finding's evidence can hold, or
    // failed calls above it
    let rule = |extra: Value| {
        let mut r = json!({
            "id": "iam-user-burst", "event_source": "iam.amazonaws.com", "event_names": ["CreateUser"], "counts": "calls",
            "horizons": [{"window_seconds": 600, "threshold": 5}, {"window_seconds": 86400, "threshold": MAX_EVIDENCE + 1}],
            "actions": ["quarantine_user"], "alarms": ["launchguard-iam-user-burst*"]
        });
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"schema_version": 1, "rules": [r]}).to_string()
    };
    // THEN it is refused, naming the horizon and why
    match RuleSet::parse(&rule(json!({})), "t").unwrap_err() {
        CoreError::Rule { field, problem, .. } => {
            assert_eq!(field, "horizons[1].threshold");
            assert!(problem.contains(&MAX_EVIDENCE.to_string()) && problem.contains("CloudTrail"), "{problem}");
        }
        other => panic!("{other}"),
    }
    let failed = rule(json!({"horizons": [{"window_seconds": 600, "threshold": 5}], "min_failed_calls": MAX_EVIDENCE + 1}));
    match RuleSet::parse(&failed, "t").unwrap_err() {
        CoreError::Rule { field, .. } => assert_eq!(field, "min_failed_calls"),
        other => panic!("{other}"),
    }
    // AND a rule counting instances may go higher: one call can launch many
    let set = RuleSet::parse(
        &json!({"schema_version": 1, "rules": [{"id": "big", "event_source": "ec2.amazonaws.com", "event_names": ["RunInstances"],
            "counts": "instances", "horizons": [{"window_seconds": 300, "threshold": 500}], "actions": [], "alarms": ["x"]}]})
        .to_string(),
        "t",
    )
    .unwrap();
    assert_eq!(set.rules[0].horizons[0].measure, Measure::Instances);
}
