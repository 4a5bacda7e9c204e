//! A principal protected only by its IAM tag `launchguard:protected=true` (no
//! `PROTECTED_PRINCIPALS` pattern names it) keeps its instances: the EC2 handler resolves the
//! principal through IAM, its tags included (`GetUser`'s or `GetRole`'s `Tags`), before any EC2
//! call. IAM's own policy cannot say it for the EC2 handler: the resource of `ec2:StopInstances`
//! is the instance, whose tags the launcher sets, not the principal.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{Duration, TimeZone, Utc};
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_responder::memory::Entity;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::testing::running_instance;
use launchguard_testkit::{Actor, Burst, fixture, run_instances_template};
use serde_json::Value;

use crate::forged_records::detected;
use crate::world::{self, ACCOUNT, Iam, Lambda, Logs, Sns, config};

const REGION: &str = "us-east-1";

/// Every launch of the finding `f`, put in the EC2 fake as a running instance; their ids.
fn running(lambda: &Lambda<'_>, f: &Value) -> Vec<String> {
    let ps: Vec<FlaggedPrincipal> = serde_json::from_value(f["principals"].clone()).unwrap();
    let mut ids = Vec::new();
    for p in &ps {
        for l in &p.activity.launches {
            let at = l.launched_at + Duration::milliseconds(400);
            lambda.ec2.put(&l.region, running_instance(&l.instance_id, ACCOUNT, at, l.reservation_id.as_deref().unwrap(), &[]));
            ids.push(l.instance_id.clone());
        }
    }
    ids
}

fn changed(lambda: &Lambda<'_>, ids: &[String]) -> Vec<String> {
    ids.iter().filter(|id| lambda.ec2.get(REGION, id).is_none_or(|i| i.state != Some(InstanceState::Running))).cloned().collect()
}

fn tagged(mut e: Entity, value: &str) -> Entity {
    e.tags.insert("launchguard:protected".into(), value.into());
    e
}

/// The fixture's IAM user `ci-deployer` launched the instances and carries the tag (in a case
/// IAM's `StringNotEqualsIgnoreCase` also reads as protected); stop and terminate both leave
/// every instance running, and the page says why.
#[tokio::test]
async fn a_principal_protected_by_its_iam_tag_keeps_its_instances() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 30).unwrap();
    let f: Value = serde_json::from_str(&fixture("contract/finding.json")).unwrap();
    for action in ["stop", "terminate"] {
        let iam = world::iam();
        let deployer = iam.users.lock().unwrap().remove("ci-deployer").unwrap();
        iam.users.lock().unwrap().insert("ci-deployer".into(), tagged(deployer, "True"));
        let lambda = Lambda::new(&iam, &[], at);
        let ids = running(&lambda, &f);
        assert!(!ids.is_empty());
        let (sns, logs) = (Sns::default(), Logs::default());
        let cfg = config(&[("LG_EC2_ACTION", action), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]);
        let _ = world::dispatch(&f, &cfg, &lambda, &sns, &logs, at).await;
        let page = sns.messages.lock().unwrap().last().map(|m| m.1.clone()).unwrap_or_default();
        assert_eq!(changed(&lambda, &ids), Vec::<String>::new(), "{action}: the tag-protected user's instances were changed\n{page}");
        assert!(page.contains("launchguard:protected"), "{action}: the page says the principal is protected by its tag\n{page}");
    }
}

/// The same for a role: `ci-deployer`'s sessions launched; the role carries the tag.
#[tokio::test(start_paused = true)]
async fn a_role_protected_by_its_iam_tag_keeps_its_instances() {
    let now = crate::forged_records::now();
    let who = Actor::AssumedRole {
        account: ACCOUNT.into(),
        role: "ci-deployer".into(),
        session: "build-7".into(),
        key: "ASIAEXAMPLECIROLE001".into(),
    };
    let real = Burst::new(who, 4, 3, now - Duration::seconds(85)).records(&run_instances_template(), 961);
    let trail = launchguard_aws::trail::MemoryTrail::default();
    for r in &real {
        trail.record(r, std::time::Duration::ZERO);
    }
    let f = detected(&real).await;
    let role = Entity { arn: format!("arn:aws:iam::{ACCOUNT}:role/ci-deployer"), id: "AROAEXAMPLECIROLE001".into(), ..Entity::default() };
    let iam = Iam::default().with_role("ci-deployer", tagged(role, "true"));
    let lambda = Lambda::new(&iam, &[], now);
    let ids = running(&lambda, &f);
    assert!(!ids.is_empty(), "{f}");
    let (sns, logs) = (Sns::default(), Logs::default());
    let cfg = config(&[("LG_EC2_ACTION", "stop"), ("EC2_HANDLER_LAMBDA_NAME", "ec2")]);
    let sealed = world::sealed(&lambda, &f, now);
    let _ = launchguard_responder_dispatcher::handle(
        &sealed,
        &cfg,
        &lambda,
        &sns,
        &logs,
        &logs.ledger,
        &lambda.kms,
        &logs.reports,
        &trail,
        now,
    )
    .await;
    let page = sns.messages.lock().unwrap().last().map(|m| m.1.clone()).unwrap_or_default();
    assert_eq!(changed(&lambda, &ids), Vec::<String>::new(), "the tag-protected role's instances were stopped\n{page}");
}
