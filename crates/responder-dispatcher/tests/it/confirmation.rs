//! Issue 32, CloudTrail confirmation under attack and under load.
//!
//! The attacker holds `logs:PutLogEvents` only: it writes records into the trail's log group,
//! naming whom it likes, copying real event ids, repeating them, changing their region, time or
//! counts. Each attack is read by the real detector (or, where the detector itself drops the
//! records, handed to the dispatcher as a detector that does not drop them would), and nothing
//! it names may be contained. And a finding of 300 principals must not outrun the dispatcher's
//! timeout: what cannot be confirmed in time is notify-only, never contained.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::trail::MemoryTrail;
use launchguard_core::policy::REVOKE_SESSIONS_POLICY;
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::ledger::DISPATCHER_TIMEOUT;
use launchguard_responder_dispatcher::{DispatchReport, handle};
use launchguard_testkit::{Actor, Burst, run_instances_template};
use serde_json::{Value, json};

use crate::forged_records::{detected, forged};
use crate::world::{self, ACCOUNT, Entity, Iam, Lambda, Logs, Sns, config};

const ADMIN_KEY: &str = "AKIAEXAMPLEOPSADMIN1";
const INTERN_KEY: &str = "AKIAEXAMPLEINTERN001";

fn now() -> DateTime<Utc> {
    crate::forged_records::now()
}

fn intern() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: INTERN_KEY.into() }
}

fn admin() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "ops-admin".into(), key: ADMIN_KEY.into() }
}

/// The on-call admin and an intern, one active key each.
fn iam() -> Iam {
    let user = |name: &str, key: &str| Entity {
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        keys: vec![(key.into(), KeyStatus::Active)],
        ..Entity::default()
    };
    Iam::default().with_user("ops-admin", user("ops-admin", ADMIN_KEY)).with_user("intern", user("intern", INTERN_KEY))
}

async fn dispatch(finding: &Value, iam: &Iam, sns: &Sns, trail: &MemoryTrail) -> DispatchReport {
    let lambda = Lambda::new(iam, &[], now());
    let logs = Logs::default();
    let sealed = world::sealed(&lambda, finding, now());
    handle(&sealed, &config(&[]), &lambda, sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, trail, now()).await.unwrap()
}

fn record_all(trail: &MemoryTrail, records: &[Value]) {
    for r in records {
        trail.record(r, std::time::Duration::ZERO);
    }
}

/// The admin's key is still active and no outcome names the admin.
fn admin_untouched(iam: &Iam, r: &DispatchReport) {
    assert_eq!(iam.user("ops-admin").keys[0], (ADMIN_KEY.to_owned(), KeyStatus::Active), "{r:?}");
    assert!(r.outcomes.iter().all(|o| !o.action.target().contains("ops-admin") && !o.action.target().contains(ADMIN_KEY)), "{r:?}");
}

fn principal_index(finding: &Value, user: &str) -> usize {
    finding["principals"].as_array().unwrap().iter().position(|p| p["principal"]["user_name"] == user).unwrap()
}

/// GIVEN a real burst by the intern (CloudTrail holds it) and forged records naming the admin,
/// side by side in the log group, THEN the intern is contained and the admin is not.
#[tokio::test(start_paused = true)]
async fn forged_records_naming_an_admin_beside_a_real_burst_contain_only_the_real_launcher() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(80)).records(&run_instances_template(), 41);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let finding = detected(&[real, forged()].concat()).await;
    assert_eq!(finding["principals"].as_array().unwrap().len(), 2, "{finding}");
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    admin_untouched(&iam, &r);
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Inactive), "{r:?}");
    assert!(r.human_actions.iter().any(|h| h.contains("ops-admin") && h.contains("NOT contained, notify-only")), "{r:?}");
}

/// GIVEN the intern's real calls in CloudTrail, and copies of them in the log group that name
/// the admin instead (same event ids, times and counts), THEN the admin is not contained: each
/// event id CloudTrail answers names the intern.
#[tokio::test(start_paused = true)]
async fn real_event_ids_of_another_principals_calls_confirm_nothing() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(80)).records(&run_instances_template(), 42);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let copies: Vec<Value> = real
        .iter()
        .map(|r| {
            let mut c = r.clone();
            c["userIdentity"] = admin().user_identity();
            c
        })
        .collect();
    let finding = detected(&copies).await;
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    admin_untouched(&iam, &r);
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("CloudTrail recorded it for") && page.contains("intern"), "{page}");
}

/// GIVEN a finding in which the admin's evidence reuses the event ids of the intern's real calls
/// (the detector keeps one record per event id; a detector that did not would hand over both),
/// THEN the intern is contained, the admin is not, and no event id is looked up twice (the
/// intern's own calls, read by who made them, answer the admin's claims too).
#[tokio::test(start_paused = true)]
async fn event_ids_reused_across_principals_confirm_only_their_own_principal() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(80)).records(&run_instances_template(), 43);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let mut finding = detected(&[real.clone(), forged()].concat()).await;
    let (a, i) = (principal_index(&finding, "ops-admin"), principal_index(&finding, "intern"));
    finding["principals"][a]["evidence"] = finding["principals"][i]["evidence"].clone();
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    admin_untouched(&iam, &r);
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Inactive), "{r:?}");
    let looked: Vec<String> = trail.lookups().into_iter().map(|(_, id)| id).collect();
    let distinct: BTreeSet<&String> = looked.iter().collect();
    assert_eq!(looked.len(), distinct.len(), "an event id looked up twice: {looked:?}");
    assert!(distinct.contains(&"Username=intern".to_owned()) && distinct.len() <= 6, "{looked:?}");
}

/// GIVEN one real call of the admin (3 instances, in CloudTrail) and a finding whose evidence
/// names that one event id four times (12 instances: over the threshold of 10), THEN the admin
/// is not contained: an event id counts once. (The detector drops records with a repeated
/// `eventID`; the dispatcher must not rely on every detector doing so.)
#[tokio::test(start_paused = true)]
async fn one_real_record_named_four_times_counts_once() {
    let forged = forged();
    let trail = MemoryTrail::default();
    trail.record(&forged[0], std::time::Duration::ZERO);
    let mut finding = detected(&forged).await;
    let first = finding["principals"][0]["evidence"]["events"][0].clone();
    assert_eq!(first["event_id"], forged[0]["eventID"]);
    finding["principals"][0]["evidence"]["events"] = json!([first, first, first, first]);
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    admin_untouched(&iam, &r);
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("named more than once: counted once"), "{page}");
    let looked: Vec<String> = trail.lookups().into_iter().map(|(_, id)| id).collect();
    assert_eq!(looked, ["Username=ops-admin"], "counted once, the record cannot cross 10: only its own calls are read");
}

/// GIVEN the admin's real calls in CloudTrail, and copies in the log group that differ in region,
/// in time, or in the instances launched (each attack on its own), THEN the admin is not
/// contained, and the page says what CloudTrail recorded instead.
#[tokio::test(start_paused = true)]
async fn a_real_event_id_with_another_region_time_or_count_confirms_nothing() {
    let cases = [
        "not in CloudTrail's event history",
        "CloudTrail recorded it at",
        "CloudTrail recorded 1 launched / 1 requested, the log group 3 / 3",
    ];
    for (k, says) in cases.into_iter().enumerate() {
        let seed = 50 + u32::try_from(k).unwrap();
        let start = now() - Duration::seconds(90);
        let mut forged = Burst::new(admin(), 4, 3, start).records(&run_instances_template(), seed);
        let mut real = forged.clone();
        match k {
            0 => forged.iter_mut().for_each(|r| r["awsRegion"] = json!("eu-west-3")),
            // a day earlier: outside the finding's window (CloudTrail's own calls inside it count
            // whatever the log group says, so a real burst at another second would be contained)
            1 => real.iter_mut().for_each(|r| r["eventTime"] = json!("2026-11-21T05:38:59Z")),
            // CloudTrail recorded one instance per call; the log group says three
            _ => real = Burst::new(admin(), 4, 1, start).records(&run_instances_template(), seed),
        }
        let trail = MemoryTrail::default();
        record_all(&trail, &real);
        let finding = detected(&forged).await;
        let (iam, sns) = (iam(), Sns::default());
        let r = dispatch(&finding, &iam, &sns, &trail).await;
        admin_untouched(&iam, &r);
        let page = &sns.messages.lock().unwrap()[0].1;
        assert!(page.contains(says), "case {k}: {page}");
    }
}

/// GIVEN two real calls of the admin (6 instances, under the threshold of 10) and two forged ones
/// (6 more) in the log group, THEN the evidence crosses the threshold only with the forged
/// records, and the admin is not contained.
#[tokio::test(start_paused = true)]
async fn evidence_that_crosses_only_with_unconfirmed_records_contains_nobody() {
    let records = Burst::new(admin(), 4, 3, now() - Duration::seconds(90)).records(&run_instances_template(), 60);
    let trail = MemoryTrail::default();
    record_all(&trail, &records[..2]);
    let finding = detected(&records).await;
    assert_eq!(finding["principals"][0]["evidence"]["events"].as_array().unwrap().len(), 4, "{finding}");
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    admin_untouched(&iam, &r);
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("CloudTrail confirmed 2 of the 4 event(s)"), "{page}");
}

/// 300 roles flagged in one finding, each by three calls (its evidence: three records, "3 calls
/// within 1 min"); CloudTrail holds the calls of two roles in three, the third's are forged. As
/// the detector hands it over: cut into parts that each fit a sealed payload.
fn three_hundred(iam: &Iam, trail: &MemoryTrail) -> Vec<Value> {
    let mut f: Value = serde_json::from_str(&launchguard_testkit::fixture("contract/finding.json")).unwrap();
    let mut template = f["principals"][0].clone();
    // the dispatcher judges evidence by its rule's own horizons, inside the finding's window
    let first_horizon =
        serde_json::to_value(launchguard_core::rules::RuleSet::bundled().unwrap().get("ec2-mass-launch").unwrap().horizons[0]).unwrap();
    f["window"] = json!({"start": (now() - Duration::seconds(600)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "end": (now() + Duration::seconds(60)).format("%Y-%m-%dT%H:%M:%SZ").to_string()});
    for k in ["user_agents", "instance_ids", "access_keys", "session_names"] {
        template["activity"][k] = json!([]);
    }
    let principals: Vec<Value> = (0..300)
        .map(|i| {
            let name = format!("Role{i:03}");
            let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
            iam.roles.lock().unwrap().insert(name.clone(), Entity::new(role_arn.clone()));
            let events: Vec<Value> = (0..3)
                .map(|c| {
                    let id = event_id(i, c);
                    let at = (now() - Duration::seconds(120 - 5 * c)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
                    let mut r = run_instances_template();
                    r["eventID"] = json!(id);
                    r["eventTime"] = json!(at);
                    r["awsRegion"] = json!("us-east-1");
                    r["errorCode"] = Value::Null;
                    r["userIdentity"] = json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s"),
                        "accountId": ACCOUNT, "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "userName": name}}});
                    // 4 instances a call: 3 calls cross the rule's first horizon (10 instances within 5 min)
                    r["requestParameters"]["instancesSet"]["items"] = json!([{"imageId": "ami-1", "minCount": 4, "maxCount": 4}]);
                    r["responseElements"]["instancesSet"]["items"] =
                        json!((0..4).map(|k| json!({"instanceId": format!("i-8{i:09x}{c:02x}{k:04x}")})).collect::<Vec<_>>());
                    if i % 3 != 2 {
                        trail.record(&r, std::time::Duration::ZERO);
                    }
                    json!({"event_id": id, "event_name": "RunInstances", "region": "us-east-1", "event_time": at,
                        "launched": 4, "requested": 4, "failed": false})
                })
                .collect();
            let mut p = template.clone();
            p["principal"]["role_arn"] = json!(role_arn);
            p["principal"]["role_name"] = json!(name);
            p["evidence"] = json!({"horizon": first_horizon.clone(), "events": events});
            p
        })
        .collect();
    f["principals"] = json!(principals);
    f["excluded"] = json!([]);
    let f: launchguard_core::contract::Finding = serde_json::from_value(f).unwrap();
    f.into_parts(launchguard_core::contract::MAX_PAYLOAD_BYTES).iter().map(|p| serde_json::to_value(p).unwrap()).collect()
}

fn event_id(principal: usize, call: i64) -> String {
    format!("88888888-0000-4000-8000-{principal:08x}{call:04x}")
}

/// GIVEN a finding of 300 principals, each needing three lookups (500 ms apart: 450 s of
/// lookups; a part of it alone is more than the dispatcher's 120 s), WHEN each part is
/// dispatched, THEN each delivery ends within the timeout with no handler left unsent, the
/// principals it could confirm in time are contained, every other one (and every forged one)
/// is notify-only and told why, and nothing whose records CloudTrail does not hold is contained.
#[tokio::test(start_paused = true)]
async fn three_hundred_principals_finish_within_the_timeout_and_nothing_unconfirmed_is_contained() {
    let (iam, trail) = (world::iam(), MemoryTrail::default());
    let parts = three_hundred(&iam, &trail);
    let mut reports = Vec::new();
    for part in &parts {
        let sns = Sns::default();
        let (t0, before) = (tokio::time::Instant::now(), trail.lookups().len());
        let r = dispatch(part, &iam, &sns, &trail).await;
        let took = t0.elapsed();
        assert!(
            took < DISPATCHER_TIMEOUT.to_std().unwrap(),
            "a delivery of {} principals took {took:?}",
            part["principals"].as_array().unwrap().len()
        );
        assert!(r.outcomes.iter().all(|o| o.outcome.name() == "applied"), "{:?}", r.outcomes);
        let lookups = trail.lookups().split_off(before);
        for w in lookups.windows(2) {
            assert!(w[1].0 - w[0].0 >= std::time::Duration::from_millis(500), "lookups of one delivery closer than 500 ms");
        }
        reports.push(r);
    }
    let contained: Vec<usize> = (0..300).filter(|i| iam.role(&format!("Role{i:03}")).has_attached(REVOKE_SESSIONS_POLICY)).collect();
    assert!(!contained.is_empty(), "the first principals of each part fit the budget");
    assert!(contained.iter().all(|i| i % 3 != 2), "a forged principal was contained: {contained:?}");
    let looked: BTreeSet<String> = trail.lookups().into_iter().map(|(_, id)| id).collect();
    for i in &contained {
        assert!((0..3).all(|c| looked.contains(&event_id(*i, c))), "Role{i:03} contained without its three lookups");
    }
    let outcomes: usize = reports.iter().map(|r| r.outcomes.len()).sum();
    assert_eq!(outcomes, contained.len());
    let human: Vec<&String> = reports.iter().flat_map(|r| &r.human_actions).collect();
    assert!(human.iter().any(|h| h.contains("not confirmed within this delivery's time budget")), "{human:?}");
    let notify_only = human.iter().filter(|h| h.contains("NOT contained, notify-only")).count();
    assert_eq!(notify_only + contained.len(), 300, "every principal is contained or told why not");
}

/// GIVEN a delivery that Lambda stops 70 s after it starts (less than the 120 s timeout: a
/// function whose timeout was lowered), WHEN a real burst arrives, THEN its lookups end by the
/// deadline less the handler's 60 s and the 10 s reserve: none is made, nobody is contained, and
/// the page says the time budget ran out.
#[tokio::test(start_paused = true)]
async fn a_delivery_with_little_time_left_looks_nothing_up_and_contains_nobody() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(80)).records(&run_instances_template(), 44);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let finding = detected(&real).await;
    let (iam, sns) = (iam(), Sns::default());
    let lambda = Lambda::new(&iam, &[], now());
    let logs = Logs::default();
    let sealed = world::sealed(&lambda, &finding, now());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(70);
    let r = launchguard_responder_dispatcher::handle_until(
        deadline,
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
    .await
    .unwrap();
    assert!(trail.lookups().is_empty(), "{:?}", trail.lookups());
    assert!(r.outcomes.is_empty(), "{r:?}");
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Active));
    assert!(r.human_actions.iter().any(|h| h.contains("not confirmed within this delivery's time budget")), "{:?}", r.human_actions);
}

/// The delivery's time comes from Lambda's deadline (epoch ms); a deadline that is not in the
/// future (a local emulator's fixed 600000) gives the deployed timeout, never zero: with zero, the
/// dispatcher confirmed nothing and contained nobody (every e2e chain was notify-only).
#[test]
fn the_time_left_is_lambdas_deadline_or_the_deployed_timeout_never_zero() {
    use launchguard_responder_dispatcher::ledger::{DISPATCHER_TIMEOUT, time_left};
    let now = 1_780_000_000_000_i64;
    assert_eq!(time_left(1_780_000_090_000, now), std::time::Duration::from_secs(90));
    let deployed = DISPATCHER_TIMEOUT.to_std().unwrap();
    for bogus in [600_000, 0, 1_780_000_000_000, 1_779_999_999_000] {
        assert_eq!(time_left(bogus, now), deployed, "{bogus}");
    }
    assert_eq!(time_left(600_000, -5), deployed);
}

/// GIVEN the intern's real burst in CloudTrail and someone throttling `LookupEvents` for the
/// first 6 lookups of the delivery (its one shared quota), THEN the dispatcher backs off and
/// retries within its deadline, and the burst is contained: a throttled lookup is not an answer.
#[tokio::test(start_paused = true)]
async fn a_throttled_lookup_is_retried_with_backoff_and_the_burst_is_contained() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(80)).records(&run_instances_template(), 45);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    trail.throttle(6);
    let finding = detected(&real).await;
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Inactive), "{r:?}");
    let lookups = trail.lookups();
    assert!(lookups.len() >= 7, "{lookups:?}");
    // the waits grow after each throttled answer: 1 s, 2 s, 4 s, 8 s, 8 s...
    let gaps: Vec<std::time::Duration> = lookups.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[..5].windows(2).all(|g| g[1] >= g[0]) && gaps[0] >= std::time::Duration::from_secs(1), "{gaps:?}");
}

/// GIVEN the intern's real burst and `LookupEvents` throttled for the whole delivery, THEN the
/// intern is not contained on unconfirmed records, and the page (sent by this delivery) says
/// CloudTrail throttled the lookups and that the scheduled re-check looks again.
#[tokio::test(start_paused = true)]
async fn throttled_for_the_whole_delivery_a_person_is_paged_at_once_and_the_recheck_looks_again() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(80)).records(&run_instances_template(), 46);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    trail.throttle(10_000);
    let finding = detected(&real).await;
    let (iam, sns) = (iam(), Sns::default());
    let r = dispatch(&finding, &iam, &sns, &trail).await;
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Active), "{r:?}");
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("NOT contained, notify-only") && page.contains("CloudTrail throttled"), "{page}");
    assert!(page.contains("the scheduled re-check looks at it again"), "{page}");
    assert!(trail.lookups().len() < 20, "backed off, not hammered: {}", trail.lookups().len());
}
