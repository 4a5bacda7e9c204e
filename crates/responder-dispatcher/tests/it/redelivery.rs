//! A finding released before the upgrade (its ledger entries in the layout before today's: a role
//! under its name in the case the finding gave, a key under its user's name) and delivered again
//! after it (a Lambda retry of the sealed finding, still fresh): the redelivery must not contain
//! again what a person released, release anything, or leave the ledger counting a containment
//! that is not in place.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, TimeZone, Utc};
use launchguard_responder_dispatcher::Status;
use launchguard_responder_dispatcher::ledger::Ledger;
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Lambda, Logs, Sns, config};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

const RESPONDER: &str = "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice";

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

fn release(finding_id: &str) -> Value {
    let mut rel: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    rel["finding_id"] = json!(finding_id);
    rel["requested_by"] = json!(RESPONDER);
    rel
}

/// The ledger of `from` as the layout before today's filed it, in `into`: the role under its name
/// in the finding's case (`role/DataScience/`), each key under its user's name.
fn as_before_the_upgrade(from: &Logs, into: &Logs) {
    let rewrite = |s: &str| {
        s.replace(&format!("targets/{ACCOUNT}/role/datascience/"), &format!("targets/{ACCOUNT}/role/DataScience/"))
            .replace(&format!("targets/{ACCOUNT}/key/"), &format!("targets/{ACCOUNT}/user/ci-deployer/key/"))
    };
    for k in from.ledger.keys() {
        let Some(body) = world::before_ids(&k, &String::from_utf8(from.ledger.object(&k).unwrap().body).unwrap()) else { continue };
        into.ledger.insert(&rewrite(&k), rewrite(&body).into_bytes());
    }
}

/// Attack: the example finding (ci-deployer's keys and quarantine, DataScience's sessions) is
/// contained and released by a person before the upgrade; after it, the same sealed finding comes
/// again. Its claims look under today's targets, find nothing there, and act: the handlers answer
/// from their replay records (the same request ids), so IAM is not changed again, but the ledger
/// records each answer as a containment launchguard holds now, and the page says CONTAINED.
#[tokio::test]
async fn a_finding_released_before_the_upgrade_is_neither_contained_again_nor_held() {
    let iam = world::iam();
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, scratch, logs) = (Sns::default(), Logs::default(), Logs::default());
    let f = finding();
    let fid = f["finding_id"].as_str().unwrap().to_owned();
    world::dispatch(&f, &config(&[]), &lambda, &sns, &scratch, now()).await.unwrap();
    let contained = (iam.user("ci-deployer"), iam.role("DataScience"));
    world::dispatch(&release(&fid), &config(&[]), &lambda, &sns, &scratch, now()).await.unwrap();
    let released = (iam.user("ci-deployer"), iam.role("DataScience"));
    assert_ne!(released, contained, "baseline: the release undid the containment");
    as_before_the_upgrade(&scratch, &logs);
    let writes = iam.writes().len();
    // WHEN the same finding is delivered again after the upgrade
    let r = world::dispatch(&f, &config(&[]), &lambda, &sns, &logs, now()).await;
    // THEN nothing is contained again, nothing is released
    let after = iam.writes();
    assert_eq!(after.len(), writes, "the redelivery changed IAM: {:?}", &after[writes..]);
    assert_eq!((iam.user("ci-deployer"), iam.role("DataScience")), released);
    // and the ledger holds no containment of the finding: it holds none in place
    let ledger = Ledger::new(&logs.ledger);
    let entry = ledger.finding(&fid).await.unwrap().unwrap();
    for k in &entry.entries {
        if let Some((e, _)) = ledger.entry(k).await.unwrap() {
            assert!(!e.holds() || e.finding_id != fid, "{k}: the ledger counts a containment that is not in place: {e:?}");
        }
    }
    let r = r.unwrap();
    assert_eq!(r.status, Status::AlreadyReleased, "{r:?}");
    assert!(r.outcomes.is_empty(), "{:?}", r.outcomes);
}
