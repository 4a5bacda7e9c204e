//! The detector's rules in-process: the alarm CloudWatch confirmed chooses the rule; an IAM
//! burst injected into the real invictus-ir background is found, with what was created.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{ACCOUNT, ALARM_ARN, FUNCTION_ARN, FakeLambda};
use launchguard_core::contract::Finding;
use launchguard_core::created::Created;
use launchguard_detector::memory::{MemoryAlarms, MemoryLogs};
use launchguard_detector::{Config, ReportStatus, handle};
use launchguard_testkit::iam::{IamBurst, IamEvent, find_iam_template};
use launchguard_testkit::{Actor, invictus_background, shift_to, sns_alarm_event};
use serde_json::Value;

const USERS_ALARM: &str = "arn:aws:cloudwatch:us-east-1:218007301253:alarm:launchguard-iam-user-burst";
const KEYS_ALARM: &str = "arn:aws:cloudwatch:us-east-1:218007301253:alarm:launchguard-iam-access-key-burst";

fn alarm_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 42, 0).unwrap()
}

fn mallory() -> Actor {
    Actor::IamUser { account: ACCOUNT.into(), name: "mallory".into(), key: "AKIAEXAMPLEMALLORY01".into() }
}

/// The real background from 05:00 (bert-jan's 4 CreateUser and 2 CreateAccessKey land at
/// 05:38-05:40), and mallory's burst of `event` from 05:36.
fn log_group(event: IamEvent, calls: u32) -> Vec<(i64, String)> {
    let mut records = invictus_background();
    shift_to(&mut records, Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap());
    let template = find_iam_template(&records, event).unwrap();
    let mut burst = IamBurst::new(mallory(), event, calls, alarm_at() - Duration::minutes(6));
    burst.user_prefix = Some("backdoor".into());
    records.extend(burst.records(&template, 1));
    let mut out: Vec<(i64, String)> = records
        .iter()
        .map(|r| (DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp_millis(), r.to_string()))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

fn config(extra: &[(&str, &str)]) -> Config {
    let arns = format!("{ALARM_ARN},{USERS_ALARM},{KEYS_ALARM}");
    let mut vars: Vec<(&str, &str)> = extra.to_vec();
    vars.push(("ALARM_ARNS", &arns));
    let owned: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let env = move |k: &str| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    common::config_with(&env)
}

async fn fire(alarm_name: &str, logs: Vec<(i64, String)>, cfg: &Config) -> (launchguard_detector::Report, Vec<Finding>) {
    let event = sns_alarm_event(alarm_name, ACCOUNT, "us-east-1", "ALARM", alarm_at(), 600, 1);
    let alarms = MemoryAlarms::as_notified(&event);
    let lambda = FakeLambda::default();
    let logs = MemoryLogs::new(logs);
    let report = handle(&event, FUNCTION_ARN, cfg, &logs, &alarms, &lambda, alarm_at() + Duration::seconds(30)).await.unwrap();
    (report, lambda.findings())
}

#[tokio::test(start_paused = true)]
async fn a_user_burst_alarm_flags_the_creator_with_the_users_it_created() {
    // GIVEN the real background (bert-jan creates 4 users) and mallory creating 6 users in 2 minutes
    let logs = log_group(IamEvent::CreateUser, 6);
    // WHEN the iam-user-burst alarm fires
    let (report, findings) = fire("launchguard-iam-user-burst", logs, &config(&[])).await;
    // THEN one finding of that rule flags mallory alone, for its 6 calls, naming the 6 users
    assert_eq!(report.status, ReportStatus::Dispatched);
    let f = &findings[0];
    assert_eq!((f.rule.as_str(), f.event.as_str()), ("iam-user-burst", "iam.amazonaws.com/CreateUser"));
    assert_eq!(f.detector, "launchguard-detector/iam-user-burst");
    let flagged: Vec<(String, u64)> = f.principals.iter().map(|p| (p.principal.label(), p.activity.calls)).collect();
    assert_eq!(flagged, vec![("IAM user mallory".to_owned(), 6)]);
    let created = &f.principals[0].activity.created;
    assert_eq!(created.len(), 6);
    assert!(created.iter().any(|c| matches!(c, Created::User { user_name, .. } if user_name == "backdoor-5")));
    // AND bert-jan, 4 users in the same minutes, is below the rule's 5 and not flagged
    assert!(f.principals.iter().all(|p| p.principal.label() != "IAM user bert-jan"));
}

#[tokio::test(start_paused = true)]
async fn a_key_burst_alarm_names_each_key_and_whom_it_is_for() {
    // GIVEN mallory creating 3 keys for 3 other users, and bert-jan's 2 real keys
    let logs = log_group(IamEvent::CreateAccessKey, 3);
    // WHEN the iam-access-key-burst alarm fires
    let (_, findings) = fire("launchguard-iam-access-key-burst", logs, &config(&[])).await;
    // THEN mallory is flagged with the keys it created, each with its user
    let f = &findings[0];
    assert_eq!(f.rule, "iam-access-key-burst");
    assert_eq!(f.principals.len(), 1);
    let created = &f.principals[0].activity.created;
    assert_eq!(created.len(), 3);
    assert!(created.iter().all(|c| matches!(c, Created::AccessKey { user_name, .. } if user_name.starts_with("backdoor-"))));
}

#[tokio::test(start_paused = true)]
async fn attack_the_rule_is_the_confirmed_alarms_not_the_logs() {
    // GIVEN the same user burst in the logs
    let logs = log_group(IamEvent::CreateUser, 6);
    // WHEN the launch alarm fires instead
    let (_, findings) = fire("launchguard-runinstances", logs, &config(&[])).await;
    // THEN the launch rule reads launches only: the real background's launchers (the two
    // vCPU-limited stratus roles) may be flagged, mallory's CreateUser calls count for nothing
    let f = &findings[0];
    assert_eq!(f.rule, "ec2-mass-launch");
    let all = f.principals.iter().chain(&f.top_launchers).chain(&f.excluded);
    assert!(all.clone().all(|p| p.principal.label() != "IAM user mallory" && p.activity.created.is_empty()));
    assert!(f.principals.iter().all(|p| p.activity.instances_requested >= 10), "{:?}", f.verdict);
}

#[test]
fn start_up_refuses_an_alarm_without_a_rule_and_names_a_bad_rule() {
    let env = |pairs: Vec<(&'static str, String)>| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let base = || {
        vec![("CLOUDTRAIL_LOG_GROUP_NAME", "cloudtrail-logs".to_owned()), ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher".to_owned())]
    };
    // GIVEN an alarm in ALARM_ARNS that no rule names
    let mut vars = base();
    vars.push(("ALARM_ARNS", format!("{ALARM_ARN},arn:aws:cloudwatch:us-east-1:218007301253:alarm:my-own-alarm")));
    let err = Config::from_env(&env(vars)).unwrap_err().to_string();
    assert!(err.contains("ALARM_ARNS") && err.contains("my-own-alarm"), "{err}");
    // GIVEN LG_RULES with a zero threshold
    let mut vars = base();
    vars.push(("ALARM_ARNS", ALARM_ARN.to_owned()));
    let mut rules: Value = serde_json::from_str(launchguard_core::rules::BUNDLED).unwrap();
    rules["rules"][1]["threshold"] = 0.into();
    vars.push(("LG_RULES", rules.to_string()));
    let err = Config::from_env(&env(vars)).unwrap_err().to_string();
    assert!(err.contains("iam-user-burst") && err.contains("threshold"), "{err}");
}

#[test]
fn the_configuration_names_the_rule_set_by_its_digest() {
    // the bundled set, and a custom one given as LG_RULES (what make deploy passes): each named by
    // the SHA-256 of its text, the digest `make deploy ARGS=--dry` prints
    let bundled = config(&[]);
    assert_eq!(bundled.rules_digest, launchguard_core::rules::digest(launchguard_core::rules::BUNDLED));
    let custom = launchguard_core::rules::BUNDLED.replace("\"iam-user-burst\"", "\"iam-user-burst-custom\"");
    let cfg = config(&[("LG_RULES", &custom)]);
    assert_eq!(cfg.rules_digest, launchguard_core::rules::digest(&custom));
    assert_ne!(cfg.rules_digest, bundled.rules_digest);
    assert_eq!(cfg.rules_digest.len(), 64);
    assert_eq!(cfg.rules_origin, "LG_RULES");
    assert!(cfg.rules.iter().any(|r| r.rule.id == "iam-user-burst-custom"));
}

#[test]
fn start_up_refuses_a_threshold_set_by_hand_beside_the_rules_the_alarms_come_from() {
    // ATTACK (issue 30): the alarms are rendered from the rule file (10 instances within 5 minutes);
    // someone sets LG_MIN_INSTANCES=50 on the function by hand. Before: the detector judged 50 while
    // its alarm woke it at 10, so 10-49 instances were confirmed by the alarm and never flagged (and
    // a lower value flags what no alarm ever wakes it for). Now: it does not start, and says where
    // thresholds go.
    let env = |pairs: Vec<(&'static str, String)>| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    for (name, value) in [("LG_MIN_INSTANCES", "50"), ("LG_MIN_FAILED_CALLS", "3"), ("LG_EXCLUDE_AWS_SERVICES", "false")] {
        let vars = vec![
            ("CLOUDTRAIL_LOG_GROUP_NAME", "cloudtrail-logs".to_owned()),
            ("DISPATCHER_LAMBDA_NAME", "launchguard-dispatcher".to_owned()),
            ("ALARM_ARNS", ALARM_ARN.to_owned()),
            (name, value.to_owned()),
        ];
        let err = Config::from_env(&env(vars)).map(|c| c.rules[0].thresholds).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains("rule file"), "{name}: {err}");
    }
}
