//! CloudTrail's confirmed records of one principal name two IAM user ids (`userIdentity.principalId`):
//! the user was deleted and a user of the same name made inside the window, and both called. No
//! action may then go by the name alone (the user IAM gives the name now is whichever was made
//! last; its quarantine, its instances and its keys by name are a guess): the actions by name are
//! refused and a person is paged with both ids. A key CloudTrail shows used is still deactivated:
//! its id is its identity.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::Duration;
use launchguard_aws::trail::MemoryTrail;
use launchguard_responder::KeyStatus;
use launchguard_responder::memory::Entity;
use launchguard_testkit::{Actor, Burst, run_instances_template};

use crate::forged_records::{detected, now};
use crate::world::{self, ACCOUNT, Iam, Lambda, Logs, Sns, config};

const OLD_KEY: &str = "AKIAEXAMPLEINTERN001";
const NEW_KEY: &str = "AKIAEXAMPLEINTERN002";

#[tokio::test(start_paused = true)]
async fn two_confirmed_user_ids_under_one_name_never_act_on_the_name() {
    let old = Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: OLD_KEY.into() };
    let new = Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: NEW_KEY.into() };
    let mut real = Burst::new(old, 2, 3, now() - Duration::seconds(85)).records(&run_instances_template(), 971);
    real.extend(Burst::new(new, 2, 3, now() - Duration::seconds(45)).records(&run_instances_template(), 972));
    let ids: std::collections::BTreeSet<&str> = real.iter().filter_map(|r| r["userIdentity"]["principalId"].as_str()).collect();
    assert_eq!(ids.len(), 2, "setup: two user ids under the name intern");
    let trail = MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    let f = detected(&real).await;
    // IAM now: the user made last holds the name (its id is the second one)
    let iam = Iam::default().with_user(
        "intern",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
            id: "AIDAEXAMPLEINTERN002".into(),
            keys: vec![(NEW_KEY.into(), KeyStatus::Active), ("AKIAEXAMPLEINTERN003".into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let sealed = world::sealed(&lambda, &f, now());
    let _ = launchguard_responder_dispatcher::handle(
        &sealed,
        &config(&[]),
        &lambda,
        &sns,
        &logs,
        &logs.ledger,
        &lambda.kms,
        &logs.reports,
        &trail,
        now(),
    )
    .await;
    let page = sns.messages.lock().unwrap().last().map(|m| m.1.clone()).unwrap_or_default();
    let by_name: Vec<String> = iam
        .writes()
        .into_iter()
        .filter(|w| w.starts_with("AttachUserPolicy") || w.starts_with("PutUserPolicy") || w.contains("AKIAEXAMPLEINTERN003"))
        .collect();
    assert!(by_name.is_empty(), "acted on whoever holds the name intern now: {by_name:?}\n{page}");
    assert!(page.contains("AIDAEXAMPLEINTERN001") && page.contains("AIDAEXAMPLEINTERN002"), "the page names both ids\n{page}");
    // the key CloudTrail shows the current user calling with is its own: deactivated
    let status = iam.user("intern").keys.iter().find(|(k, _)| k == NEW_KEY).unwrap().1;
    assert_eq!(status, KeyStatus::Inactive, "{:?}\n{page}", iam.writes());
}
