//! Issue 10 case 8: a finding always fits the asynchronous invocation limit once sealed, or is
//! split into parts that do; nothing a containment needs is trimmed while trimming something else
//! is enough; every cut list keeps its full count.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{TimeZone, Utc};
use launchguard_core::aggregate::AccessKeyUse;
use launchguard_core::auth::{Purpose, Sealed};
use launchguard_core::contract::{Finding, FlaggedPrincipal, MAX_PAYLOAD_BYTES};
use launchguard_core::principal::{KeyKind, Principal};
use launchguard_testkit::fixture;
use proptest::prelude::*;
use serde_json::Value;

fn example() -> Finding {
    Finding::parse(serde_json::from_str(&fixture("contract/finding.json")).unwrap()).unwrap()
}

/// The bytes a part takes on the wire: sealed (its JSON escaped into the envelope), with the
/// longest key id an envelope accepts.
fn sealed_len(f: &Finding) -> usize {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 0).unwrap();
    let key_id = "k".repeat(2048);
    Sealed::new(Purpose::Finding, at, &key_id, serde_json::to_string(f).unwrap(), &[0u8; 32]).to_json().len()
}

fn key(id: String) -> AccessKeyUse {
    AccessKeyUse { kind: KeyKind::of(&id), access_key_id: id, calls: 1, launched: 1 }
}

/// `ci-deployer` with 5,000 role sessions, 3,000 session (ASIA) keys and its 2 long-term keys,
/// the long-term keys listed last (the order gives them no advantage).
fn huge_user() -> Finding {
    let mut f = example();
    let mut p: FlaggedPrincipal = f.principals[1].clone();
    let a = &mut p.activity;
    a.session_names = (0..5000).map(|i| format!("botocore-session-{i:010}-padding-to-sixty-four-characters")).collect();
    a.access_keys = (0..3000).map(|i| key(format!("ASIA{i:016}"))).collect();
    a.access_keys.push(key("AKIAEXAMPLEDEPLOYER1".into()));
    a.access_keys.push(key("AKIAEXAMPLEDEPLOYER2".into()));
    f.principals = vec![p];
    f
}

#[test]
fn one_principal_with_thousands_of_sessions_and_keys_fits_keeps_its_long_term_keys_and_counts() {
    // GIVEN a finding far over the limit because of one principal's lists
    let f = huge_user();
    assert!(sealed_len(&f) > MAX_PAYLOAD_BYTES, "the attack must be over the limit to begin with");
    // WHEN it is made ready to send
    let parts = f.into_parts(MAX_PAYLOAD_BYTES);
    // THEN every part fits once sealed, and the principal is sent
    assert!(parts.iter().all(|p| sealed_len(p) <= MAX_PAYLOAD_BYTES), "{:?}", parts.iter().map(sealed_len).collect::<Vec<_>>());
    let sent: Vec<&FlaggedPrincipal> = parts.iter().flat_map(|p| &p.principals).collect();
    assert_eq!(sent.len(), 1);
    let keys: Vec<&str> = sent[0].activity.access_keys.iter().map(|k| k.access_key_id.as_str()).collect();
    assert!(keys.contains(&"AKIAEXAMPLEDEPLOYER1") && keys.contains(&"AKIAEXAMPLEDEPLOYER2"), "{keys:?}");
    // and the full counts are kept
    let a = serde_json::to_value(&sent[0].activity).unwrap();
    assert_eq!(a["totals"]["session_names"], 5000, "{}", a["totals"]);
    assert_eq!(a["totals"]["access_keys"], 3002, "{}", a["totals"]);
    assert!(sent[0].activity.truncated_values >= 5000 - 5 + 3000 - 5);
}

#[test]
fn a_finding_without_cuts_has_no_totals_and_the_fixture_still_round_trips() {
    let f = example();
    let v = serde_json::to_value(&f).unwrap();
    assert!(v["principals"][0]["activity"].get("totals").is_none());
    assert_eq!(Finding::parse(v).unwrap(), f);
}

#[test]
fn thousands_of_long_term_keys_are_cut_only_when_nothing_else_is_left_to_cut() {
    // GIVEN one principal whose long-term keys alone are over the limit (hostile data)
    let mut f = huge_user();
    f.principals[0].activity.access_keys = (0..12_000).map(|i| key(format!("AKIA{i:016}"))).collect();
    // WHEN it is made ready to send
    let parts = f.into_parts(MAX_PAYLOAD_BYTES);
    // THEN it is still sent, in a part that fits, with every other list emptied first
    assert!(parts.iter().all(|p| sealed_len(p) <= MAX_PAYLOAD_BYTES));
    let a = &parts[0].principals[0].activity;
    assert!(a.session_names.is_empty() && a.user_agents.is_empty() && a.source_ips.is_empty());
    assert!(!a.access_keys.is_empty() && a.access_keys.len() < 12_000);
    assert_eq!(serde_json::to_value(a).unwrap()["totals"]["access_keys"], 12_000);
}

fn arb_finding() -> impl Strategy<Value = (Finding, usize)> {
    (0usize..40, 0usize..3000, 0usize..3000, 0usize..400, 0usize..4, 0usize..200, 0usize..30).prop_map(
        |(principals, sessions, temp_keys, agents, long_keys, ids, excluded)| {
            let mut f = example();
            let template = f.principals[1].clone();
            let make = |i: usize| {
                let mut p = template.clone();
                p.principal = Principal::IamUser {
                    arn: format!("arn:aws:iam::111122223333:user/u{i}"),
                    arn_derived: false,
                    user_name: format!("u{i}"),
                    account_id: "111122223333".into(),
                };
                let a = &mut p.activity;
                a.session_names = (0..sessions).map(|k| format!("s\"{i}\\{k}")).collect();
                a.access_keys = (0..temp_keys).map(|k| key(format!("ASIA{i:06}{k:010}"))).collect();
                a.access_keys.extend((0..long_keys).map(|k| key(format!("AKIA{i:06}{k:010}"))));
                a.user_agents = (0..agents).map(|k| format!("agent/{k} {}", "x".repeat(200))).collect();
                a.source_ips = (0..agents).map(|k| format!("10.0.{}.{}", k / 256, k % 256)).collect();
                a.instance_ids = (0..ids).map(|k| format!("i-{i:08x}{k:09x}")).collect();
                p
            };
            f.principals = (0..principals.max(1)).map(make).collect();
            f.excluded = (1000..1000 + excluded).map(make).collect();
            (f, long_keys)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn fit_never_panics_and_every_part_fits((f, long_keys) in arb_finding()) {
        let principals = f.principals.len();
        let excluded = f.excluded.len();
        let mut whole = f.clone();
        if whole.fit(MAX_PAYLOAD_BYTES) {
            prop_assert!(sealed_len(&whole) <= MAX_PAYLOAD_BYTES);
        }
        let parts = f.into_parts(MAX_PAYLOAD_BYTES);
        for p in &parts {
            prop_assert!(sealed_len(p) <= MAX_PAYLOAD_BYTES, "a part of {} bytes", sealed_len(p));
            prop_assert!(Finding::parse(serde_json::to_value(p).unwrap()).is_ok());
            prop_assert!(!p.principals.is_empty(), "a part of excluded principals only");
        }
        // nobody is lost, every long-term key is kept (at most 3 a principal: dropping them is
        // avoidable), and a cut key list keeps its full count
        prop_assert_eq!(parts.iter().map(|p| p.principals.len()).sum::<usize>(), principals);
        prop_assert_eq!(parts.iter().map(|p| p.excluded.len()).sum::<usize>(), excluded);
        for p in parts.iter().flat_map(|p| &p.principals) {
            let long = p.activity.access_keys.iter().filter(|k| k.kind == KeyKind::LongTerm).count();
            prop_assert_eq!(long, long_keys);
            let v: Value = serde_json::to_value(&p.activity).unwrap();
            let total = v["totals"]["access_keys"].as_u64().map_or(p.activity.access_keys.len() as u64, |n| n);
            prop_assert!(total >= p.activity.access_keys.len() as u64);
        }
    }
}

#[test]
fn the_per_minute_timeline_is_dropped_first_and_counted() {
    use launchguard_core::aggregate::MinuteLaunches;
    // GIVEN a finding just over the limit because of its per-minute timelines only
    let mut f = example();
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    let minutes: std::collections::BTreeMap<_, _> =
        (0..240).map(|i| (start + chrono::Duration::minutes(i), MinuteLaunches { calls: 1, launched: 2, requested: 3 })).collect();
    while sealed_len(&f) <= MAX_PAYLOAD_BYTES {
        let mut p = f.principals[0].clone();
        p.activity.launches_per_minute = minutes.clone();
        f.principals.push(p);
    }
    let user_agents: Vec<_> = f.principals.iter().map(|p| p.activity.user_agents.clone()).collect();
    // WHEN it is made to fit
    assert!(f.fit(MAX_PAYLOAD_BYTES));
    // THEN the timelines are gone (their size in totals), and nothing else was cut
    for (p, agents) in f.principals.iter().zip(user_agents) {
        assert!(p.activity.launches_per_minute.is_empty());
        assert_eq!(p.activity.user_agents, agents);
    }
    assert_eq!(serde_json::to_value(&f.principals.last().unwrap().activity).unwrap()["totals"]["launches_per_minute"], 240);
}
