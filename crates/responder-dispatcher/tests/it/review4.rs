//! Review 4: attacks on the latest safety fixes, through the real dispatcher and handlers with the
//! in-memory services. Each test asserts the SAFE outcome; one that fails against today's code is
//! ignored with the defect it shows (`review4: ...`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

const DEPLOYER_KEY: &str = "AKIAEXAMPLEDEPLOYER1";

/// The example finding (`ec2-mass-launch`, whose users are quarantined and keys deactivated) with
/// only its IAM user, ci-deployer, which used `AKIAEXAMPLEDEPLOYER1`.
fn deployer_finding(id: &str) -> Value {
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["finding_id"] = json!(id);
    f["principals"].as_array_mut().unwrap().retain(|p| p["principal"]["type"] == "iam_user");
    f
}

/// IAM's `UpdateUser --new-user-name`: the user keeps its unique id, its keys and policies.
fn rename(iam: &Iam, from: &str, to: &str) {
    let mut users = iam.users.lock().unwrap();
    let mut u = users.remove(from).unwrap();
    u.arn = format!("arn:aws:iam::{ACCOUNT}:user/{to}");
    users.insert(to.to_owned(), u);
}

fn key_status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.users.lock().unwrap()[user].keys.iter().find(|(k, _)| k == key).unwrap().1
}

fn launchguard_policies(e: &Entity) -> Vec<String> {
    e.attached.iter().filter(|a| a.contains(":policy/launchguard/") || a.contains("AWSCompromisedKeyQuarantine")).cloned().collect()
}

/// Attack: the burst's user renames itself (`iam:UpdateUser` on itself, which any admin key has)
/// between its burst and the dispatcher's action (CloudTrail's confirmation alone waits up to 45 s).
/// The key CloudTrail shows it used is the same key under the new name (a key id is its identity),
/// and the user is the same IAM user (same unique id). SAFE: the key is deactivated and the user
/// quarantined under its new name, or at least the key: the attacker's credential stops.
#[tokio::test(start_paused = true)]
async fn a_self_rename_after_the_burst_does_not_save_the_key_it_used() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    // GIVEN ci-deployer launched the burst with AKIAEXAMPLEDEPLOYER1 (CloudTrail records it, with
    // its unique id), then renamed itself
    let f = world::witnessed(&deployer_finding("lg-rv4-self-rename"), Some(&iam));
    rename(&iam, "ci-deployer", "ci-deployer-x");
    // WHEN the finding is dispatched
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await;
    // THEN the key CloudTrail saw it use is Inactive, under whatever name IAM gives its user now
    assert_eq!(key_status(&iam, "ci-deployer-x", DEPLOYER_KEY), KeyStatus::Inactive, "the attacker's key still works: {r:?}");
    // AND the same IAM user (by its unique id) is quarantined
    assert!(!launchguard_policies(&iam.user("ci-deployer-x")).is_empty(), "the renamed attacker is not quarantined: {r:?}");
}

/// Attack: after its burst the user renames itself away and gives its name to an innocent user
/// (`iam:UpdateUser` on both). The finding names the user only by name (CloudTrail's
/// `userIdentity.principalId`, its unique id, is not carried), so the quarantine resolves the name
/// through IAM and lands on whoever holds it now. SAFE: the innocent user (another unique id) is
/// never quarantined.
#[tokio::test(start_paused = true)]
async fn a_name_swap_after_the_burst_never_quarantines_the_innocent_holder_of_the_name() {
    let iam = world::iam().with_user("payroll", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/payroll")));
    let innocent_id = iam.user("payroll").id.clone();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    // GIVEN ci-deployer's burst (recorded by CloudTrail), then: ci-deployer -> ci-deployer-x,
    // payroll -> ci-deployer
    let f = world::witnessed(&deployer_finding("lg-rv4-swap"), Some(&iam));
    rename(&iam, "ci-deployer", "ci-deployer-x");
    rename(&iam, "payroll", "ci-deployer");
    assert_eq!(iam.user("ci-deployer").id, innocent_id);
    // WHEN the finding is dispatched
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await;
    // THEN the innocent user that holds the name now is untouched
    let held = launchguard_policies(&iam.user("ci-deployer"));
    assert!(held.is_empty(), "the innocent user {innocent_id} now named ci-deployer was quarantined ({held:?}): {r:?}");
    assert!(iam.writes().iter().all(|w| !w.contains(" ci-deployer ")), "a write on the innocent user: {:?}", iam.writes());
    // AND the attacker, found through the key CloudTrail saw it use, is contained under its new name
    assert_eq!(key_status(&iam, "ci-deployer-x", DEPLOYER_KEY), KeyStatus::Inactive, "{r:?}");
    assert!(!launchguard_policies(&iam.user("ci-deployer-x")).is_empty(), "the renamed attacker is not quarantined: {r:?}");
}

/// Attack: the same name swap by a user whose burst used no long-term key (a console or
/// `GetSessionToken` session: CloudTrail shows an `ASIA` key, whose owner IAM cannot name). The
/// quarantine can only look the name up, and the name is the innocent user's now. SAFE: the
/// innocent user is untouched, the quarantine is refused, and the page says which unique id
/// CloudTrail recorded, for a person to find.
#[tokio::test(start_paused = true)]
async fn a_name_swap_by_a_session_user_is_refused_and_named_on_the_page() {
    let iam = world::iam().with_user("payroll", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/payroll")));
    let attacker_id = iam.user("ci-deployer").id.clone();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = deployer_finding("lg-rv4-swap-session");
    f["principals"][0]["activity"]["access_keys"] =
        json!([{"access_key_id": "ASIAEXAMPLESESSION01", "kind": "temporary", "calls": 3, "launched": 9}]);
    let f = world::witnessed(&f, Some(&iam));
    rename(&iam, "ci-deployer", "ci-deployer-x");
    rename(&iam, "payroll", "ci-deployer");
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await;
    assert!(launchguard_policies(&iam.user("ci-deployer")).is_empty(), "the innocent user was quarantined: {r:?}");
    assert!(iam.writes().iter().all(|w| w.contains(" ci-deployer-x ")), "a write on someone but the attacker: {:?}", iam.writes());
    let page = sns.messages.lock().unwrap().iter().map(|m| m.1.clone()).collect::<Vec<_>>().join("\n");
    if iam.writes().is_empty() {
        // no long-term key of the attacker in what CloudTrail confirmed: refused, and named
        assert!(
            page.contains(&attacker_id) && page.contains("REFUSED    quarantine_user"),
            "the page does not name the refusal and {attacker_id}: {page}"
        );
    } else {
        // CloudTrail's own records of the user (looked up by its name at the burst) showed a
        // long-term key: the attacker is followed through it and contained under its new name
        assert!(!launchguard_policies(&iam.user("ci-deployer-x")).is_empty(), "{page}");
    }
}

/// When the finding says the keys were created.
fn created_call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

/// Attack: `logs:PutLogEvents` on the trail's log group (SECURITY.md's first row) writes one
/// `CreateAccessKey` record "by" a principal whose real burst CloudTrail confirms, naming a key
/// another user made legitimately in the same minutes (a rotation by its owner). The detector
/// carries it in `activity.created`; `plan/proven.rs` narrows used keys and instances to
/// CloudTrail's records, but not created keys, and the handler's only check is that the key is
/// no older than the forged `eventTime`. SAFE: a key no CloudTrail record shows the principal
/// creating is never deactivated (named for a person instead).
#[tokio::test(start_paused = true)]
async fn a_created_key_only_the_log_group_shows_is_never_deactivated() {
    const VICTIM_KEY: &str = "AKIAPAYMENTSROTATED1";
    let iam = world::iam().with_user(
        "payments-svc",
        Entity {
            keys: vec![(VICTIM_KEY.into(), KeyStatus::Active)],
            // rotated by its owner a few seconds after the forged record's eventTime
            key_created: [(VICTIM_KEY.to_owned(), created_call() + Duration::seconds(20))].into_iter().collect(),
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/payments-svc"))
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    // GIVEN a key burst by ci-deployer that CloudTrail confirms (world::witnessed records it),
    // whose activity.created carries the forged record's key; CloudTrail holds no CreateAccessKey
    // (witnessed before the forged key is added: the world records every CreateAccessKey a
    // finding it witnesses names, as CloudTrail would for a real one)
    let mut f = deployer_finding("lg-rv4-forged-create");
    f["rule"] = json!("iam-access-key-burst");
    let mut f = world::witnessed(&f, Some(&iam));
    f["principals"][0]["activity"]["created"] =
        json!([{"kind": "access_key", "access_key_id": VICTIM_KEY, "user_name": "payments-svc", "created_at": created_call()}]);
    // WHEN it is dispatched
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    assert_eq!(key_status(&iam, "ci-deployer", DEPLOYER_KEY), KeyStatus::Inactive, "baseline: the real burst is contained: {r:?}");
    // THEN the payments key, which no CloudTrail record shows ci-deployer creating, stays Active
    assert_eq!(key_status(&iam, "payments-svc", VICTIM_KEY), KeyStatus::Active, "{:?}", r.outcomes);
    assert!(iam.writes().iter().all(|w| !w.contains(VICTIM_KEY)), "a write on the victim's key: {:?}", iam.writes());
    // AND the page names it for a person, and why it was left
    let page = sns.messages.lock().unwrap().iter().map(|m| m.1.clone()).collect::<Vec<_>>().join("\n");
    assert!(page.contains(&format!("{VICTIM_KEY} (for payments-svc) not deactivated")), "{page}");
    assert!(page.contains("no CreateAccessKey record that CloudTrail confirmed"), "{page}");
}

/// The same self-rename with `LG_EC2_ACTION=stop`: the EC2 handler resolves the principal by the
/// finding's name before acting (`resolve_principal`), finds no user of that name, and refuses:
/// the instances CloudTrail shows the user launching (same reservations, same launch times) keep
/// running. SAFE: they are stopped (the user is the same IAM user under its new name).
#[tokio::test(start_paused = true)]
async fn a_self_rename_after_the_burst_does_not_keep_its_instances_running() {
    use launchguard_responder::ports::InstanceState;
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let f = world::witnessed(&deployer_finding("lg-rv4-self-rename-ec2"), Some(&iam));
    let launches: Vec<launchguard_core::aggregate::LaunchedInstance> =
        serde_json::from_value(f["principals"][0]["activity"]["launches"].clone()).unwrap();
    assert!(!launches.is_empty());
    for l in &launches {
        let at = l.launched_at + Duration::milliseconds(400);
        lambda.ec2.put(
            "us-east-1",
            launchguard_responder::testing::running_instance(&l.instance_id, ACCOUNT, at, l.reservation_id.as_deref().unwrap(), &[]),
        );
    }
    // GIVEN ci-deployer launched them, then renamed itself
    rename(&iam, "ci-deployer", "ci-deployer-x");
    let cfg = config(&[("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]);
    let r = world::dispatch(&f, &cfg, &lambda, &sns, &logs, now()).await;
    // THEN its instances are stopped
    let running: Vec<String> = launches
        .iter()
        .filter(|l| lambda.ec2.get("us-east-1", &l.instance_id).unwrap().state == Some(InstanceState::Running))
        .map(|l| l.instance_id.clone())
        .collect();
    assert!(running.is_empty(), "the renamed attacker's instances keep running: {running:?}: {r:?}");
}

/// Attack: the self-release check knows the creator of a created key only by name
/// (`names_the_caller_in` compares `created_by`'s name; the handler's `self_release` compares the
/// key's *user*, not its creator). ci-deployer (working with a session key, so no key of its own
/// is deactivated) created a key for backdoor-1; both are contained; then ci-deployer renames
/// itself ci-deployer-2 and, as a release principal, asks for the finding's release. SAFE: the
/// release is refused, and the key it created stays Inactive (a renamed user is still itself).
#[tokio::test(start_paused = true)]
async fn a_renamed_creator_never_releases_the_key_it_created() {
    const BACKDOOR_KEY: &str = "AKIABACKDOOR1NEW0001";
    let iam = world::iam().with_user(
        "backdoor-1",
        Entity {
            keys: vec![(BACKDOOR_KEY.into(), KeyStatus::Active)],
            key_created: [(BACKDOOR_KEY.to_owned(), created_call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/backdoor-1"))
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = deployer_finding("lg-rv4-creator");
    f["rule"] = json!("iam-access-key-burst");
    f["principals"][0]["activity"]["access_keys"] = json!([]);
    f["principals"][0]["activity"]["created"] =
        json!([{"kind": "access_key", "access_key_id": BACKDOOR_KEY, "user_name": "backdoor-1", "created_at": created_call()}]);
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    assert_eq!(key_status(&iam, "backdoor-1", BACKDOOR_KEY), KeyStatus::Inactive, "baseline: {:?}", r.outcomes);
    // the creator renames itself, then asks for the release under its new name
    rename(&iam, "ci-deployer", "ci-deployer-2");
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    rel["finding_id"] = json!("lg-rv4-creator");
    rel["dry_run"] = json!(false);
    rel["requested_by"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer-2"));
    let rr = world::dispatch(&rel, &config(&[]), &lambda, &sns, &logs, now()).await;
    assert_eq!(key_status(&iam, "backdoor-1", BACKDOOR_KEY), KeyStatus::Inactive, "the renamed creator released its key: {rr:?}");
}

/// Attack (withstood): after ci-deployer is contained (its key deactivated, the user quarantined),
/// it is renamed ci-deployer-old and a new user takes the name ci-deployer. A release by
/// principal naming ci-deployer (the new user) must reach nothing of the old user: its quarantine
/// is left out by IAM's unique id, and its key (whose ledger entry has no id: a key's id is its
/// identity) is refused by the access-key handler, whose owner is ci-deployer-old now.
#[tokio::test(start_paused = true)]
async fn a_release_by_principal_for_a_new_holder_of_the_name_leaves_the_old_users_containment() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    world::dispatch(&deployer_finding("lg-rv4-old"), &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    let held = launchguard_policies(&iam.user("ci-deployer"));
    assert!(!held.is_empty() && key_status(&iam, "ci-deployer", DEPLOYER_KEY) == KeyStatus::Inactive, "baseline");
    rename(&iam, "ci-deployer", "ci-deployer-old");
    iam.users.lock().unwrap().insert(
        "ci-deployer".into(),
        Entity { id: "AIDANEWCIDEPLOYER001".into(), ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer")) },
    );
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_principal.json")).unwrap();
    rel["dry_run"] = json!(false);
    let r = world::dispatch(&rel, &config(&[]), &lambda, &sns, &logs, now()).await;
    assert_eq!(key_status(&iam, "ci-deployer-old", DEPLOYER_KEY), KeyStatus::Inactive, "{r:?}");
    assert_eq!(launchguard_policies(&iam.user("ci-deployer-old")), held, "{r:?}");
}

/// Attack: the renamed creator of a key asks for the release of the key's user (a release by
/// principal naming backdoor-1): the scope is backdoor-1's entries only, so none of the creator's
/// own containment is in it, and the creator's name in the entry (`created_by`) is its old one.
/// SAFE: refused by IAM's unique id (the entry's `created_by_id`, from CloudTrail's records), and
/// the key it created stays Inactive.
#[tokio::test(start_paused = true)]
async fn a_renamed_creator_never_releases_the_key_it_created_through_the_keys_user() {
    const BACKDOOR_KEY: &str = "AKIABACKDOOR1NEW0002";
    let iam = world::iam().with_user(
        "backdoor-2",
        Entity {
            keys: vec![(BACKDOOR_KEY.into(), KeyStatus::Active)],
            key_created: [(BACKDOOR_KEY.to_owned(), created_call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/backdoor-2"))
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let mut f = deployer_finding("lg-rv4-creator-by-user");
    f["rule"] = json!("iam-access-key-burst");
    f["principals"][0]["activity"]["access_keys"] = json!([]);
    f["principals"][0]["activity"]["created"] =
        json!([{"kind": "access_key", "access_key_id": BACKDOOR_KEY, "user_name": "backdoor-2", "created_at": created_call()}]);
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await.unwrap();
    assert_eq!(key_status(&iam, "backdoor-2", BACKDOOR_KEY), KeyStatus::Inactive, "baseline: {:?}", r.outcomes);
    rename(&iam, "ci-deployer", "ci-deployer-2");
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_principal.json")).unwrap();
    rel["principal_arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/backdoor-2"));
    rel["dry_run"] = json!(false);
    rel["requested_by"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer-2"));
    let rr = world::dispatch(&rel, &config(&[]), &lambda, &sns, &logs, now()).await;
    assert_eq!(key_status(&iam, "backdoor-2", BACKDOOR_KEY), KeyStatus::Inactive, "the renamed creator released its key: {rr:?}");
    let Err(e) = rr else { panic!("the release was not refused") };
    assert!(e.to_string().contains(launchguard_core::contract::SELF_RELEASE), "{e}");
}
