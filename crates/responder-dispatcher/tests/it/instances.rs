//! The dispatcher and the EC2 handler in-process (`LG_EC2_ACTION`): the flagged principal's own
//! instances, and no other, are stopped (or terminated when the playbook says so); a release
//! starts exactly them again. The finding is the contract example: `ci-deployer` launched 12
//! instances (their launch records are in the finding), the `DataScience` role launched its own
//! in the same minutes (ids only).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::{FlaggedPrincipal, INCIDENT_TAG};
use launchguard_core::principal::Principal;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::testing::running_instance;
use launchguard_responder_dispatcher::{DispatchReport, DispatcherError};
use launchguard_testkit::fixture;
use serde_json::{Value, json};
use world::{ACCOUNT, Lambda, Logs, Sns, config, iam};

const REGION: &str = "us-east-1";
const STOP: [(&str, &str); 2] = [("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap()
}

fn finding() -> Value {
    serde_json::from_str(&fixture("contract/finding.json")).unwrap()
}

fn principals(f: &Value) -> Vec<FlaggedPrincipal> {
    serde_json::from_value(f["principals"].clone()).unwrap()
}

/// The deployer's instance ids, and the role's.
fn ids(f: &Value) -> (Vec<String>, Vec<String>) {
    let ps = principals(f);
    let deployer = ps.iter().find(|p| !p.activity.launches.is_empty()).unwrap();
    let role = ps.iter().find(|p| p.activity.launches.is_empty() && !p.activity.instance_ids.is_empty()).unwrap();
    (deployer.activity.instance_ids.clone(), role.activity.instance_ids.clone())
}

/// EC2 as it is: every instance of the finding running, the deployer's as their launch records
/// say, the role's in another reservation of the same minute.
fn launch_all(lambda: &Lambda<'_>, f: &Value) {
    let ps = principals(f);
    for p in &ps {
        for l in &p.activity.launches {
            let at = l.launched_at + Duration::milliseconds(400);
            lambda.ec2.put(REGION, running_instance(&l.instance_id, ACCOUNT, at, l.reservation_id.as_deref().unwrap(), &[]));
        }
    }
    let (_, role) = ids(f);
    for id in role {
        lambda.ec2.put(REGION, running_instance(&id, ACCOUNT, now() - Duration::minutes(1), "r-0d5d5d5d5d5d5d5d5", &[]));
    }
}

fn state(lambda: &Lambda<'_>, id: &str) -> (Option<InstanceState>, Option<String>) {
    let i = lambda.ec2.get(REGION, id).unwrap();
    (i.state, i.tags.get(INCIDENT_TAG).cloned())
}

async fn dispatch(
    payload: &Value,
    cfg: &launchguard_responder_dispatcher::Config,
    lambda: &Lambda<'_>,
    sns: &Sns,
    logs: &Logs,
) -> Result<DispatchReport, DispatcherError> {
    world::dispatch(payload, cfg, lambda, sns, logs, now()).await
}

fn statuses(r: &DispatchReport) -> Vec<(String, String)> {
    r.outcomes.iter().map(|o| (o.action.name().to_owned(), o.outcome.name().to_owned())).collect()
}

#[tokio::test(start_paused = true)]
async fn by_default_instances_keep_running_and_the_notification_names_them() {
    // GIVEN the default playbook (LG_EC2_ACTION unset)
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let f = finding();
    launch_all(&lambda, &f);
    let (sns, logs) = (Sns::default(), Logs::default());
    // WHEN the finding is dispatched
    dispatch(&f, &config(&[]), &lambda, &sns, &logs).await.unwrap();
    // THEN no EC2 handler is invoked, nothing is written to EC2, and a person is told
    assert!(lambda.calls().iter().all(|c| !c.starts_with("ec2")), "{:?}", lambda.calls());
    assert!(lambda.ec2.writes().is_empty());
    let body = sns.messages.lock().unwrap()[0].1.clone();
    let (deployer, _) = ids(&f);
    assert!(body.contains("instance(s) it launched keep running (LG_EC2_ACTION=none"), "{body}");
    assert!(body.contains(deployer[0].as_str()), "{body}");
}

#[tokio::test(start_paused = true)]
async fn with_stop_exactly_the_flagged_principals_instances_stop_and_a_release_starts_them() {
    // GIVEN LG_EC2_ACTION=stop and EC2 holding the deployer's and the role's instances, running
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let f = finding();
    launch_all(&lambda, &f);
    let (deployer, role) = ids(&f);
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&STOP);
    // WHEN the finding is dispatched
    let r = dispatch(&f, &cfg, &lambda, &sns, &logs).await.unwrap();
    // THEN the deployer's instances are tagged with the finding and stopped, in one action
    assert!(statuses(&r).contains(&("stop_instances".into(), "applied".into())), "{:?}", statuses(&r));
    assert_eq!(lambda.calls().iter().filter(|c| c.starts_with("ec2 ")).count(), 1);
    for id in &deployer {
        assert_eq!(state(&lambda, id), (Some(InstanceState::Stopped), Some(r.finding_id.clone())), "{id}");
    }
    // AND the role's instances, launched in the same minutes, keep running untagged: the role
    // is contained (sessions revoked) but the finding has no launch record for them
    for id in &role {
        assert_eq!(state(&lambda, id), (Some(InstanceState::Running), None), "{id}");
    }
    let written: std::collections::BTreeSet<String> = lambda.ec2.writes().into_iter().flat_map(|c| c.2).collect();
    assert!(role.iter().all(|id| !written.contains(id)));
    let body = sns.messages.lock().unwrap()[0].1.clone();
    assert!(body.contains("stopped"), "{body}");
    assert!(body.contains("aws ec2 start-instances --region us-east-1"), "{body}");

    // WHEN a person releases the finding
    let mut release: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    release["finding_id"] = json!(r.finding_id);
    release["dry_run"] = json!(false);
    let rel = dispatch(&release, &cfg, &lambda, &sns, &logs).await.unwrap();
    // THEN exactly those instances run again and lose the tag
    assert_eq!(rel.status, "released", "{:?}", statuses(&rel));
    assert!(statuses(&rel).contains(&("start_instances".into(), "applied".into())), "{:?}", statuses(&rel));
    for id in deployer.iter().chain(&role) {
        assert_eq!(state(&lambda, id), (Some(InstanceState::Running), None), "{id}");
    }
}

#[tokio::test(start_paused = true)]
async fn terminate_is_never_undone_by_a_release_and_the_notification_says_so() {
    let iam = iam();
    let lambda = Lambda::new(&iam, &[], now());
    let f = finding();
    launch_all(&lambda, &f);
    let (deployer, role) = ids(&f);
    let (sns, logs) = (Sns::default(), Logs::default());
    // a rule that names terminate_instances (no bundled rule does: they stop)
    let mut rules: Value = serde_json::from_str(launchguard_core::rules::BUNDLED).unwrap();
    rules["rules"][0]["actions"] = json!(["deactivate_access_keys", "quarantine_user", "revoke_role_sessions", "terminate_instances"]);
    let rules = rules.to_string();
    let cfg = config(&[("LG_EC2_ACTION", "terminate"), ("EC2_HANDLER_LAMBDA_NAME", "ec2"), ("LG_RULES", rules.as_str())]);
    let r = dispatch(&f, &cfg, &lambda, &sns, &logs).await.unwrap();
    assert!(statuses(&r).contains(&("terminate_instances".into(), "applied".into())), "{:?}", statuses(&r));
    assert!(deployer.iter().all(|id| state(&lambda, id).0 == Some(InstanceState::Terminated)));
    assert!(role.iter().all(|id| state(&lambda, id).0 == Some(InstanceState::Running)));
    let body = sns.messages.lock().unwrap()[0].1.clone();
    assert!(body.contains("cannot be started again"), "{body}");
    // a release undoes the IAM changes and never invokes the EC2 handler
    let ec2_calls = lambda.calls().iter().filter(|c| c.starts_with("ec2 ")).count();
    let mut release: Value = serde_json::from_str(&fixture("contract/release.by_finding.json")).unwrap();
    release["finding_id"] = json!(r.finding_id);
    release["dry_run"] = json!(false);
    let rel = dispatch(&release, &cfg, &lambda, &sns, &logs).await.unwrap();
    assert!(statuses(&rel).iter().all(|(a, _)| a != "start_instances"), "{:?}", statuses(&rel));
    assert_eq!(lambda.calls().iter().filter(|c| c.starts_with("ec2 ")).count(), ec2_calls);
}

#[tokio::test(start_paused = true)]
async fn attack_principals_launchguard_does_not_contain_get_no_instance_action_even_with_stop() {
    // GIVEN the deployer's launch records under a principal the playbook refuses or leaves to a
    // person (protected, root, Identity Center, service-linked, AWS itself)
    let original = finding();
    let mut f = original.clone();
    let deployer = principals(&f).into_iter().find(|p| !p.activity.launches.is_empty()).unwrap();
    let cases = [
        (Principal::Root { arn: format!("arn:aws:iam::{ACCOUNT}:root"), account_id: ACCOUNT.into() }, vec![]),
        (
            Principal::AssumedRole {
                role_arn: format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"),
                role_arn_derived: false,
                role_name: "AWSReservedSSO_Admin_0123".into(),
                account_id: ACCOUNT.into(),
                service_linked: false,
                identity_center: true,
            },
            vec![],
        ),
        (Principal::AwsService { service: "autoscaling.amazonaws.com".into() }, vec![]),
        (deployer.principal.clone(), vec![("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/ci-*")]),
    ];
    for (p, extra) in cases {
        let iam = iam();
        let lambda = Lambda::new(&iam, &extra, now());
        launch_all(&lambda, &original);
        let mut fp = deployer.clone();
        fp.principal = p.clone();
        f["principals"] = json!([fp]);
        let (sns, logs) = (Sns::default(), Logs::default());
        let cfg = config(&[STOP.as_slice(), extra.as_slice()].concat());
        // WHEN it is dispatched THEN no EC2 handler is invoked and EC2 is unchanged
        dispatch(&f, &cfg, &lambda, &sns, &logs).await.unwrap();
        assert!(lambda.calls().iter().all(|c| !c.starts_with("ec2")), "{p:?}: {:?}", lambda.calls());
        assert!(lambda.ec2.writes().is_empty(), "{p:?}");
    }
}

#[test]
fn the_ec2_playbook_is_checked_at_start_up() {
    let err = |extra: &[(&str, &str)]| {
        let mut base = vec![
            ("ACCESS_KEY_HANDLER_LAMBDA_NAME", "ak"),
            ("IAM_HANDLER_LAMBDA_NAME", "iam"),
            ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:launchguard-notifications"),
            ("INCIDENT_LOG_GROUP", "/launchguard/incidents"),
            ("LEDGER_BUCKET", "launchguard-ledger-111122223333"),
            ("COMMAND_KEY_ID", "alias/c"),
            ("FINDING_KEY_ID", "alias/f"),
            ("RELEASE_KEY_ID", "alias/r"),
        ];
        base.extend_from_slice(extra);
        let env = move |k: &str| base.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        launchguard_responder_dispatcher::Config::from_env(&env, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-dispatcher")
            .err()
            .map(|e| e.to_string())
    };
    let e = err(&[("LG_EC2_ACTION", "stop")]).unwrap();
    assert!(e.contains("EC2_HANDLER_LAMBDA_NAME"), "{e}");
    let e = err(&[("LG_EC2_ACTION", "shutdown"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]).unwrap();
    assert!(e.contains("LG_EC2_ACTION") && e.contains("terminate"), "{e}");
    assert_eq!(err(&[("LG_EC2_ACTION", "none")]), None);
    assert_eq!(err(&STOP), None);
}
