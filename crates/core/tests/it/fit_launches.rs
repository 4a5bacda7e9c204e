//! Found by a review (issue 12): a finding over the payload limit lost every principal's
//! launch records, so LG_EC2_ACTION=stop|terminate planned no EC2 action at all.

#![allow(clippy::unwrap_used)]

use launchguard_core::aggregate::{AccessKeyUse, LaunchedInstance};
use launchguard_core::contract::{Finding, MAX_PAYLOAD_BYTES};
use launchguard_core::principal::KeyKind;

fn finding() -> Finding {
    Finding::parse(serde_json::from_str(&launchguard_testkit::fixture("contract/finding.json")).unwrap()).unwrap()
}

/// `n` session keys (`ASIA…`) of one call each: what a principal that signs every call with a fresh
/// `GetSessionToken` key leaves in `access_keys`.
fn session_keys(n: u64) -> impl Iterator<Item = AccessKeyUse> {
    (0..n).map(|k| AccessKeyUse { access_key_id: format!("ASIA{k:016}"), kind: KeyKind::Temporary, calls: 1, launched: 0 })
}

/// An attacker with one stolen IAM user key launches 300 instances, each RunInstances call
/// signed with a fresh GetSessionToken key (ASIA…): `access_keys` is unbounded, so the
/// finding goes over 252 KiB sealed. `fit` then clears `launches` of EVERY principal (keeping all
/// keys) and the dispatcher plans no stop.
#[test]
fn an_oversized_finding_still_carries_the_launches() {
    let mut f = finding();
    let idx = f.principals.iter().position(|p| !p.activity.launches.is_empty()).unwrap();
    let tmpl = f.principals[idx].activity.launches[0].clone();
    let a = &mut f.principals[idx].activity;
    a.launches = (0..300u64)
        .map(|k| LaunchedInstance { instance_id: format!("i-0{k:016x}"), reservation_id: Some(format!("r-0{k:016x}")), ..tmpl.clone() })
        .collect();
    a.instance_ids = a.launches.iter().map(|l| l.instance_id.clone()).collect();
    a.instances_launched = 300;
    // 3,000 calls, one session key each (sts:GetSessionToken needs no extra permission)
    a.access_keys.extend(session_keys(3000));
    let parts = f.into_parts(MAX_PAYLOAD_BYTES);
    let carried: usize = parts.iter().flat_map(|p| &p.principals).map(|p| p.activity.launches.len()).sum();
    assert_eq!(carried, 300, "{} part(s); launch records carried: {carried} of 300", parts.len());
}

/// Not hostile at all: three principals of one finding with 500 instances each (no list but the launches is large).
#[test]
fn three_large_launchers_keep_their_launches() {
    let mut f = finding();
    let idx = f.principals.iter().position(|p| !p.activity.launches.is_empty()).unwrap();
    let tmpl = f.principals[idx].activity.launches[0].clone();
    let base = f.principals[idx].clone();
    f.principals = (0..3u64)
        .map(|n| {
            let mut p = base.clone();
            p.principal = launchguard_core::principal::Principal::IamUser {
                arn: format!("arn:aws:iam::111122223333:user/u{n}"),
                arn_derived: false,
                user_name: format!("u{n}"),
                account_id: "111122223333".into(),
            };
            p.activity.launches = (0..500u64)
                .map(|k| LaunchedInstance {
                    instance_id: format!("i-{n}{k:016x}"),
                    reservation_id: Some(format!("r-{n}{k:016x}")),
                    request_id: Some("4f0e8a1c-3b2d-4e5f-8a9b-0c1d2e3f4a5b".into()),
                    ..tmpl.clone()
                })
                .collect();
            p.activity.instance_ids = p.activity.launches.iter().map(|l| l.instance_id.clone()).collect();
            p
        })
        .collect();
    let parts = f.into_parts(MAX_PAYLOAD_BYTES);
    let carried: usize = parts.iter().flat_map(|p| &p.principals).map(|p| p.activity.launches.len()).sum();
    assert_eq!(carried, 1500, "{} part(s); launch records carried: {carried} of 1500", parts.len());
}

/// Issue 13: a key burst's finding cut to fit keeps every key its principal created (the
/// dispatcher deactivates them); the users it created are cut first, counted in `totals`.
#[test]
fn an_oversized_key_burst_keeps_the_created_keys() {
    use launchguard_core::created::{Created, MAX_CREATED};
    let mut f = finding();
    let at = f.window.start;
    let a = &mut f.principals[0].activity;
    a.created = (0..MAX_CREATED / 2)
        .map(|k| Created::AccessKey { access_key_id: format!("AKIA{k:016}"), user_name: format!("backdoor-{k}"), created_at: at })
        .chain((0..MAX_CREATED / 2).map(|k| Created::User { user_name: format!("backdoor-user-{k}"), created_at: at }))
        .collect();
    // and enough session keys to go over the limit
    a.access_keys.extend(session_keys(3000));
    let parts = f.into_parts(MAX_PAYLOAD_BYTES);
    let created: Vec<&Created> = parts.iter().flat_map(|p| &p.principals).flat_map(|p| &p.activity.created).collect();
    let keys = created.iter().filter(|c| matches!(c, Created::AccessKey { .. })).count();
    assert_eq!(keys, MAX_CREATED / 2, "every created key is carried");
    assert!(created.len() < MAX_CREATED, "the created users were cut");
    let totals: Vec<u64> = parts.iter().flat_map(|p| &p.principals).filter_map(|p| p.activity.totals.get("created").copied()).collect();
    assert_eq!(totals, vec![MAX_CREATED as u64]);
}
