//! rvd finding 5, the alarm side: the instances metric counts what every launch route asks for,
//! as core counts it, so the alarms rendered from the launch rule fire whenever it flags a
//! principal who asked AWS for capacity (an Auto Scaling group, a fleet, spot requests) instead
//! of calling `RunInstances`.

use std::collections::BTreeMap;

use launchguard_core::alarm::INSTANCES_METRIC;
use launchguard_core::capacity::Route;
use launchguard_core::launch::launch_facts;
use launchguard_core::record::parse_record;
use launchguard_core::rules::{EC2_MASS_LAUNCH, MAX_THRESHOLD, RuleSet};
use launchguard_core::windows::judge;
use launchguard_testkit::cloudwatch::{self, Alarm, Filter};
use proptest::prelude::*;
use serde_json::{Value, json};

fn rendered(set: &RuleSet) -> (Vec<Filter>, Vec<Alarm>) {
    let plan = launchguard_core::alarm_plan::plan(set).unwrap();
    let resources = plan.resources(&json!({"Ref": "CloudTrailLogGroupName"}), &json!({"Ref": "AlarmTopicArn"}));
    cloudwatch::from_template(&resources, &BTreeMap::new()).unwrap()
}

fn routes() -> Vec<Value> {
    let doc: Value = serde_json::from_str(&launchguard_testkit::fixture("launch-routes/routes.json")).unwrap();
    doc["Records"].as_array().unwrap().clone()
}

/// What the instances metric adds for one record (every filter that matches it).
fn metric_of(filters: &[Filter], record: &Value) -> f64 {
    filters.iter().filter(|f| f.metric == INSTANCES_METRIC).filter_map(|f| f.value_of(record).unwrap()).sum()
}

/// Every record of every route counts in the instances metric what core counts: the same
/// number when core can read it, every threshold when it cannot; a dry run nothing.
#[test]
fn the_instances_metric_counts_every_route_as_core_does() {
    let (filters, _) = rendered(&RuleSet::bundled().unwrap());
    let records = routes();
    let mut seen = std::collections::BTreeSet::new();
    for r in &records {
        let text = r.to_string();
        let parsed = parse_record(&text).unwrap();
        let route = Route::of(&parsed).unwrap();
        seen.insert(route.event_name());
        let f = launch_facts(&parsed);
        let metric = metric_of(&filters, r);
        if f.malformed {
            assert!(metric >= MAX_THRESHOLD as f64, "{route:?}: core counts {}, the metric {metric}", f.requested);
        } else if route.change() == launchguard_core::capacity::Change::Resize {
            // a resize's metric counts the new size (it only wakes the detector), core the
            // increase over the size the read showed before (0 read alone)
            assert_eq!(f.requested, 0, "{route:?} {}", r["eventID"]);
            assert_eq!(metric, f.set_size.map_or(0, |s| s.size) as f64, "{route:?} {}", r["eventID"]);
        } else {
            assert_eq!(metric, f.requested as f64, "{route:?} {}", r["eventID"]);
        }
    }
    assert_eq!(seen.len(), Route::ALL.len() - 1, "every route but RunInstances is in the fixture: {seen:?}");
}

/// The rendered filters leave every route's dry runs out and wake the detector on a request
/// CloudTrail omitted, whatever the route.
#[test]
fn an_omitted_request_of_any_route_fires_every_instances_alarm() {
    let set = RuleSet::bundled().unwrap();
    let (filters, alarms) = rendered(&set);
    for route in Route::ALL {
        let mut r = routes()[0].clone();
        r["eventSource"] = json!(route.event_source());
        r["eventName"] = json!(route.event_name());
        r["requestParameters"] = json!({"omitted": true, "originalSize": 150_000});
        let fired = cloudwatch::firing(&filters, &alarms, &[r.clone()], 0).unwrap();
        let instances: Vec<&Alarm> = alarms.iter().filter(|a| a.metric == INSTANCES_METRIC).collect();
        assert!(instances.iter().all(|a| fired.contains(&a.name)), "{route:?}: {fired:?}");
        r["errorCode"] = json!("Client.DryRunOperation");
        assert_eq!(metric_of(&filters, &r), 0.0, "{route:?}");
    }
}

mod soundness {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Ok,
        Failed,
        DryRun,
        Omitted,
    }

    /// The fixture's record of `route` (the first), asking for `count`.
    fn record(start: i64, (s, route, count, kind): &(i64, Route, u64, Kind)) -> Value {
        let mut r = routes()
            .into_iter()
            .find(|r| {
                r["eventName"] == route.event_name() && r.get("errorCode").is_none() && r["requestParameters"].get("omitted").is_none()
            })
            .unwrap_or_else(|| {
                let mut r = routes()[0].clone();
                r["eventSource"] = json!(route.event_source());
                r["eventName"] = json!(route.event_name());
                r
            });
        r["eventTime"] = json!(chrono::DateTime::from_timestamp(start + s, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        r["requestParameters"] = match route {
            Route::RunInstances => json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1, "maxCount": count}]}}),
            Route::CreateFleet => {
                json!({"CreateFleetRequest": {"TargetCapacitySpecification": {"TotalTargetCapacity": count}, "Type": "request"}})
            }
            Route::RequestSpotInstances => json!({"instanceCount": count, "launchSpecification": {"imageId": "ami-1"}}),
            Route::RequestSpotFleet => json!({"spotFleetRequestConfig": {"targetCapacity": count}}),
            Route::CreateAutoScalingGroup => json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": count, "desiredCapacity": count}),
            Route::UpdateAutoScalingGroup => json!({"autoScalingGroupName": "g", "minSize": count}),
            Route::SetDesiredCapacity => json!({"autoScalingGroupName": "g", "desiredCapacity": count}),
            Route::PutScheduledUpdateGroupAction => {
                json!({"autoScalingGroupName": "g", "scheduledActionName": "a", "desiredCapacity": count})
            }
            Route::ModifyFleet => {
                json!({"ModifyFleetRequest": {"FleetId": "fleet-1", "TargetCapacitySpecification": {"TotalTargetCapacity": count}}})
            }
            Route::ModifySpotFleetRequest => {
                json!({"ModifySpotFleetRequestRequest": {"SpotFleetRequestId": "sfr-1", "TargetCapacity": count}})
            }
            Route::CreateNodegroup => json!({"clusterName": "c", "nodegroupName": "n", "scalingConfig": {"desiredSize": count}}),
            Route::UpdateNodegroupConfig => json!({"name": "c", "nodegroupName": "n", "scalingConfig": {"desiredSize": count}}),
        };
        r["responseElements"] = Value::Null;
        match kind {
            Kind::Ok => {}
            Kind::Failed => r["errorCode"] = json!("Client.UnauthorizedOperation"),
            Kind::DryRun => r["errorCode"] = json!("Client.DryRunOperation"),
            Kind::Omitted => r["requestParameters"] = json!({"omitted": true, "originalSize": 150_000}),
        }
        r
    }

    fn call() -> impl Strategy<Value = (i64, Route, u64, Kind)> {
        let kind = prop_oneof![6 => Just(Kind::Ok), 2 => Just(Kind::Failed), 1 => Just(Kind::DryRun), 1 => Just(Kind::Omitted)];
        (0i64..(2 * 86_400), proptest::sample::select(Route::ALL.to_vec()), 1u64..14, kind)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// For every arrangement of one principal's calls over any launch route that the launch
        /// rule flags, one of the alarms rendered for it fires, wherever CloudWatch aligns its
        /// periods.
        #[test]
        fn whenever_the_launch_rule_flags_capacity_asked_for_an_alarm_fires(
            calls in proptest::collection::vec(call(), 0..30),
            start in 1_700_000_000i64..1_800_000_000,
            offset_s in 0i64..86_400,
        ) {
            let set = RuleSet::bundled().unwrap();
            let rule = set.get(EC2_MASS_LAUNCH).unwrap();
            let records: Vec<Value> = calls.iter().map(|c| record(start, c)).collect();
            let flagged = judge(&crate::alarms::points(&records), &rule.horizons_with(&rule.thresholds(false)));
            let (filters, alarms) = rendered(&set);
            let fired = cloudwatch::firing(&filters, &alarms, &records, offset_s * 1000).unwrap();
            let mine = fired.iter().any(|a| rule.fired_by(a));
            prop_assert!(flagged.is_empty() || mine, "flagged {:?}, alarms fired: {:?}", flagged.first().map(|s| s.crossing.describe()), fired);
        }
    }
}
