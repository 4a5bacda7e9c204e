//! Issue 11, case 6: roles are classified by what AWS guarantees (the reserved paths), never by
//! name; calls an AWS service made through a customer role (`invokedBy`) are reported and
//! contained only when configured.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::aggregate::Aggregate;
use launchguard_core::principal::{Principal, classify};
use launchguard_core::record::parse_record;
use launchguard_core::threshold::{Thresholds, Verdict};
use serde_json::json;

fn role_record(role_path_and_name: &str, role_name: &str, invoked_by: Option<&str>, max_count: u64) -> String {
    let mut id = json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::111122223333:assumed-role/{role_name}/s"),
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLE000000001",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::111122223333:role{role_path_and_name}"), "userName": role_name, "accountId": "111122223333"}}
    });
    if let Some(s) = invoked_by {
        id["invokedBy"] = json!(s);
    }
    json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "eventTime": "2023-07-10T12:00:00Z", "eventID": format!("{role_name}-{max_count}"),
        "userIdentity": id, "requestParameters": {"instancesSet": {"items": [{"minCount": 1, "maxCount": max_count}]}},
        "responseElements": null})
    .to_string()
}

fn principal(rec: &str) -> Principal {
    let r = parse_record(rec).unwrap();
    classify(r.user_identity.as_ref()).0
}

#[test]
fn attack_a_name_alone_does_not_make_a_service_linked_or_identity_center_role() {
    for (path_name, name) in
        [("/AWSServiceRoleForBackdoor", "AWSServiceRoleForBackdoor"), ("/AWSReservedSSO_Admin_0123", "AWSReservedSSO_Admin_0123")]
    {
        let p = principal(&role_record(path_name, name, None, 20));
        assert!(matches!(p, Principal::AssumedRole { service_linked: false, identity_center: false, .. }), "{p:?}");
        assert!(!p.is_aws_service(), "{name} at / is a customer role");
    }
    // the reserved paths decide
    let slr = principal(&role_record(
        "/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
        "AWSServiceRoleForAutoScaling",
        None,
        1,
    ));
    assert!(matches!(slr, Principal::AssumedRole { service_linked: true, .. }));
    let sso = principal(&role_record("/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123", "AWSReservedSSO_Admin_0123", None, 1));
    assert!(matches!(sso, Principal::AssumedRole { identity_center: true, service_linked: false, .. }));
}

#[test]
fn a_role_whose_path_is_unknown_is_not_exempt() {
    // no sessionIssuer: the role ARN is rebuilt from the session ARN, without its path
    let rec = json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "eventTime": "2023-07-10T12:00:00Z",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/s", "accountId": "111122223333"}})
    .to_string();
    let p = principal(&rec);
    assert!(matches!(p, Principal::AssumedRole { service_linked: false, role_arn_derived: true, .. }), "{p:?}");
}

fn assess(records: &[String], t: &Thresholds) -> Vec<(Principal, Verdict)> {
    let mut agg = Aggregate::new();
    for r in records {
        let rec = parse_record(r).unwrap();
        agg.add(&rec, rec.time_ms().unwrap());
    }
    agg.into_sorted()
        .into_iter()
        .map(|pa| {
            let v = t.evaluate(&pa.principal, &pa.activity);
            (pa.principal, v)
        })
        .collect()
}

#[test]
fn attack_launches_an_aws_service_made_through_a_customer_role_are_reported_and_contained_only_when_configured() {
    let records = vec![role_record("/Deployer", "Deployer", Some("elasticmapreduce.amazonaws.com"), 40)];
    let default = assess(&records, &Thresholds::default());
    match &default[0].1 {
        Verdict::Excluded { reason } => {
            assert!(reason.contains("elasticmapreduce.amazonaws.com") && reason.contains("LG_CONTAIN_INVOKED_BY_AWS_SERVICE"), "{reason}")
        }
        other => panic!("expected excluded and reported, got {other:?}"),
    }
    // a stack launches what its creator asked for, at once: CloudFormation is the caller's front end
    let stack = vec![role_record("/Deployer", "Deployer", Some("cloudformation.amazonaws.com"), 40)];
    assert!(matches!(assess(&stack, &Thresholds::default())[0].1, Verdict::Flagged { .. }));
    let contain = Thresholds { contain_invoked_by_aws_service: true, ..Thresholds::default() };
    assert!(matches!(assess(&records, &contain)[0].1, Verdict::Flagged { .. }));
    // what the role did itself still counts: 12 direct instances are flagged whatever the setting
    let mixed = vec![records[0].clone(), role_record("/Deployer", "Deployer", None, 12)];
    match &assess(&mixed, &Thresholds::default())[0].1 {
        Verdict::Flagged { reasons } => assert!(reasons.iter().any(|r| r.contains("requested 12")), "{reasons:?}"),
        other => panic!("expected flagged, got {other:?}"),
    }
}
