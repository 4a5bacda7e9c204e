//! Outside attack review (rc) of the ra 1 fix ("a forged prior size hides a real resize"):
//! `capacity::as_written`, `SetSize::vouches`, the detector's `unfiltered_requested`. Every test
//! asserts the SAFE outcome; one that fails against today's code is ignored with its finding.
//!
//! Every attack is a record written into the CloudTrail log group (logs:PutLogEvents) a second
//! before the attacker's real `SetDesiredCapacity g 1000`. It hides the resize from the detector's
//! page only if core counts the forged record's instances (so `unexplained` finds them) while
//! the instances metric's filters add nothing for it, AND the forged record vouches for the
//! group's size (so the real resize counts 0, not as of unknown prior size).
//!
//! The four ignored tests were seen failing on 9dec8ec (run with `--include-ignored`).

use launchguard_core::threshold::Assessment;
use serde_json::json;

use crate::ra::{assess_texts, call};

const ACCOUNT: &str = "218007301253";

fn real(n: u32) -> String {
    call(n, "attacker", false, 30, "SetDesiredCapacity", json!({"autoScalingGroupName": "g", "desiredCapacity": 1000})).to_string()
}

/// The attacker's real resize is flagged, or shown as a resize of unknown prior size.
fn surfaced(a: &Assessment) -> bool {
    let key = format!("arn:aws:iam::{ACCOUNT}:role/attacker");
    a.flagged.iter().any(|f| f.principal.key() == key)
        || a.below.iter().any(|p| p.principal.key() == key && p.activity.unknown_prior_resize_calls > 0)
}

/// rc finding 1 (second-worst: a real burst nobody is told of; the ra 1 attack again, one
/// field changed).
///
/// Attack: the forged `CreateAutoScalingGroup g` (by the Auto Scaling service-linked role, as
/// in ra 1) writes `"desiredCapacity": null, "minSize": 1000`. Core: `requested` reads a null
/// count as absent and takes `minSize`, 1000; `as_written` passes a null field (`None |
/// Some(Value::Null) => true`) and `minSize` is a number under its exact name, so the create
/// vouches (not unfiltered) and sets `g` to 1000; the real resize then counts `Increase(0)`.
/// The metric: CloudWatch Logs filter patterns tell a null field from an absent one (`IS NULL`
/// vs `NOT EXISTS`), so the create matches neither `Desired` (`desiredCapacity >= 1`), nor
/// `MinSize` (`desiredCapacity NOT EXISTS && ...`), nor `Unread` (both NOT EXISTS, or one
/// `< 0`): it adds 0 to the instances metric, the real resize adds 1000, and `unexplained`
/// finds the create's 1000 (not in `unfiltered_requested`): "explained", no page. (Whether the
/// written/numeric pair fires depends on whether `= *` matches a JSON null; even if it wakes the
/// detector, what it finds is not a resize of unknown prior size.)
///
/// Today: the attacker is neither flagged nor shown as of unknown prior size (this test fails).
///
/// Suggested fix: `as_written` should treat a count field that is present but null (or any
/// non-number) as not as written, like the MinSize filter's `NOT EXISTS` does; or render the
/// MinSize filter as `(desiredCapacity NOT EXISTS || desiredCapacity IS NULL) && minSize >= 1`.
#[test]
#[ignore = "rc finding 1: a forged create with desiredCapacity null and minSize 1000 vouches, no metric filter adds it"]
fn a_forged_create_with_a_null_desired_capacity_never_hides_a_real_resize() {
    let forged = call(
        1,
        "AWSServiceRoleForAutoScaling",
        true,
        29,
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "g", "minSize": 1000, "maxSize": 1000, "desiredCapacity": null}),
    );
    let a = assess_texts(&[forged.to_string(), real(2)]);
    assert!(surfaced(&a), "the attacker's 1000-instance resize is neither flagged nor shown as of unknown prior size");
}

/// rc finding 2 (conditional on CloudWatch Logs reading the first of a repeated key; ra 2's
/// class in the trail record itself).
///
/// Attack: the forged create's text names `desiredCapacity` twice, `0` then `1000`. serde_json
/// keeps the last (1000, a number under its exact name: vouches, sets `g` to 1000, the real
/// resize counts 0). A JSON reader that keeps the first sees 0: `Desired` (`>= 1`) no,
/// `MinSize` (`desiredCapacity NOT EXISTS`) no, `Unread` no: 0 added, the create's 1000 found,
/// no page.
///
/// Suggested fix: a record whose text repeats a key (at least in `requestParameters`) never
/// vouches and its count is unfiltered (the `keys_unique` of `stream_plan` exists).
#[test]
#[ignore = "rc finding 2: a forged create whose desiredCapacity is written twice vouches for the last value"]
fn a_forged_create_with_a_repeated_count_key_never_hides_a_real_resize() {
    let forged = call(
        3,
        "AWSServiceRoleForAutoScaling",
        true,
        29,
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "desiredCapacity": 0}),
    )
    .to_string();
    let forged = forged.replacen("\"desiredCapacity\":0", "\"desiredCapacity\":0,\"desiredCapacity\":1000", 1);
    assert!(forged.contains("\"desiredCapacity\":0,\"desiredCapacity\":1000"), "{forged}");
    let a = assess_texts(&[forged, real(4)]);
    assert!(surfaced(&a), "the attacker's 1000-instance resize is neither flagged nor shown as of unknown prior size");
}

/// Held: a forged create with `desiredCapacity` 0 and `minSize` 1000 (which no instances filter
/// adds either) sets the group to 0 in core, so the real resize counts its whole 1000.
#[test]
fn a_forged_create_with_desired_zero_never_hides_a_real_resize() {
    let forged = call(
        5,
        "AWSServiceRoleForAutoScaling",
        true,
        29,
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "g", "minSize": 1000, "maxSize": 1000, "desiredCapacity": 0}),
    );
    let a = assess_texts(&[forged.to_string(), real(6)]);
    assert!(surfaced(&a));
}

/// The ra 1 forgery with the service's `invokedBy` (as AWS writes a service-linked role's own
/// call): never vouches, whatever its case.
#[test]
fn a_forged_service_call_never_vouches() {
    let mut forged = call(
        7,
        "AWSServiceRoleForAutoScaling",
        true,
        29,
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "desiredCapacity": 1000}),
    );
    forged["userIdentity"]["invokedBy"] = json!("autoscaling.amazonaws.com");
    let a = assess_texts(&[forged.to_string(), real(8)]);
    assert!(surfaced(&a));
}

/// A forged create in the ra 1 other case nested one level down: `"RequestParameters"` itself
/// (core's record struct names the field exactly, so it reads no request at all).
#[test]
fn a_forged_create_with_its_request_in_another_case_never_hides_a_real_resize() {
    let forged = call(
        9,
        "AWSServiceRoleForAutoScaling",
        true,
        29,
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "desiredCapacity": 1000}),
    )
    .to_string()
    .replacen("\"requestParameters\"", "\"RequestParameters\"", 1);
    let a = assess_texts(&[forged, real(10)]);
    assert!(surfaced(&a));
}

/// rc finding 3 (core half only: the written case pages, as ra's held test says; with finding
/// 1's null field it is silent). `vouches` is taken off only for `is_made_by_aws_service_for`
/// (a service-linked role's session WITH a service `invokedBy`), while the threshold's exclusion
/// (`exclude_aws_services`, on by default) is `Principal::is_aws_service`: any service-linked
/// role's session, or a `userIdentity` of type `AWSService`. A forged create as an `AWSService`
/// identity (with the `invokedBy` AWS writes for it) is excluded, never flagged, and still
/// vouches: the real resize counts 0 and is not shown as of unknown prior size.
///
/// Suggested fix: no vouching for any principal `is_aws_service()` (or any principal the
/// assessment can exclude), not only `is_made_by_aws_service_for`.
#[test]
#[ignore = "rc finding 3: an AWSService identity's forged create is excluded from flagging yet vouches for the group's size"]
fn an_excluded_aws_service_identity_never_vouches() {
    let forged = json!({
        "eventVersion": "1.09", "eventTime": "2026-03-02T09:00:29Z",
        "eventID": "7c000000-0000-4000-8000-000000000011", "awsRegion": "us-east-1",
        "eventSource": "autoscaling.amazonaws.com", "eventName": "CreateAutoScalingGroup",
        "sourceIPAddress": "autoscaling.amazonaws.com", "userAgent": "autoscaling.amazonaws.com",
        "userIdentity": {"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"},
        "recipientAccountId": ACCOUNT,
        "requestParameters": {"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "desiredCapacity": 1000},
        "responseElements": null,
    });
    let a = assess_texts(&[forged.to_string(), real(12)]);
    assert!(surfaced(&a), "the attacker's 1000-instance resize is neither flagged nor shown as of unknown prior size");
}

/// The same for a service-linked role's session without `invokedBy` (excluded as AWS itself,
/// `is_made_by_aws_service_for` false): the ra 1 forgery in the written case. Core half only.
#[test]
#[ignore = "rc finding 3: a service-linked role's forged create without invokedBy is excluded yet vouches"]
fn an_excluded_service_linked_role_without_invoked_by_never_vouches() {
    let forged = call(
        13,
        "AWSServiceRoleForAutoScaling",
        true,
        29,
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "g", "minSize": 0, "maxSize": 1000, "desiredCapacity": 1000}),
    );
    let a = assess_texts(&[forged.to_string(), real(14)]);
    assert!(surfaced(&a), "the attacker's 1000-instance resize is neither flagged nor shown as of unknown prior size");
}
