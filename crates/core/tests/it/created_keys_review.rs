//! Review of issue 13 part 2 (created access keys): what the detector puts in
//! `activity.created`, from an attacker's records. A failing test is a finding.

#![allow(clippy::unwrap_used)]

use launchguard_core::created::{Created, MAX_CREATED};
use launchguard_core::rules::RuleSet;
use launchguard_core::scan::Scanner;
use serde_json::json;

fn record(i: usize, key: &str, user: &str) -> String {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAMALLORY", "arn": "arn:aws:iam::111122223333:user/mallory",
            "accountId": "111122223333", "accessKeyId": "AKIAMALLORYSTOLEN001", "userName": "mallory"},
        "eventTime": format!("2026-11-22T05:{:02}:{:02}Z", 20 + i / 60, i % 60),
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
        "requestParameters": {"userName": user},
        "responseElements": {"accessKey": {"accessKeyId": key, "status": "Active", "userName": user, "createDate": "Nov 22, 2026 5:20:00 AM"}},
        "eventID": format!("00000000-0000-0000-0000-{i:012}"), "readOnly": false, "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
    .to_string()
}

/// DODGE: `created` keeps the first `MAX_CREATED` (100) things in call order. mallory, with its
/// stolen key, runs CreateAccessKey + DeleteAccessKey 100 times on a throwaway user (each key
/// is new, so each is kept), then creates the key it keeps for `backdoor`. That key is not in the
/// finding, so the dispatcher never deactivates it; the drop is only counted in
/// `truncated_values` (not in `totals["created"]`, which the notification's "and N more" reads).
#[test]
fn review_the_key_after_100_throwaway_keys_is_still_in_the_finding() {
    let set = RuleSet::bundled().unwrap();
    let rule = set.get("iam-access-key-burst").unwrap();
    let mut scan = Scanner::new(rule.event.clone(), None);
    for i in 0..MAX_CREATED {
        scan.push_message(&record(i, &format!("AKIATHROWAWAY{i:07}"), "tmp"));
    }
    scan.push_message(&record(MAX_CREATED, "AKIABACKDOORKEPT0001", "backdoor"));
    let p = &scan.aggregate.into_sorted()[0];
    assert_eq!(p.activity.calls as usize, MAX_CREATED + 1);
    let kept =
        p.activity.created.iter().any(|c| matches!(c, Created::AccessKey { access_key_id, .. } if access_key_id == "AKIABACKDOORKEPT0001"));
    assert!(
        kept,
        "the persistence key is dropped from `created` (created: {}, truncated_values: {}, totals: {:?})",
        p.activity.created.len(),
        p.activity.truncated_values,
        p.activity.totals
    );
}

mod props {
    use launchguard_core::aggregate::AccessKeyUse;
    use launchguard_core::contract::{Finding, MAX_PAYLOAD_BYTES};
    use launchguard_core::created::{Created, created};
    use launchguard_core::principal::KeyKind;
    use launchguard_core::record::parse_record;
    use proptest::prelude::*;
    use serde_json::json;

    fn finding() -> Finding {
        Finding::parse(serde_json::from_str(&launchguard_testkit::fixture("contract/finding.json")).unwrap()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// SOUND (checked): however large the rest of a principal's activity (session keys, user
        /// agents), cutting a finding to the payload limit keeps every created access key.
        #[test]
        fn fit_keeps_every_created_key(keys in 0usize..=100, sessions in 0u64..4000, agents in 0usize..400) {
            let mut f = finding();
            let at = f.created_at;
            let a = &mut f.principals[0].activity;
            a.created = (0..keys).map(|i| Created::AccessKey {
                access_key_id: format!("AKIACREATED{i:09}"), user_name: format!("u{i}"), created_at: at }).collect();
            a.access_keys.extend((0..sessions).map(|k| AccessKeyUse { access_key_id: format!("ASIA{k:016}"), kind: KeyKind::Temporary, calls: 1, launched: 0 }));
            a.user_agents.extend((0..agents).map(|i| format!("{i}{}", "x".repeat(2000))));
            let parts = f.into_parts(MAX_PAYLOAD_BYTES);
            let carried: usize = parts.iter().flat_map(|p| &p.principals)
                .map(|p| p.activity.created.iter().filter(|c| matches!(c, Created::AccessKey { .. })).count()).sum();
            prop_assert_eq!(carried, keys);
        }

        /// No eventTime text makes `created` panic; what it reads is the record's instant in UTC
        /// (the same the window check reads).
        #[test]
        fn created_at_is_the_records_instant(t in prop_oneof![
            ".{0,40}",
            (1970i32..2100, 1u32..13, 1u32..29, 0u32..24, -14i32..15).prop_map(|(y, mo, d, h, off)|
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:00:00{}", if off == 0 { "Z".to_owned() } else { format!("{off:+03}:00") })),
            Just("+262142-12-31T23:59:59Z".to_owned()),
            Just("-262143-01-01T00:00:00Z".to_owned()),
        ]) {
            let text = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "eventTime": t,
                "responseElements": {"accessKey": {"accessKeyId": "AKIATFQR7NSCQLA2F4OD", "userName": "victim"}}}).to_string();
            if let Ok(r) = parse_record(&text)
                && let Some(c) = created(&r)
            {
                prop_assert_eq!(Some(c.created_at().timestamp_millis()), r.time_ms());
            }
        }
    }
}
