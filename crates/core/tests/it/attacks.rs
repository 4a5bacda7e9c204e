//! Issue 11: attacks on detection (launching so as not to be counted) and on protection
//! (patterns that miss), from an outside review. Each failed on the code before the fix.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::guard::Guard;
use launchguard_core::ids::ArnPatterns;
use launchguard_core::launch::{OMITTED_COUNT, launch_facts};
use launchguard_core::principal::{Principal, classify, is_made_by_aws_service_for};
use launchguard_core::query::EventRule;
use launchguard_core::record::parse_record;
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::{Thresholds, Verdict};
use launchguard_testkit::fixture;
use proptest::prelude::*;
use serde_json::{Value, json};

/// The real console launch of cloud-custodian's fixtures: IAM user `c7nbot` in a console
/// session (`invokedBy` and `userAgent` are `signin.amazonaws.com`), made to launch `instances`.
fn console_launch(i: u32, instances: u32) -> Value {
    let mut r: Value = serde_json::from_str(&fixture("cloudtrail/custodian/event-cloud-trail-run-instance-creator.json")).unwrap();
    r["eventID"] = json!(format!("00000000-0000-4000-8000-0000000000{i:02}"));
    r["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = json!(instances);
    r["requestParameters"]["instancesSet"]["items"][0]["minCount"] = json!(instances);
    let item = r["responseElements"]["instancesSet"]["items"][0].clone();
    let items: Vec<Value> = (0..instances)
        .map(|k| {
            let mut it = item.clone();
            it["instanceId"] = json!(format!("i-{i:08x}{k:08x}"));
            it
        })
        .collect();
    r["responseElements"]["instancesSet"]["items"] = json!(items);
    r
}

fn scan(records: &[Value]) -> Scanner {
    let mut scan = Scanner::new(EventRule::run_instances(), None);
    for r in records {
        scan.push_message(&r.to_string());
    }
    scan
}

/// GIVEN a person who launches 50 instances from the console (`invokedBy: signin.amazonaws.com`),
/// WHEN assessed with the defaults, THEN they are flagged: the console is a person's front end,
/// not an AWS service acting on its own.
#[test]
fn console_launches_are_the_persons_own() {
    let s = scan(&(0..5).map(|i| console_launch(i, 10)).collect::<Vec<_>>());
    let principals = s.aggregate.into_sorted();
    assert_eq!(principals.len(), 1);
    let pa = &principals[0];
    assert_eq!((pa.activity.instances_launched, pa.activity.aws_service_calls), (50, 0));
    let verdict = Thresholds::default().evaluate(&pa.principal, &pa.activity);
    assert!(matches!(verdict, Verdict::Flagged { .. }), "{verdict:?}");
}

/// GIVEN a successful launch whose request and response CloudTrail omitted (a field over its size
/// limit, which a large `TagSpecifications` reaches), WHEN counted, THEN it counts as every
/// instances threshold (what it launched is not known; the metric filter counts it so too), the
/// read says it could not count it, and a failed one counts the one instance it certainly asked for.
#[test]
fn a_launch_whose_counts_were_omitted_is_counted_and_makes_the_read_incomplete() {
    let mut r = console_launch(0, 1);
    r["userIdentity"] = json!({
        "type": "IAMUser", "principalId": "AIDAEXAMPLEMALLORY01", "arn": "arn:aws:iam::644160558196:user/mallory",
        "accountId": "644160558196", "accessKeyId": "AKIAEXAMPLEMALLORY01", "userName": "mallory"
    });
    r["requestParameters"] = json!({"omitted": true, "originalSize": 180_000});
    r["responseElements"] = json!({"omitted": true, "originalSize": 1_200_000});
    let facts = launch_facts(&parse_record(&r.to_string()).unwrap());
    assert_eq!((facts.requested, facts.malformed, facts.count_omitted), (OMITTED_COUNT, true, true), "{facts:?}");
    let mut failed = r.clone();
    failed["errorCode"] = json!("Client.InstanceLimitExceeded");
    let f = launch_facts(&parse_record(&failed.to_string()).unwrap());
    assert_eq!((f.requested, f.malformed, f.count_omitted), (1, true, false), "{f:?}");
    let records: Vec<Value> = (0..30)
        .map(|i| {
            let mut ri = r.clone();
            ri["eventID"] = json!(format!("10000000-0000-4000-8000-0000000000{i:02}"));
            ri
        })
        .collect();
    let s = scan(&records);
    let why = s.incompleteness().expect("the read is incomplete");
    assert!(why.contains("30 matching record(s) do not say how many instances"), "{why}");
    let a = Thresholds::default().assess(s.aggregate.into_sorted());
    assert_eq!(a.flagged.iter().map(|f| f.principal.label()).collect::<Vec<_>>(), ["IAM user mallory"]);
}

/// GIVEN a 20-instance launch whose `eventTime` cannot be read, WHEN scanned, THEN the read is
/// incomplete and says why.
#[test]
fn a_launch_without_a_readable_time_makes_the_read_incomplete() {
    let mut r = console_launch(0, 20);
    r["eventTime"] = json!("2016-07-24T10:57:60Z");
    let s = scan(&[r]);
    assert_eq!(s.stats.without_time, 1);
    assert!(s.incompleteness().unwrap().contains("1 matching record(s) have no readable eventTime"));
}

/// GIVEN the session form CloudTrail shows (`sts … assumed-role/BreakGlass/*`) in
/// PROTECTED_PRINCIPALS, WHEN the configuration is read, THEN it is refused with the form that
/// protects the role (the handlers act on the role, never on a session).
#[test]
fn a_session_pattern_is_refused_with_the_role_form_to_write() {
    let err = ArnPatterns::parse_list("arn:aws:sts::111122223333:assumed-role/BreakGlass/*").unwrap_err().to_string();
    assert!(err.contains("iam::<account>:role/<name>"), "{err}");
    let g = Guard::new("111122223333", vec![], ArnPatterns::parse_list("arn:aws:iam::111122223333:role/BreakGlass").unwrap(), &[]);
    assert!(g.check_principal("arn:aws:sts::111122223333:assumed-role/BreakGlass/alice").is_err());
    assert!(g.check_principal("arn:aws:iam::111122223333:role/BreakGlass").is_err());
}

/// GIVEN patterns that match no ARN IAM or CloudTrail writes (typos), WHEN the configuration is
/// read, THEN each is refused: a typo never silently removes a protection.
#[test]
fn patterns_that_can_never_match_are_refused() {
    let typos = [
        "arn:aws:iam::11112222333:user/breakglass-*",   // 11 digits
        "arn:aws:iam::1111222233334:user/breakglass-*", // 13 digits
        "arn:aws:iam:::user/breakglass-*",              // no account
        "arn:aws:IAM::*:user/breakglass-*",             // service in upper case
        "arn:AWS:iam::*:user/breakglass-*",             // partition in upper case
        "arn:aws:iam:us-east-1:*:user/breakglass-*",    // IAM has no region
        "arn:aws:iam::*:users/breakglass-*",            // no such resource type
        "arn:aws:ec2::*:user/breakglass-*",             // not IAM or STS
    ];
    let accepted: Vec<&str> = typos.into_iter().filter(|t| ArnPatterns::parse_list(t).is_ok()).collect();
    assert!(accepted.is_empty(), "{accepted:#?}");
    for fine in [
        "arn:aws:iam::*:user/breakglass-*",
        "arn:*:iam::1111*:role/ops/*",
        "arn:aws-us-gov:iam::111122223333:root",
        "arn:aws:sts::*:federated-user/x",
    ] {
        assert!(ArnPatterns::parse_list(fine).is_ok(), "{fine}");
    }
}

fn principal_of(identity_type: &str) -> Principal {
    let ui = match identity_type {
        "AssumedRole" => json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s", "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app", "userName": "app"}}}),
        "ServiceLinkedRole" => {
            json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
            "accountId": "111122223333", "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
            "userName": "AWSServiceRoleForAutoScaling"}}})
        }
        "IAMUser" => json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u", "accountId": "111122223333", "userName": "u"}),
        _ => json!({"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"}),
    };
    let r = json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "userIdentity": ui}).to_string();
    classify(parse_record(&r).unwrap().user_identity.as_ref()).0
}

proptest! {
    /// No `invokedBy` value makes a user's, root's or customer role's launch an AWS service's
    /// (issue 23: a service acting with the caller's credentials launches for the caller), and
    /// no front end a person drives, `AWS Internal`, or a value that is not a lower-case service
    /// principal makes a service-linked role's launch one.
    #[test]
    fn only_a_service_principal_launches_for_a_service_linked_role(by in "\\PC{0,40}(\\.amazonaws\\.com)?", kind in "IAMUser|Root|AssumedRole") {
        prop_assert!(!is_made_by_aws_service_for(&principal_of(&kind), &by));
        let role = principal_of("ServiceLinkedRole");
        if is_made_by_aws_service_for(&role, &by) {
            let service = by.strip_suffix(".amazonaws.com").unwrap();
            prop_assert!(!service.is_empty() && service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
            prop_assert!(!["signin", "console", "cloudformation", "servicecatalog", "cloudshell"].contains(&service.to_ascii_lowercase().as_str()));
        }
    }
}

#[test]
fn auto_scaling_launching_for_its_service_linked_role_is_a_service_and_the_console_is_not() {
    assert!(!is_made_by_aws_service_for(&principal_of("AssumedRole"), "autoscaling.amazonaws.com"), "a customer role's own");
    let role = principal_of("ServiceLinkedRole");
    assert!(matches!(role, Principal::AssumedRole { service_linked: true, .. }));
    assert!(is_made_by_aws_service_for(&role, "autoscaling.amazonaws.com"));
    for person in ["signin.amazonaws.com", "cloudformation.amazonaws.com", "AWS Internal", "SIGNIN.amazonaws.com", ".amazonaws.com"] {
        assert!(!is_made_by_aws_service_for(&role, person), "{person}");
    }
}
