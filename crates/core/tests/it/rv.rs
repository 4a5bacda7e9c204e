//! Outside review of this stop's detection changes (branch `rv`): launch routes that ask AWS for
//! capacity without one of the seven counted events, and the held records of incomplete
//! identities. Each test states the attack and asserts the SAFE outcome; the ones that fail
//! against today's code carry `#[ignore = "rv finding N: ..."]` (run them with
//! `--include-ignored`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::aggregate::Aggregate;
use launchguard_core::burst::Tracker;
use launchguard_core::record::parse_record;
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_testkit::fixture;
use serde_json::{Value, json};

/// The CreateFleet `maintain` record of `fixtures/launch-routes/routes.json` (role ci-deployer).
fn create_fleet() -> Value {
    let doc: Value = serde_json::from_str(&fixture("launch-routes/routes.json")).unwrap();
    doc["Records"].as_array().unwrap().iter().find(|r| r["eventID"].as_str().unwrap().ends_with("000000000006")).unwrap().clone()
}

/// `base` as another call of the same caller, `seconds` later.
fn call(base: &Value, n: u32, seconds: u32, source: &str, name: &str, request: Value) -> Value {
    let mut r = base.clone();
    r["eventSource"] = json!(source);
    r["eventName"] = json!(name);
    r["requestParameters"] = request;
    r["responseElements"] = json!({"return": true});
    r["eventID"] = json!(format!("7d3e5f1a-2b4c-4d6e-9f01-9{n:011}"));
    r["requestID"] = json!(format!("0c9f8e3a-1b2c-4d5e-8f90-9{n:011}"));
    r["eventTime"] = json!(format!("2026-03-02T09:{:02}:{:02}Z", 5 + seconds / 60, seconds % 60));
    r
}

/// The bundled launch rule's flagged principals over `records`.
fn flagged(records: &[Value]) -> Vec<String> {
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let t = rule.thresholds(false);
    let mut s = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    for r in records {
        s.push_message(&r.to_string());
    }
    s.aggregate.assess(&rule.horizons_with(&t), &t).flagged.iter().map(|f| f.principal.key()).collect()
}

/// Finding 1. GIVEN role ci-deployer asks for capacity of 1 (a fleet, a spot fleet, a group),
/// then, seconds later, grows it to 1000 with a call that is none of the seven launch routes
/// (`ModifyFleet`, `ModifySpotFleetRequest`, a scheduled action of its group, an EKS node group),
/// WHEN the launch rule reads these calls (AWS's own `RunInstances` under its service-linked
/// roles stay excluded, as the launch routes say), THEN ci-deployer is flagged. Today none of
/// these calls is the rule's event: 999 instances per route go uncounted (by the detector, scan,
/// the stream path and the alarms alike: all are rendered from the same routes).
#[test]
fn rv_capacity_grown_through_a_route_not_counted_still_flags_its_caller() {
    let base = create_fleet();
    let routes: [(&str, &str, &str, Value, Value); 4] = [
        (
            "ModifyFleet",
            "ec2.amazonaws.com",
            "CreateFleet",
            json!({"CreateFleetRequest": {"TargetCapacitySpecification": {"TotalTargetCapacity": 1}, "Type": "maintain"}}),
            json!({"ModifyFleetRequest": {"FleetId": "fleet-6a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
                                          "TargetCapacitySpecification": {"TotalTargetCapacity": 1000}}}),
        ),
        (
            "ModifySpotFleetRequest",
            "ec2.amazonaws.com",
            "RequestSpotFleet",
            json!({"spotFleetRequestConfig": {"targetCapacity": 1}}),
            json!({"ModifySpotFleetRequestRequest": {"SpotFleetRequestId": "sfr-0a1b2c3d", "TargetCapacity": 1000}}),
        ),
        (
            "PutScheduledUpdateGroupAction",
            "autoscaling.amazonaws.com",
            "CreateAutoScalingGroup",
            json!({"autoScalingGroupName": "g", "minSize": 1, "maxSize": 1000}),
            json!({"autoScalingGroupName": "g", "scheduledActionName": "now", "startTime": "2026-03-02T09:06:00Z",
                   "desiredCapacity": 1000, "minSize": 1000, "maxSize": 1000}),
        ),
        (
            "CreateNodegroup",
            "eks.amazonaws.com",
            "",
            Value::Null,
            json!({"clusterName": "c", "nodegroupName": "n", "scalingConfig": {"minSize": 1000, "maxSize": 1000, "desiredSize": 1000}}),
        ),
    ];
    let mut unseen = Vec::new();
    for (n, (grow, source, first, first_request, request)) in routes.into_iter().enumerate() {
        let n = u32::try_from(n).unwrap() * 10;
        let mut records = Vec::new();
        if !first.is_empty() {
            let first_source = if first == "CreateAutoScalingGroup" { "autoscaling.amazonaws.com" } else { "ec2.amazonaws.com" };
            let mut created = call(&base, n, 0, first_source, first, first_request);
            // the fleet's id, as AWS answers a create (a resize counts its increase over the
            // size the read showed before: a fleet is known by the id its create answered)
            match first {
                "CreateFleet" => {
                    created["responseElements"] = json!({"CreateFleetResponse": {"fleetId": "fleet-6a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}})
                }
                "RequestSpotFleet" => created["responseElements"] = json!({"spotFleetRequestId": "sfr-0a1b2c3d"}),
                _ => {}
            }
            records.push(created);
        }
        let grow_source = if grow == "CreateNodegroup" { "eks.amazonaws.com" } else { source };
        records.push(call(&base, n + 1, 20, grow_source, grow, request));
        if !flagged(&records).iter().any(|k| k.ends_with(":role/ci-deployer")) {
            unseen.push(grow);
        }
    }
    assert!(unseen.is_empty(), "1000 instances asked for through {unseen:?}: ci-deployer not flagged");
}

/// Finding 2. GIVEN a hostile log of 20 000 launch records whose identity is incomplete (an
/// access key and an account, no ARN), none of whose keys a complete identity ever uses, WHEN
/// they are aggregated (scan, the detector's read), THEN what is held aside for a key not yet
/// claimed stays bounded (a few hundred records, as every other per-principal list is bounded
/// by `MAX_INSTANCE_IDS`). Today every such record is held as a full owned copy until the read
/// closes: memory grows with the input at the size of whole records.
#[test]
fn rv_held_records_of_incomplete_identities_stay_bounded() {
    let mut base = create_fleet();
    base["userIdentity"] = json!({"accessKeyId": "AKIAEXAMPLEHELD00001", "accountId": "218007301253"});
    let mut agg = Aggregate::new();
    for i in 0..20_000u32 {
        let r = call(&base, i, i % 3000, "ec2.amazonaws.com", "CreateFleet", base["requestParameters"].clone());
        let text = r.to_string();
        let parsed = parse_record(&text).unwrap();
        agg.add(&parsed, 1_772_442_000_000 + i64::from(i) * 1000);
    }
    assert!(
        agg.held() <= launchguard_core::aggregate::MAX_INSTANCE_IDS,
        "{} whole records held for one access key no complete identity used",
        agg.held()
    );
    // and nothing is lost: every record is counted once the read closes
    agg.finish();
    assert_eq!(agg.records, 20_000);
}

/// Finding 6. GIVEN a cluster autoscaler's role (a customer role, not service-linked) that grows
/// its node group from 20 to 21 instances with one `SetDesiredCapacity` (one instance launched
/// by `AWSServiceRoleForAutoScaling`), WHEN the bundled launch rule (10 instances in 5 minutes)
/// judges it, THEN the role is not flagged: it asked AWS for one instance. Today the group's
/// whole size (21) is counted as instances requested by the call (capacity.rs says so: CloudTrail
/// does not record the size before), so every autoscaler of a group of 10 or more is flagged,
/// and contained, on its first scale-up by one.
#[test]
fn rv_growing_a_group_by_one_instance_flags_no_one() {
    let base = create_fleet();
    let records = [call(
        &base,
        1,
        0,
        "autoscaling.amazonaws.com",
        "SetDesiredCapacity",
        json!({"autoScalingGroupName": "eks-nodes", "desiredCapacity": 21, "honorCooldown": false}),
    )];
    let flagged = flagged(&records);
    assert!(flagged.is_empty(), "one instance asked for, flagged: {flagged:?}");
}

/// Finding 7. GIVEN two calls of one principal each asking for 2^63 instances (a count core reads
/// as written: `capacity::requested` takes any `u64`, as `RunInstances`' `maxCount` reader does),
/// WHEN they are aggregated, THEN nothing panics and the principal's total is saturated, never
/// wrapped to a small number. Today `Aggregate` adds the counts unchecked: a panic where overflow
/// is checked (every test and debug build), a wrap to 0 in a release build.
#[test]
fn rv_huge_counts_saturate_and_never_wrap() {
    let base = create_fleet();
    let mut agg = Aggregate::new();
    for i in 0..2u32 {
        let r = call(
            &base,
            i,
            i,
            "autoscaling.amazonaws.com",
            // a create: a resize read alone counts 0 (rv finding 6), so it could not show the sum
            "CreateAutoScalingGroup",
            json!({"autoScalingGroupName": format!("g{i}"), "minSize": 0, "desiredCapacity": 9_223_372_036_854_775_808u64}),
        );
        let text = r.to_string();
        agg.add(&parse_record(&text).unwrap(), 1_772_442_000_000 + i64::from(i) * 1000);
    }
    let p = agg.into_sorted();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].activity.instances_requested, u64::MAX);
}
