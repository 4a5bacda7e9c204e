//! Outside attack review rb (issue 22, from the code alone) of the fixes of the rvr findings:
//! key entries carrying their owner's IAM unique id, the dry-run identity check of an entry
//! without an id, `settle` keeping only the bound id, and a release by principal leaving out the
//! entries IAM no longer gives the released name. Each test asserts the SAFE outcome; one that
//! fails against the code reviewed is `#[ignore]`d with the finding (its doc says the attack, what
//! happened and the fix suggested); the others are attacks withstood, kept as guards. Findings 1-3
//! (rb7, rb2, rb3, rb8) are fixed: an entry of a user or role with no id is handed to a person and
//! its release stays open; a release by principal leaves every entry with no id out, for a person.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::SELF_RELEASE;
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config, rename, user_arn as arn};

const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";
const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
/// A key ci-deployer created for the intern (`CreateAccessKey --user-name intern`).
const NEW_KEY: &str = "AKIAINTERNCREATED001";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

/// IAM's `CreateUser`: a new user (a new unique id) under `name`.
fn create(iam: &Iam, name: &str, id: &str) {
    iam.users.lock().unwrap().insert(name.into(), Entity { id: id.into(), ..Entity::new(arn(name)) });
}

fn status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.user(user).keys.iter().find(|(k, _)| k == key).unwrap().1
}

/// The example finding (`ec2-mass-launch`) flagging IAM user `name` only, launched with `keys`.
fn user_finding(id: &str, name: &str, keys: &[&str]) -> Value {
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["finding_id"] = json!(id);
    let ps = f["principals"].as_array_mut().unwrap();
    ps.retain(|p| p["principal"]["type"] == "iam_user");
    let p = &mut ps[0];
    p["principal"]["arn"] = json!(arn(name));
    p["principal"]["user_name"] = json!(name);
    p["activity"]["access_keys"] =
        json!(keys.iter().map(|k| json!({"access_key_id": k, "kind": "long_term", "calls": 3, "launched": 12})).collect::<Vec<_>>());
    f
}

fn release(finding_id: Option<&str>, principal: Option<&str>, by: &str) -> Value {
    json!({"schema_version": 1, "kind": "release", "finding_id": finding_id, "principal_arn": principal,
        "reason": "false positive", "requested_by": by, "dry_run": false})
}

async fn send(iam: &Iam, payload: &Value, sns: &Sns, logs: &Logs, at: DateTime<Utc>) -> Result<DispatchReport, DispatcherError> {
    let lambda = Lambda::new(iam, &[], at);
    world::dispatch(payload, &config(&[]), &lambda, sns, logs, at).await
}

/// The ledger of `from` as the layout before IAM's unique ids filed it, in `into`.
fn as_before_ids(from: &Logs, into: &Logs) {
    for k in from.ledger.keys() {
        let Some(body) = world::before_ids(&k, &String::from_utf8(from.ledger.object(&k).unwrap().body).unwrap()) else { continue };
        into.ledger.insert(&k, body.into_bytes());
    }
}

fn ledger_entry(logs: &Logs, prefix: &str) -> Value {
    let k = logs.ledger.keys().into_iter().find(|k| k.starts_with(prefix)).unwrap_or_else(|| panic!("no entry under {prefix}"));
    serde_json::from_slice(&logs.ledger.object(&k).unwrap().body).unwrap()
}

/// ci-deployer (U1) contained before the upgrade (its key deactivated, the user quarantined; the
/// entries carry no id), renamed ci-deployer-old, and a fresh ci-deployer (U2) created.
async fn pre_upgrade_u1_then_u2(fid: &str) -> (Iam, Sns, Logs) {
    let iam = world::iam();
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    send(&iam, &user_finding(fid, "ci-deployer", &[DEPLOYER_KEY]), &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive, "baseline");
    assert!(!iam.user("ci-deployer").attached.is_empty(), "baseline: quarantined");
    rename(&iam, "ci-deployer", "ci-deployer-old");
    create(&iam, "ci-deployer", "AIDANEWCIDEPLOYER001");
    (iam, sns, logs)
}

/// Withstood (guard): a release of the wrong principal through a pre-upgrade key entry.
///
/// Attack: rvr finding 4 with a containment recorded before the upgrade (no `principal_id`).
/// ci-deployer (U1) is contained; an admin renames it ci-deployer-old and creates a fresh
/// ci-deployer (U2) for the pipeline, then releases the principal `user/ci-deployer` (meaning U2).
/// `keep_the_named_principal` skips every entry without an id, so U1's key entry stays in the
/// scope, and the walk's dry run gives U1's id (the key's owner). The access-key handler still
/// refuses the reactivation: the reversal names `ci-deployer` and IAM says the key belongs to
/// ci-deployer-old. U1's key stays inactive (its entry is closed as refused, and says why).
#[tokio::test(start_paused = true)]
async fn rb1_a_release_by_principal_of_the_new_holder_never_reactivates_the_old_users_pre_upgrade_key() {
    let (iam, sns, logs) = pre_upgrade_u1_then_u2("lg-rb1").await;
    let r = send(&iam, &release(None, Some(&arn("ci-deployer")), RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(
        status(&iam, "ci-deployer-old", DEPLOYER_KEY),
        KeyStatus::Inactive,
        "a release naming U2 (the new ci-deployer) turned on U1's key: {r:#?}"
    );
}

/// rb finding 2 (medium: a containment silently stuck, its ledger entry closed, nobody told).
///
/// Attack: the same pre-upgrade containment of U1 and the same release by principal naming U2.
///
/// Before the fix (seen failing on 8a85d0e and c7fe5fc): U1's quarantine entry (no id) stays in the scope; the walk's dry run of its reversal
/// reports the id of who holds the name now (U2), nothing else holds U2, and the reversal is sent
/// with U2's id: the handler finds IAM agrees and detaches launchguard's quarantine from U2,
/// which has none. The entry is closed as undone while U1 (ci-deployer-old) stays quarantined,
/// and nobody is told: U1 is never released and never handed to a person.
///
/// Fix: the dry run's id is the id of who holds the name NOW, not of whom the entry contained;
/// for an entry without an id of a user or role (whose name can move), hand it to a person, or
/// at least close it only when the handler found launchguard's quarantine on that holder (an
/// `already_applied` reversal of an entry without an id proves nothing about whose it was).
#[tokio::test(start_paused = true)]
async fn rb2_a_pre_upgrade_quarantine_is_never_closed_while_its_user_stays_quarantined_under_another_name() {
    let (iam, sns, logs) = pre_upgrade_u1_then_u2("lg-rb2").await;
    let r = send(&iam, &release(None, Some(&arn("ci-deployer")), RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/user/ci-deployer/quarantine/lg-rb2"));
    let closed = e["released"]["reversal"]["state"] == "done";
    let told = r.as_ref().is_ok_and(|r| r.human_actions.iter().any(|h| h.contains("lg-rb2")));
    assert!(
        iam.user("ci-deployer-old").attached.is_empty() || (!closed || told),
        "U1's quarantine entry was closed as undone while U1 stays quarantined, and no person was told: {e:#}\n{r:#?}"
    );
}

/// rb finding 2b (medium, the same by finding): the pre-upgrade containment of U1 is released BY
/// FINDING by a responder after U1 was renamed and its name given to U2.
///
/// Before the fix (seen failing on c7fe5fc): the walk's dry run reports U2's id (the name's holder now); the reversal is run on U2
/// (`already_applied`: none of launchguard's policies on U2), the entry closed as undone, and U1
/// stays quarantined with nobody told (`human_actions` empty); the key's reactivation is refused
/// (its owner is ci-deployer-old) and says so.
///
/// Fix: as rb finding 2.
#[tokio::test(start_paused = true)]
async fn rb3_a_pre_upgrade_release_by_finding_after_a_rename_undoes_the_user_it_contained_or_tells_a_person() {
    let (iam, sns, logs) = pre_upgrade_u1_then_u2("lg-rb3").await;
    let r = send(&iam, &release(Some("lg-rb3"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/user/ci-deployer/quarantine/lg-rb3"));
    let closed = e["released"]["reversal"]["state"] == "done";
    let told = r.as_ref().is_ok_and(|r| r.human_actions.iter().any(|h| h.contains("lg-rb3")));
    assert!(
        iam.user("ci-deployer-old").attached.is_empty() || (!closed || told),
        "U1's quarantine stays, its entry closed as undone by a reversal run on U2, and no person was told: {e:#}\n{r:#?}"
    );
}

/// Guard: the key's user renames itself after ci-deployer's key burst deactivated the key
/// ci-deployer created for it, and asks for the release under its new name: refused as a
/// self-release (by IAM's ids), the key stays inactive.
#[tokio::test(start_paused = true)]
async fn rb4_a_created_keys_user_renamed_cannot_release_it() {
    let iam = world::iam().with_user(
        "intern",
        Entity {
            keys: vec![(NEW_KEY.into(), KeyStatus::Active)],
            key_created: [(NEW_KEY.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(arn("intern"))
        },
    );
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = user_finding("lg-rb4", "ci-deployer", &[DEPLOYER_KEY]);
    f["rule"] = json!("iam-access-key-burst");
    f["principals"][0]["activity"]["created"] =
        json!([{"kind": "access_key", "access_key_id": NEW_KEY, "user_name": "intern", "created_at": call()}]);
    let r = send(&iam, &f, &sns, &logs, now()).await.unwrap();
    assert_eq!(status(&iam, "intern", NEW_KEY), KeyStatus::Inactive, "baseline: {:?}", r.outcomes);
    rename(&iam, "intern", "intern-svc");
    for by in [arn("intern-svc"), format!("arn:aws:iam::{ACCOUNT}:user/ops/Intern-Svc")] {
        let r = send(&iam, &release(Some("lg-rb4"), None, &by), &sns, &logs, now() + Duration::minutes(30)).await;
        let refused = match &r {
            Err(e) => e.to_string().contains(SELF_RELEASE),
            Ok(r) => r.outcomes.iter().any(|o| format!("{:?}", o.outcome).contains(SELF_RELEASE)),
        };
        assert!(refused, "{by} asked for its own key's release: {r:#?}");
        assert_eq!(status(&iam, "intern-svc", NEW_KEY), KeyStatus::Inactive, "{by} released its own key: {r:#?}");
    }
}

/// Guard (fail closed): IAM does not answer the handler's identity read (`GetUser`) during the
/// release of a pre-upgrade containment: nothing is undone (the key stays inactive, the user
/// quarantined).
#[tokio::test(start_paused = true)]
async fn rb5_a_release_while_iam_cannot_name_the_holder_undoes_nothing() {
    let iam = world::iam();
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    send(&iam, &user_finding("lg-rb5", "ci-deployer", &[DEPLOYER_KEY]), &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    let held = iam.user("ci-deployer").attached;
    let mut iam = iam;
    iam.fail_on("GetUser", launchguard_aws::CallError { message: "iam:GetUser: connection reset".into(), code: None, retryable: true });
    let r = send(&iam, &release(Some("lg-rb5"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive, "{r:#?}");
    assert_eq!(iam.user("ci-deployer").attached, held, "{r:#?}");
}

/// Guard: the user contained before the upgrade (entries without an id) renames itself and asks
/// for its own release under the new name, by finding and by principal: nothing is undone (the
/// handlers refuse a self-release by IAM's ids, and cannot name a holder of the old name).
#[tokio::test(start_paused = true)]
async fn rb6_a_pre_upgrade_user_renamed_cannot_release_itself() {
    let iam = world::iam();
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    send(&iam, &user_finding("lg-rb6", "ci-deployer", &[DEPLOYER_KEY]), &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    rename(&iam, "ci-deployer", "ci-x");
    let held = iam.user("ci-x").attached;
    let by = format!("arn:aws:iam::{ACCOUNT}:user/ci-x");
    for rel in [release(Some("lg-rb6"), None, &by), release(None, Some(&arn("ci-deployer")), &by), release(None, Some(&by), &by)] {
        let r = send(&iam, &rel, &sns, &logs, now() + Duration::minutes(30)).await;
        assert_eq!(status(&iam, "ci-x", DEPLOYER_KEY), KeyStatus::Inactive, "{rel}: {r:#?}");
        assert_eq!(iam.user("ci-x").attached, held, "{rel}: {r:#?}");
    }
}

/// rb finding 1 (high: a release undoes another principal's unreleased containment).
///
/// Attack: rvr finding 2 with BOTH containments recorded before the upgrade: F1 quarantined bob
/// (U1), F2 quarantined carol (U2), neither entry has an id. An admin's clean-up swaps the names
/// (bob -> bob-old, carol -> bob). A responder releases F1 (U1's, a false positive).
///
/// Before the fix (seen failing on 8a85d0e and c7fe5fc): the walk of `user/bob/quarantine` finds F1 only; its dry run reports U2 (who
/// holds `bob` now); `held_by_id` follows `ids/` for U2, but F2 was filed before `ids/` existed
/// (under `user/carol` only), so nothing holds; the reversal is sent with U2's id, which IAM
/// confirms, and U2's quarantine is detached while F2 is unreleased.
///
/// Fix (also of rb finding 2): the dry run names who holds the name now, not whom the entry contained:
/// an entry of a user or role without an id is handed to a person, or undone only when the
/// holder's id is proven to be the contained one, e.g. from the finding's confirmed records).
#[tokio::test(start_paused = true)]
async fn rb7_two_pre_upgrade_quarantines_a_name_swap_never_releases_the_other_users() {
    let iam = world::iam().with_user("bob", Entity::new(arn("bob"))).with_user("carol", Entity::new(arn("carol")));
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    send(&iam, &user_finding("lg-rb7-f1", "bob", &[]), &sns, &scratch, now()).await.unwrap();
    send(&iam, &user_finding("lg-rb7-f2", "carol", &[]), &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    let held_by_f2 = iam.user("carol").attached;
    assert!(!held_by_f2.is_empty() && !iam.user("bob").attached.is_empty(), "baseline: both quarantined");
    rename(&iam, "bob", "bob-old");
    rename(&iam, "carol", "bob");
    let r = send(&iam, &release(Some("lg-rb7-f1"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(iam.user("bob").attached, held_by_f2, "F1's release (U1's) detached U2's quarantine, which unreleased F2 holds: {r:#?}");
}

/// rb finding 3 (medium: a release undoes a containment nobody released; rvr finding 4's
/// consequence, still open for a pre-upgrade key entry).
///
/// Attack: after the release by principal naming U2 (rb1: the reactivation of U1's key refused,
/// the entry closed as refused), U2 is removed and U1 gets its name back; U1 launches again and
/// F3 finds the key still inactive (not launchguard's change). A responder releases F3 only.
///
/// Before the fix (seen failing on 8a85d0e and c7fe5fc): `keep_the_named_principal` left F1's key entry (no id) in the
/// scope of U2's release, so it was marked released (refused). The walk of F3's release retries
/// that refused reversal: its dry run names U1 (the key's owner), which IAM now gives the name in
/// the reversal, and the key is turned on though F1 was never released for U1.
///
/// Fix: the one of rb finding 2 in `keep_the_named_principal`: an entry without an id is
/// identified (dry run) and left out unless its principal's id is the released name's now, or left
/// out of a release by principal and named for a person.
#[tokio::test(start_paused = true)]
async fn rb8_a_pre_upgrade_key_entry_closed_by_a_release_of_the_new_holder_never_reactivates_later() {
    let (iam, sns, logs) = pre_upgrade_u1_then_u2("lg-rb8").await;
    let r = send(&iam, &release(None, Some(&arn("ci-deployer")), RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(status(&iam, "ci-deployer-old", DEPLOYER_KEY), KeyStatus::Inactive, "{r:#?}");
    iam.users.lock().unwrap().remove("ci-deployer");
    rename(&iam, "ci-deployer-old", "ci-deployer");
    send(&iam, &user_finding("lg-rb8-f3", "ci-deployer", &[DEPLOYER_KEY]), &sns, &logs, now() + Duration::minutes(40)).await.unwrap();
    let r3 = send(&iam, &release(Some("lg-rb8-f3"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(50)).await;
    assert_eq!(
        status(&iam, "ci-deployer", DEPLOYER_KEY),
        KeyStatus::Inactive,
        "releasing F3 turned on the key F1 holds for U1 (F1's pre-upgrade entry was closed by the release of U2): {r3:#?}"
    );
}
