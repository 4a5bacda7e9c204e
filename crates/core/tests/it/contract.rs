//! The payload contract: example payloads parse, round-trip, and bad payloads are refused by name.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use launchguard_core::CoreError;
use launchguard_core::auth::{Purpose, Sealed};
use launchguard_core::contract::{
    Action, DispatcherInput, Finding, OutcomeStatus, ReleaseRequest, ResponseOutcome, ResponseRequest, decode_payload, request_id,
};
use launchguard_testkit::{fixture, fixture_dir};
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
fn every_example_payload_parses_and_round_trips() {
    let files = fixture_dir("contract");
    assert!(files.len() >= 7);
    for (name, text) in files {
        let value: Value = serde_json::from_str(&text).unwrap();
        let back = if name.starts_with("finding") {
            serde_json::to_value(Finding::parse(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"))).unwrap()
        } else if name.starts_with("response_request") {
            serde_json::to_value(ResponseRequest::parse(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"))).unwrap()
        } else if name.starts_with("response_outcome") {
            serde_json::to_value(ResponseOutcome::parse(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"))).unwrap()
        } else if name.starts_with("release") {
            serde_json::to_value(ReleaseRequest::parse(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"))).unwrap()
        } else if name.starts_with("sealed") {
            let sealed = Sealed::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let inner: Value = serde_json::from_str(&sealed.payload).unwrap();
            match sealed.purpose {
                Purpose::Finding => drop(Finding::parse(inner).unwrap_or_else(|e| panic!("{name}: its payload: {e}"))),
                Purpose::Release => drop(ReleaseRequest::parse(inner).unwrap_or_else(|e| panic!("{name}: its payload: {e}"))),
                Purpose::Command => drop(ResponseRequest::parse(inner).unwrap_or_else(|e| panic!("{name}: its payload: {e}"))),
            }
            serde_json::to_value(sealed).unwrap()
        } else {
            panic!("unexpected contract fixture {name}");
        };
        assert_eq!(back, value, "{name} does not round-trip");
    }
}

#[test]
fn the_example_finding_says_who_did_what() {
    let f = Finding::parse(v("contract/finding.json")).unwrap();
    assert_eq!(f.principals.len(), 2);
    assert_eq!(f.excluded.len(), 1);
    assert!(f.window_complete);
    assert_eq!(f.principals.iter().map(|p| p.activity.instances_launched).sum::<u64>(), 27);
    match DispatcherInput::parse(v("contract/finding.json")).unwrap() {
        DispatcherInput::Finding(g) => assert_eq!(*g, f),
        other => panic!("{other:?}"),
    }
    assert!(matches!(DispatcherInput::parse(v("contract/release.by_finding.json")).unwrap(), DispatcherInput::Release(_)));
}

#[test]
fn unknown_fields_are_refused_by_name_at_every_depth() {
    let mut f = v("contract/finding.json");
    f["surprise"] = json!(1);
    assert!(reason(Finding::parse(f).unwrap_err()).contains("surprise"));
    let mut f = v("contract/finding.json");
    f["principals"][0]["activity"]["bogus_counter"] = json!(1);
    assert!(reason(Finding::parse(f).unwrap_err()).contains("bogus_counter"));
    let mut r = v("contract/response_request.deactivate_access_key.json");
    r["action"]["delete_key_too"] = json!(true);
    assert!(reason(ResponseRequest::parse(r).unwrap_err()).contains("delete_key_too"));
}

#[test]
fn schema_versions_and_kinds_are_checked_first() {
    let mut f = v("contract/finding.json");
    f["schema_version"] = json!(2);
    let r = reason(Finding::parse(f).unwrap_err());
    assert!(r.contains("unsupported schema_version 2"), "{r}");
    let mut f = v("contract/finding.json");
    f.as_object_mut().unwrap().remove("schema_version");
    assert!(reason(Finding::parse(f).unwrap_err()).contains("schema_version is missing"));
    let mut f = v("contract/finding.json");
    f["schema_version"] = json!("1");
    assert!(reason(Finding::parse(f).unwrap_err()).contains("whole number"));
    let r = reason(ResponseRequest::parse(v("contract/finding.json")).unwrap_err());
    assert!(r.contains("expected \"response_request\""), "{r}");
    let mut f = v("contract/finding.json");
    f["kind"] = json!("shutdown_everything");
    assert!(reason(DispatcherInput::parse(f).unwrap_err()).contains("shutdown_everything"));
}

#[test]
fn wrong_types_bad_accounts_and_oversized_payloads_are_refused() {
    let mut f = v("contract/finding.json");
    f["principals"] = json!("everyone");
    assert!(Finding::parse(f).is_err());
    let mut f = v("contract/finding.json");
    f["account_id"] = json!("1234");
    assert!(reason(Finding::parse(f).unwrap_err()).contains("account_id"));
    let big = vec![b' '; 300 * 1024];
    assert!(reason(decode_payload(&big, "finding").unwrap_err()).contains("limit"));
    assert!(decode_payload(b"\xff\xfe", "finding").is_err());
    let mut f = v("contract/finding.json");
    f["incomplete_reason"] = json!("x".repeat(300 * 1024));
    assert!(reason(DispatcherInput::parse(f).unwrap_err()).contains("limit"));
    let mut r = v("contract/release.by_finding.json");
    r["finding_id"] = Value::Null;
    assert!(reason(ReleaseRequest::parse(r).unwrap_err()).contains("give finding_id"));
    let mut r = v("contract/release.by_principal.json");
    r["principal_arn"] = json!("arn:aws:iam::111122223333:group/admins");
    assert!(reason(ReleaseRequest::parse(r).unwrap_err()).contains("principal_arn"));
}

#[test]
fn request_ids_are_idempotency_keys() {
    let req = ResponseRequest::parse(v("contract/response_request.deactivate_access_key.json")).unwrap();
    assert_eq!(req.request_id, request_id(&req.finding_id, &req.action));
    let other = Action::DeactivateAccessKey {
        account_id: "111122223333".into(),
        access_key_id: "AKIAEXAMPLEOTHER0001".into(),
        user_name: None,
        bound: None,
    };
    assert_ne!(req.request_id, request_id(&req.finding_id, &other));
    assert_ne!(req.request_id, request_id("lg-another", &req.action));
    let o = ResponseOutcome::parse(v("contract/response_outcome.refused.json")).unwrap();
    assert!(matches!(o.outcome, OutcomeStatus::Refused { .. }));
}

#[test]
fn a_finding_too_large_to_send_is_trimmed_then_split_never_dropped() {
    use launchguard_core::contract::MAX_PAYLOAD_BYTES;
    let f = Finding::parse(v("contract/finding.json")).unwrap();
    let mut template = f.principals[1].clone();
    // instance ids only: launch records are kept when a finding is cut (tests/fit_launches.rs)
    template.activity.launches.clear();
    let make = |n: usize, ids: usize| {
        let mut g = f.clone();
        g.principals = (0..n)
            .map(|i| {
                let mut p = template.clone();
                p.principal = launchguard_core::principal::Principal::IamUser {
                    arn: format!("arn:aws:iam::111122223333:user/u{i}"),
                    arn_derived: false,
                    user_name: format!("u{i}"),
                    account_id: "111122223333".into(),
                };
                p.activity.instance_ids = (0..ids).map(|k| format!("i-{i:08x}{k:09x}")).collect();
                p
            })
            .collect();
        g
    };
    // 100 principals with 500 instance ids each: too big, fits once the ids are dropped
    let parts = make(100, 500).into_parts(MAX_PAYLOAD_BYTES);
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].principals.len(), 100);
    assert!(parts[0].principals.iter().all(|p| p.activity.instance_ids.is_empty() && p.activity.truncated_values >= 500));
    assert!(serde_json::to_vec(&parts[0]).unwrap().len() <= MAX_PAYLOAD_BYTES);
    // 2,000 principals: split into parts that each fit, every principal in exactly one part
    let big = make(2000, 0);
    let id = big.finding_id.clone();
    let parts = big.into_parts(MAX_PAYLOAD_BYTES);
    assert!(parts.len() > 1);
    assert_eq!(parts.iter().map(|p| p.principals.len()).sum::<usize>(), 2000);
    for (k, p) in parts.iter().enumerate() {
        assert!(serde_json::to_vec(p).unwrap().len() <= MAX_PAYLOAD_BYTES);
        assert_eq!(p.finding_id, format!("{id}-p{}of{}", k + 1, parts.len()));
        assert!(Finding::parse(serde_json::to_value(p).unwrap()).is_ok());
    }
    // the excluded principal is in exactly one part, one that names principals too (a part of
    // excluded principals only would be refused)
    assert_eq!(parts.iter().map(|p| p.excluded.len()).sum::<usize>(), 1);
    assert!(parts.iter().all(|p| !p.principals.is_empty()));
}

#[test]
fn a_finding_written_before_rules_is_about_the_launch_rule() {
    // GIVEN the example finding without its `rule` field (as findings were written before rules)
    let mut value = v("contract/finding.json");
    assert_eq!(value.as_object_mut().unwrap().remove("rule"), Some(Value::from("ec2-mass-launch")));
    // THEN it parses, as an ec2-mass-launch finding
    assert_eq!(Finding::parse(value.clone()).unwrap().rule, "ec2-mass-launch");
    // AND a rule id that is not a token is refused by name
    value["rule"] = Value::from("iam-user-burst'; rm -rf /");
    let err = Finding::parse(value).unwrap_err().to_string();
    assert!(err.contains("rule"), "{err}");
}
