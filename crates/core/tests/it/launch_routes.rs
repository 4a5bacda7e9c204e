//! rvd finding 5: a mass launch that does not go through `RunInstances`. A principal that asks AWS
//! for capacity (an Auto Scaling group's desired capacity or minimum, an EC2 fleet's or a spot
//! fleet's target capacity, a spot request's count) is counted for what it asked, against the
//! launch rule's horizons, as its own launches are; the instances AWS then starts under its
//! service-linked roles stay excluded, so nothing counts twice.
//!
//! The records of `fixtures/launch-routes/routes.json` are written as CloudTrail writes these
//! calls (`requestParameters` of each API as in CloudTrail's records: lower camel case, and
//! `CreateFleetRequest.TargetCapacitySpecification.TotalTargetCapacity` for fleets).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::burst::Tracker;
use launchguard_core::capacity::{Route, requested};
use launchguard_core::launch::{OMITTED_COUNT, launch_facts};
use launchguard_core::record::parse_record;
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_core::windows::{Horizon, Measure};
use launchguard_testkit::{Actor, Burst, fixture, run_instances_template};
use proptest::prelude::*;
use serde_json::{Value, json};

fn routes() -> Vec<Value> {
    let doc: Value = serde_json::from_str(&fixture("launch-routes/routes.json")).unwrap();
    doc["Records"].as_array().unwrap().clone()
}

#[test]
fn each_route_counts_what_its_caller_asked_for() {
    // eventID's last digits -> (requested, dry run, failed, unreadable)
    let want = [
        (1, 500, false, false, false), // CreateAutoScalingGroup, desiredCapacity 500
        // a resize counts 0 read alone: its increase needs the group's size before (rv finding 6);
        // its new size is carried (checked below)
        (2, 0, false, false, false),             // UpdateAutoScalingGroup, minSize 60 (no desired capacity)
        (3, 0, false, false, false),             // UpdateAutoScalingGroup of its launch template only
        (4, 0, false, false, false),             // SetDesiredCapacity 200
        (5, 64, false, false, false),            // CreateFleet instant, TotalTargetCapacity 64
        (6, 120, false, false, false),           // CreateFleet maintain, 120
        (7, 20, false, false, false),            // RequestSpotInstances, instanceCount 20
        (8, 300, false, false, false),           // RequestSpotFleet, targetCapacity 300
        (9, 0, true, false, false),              // CreateFleet dry run: nothing
        (10, 40, false, true, false),            // RequestSpotInstances refused: still asked for 40
        (11, OMITTED_COUNT, false, false, true), // SetDesiredCapacity whose request CloudTrail omitted
        (12, 0, false, false, false),            // ModifyFleet of fleet 6 to 130 (a resize)
        (13, 0, false, false, false),            // ModifySpotFleetRequest of fleet 8 to 310 (a resize)
        (14, 0, false, false, false),            // PutScheduledUpdateGroupAction of web, desired 70 (a resize)
        (15, 3, false, false, false),            // CreateNodegroup prod/gpu, desiredSize 3
        (16, 0, false, false, false),            // UpdateNodegroupConfig prod/gpu to 5 (a resize)
    ];
    let records = routes();
    assert_eq!(records.len(), want.len());
    for (r, (n, requested, dry_run, failed, malformed)) in records.iter().zip(want) {
        assert!(r["eventID"].as_str().unwrap().ends_with(&format!("{n:012}")));
        let text = r.to_string();
        let parsed = parse_record(&text).unwrap();
        assert!(Route::of(&parsed).is_some(), "{n}");
        let f = launch_facts(&parsed);
        assert_eq!((f.requested, f.dry_run, f.failed, f.malformed), (requested, dry_run, failed, malformed), "record {n}");
        let size = f.set_size.as_ref().map(|s| (s.size, s.group.name.as_str()));
        match n {
            2 => assert_eq!(size, Some((60, "web"))),
            3 => assert_eq!(size, None, "a launch template changes no size"),
            4 => assert_eq!(size, Some((200, "miner"))),
            1 => assert_eq!(size, Some((500, "miner"))),
            _ => {}
        }
    }
}

#[test]
fn the_bundled_launch_rule_flags_the_callers_who_asked() {
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let t = rule.thresholds(false);
    let mut s = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    let records = routes();
    for r in &records {
        s.push_message(&r.to_string());
    }
    // every route is the rule's event: nothing read is another event
    assert_eq!((s.stats.matched, s.stats.other_events), (records.len() as u64, 0));
    assert_eq!(s.stats.uncounted, 1, "the omitted request is counted as every threshold and the read says so");
    let a = s.aggregate.assess(&rule.horizons_with(&t), &t);
    let mut flagged: Vec<String> = a.flagged.iter().map(|f| f.principal.key()).collect();
    flagged.sort();
    assert_eq!(flagged, vec!["arn:aws:iam::218007301253:role/ci-deployer".to_owned(), "arn:aws:iam::218007301253:user/mallory".to_owned()]);
    let mallory = a.flagged.iter().find(|f| f.principal.key().ends_with("user/mallory")).unwrap();
    assert!(mallory.crossed.unwrap().count >= 500, "{:?}", mallory.crossed);
}

/// The instances Auto Scaling then launches are AWS's own (excluded), and a group that asks for
/// under the threshold flags nobody: the capacity is counted once, for its caller.
#[test]
fn a_small_group_and_the_service_roles_launches_flag_nobody() {
    let account = "218007301253";
    let mut group = routes()[0].clone();
    group["requestParameters"]["desiredCapacity"] = json!(8);
    group["requestParameters"]["minSize"] = json!(8);
    let mut records = vec![group];
    records
        .extend(Burst::new(Actor::AutoScaling { account: account.into() }, 4, 2, chrono::Utc::now()).records(&run_instances_template(), 3));
    for r in &mut records[1..] {
        r["eventTime"] = json!("2026-03-02T09:00:30Z");
    }
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let t = rule.thresholds(false);
    let mut s = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    for r in &records {
        s.push_message(&r.to_string());
    }
    let a = s.aggregate.assess(&rule.horizons_with(&t), &t);
    assert!(a.flagged.is_empty(), "{:?}", a.flagged.iter().map(|f| f.principal.key()).collect::<Vec<_>>());
    assert_eq!(s.stats.matched, records.len() as u64);
}

// ---- properties ----

/// Any JSON value a `requestParameters` can hold, a few levels deep, with the routes' own field
/// names among the keys.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("desiredCapacity".to_owned()),
        Just("minSize".to_owned()),
        Just("autoScalingGroupName".to_owned()),
        Just("instanceCount".to_owned()),
        Just("launchSpecification".to_owned()),
        Just("CreateFleetRequest".to_owned()),
        Just("TargetCapacitySpecification".to_owned()),
        Just("TotalTargetCapacity".to_owned()),
        Just("spotFleetRequestConfig".to_owned()),
        Just("targetCapacity".to_owned()),
        Just("omitted".to_owned()),
        "[a-zA-Z]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn route() -> impl Strategy<Value = Route> {
    proptest::sample::select(Route::ALL.to_vec())
}

/// One capacity call of the property below: when (ms after the start), which route, how many
/// instances it asks for, how it ended.
#[derive(Debug, Clone, Copy)]
struct Call {
    t_ms: i64,
    route: Route,
    count: u64,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Failed,
    DryRun,
}

const START_MS: i64 = 1_772_442_000_000; // 2026-03-02T09:00:00Z

/// The request of `route` asking for `count` instances, as CloudTrail writes it.
fn request(route: Route, count: u64) -> Value {
    match route {
        Route::RunInstances => json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": count, "maxCount": count}]}}),
        Route::CreateFleet => {
            json!({"CreateFleetRequest": {"TargetCapacitySpecification": {"TotalTargetCapacity": count}, "Type": "instant"}})
        }
        Route::RequestSpotInstances => json!({"instanceCount": count, "launchSpecification": {"imageId": "ami-1"}}),
        Route::RequestSpotFleet => json!({"spotFleetRequestConfig": {"targetCapacity": count}}),
        Route::CreateAutoScalingGroup => json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": count, "desiredCapacity": count}),
        Route::UpdateAutoScalingGroup => json!({"autoScalingGroupName": "g", "minSize": count}),
        Route::SetDesiredCapacity => json!({"autoScalingGroupName": "g", "desiredCapacity": count}),
        Route::PutScheduledUpdateGroupAction => json!({"autoScalingGroupName": "g", "scheduledActionName": "a", "desiredCapacity": count}),
        Route::ModifyFleet => {
            json!({"ModifyFleetRequest": {"FleetId": "fleet-1", "TargetCapacitySpecification": {"TotalTargetCapacity": count}}})
        }
        Route::ModifySpotFleetRequest => json!({"ModifySpotFleetRequestRequest": {"SpotFleetRequestId": "sfr-1", "TargetCapacity": count}}),
        Route::CreateNodegroup => json!({"clusterName": "c", "nodegroupName": "n", "scalingConfig": {"desiredSize": count}}),
        Route::UpdateNodegroupConfig => json!({"name": "c", "nodegroupName": "n", "scalingConfig": {"desiredSize": count}}),
    }
}

/// The response of a successful call of `route`: the fleets' ids.
fn response(route: Route) -> Value {
    match route {
        Route::CreateFleet => json!({"CreateFleetResponse": {"fleetId": "fleet-1"}}),
        Route::RequestSpotFleet => json!({"spotFleetRequestId": "sfr-1"}),
        _ => Value::Null,
    }
}

fn record(c: &Call, i: usize) -> Value {
    let t = chrono::DateTime::from_timestamp_millis(START_MS + c.t_ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let mut r = json!({
        "eventVersion": "1.09", "eventTime": t, "eventID": format!("route-{i:05}"), "awsRegion": "us-east-1",
        "eventSource": c.route.event_source(), "eventName": c.route.event_name(), "sourceIPAddress": "198.51.100.1",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAPROPERTYUSER0001", "arn": "arn:aws:iam::111122223333:user/prop",
            "accountId": "111122223333", "accessKeyId": "AKIAPROPERTYUSER0001", "userName": "prop"},
        "recipientAccountId": "111122223333", "requestParameters": request(c.route, c.count), "responseElements": null,
    });
    match c.outcome {
        Outcome::Ok => r["responseElements"] = response(c.route),
        Outcome::Failed => r["errorCode"] = json!("Client.UnauthorizedOperation"),
        Outcome::DryRun => r["errorCode"] = json!("Client.DryRunOperation"),
    }
    r
}

/// The one group or fleet each route of [`request`] sizes (all in one account and region).
fn group_of(route: Route) -> Option<&'static str> {
    match route {
        Route::RunInstances | Route::RequestSpotInstances => None,
        Route::CreateFleet | Route::ModifyFleet => Some("fleet"),
        Route::RequestSpotFleet | Route::ModifySpotFleetRequest => Some("sfr"),
        Route::CreateNodegroup | Route::UpdateNodegroupConfig => Some("nodegroup"),
        _ => Some("asg"),
    }
}

/// What each call counts for, from scratch: a create what it asks for (failed calls included,
/// dry runs nothing); a successful resize the increase over its group's size set by an earlier
/// successful call (by event time, creates first at one millisecond, then as read), 0 when
/// none did; a failed resize nothing.
fn counted(calls: &[Call]) -> Vec<u64> {
    let resize = |c: &Call| matches!(c.route.change(), launchguard_core::capacity::Change::Resize);
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| (calls[i].t_ms, resize(&calls[i]), i));
    let mut size: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    let mut out = vec![0; calls.len()];
    for i in order {
        let c = &calls[i];
        out[i] = match (c.outcome, resize(c)) {
            (Outcome::DryRun, _) | (Outcome::Failed, true) => 0,
            (Outcome::Failed, false) => c.count,
            (Outcome::Ok, false) => c.count,
            (Outcome::Ok, true) => group_of(c.route).and_then(|g| size.get(g)).map_or(0, |before| {
                let after = if c.route == Route::UpdateAutoScalingGroup { (*before).max(c.count) } else { c.count };
                after.saturating_sub(*before)
            }),
        };
        if c.outcome == Outcome::Ok
            && let Some(g) = group_of(c.route)
        {
            // UpdateAutoScalingGroup gives a minimum only: the group grows to it, never shrinks,
            // and a group of unknown size stays unknown
            match (c.route, size.get(g).copied()) {
                (Route::UpdateAutoScalingGroup, Some(before)) => {
                    size.insert(g, before.max(c.count));
                }
                (Route::UpdateAutoScalingGroup, None) => {}
                _ => {
                    size.insert(g, c.count);
                }
            }
        }
    }
    out
}

/// Is any horizon reached by the instances counted inside one half-open window starting at a
/// call, counted from scratch ([`counted`])?
fn oracle(calls: &[Call], horizons: &[Horizon]) -> bool {
    let n = counted(calls);
    horizons.iter().filter(|h| h.measure == Measure::Instances).any(|h| {
        let w = i64::try_from(h.window_seconds * 1000).unwrap();
        calls.iter().any(|a| {
            let sum: u64 = calls.iter().zip(&n).filter(|(b, _)| b.t_ms >= a.t_ms && b.t_ms - a.t_ms < w).map(|(_, k)| *k).sum();
            sum >= h.threshold
        })
    })
}

fn calls() -> impl Strategy<Value = Vec<Call>> {
    // a span of 10 minutes, 2 hours or 30 hours, so that each horizon is reached and missed
    (prop_oneof![Just(600_000i64), Just(7_200_000), Just(108_000_000)], 0usize..60).prop_flat_map(|(span, n)| {
        proptest::collection::vec(
            (0..span, route(), 0u64..30, prop_oneof![8 => Just(Outcome::Ok), 1 => Just(Outcome::Failed), 1 => Just(Outcome::DryRun)]),
            n,
        )
        // (a RunInstances record asks for at least one: CloudTrail's maxCount is at least 1)
        .prop_map(|v| {
            v.into_iter()
                .map(|(t_ms, route, count, outcome)| Call {
                    t_ms,
                    route,
                    count: if route == Route::RunInstances { count.max(1) } else { count },
                    outcome,
                })
                .collect()
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// No request of any shape panics the parser of any route; what it reads is a count of the
    /// request (or none), and a record of it is always counted, never dropped.
    #[test]
    fn no_request_panics_and_every_record_is_counted(route in route(), req in json_value(), error in proptest::option::of(prop_oneof![Just("Client.DryRunOperation"), Just("AccessDenied")])) {
        if route != Route::RunInstances {
            let _ = requested(route, &req);
        }
        let mut r = json!({"eventSource": route.event_source(), "eventName": route.event_name(), "eventTime": "2026-03-02T09:00:00Z",
            "eventID": "p-1", "requestParameters": req,
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/p", "accountId": "111122223333"}});
        if let Some(e) = error {
            r["errorCode"] = json!(e);
        }
        let text = r.to_string();
        let record = parse_record(&text).unwrap();
        let f = launch_facts(&record);
        prop_assert_eq!(f.dry_run, error == Some("Client.DryRunOperation"));
        prop_assert!(f.dry_run || f.requested > 0 || !f.malformed, "an unreadable count is counted, never as 0: {:?}", f);
        let set = RuleSet::bundled().unwrap();
        let mut s = Scanner::new(set.get(EC2_MASS_LAUNCH).unwrap().event.clone(), None);
        s.push_message(&text);
        prop_assert_eq!(s.stats.matched, 1);
    }

    /// issue 23's property over every launch route: for any arrangement of one principal's
    /// calls (any route, count and outcome), read as CloudTrail records by the scanner every path
    /// uses and judged with the bundled launch rule's horizons, the principal is flagged exactly
    /// when the instances asked for inside one window of some horizon reach its threshold.
    #[test]
    fn flagged_exactly_when_a_window_of_asked_capacity_reaches_a_horizon(calls in calls()) {
        let set = RuleSet::bundled().unwrap();
        let rule = set.get(EC2_MASS_LAUNCH).unwrap();
        let thresholds = rule.thresholds(false);
        let horizons = rule.horizons_with(&thresholds);
        let mut scanner = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
        for (i, c) in calls.iter().enumerate() {
            scanner.push_message(&record(c, i).to_string());
        }
        prop_assert_eq!(scanner.stats.matched, calls.len() as u64);
        let assessment = scanner.aggregate.assess(&horizons, &thresholds);
        prop_assert_eq!(assessment.flagged.len() == 1, oracle(&calls, &horizons));
        prop_assert!(assessment.excluded.is_empty());
        if let Some(c) = assessment.flagged.first().and_then(|f| f.crossed) {
            prop_assert!(horizons.contains(&c.horizon()) && c.count >= c.threshold);
        }
    }
}
