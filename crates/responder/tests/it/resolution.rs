//! Issue 22, invariant 1: every action on a principal or its resources resolves the principal
//! through IAM (real ARN, path, service-linked and Identity Center status) before acting, and
//! checks protection on what IAM says. Each action below is sent with the ARN a finding derives
//! from a session or user name (no path); IAM's real ARN has a protected or reserved path. Every
//! one must be refused with nothing written: an action that stops resolving fails here.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseRequest};
use launchguard_responder::actions::ALL;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::memory_ec2::MemoryEc2;
use launchguard_responder::testing::{config, launch_of, running_instance};
use launchguard_responder::{Config, Function, KeyStatus, respond, respond_ec2};

const ACCOUNT: &str = "111122223333";
const KEY: &str = "AKIAEXAMPLEADMIN0001";

static EVERYTHING: Function =
    Function { name: "test-everything", actions: ALL, serves: "an action", others_to: "nobody", log_message: "outcome" };

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 0).unwrap()
}

fn cfg() -> Config {
    config(
        &EVERYTHING,
        ACCOUNT,
        "arn:aws:iam::111122223333:role/launchguard-test",
        &[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/admins/*,arn:aws:iam::*:role/admins/*")],
    )
}

/// The actions that act on user `user` or role `role` (or their keys and instances), each by the
/// ARN without a path.
fn actions(user: &str, role: &str, instance: &launchguard_core::aggregate::LaunchedInstance) -> Vec<Action> {
    let (user_arn, role_arn) = (format!("arn:aws:iam::{ACCOUNT}:user/{user}"), format!("arn:aws:iam::{ACCOUNT}:role/{role}"));
    let ec2 = |principal_arn: &str, terminate: bool| {
        let (account_id, region, principal_arn, instances) =
            (ACCOUNT.to_owned(), "us-east-1".to_owned(), principal_arn.to_owned(), vec![instance.clone()]);
        if terminate {
            Action::TerminateInstances { account_id, region, principal_arn, instances, bound: None }
        } else {
            Action::StopInstances { account_id, region, principal_arn, instances, bound: None }
        }
    };
    vec![
        Action::DeactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: KEY.into(), user_name: Some(user.into()), bound: None },
        Action::DeactivateAccessKey { account_id: ACCOUNT.into(), access_key_id: KEY.into(), user_name: None, bound: None },
        Action::DeactivateCreatedAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: KEY.into(),
            user_name: user.into(),
            created_by: format!("arn:aws:iam::{ACCOUNT}:user/attacker"),
            created_at: now() - Duration::hours(1),
            created_by_id: None,
        },
        Action::QuarantineUser { account_id: ACCOUNT.into(), user_arn: user_arn.clone(), user_name: user.into(), bound: None },
        Action::RevokeRoleSessions {
            account_id: ACCOUNT.into(),
            role_arn: role_arn.clone(),
            role_name: role.into(),
            issued_before: now(),
            covers_activity_until: None,
            bound: None,
        },
        ec2(&user_arn, false),
        ec2(&user_arn, true),
        ec2(&role_arn, false),
        ec2(&role_arn, true),
    ]
}

#[tokio::test]
async fn every_action_on_a_principal_refuses_what_only_iams_real_arn_shows() {
    // IAM's real ARNs: a protected path, a service-linked role, an Identity Center role
    let cases =
        [("admins/", "admins/"), ("", "aws-service-role/autoscaling.amazonaws.com/"), ("", "aws-reserved/sso.amazonaws.com/eu-west-1/")];
    for (user_path, role_path) in cases {
        let (user, role) = ("Operator", "Operator");
        let iam = MemoryIam::default()
            .with_user(
                user,
                Entity {
                    keys: vec![(KEY.to_owned(), KeyStatus::Active)],
                    key_created: [(KEY.to_owned(), now() - Duration::minutes(30))].into_iter().collect(),
                    ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/{user_path}{user}"))
                },
            )
            .with_role(role, Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/{role_path}{role}")));
        let ec2 = MemoryEc2::default();
        let i = running_instance("i-0aaa0000000000001", ACCOUNT, now() - Duration::minutes(20), "r-1", &[]);
        ec2.put("us-east-1", i.clone());
        for action in actions(user, role, &launch_of(&i, "us-east-1")) {
            // the user case only applies where the user's path is protected
            let on_user = matches!(
                &action,
                Action::DeactivateAccessKey { .. } | Action::DeactivateCreatedAccessKey { .. } | Action::QuarantineUser { .. }
            ) || action.instances_principal().is_some_and(|p| p.entity == launchguard_core::ids::IamEntity::User);
            if on_user && user_path.is_empty() {
                continue;
            }
            let name = action.name();
            let req = ResponseRequest::new("lg-test", action, false, now());
            let o = if name.ends_with("_instances") {
                respond_ec2(&req, &cfg(), &ec2, &iam, now()).await
            } else {
                respond(&req, &cfg(), &iam, now()).await
            };
            assert!(
                matches!(o.outcome, OutcomeStatus::Refused { .. }),
                "{name} on {} (real {user_path}/{role_path}): {:?} {}",
                o.action.target(),
                o.outcome,
                o.detail
            );
            assert!(iam.writes().is_empty(), "{name}: {:?}", iam.writes());
            assert!(ec2.writes().is_empty(), "{name}: {:?}", ec2.writes());
        }
    }
}
