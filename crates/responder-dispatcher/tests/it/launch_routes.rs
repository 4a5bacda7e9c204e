//! rvd finding 5 at the dispatcher: a principal flagged for capacity it asked AWS for (an Auto
//! Scaling group of 500) is confirmed against CloudTrail's event history as a `RunInstances`
//! burst is: its record, read back, says the same count (core's `launch_facts`, every route);
//! the same finding with no such record in CloudTrail is not confirmed.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::trail::MemoryTrail;
use launchguard_core::burst::Tracker;
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_core::window::TimeWindow;
use launchguard_responder_dispatcher::confirm::confirm_all;
use serde_json::Value;

fn confirmed(in_trail: bool) -> Result<Vec<String>, String> {
    let doc: Value = serde_json::from_str(&launchguard_testkit::fixture("launch-routes/routes.json")).unwrap();
    let group = doc["Records"][0].clone();
    assert_eq!(group["eventName"], "CreateAutoScalingGroup");
    let at: DateTime<Utc> = group["eventTime"].as_str().unwrap().parse().unwrap();
    let window = TimeWindow::new(at - Duration::minutes(5), at + Duration::minutes(5)).unwrap();
    let trail = MemoryTrail::default();
    if in_trail {
        trail.record(&group, std::time::Duration::ZERO);
    }
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let t = rule.thresholds(false);
    let mut scan = Scanner::with_sink(rule.event.clone(), Some(window), Tracker::new());
    scan.push_message(&group.to_string());
    let flagged = scan.aggregate.assess(&rule.horizons_with(&t), &t).flagged;
    assert_eq!(flagged.len(), 1);
    let refs: Vec<_> = flagged.iter().collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let mut verdicts = rt.block_on(async {
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(50);
        confirm_all(&refs, &[], &trail, &window, std::time::Duration::from_secs(45), until).await
    });
    verdicts.remove(0).map(|p| p.access_keys.into_iter().collect())
}

#[test]
fn a_group_asked_for_is_confirmed_by_its_own_record_and_not_without_it() {
    assert_eq!(confirmed(true).unwrap(), vec!["AKIAEXAMPLEMALLORY01".to_owned()]);
    assert!(confirmed(false).is_err());
}
