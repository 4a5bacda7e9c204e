//! The registry of actions (Cloud Custodian's `test_resource_permissions`, here against the
//! in-memory IAM): every contract action has exactly one spec, a reversal names the action it
//! reverses, and every IAM call an action makes is among the permissions it declares, each of
//! which it uses. `crates/testkit/tests/policies.rs` then proves each function's policy allows
//! exactly what its actions declare.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::contract::{Action, BoundPrincipal, HandlerKind, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::policy::QUARANTINE_INLINE_POLICY;
use launchguard_responder::actions::ALL;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::memory_ec2::MemoryEc2;
use launchguard_responder::testing::{launch_of, running_instance};
use launchguard_responder::{Config, Function, KeyStatus, respond, respond_ec2};

const ACCOUNT: &str = "111122223333";

/// A function serving every action the library knows.
static EVERYTHING: Function =
    Function { name: "test-everything", actions: ALL, serves: "an action", others_to: "nobody", log_message: "outcome" };

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 41, 0).unwrap()
}

fn cfg() -> Config {
    let env = |k: &str| match k {
        "COMMAND_KEY_ID" => Some("alias/launchguard-command".to_owned()),
        "LEDGER_BUCKET" => Some("ledger".to_owned()),
        _ => None,
    };
    Config::from_env(&EVERYTHING, &env, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-test").unwrap()
}

/// Runs actions and keeps, per action name, the IAM operations each one called.
#[derive(Default)]
struct Calls(BTreeMap<&'static str, BTreeSet<String>>);

impl Calls {
    async fn run(&mut self, iam: &MemoryIam, action: Action) -> ResponseOutcome {
        let before = iam.calls().len();
        let name = action.name();
        let o = respond(&ResponseRequest::new("lg-test", action, false, now()), &cfg(), iam, now()).await;
        let ops = iam.calls()[before..].iter().map(|c| format!("iam:{}", c.split(' ').next().unwrap())).collect::<Vec<_>>();
        self.0.entry(name).or_default().extend(ops);
        o
    }

    async fn run_ec2(&mut self, ec2: &MemoryEc2, iam: &MemoryIam, action: Action) -> ResponseOutcome {
        let (before, before_iam) = (ec2.calls().len(), iam.calls().len());
        let name = action.name();
        let o = respond_ec2(&ResponseRequest::new("lg-test", action, false, now()), &cfg(), ec2, iam, now()).await;
        self.0.entry(name).or_default().extend(ec2.calls()[before..].iter().map(|c| c.0.to_owned()));
        let iam_ops = iam.calls()[before_iam..].iter().map(|c| format!("iam:{}", c.split(' ').next().unwrap())).collect::<Vec<_>>();
        self.0.entry(name).or_default().extend(iam_ops);
        assert!(matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied), "{}", o.detail);
        o
    }

    async fn applied(&mut self, iam: &MemoryIam, action: Action) -> ResponseOutcome {
        let o = self.run(iam, action).await;
        assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
        o
    }
}

#[test]
fn every_contract_action_has_one_spec_and_reversals_name_theirs() {
    let key = || ("1".to_owned(), "AKIAEXAMPLEALICE0001".to_owned(), None);
    let user = || (ACCOUNT.to_owned(), format!("arn:aws:iam::{ACCOUNT}:user/bob"), "bob".to_owned());
    let role = || (ACCOUNT.to_owned(), format!("arn:aws:iam::{ACCOUNT}:role/Dev"), "Dev".to_owned());
    let every = [
        {
            let (account_id, access_key_id, user_name) = key();
            Action::DeactivateAccessKey { account_id, access_key_id, user_name, bound: None }
        },
        {
            let (account_id, access_key_id, user_name) = key();
            Action::ReactivateAccessKey { account_id, access_key_id, user_name }
        },
        Action::DeactivateCreatedAccessKey {
            account_id: ACCOUNT.into(),
            access_key_id: "AKIAEXAMPLEALICE0001".into(),
            user_name: "alice".into(),
            created_by: user().1,
            created_at: now(),
            created_by_id: None,
        },
        {
            let (account_id, user_arn, user_name) = user();
            Action::QuarantineUser { account_id, user_arn, user_name, bound: None }
        },
        {
            let (account_id, user_arn, user_name) = user();
            Action::ReleaseUserQuarantine { account_id, user_arn, user_name, policy_arn: None, previous_document: None, guard_only: false }
        },
        {
            let (account_id, user_arn, user_name) = user();
            Action::DeactivateUserAccessKeys { account_id, user_arn, user_name, used_keys: vec![], bound: None }
        },
        {
            let (account_id, user_arn, user_name) = user();
            Action::ReactivateUserAccessKeys { account_id, user_arn, user_name, access_key_ids: vec![key().1] }
        },
        {
            let (account_id, role_arn, role_name) = role();
            Action::RevokeRoleSessions { account_id, role_arn, role_name, issued_before: now(), covers_activity_until: None, bound: None }
        },
        {
            let (account_id, role_arn, role_name) = role();
            Action::RestoreRoleSessions { account_id, role_arn, role_name, written_document: None, previous_document: None }
        },
        Action::StopInstances {
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            principal_arn: user().1,
            instances: vec![],
            bound: None,
        },
        Action::TerminateInstances {
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            principal_arn: user().1,
            instances: vec![],
            bound: None,
        },
        Action::StartInstances {
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            principal_arn: user().1,
            incident: "lg-test".into(),
            instance_ids: vec![],
        },
    ];
    let names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
    assert_eq!(names, every.iter().map(Action::name).collect::<Vec<_>>(), "one spec per contract action, in the contract's order");
    for (spec, action) in ALL.iter().zip(&every) {
        assert_eq!(spec.reverses.is_some(), action.is_reversal(), "{}", spec.name);
        if let Some(r) = spec.reverses {
            assert!(names.contains(&r), "{} reverses {r}, which is not an action", spec.name);
        }
        // an EC2 action reads IAM only to resolve the principal whose instances it acts on (a
        // bound user through its key)
        let service = if action.handler() == HandlerKind::Ec2 { "ec2:" } else { "iam:" };
        let resolves =
            |p: &&str| action.handler() == HandlerKind::Ec2 && ["iam:GetAccessKeyLastUsed", "iam:GetRole", "iam:GetUser"].contains(p);
        assert!(spec.permissions.iter().all(|p| p.starts_with(service) || resolves(p)), "{}: {:?}", spec.name, spec.permissions);
    }
}

#[tokio::test]
async fn every_call_an_action_makes_is_one_it_declares_and_it_uses_every_one() {
    let mut calls = Calls::default();

    // an access key: deactivated, again, reactivated
    let iam = MemoryIam::default().with_user(
        "alice",
        Entity {
            keys: vec![("AKIAEXAMPLEALICE0001".into(), KeyStatus::Active)],
            ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/alice"))
        },
    );
    let deactivate = || Action::DeactivateAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: "AKIAEXAMPLEALICE0001".into(),
        user_name: None,
        bound: None,
    };
    let o = calls.applied(&iam, deactivate()).await;
    assert_eq!(calls.run(&iam, deactivate()).await.outcome, OutcomeStatus::AlreadyApplied);
    calls.applied(&iam, o.reversal.unwrap()).await;
    // the same key as one bob created for alice
    iam.users.lock().unwrap().get_mut("alice").unwrap().key_created.insert("AKIAEXAMPLEALICE0001".into(), now());
    let created = Action::DeactivateCreatedAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: "AKIAEXAMPLEALICE0001".into(),
        user_name: "alice".into(),
        created_by: format!("arn:aws:iam::{ACCOUNT}:user/bob"),
        created_at: now(),
        created_by_id: None,
    };
    let o = calls.applied(&iam, created).await;
    calls.applied(&iam, o.reversal.unwrap()).await;

    // a user: quarantined, again, released; then the deny-all fallback (no quarantine policy here), released
    let bob = || Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/bob"));
    let quarantine = || Action::QuarantineUser {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/bob"),
        user_name: "bob".into(),
        bound: None,
    };
    let iam = MemoryIam::default().with_user("bob", bob());
    let o = calls.applied(&iam, quarantine()).await;
    assert_eq!(calls.run(&iam, quarantine()).await.outcome, OutcomeStatus::AlreadyApplied);
    calls.applied(&iam, o.reversal.unwrap()).await;
    let look_alike = Entity { inline: [(QUARANTINE_INLINE_POLICY.to_owned(), "{}".to_owned())].into_iter().collect(), ..bob() };
    let iam = MemoryIam::default().with_user("bob", look_alike).without_policy("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3");
    let o = calls.applied(&iam, quarantine()).await;
    calls.applied(&iam, o.reversal.unwrap()).await;

    // every key of a user whose quarantine failed: deactivated, again (already), reactivated
    let iam = MemoryIam::default().with_user(
        "bob",
        Entity {
            keys: vec![("AKIAEXAMPLEBOB000001".into(), KeyStatus::Active), ("AKIAEXAMPLEBOB000002".into(), KeyStatus::Active)],
            ..bob()
        },
    );
    let all = || Action::DeactivateUserAccessKeys {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/bob"),
        user_name: "bob".into(),
        used_keys: vec!["AKIAEXAMPLEBOB000001".into()],
        // bound, as the dispatcher sends it: its user found through the confirmed key
        bound: Some(BoundPrincipal { principal_id: iam.user("bob").id, access_key_id: Some("AKIAEXAMPLEBOB000001".into()) }),
    };
    let o = calls.applied(&iam, all()).await;
    assert_eq!(calls.run(&iam, all()).await.outcome, OutcomeStatus::AlreadyApplied);
    calls.applied(&iam, o.reversal.unwrap()).await;

    // a role: revoked, again (already), restored
    let iam = MemoryIam::default().with_role("Dev", Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/Dev")));
    let revoke = |t: DateTime<Utc>| Action::RevokeRoleSessions {
        account_id: ACCOUNT.into(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/Dev"),
        role_name: "Dev".into(),
        issued_before: t,
        covers_activity_until: None,
        bound: None,
    };
    let first = calls.applied(&iam, revoke(now() - Duration::minutes(10))).await;
    assert_eq!(calls.run(&iam, revoke(now())).await.outcome, OutcomeStatus::AlreadyApplied);
    calls.applied(&iam, first.reversal.unwrap()).await;

    // instances: stopped, again, started; others terminated; a user's (GetUser) and a role's (GetRole)
    let ec2 = MemoryEc2::default();
    let bob_with_key = Entity { keys: vec![("AKIABOBEXAMPLEKEY001".into(), KeyStatus::Active)], ..bob() };
    let iam = MemoryIam::default().with_user("bob", bob_with_key).with_role("Dev", Entity::new(format!("arn:aws:iam::{ACCOUNT}:role/Dev")));
    // bound to bob by IAM's unique id, found through the key it used (GetAccessKeyLastUsed)
    let bound = Some(BoundPrincipal { principal_id: iam.user("bob").id, access_key_id: Some("AKIABOBEXAMPLEKEY001".into()) });
    let at = now() - Duration::minutes(20);
    let (a, b, c) = (
        running_instance("i-0aaa0000000000001", ACCOUNT, at, "r-1", &[]),
        running_instance("i-0bbb0000000000002", ACCOUNT, at, "r-2", &[]),
        running_instance("i-0ccc0000000000003", ACCOUNT, at, "r-3", &[]),
    );
    ec2.put("us-east-1", a.clone());
    ec2.put("us-east-1", b.clone());
    ec2.put("us-east-1", c.clone());
    let principal_arn = format!("arn:aws:iam::{ACCOUNT}:user/bob");
    let stop = || Action::StopInstances {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        principal_arn: principal_arn.clone(),
        instances: vec![launch_of(&a, "us-east-1")],
        bound: bound.clone(),
    };
    let o = calls.run_ec2(&ec2, &iam, stop()).await;
    assert_eq!(calls.run_ec2(&ec2, &iam, stop()).await.outcome, OutcomeStatus::AlreadyApplied);
    calls.run_ec2(&ec2, &iam, o.reversal.unwrap()).await;
    let role_stop = Action::StopInstances {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        principal_arn: format!("arn:aws:iam::{ACCOUNT}:role/Dev"),
        instances: vec![launch_of(&c, "us-east-1")],
        bound: None,
    };
    calls.run_ec2(&ec2, &iam, role_stop).await;
    let terminate = Action::TerminateInstances {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        principal_arn: principal_arn.clone(),
        instances: vec![launch_of(&b, "us-east-1")],
        bound: bound.clone(),
    };
    calls.run_ec2(&ec2, &iam, terminate).await;
    let role_terminate = Action::TerminateInstances {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        principal_arn: format!("arn:aws:iam::{ACCOUNT}:role/Dev"),
        instances: vec![launch_of(&c, "us-east-1")],
        bound: None,
    };
    calls.run_ec2(&ec2, &iam, role_terminate).await;

    for spec in ALL {
        let declared: BTreeSet<String> = spec.permissions.iter().map(|p| (*p).to_owned()).collect();
        let made = calls.0.get(spec.name).cloned().unwrap_or_default();
        assert_eq!(made, declared, "{}: the AWS calls it made differ from the permissions it declares", spec.name);
    }
}
