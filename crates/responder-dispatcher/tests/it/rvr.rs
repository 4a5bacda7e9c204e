//! Outside attack review rvr (issue 22, from the code alone): the release walk, the ledger's
//! `ids/` filing, `Action::reverses` for a bound every-key containment, and the handlers'
//! refusal of reversals, attacked through the real dispatcher and handlers with the in-memory
//! services. Each test asserts the SAFE outcome. Findings 1-4 failed against the code reviewed
//! (9431344; each doc says the attack, what happened then and the fix suggested) and pass since
//! the fix (issue 22, branch fx), as do their variants (1b, 2b, 2c, 4b); the others are attacks
//! the code withstood, kept as guards of the invariant.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::{Action, BoundPrincipal, OutcomeStatus, ResponseOutcome, ResponseRequest, SELF_RELEASE};
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder_dispatcher::ledger::{Claim, Ledger, entry_key, target_of};
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config, rename, user_arn as arn};

const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";
/// The key the intern launched with (its first key: IAM's fake gives it the id `AIDA` + the rest).
const KEY: &str = "AKIAEXAMPLEINTERN001";
/// The intern's production key, never in a launch record.
const PROD_KEY: &str = "AKIAEXAMPLEINTERNPRD";
/// A key ci-deployer created for the intern (`CreateAccessKey --user-name intern`).
const NEW_KEY: &str = "AKIAINTERNCREATED001";
/// A key of another user, `ops`, that a person deactivated (launchguard never touched it).
const OPS_KEY: &str = "AKIAEXAMPLEOPSUSER01";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

/// When the example finding's `CreateAccessKey` call was made.
fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

fn id_of(iam: &Iam, name: &str) -> String {
    iam.users.lock().unwrap()[name].id.clone()
}

fn status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.user(user).keys.iter().find(|(k, _)| k == key).unwrap().1
}

/// The example finding (`ec2-mass-launch`: its users' used keys deactivated, the users
/// quarantined) flagging IAM user `name` only, which launched with `keys`.
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

/// The example finding as a key burst of ci-deployer only, which created `created`.
fn creator_finding(id: &str, created: Value) -> Value {
    let mut f = user_finding(id, "ci-deployer", &["AKIAEXAMPLEDEPLOYER1"]);
    f["rule"] = json!("iam-access-key-burst");
    f["principals"][0]["activity"]["created"] = created;
    f
}

fn release(finding_id: Option<&str>, principal: Option<&str>, by: &str) -> Value {
    json!({"schema_version": 1, "kind": "release", "finding_id": finding_id, "principal_arn": principal,
        "reason": "false positive", "requested_by": by, "dry_run": false})
}

/// Hand `payload` to the dispatcher with this account's ledger and pages, and the real handlers
/// acting on `iam` (a fresh Lambda each time: a test changes IAM between deliveries).
async fn send(iam: &Iam, payload: &Value, sns: &Sns, logs: &Logs, at: DateTime<Utc>) -> Result<DispatchReport, DispatcherError> {
    let lambda = Lambda::new(iam, &[], at);
    world::dispatch(payload, &config(&[]), &lambda, sns, logs, at).await
}

/// The ledger of `from` as the layout before IAM's unique ids filed it (no `ids/`, no entry's
/// `principal_id`), in `into`: a containment recorded before the upgrade.
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

/// rvr finding 1 (high: a release undoes part of a newer, unreleased containment).
///
/// Attack: the intern launches with KEY (CloudTrail records the burst, and its unique id, under
/// the name `intern`), then renames itself `intern-svc`. F1, ci-deployer's key burst, had created
/// NEW_KEY for the intern: the access-key handler deactivates it and reports its owner as IAM names
/// it now, `intern-svc`. F2, the intern's burst, finds its policy slots full and contains it by
/// every key (bound to the confirmed id: it acts on `intern-svc`), filed under the name F2 gave,
/// `user/intern/keys`, and under the id in `ids/`. Releasing F1 alone reactivates NEW_KEY if
/// nothing newer relies on it, and F2's every-key containment of the same IAM user does.
///
/// Today: `every_key_held` looks for the user's every-key containment under the name the key's
/// reversal gives (`intern-svc`) and follows `ids/` only through the id a *used* key's action was
/// bound to (`key_owner_id`); a created key's action carries none, so F2 (under `intern`) is not
/// seen, NEW_KEY is turned back on and the intern holds a working key while F2 is unreleased.
///
/// Fix: give every key entry its owner's IAM unique id (the access-key handler reports
/// `GetUser`'s `UserId` of the key's owner as the outcome's `principal_id`, as it already resolves
/// the owner) and have `every_key_held` follow that id through `ids/`, whatever the action's kind;
/// without an id, ask the handler (a dry run) for the owner's id before reactivating.
#[tokio::test(start_paused = true)]

async fn rvr1_a_created_keys_release_keeps_it_under_a_newer_every_key_containment_of_its_renamed_user() {
    let mut iam = world::iam().with_user(
        "intern",
        Entity {
            keys: vec![(KEY.into(), KeyStatus::Active), (PROD_KEY.into(), KeyStatus::Active), (NEW_KEY.into(), KeyStatus::Active)],
            key_created: [(NEW_KEY.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(arn("intern"))
        },
    );
    let (sns, logs) = (Sns::default(), Logs::default());
    // F2's burst, as CloudTrail recorded it under the name intern (with its unique id)
    let f2 = world::witnessed(&user_finding("lg-rvr1-f2", "intern", &[KEY]), Some(&iam));
    rename(&iam, "intern", "intern-svc");
    // F1: ci-deployer created NEW_KEY for the intern; deactivated, its owner reported as intern-svc
    let f1 = creator_finding(
        "lg-rvr1-f1",
        json!([{"kind": "access_key", "access_key_id": NEW_KEY, "user_name": "intern", "created_at": call()}]),
    );
    let r1 = send(&iam, &f1, &sns, &logs, now()).await.unwrap();
    assert_eq!(status(&iam, "intern-svc", NEW_KEY), KeyStatus::Inactive, "baseline: {:?}", r1.outcomes);
    // F2: the intern's quarantine fails for good (its slots are full): every key is deactivated
    iam.fail_on("AttachUserPolicy", crate::quarantine_slots::limit_exceeded());
    let r2 = send(&iam, &f2, &sns, &logs, now() + Duration::minutes(1)).await;
    assert_eq!(
        (status(&iam, "intern-svc", KEY), status(&iam, "intern-svc", PROD_KEY)),
        (KeyStatus::Inactive, KeyStatus::Inactive),
        "baseline: F2 contains the intern by every key: {r2:?}"
    );
    iam.heal("AttachUserPolicy");
    // WHEN F1 alone is released by a responder
    let r = send(&iam, &release(Some("lg-rvr1-f1"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    // THEN F2, unreleased, still holds every key of the intern: NEW_KEY stays inactive
    assert_eq!(
        status(&iam, "intern-svc", NEW_KEY),
        KeyStatus::Inactive,
        "releasing F1 gave the intern a working key while F2's every-key containment is unreleased: {r:#?}"
    );
}

/// rvr finding 2 (high: a release undoes another principal's newer containment).
///
/// Attack: F1 quarantined bob (U1) before the upgrade that files entries under IAM's unique ids
/// (its entry has no `principal_id`, there is no `ids/` pointer). After the upgrade F2 quarantines
/// carol (U2), filed with U2's id. An admin's clean-up swaps the names (bob -> bob-old, carol ->
/// bob). A responder releases F1 (U1's, a false positive).
///
/// Today: the walk of `user/bob/quarantine` finds F1 only (F2 is under `user/carol` and U2's id;
/// F1 has no id to follow), the reversal `release_user_quarantine` of `bob` is sent with no
/// `principal_id`, and the IAM handler checks nothing but the name: it detaches the quarantine of
/// whoever holds `bob` now, U2, which unreleased F2 holds. U1 stays quarantined.
///
/// Fix: a reversal of an entry without IAM's unique id (written before the upgrade, or whose
/// handler could not read it) is not run by name alone: ask the handler first (a dry run that
/// reports the current holder's id), treat every entry filed under that id as a holder in the walk,
/// and send that id as the reversal's `principal_id`; or refuse such reversals and name them to a
/// person.
#[tokio::test(start_paused = true)]

async fn rvr2_a_pre_upgrade_entry_never_releases_another_users_quarantine_after_a_name_swap() {
    let iam = world::iam().with_user("bob", Entity::new(arn("bob"))).with_user("carol", Entity::new(arn("carol")));
    let (u1, u2) = (id_of(&iam, "bob"), id_of(&iam, "carol"));
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    send(&iam, &user_finding("lg-rvr2-f1", "bob", &[]), &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    assert!(!logs.ledger.keys().iter().any(|k| k.starts_with("ids/")), "baseline: F1 is in the layout before ids/");
    send(&iam, &user_finding("lg-rvr2-f2", "carol", &[]), &sns, &logs, now()).await.unwrap();
    let held_by_f2 = iam.user("carol").attached;
    assert!(!held_by_f2.is_empty() && !iam.user("bob").attached.is_empty(), "baseline: both quarantined");
    rename(&iam, "bob", "bob-old");
    rename(&iam, "carol", "bob");
    assert_eq!((id_of(&iam, "bob-old"), id_of(&iam, "bob")), (u1, u2));
    let r = send(&iam, &release(Some("lg-rvr2-f1"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(iam.user("bob").attached, held_by_f2, "F1's release (U1's) detached U2's quarantine, which unreleased F2 holds: {r:#?}");
}

/// Write, through the ledger's own API, what a changed access-key handler answers to a bound
/// `deactivate_user_access_keys` of the intern: `applied`, with a reversal naming `reversal_user`
/// and its key, and `principal_id` as IAM's id. Returns the finding id.
async fn planted_every_key_answer(iam: &Iam, logs: &Logs, reversal_user: &str, principal_id: &str) -> String {
    let fid = "lg-rvr3-planted".to_owned();
    let ledger = Ledger::new(&logs.ledger);
    let action = Action::DeactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: arn("intern"),
        user_name: "intern".into(),
        used_keys: vec![KEY.into()],
        bound: Some(BoundPrincipal { principal_id: id_of(iam, "intern"), access_key_id: Some(KEY.into()) }),
    };
    let key = entry_key(&target_of(&action), &fid);
    ledger.count_delivery(&fid, std::slice::from_ref(&key), now()).await.unwrap();
    let Claim::Act { etag, entry, owner_if_in_place } = ledger.claim(&fid, &action, 1, now()).await.unwrap() else {
        panic!("baseline: the action is claimed")
    };
    let req = ResponseRequest::new(&fid, action, false, now());
    let mut o = ResponseOutcome::for_request(
        &req,
        "launchguard-accesskey-handler",
        OutcomeStatus::Applied,
        "set Inactive every active access key of the intern",
        now(),
    );
    o.reversal = Some(Action::ReactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: arn(reversal_user),
        user_name: reversal_user.into(),
        access_key_ids: vec![OPS_KEY.into()],
    });
    o.principal_id = Some(principal_id.to_owned());
    ledger.settle(*entry, &etag, &o, owner_if_in_place).await.unwrap();
    fid
}

/// The intern (its key deactivated) and ops, whose key a person deactivated.
fn planted_account() -> Iam {
    world::iam()
        .with_user("intern", Entity { keys: vec![(KEY.into(), KeyStatus::Inactive)], ..Entity::new(arn("intern")) })
        .with_user("ops", Entity { keys: vec![(OPS_KEY.into(), KeyStatus::Inactive)], ..Entity::new(arn("ops")) })
}

/// rvr finding 3 (medium: defence in depth; needs a changed or compromised access-key handler).
///
/// Attack: `Action::reverses` keeps a handler's answer only when its reversal undoes the action
/// sent ("a changed handler's answer cannot plant a reversal for another target"). Since
/// eccce2a it keeps, for a BOUND `deactivate_user_access_keys`, a `reactivate_user_access_keys`
/// naming ANY user of the account, relying on the release to send the entry's `principal_id`,
/// which the handler checks against IAM. But `principal_id` comes from the same answer, and
/// `settle` files it without comparing it with the id the action was bound to. A changed handler
/// answers the intern's every-key containment with "reactivate ops's OPS_KEY" and ops's unique
/// id; a responder releases the finding.
///
/// Today: the ledger keeps both, the walk sends `reactivate_user_access_keys` of ops with ops's id,
/// the (unchanged) handler finds IAM agrees, and turns on OPS_KEY, a key a person deactivated and
/// launchguard never touched.
///
/// Fix: in `settle`, for a bound action keep an outcome's `principal_id` only when it is the bound
/// id (else drop it and the reversal, with the warning a planted reversal gets); or, in
/// `Action::reverses`, accept another name only together with that id check.
#[tokio::test(start_paused = true)]

async fn rvr3_a_planted_every_key_reversal_with_another_users_id_is_never_run() {
    let iam = planted_account();
    let (sns, logs) = (Sns::default(), Logs::default());
    let fid = planted_every_key_answer(&iam, &logs, "ops", &id_of(&iam, "ops")).await;
    let r = send(&iam, &release(Some(&fid), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(status(&iam, "ops", OPS_KEY), KeyStatus::Inactive, "a release turned on a key launchguard never deactivated: {r:#?}");
}

/// Withstood: the same planted reversal, with the id the action was bound to (the intern's), is
/// refused by the access-key handler (IAM's `ops` is another user), and ops's key stays as a
/// person left it.
#[tokio::test(start_paused = true)]
async fn rvr3b_a_planted_every_key_reversal_under_the_bound_id_is_refused_by_the_handler() {
    let iam = planted_account();
    let (sns, logs) = (Sns::default(), Logs::default());
    let fid = planted_every_key_answer(&iam, &logs, "ops", &id_of(&iam, "intern")).await;
    let r = send(&iam, &release(Some(&fid), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(status(&iam, "ops", OPS_KEY), KeyStatus::Inactive, "{r:#?}");
    assert_eq!(status(&iam, "intern", KEY), KeyStatus::Inactive, "{r:#?}");
}

/// rvr finding 4 (medium: ledger identity; a release of one IAM user closes another's key
/// containment in the ledger).
///
/// Attack: ci-deployer (U1) is contained (its used key deactivated, the user quarantined). An
/// admin renames it ci-deployer-old and creates a fresh ci-deployer (U2) for the pipeline, then
/// releases the principal `user/ci-deployer` (meaning U2).
///
/// Today: U1's quarantine is left out of the scope by IAM's unique id, but its key entry is not:
/// a release by principal finds keys by the name the handler reported owning them (`key_user`),
/// and a key entry carries no unique id for `keep_the_named_principal` to check. The entry is
/// marked released; the reversal is refused by the handler (the key's owner is ci-deployer-old),
/// so IAM is unchanged, but the ledger no longer holds U1's key, and every later walk of the key
/// retries the reversal by the name alone: once U1 has its name back (the clean-up undone), the
/// release of a newer finding F3 on the same key (found inactive: not launchguard's change)
/// turns the key on, though nobody released F1 for U1 (its quarantine, left out by id, stays).
///
/// Fix: key entries carry their owner's unique id (the handler reports it), and a release by
/// principal leaves out every key entry whose owner IAM does not give the released name now, as it
/// does for the other targets.
#[tokio::test(start_paused = true)]

async fn rvr4_a_release_for_the_new_holder_of_a_name_never_closes_the_old_users_key_entry() {
    const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    send(&iam, &user_finding("lg-rvr4", "ci-deployer", &[DEPLOYER_KEY]), &sns, &logs, now()).await.unwrap();
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive, "baseline");
    rename(&iam, "ci-deployer", "ci-deployer-old");
    iam.users.lock().unwrap().insert("ci-deployer".into(), Entity { id: "AIDANEWCIDEPLOYER001".into(), ..Entity::new(arn("ci-deployer")) });
    let r = send(&iam, &release(None, Some(&arn("ci-deployer")), RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(status(&iam, "ci-deployer-old", DEPLOYER_KEY), KeyStatus::Inactive, "{r:#?}");
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/key/{DEPLOYER_KEY}/lg-rvr4"));
    // the consequence: U2 is removed and U1 gets its name back (the admin's clean-up undone); U1
    // launches again with its other key, and F3 finds the first key still inactive (not
    // launchguard's change). A responder releases F3 only: F1 (never released for U1) still
    // holds the key, so it must stay inactive.
    iam.users.lock().unwrap().remove("ci-deployer");
    rename(&iam, "ci-deployer-old", "ci-deployer");
    send(&iam, &user_finding("lg-rvr4-f3", "ci-deployer", &[DEPLOYER_KEY]), &sns, &logs, now() + Duration::minutes(40)).await.unwrap();
    let r3 = send(&iam, &release(Some("lg-rvr4-f3"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(50)).await;
    assert_eq!(
        status(&iam, "ci-deployer", DEPLOYER_KEY),
        KeyStatus::Inactive,
        "releasing F3 turned on the key F1 holds for U1 (F1's entry was closed by the release of U2): {r3:#?}"
    );
    assert!(e["released"].is_null(), "a release of U2 closed U1's key containment in the ledger: {e:#}\n{r:#?}");
}

/// Withstood: the contained user asks for its own release under another case of its name and
/// with a path in its ARN (`requested_by` as STS gives a user with a path), by finding and by
/// principal: refused before anything is marked, the quarantine and the key stay.
#[tokio::test(start_paused = true)]
async fn rvr5_a_requested_by_differing_only_by_case_or_path_is_the_contained_user() {
    const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    send(&iam, &user_finding("lg-rvr5", "ci-deployer", &[DEPLOYER_KEY]), &sns, &logs, now()).await.unwrap();
    let held = iam.user("ci-deployer").attached;
    for by in [
        format!("arn:aws:iam::{ACCOUNT}:user/CI-Deployer"),
        format!("arn:aws:iam::{ACCOUNT}:user/build/pipelines/ci-deployer"),
        format!("arn:aws:iam::{ACCOUNT}:user/Build/CI-DEPLOYER"),
    ] {
        for rel in [release(Some("lg-rvr5"), None, &by), release(None, Some(&arn("CI-DEPLOYER")), &by)] {
            let r = send(&iam, &rel, &sns, &logs, now() + Duration::minutes(30)).await;
            let Err(e) = &r else { panic!("{by} released its own containment: {r:#?}") };
            assert!(e.to_string().contains(SELF_RELEASE), "{by}: {e}");
        }
    }
    assert_eq!(iam.user("ci-deployer").attached, held);
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive);
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/key/{DEPLOYER_KEY}/"));
    assert!(e["released"].is_null(), "a refused self-release marked the entry: {e:#}");
}

/// Withstood: the contained user renames itself with a case change only (`Ci-Deployer`) and asks
/// under that name with a path: IAM's unique id (and the name compared as IAM compares it) make
/// it the contained user; and a release naming it in yet another case by a responder undoes the
/// containment (one user, one target).
#[tokio::test(start_paused = true)]
async fn rvr6_a_case_only_rename_is_still_the_contained_user_and_still_one_target() {
    const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    send(&iam, &user_finding("lg-rvr6", "ci-deployer", &[DEPLOYER_KEY]), &sns, &logs, now()).await.unwrap();
    rename(&iam, "ci-deployer", "Ci-Deployer");
    let by = format!("arn:aws:iam::{ACCOUNT}:user/team/Ci-Deployer");
    let r = send(&iam, &release(Some("lg-rvr6"), None, &by), &sns, &logs, now() + Duration::minutes(30)).await;
    assert!(matches!(&r, Err(e) if e.to_string().contains(SELF_RELEASE)), "{r:#?}");
    assert_eq!(status(&iam, "Ci-Deployer", DEPLOYER_KEY), KeyStatus::Inactive);
    assert!(!iam.user("Ci-Deployer").attached.is_empty());
    let r = send(&iam, &release(None, Some(&arn("CI-DEPLOYER")), RESPONDER), &sns, &logs, now() + Duration::minutes(31)).await;
    assert!(r.is_ok(), "{r:#?}");
    assert_eq!(status(&iam, "Ci-Deployer", DEPLOYER_KEY), KeyStatus::Active, "{r:#?}");
}

/// The example finding flagging the DataScience role only (its sessions are revoked).
fn role_finding(id: &str) -> Value {
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["finding_id"] = json!(id);
    f["principals"].as_array_mut().unwrap().retain(|p| p["principal"]["type"] == "assumed_role");
    f
}

/// Withstood: a session of the contained role asks for its release, naming the role in another
/// case (`assumed-role/datascience/...`, as a caller could spell it; IAM compares role names
/// without regard to case) or by the role's ARN with a path: refused before anything is marked,
/// by finding and by principal; the revocation stays. A responder's release then undoes it.
#[tokio::test(start_paused = true)]
async fn rvr7_a_session_of_the_contained_role_in_another_case_never_releases_it() {
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = send(&iam, &role_finding("lg-rvr7"), &sns, &logs, now()).await.unwrap();
    let held = iam.role("DataScience");
    assert!(r.outcomes.iter().any(|o| o.action.name() == "revoke_role_sessions" && o.outcome.name() == "applied"), "baseline: {r:#?}");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/DataScience");
    for by in [
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/datascience/launcher"),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/DATASCIENCE/x"),
        format!("arn:aws:iam::{ACCOUNT}:role/teams/DataScience"),
    ] {
        for rel in [release(Some("lg-rvr7"), None, &by), release(None, Some(&role), &by)] {
            let r = send(&iam, &rel, &sns, &logs, now() + Duration::minutes(30)).await;
            assert!(matches!(&r, Err(e) if e.to_string().contains(SELF_RELEASE)), "{by}: {r:#?}");
            assert_eq!(iam.role("DataScience"), held, "{by}");
        }
    }
    let r = send(&iam, &release(Some("lg-rvr7"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(31)).await.unwrap();
    assert!(r.outcomes.iter().any(|o| o.action.name() == "restore_role_sessions" && o.outcome.name() == "applied"), "{r:#?}");
}

/// Withstood: unicode look-alikes (a Cyrillic `е` in `ci-deployer`, a fullwidth letter, a
/// zero-width joiner) in `requested_by` or `principal_arn` are refused before anything is marked
/// (IAM names are ASCII): no look-alike passes for another principal, nothing is released.
#[tokio::test(start_paused = true)]
async fn rvr8_unicode_look_alikes_in_a_release_are_refused_and_release_nothing() {
    const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    send(&iam, &user_finding("lg-rvr8", "ci-deployer", &[DEPLOYER_KEY]), &sns, &logs, now()).await.unwrap();
    let held = iam.user("ci-deployer").attached;
    for look in ["ci-d\u{0435}ployer", "ci-deploy\u{FF45}r", "ci-deployer\u{200D}", "ci\u{2010}deployer"] {
        for rel in [release(Some("lg-rvr8"), None, &arn(look)), release(None, Some(&arn(look)), RESPONDER)] {
            let r = send(&iam, &rel, &sns, &logs, now() + Duration::minutes(30)).await;
            assert!(r.is_err(), "{look:?}: {r:#?}");
        }
    }
    assert_eq!(iam.user("ci-deployer").attached, held);
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive);
    for k in logs.ledger.keys().into_iter().filter(|k| k.starts_with("targets/")) {
        let e: Value = serde_json::from_slice(&logs.ledger.object(&k).unwrap().body).unwrap();
        assert!(e["released"].is_null(), "{k}: {e:#}");
    }
}

/// Withstood (two accounts): with another account allowed (an organisation trail), a release of
/// the same user name in the other account reaches nothing of this account's containment, and a
/// contained user of the other account never counts as this one.
#[tokio::test(start_paused = true)]
async fn rvr9_the_same_name_in_another_account_is_another_principal() {
    const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
    const OTHER: &str = "999999999999";
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&[("ALLOWED_ACCOUNTS", OTHER)]);
    let at = now();
    let lambda = Lambda::new(&iam, &[], at);
    world::dispatch(&user_finding("lg-rvr9", "ci-deployer", &[DEPLOYER_KEY]), &cfg, &lambda, &sns, &logs, at).await.unwrap();
    let held = iam.user("ci-deployer").attached;
    let other = format!("arn:aws:iam::{OTHER}:user/ci-deployer");
    let later = at + Duration::minutes(30);
    let lambda = Lambda::new(&iam, &[], later);
    let r = world::dispatch(&release(None, Some(&other), RESPONDER), &cfg, &lambda, &sns, &logs, later).await;
    assert!(r.as_ref().is_ok_and(|r| r.outcomes.is_empty()), "{r:#?}");
    assert_eq!(iam.user("ci-deployer").attached, held);
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive);
    for k in logs.ledger.keys().into_iter().filter(|k| k.starts_with("targets/")) {
        let e: Value = serde_json::from_slice(&logs.ledger.object(&k).unwrap().body).unwrap();
        assert!(e["released"].is_null(), "{k}: {e:#}");
    }
}

/// Withstood (rvr finding 1 in the other order): the intern renames itself after its burst, F2
/// contains it by every key first (NEW_KEY among them, under its new name), then F1 (ci-deployer's key burst) finds
/// NEW_KEY inactive already (not launchguard's change, but held). Releasing F2 alone gives back
/// the keys F2 deactivated except NEW_KEY, which F1 still holds, and says so.
#[tokio::test(start_paused = true)]
async fn rvr10_an_every_key_release_keeps_a_created_key_a_newer_finding_holds() {
    let mut iam = world::iam().with_user(
        "intern",
        Entity {
            keys: vec![(KEY.into(), KeyStatus::Active), (PROD_KEY.into(), KeyStatus::Active), (NEW_KEY.into(), KeyStatus::Active)],
            key_created: [(NEW_KEY.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(arn("intern"))
        },
    );
    let (sns, logs) = (Sns::default(), Logs::default());
    let f2 = world::witnessed(&user_finding("lg-rvr10-f2", "intern", &[KEY]), Some(&iam));
    rename(&iam, "intern", "intern-svc");
    iam.fail_on("AttachUserPolicy", crate::quarantine_slots::limit_exceeded());
    let r2 = send(&iam, &f2, &sns, &logs, now()).await;
    iam.heal("AttachUserPolicy");
    assert_eq!(status(&iam, "intern-svc", NEW_KEY), KeyStatus::Inactive, "baseline: F2 deactivated every key: {r2:#?}");
    let f1 = creator_finding(
        "lg-rvr10-f1",
        json!([{"kind": "access_key", "access_key_id": NEW_KEY, "user_name": "intern", "created_at": call()}]),
    );
    send(&iam, &f1, &sns, &logs, now() + Duration::minutes(1)).await.unwrap();
    let r = send(&iam, &release(Some("lg-rvr10-f2"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await.unwrap();
    assert_eq!(status(&iam, "intern-svc", PROD_KEY), KeyStatus::Active, "F2's own change is undone: {r:#?}");
    assert_eq!(status(&iam, "intern-svc", NEW_KEY), KeyStatus::Inactive, "F2's release turned on the key F1 holds: {r:#?}");
    assert!(r.refusals.iter().any(|n| n.contains(NEW_KEY) && n.contains("lg-rvr10-f1")), "{r:#?}");
}

/// rvr finding 4's variant: `keep_the_named_principal` checked only ids with an entry whose
/// reversal names a principal. With a playbook that deactivates keys only, ci-deployer (U1) has
/// one entry, its key's (owner id U1, reversal "reactivate the key"); renamed away, and its name
/// given to a new user U2, a release of `user/ci-deployer` must leave U1's key entry out (IAM
/// gives the name to U2), not mark it released.
#[tokio::test(start_paused = true)]
async fn rvr4b_a_key_only_containment_is_left_out_of_a_release_for_the_new_holder_of_its_name() {
    const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";
    let iam = world::iam();
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&[("LG_USER_ACTIONS", "deactivate_access_keys")]);
    let lambda = Lambda::new(&iam, &[], now());
    let r = world::dispatch(&user_finding("lg-rvr4b", "ci-deployer", &[DEPLOYER_KEY]), &cfg, &lambda, &sns, &logs, now()).await.unwrap();
    assert_eq!(status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive, "baseline: {r:#?}");
    assert!(r.outcomes.iter().all(|o| o.action.name() == "deactivate_access_key"), "baseline: keys only: {r:#?}");
    rename(&iam, "ci-deployer", "ci-deployer-old");
    iam.users.lock().unwrap().insert("ci-deployer".into(), Entity { id: "AIDANEWCIDEPLOYER001".into(), ..Entity::new(arn("ci-deployer")) });
    let later = now() + Duration::minutes(30);
    let lambda = Lambda::new(&iam, &[], later);
    let r = world::dispatch(&release(None, Some(&arn("ci-deployer")), RESPONDER), &cfg, &lambda, &sns, &logs, later).await;
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/key/{DEPLOYER_KEY}/lg-rvr4b"));
    assert!(e["released"].is_null(), "a release of U2 closed U1's key containment in the ledger: {e:#}\n{r:#?}");
    assert_eq!(status(&iam, "ci-deployer-old", DEPLOYER_KEY), KeyStatus::Inactive, "{r:#?}");
    let said =
        |r: &DispatchReport| r.refusals.iter().chain(&r.human_actions).any(|n| n.starts_with("left alone") && n.contains(DEPLOYER_KEY));
    assert!(r.as_ref().is_ok_and(said), "{r:#?}");
}

/// The ledger written before IAM's unique ids stays readable and releasable, fail-safe: a
/// containment recorded then (bob's key deactivated and bob quarantined, no `principal_id`, no
/// `ids/`), with no newer containment of bob, is released by finding. The key's reactivation is
/// bound to the key's id (IAM never reuses one): its handler is asked for the key's owner's id (a
/// dry run) and the reversal carries it. The quarantine's reversal names bob by name only, and
/// who holds that name now is not proven to be whom it contained (rb findings 1-2): it is not
/// undone, its release stays open, and a person is told what to check and undo.
#[tokio::test(start_paused = true)]
async fn rvr2b_a_pre_upgrade_containment_with_no_newer_holder_releases_its_key_and_hands_the_quarantine_to_a_person() {
    const BOB_KEY: &str = "AKIAEXAMPLEBOBKEY001";
    let iam = world::iam().with_user("bob", Entity { keys: vec![(BOB_KEY.into(), KeyStatus::Active)], ..Entity::new(arn("bob")) });
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    send(&iam, &user_finding("lg-rvr2b", "bob", &[BOB_KEY]), &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    assert!(!iam.user("bob").attached.is_empty() && status(&iam, "bob", BOB_KEY) == KeyStatus::Inactive, "baseline");
    for k in logs.ledger.keys() {
        assert!(!k.starts_with("ids/"), "baseline: {k}");
        assert!(ledger_entry(&logs, &k).get("principal_id").is_none_or(Value::is_null), "baseline: {k}");
    }
    let lambda = Lambda::new(&iam, &[], now() + Duration::minutes(30));
    let r = world::dispatch(&release(Some("lg-rvr2b"), None, RESPONDER), &config(&[]), &lambda, &sns, &logs, now() + Duration::minutes(30))
        .await
        .unwrap();
    assert!(!iam.user("bob").attached.is_empty(), "a quarantine with no id was undone by the name alone: {r:#?}");
    assert_eq!(status(&iam, "bob", BOB_KEY), KeyStatus::Active, "{r:#?}");
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/user/bob/quarantine/lg-rvr2b"));
    assert_eq!(e["released"]["reversal"]["state"], json!("kept"), "{e:#}");
    assert!(r.human_actions.iter().any(|h| h.contains("lg-rvr2b") && h.contains("no IAM unique id")), "{r:#?}");
    // the key's reversal was sent with bob's id, learnt from its handler's dry run
    let bob = id_of(&iam, "bob");
    let reversals: Vec<Value> = lambda
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| serde_json::from_str::<Value>(serde_json::from_slice::<Value>(p).unwrap()["payload"].as_str().unwrap()).unwrap())
        .filter(|v| v["dry_run"] == json!(false))
        .collect();
    assert_eq!(reversals.len(), 1, "{reversals:#?}");
    assert_eq!(reversals[0]["action"]["type"], json!("reactivate_access_key"), "{reversals:#?}");
    assert!(reversals.iter().all(|v| v["principal_id"] == json!(bob)), "{reversals:#?}");
}

/// rvr finding 1 with F1 recorded before the upgrade (its key entry has no owner id): the release
/// asks the access-key handler for the key's owner's id before reactivating, and F2's every-key
/// containment of the renamed intern, filed under that id, keeps the key.
#[tokio::test(start_paused = true)]
async fn rvr1b_a_pre_upgrade_created_keys_release_keeps_it_under_a_newer_every_key_containment() {
    let mut iam = world::iam().with_user(
        "intern",
        Entity {
            keys: vec![(KEY.into(), KeyStatus::Active), (PROD_KEY.into(), KeyStatus::Active), (NEW_KEY.into(), KeyStatus::Active)],
            key_created: [(NEW_KEY.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(arn("intern"))
        },
    );
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    let f2 = world::witnessed(&user_finding("lg-rvr1b-f2", "intern", &[KEY]), Some(&iam));
    rename(&iam, "intern", "intern-svc");
    let f1 = creator_finding(
        "lg-rvr1b-f1",
        json!([{"kind": "access_key", "access_key_id": NEW_KEY, "user_name": "intern", "created_at": call()}]),
    );
    send(&iam, &f1, &sns, &scratch, now()).await.unwrap();
    as_before_ids(&scratch, &logs);
    assert_eq!(status(&iam, "intern-svc", NEW_KEY), KeyStatus::Inactive, "baseline");
    iam.fail_on("AttachUserPolicy", crate::quarantine_slots::limit_exceeded());
    let r2 = send(&iam, &f2, &sns, &logs, now() + Duration::minutes(1)).await;
    assert_eq!(status(&iam, "intern-svc", PROD_KEY), KeyStatus::Inactive, "baseline: F2 contains the intern by every key: {r2:?}");
    iam.heal("AttachUserPolicy");
    let r = send(&iam, &release(Some("lg-rvr1b-f1"), None, RESPONDER), &sns, &logs, now() + Duration::minutes(30)).await;
    assert_eq!(status(&iam, "intern-svc", NEW_KEY), KeyStatus::Inactive, "{r:#?}");
    assert!(r.as_ref().is_ok_and(|r| r.refusals.iter().any(|n| n.contains(NEW_KEY) && n.contains("lg-rvr1b-f2"))), "{r:#?}");
}

/// rvr finding 2's other variant: an entry with no unique id (written before the upgrade, or IAM
/// did not answer its handler) whose handler cannot give the id of who holds the name now either
/// (here IAM's `GetUser` fails while the EC2 handler is asked) is never undone by the name alone:
/// ci-deployer's instances stay stopped, the entry's release stays open, and the page tells a
/// person.
#[tokio::test(start_paused = true)]
async fn rvr2c_an_entry_whose_principal_no_one_can_identify_is_handed_to_a_person() {
    const STOP: [(&str, &str); 2] = [("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")];
    const REGION: &str = "us-east-1";
    let mut iam = world::iam();
    let f = user_finding("lg-rvr2c", "ci-deployer", &["AKIAEXAMPLEDEPLOYER1"]);
    let launches = f["principals"][0]["activity"]["launches"].as_array().unwrap().clone();
    assert!(!launches.is_empty(), "baseline: ci-deployer launched instances");
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    let cfg = config(&STOP);
    let stopped = {
        let lambda = Lambda::new(&iam, &STOP, now());
        for l in &launches {
            let at: DateTime<Utc> = serde_json::from_value(l["launched_at"].clone()).unwrap();
            let (id, rid) = (l["instance_id"].as_str().unwrap(), l["reservation_id"].as_str().unwrap());
            lambda
                .ec2
                .put(REGION, launchguard_responder::testing::running_instance(id, ACCOUNT, at + Duration::milliseconds(400), rid, &[]));
        }
        let r = world::dispatch(&f, &cfg, &lambda, &sns, &scratch, now()).await.unwrap();
        assert!(r.outcomes.iter().any(|o| o.action.name() == "stop_instances" && o.outcome.name() == "applied"), "baseline: {r:#?}");
        launches.iter().map(|l| lambda.ec2.get(REGION, l["instance_id"].as_str().unwrap()).unwrap()).collect::<Vec<_>>()
    };
    as_before_ids(&scratch, &logs);
    iam.fail_on("GetUser", launchguard_aws::CallError::new("GetUser: Throttling: Rate exceeded", true));
    let later = now() + Duration::minutes(30);
    let lambda = Lambda::new(&iam, &STOP, later);
    for i in &stopped {
        lambda.ec2.put(REGION, i.clone());
    }
    let r = world::dispatch(&release(Some("lg-rvr2c"), None, RESPONDER), &cfg, &lambda, &sns, &logs, later).await;
    for (l, before) in launches.iter().zip(&stopped) {
        let id = l["instance_id"].as_str().unwrap();
        assert_eq!(lambda.ec2.get(REGION, id).unwrap().state, before.state, "{id} started with no proven identity: {r:#?}");
    }
    let e = ledger_entry(&logs, &format!("targets/{ACCOUNT}/user/ci-deployer/instances/{REGION}/lg-rvr2c"));
    assert_eq!(e["released"]["reversal"]["state"], json!("kept"), "{e:#}");
    let page = sns.messages.lock().unwrap().last().unwrap().1.clone();
    assert!(page.contains("BY HAND") && page.contains("cannot prove whose containment"), "{page}\n{r:#?}");
}
