//! Issue 32, item 4: forged CloudTrail records aim the containment. `logs:PutLogEvents` on `*`
//! (`AWSLambdaBasicExecutionRole`, on most functions of most accounts) is enough to write
//! `RunInstances` records naming anyone into the trail's log group. The real detector reads them
//! from the log group, the real dispatcher and handlers act on its finding.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_responder::KeyStatus;
use launchguard_responder_dispatcher::{DispatchReport, handle};
use launchguard_testkit::{Actor, Burst, run_instances_template, sns_alarm_event};
use serde_json::{Value, json};
use world::{ACCOUNT, Entity, Iam, Lambda, Logs, Sns, config};

const ADMIN_KEY: &str = "AKIAEXAMPLEOPSADMIN1";

fn now() -> DateTime<Utc> {
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

async fn dispatch(finding: &Value, iam: &Iam, sns: &Sns) -> DispatchReport {
    let lambda = Lambda::new(iam, &[], now());
    let logs = Logs::default();
    let sealed = world::sealed(&lambda.kms, finding, now());
    handle(&sealed, &config(&[]), &lambda, sns, &logs, &logs.ledger, &lambda.kms, &logs.reports, now()).await.unwrap()
}

/// GIVEN 12 forged launches naming the admin in the trail's log group (CloudTrail never saw
/// them), WHEN the alarm fires, THEN the admin is contained: its key is deactivated.
#[tokio::test(start_paused = true)]
async fn forged_records_naming_an_admin_get_the_admin_contained() {
    let finding = detected(&forged()).await;
    assert_eq!(finding["principals"][0]["principal"]["arn"], format!("arn:aws:iam::{ACCOUNT}:user/ops-admin"));
    let iam = iam();
    let sns = Sns::default();
    let r = dispatch(&finding, &iam, &sns).await;
    assert_eq!(r.status, "contained");
    assert_eq!(iam.user("ops-admin").keys[0], (ADMIN_KEY.to_owned(), KeyStatus::Inactive));
}
