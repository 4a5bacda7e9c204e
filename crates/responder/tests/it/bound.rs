//! Actions bound to the user CloudTrail confirmed (`bound`: IAM's unique id and a key it used):
//! the handler finds the user under its current name through the key, checks `GetUser`'s
//! `UserId`, and acts on that name, or refuses with nothing written. Also the in-memory IAM's
//! names (found without regard to case, as IAM finds them) and the id a containment reports.

use chrono::{DateTime, TimeZone, Utc};
use launchguard_aws::CallError;
use launchguard_core::contract::{ANOTHER_PRINCIPAL, Action, BoundPrincipal, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_responder::actions::ALL;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::memory_ec2::MemoryEc2;
use launchguard_responder::ports::{AccessKeys, KeyMeta, LastUse, RoleManagedPolicies, Roles, UserManagedPolicies, Users};
use launchguard_responder::testing::{config, launch_of, running_instance};
use launchguard_responder::{Config, Function, KeyStatus, respond, respond_ec2};
use proptest::prelude::*;

const ACCOUNT: &str = "111122223333";
const KEY: &str = "AKIAEXAMPLEATTACKER1";

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
        &[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/breakglass")],
    )
}

fn user(name: &str, keys: &[&str]) -> Entity {
    Entity {
        keys: keys.iter().map(|k| ((*k).to_owned(), KeyStatus::Active)).collect(),
        ..Entity::new(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
    }
}

/// `UpdateUser --new-user-name`: the user keeps its unique id, keys and policies.
fn rename(iam: &MemoryIam, from: &str, to: &str) {
    let mut users = iam.users.lock().unwrap();
    let mut u = users.remove(from).unwrap();
    u.arn = format!("arn:aws:iam::{ACCOUNT}:user/{to}");
    users.insert(to.to_owned(), u);
}

/// The burst's user `attacker` (key [`KEY`]) and an innocent `payroll`.
fn account() -> (MemoryIam, BoundPrincipal) {
    let iam = MemoryIam::default().with_user("attacker", user("attacker", &[KEY])).with_user("payroll", user("payroll", &[]));
    let bound = BoundPrincipal { principal_id: iam.user("attacker").id, access_key_id: Some(KEY.into()) };
    (iam, bound)
}

fn quarantine(name: &str, bound: Option<BoundPrincipal>) -> Action {
    Action::QuarantineUser {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        user_name: name.into(),
        bound,
    }
}

async fn run(iam: &MemoryIam, a: Action) -> ResponseOutcome {
    respond(&ResponseRequest::new("lg-bound", a, false, now()), &cfg(), iam, now()).await
}

fn refused(o: &ResponseOutcome) -> &str {
    match &o.outcome {
        OutcomeStatus::Refused { reason } => reason,
        _ => panic!("not refused: {} {}", o.outcome.name(), o.detail),
    }
}

#[tokio::test]
async fn a_bound_quarantine_follows_a_self_rename_and_reports_the_confirmed_id() {
    let (iam, bound) = account();
    rename(&iam, "attacker", "attacker-x");
    let o = run(&iam, quarantine("attacker", Some(bound.clone()))).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(iam.user("attacker-x").attached.len() >= 2, "{:?}", iam.user("attacker-x"));
    assert!(o.detail.contains("attacker-x") && o.detail.contains("the finding named it attacker"), "{}", o.detail);
    assert_eq!(o.principal_id.as_deref(), Some(bound.principal_id.as_str()));
    // its reversal names the user as IAM does now
    assert!(matches!(&o.reversal, Some(Action::ReleaseUserQuarantine { user_name, .. }) if user_name == "attacker-x"), "{:?}", o.reversal);
}

#[tokio::test]
async fn a_bound_quarantine_after_a_name_swap_never_touches_the_new_holder_of_the_name() {
    let (iam, bound) = account();
    rename(&iam, "attacker", "attacker-x");
    rename(&iam, "payroll", "attacker");
    // through the key: the attacker, under its new name
    let o = run(&iam, quarantine("attacker", Some(bound.clone()))).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert!(iam.user("attacker").attached.is_empty() && !iam.user("attacker-x").attached.is_empty());
    // without a key to follow (a session's): the name alone, whose holder has another id: refused
    let (iam, mut bound) = account();
    bound.access_key_id = None;
    rename(&iam, "attacker", "attacker-x");
    rename(&iam, "payroll", "attacker");
    let o = run(&iam, quarantine("attacker", Some(bound.clone()))).await;
    let why = refused(&o);
    assert!(why.contains(ANOTHER_PRINCIPAL) && why.contains(&bound.principal_id) && why.contains(&iam.user("attacker").id), "{why}");
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
    assert_eq!(o.principal_id, None, "a refusal reports no identity");
}

#[tokio::test]
async fn a_bound_key_is_deactivated_under_its_users_new_name_and_refused_for_another_id() {
    let (iam, bound) = account();
    rename(&iam, "attacker", "attacker-x");
    let key = |bound: Option<BoundPrincipal>| Action::DeactivateAccessKey {
        account_id: ACCOUNT.into(),
        access_key_id: KEY.into(),
        user_name: Some("attacker".into()),
        bound,
    };
    // unbound, as before: the finding's name is not the key's user: refused
    assert!(refused(&run(&iam, key(None)).await).contains("belongs to user attacker-x"));
    let o = run(&iam, key(Some(bound.clone()))).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(iam.user("attacker-x").keys, vec![(KEY.to_owned(), KeyStatus::Inactive)]);
    assert!(o.detail.contains("the finding named its user attacker"), "{}", o.detail);
    // bound to another user's id: the key's user is not the user CloudTrail confirmed
    let (iam, _) = account();
    let other = BoundPrincipal { principal_id: iam.user("payroll").id, access_key_id: Some(KEY.into()) };
    let o = run(&iam, key(Some(other))).await;
    assert!(refused(&o).contains(ANOTHER_PRINCIPAL), "{}", o.detail);
    assert!(iam.writes().is_empty(), "{:?}", iam.writes());
}

#[tokio::test]
async fn a_bound_stop_follows_a_self_rename_and_refuses_a_protected_old_name() {
    let (iam, bound) = account();
    let ec2 = MemoryEc2::default();
    let at = now() - chrono::Duration::minutes(20);
    let i = running_instance("i-0aaa0000000000001", ACCOUNT, at, "r-1", &[]);
    ec2.put("us-east-1", i.clone());
    rename(&iam, "attacker", "attacker-x");
    let stop = |name: &str, bound: Option<BoundPrincipal>| Action::StopInstances {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        principal_arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        instances: vec![launch_of(&i, "us-east-1")],
        bound,
    };
    let req = |a| ResponseRequest::new("lg-bound", a, false, now());
    let unbound = respond_ec2(&req(stop("attacker", None)), &cfg(), &ec2, &iam, now()).await;
    assert!(refused(&unbound).contains("does not exist"), "{}", unbound.detail);
    let o = respond_ec2(&req(stop("attacker", Some(bound.clone()))), &cfg(), &ec2, &iam, now()).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(o.principal_id.as_deref(), Some(bound.principal_id.as_str()));
    // the name the finding gave is checked against the protections too
    let (iam, bound) = account();
    rename(&iam, "attacker", "breakglass");
    let o = respond_ec2(&req(stop("breakglass", Some(bound))), &cfg(), &ec2, &iam, now()).await;
    assert!(refused(&o).contains("protected"), "{}", o.detail);
}

#[tokio::test]
async fn the_in_memory_iam_finds_a_name_without_regard_to_case() {
    let (iam, _) = account();
    assert_eq!(iam.user_arn("ATTACKER").await.unwrap(), Some(format!("arn:aws:iam::{ACCOUNT}:user/attacker")));
    assert_eq!(iam.user_id("Attacker").await.unwrap(), Some(iam.user("attacker").id));
    assert_eq!(iam.list_keys("aTTacker").await.unwrap().len(), 1);
    iam.attach_user_policy("PAYROLL", "arn:aws:iam::aws:policy/x").await.unwrap();
    assert_eq!(iam.user("payroll").attached, vec!["arn:aws:iam::aws:policy/x".to_owned()]);
    assert_eq!(iam.user_id("nobody").await.unwrap(), None);
}

/// IAM as the handler sees it when the user is renamed right after the handler's write (between
/// the quarantine and the id lookup that reports it).
struct RenamedAfterTheWrite(MemoryIam);

impl Users for RenamedAfterTheWrite {
    async fn user_arn(&self, u: &str) -> Result<Option<String>, CallError> {
        self.0.user_arn(u).await
    }
    async fn user_id(&self, u: &str) -> Result<Option<String>, CallError> {
        self.0.user_id(u).await
    }
    async fn user_tags(&self, u: &str) -> Result<Option<Vec<(String, String)>>, CallError> {
        self.0.user_tags(u).await
    }
}
impl Roles for RenamedAfterTheWrite {
    async fn role_arn(&self, r: &str) -> Result<Option<String>, CallError> {
        self.0.role_arn(r).await
    }
    async fn role_id(&self, r: &str) -> Result<Option<String>, CallError> {
        self.0.role_id(r).await
    }
    async fn role_tags(&self, r: &str) -> Result<Option<Vec<(String, String)>>, CallError> {
        self.0.role_tags(r).await
    }
}
impl AccessKeys for RenamedAfterTheWrite {
    async fn key_owner(&self, k: &str) -> Result<Option<String>, CallError> {
        self.0.key_owner(k).await
    }
    async fn last_use(&self, k: &str) -> Result<Option<LastUse>, CallError> {
        self.0.last_use(k).await
    }
    async fn list_keys(&self, u: &str) -> Result<Vec<KeyMeta>, CallError> {
        self.0.list_keys(u).await
    }
    async fn set_status(&self, u: &str, k: &str, s: KeyStatus) -> Result<(), CallError> {
        self.0.set_status(u, k, s).await
    }
}
impl UserManagedPolicies for RenamedAfterTheWrite {
    async fn attached_user_policies(&self, u: &str) -> Result<Vec<String>, CallError> {
        self.0.attached_user_policies(u).await
    }
    async fn attach_user_policy(&self, u: &str, p: &str) -> Result<(), CallError> {
        self.0.attach_user_policy(u, p).await?;
        if p.contains("launchguard") {
            rename(&self.0, u, &format!("{u}-renamed"));
        }
        Ok(())
    }
    async fn detach_user_policy(&self, u: &str, p: &str) -> Result<(), CallError> {
        self.0.detach_user_policy(u, p).await
    }
}
impl RoleManagedPolicies for RenamedAfterTheWrite {
    async fn attached_role_policies(&self, r: &str) -> Result<Vec<String>, CallError> {
        self.0.attached_role_policies(r).await
    }
    async fn attach_role_policy(&self, r: &str, p: &str) -> Result<(), CallError> {
        self.0.attach_role_policy(r, p).await
    }
    async fn detach_role_policy(&self, r: &str, p: &str) -> Result<(), CallError> {
        self.0.detach_role_policy(r, p).await
    }
}

#[tokio::test]
async fn a_containment_whose_user_is_gone_before_its_id_is_read_says_so() {
    let iam = RenamedAfterTheWrite(MemoryIam::default().with_user("payroll", user("payroll", &[])));
    let o = respond(&ResponseRequest::new("lg-gone", quarantine("payroll", None), false, now()), &cfg(), &iam, now()).await;
    assert_eq!(o.outcome, OutcomeStatus::Applied, "{}", o.detail);
    assert_eq!(o.principal_id, None);
    assert!(o.warnings.iter().any(|w| w.contains("IAM knows no user payroll") && w.contains("by the name only")), "{:?}", o.warnings);
}

proptest! {
    /// A bound id or key that is not IAM's form is refused by the contract's parser (never a
    /// panic); a well-formed one parses back to itself.
    #[test]
    fn a_request_binds_only_to_a_well_formed_user_id(id in "[A-Z0-9]{0,24}|AIDA[A-Z0-9]{12,20}|AIDA[a-z0-9 :/]{0,20}", key in proptest::option::of("AKIA[A-Z0-9]{16}|[a-z]{0,5}")) {
        let b = BoundPrincipal { principal_id: id.clone(), access_key_id: key.clone() };
        let req = ResponseRequest::new("lg-prop", quarantine("alice", Some(b)), false, now());
        let parsed = ResponseRequest::parse(serde_json::to_value(&req).unwrap());
        let id_ok = (16..=128).contains(&id.len()) && id.starts_with("AIDA") && id.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let key_ok = key.as_deref().is_none_or(|k| k.len() >= 16 && k.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        prop_assert_eq!(parsed.is_ok(), id_ok && key_ok, "{:?}", parsed.as_ref().err());
        if let Ok(p) = parsed {
            prop_assert_eq!(p, req);
        }
    }
}

#[tokio::test]
async fn a_bound_request_refused_on_its_face_makes_no_iam_call() {
    let (iam, bound) = account();
    let other_account = Action::QuarantineUser {
        account_id: "999999999999".into(),
        user_arn: "arn:aws:iam::999999999999:user/attacker".into(),
        user_name: "attacker".into(),
        bound: Some(bound.clone()),
    };
    let mismatched = Action::QuarantineUser {
        account_id: ACCOUNT.into(),
        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/payroll"),
        user_name: "attacker".into(),
        bound: Some(bound.clone()),
    };
    for a in [other_account, mismatched, quarantine("breakglass", Some(bound))] {
        let o = run(&iam, a).await;
        assert!(matches!(o.outcome, OutcomeStatus::Refused { .. }), "{}", o.detail);
    }
    assert!(iam.calls().is_empty(), "{:?}", iam.calls());
}
