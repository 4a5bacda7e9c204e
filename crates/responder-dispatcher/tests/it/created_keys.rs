//! The keys a contained principal created (`iam-access-key-burst`): the dispatcher has each one
//! deactivated by the access-key handler, for whichever user it was created; a key created for a
//! protected user is left to a person, loudly; a release reactivates them, and neither the
//! creator nor the key's user can ask for that release.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError, handle};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Iam, Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

/// When the finding says the keys were created.
fn call() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 20, 5).unwrap()
}

fn key(id: &str, user: &str) -> Value {
    json!({"kind": "access_key", "access_key_id": id, "user_name": user, "created_at": call()})
}

/// The contract example as a key burst: ci-deployer created a key for backdoor-1 and one for the
/// protected breakglass-admin; the DataScience role created one for backdoor-2.
fn finding(rule: &str) -> Value {
    let mut f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    f["rule"] = json!(rule);
    for p in f["principals"].as_array_mut().unwrap() {
        p["activity"]["created"] = match p["principal"]["type"].as_str().unwrap() {
            "iam_user" => json!([key("AKIABACKDOOR1NEW0001", "backdoor-1"), key("AKIABREAKGLASSNEW001", "breakglass-admin")]),
            _ => json!([key("AKIABACKDOOR2NEW0001", "backdoor-2"), {"kind": "user", "user_name": "backdoor-3", "created_at": call()}]),
        };
    }
    f
}

/// The example account, and the users the keys were created for: each has its new key (created a
/// second after the call) and an old key of its own.
fn account() -> Iam {
    let user = |name: &str, new: &str| Entity {
        keys: vec![(new.to_owned(), KeyStatus::Active), (format!("AKIA{}OLD", name.to_uppercase().replace('-', "")), KeyStatus::Active)],
        key_created: [(new.to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
        ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
    };
    world::iam()
        .with_user("backdoor-1", user("backdoor-1", "AKIABACKDOOR1NEW0001"))
        .with_user("backdoor-2", user("backdoor-2", "AKIABACKDOOR2NEW0001"))
        .with_user("breakglass-admin", user("breakglass-admin", "AKIABREAKGLASSNEW001"))
}

fn status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.users.lock().unwrap()[user].keys.iter().find(|(k, _)| k == key).unwrap().1
}

async fn dispatch(payload: &Value, lambda: &Lambda<'_>, sns: &Sns, logs: &Logs) -> Result<DispatchReport, DispatcherError> {
    let cfg = config(&[]);
    handle(&world::sealed(lambda, payload, now()), &cfg, lambda, sns, logs, &logs.ledger, &lambda.kms, &logs.reports, world::trail(), now())
        .await
}

fn outcomes(r: &DispatchReport) -> Vec<(String, String, String)> {
    r.outcomes.iter().map(|o| (o.action.name().to_owned(), o.action.target(), o.outcome.name().to_owned())).collect()
}

#[tokio::test(start_paused = true)]
async fn a_key_burst_deactivates_the_keys_it_created_for_other_users() {
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    // WHEN the key-burst finding is dispatched
    let r = dispatch(&finding("iam-access-key-burst"), &lambda, &sns, &logs).await.unwrap();
    // THEN both created keys of unprotected users are Inactive, by the access-key handler
    let o = outcomes(&r);
    for (user, k) in [("backdoor-1", "AKIABACKDOOR1NEW0001"), ("backdoor-2", "AKIABACKDOOR2NEW0001")] {
        assert_eq!(status(&iam, user, k), KeyStatus::Inactive, "{user}");
        assert!(o.contains(&("deactivate_created_access_key".into(), format!("access key {k} of user {user}"), "applied".into())), "{o:?}");
    }
    // AND the users' own keys are untouched, and the protected user's key is never sent
    assert_eq!(status(&iam, "backdoor-1", "AKIABACKDOOR1OLD"), KeyStatus::Active);
    assert_eq!(status(&iam, "breakglass-admin", "AKIABREAKGLASSNEW001"), KeyStatus::Active);
    assert!(o.iter().all(|(_, t, _)| !t.contains("breakglass")), "{o:?}");
    // AND one notification says who created what, and that the protected key is a person's job
    let m = sns.messages.lock().unwrap().clone();
    assert_eq!(m.len(), 1);
    let body = &m[0].1;
    assert!(body.contains("CRITICAL: it created access key AKIABREAKGLASSNEW001 for breakglass-admin"), "{body}");
    assert!(body.contains("user backdoor-3"), "the created user is named: {body}");
    assert!(body.contains("iam-access-key-burst"), "the rule is named: {body}");
}

#[tokio::test(start_paused = true)]
async fn a_rule_without_the_action_and_lg_created_keys_none_leave_them() {
    // GIVEN the same finding from ec2-mass-launch, whose rule does not allow the action
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&finding("ec2-mass-launch"), &lambda, &sns, &logs).await.unwrap();
    // THEN no created key is touched, and the notification names them for a person
    assert!(outcomes(&r).iter().all(|(a, ..)| a != "deactivate_created_access_key"));
    assert_eq!(status(&iam, "backdoor-1", "AKIABACKDOOR1NEW0001"), KeyStatus::Active);
    let body = sns.messages.lock().unwrap()[0].1.clone();
    assert!(body.contains("key AKIABACKDOOR1NEW0001 of backdoor-1"), "{body}");
    // AND LG_CREATED_KEYS=none is a configuration the dispatcher reads, and a typo is an error
    assert!(
        !launchguard_responder_dispatcher::plan::Playbook::from_env(&|k: &str| (k == "LG_CREATED_KEYS").then(|| "none".to_owned()))
            .unwrap()
            .created_keys
    );
    let err = launchguard_responder_dispatcher::plan::Playbook::from_env(&|k: &str| (k == "LG_CREATED_KEYS").then(|| "yes".to_owned()))
        .unwrap_err();
    assert!(err.to_string().contains("LG_CREATED_KEYS"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_protected_creator_gets_nothing_done_for_its_keys() {
    // GIVEN the creator is protected (PROTECTED_PRINCIPALS names ci-deployer)
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/breakglass-*,arn:aws:iam::*:user/ci-deployer")]);
    let f = finding("iam-access-key-burst");
    let r = handle(
        &world::sealed(&lambda, &f, now()),
        &cfg,
        &lambda,
        &sns,
        &logs,
        &logs.ledger,
        &lambda.kms,
        &logs.reports,
        world::trail(),
        now(),
    )
    .await
    .unwrap();
    // THEN the key it created for backdoor-1 is left (the role's for backdoor-2 still goes)
    assert_eq!(status(&iam, "backdoor-1", "AKIABACKDOOR1NEW0001"), KeyStatus::Active);
    assert_eq!(status(&iam, "backdoor-2", "AKIABACKDOOR2NEW0001"), KeyStatus::Inactive);
    assert!(outcomes(&r).iter().all(|(_, t, _)| !t.contains("backdoor-1")), "{:?}", outcomes(&r));
}

#[tokio::test(start_paused = true)]
async fn a_release_reactivates_them_but_not_when_the_creator_or_the_keys_user_asks() {
    let iam = account();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&finding("iam-access-key-burst"), &lambda, &sns, &logs).await.unwrap();
    let release = |by: &str| {
        let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
        rel["finding_id"] = json!(r.finding_id);
        rel["dry_run"] = json!(false);
        rel["requested_by"] = json!(by);
        rel
    };
    // WHEN the key's own user, then the role that created it, ask for the release
    for by in
        [format!("arn:aws:iam::{ACCOUNT}:user/backdoor-2"), format!("arn:aws:sts::{ACCOUNT}:assumed-role/DataScience/attacker-session")]
    {
        let _ = dispatch(&release(&by), &lambda, &sns, &logs).await;
        // THEN its key stays Inactive
        assert_eq!(status(&iam, "backdoor-2", "AKIABACKDOOR2NEW0001"), KeyStatus::Inactive, "{by}");
    }
    // WHEN a person does
    let rel = dispatch(&release("arn:aws:iam::111122223333:user/security-oncall"), &lambda, &sns, &logs).await.unwrap();
    // THEN both created keys work again
    assert_eq!(rel.status, "released", "{:?}", outcomes(&rel));
    assert_eq!(status(&iam, "backdoor-1", "AKIABACKDOOR1NEW0001"), KeyStatus::Active);
    assert_eq!(status(&iam, "backdoor-2", "AKIABACKDOOR2NEW0001"), KeyStatus::Active);
}

#[tokio::test(start_paused = true)]
async fn a_key_left_active_because_its_user_is_protected_by_path_is_critical() {
    // GIVEN backdoor-1 lives under /admins/, which PROTECTED_PRINCIPALS protects: the plan (which
    // knows only the name) sends the action, and the handler, on the real ARN, refuses it
    let iam = account();
    iam.users.lock().unwrap().get_mut("backdoor-1").unwrap().arn = format!("arn:aws:iam::{ACCOUNT}:user/admins/backdoor-1");
    let protect = [("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/breakglass-*,arn:aws:iam::*:user/admins/*")];
    let lambda = Lambda::new(&iam, &protect, now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let f = finding("iam-access-key-burst");
    let cfg = config(&protect);
    handle(&world::sealed(&lambda, &f, now()), &cfg, &lambda, &sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, world::trail(), now())
        .await
        .unwrap();
    // THEN the key stays Active (protection wins) and the page says, loudly, that the attacker's
    // key still works, with the command
    assert_eq!(status(&iam, "backdoor-1", "AKIABACKDOOR1NEW0001"), KeyStatus::Active);
    let body = sns.messages.lock().unwrap()[0].1.clone();
    assert!(body.contains("!!! CRITICAL: access keys the attacker created are STILL ACTIVE !!!"), "{body}");
    assert!(
        body.contains("aws iam update-access-key --user-name backdoor-1 --access-key-id AKIABACKDOOR1NEW0001 --status Inactive"),
        "{body}"
    );
}

/// GIVEN a confirmed key burst (ci-deployer's calls and the keys it created for backdoor-1 and
/// backdoor-2 are in CloudTrail) and, written only into the log group, a `CreateAccessKey` record
/// of ci-deployer "creating" the production key of another user (`etl`, whose key was created a
/// second later by a person), THEN that key stays active: no record CloudTrail holds shows
/// ci-deployer creating it. The keys CloudTrail shows created are deactivated, and the page names
/// the unconfirmed one for a person.
#[tokio::test(start_paused = true)]
async fn a_created_key_only_the_log_group_shows_is_not_deactivated() {
    let mut f = world::witnessed(&finding("iam-access-key-burst"), None);
    for p in f["principals"].as_array_mut().unwrap().iter_mut().filter(|p| p["principal"]["type"] == "iam_user") {
        p["activity"]["created"].as_array_mut().unwrap().push(key("AKIAETLPRODUCTION001", "etl"));
    }
    let iam = account().with_user(
        "etl",
        Entity {
            keys: vec![("AKIAETLPRODUCTION001".to_owned(), KeyStatus::Active)],
            key_created: [("AKIAETLPRODUCTION001".to_owned(), call() + Duration::seconds(1))].into_iter().collect(),
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/etl"))
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let r = dispatch(&f, &lambda, &sns, &logs).await.unwrap();
    assert_eq!(status(&iam, "etl", "AKIAETLPRODUCTION001"), KeyStatus::Active, "{:?}", outcomes(&r));
    assert_eq!(status(&iam, "backdoor-1", "AKIABACKDOOR1NEW0001"), KeyStatus::Inactive, "{:?}", outcomes(&r));
    let body = &sns.messages.lock().unwrap()[0].1;
    assert!(body.contains("AKIAETLPRODUCTION001 (for etl) not deactivated"), "{body}");
}
