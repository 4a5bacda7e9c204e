//! CloudTrail records of every dataset shape, principal classification and launch counting.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeMap;

use launchguard_core::launch::launch_facts;
use launchguard_core::principal::{Principal, classify};
use launchguard_core::query::EventRule;
use launchguard_core::record::{CloudTrailRecord, parse_document, parse_record};
use launchguard_testkit::{fixture, fixture_dir};

fn records_of_dir(rel: &str) -> (usize, usize, Vec<String>) {
    let mut ok = 0;
    let mut bad = 0;
    let mut kinds = Vec::new();
    for (name, text) in fixture_dir(rel) {
        let batch = parse_document(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        ok += batch.records.len();
        bad += batch.errors.len();
        for r in &batch.records {
            let (p, _) = classify(r.user_identity.as_ref());
            kinds.push(kind(&p).to_owned());
        }
    }
    (ok, bad, kinds)
}

fn kind(p: &Principal) -> &'static str {
    match p {
        Principal::IamUser { .. } => "iam_user",
        Principal::AssumedRole { service_linked: true, .. } => "service_linked_role",
        Principal::AssumedRole { .. } => "assumed_role",
        Principal::Root { .. } => "root",
        Principal::FederatedUser { .. } => "federated_user",
        Principal::IdentityCenterUser { .. } => "identity_center_user",
        Principal::AwsService { .. } => "aws_service",
        Principal::Unknown { .. } => "unknown",
    }
}

fn count(kinds: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in kinds {
        *m.entry(k.clone()).or_default() += 1;
    }
    m
}

#[test]
fn invictus_delivery_files_parse_completely_with_the_documented_identity_mix() {
    let (ok, bad, kinds) = records_of_dir("cloudtrail/invictus");
    assert_eq!((ok, bad), (2900, 0));
    let c = count(&kinds);
    // datasets/README: IAMUser 2,748, AssumedRole 76, AWSService 34 (+ 42 with only invokedBy)
    assert_eq!(c.get("iam_user"), Some(&2748));
    assert_eq!(c.get("assumed_role").copied().unwrap_or(0) + c.get("service_linked_role").copied().unwrap_or(0), 76);
    assert_eq!(c.get("aws_service"), Some(&(34 + 42)));
    assert_eq!(c.get("unknown"), None, "{c:?}");
}

#[test]
fn every_other_shape_parses() {
    // JSON arrays (stratus), converted test logs (panther), EventBridge envelopes (custodian), JSON lines (OTRF)
    let (ok, bad, _) = records_of_dir("cloudtrail/stratus");
    assert_eq!((ok, bad), (310, 0));
    let (ok, bad, kinds) = records_of_dir("cloudtrail/panther");
    assert!(ok >= 90, "{ok}");
    assert_eq!(bad, 0);
    let c = count(&kinds);
    assert!(c.get("root").copied().unwrap_or(0) >= 10, "{c:?}");
    assert!(c.get("federated_user").copied().unwrap_or(0) >= 1, "{c:?}");
    assert!(c.get("service_linked_role").copied().unwrap_or(0) >= 1, "{c:?}");
    let (ok, bad, kinds) = records_of_dir("cloudtrail/custodian");
    assert_eq!((ok, bad), (3, 0));
    assert_eq!(count(&kinds).len(), 3, "root, IAM user and assumed role: {kinds:?}");
    let otrf = fixture("cloudtrail/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json");
    let batch = parse_document(&otrf).expect("JSON lines");
    assert_eq!((batch.records.len(), batch.errors.len()), (103, 0));
    // Logstash exports carry @timestamp instead of eventTime
    assert!(batch.records.iter().all(|r| r.time_ms().is_some()));
}

#[test]
fn stratus_federation_token_is_a_federated_user() {
    let text = fixture("cloudtrail/stratus/aws.persistence.sts-federation-token.json");
    let batch = parse_document(&text).unwrap();
    let feds: Vec<Principal> = batch
        .records
        .iter()
        .map(|r| classify(r.user_identity.as_ref()).0)
        .filter(|p| matches!(p, Principal::FederatedUser { .. }))
        .collect();
    assert!(!feds.is_empty());
}

fn run_instances(rel_dir: &str) -> Vec<(String, CloudTrailRecord<'static>)> {
    let rule = EventRule::run_instances();
    let mut out = Vec::new();
    for (name, text) in fixture_dir(rel_dir) {
        let text: &'static str = Box::leak(text.into_boxed_str());
        for r in parse_document(text).unwrap().records {
            if rule.matches(&r) {
                out.push((name.clone(), r));
            }
        }
    }
    out
}

#[test]
fn invictus_launches_are_counted_in_instances_not_calls() {
    let launches = run_instances("cloudtrail/invictus");
    assert_eq!(launches.len(), 8);
    let mut by_code: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for (_, r) in &launches {
        let f = launch_facts(r);
        let e = by_code.entry(f.error_code.clone().unwrap_or_else(|| "ok".into())).or_default();
        e.0 += 1;
        e.1 += f.launched;
        e.2 += f.requested;
        if f.error_code.is_none() {
            assert_eq!(f.instance_ids.len() as u64, f.launched);
            assert!(f.instance_ids.iter().all(|i| i.starts_with("i-")));
            assert!(f.instance_types.contains(&"t3.micro".to_string()));
            let (p, s) = classify(r.user_identity.as_ref());
            assert!(matches!(&p, Principal::IamUser { user_name, arn_derived: false, .. } if user_name == "bert-jan"), "{p:?}");
            assert!(s.access_key_id.unwrap().starts_with("AKIA"));
        }
    }
    assert_eq!(by_code["ok"], (2, 2, 2));
    assert_eq!(by_code["Client.InvalidParameterValue"].0, 4);
    assert_eq!(by_code["Client.InvalidParameterValue"].1, 0);
    // two p2.xlarge attempts with maxCount 10 stopped by the vCPU limit: 20 requested, 0 launched
    assert_eq!(by_code["Client.VcpuLimitExceeded"], (2, 0, 20));
}

#[test]
fn dry_runs_are_not_launches_and_failures_are_counted_apart() {
    let launches = run_instances("cloudtrail/panther");
    let facts: Vec<_> = launches.iter().map(|(_, r)| launch_facts(r)).collect();
    let dry: Vec<_> = facts.iter().filter(|f| f.dry_run).collect();
    assert_eq!(dry.len(), 2);
    assert!(dry.iter().all(|f| f.launched == 0 && f.requested == 0 && !f.failed));
    let unauthorized: Vec<_> = facts.iter().filter(|f| f.error_code.as_deref() == Some("Client.UnauthorizedOperation")).collect();
    assert_eq!(unauthorized.len(), 1);
    assert!(unauthorized[0].failed && unauthorized[0].launched == 0);
    // stratus: p2.xlarge maxCount 10 by an assumed role, unauthorized
    let s = run_instances("cloudtrail/stratus");
    assert_eq!(s.len(), 1);
    let f = launch_facts(&s[0].1);
    assert_eq!((f.failed, f.launched, f.requested), (true, 0, 10));
    let (p, sess) = classify(s[0].1.user_identity.as_ref());
    assert!(matches!(p, Principal::AssumedRole { service_linked: false, .. }));
    assert!(sess.access_key_id.unwrap().starts_with("ASIA"));
}

#[test]
fn auto_scaling_launch_is_a_service_linked_role_with_its_service() {
    let launches = run_instances("cloudtrail/panther");
    let asg: Vec<_> = launches
        .iter()
        .map(|(_, r)| classify(r.user_identity.as_ref()))
        .filter(|(p, _)| matches!(p, Principal::AssumedRole { service_linked: true, .. }))
        .collect();
    assert!(asg.iter().any(|(_, s)| s.invoked_by.as_deref() == Some("autoscaling.amazonaws.com")));
    for (p, s) in asg {
        assert!(p.is_aws_service());
        // Auto Scaling, and in the real data also an EKS node group's service-linked role
        assert!(s.invoked_by.as_deref().is_some_and(|b| b.ends_with(".amazonaws.com")), "{s:?}");
        let Principal::AssumedRole { role_arn, role_arn_derived, .. } = p else { unreachable!() };
        assert!(role_arn.contains(":role/aws-service-role/"), "{role_arn}");
        assert!(!role_arn_derived);
    }
}

#[test]
fn eventbridge_records_classify_root_user_and_role() {
    let mut seen = Vec::new();
    for (_, r) in run_instances("cloudtrail/custodian") {
        let (p, s) = classify(r.user_identity.as_ref());
        seen.push(kind(&p));
        if let Principal::AssumedRole { role_arn, account_id, .. } = &p {
            // the record's accountId (076173845600) disagrees with the issuer ARN: the ARN's account wins,
            // because that is where an action would land
            assert_eq!(role_arn, "arn:aws:iam::03412312600:role/GR_Dev_Developer");
            assert_eq!(account_id, "03412312600");
            assert_eq!(s.session_name.as_deref(), Some("Radiant"));
        }
    }
    seen.sort();
    assert_eq!(seen, vec!["assumed_role", "iam_user", "root"]);
}

#[test]
fn derived_arns_are_marked() {
    let r = parse_record(r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","userIdentity":{"type":"IAMUser","accountId":"111122223333","userName":"alice","accessKeyId":"AKIAEXAMPLEEXAMPLE01"}}"#).unwrap();
    let (p, _) = classify(r.user_identity.as_ref());
    assert_eq!(
        p,
        Principal::IamUser {
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            arn_derived: true,
            user_name: "alice".into(),
            account_id: "111122223333".into()
        }
    );
    let r = parse_record(r#"{"eventName":"RunInstances","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Dev/s1","accountId":"111122223333"}}"#).unwrap();
    let (p, s) = classify(r.user_identity.as_ref());
    assert!(
        matches!(&p, Principal::AssumedRole { role_arn, role_arn_derived: true, role_name, .. } if role_arn == "arn:aws:iam::111122223333:role/Dev" && role_name == "Dev")
    );
    assert_eq!(s.session_name.as_deref(), Some("s1"));
    // nothing to go on: unknown, kept raw
    let r = parse_record(r#"{"eventName":"RunInstances","userIdentity":{"type":"IAMUser"}}"#).unwrap();
    assert!(matches!(classify(r.user_identity.as_ref()).0, Principal::Unknown { .. }));
    let r = parse_record(r#"{"eventName":"RunInstances"}"#).unwrap();
    assert!(matches!(classify(r.user_identity.as_ref()).0, Principal::Unknown { raw_type: None, .. }));
}

#[test]
fn malformed_records_are_counted_not_fatal() {
    let good = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2023-07-10T12:00:00Z"}"#;
    let doc = format!("[{good}, {{\"eventName\": 5}}, {{\"userIdentity\": \"nope\", \"eventName\": \"RunInstances\"}}, {{}}, 7, {good}]");
    let b = parse_document(&doc).unwrap();
    assert_eq!(b.records.len(), 2);
    assert_eq!(b.errors.iter().map(|e| e.index).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    // JSON lines with a truncated line
    let lines = format!("{good}\n{{\"eventName\": \"RunIn\n{good}\n");
    let b = parse_document(&lines).unwrap();
    assert_eq!((b.records.len(), b.errors.len()), (2, 1));
    // not JSON at all
    assert!(parse_document("hello\nworld").is_err());
    assert!(parse_document("").is_err());
    // a request with an unexpected shape is flagged, not a crash
    let r =
        parse_record(r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","requestParameters":{"instancesSet":"x"}}"#).unwrap();
    assert!(launch_facts(&r).malformed);
    // counts written as strings are still counted
    let r = parse_record(r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","errorCode":"Client.VcpuLimitExceeded","requestParameters":{"instancesSet":{"items":[{"maxCount":"25"}]}}}"#).unwrap();
    assert_eq!(launch_facts(&r).requested, 25);
}

#[test]
fn invictus_per_minute_timeline_adds_up_to_each_principals_totals() {
    use launchguard_core::aggregate::Aggregate;
    // GIVEN the invictus launch records (one IAM user, two roles; failures and launches)
    let launches = run_instances("cloudtrail/invictus");
    let mut agg = Aggregate::new();
    for (_, r) in &launches {
        let t = launchguard_core::time::parse_timestamp(r.event_time.as_deref().unwrap()).unwrap();
        agg.add(r, t.timestamp_millis());
    }
    // WHEN they are aggregated
    let principals = agg.into_sorted();
    // THEN each principal's minutes add up to its calls, launches and requests, every minute is
    // a whole minute inside its first and last call
    assert!(principals.len() >= 2);
    for p in &principals {
        let a = &p.activity;
        let m = &a.launches_per_minute;
        assert!(!m.is_empty(), "{:?}", p.principal);
        assert_eq!(m.values().map(|v| v.calls).sum::<u64>(), a.calls);
        assert_eq!(m.values().map(|v| v.launched).sum::<u64>(), a.instances_launched);
        assert_eq!(m.values().map(|v| v.requested).sum::<u64>(), a.instances_requested);
        for t in m.keys() {
            assert_eq!(t.timestamp() % 60, 0);
            assert!(*t <= a.last_seen && *t + chrono::Duration::minutes(1) > a.first_seen, "{t}");
        }
    }
}
