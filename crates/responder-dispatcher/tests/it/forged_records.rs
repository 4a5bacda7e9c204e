//! Issue 32, item 4: forged CloudTrail records aim the containment. `logs:PutLogEvents` on `*`
//! (`AWSLambdaBasicExecutionRole`, on most functions of most accounts) is enough to write
//! `RunInstances` records naming anyone into the trail's log group. The real detector reads them
//! from the log group, the real dispatcher and handlers act on its finding.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_aws::trail::MemoryTrail;
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::{DispatchReport, handle};
use launchguard_testkit::{Actor, Burst, run_instances_template, sns_alarm_event};
use serde_json::{Value, json};
use world::{ACCOUNT, Entity, Iam, Lambda, Logs, Sns, config};

const ADMIN_KEY: &str = "AKIAEXAMPLEOPSADMIN1";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 40, 30).unwrap()
}

fn admin() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "ops-admin".into(), key: ADMIN_KEY.into() }
}

fn iam() -> Iam {
    Iam::default().with_user(
        "ops-admin",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"),
            keys: vec![(ADMIN_KEY.into(), KeyStatus::Active)],
            attached: vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()],
            ..Entity::default()
        },
    )
}

/// The records as they sit in the log group: `(timestamp ms, message)`.
fn log_events(records: &[Value]) -> Vec<(i64, String)> {
    records
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect()
}

/// 12 launches "by" the on-call admin, written into the log group by someone else: CloudTrail
/// never recorded them.
pub fn forged() -> Vec<Value> {
    Burst::new(admin(), 4, 3, now() - Duration::seconds(90)).records(&run_instances_template(), 32)
}

/// The real detector, fired by the real alarm, reading `records` from the log group: the
/// finding it hands to the dispatcher.
pub async fn detected(records: &[Value]) -> Value {
    let alarm_arn = format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:launchguard-runinstances");
    let vars = [
        ("CLOUDTRAIL_LOG_GROUP_NAME", "cloudtrail-logs".to_owned()),
        ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher".to_owned()),
        ("LG_POLL_INITIAL_MS", "100".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("ALARM_ARNS", alarm_arn),
    ];
    let env = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let cfg = launchguard_detector::Config::from_env(&env).unwrap();
    let mut ev = sns_alarm_event("launchguard-runinstances", ACCOUNT, "us-east-1", "ALARM", now() - Duration::seconds(30), 60, 1);
    let mut msg: Value = serde_json::from_str(ev["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    msg["NewStateReason"] =
        json!("Threshold Crossed: 1 datapoint [12.0 (22/11/26 05:39:00)] was greater than or equal to the threshold (10.0).");
    ev["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
    let lambda = Invoked::default();
    let function_arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:launchguard-detector");
    launchguard_detector::handle(
        &ev,
        &function_arn,
        &cfg,
        &MemoryLogs::new(log_events(records)),
        &MemoryAlarms::as_notified(&ev),
        &lambda,
        now(),
    )
    .await
    .unwrap();
    let sent = lambda.0.lock().unwrap();
    assert_eq!(sent.len(), 1, "the detector hands one finding to the dispatcher");
    serde_json::from_slice(&sent[0]).unwrap()
}

/// Lambda in memory for the detector: the payloads it sends.
#[derive(Default)]
struct Invoked(std::sync::Mutex<Vec<Vec<u8>>>);

impl launchguard_aws::Invoker for Invoked {
    async fn invoke_async(&self, _f: &str, payload: Vec<u8>) -> Result<(), launchguard_aws::CallError> {
        self.0.lock().unwrap().push(payload);
        Ok(())
    }
    async fn invoke_sync(&self, f: &str, _p: Vec<u8>) -> Result<launchguard_aws::InvokeResponse, launchguard_aws::CallError> {
        Err(launchguard_aws::CallError::new(format!("the detector never waits for {f}"), false))
    }
}

async fn dispatch(finding: &Value, iam: &Iam, sns: &Sns, trail: &MemoryTrail) -> (DispatchReport, Logs) {
    let lambda = Lambda::new(iam, &[], now());
    let logs = Logs::default();
    let sealed = world::sealed(&lambda, finding, now());
    let r = handle(&sealed, &config(&[]), &lambda, sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, trail, now()).await.unwrap();
    (r, logs)
}

fn evidence_ids(finding: &Value) -> Vec<String> {
    finding["principals"][0]["evidence"]["events"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect()
}

/// GIVEN 12 forged launches naming the admin in the trail's log group (CloudTrail never saw
/// them), WHEN the alarm fires, THEN the admin is NOT contained (on main it was: its key was
/// deactivated): the finding is notify-only, and the page and the recorded finding name the
/// event ids CloudTrail did not confirm.
#[tokio::test(start_paused = true)]
async fn forged_records_naming_an_admin_are_notify_only() {
    let finding = detected(&forged()).await;
    assert_eq!(finding["principals"][0]["principal"]["arn"], format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"));
    let ids = evidence_ids(&finding);
    assert_eq!(ids.len(), 4, "4 calls of 3 instances cross 10 instances: {ids:?}");
    let (iam, sns, trail) = (iam(), Sns::default(), MemoryTrail::default());
    let (r, logs) = dispatch(&finding, &iam, &sns, &trail).await;
    assert_eq!(iam.user("ops-admin").keys[0], (ADMIN_KEY.to_owned(), KeyStatus::Active));
    assert!(r.outcomes.is_empty(), "{r:?}");
    assert_eq!(r.status, "action_needed");
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("NOT contained, notify-only"), "{page}");
    let record = &logs.records.lock().unwrap()[0].1;
    for id in &ids {
        assert!(page.contains(&format!("{id} (not in CloudTrail's event history)")), "{id} not named: {page}");
        assert!(record.contains(id.as_str()), "{id} not in the record");
    }
    assert!(page.contains("for 45 s"), "the page states the wait: {page}");
    // by event id, only the evidence; besides, the admin's own calls by who made them
    let looked: Vec<String> = trail.lookups().into_iter().map(|(_, id)| id).collect();
    assert!(looked.iter().all(|id| ids.contains(id) || id == "Username=ops-admin"), "only the evidence is looked up: {looked:?}");
}

/// GIVEN the same 12 launches, this time recorded by CloudTrail too, in a burst of 6 calls,
/// THEN the admin is contained after one lookup of its own calls (`Username`, one page holds
/// them all), lookups spaced by at least 500 ms (LookupEvents: 2 requests a second).
#[tokio::test(start_paused = true)]
async fn records_cloudtrail_confirms_are_contained_with_the_fewest_lookups_within_the_rate() {
    let records = Burst::new(admin(), 6, 3, now() - Duration::seconds(90)).records(&run_instances_template(), 33);
    let trail = MemoryTrail::default();
    for r in &records {
        trail.record(r, std::time::Duration::ZERO);
    }
    let finding = detected(&records).await;
    let (iam, sns) = (iam(), Sns::default());
    let (r, _) = dispatch(&finding, &iam, &sns, &trail).await;
    assert_eq!(r.status, "contained", "{r:?}");
    assert_eq!(iam.user("ops-admin").keys[0], (ADMIN_KEY.to_owned(), KeyStatus::Inactive));
    let lookups = trail.lookups();
    assert_eq!(lookups.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>(), ["Username=ops-admin"], "{lookups:?}");
    for w in lookups.windows(2) {
        assert!(w[1].0 - w[0].0 >= std::time::Duration::from_millis(500), "lookups closer than 500 ms: {lookups:?}");
    }
}

/// GIVEN forged records that reuse real event ids: CloudTrail holds those ids, but for another
/// user's calls (or at another time, or with fewer instances), THEN nothing is confirmed and
/// the page says what CloudTrail recorded instead. The admin's own calls (one page, the finding's
/// 12-hour window) refute two claims, which leaves the rest unable to cross 10: they are not
/// looked up (each kind of mismatch on its own:
/// `confirmation::a_real_event_id_with_another_region_time_or_count_confirms_nothing`).
#[tokio::test(start_paused = true)]
async fn a_forged_record_reusing_a_real_event_id_confirms_nothing() {
    let forged = forged();
    let trail = MemoryTrail::default();
    for (i, r) in forged.iter().enumerate() {
        let mut real = r.clone();
        match i % 3 {
            0 => {
                real["userIdentity"] =
                    Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: "AKIAEXAMPLEINTERN001".into() }.user_identity()
            }
            1 => real["eventTime"] = json!("2026-11-22T01:00:00Z"),
            _ => {
                let first = real["responseElements"]["instancesSet"]["items"][0].clone();
                real["responseElements"]["instancesSet"]["items"] = json!([first]);
            }
        }
        trail.record(&real, std::time::Duration::ZERO);
    }
    let finding = detected(&forged).await;
    let (iam, sns) = (iam(), Sns::default());
    let (r, _) = dispatch(&finding, &iam, &sns, &trail).await;
    assert!(r.outcomes.is_empty(), "{r:?}");
    assert_eq!(iam.user("ops-admin").keys[0], (ADMIN_KEY.to_owned(), KeyStatus::Active));
    let page = &sns.messages.lock().unwrap()[0].1;
    // the admin's own calls (one page) hold the two ids it really used, at another time and with
    // another count: what CloudTrail recorded is said, and the rest cannot cross 10 any more
    assert!(page.contains("CloudTrail recorded it at") && page.contains("CloudTrail recorded 1 launched / 3 requested"), "{page}");
    assert!(page.contains("(not looked up)"), "{page}");
    assert_eq!(trail.lookups().len(), 1, "its own calls decide it: {:?}", trail.lookups());
}

/// CloudTrail's event history lags the call: a record it shows 20 s later is confirmed on a
/// retry and the admin contained; one it shows only after 2 minutes is not waited for beyond
/// `LG_CONFIRM_WAIT_SECONDS` (45 s): notify-only, and the page states the wait.
#[tokio::test(start_paused = true)]
async fn while_cloudtrail_lags_the_dispatcher_retries_for_a_bounded_time() {
    for (lag, contained) in [(20, true), (120, false)] {
        let records = Burst::new(admin(), 4, 3, now() - Duration::seconds(90)).records(&run_instances_template(), 34 + lag);
        let trail = MemoryTrail::default();
        for r in &records {
            trail.record(r, std::time::Duration::from_secs(u64::from(lag)));
        }
        let finding = detected(&records).await;
        let (iam, sns) = (iam(), Sns::default());
        let t0 = tokio::time::Instant::now();
        let (r, _) = dispatch(&finding, &iam, &sns, &trail).await;
        let waited = t0.elapsed();
        assert_eq!(r.status == "contained", contained, "lag {lag} s: {r:?}");
        assert!(waited <= std::time::Duration::from_secs(60), "lag {lag} s: waited {waited:?}");
        if !contained {
            let page = &sns.messages.lock().unwrap()[0].1;
            assert!(page.contains("looked up again every 10 s for 45 s"), "{page}");
            assert_eq!(iam.user("ops-admin").keys[0], (ADMIN_KEY.to_owned(), KeyStatus::Active));
        }
    }
}

const INTERN_KEY: &str = "AKIAEXAMPLEINTERN001";

fn intern() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: INTERN_KEY.into() }
}

/// GIVEN the intern's real burst (4 calls of 3 instances, in CloudTrail) and, written into the
/// log group by the intern itself (its key holds `logs:PutLogEvents`), 90 forged records naming
/// it, 3 instances each, a few seconds earlier: the crossing window starts at the forged ones, and
/// the 80 records a finding names (its fewest, then the alternatives) are all forged. THEN the
/// intern is still contained, on what CloudTrail recorded of its own calls, and only its real key
/// and real instances are acted on.
#[tokio::test(start_paused = true)]
async fn ninety_forged_records_ahead_of_a_real_burst_crowd_nothing_out() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), 61);
    let trail = MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    let mut crowd = Burst::new(intern(), 90, 3, now() - Duration::seconds(90));
    crowd.spacing_s = 0;
    let crowd = crowd.records(&run_instances_template(), 62);
    let finding = detected(&[crowd.clone(), real.clone()].concat()).await;
    let p = &finding["principals"][0];
    let named: Vec<&str> = p["evidence"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p["evidence"]["alternatives"].as_array().into_iter().flatten())
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(named.len(), launchguard_core::evidence::MAX_EVIDENCE, "{p}");
    assert!(real.iter().all(|r| !named.contains(&r["eventID"].as_str().unwrap())), "the finding names only forged records");
    let iam = Iam::default().with_user(
        "intern",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
            keys: vec![(INTERN_KEY.into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let sns = Sns::default();
    let (r, _) = dispatch(&finding, &iam, &sns, &trail).await;
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Inactive), "{r:?}");
    assert!(trail.lookups().len() <= 4, "confirmed from its own calls in a page or so: {:?}", trail.lookups());
}

/// GIVEN the intern's real burst in us-east-1 and 90 records forged for it, 3 instances each,
/// spread over four other regions and a few seconds earlier (none of the 80 records the finding
/// names is in us-east-1), THEN the intern is still contained: its own calls are asked for in
/// every region it is seen in.
#[tokio::test(start_paused = true)]
async fn records_forged_in_other_regions_do_not_hide_the_real_region() {
    let real = Burst::new(intern(), 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), 63);
    let trail = MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    let mut crowd = Burst::new(intern(), 90, 3, now() - Duration::seconds(90));
    crowd.spacing_s = 0;
    let mut crowd = crowd.records(&run_instances_template(), 64);
    for (i, r) in crowd.iter_mut().enumerate() {
        r["awsRegion"] = json!(["eu-west-1", "eu-west-2", "ap-south-1", "sa-east-1"][i % 4]);
    }
    let finding = detected(&[crowd, real].concat()).await;
    let regions: Vec<&str> =
        finding["principals"][0]["evidence"]["events"].as_array().unwrap().iter().map(|e| e["region"].as_str().unwrap()).collect();
    assert!(!regions.contains(&"us-east-1"), "{regions:?}");
    let iam = Iam::default().with_user(
        "intern",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
            keys: vec![(INTERN_KEY.into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let (r, _) = dispatch(&finding, &iam, &Sns::default(), &trail).await;
    assert_eq!(iam.user("intern").keys[0], (INTERN_KEY.to_owned(), KeyStatus::Inactive), "{r:?}");
}
