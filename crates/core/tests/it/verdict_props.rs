//! Issue 23's property, at the verdict: for any arrangement of one principal's calls, written as
//! CloudTrail records and read the way the detector and `scan` read them (`Scanner` into a
//! `Tracker`, judged by `Tracker::assess` with each bundled rule's horizons), the principal is
//! flagged exactly when the calls inside one half-open window of some horizon reach its
//! threshold, counted here from scratch.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::burst::Tracker;
use launchguard_core::rules::{Rule, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Counted;
use launchguard_core::windows::{Horizon, Measure};
use proptest::prelude::*;
use serde_json::{Value, json};

/// One call: when (ms after the start), instances asked and launched, how it ended.
#[derive(Debug, Clone, Copy)]
struct Call {
    t_ms: i64,
    requested: u64,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Failed,
    DryRun,
}

const START_MS: i64 = 1_772_442_000_000; // 2026-03-02T09:00:00Z

fn record(rule: &Rule, c: &Call, i: usize) -> Value {
    let t = chrono::DateTime::from_timestamp_millis(START_MS + c.t_ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let mut r = json!({
        "eventVersion": "1.08", "eventTime": t, "eventID": format!("prop-{i:05}"), "awsRegion": "us-east-1",
        "eventSource": rule.event.event_source(), "eventName": rule.event.event_names()[0], "sourceIPAddress": "198.51.100.1",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAPROPERTYUSER0001", "arn": "arn:aws:iam::111122223333:user/prop",
            "accountId": "111122223333", "accessKeyId": "AKIAPROPERTYUSER0001", "userName": "prop"},
        "recipientAccountId": "111122223333",
    });
    if rule.event.counts() == Counted::Instances {
        r["requestParameters"] =
            json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": c.requested, "maxCount": c.requested}]}});
        if c.outcome == Outcome::Ok {
            let items: Vec<Value> = (0..c.requested).map(|k| json!({"instanceId": format!("i-{i:05}{k:04}")})).collect();
            r["responseElements"] = json!({"instancesSet": {"items": items}});
        }
    } else {
        r["requestParameters"] = json!({"userName": format!("u-{i}")});
    }
    match c.outcome {
        Outcome::Ok => {}
        Outcome::Failed => r["errorCode"] = json!("Client.UnauthorizedOperation"),
        Outcome::DryRun => r["errorCode"] = json!("Client.DryRunOperation"),
    }
    r
}

/// What one window starting at each call holds, counted from scratch: is any horizon reached?
fn oracle(calls: &[Call], horizons: &[Horizon]) -> bool {
    horizons.iter().any(|h| {
        let w = i64::try_from(h.window_seconds * 1000).unwrap();
        calls.iter().any(|a| {
            let inside: Vec<&Call> =
                calls.iter().filter(|b| b.t_ms >= a.t_ms && b.t_ms - a.t_ms < w && b.outcome != Outcome::DryRun).collect();
            let n = match h.measure {
                Measure::Instances => {
                    let requested: u64 = inside.iter().map(|c| c.requested).sum();
                    let launched: u64 = inside.iter().filter(|c| c.outcome == Outcome::Ok).map(|c| c.requested).sum();
                    requested.max(launched)
                }
                Measure::Calls => inside.len() as u64,
                Measure::FailedCalls => inside.iter().filter(|c| c.outcome == Outcome::Failed).count() as u64,
            };
            n >= h.threshold
        })
    })
}

fn calls() -> impl Strategy<Value = Vec<Call>> {
    // a span of 10 minutes, 2 hours or 30 hours, so that each horizon is reached and missed
    (prop_oneof![Just(600_000i64), Just(7_200_000), Just(108_000_000)], 0usize..160).prop_flat_map(|(span, n)| {
        proptest::collection::vec(
            (0..span, 1u64..9, prop_oneof![8 => Just(Outcome::Ok), 1 => Just(Outcome::Failed), 1 => Just(Outcome::DryRun)]),
            n,
        )
        .prop_map(|v| v.into_iter().map(|(t_ms, requested, outcome)| Call { t_ms, requested, outcome }).collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn flagged_exactly_when_a_window_of_some_horizon_reaches_it(calls in calls(), which in 0usize..3) {
        // GIVEN one of the bundled rules, with its horizons as deployed
        let set = RuleSet::bundled().unwrap();
        let rule = &set.rules[which % set.rules.len()];
        let thresholds = rule.thresholds(false);
        let horizons = rule.horizons_with(&thresholds);
        // WHEN one principal's calls are read as CloudTrail records and judged
        let mut scanner = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
        for (i, c) in calls.iter().enumerate() {
            scanner.push_message(&record(rule, c, i).to_string());
        }
        prop_assert_eq!(scanner.stats.matched, calls.len() as u64);
        let assessment = scanner.aggregate.assess(&horizons, &thresholds);
        // THEN flagged exactly when the oracle says a horizon is reached, never excluded
        prop_assert_eq!(assessment.flagged.len() == 1, oracle(&calls, &horizons), "rule {}", rule.id);
        prop_assert!(assessment.excluded.is_empty());
        // AND the horizon named as crossed is one of the rule's, reached by its count
        if let Some(c) = assessment.flagged.first().and_then(|f| f.crossed) {
            prop_assert!(horizons.contains(&c.horizon()) && c.count >= c.threshold);
        }
    }
}
