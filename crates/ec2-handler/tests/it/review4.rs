//! Review 4: attacks on the EC2 handler's latest fixes (a later finding holds stopped instances;
//! reversals carry the ledger's principal id), through the real handler and the in-memory EC2 and
//! IAM. Each test asserts the SAFE outcome; one that fails against today's code is ignored with
//! the defect it shows (`review4: ...`).

#![allow(clippy::unwrap_used)]

use launchguard_core::contract::{Action, INCIDENT_TAG, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::memory_ec2::MemoryEc2;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::respond_ec2;

use crate::common;

use common::{ACCOUNT, DEPLOYER, REGION, cfg, described, mine, now, stop};

async fn run_as(ec2: &MemoryEc2, iam: &MemoryIam, finding_id: &str, action: Action) -> ResponseOutcome {
    let req = ResponseRequest::new(finding_id, action, false, now());
    respond_ec2(&req, &cfg(), ec2, iam, now()).await
}

fn started(ec2: &MemoryEc2) -> Vec<String> {
    ec2.writes().iter().filter(|c| c.0 == "ec2:StartInstances").flat_map(|c| c.2.clone()).collect()
}

fn all_running() -> MemoryEc2 {
    let ec2 = MemoryEc2::default();
    for l in mine() {
        ec2.put(REGION, described(&l, &[]));
    }
    ec2
}

/// Attack: a handler payload whose fields disagree. A `start_instances` sent for finding lg-a
/// whose `incident` names lg-b (another finding's stop, which lg-b still holds): the handler
/// starts what lg-b's tag marks, whatever finding the request is for. The dispatcher sends each
/// reversal under its own entry's finding id, so the two never differ legitimately; a request
/// where they do (a planted or mixed-up ledger entry) must change nothing.
#[tokio::test]
async fn a_start_whose_incident_is_not_its_findings_starts_nothing() {
    let (ec2, iam) = (all_running(), common::iam());
    let o = run_as(&ec2, &iam, "lg-b", stop(mine())).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let Some(Action::StartInstances { instance_ids, .. }) = o.reversal.clone() else { panic!("a reversal: {o:?}") };
    let forged = Action::StartInstances {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        principal_arn: DEPLOYER.into(),
        incident: "lg-b".into(),
        instance_ids,
    };
    let writes = ec2.writes().len();
    let r = run_as(&ec2, &iam, "lg-a", forged).await;
    assert!(started(&ec2).is_empty(), "lg-a's request started lg-b's instances: {} {}", r.outcome.name(), r.detail);
    assert!(matches!(&r.outcome, OutcomeStatus::Refused { reason } if reason.contains("lg-b") && reason.contains("lg-a")), "{r:?}");
    assert_eq!(ec2.writes().len(), writes, "nothing changed: {:?}", ec2.writes());
    for l in mine() {
        let i = ec2.get(REGION, &l.instance_id).unwrap();
        assert_eq!((i.state, i.tags.get(INCIDENT_TAG).map(String::as_str)), (Some(InstanceState::Stopped), Some("lg-b")));
    }
}

/// Attack (withstood): after finding lg-1 stopped the deployer's instances, the deployer is
/// renamed and its old name given to another user. lg-1's reversal carries the deployer's unique
/// id from the ledger: the handler refuses before any EC2 call, and nothing starts.
#[tokio::test]
async fn a_start_after_the_name_went_to_another_user_is_refused_before_any_ec2_call() {
    let ec2 = all_running();
    let iam = common::iam();
    let o = run_as(&ec2, &iam, "lg-1", stop(mine())).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let id = o.principal_id.clone().expect("the stop reports the deployer's unique id");
    {
        let mut users = iam.users.lock().unwrap();
        let mut u = users.remove("ci-deployer").unwrap();
        u.arn = format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer-old");
        users.insert("ci-deployer-old".into(), u);
        users.insert("ci-deployer".into(), Entity { id: "AIDAINNOCENTNEWUSER1".into(), ..Entity::new(DEPLOYER) });
    }
    let writes_before = ec2.writes().len();
    let mut req = ResponseRequest::new("lg-1", o.reversal.clone().unwrap(), false, now());
    req.principal_id = Some(id);
    req.requested_by = Some("arn:aws:sts::111122223333:assumed-role/SecurityResponder/alice".into());
    let r = respond_ec2(&req, &cfg(), &ec2, &iam, now()).await;
    assert!(
        matches!(&r.outcome, OutcomeStatus::Refused { reason } if reason.contains("AIDAINNOCENTNEWUSER1")),
        "{} {}",
        r.outcome.name(),
        r.detail
    );
    assert_eq!(ec2.writes().len(), writes_before, "{:?}", ec2.writes());
    for l in mine() {
        let i = ec2.get(REGION, &l.instance_id).unwrap();
        assert_eq!(i.state, Some(InstanceState::Stopped));
        assert_eq!(i.tags.get(INCIDENT_TAG).map(String::as_str), Some("lg-1"));
    }
}
