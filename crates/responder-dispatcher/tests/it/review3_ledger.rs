//! Attack review 3 of issue 22 (ledger identity by IAM's unique id, releases by principal), from
//! the code alone, through the real handlers and the in-memory account. A test that shows a
//! defect asserts the safe outcome and is ignored with the defect named; a test of an attack the
//! code resists stays on as a regression test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_responder::memory::Entity;
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

/// A finding (`ec2-mass-launch`: its users are quarantined) flagging IAM user `name` only.
fn user_finding(id: &str, name: &str) -> Value {
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["finding_id"] = json!(id);
    let ps = f["principals"].as_array_mut().unwrap();
    ps.retain(|p| p["principal"]["type"] == "iam_user");
    let p = &mut ps[0];
    p["principal"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{name}"));
    p["principal"]["user_name"] = json!(name);
    p["activity"]["access_keys"] = json!([]);
    f
}

fn release(finding_id: &str) -> Value {
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    rel["finding_id"] = json!(finding_id);
    rel["requested_by"] = json!(RESPONDER);
    rel
}

fn release_principal(name: &str) -> Value {
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_principal.json")).unwrap();
    rel["principal_arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{name}"));
    rel["requested_by"] = json!(RESPONDER);
    rel["dry_run"] = json!(false);
    rel
}

fn rename(iam: &Iam, from: &str, to: &str) {
    let mut users = iam.users.lock().unwrap();
    let mut u = users.remove(from).unwrap();
    u.arn = format!("arn:aws:iam::{ACCOUNT}:user/{to}");
    assert!(users.insert(to.to_owned(), u).is_none(), "IAM names are unique");
}

fn id_of(iam: &Iam, name: &str) -> String {
    iam.users.lock().unwrap()[name].id.clone()
}

fn entry(logs: &Logs, prefix: &str) -> (String, Value) {
    let k = logs.ledger.keys().into_iter().find(|k| k.starts_with(prefix)).unwrap();
    let e = serde_json::from_slice(&logs.ledger.object(&k).unwrap().body).unwrap();
    (k, e)
}

/// Attack: two users, bob (U1) and carol (U2), are quarantined by findings F1 and F2. Then the
/// names are swapped by renames (bob -> bob-old, carol -> bob). Releasing F1 (U1's containment,
/// say a false positive) walks `user/bob/quarantine` and the entries filed under U1's id: F2 is
/// not there, so F1's reversal runs. The reversal names the user (`bob`), and the handler acts on
/// whoever holds that name now: it detaches U2's quarantine, which F2 (unreleased) still holds,
/// and leaves U1 quarantined. A reversal must act only on the principal the entry holds by IAM's
/// unique id (the entry's `principal_id`): refused (and said so) when the name now belongs to
/// another principal.
#[tokio::test]
async fn review3_a_release_never_undoes_another_users_quarantine_after_a_name_swap() {
    let iam = world::iam()
        .with_user("bob", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")))
        .with_user("carol", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/carol")));
    let (u1, u2) = (id_of(&iam, "bob"), id_of(&iam, "carol"));
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    world::dispatch(&user_finding("lg-f1", "bob"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    world::dispatch(&user_finding("lg-f2", "carol"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    let held_by_f2 = iam.user("carol").attached;
    assert!(!held_by_f2.is_empty(), "baseline: F2 quarantined carol");
    rename(&iam, "bob", "bob-old");
    rename(&iam, "carol", "bob");
    assert_eq!(id_of(&iam, "bob"), u2);
    assert_eq!(id_of(&iam, "bob-old"), u1);
    let _ = world::dispatch(&release("lg-f1"), &config(&[]), &lambda, &sns, &logs, now()).await;
    assert_eq!(
        iam.user("bob").attached,
        held_by_f2,
        "F1's release (U1's quarantine) detached the quarantine of U2 (now named bob), which unreleased F2 holds"
    );
}

/// Attack: bob (U1) is quarantined by F1, then renamed bob-old; a new user is created as bob
/// (U2, never flagged). A responder releases the principal `user/bob` (meaning the new user).
/// The scope is chosen by name: F1's entry (U1's, by the id its handler reported) is marked
/// released, its reversal names `bob` and finds nothing of launchguard's on U2, and the ledger
/// records the reversal as done. U1 stays quarantined while the ledger (and so `launchguard
/// report`, which trusts the ledger) says nothing of F1 is held any more. Safe: a release by
/// principal covers only entries whose principal_id is the principal IAM names now (or, when it
/// covers one, the ledger keeps saying the containment is held until it is really undone).
#[tokio::test]
async fn review3_a_release_by_principal_never_closes_another_users_containment_in_the_ledger() {
    let iam = world::iam().with_user("bob", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")));
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    world::dispatch(&user_finding("lg-f1", "bob"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    rename(&iam, "bob", "bob-old");
    iam.users
        .lock()
        .unwrap()
        .insert("bob".into(), Entity { id: "AIDANEWBOB0000000000".into(), ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")) });
    let _ = world::dispatch(&release_principal("bob"), &config(&[]), &lambda, &sns, &logs, now()).await;
    let still = !iam.user("bob-old").attached.is_empty();
    let (_, e) = entry(&logs, &format!("targets/{ACCOUNT}/user/bob/quarantine/"));
    let closed = e["released"]["reversal"]["state"] == "done";
    assert!(still, "baseline: U1 (bob-old) is still quarantined");
    assert!(!closed, "the ledger says F1's quarantine was undone while U1 (bob-old) is still quarantined: {e}");
}

/// Regression (resisted): a case change between a finding and a release by principal. bob is
/// quarantined as `bob`, renamed `BOB`; a release of `user/Bob` covers the containment (names are
/// compared as IAM compares them) and undoes it.
#[tokio::test]
async fn review3_a_release_by_principal_in_another_case_undoes_the_quarantine() {
    let iam = world::iam().with_user("bob", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")));
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    world::dispatch(&user_finding("lg-f1", "bob"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    assert!(!iam.user("bob").attached.is_empty());
    rename(&iam, "bob", "BOB");
    world::dispatch(&release_principal("Bob"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    // IAM's name lookups are case-insensitive in AWS; the fake's are exact, so the reversal (named
    // `bob`) may be refused here: what must hold is that the quarantine is never left released
    // in the ledger while still attached.
    let (_, e) = entry(&logs, &format!("targets/{ACCOUNT}/user/bob/quarantine/"));
    let attached = !iam.user("BOB").attached.is_empty();
    assert!(!(attached && e["released"]["reversal"]["state"] == "done"), "ledger says undone while attached: {e}");
}

/// Regression (resisted): a planted `ids/` pointer (whoever could write the ledger bucket) that
/// names another principal's entry under U1's id is not followed: the entry's own principal_id
/// differs, so F1's release still undoes F1's quarantine and leaves the other user's alone.
#[tokio::test]
async fn review3_a_planted_ids_pointer_to_another_users_entry_is_not_followed() {
    let iam = world::iam()
        .with_user("bob", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob")))
        .with_user("carol", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/carol")));
    let u1 = id_of(&iam, "bob");
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    world::dispatch(&user_finding("lg-f1", "bob"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    world::dispatch(&user_finding("lg-f2", "carol"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    let (carol_key, _) = entry(&logs, &format!("targets/{ACCOUNT}/user/carol/quarantine/"));
    logs.ledger.insert(&format!("ids/{ACCOUNT}/user/{u1}/quarantine/lg-planted"), carol_key.into_bytes());
    world::dispatch(&release("lg-f1"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    assert!(iam.user("bob").attached.is_empty(), "F1's release undid bob's quarantine");
    assert!(!iam.user("carol").attached.is_empty(), "carol's (F2) is kept");
}

/// Attack (no forgery, an ordinary admin's clean-up): the example finding stops ci-deployer's
/// (U1's) instances and deactivates its keys. The admin renames the compromised user
/// `ci-deployer-compromised` and creates a fresh `ci-deployer` (U2) for the pipeline, then
/// releases the principal `user/ci-deployer` so the pipeline runs again. The release's scope is
/// chosen by the name in the entries' targets: the instance stop filed under `user/ci-deployer`
/// (U1's, by the principal_id its handler reported) is in it, and its reversal starts U1's
/// instances again (by instance id: nothing checks that they are the released principal's by
/// IAM's id), while U1's keys stay deactivated. A release of one IAM user undid part of another
/// user's containment. Safe: U1's instances stay stopped until U1's containment is released.
#[tokio::test]
async fn review3_a_release_by_principal_never_restarts_a_renamed_users_instances() {
    use launchguard_core::contract::FlaggedPrincipal;
    use launchguard_responder::ports::InstanceState;
    use launchguard_responder::testing::running_instance;
    const REGION: &str = "us-east-1";
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    let ps: Vec<FlaggedPrincipal> = serde_json::from_value(f["principals"].clone()).unwrap();
    let mut deployer = Vec::new();
    for p in &ps {
        for l in &p.activity.launches {
            let at = l.launched_at + chrono::Duration::milliseconds(400);
            lambda.ec2.put(REGION, running_instance(&l.instance_id, ACCOUNT, at, l.reservation_id.as_deref().unwrap(), &[]));
            deployer.push(l.instance_id.clone());
        }
    }
    assert!(!deployer.is_empty());
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&[("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]);
    world::dispatch(&f, &cfg, &lambda, &sns, &logs, now()).await.unwrap();
    let stopped = |id: &str| lambda.ec2.get(REGION, id).unwrap().state == Some(InstanceState::Stopped);
    assert!(deployer.iter().all(|id| stopped(id)), "baseline: U1's instances are stopped");
    rename(&iam, "ci-deployer", "ci-deployer-compromised");
    iam.users.lock().unwrap().insert(
        "ci-deployer".into(),
        Entity { id: "AIDANEWDEPLOYER00000".into(), ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer")) },
    );
    let _ = world::dispatch(&release_principal("ci-deployer"), &cfg, &lambda, &sns, &logs, now()).await;
    let restarted: Vec<&String> = deployer.iter().filter(|id| !stopped(id)).collect();
    assert!(restarted.is_empty(), "a release of the new ci-deployer (U2) restarted the instances of U1 (still contained): {restarted:?}");
}

/// Attack (no forgery: the burst goes on and the next window flags the same launches): F1 stops
/// ci-deployer's instances (tagged with F1). F2, a later finding over the same launches, finds
/// them stopped and tagged by F1: the EC2 handler calls that "already stopped by someone else"
/// and refuses, so F2's instance entry holds nothing, while F2's key and quarantine entries hold
/// (found in place). Releasing F1 alone then keeps the key and the quarantine (F2 holds them) but
/// starts the instances again: F2, unreleased, flagged exactly those instances. Safe: while an
/// unreleased finding flagged the same instances, a release of another keeps them stopped.
#[tokio::test]
async fn review3_a_release_keeps_instances_that_an_unreleased_later_finding_flagged() {
    use launchguard_core::contract::FlaggedPrincipal;
    use launchguard_responder::ports::InstanceState;
    use launchguard_responder::testing::running_instance;
    const REGION: &str = "us-east-1";
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let f1: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    let ps: Vec<FlaggedPrincipal> = serde_json::from_value(f1["principals"].clone()).unwrap();
    let mut deployer = Vec::new();
    for p in &ps {
        for l in &p.activity.launches {
            let at = l.launched_at + chrono::Duration::milliseconds(400);
            lambda.ec2.put(REGION, running_instance(&l.instance_id, ACCOUNT, at, l.reservation_id.as_deref().unwrap(), &[]));
            deployer.push(l.instance_id.clone());
        }
    }
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&[("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]);
    world::dispatch(&f1, &cfg, &lambda, &sns, &logs, now()).await.unwrap();
    let mut f2 = f1.clone();
    f2["finding_id"] = json!("lg-next-window");
    let _ = world::dispatch(&f2, &cfg, &lambda, &sns, &logs, now()).await;
    let stopped = |id: &str| lambda.ec2.get(REGION, id).unwrap().state == Some(InstanceState::Stopped);
    assert!(deployer.iter().all(|id| stopped(id)), "baseline: stopped");
    let mut rel = release(f1["finding_id"].as_str().unwrap());
    rel["dry_run"] = json!(false);
    let _ = world::dispatch(&rel, &cfg, &lambda, &sns, &logs, now()).await;
    let keys_inactive = iam.user("ci-deployer").keys.iter().any(|(_, s)| *s == launchguard_responder::KeyStatus::Inactive);
    assert!(keys_inactive, "baseline: F2 still holds the deployer's key");
    let restarted: Vec<&String> = deployer.iter().filter(|id| !stopped(id)).collect();
    assert!(restarted.is_empty(), "F1's release restarted instances that unreleased F2 flagged: {restarted:?}");
}

/// Attack (liveness, no forgery): the example finding deactivates ci-deployer's key; the user is
/// renamed with only its case changed (`CI-Deployer`: one user for IAM, which compares names
/// without regard to case). Releasing the finding sends the reactivation with the user name the
/// handler reported then (`ci-deployer`); the handler compares it with IAM's owner exactly
/// (`**u != owner`), refuses, and the key stays inactive while the entry is released (refused):
/// the ledger, and so the report, no longer counts the containment that is still in place.
/// Safe: the key (identity: account + key id) is reactivated, its user compared as IAM compares.
#[tokio::test]
async fn review3_a_case_only_rename_never_strands_a_deactivated_key() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    let inactive = |name: &str| iam.user(name).keys.iter().filter(|(_, s)| *s == launchguard_responder::KeyStatus::Inactive).count();
    assert!(inactive("ci-deployer") > 0, "baseline: a key was deactivated");
    rename(&iam, "ci-deployer", "CI-Deployer");
    let mut rel = release(f["finding_id"].as_str().unwrap());
    rel["dry_run"] = json!(false);
    let r = world::dispatch(&rel, &config(&[]), &lambda, &sns, &logs, now()).await;
    assert_eq!(inactive("CI-Deployer"), 0, "the release left the key inactive after a case-only rename: {r:?}");
}
