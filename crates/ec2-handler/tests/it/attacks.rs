//! Attacks found by a fresh-context review of the EC2 containment (issue 12), each written to
//! fail first: every test asserts the safe behaviour.

#![allow(clippy::unwrap_used)]

use chrono::Duration;
use launchguard_aws::CallError;
use launchguard_core::contract::{Action, INCIDENT_TAG, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_responder::memory_ec2::MemoryEc2;
use launchguard_responder::ports::{DescribeInstances, Instance, InstanceState, InstanceStates, InstanceTags};
use launchguard_responder::respond_ec2;

use crate::common;

use common::{ACCOUNT, DEPLOYER, REGION, cfg, described, finding, mine, now, stop};

async fn run<E: launchguard_responder::ports::Ec2Ports>(ec2: &E, action: Action) -> ResponseOutcome {
    let req = ResponseRequest::new(&finding().finding_id, action, false, now());
    respond_ec2(&req, &cfg(), ec2, &common::iam(), now()).await
}

/// F: the reversal starts instances launchguard never stopped. The owner (or a responder by
/// hand, or the instance itself with shutdown behaviour `stop`) stopped them before launchguard
/// came; launchguard only tags them, answers `applied` with a StartInstances reversal naming
/// them, and the release starts them.
#[tokio::test]
async fn attack_release_never_starts_an_instance_launchguard_did_not_stop() {
    let ec2 = MemoryEc2::default();
    for l in mine() {
        let mut i = described(&l, &[]);
        i.state = Some(InstanceState::Stopped); // stopped by someone else, before launchguard
        ec2.put(REGION, i);
    }
    let o = run(&ec2, stop(mine())).await;
    assert!(!ec2.writes().iter().any(|c| c.0 == "ec2:StopInstances"), "launchguard stopped nothing");
    // the outcome is `applied` with a reversal => the ledger records Owner::Launchguard
    if let Some(rev) = o.reversal.clone() {
        let r = run(&ec2, rev).await;
        let started: Vec<String> = ec2.writes().iter().filter(|c| c.0 == "ec2:StartInstances").flat_map(|c| c.2.clone()).collect();
        assert!(
            started.is_empty(),
            "stop outcome {:?} ({}) then release {:?} started {started:?}, none of which launchguard stopped",
            o.outcome.name(),
            o.detail,
            r.outcome.name()
        );
    }
}

/// F: the attacker tags its own instances `launchguard:incident=lg-<anything>` at launch
/// (RunInstances TagSpecifications; the recommended SCP covers only launchguard:protected).
#[tokio::test]
async fn attack_a_self_applied_incident_tag_does_not_dodge_the_stop() {
    let ec2 = MemoryEc2::default();
    for l in mine() {
        let mut i = described(&l, &[]);
        i.tags.insert(INCIDENT_TAG.into(), "lg-decoy".into());
        ec2.put(REGION, i);
    }
    let o = run(&ec2, stop(mine())).await;
    let running = mine().iter().filter(|l| ec2.get(REGION, &l.instance_id).unwrap().state == Some(InstanceState::Running)).count();
    assert_eq!(running, 0, "{} of the attacker's instances keep running: {} ({})", running, o.outcome.name(), o.detail);
}

/// F: the attacker stops and starts its instances (ec2:StopInstances/StartInstances with the
/// same key, before detection): LaunchTime moves, every instance fails the 60 s check.
#[tokio::test]
async fn attack_a_stop_start_by_the_attacker_does_not_dodge_the_stop() {
    let ec2 = MemoryEc2::default();
    for l in mine() {
        let mut i = described(&l, &[]);
        i.launch_time = Some(l.launched_at + Duration::minutes(2)); // restarted by the attacker
        ec2.put(REGION, i);
    }
    let o = run(&ec2, stop(mine())).await;
    assert!(matches!(o.outcome, OutcomeStatus::Applied), "same reservation, same owner, same instance id, but left running: {}", o.detail);
}

/// EC2 where one instance has stop protection (DisableApiStop, set by the attacker at launch):
/// like the real API, a StopInstances naming it fails as a whole (OperationNotPermitted).
struct StopProtected {
    inner: MemoryEc2,
    protected: String,
}
impl DescribeInstances for StopProtected {
    async fn describe_instances(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>, CallError> {
        self.inner.describe_instances(region, ids).await
    }
}
impl InstanceTags for StopProtected {
    async fn create_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> Result<(), CallError> {
        self.inner.create_tag(region, ids, key, value).await
    }
    async fn delete_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> Result<(), CallError> {
        self.inner.delete_tag(region, ids, key, value).await
    }
}
impl InstanceStates for StopProtected {
    async fn stop_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        if ids.contains(&self.protected) {
            return Err(CallError {
                message: format!("OperationNotPermitted: The instance '{}' may not be stopped", self.protected),
                code: Some("OperationNotPermitted".into()),
                retryable: false,
            });
        }
        self.inner.stop_instances(region, ids).await
    }
    async fn start_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        self.inner.start_instances(region, ids).await
    }
    async fn terminate_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        self.inner.terminate_instances(region, ids).await
    }
}

/// F: one stop-protected instance among the attacker's makes the one StopInstances call (up to
/// 100 ids) fail, so none of the others is stopped, on every retry.
#[tokio::test]
async fn attack_one_unstoppable_instance_does_not_shield_the_others() {
    let inner = MemoryEc2::default();
    for l in mine() {
        inner.put(REGION, described(&l, &[]));
    }
    let ec2 = StopProtected { inner, protected: mine()[0].instance_id.clone() };
    let o = run(&ec2, stop(mine())).await;
    let running: Vec<String> = mine()
        .iter()
        .skip(1)
        .filter(|l| ec2.inner.get(REGION, &l.instance_id).unwrap().state == Some(InstanceState::Running))
        .map(|l| l.instance_id.clone())
        .collect();
    assert!(running.is_empty(), "{} -> {running:?} still running because of {}", o.detail, mine()[0].instance_id);
}

/// F: a release shortly after the stop (a false positive, released at once) finds the instances
/// still `stopping` (a real StopInstances returns at once, the stop takes a minute or more):
/// start_instances leaves them alone and answers `already_applied` ("nothing to start"), which
/// the release walk records as ReversalState::Done. The instances stay stopped for good, and no
/// later release retries.
#[tokio::test]
async fn attack_a_release_while_the_instances_are_still_stopping_is_not_reported_done() {
    let ec2 = MemoryEc2::default();
    let incident = finding().finding_id;
    for l in mine() {
        let mut i = described(&l, &[]);
        i.state = Some(InstanceState::Stopping);
        i.tags.insert(INCIDENT_TAG.into(), incident.clone());
        ec2.put(REGION, i);
    }
    let rev = Action::StartInstances {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        principal_arn: DEPLOYER.into(),
        incident,
        instance_ids: mine().iter().map(|l| l.instance_id.clone()).collect(),
    };
    let o = run(&ec2, rev).await;
    assert!(
        !matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied),
        "{}: {} (warnings {:?}) -- the release is recorded Done and never retried",
        o.outcome.name(),
        o.detail,
        o.warnings.len()
    );
}

/// Issue 22, defect 1, at the handler itself: the action names the flagged principal by an ARN
/// the detector derived (no path); IAM says where the principal really is, and that is what is
/// checked. A protected path, a service-linked role or an Identity Center role: refused before
/// any EC2 call, every instance left running. (On c365a60 the handler checked only the action's
/// ARN, with no IAM call, and stopped them.)
#[tokio::test]
async fn issue22_the_principal_is_checked_where_iam_says_it_is() {
    use launchguard_responder::memory::{Entity, MemoryIam};
    type Case = (&'static str, &'static str, MemoryIam, &'static [(&'static str, &'static str)]);
    let cases: [Case; 3] = [
        (
            DEPLOYER,
            "protected",
            MemoryIam::default().with_user("ci-deployer", Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/ci/ci-deployer"))),
            &[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/ci/*")],
        ),
        (
            "arn:aws:iam::111122223333:role/DataScience",
            "service-linked",
            MemoryIam::default().with_role(
                "DataScience",
                Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/DataScience")),
            ),
            &[],
        ),
        (
            "arn:aws:iam::111122223333:role/DataScience",
            "Identity Center",
            MemoryIam::default()
                .with_role("DataScience", Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/DataScience"))),
            &[],
        ),
    ];
    for (principal, why, iam, extra) in cases {
        let ec2 = MemoryEc2::default();
        for l in mine() {
            ec2.put(REGION, described(&l, &[]));
        }
        let cfg = launchguard_responder::testing::config(
            &launchguard_ec2_handler::FUNCTION,
            ACCOUNT,
            "arn:aws:iam::111122223333:role/launchguard-ec2-handler",
            extra,
        );
        let action = Action::StopInstances {
            account_id: ACCOUNT.into(),
            region: REGION.into(),
            principal_arn: principal.into(),
            instances: mine(),
            bound: None,
        };
        let req = ResponseRequest::new(&finding().finding_id, action, false, now());
        let o = respond_ec2(&req, &cfg, &ec2, &iam, now()).await;
        assert!(matches!(&o.outcome, OutcomeStatus::Refused { reason } if reason.contains(why)), "{principal} ({why}): {:?}", o.outcome);
        assert!(ec2.calls().is_empty(), "{why}: nothing is asked of EC2: {:?}", ec2.calls());
        assert!(o.principal_id.is_none(), "a refusal reports no identity");
    }
}

/// Ledger identity is IAM's: a stop reports IAM's unique id of the principal whose instances it
/// stopped (the dispatcher files the containment under it, so a rename never splits it).
#[tokio::test]
async fn a_stop_reports_the_principals_unique_id() {
    let ec2 = MemoryEc2::default();
    for l in mine() {
        ec2.put(REGION, described(&l, &[]));
    }
    let iam = common::iam();
    let req = ResponseRequest::new(&finding().finding_id, stop(mine()), false, now());
    let o = respond_ec2(&req, &cfg(), &ec2, &iam, now()).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let id = iam.users.lock().unwrap()["ci-deployer"].id.clone();
    assert!(id.starts_with("AIDA"), "{id}");
    assert_eq!(o.principal_id.as_deref(), Some(id.as_str()));
}
