//! Attacks on the resize routes (rv findings 6 and 1): a resize counts its increase over the
//! size the read showed before, so every way of hiding an increase, or of pinning one on
//! someone else, is tried here against the bundled launch rule (10 instances in 5 minutes first).

use launchguard_core::aggregate::PrincipalActivity;
use launchguard_core::burst::Tracker;
use launchguard_core::evidence::{Answer, Confirmation, confirm};
use launchguard_core::rules::{EC2_MASS_LAUNCH, RuleSet};
use launchguard_core::scan::Scanner;
use launchguard_core::threshold::Assessment;
use serde_json::{Value, json};

const ACCOUNT: &str = "218007301253";

/// A call of role `role` in `region` of `account`, `seconds` after 09:00.
fn call(n: u32, role: &str, account: &str, region: &str, seconds: u32, name: &str, request: Value) -> Value {
    let source = match name {
        "CreateFleet" | "ModifyFleet" => "ec2.amazonaws.com",
        "CreateNodegroup" | "UpdateNodegroupConfig" => "eks.amazonaws.com",
        _ => "autoscaling.amazonaws.com",
    };
    json!({
        "eventVersion": "1.09", "eventTime": format!("2026-03-02T09:{:02}:{:02}Z", seconds / 60, seconds % 60),
        "eventID": format!("5a1e0000-0000-4000-8000-{n:012}"), "awsRegion": region, "eventSource": source, "eventName": name,
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2",
        "userIdentity": {"type": "AssumedRole", "principalId": format!("AROAEXAMPLE{role}:s"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/s"), "accountId": account,
            "accessKeyId": format!("ASIAEXAMPLE{n:09}"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROAEXAMPLE{role}"),
                "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role}}},
        "recipientAccountId": account, "requestParameters": request, "responseElements": null,
    })
}

fn asg(name: &str, desired: Value) -> Value {
    json!({"autoScalingGroupName": name, "desiredCapacity": desired})
}

fn create(name: &str, size: u64) -> Value {
    json!({"autoScalingGroupName": name, "minSize": 0, "maxSize": 100_000, "desiredCapacity": size})
}

fn assess(records: &[Value]) -> Assessment {
    let set = RuleSet::bundled().unwrap();
    let rule = set.get(EC2_MASS_LAUNCH).unwrap();
    let t = rule.thresholds(false);
    let mut s = Scanner::with_sink(rule.event.clone(), None, Tracker::new());
    for r in records {
        s.push_message(&r.to_string());
    }
    s.aggregate.assess(&rule.horizons_with(&t), &t)
}

fn flagged(records: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = assess(records).flagged.iter().map(|f| f.principal.key()).collect();
    v.sort();
    v
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

#[test]
fn an_autoscaler_growing_its_group_by_ones_is_never_flagged_and_its_first_resize_is_shown() {
    // 20 -> 21 -> ... -> 29 in five minutes: 9 instances asked for, one resize of unknown size first
    let records: Vec<Value> = (0..10u32)
        .map(|i| call(i, "cluster-autoscaler", ACCOUNT, "us-east-1", i * 25, "SetDesiredCapacity", asg("nodes", json!(20 + i))))
        .collect();
    let a = assess(&records);
    assert!(a.flagged.is_empty());
    let p: &PrincipalActivity = a.below.iter().find(|p| p.principal.key() == role("cluster-autoscaler")).unwrap();
    assert_eq!(p.activity.instances_requested, 9);
    assert_eq!(p.activity.unknown_prior_resize_calls, 1);
    let shown = &p.activity.unknown_prior_resizes[0];
    assert_eq!((shown.group.as_str(), shown.new_size, shown.region.as_str()), ("nodes", 20, "us-east-1"));
}

#[test]
fn shrinking_and_growing_again_counts_every_growth() {
    let mut records = vec![call(0, "attacker", ACCOUNT, "us-east-1", 0, "CreateAutoScalingGroup", create("g", 0))];
    for i in 0..3u32 {
        records.push(call(1 + 2 * i, "attacker", ACCOUNT, "us-east-1", 10 + 20 * i, "SetDesiredCapacity", asg("g", json!(4))));
        records.push(call(2 + 2 * i, "attacker", ACCOUNT, "us-east-1", 20 + 20 * i, "SetDesiredCapacity", asg("g", json!(0))));
    }
    // 4 + 4 + 4 = 12 in 5 minutes, never more than 4 at once
    assert_eq!(flagged(&records), vec![role("attacker")]);
}

#[test]
fn the_read_order_decides_nothing() {
    let records = vec![
        call(0, "attacker", ACCOUNT, "us-east-1", 0, "CreateAutoScalingGroup", create("g", 1)),
        call(1, "attacker", ACCOUNT, "us-east-1", 30, "SetDesiredCapacity", asg("g", json!(200))),
    ];
    let mut reversed = records.clone();
    reversed.reverse();
    assert_eq!(flagged(&records), vec![role("attacker")]);
    assert_eq!(flagged(&reversed), vec![role("attacker")]);
}

#[test]
fn another_groups_size_never_hides_an_increase() {
    // a victim's group "web" of 1000 in us-east-1; the attacker's "web" elsewhere and "WEB" here
    let victim = call(0, "victim", ACCOUNT, "us-east-1", 0, "CreateAutoScalingGroup", create("web", 1000));
    let cases = [("eu-west-1", ACCOUNT, "web"), ("us-east-1", "999988887777", "web"), ("us-east-1", ACCOUNT, "WEB")];
    for (n, (region, account, name)) in cases.into_iter().enumerate() {
        let n = u32::try_from(n).unwrap() * 10;
        let records = vec![
            victim.clone(),
            call(n + 1, "attacker", account, region, 60, "CreateAutoScalingGroup", create(name, 1)),
            call(n + 2, "attacker", account, region, 90, "SetDesiredCapacity", asg(name, json!(1000))),
        ];
        let who = flagged(&records);
        assert!(who.iter().any(|k| k.ends_with(":role/attacker")), "{region} {account} {name}: {who:?}");
    }
}

#[test]
fn a_size_written_as_a_string_negative_or_huge_is_never_a_way_out() {
    for (n, size) in [json!("1000"), json!(-5), json!(18_446_744_073_709_551_615u64), json!(1e300)].into_iter().enumerate() {
        let n = u32::try_from(n).unwrap() * 10;
        let records = vec![
            call(n + 1, "attacker", ACCOUNT, "us-east-1", 0, "CreateAutoScalingGroup", create("g", 1)),
            call(n + 2, "attacker", ACCOUNT, "us-east-1", 30, "SetDesiredCapacity", asg("g", size.clone())),
        ];
        // a string is read as its number; what is not a count is counted as every threshold
        assert_eq!(flagged(&records), vec![role("attacker")], "{size}");
    }
}

#[test]
fn a_finding_resting_on_a_resize_is_not_confirmed_by_its_record_alone() {
    // the log group shows the group created at 1 (it may be forged: nothing but the log group
    // says so), then grown to 200; CloudTrail's record of the resize, read alone, shows no size
    // before it: the dispatcher is not shown the increase, and only notifies
    let records = vec![
        call(0, "attacker", ACCOUNT, "us-east-1", 0, "CreateAutoScalingGroup", create("g", 1)),
        call(1, "attacker", ACCOUNT, "us-east-1", 30, "SetDesiredCapacity", asg("g", json!(200))),
    ];
    let a = assess(&records);
    let f = &a.flagged[0];
    let answers: Vec<Answer> =
        records.iter().map(|r| Answer { event_id: r["eventID"].as_str().unwrap().to_owned(), record: Some(r.to_string()) }).collect();
    assert!(matches!(confirm(&f.principal, f.evidence.as_ref(), &answers), Confirmation::Unconfirmed { .. }));
    // a create alone confirms as before
    let created = vec![call(5, "builder", ACCOUNT, "us-east-1", 0, "CreateAutoScalingGroup", create("h", 200))];
    let a = assess(&created);
    let f = &a.flagged[0];
    let answers = vec![Answer { event_id: created[0]["eventID"].as_str().unwrap().to_owned(), record: Some(created[0].to_string()) }];
    assert_eq!(confirm(&f.principal, f.evidence.as_ref(), &answers), Confirmation::Confirmed);
}

#[test]
fn a_second_version_of_a_resize_with_another_size_is_a_conflict_not_a_duplicate() {
    // a resize counts 0 by itself: its size must still tell two versions of one event apart
    let real = call(1, "autoscaler", ACCOUNT, "us-east-1", 30, "SetDesiredCapacity", asg("g", json!(21)));
    let mut forged = real.clone();
    forged["requestParameters"]["desiredCapacity"] = json!(900);
    let set = RuleSet::bundled().unwrap();
    let mut s = Scanner::with_sink(set.get(EC2_MASS_LAUNCH).unwrap().event.clone(), None, Tracker::new());
    for r in [&real, &forged, &real] {
        s.push_message(&r.to_string());
    }
    assert_eq!((s.stats.matched, s.stats.conflicting, s.stats.duplicates), (2, 1, 1));
}
