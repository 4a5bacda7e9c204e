//! Review 3 (attack review of issue 32's change): what an attacker holding `logs:PutLogEvents`
//! on the trail's log group, `cloudtrail:LookupEvents`, or a changed handler can make the
//! dispatcher do. Each test asserts the safe outcome. The ones that fail on this branch are
//! ignored with the defect (`review3: ...`); the attacks that held run.
//!
//! The real detector reads the log group (`forged_records::detected`), CloudTrail's event history
//! is `MemoryTrail` (it holds only what CloudTrail recorded), the real handlers act in-process.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::store::MemoryStore;
use launchguard_aws::trail::MemoryTrail;
use launchguard_aws::{CallError, InvokeResponse, Invoker};
use launchguard_responder::KeyStatus;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::testing::running_instance;
use launchguard_responder_dispatcher::{DispatchReport, handle};
use launchguard_testkit::{Actor, Burst, CallResponse, run_instances_template};
use serde_json::{Value, json};

use crate::forged_records::detected;
use crate::world::{self, ACCOUNT, Entity, Iam, Lambda, Logs, Sns, config};

const INTERN_KEY: &str = "AKIAEXAMPLEINTERN001";
/// The intern's second key, which a production job uses (never in a launch record CloudTrail holds).
const INTERN_PROD_KEY: &str = "AKIAEXAMPLEINTERNPRD";
const REGION: &str = "us-east-1";

fn now() -> DateTime<Utc> {
    crate::forged_records::now()
}

fn intern_with(key: &str) -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "intern".into(), key: key.into() }
}

fn intern() -> Actor {
    intern_with(INTERN_KEY)
}

/// The intern (two active keys) and Bob, whose key a person deactivated after it leaked.
fn iam() -> Iam {
    Iam::default()
        .with_user(
            "intern",
            Entity {
                arn: format!("arn:aws:iam::{ACCOUNT}:user/intern"),
                keys: vec![(INTERN_KEY.into(), KeyStatus::Active), (INTERN_PROD_KEY.into(), KeyStatus::Active)],
                ..Entity::default()
            },
        )
        .with_user(
            "bob",
            Entity {
                arn: format!("arn:aws:iam::{ACCOUNT}:user/bob"),
                keys: vec![("AKIAEXAMPLEBOBLEAKED".into(), KeyStatus::Inactive)],
                ..Entity::default()
            },
        )
}

fn key_status(iam: &Iam, user: &str, key: &str) -> KeyStatus {
    iam.user(user).keys.iter().find(|(k, _)| k == key).unwrap().1
}

fn record_all(trail: &MemoryTrail, records: &[Value]) {
    for r in records {
        trail.record(r, std::time::Duration::ZERO);
    }
}

/// The intern's real burst: 4 calls of 3 instances, 85 s before now, recorded by CloudTrail.
fn real_burst(seed: u32) -> Vec<Value> {
    Burst::new(intern(), 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), seed)
}

async fn dispatch_with(
    finding: &Value,
    iam: &Iam,
    trail: &MemoryTrail,
    extra: &[(&str, &str)],
    lambda: Option<&Lambda<'_>>,
) -> (DispatchReport, Sns) {
    let own;
    let lambda = match lambda {
        Some(l) => l,
        None => {
            own = Lambda::new(iam, &[], now());
            &own
        }
    };
    let (sns, logs) = (Sns::default(), Logs::default());
    let sealed = world::sealed(lambda, finding, now());
    let r = handle(&sealed, &config(extra), lambda, &sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, trail, now()).await.unwrap();
    (r, sns)
}

// ---------------------------------------------------------------------------------------------
// Defects (ignored until fixed)
// ---------------------------------------------------------------------------------------------

/// HIGH. The launcher forges one record of its own. GIVEN the intern's real burst (12 instances in
/// 4 calls, in CloudTrail) and one forged record in the log group naming the intern with 20
/// instances (the attacker who holds the intern's key also holds `logs:PutLogEvents`, as any
/// PowerUser or admin key does), THEN the intern must still be contained: CloudTrail confirms 12
/// instances in 5 minutes. On this branch the evidence is the fewest records that cross, largest
/// first: the forged record alone; CloudTrail does not hold it, so the intern is notify-only and
/// goes on launching.
#[tokio::test(start_paused = true)]
async fn review3_a_launcher_that_forges_one_bigger_record_of_its_own_is_still_contained() {
    let real = real_burst(301);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let forged = Burst::new(intern(), 1, 20, now() - Duration::seconds(88)).records(&run_instances_template(), 302);
    let finding = detected(&[real, forged].concat()).await;
    let iam = iam();
    let (r, sns) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    let page = &sns.messages.lock().unwrap()[0].1;
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive, "the real burst was not contained: {r:?}\n{page}");
}

/// CRITICAL (with `LG_EC2_ACTION=terminate`; HIGH with `stop`). Forged launch records aim the
/// instance action at anyone's instances. GIVEN the intern's real burst (confirmed by CloudTrail:
/// the attacker can make it itself with any unprotected key) and one forged `RunInstances` record
/// naming the intern, written now, whose response lists the production instance another team
/// launched three months ago, with its real reservation id (`ec2:DescribeInstances`) and its real
/// `launchTime`, THEN the production instance keeps running: CloudTrail never recorded the intern
/// launching it. On this branch only the records that cross the threshold are confirmed; the
/// instances come from every record, and the handler's "launched no earlier than a minute before
/// the record" compares EC2's launch time with the record's own `launchTime` field, which the forger
/// writes: any instance not tagged `launchguard:protected=true` is stopped, or terminated.
#[tokio::test(start_paused = true)]
async fn review3_forged_launch_records_beside_a_confirmed_burst_stop_no_one_elses_instances() {
    let real = real_burst(303);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let launched = now() - Duration::days(90);
    let mut forged = Burst::new(intern(), 1, 1, now() - Duration::seconds(75));
    forged.responses = Some(vec![CallResponse {
        reservation_id: "r-0abcdef1234567890".into(),
        launch_time: launched,
        instance_ids: vec!["i-0fedcba9876543210".into()],
    }]);
    let forged = forged.records(&run_instances_template(), 304);
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    // EC2 as it is: the intern's instances, and the production instance of another team
    for r in &real {
        let reservation = r["responseElements"]["reservationId"].as_str().unwrap();
        for it in r["responseElements"]["instancesSet"]["items"].as_array().unwrap() {
            let at = now() - Duration::seconds(75);
            lambda.ec2.put(REGION, running_instance(it["instanceId"].as_str().unwrap(), ACCOUNT, at, reservation, &[]));
        }
    }
    lambda
        .ec2
        .put(REGION, running_instance("i-0fedcba9876543210", ACCOUNT, launched + Duration::milliseconds(400), "r-0abcdef1234567890", &[]));
    let finding = detected(&[real, forged].concat()).await;
    let stop = [("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")];
    let (r, _) = dispatch_with(&finding, &iam, &trail, &stop, Some(&lambda)).await;
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive, "the real burst is contained: {r:?}");
    assert_eq!(
        lambda.ec2.get(REGION, "i-0fedcba9876543210").unwrap().state,
        Some(InstanceState::Running),
        "a forged record stopped another team's instance: {:?}",
        lambda.ec2.writes()
    );
}

/// MEDIUM. Forged records deactivate every key of the contained user. GIVEN the intern's real
/// burst with one key, and one forged record naming the intern's *other* key (the one a
/// production job uses), THEN that key stays active: launchguard deactivates only the key that
/// was used (issue 32: "the exact-key deactivation stays as it is ... the page names each other
/// active key"), and CloudTrail never recorded that key launching. On this branch every key in the
/// log group's records is deactivated.
#[tokio::test(start_paused = true)]
async fn review3_a_forged_record_naming_the_users_other_key_does_not_deactivate_it() {
    let real = real_burst(305);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let forged = Burst::new(intern_with(INTERN_PROD_KEY), 1, 1, now() - Duration::seconds(70)).records(&run_instances_template(), 306);
    let finding = detected(&[real, forged].concat()).await;
    let iam = iam();
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive, "the key used is deactivated: {r:?}");
    assert_eq!(key_status(&iam, "intern", INTERN_PROD_KEY), KeyStatus::Active, "the other key was deactivated on a forged record: {r:?}");
}

/// MEDIUM. `cloudtrail:LookupEvents` is one quota per account and region (2 requests a second).
/// GIVEN the intern's real burst and anyone in the account (the launcher itself, before it is
/// contained, or any `ReadOnlyAccess` principal) keeping that quota used up, THEN the real
/// burst must still be contained. On this branch every lookup is throttled, the intern is
/// notify-only, and it goes on launching for as long as the loop runs.
#[tokio::test(start_paused = true)]
#[ignore = "review3: a LookupEvents quota kept used up for the whole delivery leaves the burst unconfirmed (now: backoff, an immediate page, the re-check); containing it needs a second source PutLogEvents cannot forge"]
async fn review3_a_real_burst_is_contained_while_someone_throttles_lookup_events() {
    let real = real_burst(307);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    trail.throttle(10_000);
    let finding = detected(&real).await;
    let iam = iam();
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive, "a throttled LookupEvents left the burst uncontained: {r:?}");
}

/// A handler whose code was changed (`lambda:UpdateFunctionCode`, which `PowerUserAccess` holds)
/// answers its own action with a reversal of its choosing.
struct Tampered<'a> {
    inner: Lambda<'a>,
    /// The function whose answers are changed, and the reversal it plants.
    function: &'static str,
    reversal: Value,
}

impl Invoker for Tampered<'_> {
    async fn invoke_async(&self, f: &str, p: Vec<u8>) -> Result<(), CallError> {
        self.inner.invoke_async(f, p).await
    }

    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        let mut resp = self.inner.invoke_sync(function, payload).await?;
        if function == self.function {
            let mut o: Value = serde_json::from_slice(&resp.payload).unwrap();
            if o["action"]["type"] == "quarantine_user" {
                o["reversal"] = self.reversal.clone();
                resp.payload = serde_json::to_vec(&o).unwrap();
            }
        }
        Ok(resp)
    }
}

/// MEDIUM. A changed handler plants a reversal for another target. GIVEN the iam-handler's code
/// replaced (its role has no `iam:UpdateAccessKey`), answering the intern's quarantine with the
/// reversal "reactivate Bob's key" (a key a person deactivated after it leaked), WHEN a release
/// principal releases the intern's finding (a false positive), THEN Bob's key stays inactive: the
/// dispatcher must keep only a reversal of the action it sent. On this branch the dispatcher
/// stores the handler's reversal as is and, at the release, seals it for the access-key handler,
/// which reactivates Bob's key.
#[tokio::test(start_paused = true)]
async fn review3_a_handler_cannot_plant_a_reversal_for_another_target() {
    let real = real_burst(308);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let finding = detected(&real).await;
    let fid = finding["finding_id"].as_str().unwrap().to_owned();
    let iam = iam();
    let replay = MemoryStore::default();
    let (sns, logs) = (Sns::default(), Logs::default());
    let send = |payload: Value, at: DateTime<Utc>| {
        let mut inner = Lambda::new(&iam, &[], at);
        inner.store = replay.clone();
        let lambda = Tampered {
            inner,
            function: "iam",
            reversal: json!({"type": "reactivate_access_key", "account_id": ACCOUNT, "access_key_id": "AKIAEXAMPLEBOBLEAKED", "user_name": "bob"}),
        };
        let (sns, logs, trail) = (&sns, &logs, &trail);
        async move {
            let sealed = world::sealed(&lambda.inner, &payload, at);
            handle(&sealed, &config(&[]), &lambda, sns, logs, &logs.ledger, &lambda.inner.kms, &logs.reports, trail, at).await
        }
    };
    send(finding.clone(), now()).await.unwrap();
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive);
    let release = json!({"schema_version": 1, "kind": "release", "finding_id": fid, "principal_arn": null, "reason": "false positive",
        "requested_by": "arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice", "dry_run": false});
    let _ = send(release, now() + Duration::minutes(30)).await;
    assert_eq!(
        key_status(&iam, "bob", "AKIAEXAMPLEBOBLEAKED"),
        KeyStatus::Inactive,
        "the release reactivated a key launchguard never deactivated; IAM writes: {:?}",
        iam.writes()
    );
}

// ---------------------------------------------------------------------------------------------
// Attacks that held
// ---------------------------------------------------------------------------------------------

/// Held. An admin's real dry runs (CloudTrail holds them, with `errorCode`
/// `Client.DryRunOperation`), copied into the log group without the error code (so the detector
/// counts their instances): every event id, principal, time and count matches, but a dry run
/// counts for nothing in CloudTrail's own record, so nothing is confirmed and the admin is not
/// contained.
#[tokio::test(start_paused = true)]
async fn review3_an_admins_real_dry_runs_copied_without_their_error_code_confirm_nothing() {
    let admin = Actor::IamUser { account: ACCOUNT.into(), name: "ops-admin".into(), key: "AKIAEXAMPLEOPSADMIN1".into() };
    let mut dry = Burst::new(admin, 4, 3, now() - Duration::seconds(85));
    dry.error_code = Some("Client.DryRunOperation".into());
    let real = dry.records(&run_instances_template(), 309);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let copies: Vec<Value> = real
        .iter()
        .map(|r| {
            let mut c = r.clone();
            c.as_object_mut().unwrap().remove("errorCode");
            c.as_object_mut().unwrap().remove("errorMessage");
            c
        })
        .collect();
    let finding = detected(&copies).await;
    assert_eq!(finding["principals"][0]["principal"]["user_name"], "ops-admin", "{finding}");
    let iam = Iam::default().with_user(
        "ops-admin",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"),
            keys: vec![("AKIAEXAMPLEOPSADMIN1".into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert!(r.outcomes.is_empty(), "{r:?}");
    assert_eq!(key_status(&iam, "ops-admin", "AKIAEXAMPLEOPSADMIN1"), KeyStatus::Active);
}

/// Held. The admin's real calls of last week (CloudTrail keeps 90 days), copied into the log
/// group with this minute's time so that the detector reads them in the alarm's window: the event
/// ids are real and name the admin, but CloudTrail recorded them a week ago, so nothing is
/// confirmed.
#[tokio::test(start_paused = true)]
async fn review3_an_admins_real_calls_of_last_week_replayed_now_confirm_nothing() {
    let admin = Actor::IamUser { account: ACCOUNT.into(), name: "ops-admin".into(), key: "AKIAEXAMPLEOPSADMIN1".into() };
    let old = Burst::new(admin, 4, 3, now() - Duration::days(7)).records(&run_instances_template(), 310);
    let trail = MemoryTrail::default();
    record_all(&trail, &old);
    let mut replayed = old.clone();
    launchguard_testkit::shift_to(&mut replayed, now() - Duration::seconds(85));
    let finding = detected(&replayed).await;
    let iam = Iam::default().with_user(
        "ops-admin",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"),
            keys: vec![("AKIAEXAMPLEOPSADMIN1".into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let (r, sns) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert!(r.outcomes.is_empty(), "{r:?}");
    assert_eq!(key_status(&iam, "ops-admin", "AKIAEXAMPLEOPSADMIN1"), KeyStatus::Active);
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("CloudTrail recorded it at"), "{page}");
}

/// Held. The admin's real records from another region (a real event id, principal, time and
/// count) named in the log group with this region: looked up where the log group says, CloudTrail
/// does not hold them there, and the admin is not contained.
#[tokio::test(start_paused = true)]
async fn review3_an_admins_real_records_of_another_region_confirm_nothing_here() {
    let admin = Actor::IamUser { account: ACCOUNT.into(), name: "ops-admin".into(), key: "AKIAEXAMPLEOPSADMIN1".into() };
    let real = Burst::new(admin, 4, 3, now() - Duration::seconds(85)).records(&run_instances_template(), 311);
    let trail = MemoryTrail::default();
    for r in &real {
        let mut elsewhere = r.clone();
        elsewhere["awsRegion"] = json!("eu-west-1");
        trail.record(&elsewhere, std::time::Duration::ZERO);
    }
    let finding = detected(&real).await;
    let iam = Iam::default().with_user(
        "ops-admin",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"),
            keys: vec![("AKIAEXAMPLEOPSADMIN1".into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert!(r.outcomes.is_empty(), "{r:?}");
    assert_eq!(key_status(&iam, "ops-admin", "AKIAEXAMPLEOPSADMIN1"), KeyStatus::Active);
}

/// MEDIUM. Forged principals use up the delivery's lookup budget, every delivery. GIVEN the
/// intern's real burst (12 instances) and 30 made-up principals in the log group, each with 5
/// forged calls of 3 instances (15: they come before the intern, and each needs 4 lookups), THEN
/// the intern is still contained. On this branch the ~100 lookups a delivery allows go to the
/// forged principals first; the intern is notify-only ("not confirmed within this delivery's time
/// budget"), and the re-check reads the same records and does the same. SECURITY.md calls this a
/// delay; it lasts as long as the forger writes.
#[tokio::test(start_paused = true)]
async fn review3_forged_principals_do_not_use_up_the_real_launchers_lookups() {
    let real = real_burst(313);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let mut records = real.clone();
    for i in 0..30u32 {
        let who = Actor::IamUser { account: ACCOUNT.into(), name: format!("ghost-{i:02}"), key: format!("AKIAEXAMPLEGHOST{i:04}") };
        records.extend(Burst::new(who, 5, 3, now() - Duration::seconds(86)).records(&run_instances_template(), 400 + i));
    }
    let finding = detected(&records).await;
    let iam = iam();
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive, "{:?}", r.human_actions.iter().find(|h| h.contains("intern")));
}

/// MEDIUM. A launcher that fills its own managed-policy slots is never quarantined. GIVEN the
/// intern (whose stolen key may attach policies to itself) with IAM's ten managed policies
/// attached (harmless AWS ones, attached before the burst), THEN its real, confirmed burst still
/// contains it: its other key (left active by design) must not keep working. Before the fix the
/// quarantine failed with `LimitExceeded` (SECURITY.md said so and left it to a person) and the
/// intern went on with its other key (seen failing first). No role of launchguard may make room
/// (detach its policies) or write a document (issue 32), so the dispatcher contains the user by
/// deactivating every active key it has instead, and the page says why.
#[tokio::test(start_paused = true)]
async fn review3_a_launcher_that_fills_its_managed_policy_slots_is_still_quarantined() {
    let real = real_burst(314);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let finding = detected(&real).await;
    let mut iam = iam();
    iam.users.lock().unwrap().get_mut("intern").unwrap().attached =
        (0..10).map(|i| format!("arn:aws:iam::aws:policy/harmless-{i}")).collect();
    iam.fail_on(
        "AttachUserPolicy",
        CallError {
            message: "iam:AttachUserPolicy: Cannot exceed quota for PoliciesPerUser: 10 (LimitExceeded; HTTP 409)".into(),
            code: Some("LimitExceeded".into()),
            retryable: false,
        },
    );
    let lambda = Lambda::new(&iam, &[], now());
    let (sns, logs) = (Sns::default(), Logs::default());
    let sealed = world::sealed(&lambda, &finding, now());
    // the quarantine failed: the delivery says so (a person quarantines by hand), final
    let e = handle(&sealed, &config(&[]), &lambda, &sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, &trail, now()).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(key_status(&iam, "intern", INTERN_PROD_KEY), KeyStatus::Inactive, "the intern's other key still works: {e}");
    assert_eq!(key_status(&iam, "intern", INTERN_KEY), KeyStatus::Inactive);
    let page = &sns.messages.lock().unwrap()[0].1;
    assert!(page.contains("FAILED     quarantine_user on user intern"), "{page}");
    assert!(page.contains("QUARANTINE FAILED: EVERY ACCESS KEY DEACTIVATED INSTEAD"), "{page}");
    assert!(page.contains("Cannot exceed quota for PoliciesPerUser: 10 (LimitExceeded; HTTP 409)"), "{page}");
    assert!(page.contains("all 1 active access key(s) of intern were deactivated"), "{page}");
    assert!(
        page.contains(&format!("aws iam update-access-key --user-name intern --access-key-id {INTERN_PROD_KEY} --status Active")),
        "{page}"
    );
}

/// MEDIUM. The dispatcher confirms against the horizon the finding names, not the rule's. GIVEN a
/// finding sealed with the finding key (a changed detector, or one of `FINDING_SIGNERS`) that names
/// the on-call admin with "1 call within 1 minute" as its horizon and, as evidence, one real
/// `RunInstances` of the admin's from a month ago (CloudTrail keeps 90 days), THEN the admin is not
/// contained: one instance a month crosses no horizon of `ec2-mass-launch`, and a record a month
/// older than the finding's window is not what crossed it. On this branch the dispatcher judges the
/// evidence by the finding's own horizon, with no check of the record's time against the window,
/// and contains the admin: the confirmation that "a detector that forgets cannot skip" is skipped
/// by a detector that lowers the horizon.
#[tokio::test(start_paused = true)]
async fn review3_a_finding_that_lowers_its_horizon_confirms_nothing() {
    let admin = Actor::IamUser { account: ACCOUNT.into(), name: "ops-admin".into(), key: "AKIAEXAMPLEOPSADMIN1".into() };
    let old = Burst::new(admin, 1, 1, now() - Duration::days(30)).records(&run_instances_template(), 315);
    let trail = MemoryTrail::default();
    record_all(&trail, &old);
    let mut finding = detected(&crate::forged_records::forged()).await;
    assert_eq!(finding["principals"][0]["principal"]["user_name"], "ops-admin");
    finding["principals"][0]["evidence"] = json!({
        "horizon": {"measure": "calls", "window_seconds": 60, "threshold": 1},
        "events": [{"event_id": old[0]["eventID"], "event_name": "RunInstances", "region": REGION, "event_time": old[0]["eventTime"],
                    "launched": 1, "requested": 1, "failed": false}],
    });
    let iam = Iam::default().with_user(
        "ops-admin",
        Entity {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"),
            keys: vec![("AKIAEXAMPLEOPSADMIN1".into(), KeyStatus::Active)],
            ..Entity::default()
        },
    );
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert_eq!(key_status(&iam, "ops-admin", "AKIAEXAMPLEOPSADMIN1"), KeyStatus::Active, "contained on one call a month ago: {r:?}");
}

/// HIGH. The launcher hides its burst behind copies of its own records. GIVEN the intern's real
/// burst (in CloudTrail) and, written into the log group with an earlier timestamp, a copy of each
/// of its records with the same event id whose `userIdentity` is Auto Scaling's service-linked role,
/// THEN the intern is still contained. On this branch the detector keeps the first record of each
/// event id (the copy) and drops the real one as a duplicate: the burst is Auto Scaling's, AWS
/// itself, excluded; the intern is neither contained nor named for a person.
#[tokio::test(start_paused = true)]
async fn review3_copies_of_a_launchers_records_under_another_identity_do_not_hide_it() {
    let real = real_burst(316);
    let trail = MemoryTrail::default();
    record_all(&trail, &real);
    let disguised: Vec<Value> = real
        .iter()
        .map(|r| {
            let mut c = r.clone();
            c["userIdentity"] = Actor::AutoScaling { account: ACCOUNT.into() }.user_identity();
            c["sourceIPAddress"] = json!("autoscaling.amazonaws.com");
            c
        })
        .collect();
    let finding = detected(&[disguised, real].concat()).await;
    let iam = iam();
    let (r, _) = dispatch_with(&finding, &iam, &trail, &[], None).await;
    assert_eq!(
        key_status(&iam, "intern", INTERN_KEY),
        KeyStatus::Inactive,
        "the real burst was hidden: principals {} excluded {} ({r:?})",
        finding["principals"],
        finding["excluded"]
    );
}
