//! Aggregation, de-duplication and thresholds on real background traffic with injected bursts.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{Duration, TimeZone, Utc};
use launchguard_core::aggregate::Aggregate;
use launchguard_core::contract::finding_id;
use launchguard_core::principal::{KeyKind, Principal};
use launchguard_core::query::EventRule;
use launchguard_core::record::parse_record;
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Thresholds;
use launchguard_core::window::TimeWindow;
use launchguard_testkit::{invictus_background, messages, run_instances_template, shift_to, standard_bursts};
use serde_json::Value;

const ACCOUNT: &str = "218007301253";

fn scenario() -> (Vec<Value>, TimeWindow) {
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap();
    let mut records = invictus_background();
    shift_to(&mut records, start);
    let t = run_instances_template();
    let at = start + Duration::minutes(20);
    let bursts = standard_bursts(ACCOUNT, at);
    for (i, b) in bursts.iter().enumerate() {
        records.extend(b.records(&t, i as u32));
    }
    let window = TimeWindow::new(start, start + Duration::hours(1)).unwrap();
    (records, window)
}

#[test]
fn exactly_the_user_and_the_role_are_flagged_with_their_counts_and_keys() {
    let (records, window) = scenario();
    let mut scan = Scanner::new(EventRule::run_instances(), Some(window));
    for m in messages(&records) {
        scan.push_message(&m);
    }
    assert_eq!(scan.stats.rows, records.len() as u64);
    assert_eq!(scan.stats.unparseable, 0);
    // 8 real launches + 3 + 5 + 3 + 2 injected
    assert_eq!(scan.stats.matched, 8 + 13);
    let a = Thresholds::default().assess(scan.aggregate.into_sorted());
    let flagged: Vec<(String, u64, u64)> =
        a.flagged.iter().map(|f| (f.principal.label(), f.activity.instances_launched, f.activity.calls)).collect();
    // The injected user and role, and the two real roles of the background that each tried to
    // start 10 p2.xlarge (stratus-red-team's unusual-instances technique, stopped by the vCPU limit).
    assert_eq!(
        flagged,
        vec![
            ("role DataScience".to_string(), 15, 5),
            ("IAM user ci-deployer".to_string(), 12, 3),
            ("role stratus-red-team-ec2lui-role-pcccexdthk".to_string(), 0, 1),
            ("role stratus-red-team-ec2lui-role-wuzemnoeqa".to_string(), 0, 1),
        ]
    );
    let user = &a.flagged[1];
    assert_eq!(user.activity.access_keys.len(), 1);
    assert_eq!(user.activity.access_keys[0].access_key_id, "AKIAEXAMPLEDEPLOYER1");
    assert_eq!(user.activity.access_keys[0].kind, KeyKind::LongTerm);
    assert_eq!(user.activity.instance_ids.len(), 12);
    let role = &a.flagged[0];
    assert_eq!(role.activity.access_keys[0].kind, KeyKind::Temporary);
    assert!(role.activity.session_names.contains("mallory"));
    // Auto Scaling crossed the threshold but is AWS itself
    assert_eq!(a.excluded.len(), 1);
    assert!(a.excluded[0].principal.is_aws_service());
    assert_eq!(a.excluded[0].activity.instances_launched, 30);
    // benign user and the real background (bert-jan's 2, the vCPU-limited role's 20 requested!) below or flagged?
    let below: Vec<String> = a.below.iter().map(|p| p.principal.label()).collect();
    assert!(below.contains(&"IAM user benign".to_string()), "{below:?}");
    assert!(below.contains(&"IAM user bert-jan".to_string()), "{below:?}");
}

#[test]
fn the_real_vcpu_limited_roles_are_flagged_on_requested_instances_alone() {
    // Background only: two roles each asked for 10 p2.xlarge and were stopped by the vCPU limit.
    let records = invictus_background();
    let mut scan = Scanner::new(EventRule::run_instances(), None);
    for m in messages(&records) {
        scan.push_message(&m);
    }
    let a = Thresholds::default().assess(scan.aggregate.into_sorted());
    assert_eq!(a.flagged.len(), 2, "{:?}", a.flagged);
    for f in &a.flagged {
        assert!(matches!(f.principal, Principal::AssumedRole { .. }));
        assert_eq!((f.activity.instances_launched, f.activity.instances_requested), (0, 10));
        assert!(f.activity.error_codes.contains_key("Client.VcpuLimitExceeded"));
        assert_eq!(f.reasons, vec!["requested 10 instances (threshold 10)".to_string()]);
    }
}

#[test]
fn records_outside_the_window_and_other_events_are_rechecked_client_side() {
    let (records, window) = scenario();
    // a window that ends before the bursts start
    let early = TimeWindow::new(window.start, window.start + Duration::minutes(10)).unwrap();
    let mut scan = Scanner::new(EventRule::run_instances(), Some(early));
    for m in messages(&records) {
        scan.push_message(&m);
    }
    let a = Thresholds::default().assess(scan.aggregate.into_sorted());
    assert!(a.flagged.is_empty());
    assert_eq!(scan.stats.outside_window + scan.stats.matched, 8 + 13);
    assert!(scan.stats.outside_window >= 13);
}

#[test]
fn one_key_is_one_principal_even_when_an_identity_is_incomplete() {
    let mut agg = Aggregate::new();
    let full = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2026-11-22T05:00:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice","accessKeyId":"AKIAEXAMPLEALICE0001"},"requestParameters":{"instancesSet":{"items":[{"maxCount":6}]}}}"#;
    let partial = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2026-11-22T05:00:09Z","userIdentity":{"accessKeyId":"AKIAEXAMPLEALICE0001"},"requestParameters":{"instancesSet":{"items":[{"maxCount":6}]}}}"#;
    let second_key = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2026-11-22T05:01:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice","accessKeyId":"AKIAEXAMPLEALICE0002"}}"#;
    let stolen = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2026-11-22T05:02:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","userName":"bob","accessKeyId":"AKIAEXAMPLEALICE0001"}}"#;
    for (i, text) in [full, partial, second_key, stolen].iter().enumerate() {
        let r = parse_record(text).unwrap();
        agg.add(&r, r.time_ms().unwrap_or(i as i64));
    }
    let ps = agg.principals();
    assert_eq!(ps.len(), 2, "alice and bob; the partial record joined alice through her key");
    let alice = &ps[0].activity;
    assert_eq!(alice.calls, 3);
    // 6 + 6, and a successful call that does not say how many it asked for counts as every
    // instances threshold (rvd finding 3: what it launched is not known)
    assert_eq!(alice.instances_requested, 12 + launchguard_core::launch::OMITTED_COUNT);
    assert_eq!(alice.launches_count_omitted, 1);
    assert_eq!(alice.malformed_records, 1);
    assert_eq!(
        alice.access_keys.iter().map(|k| k.access_key_id.as_str()).collect::<Vec<_>>(),
        vec!["AKIAEXAMPLEALICE0001", "AKIAEXAMPLEALICE0002"]
    );
    assert_eq!(agg.key_conflicts.len(), 1);
    assert_eq!(agg.key_conflicts[0].other_principal, "arn:aws:iam::111122223333:user/bob");
}

#[test]
fn finding_ids_are_deterministic_and_order_independent() {
    let w =
        TimeWindow::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap()).unwrap();
    let a = Principal::Root { arn: "arn:aws:iam::111122223333:root".into(), account_id: "111122223333".into() };
    let b = Principal::AwsService { service: "x.amazonaws.com".into() };
    let id1 = finding_id("d", "111122223333", &w, &[a.clone(), b.clone()]);
    let id2 = finding_id("d", "111122223333", &w, &[b.clone(), a.clone()]);
    assert_eq!(id1, id2);
    assert!(id1.starts_with("lg-") && id1.len() == 35);
    assert_ne!(id1, finding_id("d", "111122223333", &w, std::slice::from_ref(&a)));
    assert_ne!(id1, finding_id("other", "111122223333", &w, &[a, b]));
}

#[test]
fn thresholds_are_configurable() {
    let (records, window) = scenario();
    let mut scan = Scanner::new(EventRule::run_instances(), Some(window));
    for m in messages(&records) {
        scan.push_message(&m);
    }
    let principals = scan.aggregate.into_sorted();
    // AWS itself flagged too: its own calls and the calls AWS services made on a role's behalf
    let strict = Thresholds {
        min_instances: 2,
        min_failed_calls: Some(4),
        exclude_aws_services: false,
        contain_invoked_by_aws_service: true,
        ..Thresholds::default()
    };
    let a = strict.assess(principals.clone());
    let labels: Vec<String> = a.flagged.iter().map(|f| f.principal.label()).collect();
    assert!(labels.contains(&"IAM user benign".to_string()));
    assert!(labels.iter().any(|l| l.starts_with("service-linked role")));
    assert!(a.excluded.is_empty());
    // bert-jan: 2 launched plus 4 failed calls
    let bert = a.flagged.iter().find(|f| f.principal.label() == "IAM user bert-jan").expect("bert-jan flagged");
    assert_eq!(bert.reasons.len(), 2, "{:?}", bert.reasons);
    let lax = Thresholds { min_instances: 100, ..Thresholds::default() };
    assert!(lax.assess(principals).flagged.is_empty());
}

#[test]
fn the_same_record_read_twice_is_counted_once() {
    let (records, window) = scenario();
    let mut scan = Scanner::new(EventRule::run_instances(), Some(window));
    let msgs = messages(&records);
    for m in msgs.iter().chain(msgs.iter()) {
        scan.push_message(m);
    }
    assert_eq!(scan.stats.matched, 8 + 13);
    assert_eq!(scan.stats.duplicates, 8 + 13);
}

#[test]
fn a_launch_with_an_unexpected_shape_is_still_counted_and_flagged_malformed() {
    let mut scan = Scanner::new(EventRule::run_instances(), None);
    let odd = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2026-11-22T05:00:00Z","eventID":"e1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice","accessKeyId":"AKIAEXAMPLEALICE0001"},"requestParameters":{"instancesSet":"unexpected"},"responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}}"#;
    scan.push_message(odd);
    assert_eq!(scan.stats.matched, 1);
    let p = &scan.aggregate.principals()[0];
    assert_eq!(p.activity.malformed_records, 1);
    assert_eq!(p.activity.instances_launched, 2, "the readable part still counts");
}
