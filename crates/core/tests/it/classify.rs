//! Issue 11, case 6: roles are classified by what AWS guarantees (the reserved paths), never by
//! name. Issue 23 (rvd finding 4): a customer role's calls made through a service (`invokedBy`)
//! are its own and count; only AWS's own calls (a service-linked role invoked by its service)
//! are reported apart and counted only when configured.

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
fn attack_launches_through_a_service_count_for_a_customer_role_and_only_aws_itself_is_set_apart() {
    // a customer role's session launching through EMR, SSM, CloudFormation (forward access: the
    // identity is the caller's own session): its own launches, flagged with the defaults
    for by in ["elasticmapreduce.amazonaws.com", "ssm.amazonaws.com", "cloudformation.amazonaws.com"] {
        let records = vec![role_record("/Deployer", "Deployer", Some(by), 40)];
        let v = &assess(&records, &Thresholds::default())[0].1;
        assert!(matches!(v, Verdict::Flagged { .. }), "{by}: {v:?}");
    }
    // Auto Scaling's service-linked role launching for a group: AWS itself, reported apart
    let slr = vec![role_record(
        "/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
        "AWSServiceRoleForAutoScaling",
        Some("autoscaling.amazonaws.com"),
        40,
    )];
    match &assess(&slr, &Thresholds::default())[0].1 {
        Verdict::Excluded { reason } => {
            assert!(reason.contains("autoscaling.amazonaws.com") && reason.contains("LG_CONTAIN_INVOKED_BY_AWS_SERVICE"), "{reason}")
        }
        other => panic!("expected excluded and reported, got {other:?}"),
    }
    // counted when configured, and flagged by a rule that does not exclude AWS services
    let contain = Thresholds { contain_invoked_by_aws_service: true, exclude_aws_services: false, ..Thresholds::default() };
    assert!(matches!(assess(&slr, &contain)[0].1, Verdict::Flagged { .. }));
    let contain_only = Thresholds { contain_invoked_by_aws_service: true, ..Thresholds::default() };
    assert!(matches!(assess(&slr, &contain_only)[0].1, Verdict::Excluded { .. }), "AWS itself stays excluded by default");
    // what a customer role did without a service counts as before
    let mixed = vec![
        role_record("/Deployer", "Deployer", Some("elasticmapreduce.amazonaws.com"), 4),
        role_record("/Deployer", "Deployer", None, 8),
    ];
    match &assess(&mixed, &Thresholds::default())[0].1 {
        Verdict::Flagged { reasons } => assert!(reasons.iter().any(|r| r.contains("requested 12")), "{reasons:?}"),
        other => panic!("expected flagged, got {other:?}"),
    }
}
