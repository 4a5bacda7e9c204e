//! The EC2 handler in-process against the in-memory EC2, which records every call. The finding
//! is the contract example (`fixtures/contract/finding.json`): `ci-deployer` is flagged, the
//! `DataScience` role launched its own instances in the same minutes.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeSet;

use chrono::Duration;
use launchguard_core::aggregate::LaunchedInstance;
use launchguard_core::contract::{Action, INCIDENT_TAG, OutcomeStatus, PROTECTED_TAG, ResponseRequest};
use launchguard_responder::memory_ec2::MemoryEc2;
use launchguard_responder::ports::InstanceState;
use launchguard_responder::respond_ec2;
use launchguard_responder::testing::{self, handle_sealed_ec2, refused};
use proptest::prelude::*;

use crate::common;

use common::{ACCOUNT, DEPLOYER, REGION, cfg, described, finding, now, stop};

/// The flagged principal's launch records, and the other principal's instance ids.
fn launches() -> (Vec<LaunchedInstance>, Vec<String>) {
    let f = finding();
    let deployer = f.principals.iter().find(|p| !p.activity.launches.is_empty()).unwrap();
    let other = f.principals.iter().find(|p| p.activity.launches.is_empty()).unwrap();
    (deployer.activity.launches.clone(), other.activity.instance_ids.clone())
}

/// EC2 as it is: the deployer's instances and the DataScience role's, launched in the same minute
/// (another reservation), all running.
fn world() -> MemoryEc2 {
    let ec2 = MemoryEc2::default();
    let (mine, others) = launches();
    for l in &mine {
        ec2.put(REGION, described(l, &[]));
    }
    for id in others {
        ec2.put(REGION, testing::running_instance(&id, ACCOUNT, mine[0].launched_at, "r-0d5d5d5d5d5d5d5d5", &[]));
    }
    ec2
}

async fn run(ec2: &MemoryEc2, action: Action, dry_run: bool) -> launchguard_core::contract::ResponseOutcome {
    let req = ResponseRequest::new(&finding().finding_id, action, dry_run, now());
    handle_sealed_ec2(ec2, &common::iam(), &cfg(), &serde_json::to_string(&req).unwrap(), now()).await.unwrap()
}

fn state(ec2: &MemoryEc2, id: &str) -> Option<InstanceState> {
    ec2.get(REGION, id).unwrap().state
}

#[tokio::test]
async fn attack_another_principals_instance_named_with_a_borrowed_launch_record_is_refused_with_no_write() {
    // GIVEN the DataScience role's instance, launched in the same minute as the deployer's
    let ec2 = world();
    let (mine, others) = launches();
    // WHEN a request names it with the deployer's launch record (its reservation and time)
    let forged = LaunchedInstance { instance_id: others[0].clone(), ..mine[0].clone() };
    let o = run(&ec2, stop(vec![forged]), false).await;
    // THEN it is refused (the reservation does not match) and nothing is written
    assert!(refused(&o).contains("reservation"), "{}", o.detail);
    assert!(ec2.writes().is_empty(), "{:?}", ec2.writes());
    assert_eq!(state(&ec2, &others[0]), Some(InstanceState::Running));
}

#[tokio::test]
async fn attack_a_protected_instance_among_the_flagged_ones_keeps_running_untagged() {
    // GIVEN one of the deployer's instances tagged launchguard:protected=true
    let ec2 = world();
    let (mine, others) = launches();
    ec2.put(REGION, described(&mine[0], &[(PROTECTED_TAG, "True")]));
    // WHEN the deployer's instances are stopped
    let o = run(&ec2, stop(mine.clone()), false).await;
    // THEN the others are tagged and stopped, the protected one is left alone and named,
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(o.warnings.iter().any(|w| w.contains(&mine[0].instance_id) && w.contains(PROTECTED_TAG)), "{:?}", o.warnings);
    let p = ec2.get(REGION, &mine[0].instance_id).unwrap();
    assert_eq!((p.state, p.tags.get(INCIDENT_TAG)), (Some(InstanceState::Running), None));
    // and no write ever named it, nor another principal's instance
    let written: BTreeSet<String> = ec2.writes().into_iter().flat_map(|c| c.2).collect();
    assert!(!written.contains(&mine[0].instance_id));
    assert!(others.iter().all(|i| !written.contains(i) && state(&ec2, i) == Some(InstanceState::Running)));
    // and only the protected one alone: refused outright
    let ec2 = world();
    ec2.put(REGION, described(&mine[0], &[(PROTECTED_TAG, "true")]));
    let o = run(&ec2, stop(vec![mine[0].clone()]), false).await;
    assert!(refused(&o).contains(PROTECTED_TAG));
    assert!(ec2.writes().is_empty());
}

#[tokio::test]
async fn attack_an_instance_whose_launch_does_not_match_describe_instances_is_refused() {
    let (mine, _) = launches();
    // GIVEN EC2 reports another launch time (a restarted or another instance) for the id
    let ec2 = world();
    let mut later = described(&mine[0], &[]);
    later.launch_time = Some(mine[0].launched_at - Duration::minutes(3));
    ec2.put(REGION, later);
    // WHEN it is asked to stop it THEN it is refused with no write
    let o = run(&ec2, stop(vec![mine[0].clone()]), false).await;
    assert!(refused(&o).contains("before the launch record"), "{}", o.detail);
    assert!(ec2.writes().is_empty());
    // GIVEN an id EC2 does not know in the region THEN refused, no write
    let ec2 = MemoryEc2::default();
    let o = run(&ec2, stop(vec![mine[0].clone()]), false).await;
    assert!(refused(&o).contains("not found"));
    assert!(ec2.writes().is_empty());
}

#[tokio::test]
async fn attack_a_launch_record_without_its_reservation_is_refused() {
    // GIVEN another principal's instance launched in the same minute as the deployer's
    let ec2 = world();
    let (mine, others) = launches();
    // WHEN a request names it with a launch record that has no reservation (only a time, which
    // any instance of that minute matches)
    let vague = LaunchedInstance { instance_id: others[0].clone(), reservation_id: None, ..mine[0].clone() };
    let o = run(&ec2, stop(vec![vague]), false).await;
    // THEN it is refused: without the reservation nothing ties the instance to the principal's call
    assert!(refused(&o).contains("no reservation"), "{}", o.detail);
    assert!(ec2.writes().is_empty(), "{:?}", ec2.writes());
    assert_eq!(state(&ec2, &others[0]), Some(InstanceState::Running));
}

#[tokio::test]
async fn attack_another_account_or_region_is_refused_before_any_call() {
    let (mine, _) = launches();
    let ec2 = world();
    // another account in the action
    let other_account = Action::StopInstances {
        account_id: "999988887777".into(),
        region: REGION.into(),
        principal_arn: "arn:aws:iam::999988887777:user/x".into(),
        instances: mine.clone(),
        bound: None,
    };
    let o = run(&ec2, other_account, false).await;
    assert!(refused(&o).contains("999988887777"), "{}", o.detail);
    assert!(ec2.calls().is_empty());
    // an instance EC2 reports in another account (the reservation's owner)
    let mut foreign = described(&mine[0], &[]);
    foreign.owner_id = Some("999988887777".into());
    ec2.put(REGION, foreign);
    let o = run(&ec2, stop(vec![mine[0].clone()]), false).await;
    assert!(refused(&o).contains("owned by account 999988887777"));
    // another region: the instances are not there
    let elsewhere: Vec<LaunchedInstance> = mine.iter().map(|l| LaunchedInstance { region: "eu-west-1".into(), ..l.clone() }).collect();
    let o = run(
        &ec2,
        Action::StopInstances {
            account_id: ACCOUNT.into(),
            region: "eu-west-1".into(),
            principal_arn: DEPLOYER.into(),
            instances: elsewhere,
            bound: None,
        },
        false,
    )
    .await;
    assert!(refused(&o).contains("not found in eu-west-1"));
    assert!(ec2.writes().is_empty());
}

#[tokio::test]
async fn the_flagged_principals_instances_are_tagged_then_stopped_a_repeat_is_already_applied_and_the_release_starts_exactly_them() {
    // GIVEN the world WHEN the deployer's instances are stopped
    let ec2 = world();
    let (mine, others) = launches();
    let o = run(&ec2, stop(mine.clone()), false).await;
    // THEN every one is tagged with the incident, then stopped (tag first), the others untouched
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    let ops: Vec<&str> = ec2.writes().iter().map(|c| c.0).collect();
    assert_eq!(ops, ["ec2:CreateTags", "ec2:StopInstances"]);
    let incident = finding().finding_id;
    for l in &mine {
        let i = ec2.get(REGION, &l.instance_id).unwrap();
        assert_eq!((i.state, i.tags.get(INCIDENT_TAG)), (Some(InstanceState::Stopped), Some(&incident)));
    }
    assert!(others.iter().all(|i| state(&ec2, i) == Some(InstanceState::Running)));
    // a repeat is already_applied, with the same reversal, and writes nothing
    let writes = ec2.writes().len();
    let again = run(&ec2, stop(mine.clone()), false).await;
    assert_eq!(again.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(again.reversal, o.reversal);
    assert_eq!(ec2.writes().len(), writes);
    // a person started one by hand and removed its tag: the release leaves it alone
    let mut by_hand = ec2.get(REGION, &mine[1].instance_id).unwrap();
    by_hand.tags.clear();
    ec2.put(REGION, by_hand);
    let released = run(&ec2, o.reversal.clone().unwrap(), false).await;
    assert_eq!(released.outcome, OutcomeStatus::Applied, "{}", released.detail);
    let started: BTreeSet<String> =
        ec2.writes()[writes..].iter().filter(|c| c.0 == "ec2:StartInstances").flat_map(|c| c.2.clone()).collect();
    let want: BTreeSet<String> = mine.iter().filter(|l| l.instance_id != mine[1].instance_id).map(|l| l.instance_id.clone()).collect();
    assert_eq!(started, want);
    assert!(released.warnings.iter().any(|w| w.contains(&mine[1].instance_id)));
    for l in &mine {
        assert!(!ec2.get(REGION, &l.instance_id).unwrap().tags.contains_key(INCIDENT_TAG));
    }
    // the release again: nothing left tagged, nothing written
    let writes = ec2.writes().len();
    assert_eq!(run(&ec2, o.reversal.unwrap(), false).await.outcome, OutcomeStatus::AlreadyApplied);
    assert_eq!(ec2.writes().len(), writes);
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let ec2 = world();
    let (mine, _) = launches();
    let before = ec2.instances.lock().unwrap().clone();
    let o = run(&ec2, stop(mine.clone()), true).await;
    assert_eq!(o.outcome, OutcomeStatus::DryRun, "{}", o.detail);
    let terminate = Action::TerminateInstances {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        principal_arn: DEPLOYER.into(),
        instances: mine,
        bound: None,
    };
    let o = run(&ec2, terminate, true).await;
    assert_eq!(o.outcome, OutcomeStatus::DryRun);
    assert!(o.detail.contains("not reversible"));
    assert!(ec2.writes().is_empty());
    assert_eq!(*ec2.instances.lock().unwrap(), before);
}

#[tokio::test]
async fn terminate_tags_then_terminates_and_says_it_cannot_be_undone() {
    let ec2 = world();
    let (mine, others) = launches();
    let terminate = || Action::TerminateInstances {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        principal_arn: DEPLOYER.into(),
        instances: mine.clone(),
        bound: None,
    };
    let o = run(&ec2, terminate(), false).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(o.reversal, None);
    assert!(o.warnings.iter().any(|w| w.contains("not reversible")));
    assert!(o.undo.unwrap().contains("not reversible"));
    assert_eq!(ec2.writes().iter().map(|c| c.0).collect::<Vec<_>>(), ["ec2:CreateTags", "ec2:TerminateInstances"]);
    assert!(mine.iter().all(|l| state(&ec2, &l.instance_id) == Some(InstanceState::Terminated)));
    assert!(others.iter().all(|i| state(&ec2, i) == Some(InstanceState::Running)));
    assert_eq!(run(&ec2, terminate(), false).await.outcome, OutcomeStatus::AlreadyApplied);
}

#[tokio::test]
async fn an_iam_action_is_refused_by_the_ec2_handler() {
    let ec2 = world();
    let a = Action::DeactivateAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: "AKIAEXAMPLEDEPLOYER1".into(),
        user_name: None,
        bound: None,
    };
    let o = run(&ec2, a, false).await;
    assert!(refused(&o).contains("not an EC2 instance action"));
    assert!(ec2.calls().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever subset of the deployer's instances a request names, whatever else is in EC2
    /// (protected, launched before its record, in another account), no write ever names an id
    /// outside the request or one that failed a check.
    #[test]
    fn no_instance_outside_the_request_is_ever_written(pick in proptest::collection::vec(any::<bool>(), 12), spoil in proptest::collection::vec(0u8..4, 12), terminate in any::<bool>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let ec2 = world();
            let (mine, _) = launches();
            for (l, s) in mine.iter().zip(&spoil) {
                let mut i = described(l, &[]);
                match s {
                    1 => { i.tags.insert(PROTECTED_TAG.into(), "true".into()); }
                    2 => i.launch_time = Some(l.launched_at - Duration::hours(1)),
                    3 => i.owner_id = Some("999988887777".into()),
                    _ => {}
                }
                ec2.put(REGION, i);
            }
            let named: Vec<LaunchedInstance> = mine.iter().zip(&pick).filter(|(_, p)| **p).map(|(l, _)| l.clone()).collect();
            if named.is_empty() {
                return;
            }
            let ids: BTreeSet<String> = named.iter().map(|l| l.instance_id.clone()).collect();
            let action = if terminate {
                Action::TerminateInstances { account_id: ACCOUNT.into(), region: REGION.into(), principal_arn: DEPLOYER.into(), instances: named, bound: None }
            } else {
                stop(named)
            };
            let req = ResponseRequest::new(&finding().finding_id, action, false, now());
            let o = respond_ec2(&req, &cfg(), &ec2, &common::iam(), now()).await;
            if let Some(r) = o.reversal { respond_ec2(&ResponseRequest::new(&finding().finding_id, r, false, now()), &cfg(), &ec2, &common::iam(), now()).await; }
            for (op, region, written) in ec2.writes() {
                assert_eq!(region, REGION);
                for id in written {
                    assert!(ids.contains(&id), "{op} wrote {id}, which the request did not name");
                    let k = mine.iter().position(|l| l.instance_id == id).unwrap();
                    assert_eq!(spoil[k], 0, "{op} wrote {id}, which failed a check");
                }
            }
        });
    }
}
