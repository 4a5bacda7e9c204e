//! The EC2 actions of the contract: one instance set of one principal in one region, with the
//! launch records the handler verifies; the launch records are read from real `RunInstances`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{TimeZone, Utc};
use launchguard_core::CoreError;
use launchguard_core::aggregate::{Aggregate, MAX_INSTANCE_IDS};
use launchguard_core::contract::{Action, Finding, HandlerKind, ResponseRequest, request_id};
use launchguard_core::query::EventRule;
use launchguard_core::record::parse_document;
use launchguard_core::time::parse_timestamp;
use launchguard_testkit::fixture;
use serde_json::{Value, json};

fn v(rel: &str) -> Value {
    serde_json::from_str(&fixture(rel)).expect("JSON")
}

fn reason(e: CoreError) -> String {
    match e {
        CoreError::InvalidPayload { reason, .. } => reason,
        other => panic!("expected InvalidPayload, got {other}"),
    }
}

#[test]
fn the_ec2_examples_are_one_principals_instances_in_one_region_sent_to_the_ec2_handler() {
    for name in ["stop_instances", "terminate_instances", "start_instances"] {
        let req = ResponseRequest::parse(v(&format!("contract/response_request.{name}.json"))).unwrap();
        assert_eq!(req.action.name(), name);
        assert_eq!(req.action.handler(), HandlerKind::Ec2);
        assert_eq!(req.request_id, request_id(&req.finding_id, &req.action), "{name}: request_id is the idempotency key");
        assert_eq!(req.action.is_reversal(), name == "start_instances");
        assert_eq!(req.action.instances_principal().unwrap().name, "ci-deployer");
    }
    // The finding's launch records are what a stop carries.
    let f = Finding::parse(v("contract/finding.json")).unwrap();
    let deployer = f.principals.iter().find(|p| p.activity.instance_ids.len() == 12).unwrap();
    let ids: Vec<&str> = deployer.activity.launches.iter().map(|l| l.instance_id.as_str()).collect();
    assert_eq!(ids, deployer.activity.instance_ids.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn an_ec2_action_that_is_not_one_well_formed_set_in_its_region_is_refused_by_name() {
    let base = v("contract/response_request.stop_instances.json");
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change)> = vec![
        ("launched in \"us-west-2\"", Box::new(|r| r["action"]["instances"][1]["region"] = json!("us-west-2"))),
        ("named twice", Box::new(|r| r["action"]["instances"][1]["instance_id"] = r["action"]["instances"][0]["instance_id"].clone())),
        ("not an EC2 instance id", Box::new(|r| r["action"]["instances"][0]["instance_id"] = json!("i-*"))),
        ("at least one instance", Box::new(|r| r["action"]["instances"] = json!([]))),
        ("region must be", Box::new(|r| r["action"]["region"] = json!("US EAST"))),
        ("principal_arn must be an ARN", Box::new(|r| r["action"]["principal_arn"] = json!("ci-deployer"))),
        ("also_terminate", Box::new(|r| r["action"]["also_terminate"] = json!(true))),
        ("launch_host", Box::new(|r| r["action"]["instances"][0]["launch_host"] = json!("h-1"))),
        (
            "at most 500",
            Box::new(|r| {
                let one = r["action"]["instances"][0].clone();
                r["action"]["instances"] = (0..=MAX_INSTANCE_IDS)
                    .map(|k| {
                        let mut i = one.clone();
                        i["instance_id"] = json!(format!("i-{k:017x}"));
                        i
                    })
                    .collect();
            }),
        ),
    ];
    for (want, change) in cases {
        let mut r = base.clone();
        change(&mut r);
        let got = reason(ResponseRequest::parse(r).unwrap_err());
        assert!(got.contains(want), "want {want:?} in {got:?}");
    }
    let mut r = v("contract/response_request.start_instances.json");
    r["action"]["incident"] = json!("lg-x; rm -rf");
    assert!(reason(ResponseRequest::parse(r).unwrap_err()).contains("incident"));
}

#[test]
fn a_real_run_instances_response_gives_each_instance_its_region_launch_time_and_reservation() {
    let text = fixture("cloudtrail/panther/aws_ec2_launch_unusual_ec2_instances.json");
    let rule = EventRule::run_instances();
    let mut agg = Aggregate::new();
    for r in parse_document(&text).unwrap().records.iter().filter(|r| rule.matches(r)) {
        if let Some(t) = r.event_time.as_deref().and_then(|t| parse_timestamp(t).ok()).map(|t| t.timestamp_millis()) {
            agg.add(r, t);
        }
    }
    let launches: Vec<_> = agg.principals().iter().flat_map(|p| p.activity.launches.iter()).collect();
    let l = launches.iter().find(|l| l.instance_id == "i-07d06021b0da55115").unwrap();
    assert_eq!(l.region, "us-west-2");
    assert_eq!(l.launched_at, Utc.with_ymd_and_hms(2024, 12, 16, 18, 41, 7).unwrap());
    assert_eq!(l.reservation_id.as_deref(), Some("r-0ff0b006325a10345"));
    // Every launched id has its record (the fixture's calls all name a region).
    let ids: usize = agg.principals().iter().map(|p| p.activity.instance_ids.len()).sum();
    assert_eq!(launches.len(), ids);
}

#[test]
fn ec2_actions_name_their_account_and_target() {
    let req = ResponseRequest::parse(v("contract/response_request.terminate_instances.json")).unwrap();
    assert_eq!(req.action.account_id(), "111122223333");
    assert!(req.action.target().contains("4 instance(s) of arn:aws:iam::111122223333:user/ci-deployer in us-east-1"));
    assert!(matches!(req.action, Action::TerminateInstances { .. }));
}

#[test]
fn a_shown_findings_principal_id_is_a_users_or_a_roles_unique_id_and_nothing_else() {
    // The dispatcher shows the id CloudTrail confirmed: a user's `UserId` or, since role actions
    // are bound to it, a role's `RoleId`. A finding carrying one must read back (the incident record,
    // the report, a release); anything else is refused by name. (An e2e chain failed on the `AROA`.)
    let with = |id: &str| {
        let mut f = v("contract/finding.json");
        f["principals"][0]["principal_id"] = json!(id);
        Finding::parse(f)
    };
    assert!(with("AIDAJQABLZS4A3QDU576Q").is_ok());
    assert!(with("AROA11E9F4E77B3448B6").is_ok());
    for bad in ["ASIAJQABLZS4A3QDU576Q", "AROA", "aroa11e9f4e77b3448b6", "AROA11E9F4E77B3448B6\n"] {
        assert!(reason(with(bad).unwrap_err()).contains("principal_id"), "{bad:?}");
    }
}
