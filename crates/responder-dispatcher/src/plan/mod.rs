//! The playbook: which actions each kind of principal gets. Pure.
//!
//! | principal                         | default actions                                      |
//! |-----------------------------------|------------------------------------------------------|
//! | IAM user                          | deactivate each long-term key it used; quarantine it |
//! | assumed role                      | revoke the role's sessions issued before now         |
//! | Identity Center role / user, root, federated user | none: critical notification with what a human must do |
//! | AWS service, service-linked role  | never                                                |
//! | unknown                           | none: notification                                   |
//!
//! `LG_USER_ACTIONS` and `LG_ROLE_ACTIONS` can narrow the defaults (down to nothing: notify
//! only); they cannot add actions to principals the playbook never touches. A finding's rule
//! narrows them again to the rule's `actions` ([`Playbook::for_rule`]).
//!
//! Created access keys (`LG_CREATED_KEYS`, default `deactivate`): the keys a contained user or
//! role created with `CreateAccessKey`, for itself or another user, are deactivated too
//! (`created_keys.rs`); a key created for a protected user is left to a person, loudly.
//!
//! Instances (`LG_EC2_ACTION`, default `none`): with `stop` (or `terminate`, never the default:
//! it cannot be undone), the IAM users and roles above also get their *own* instances stopped:
//! those their `RunInstances` responses returned (`activity.launches`), one action per region,
//! which the EC2 handler checks against IAM (the principal's real ARN) and `DescribeInstances`
//! before acting. Once CloudTrail confirmed the principal, the keys and instances come only from
//! CloudTrail's own records of its evidence (`proven.rs`): one named only by the log group is
//! left to a person. The instance action is a rule action like the others: a finding's rule must name
//! `stop_instances` (or `terminate_instances`: only then is anything terminated; a rule naming
//! only `stop_instances`, or a rule the dispatcher does not know, gets at most a stop). Only for a
//! principal launchguard contains: a notify-only rule or playbook touches no instance. No other
//! instance, and none of a principal the playbook refuses (protected, another account, AWS itself)
//! or leaves to a person (root, federated, Identity Center): their instances are named in the
//! notification.
//!
//! A principal whose ARN was derived from a session ARN (no path: it cannot show a protection by
//! path, nor a reserved service-linked or Identity Center path) gets only actions whose handler
//! resolves the principal through IAM before acting ([`resolved_by_its_handler`]); any other is
//! dropped, with a note.

use chrono::{DateTime, Utc};
use launchguard_core::CoreError;
use launchguard_core::config::Env;
use launchguard_core::contract::{Action, FlaggedPrincipal};
use launchguard_core::guard::Guard;
use launchguard_core::principal::{KeyKind, Principal};
use launchguard_core::rules::{Rule, RuleAction};

use crate::ledger::target_of;

mod bound;
mod created_keys;
mod instances;
mod proven;

pub use bound::{bind_to_the_confirmed_role, bind_to_the_confirmed_user};
use created_keys::created_key_actions;
use instances::instance_actions;
pub use proven::only_what_cloudtrail_proves;

/// What to do with IAM users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPlaybook {
    /// Deactivate the long-term keys the user used.
    pub deactivate_access_keys: bool,
    /// Attach the quarantine policy.
    pub quarantine_user: bool,
}

/// What to do with assumed roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolePlaybook {
    /// Revoke sessions issued before now.
    pub revoke_role_sessions: bool,
}

/// What to do with the instances a contained principal launched (`LG_EC2_ACTION`), from the least
/// to the most (the order [`Playbook::for_rule`] narrows by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum InstancePlaybook {
    /// Leave them running (the default): the notification names them.
    #[default]
    None,
    /// Tag and stop them; a release starts them again.
    Stop,
    /// Tag and terminate them: cannot be undone.
    Terminate,
}

impl InstancePlaybook {
    /// `none`, `stop` or `terminate`.
    pub fn parse(value: &str) -> Result<Self, CoreError> {
        match value.trim() {
            "" | "none" => Ok(Self::None),
            "stop" => Ok(Self::Stop),
            "terminate" => Ok(Self::Terminate),
            other => Err(CoreError::Config {
                name: "LG_EC2_ACTION".into(),
                problem: format!("is {other:?}: expected none (the default), stop, or terminate (cannot be undone)"),
            }),
        }
    }
}

/// The configurable part of the playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playbook {
    /// IAM users.
    pub user: UserPlaybook,
    /// Assumed roles.
    pub role: RolePlaybook,
    /// Their instances.
    pub instances: InstancePlaybook,
    /// Deactivate the access keys a contained principal created (`LG_CREATED_KEYS`).
    pub created_keys: bool,
    /// Access key prefixes that may be deactivated.
    pub key_prefixes: Vec<String>,
}

fn list(env: &dyn Env, name: &str, default: &str, allowed: &[&str]) -> Result<Vec<String>, CoreError> {
    let v = env.get(name).unwrap_or_else(|| default.to_owned());
    let items: Vec<String> = v.split(',').map(str::trim).filter(|s| !s.is_empty() && *s != "none").map(str::to_owned).collect();
    for i in &items {
        if !allowed.contains(&i.as_str()) {
            return Err(CoreError::Config {
                name: name.into(),
                problem: format!("has {i:?}: expected some of {} (or none)", allowed.join(", ")),
            });
        }
    }
    Ok(items)
}

impl Playbook {
    /// `LG_USER_ACTIONS` (default `deactivate_access_keys,quarantine_user`), `LG_ROLE_ACTIONS`
    /// (default `revoke_role_sessions`); `none` for notify-only. `LG_EC2_ACTION` (default `none`),
    /// `LG_CREATED_KEYS` (`deactivate`, the default, or `none`).
    pub fn from_env(env: &dyn Env) -> Result<Self, CoreError> {
        let user = list(env, "LG_USER_ACTIONS", "deactivate_access_keys,quarantine_user", &["deactivate_access_keys", "quarantine_user"])?;
        let role = list(env, "LG_ROLE_ACTIONS", "revoke_role_sessions", &["revoke_role_sessions"])?;
        Ok(Self {
            user: UserPlaybook {
                deactivate_access_keys: user.iter().any(|u| u == "deactivate_access_keys"),
                quarantine_user: user.iter().any(|u| u == "quarantine_user"),
            },
            role: RolePlaybook { revoke_role_sessions: role.iter().any(|r| r == "revoke_role_sessions") },
            instances: InstancePlaybook::parse(&env.get("LG_EC2_ACTION").unwrap_or_default())?,
            created_keys: match env.get("LG_CREATED_KEYS").as_deref().map(str::trim) {
                None | Some("" | "deactivate") => true,
                Some("none") => false,
                Some(other) => {
                    return Err(CoreError::Config {
                        name: "LG_CREATED_KEYS".into(),
                        problem: format!("is {other:?}: expected deactivate (the default) or none"),
                    });
                }
            },
            key_prefixes: launchguard_core::config::long_term_key_prefixes(env)?,
        })
    }
}

impl Playbook {
    /// The playbook for a finding of `rule`: these actions, narrowed to the rule's `actions`
    /// (never widened). A rule the dispatcher does not know (another detector's own) gets the
    /// playbook as configured, as every finding did before rules existed, except that it never
    /// terminates instances (it cannot name `terminate_instances`): at most a stop.
    pub fn for_rule(&self, rule: Option<&Rule>) -> Playbook {
        let Some(rule) = rule else { return Playbook { instances: narrow_instances(self.instances, None), ..self.clone() } };
        let allows = |a: RuleAction| rule.actions.contains(&a);
        let mut pb = self.clone();
        pb.user.deactivate_access_keys &= allows(RuleAction::DeactivateAccessKeys);
        pb.user.quarantine_user &= allows(RuleAction::QuarantineUser);
        pb.role.revoke_role_sessions &= allows(RuleAction::RevokeRoleSessions);
        pb.created_keys &= allows(RuleAction::DeactivateCreatedAccessKeys);
        pb.instances = narrow_instances(self.instances, Some(rule));
        pb
    }
}

/// `LG_EC2_ACTION` narrowed by a rule: terminate only when the rule names `terminate_instances`;
/// stop when it names either; nothing when it names neither. A rule the dispatcher does not know
/// (`None`) names nothing, so it never terminates: at most a stop.
fn narrow_instances(configured: InstancePlaybook, rule: Option<&Rule>) -> InstancePlaybook {
    let Some(rule) = rule else {
        return configured.min(InstancePlaybook::Stop);
    };
    let allowed = if rule.actions.contains(&RuleAction::TerminateInstances) {
        InstancePlaybook::Terminate
    } else if rule.actions.contains(&RuleAction::StopInstances) {
        InstancePlaybook::Stop
    } else {
        InstancePlaybook::None
    };
    configured.min(allowed)
}

impl Default for Playbook {
    fn default() -> Self {
        Self {
            user: UserPlaybook { deactivate_access_keys: true, quarantine_user: true },
            role: RolePlaybook { revoke_role_sessions: true },
            instances: InstancePlaybook::None,
            created_keys: true,
            key_prefixes: vec!["AKIA".into()],
        }
    }
}

/// The plan for one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalPlan {
    /// Who.
    pub principal: Principal,
    /// Actions to send to the handlers.
    pub actions: Vec<Action>,
    /// Set when launchguard refuses to act on this principal (protected, other account...).
    pub refused: Option<String>,
    /// What a human must do, when launchguard does not act by design.
    pub human: Option<String>,
    /// Things worth knowing (keys that cannot be deactivated...).
    pub notes: Vec<String>,
}

/// Plan the actions for each flagged principal. Each ledger target is acted on once (see
/// [`one_action_per_target`]).
pub fn plan(principals: &[FlaggedPrincipal], playbook: &Playbook, guard: &Guard, now: DateTime<Utc>) -> Vec<PrincipalPlan> {
    let mut plans: Vec<PrincipalPlan> = principals.iter().map(|f| plan_one(f, playbook, guard, now)).collect();
    for p in &mut plans {
        only_what_a_handler_resolves(p);
    }
    one_action_per_target(&mut plans);
    plans
}

/// True for an action whose handler resolves the principal it acts for through IAM before acting
/// (real ARN, path, service-linked and Identity Center status) and checks protection on what IAM
/// says: the key's owner (`GetAccessKeyLastUsed`, `GetUser`), the user or role (`GetUser`,
/// `GetRole`), the principal whose instances are stopped or terminated (`GetUser`, `GetRole`).
/// `deactivate_created_access_key` resolves the key's owner, not the creator it is planned for.
/// Every action is named (no wildcard): a new one must be decided here.
#[allow(clippy::match_like_matches_macro)]
pub fn resolved_by_its_handler(a: &Action) -> bool {
    match a {
        Action::DeactivateAccessKey { .. }
        | Action::QuarantineUser { .. }
        | Action::DeactivateUserAccessKeys { .. }
        | Action::RevokeRoleSessions { .. }
        | Action::StopInstances { .. }
        | Action::TerminateInstances { .. } => true,
        Action::DeactivateCreatedAccessKey { .. }
        | Action::ReactivateAccessKey { .. }
        | Action::ReleaseUserQuarantine { .. }
        | Action::ReactivateUserAccessKeys { .. }
        | Action::RestoreRoleSessions { .. }
        | Action::StartInstances { .. } => false,
    }
}

/// A principal whose ARN was derived (no path) keeps only the actions its handlers resolve
/// through IAM ([`resolved_by_its_handler`]): the derived ARN cannot show a protection by path.
fn only_what_a_handler_resolves(p: &mut PrincipalPlan) {
    if !p.principal.arn_derived() {
        return;
    }
    let arn = crate::finding::principal_arn(&p.principal);
    let (kept, dropped): (Vec<Action>, Vec<Action>) = std::mem::take(&mut p.actions).into_iter().partition(resolved_by_its_handler);
    p.actions = kept;
    for a in dropped {
        p.notes.push(format!(
            "{} on {} is not sent: the ARN {arn} was derived from the record, and its handler does not resolve it through IAM",
            a.name(),
            a.target()
        ));
    }
}

/// Two principals of one finding can be one IAM entity: a role by its real ARN (path included)
/// and by the ARN derived from a session ARN (without the path), a user by both forms. Their
/// actions land on the same ledger target, so each target keeps one action, under the first
/// principal that asks for it (a revocation covering the later activity of both); the other
/// principal's plan says it is the same IAM entity. A delivery then never claims one target twice.
pub fn one_action_per_target(plans: &mut [PrincipalPlan]) {
    let mut seen: Vec<(String, usize, usize)> = Vec::new(); // target, plan, action in that plan
    for i in 0..plans.len() {
        let mut kept: Vec<Action> = Vec::new();
        for a in std::mem::take(&mut plans[i].actions) {
            let target = target_of(&a);
            let Some(&(_, first, at)) = seen.iter().find(|(t, ..)| *t == target) else {
                seen.push((target, i, kept.len()));
                kept.push(a);
                continue;
            };
            let kept_action = if first == i { &mut kept[at] } else { &mut plans[first].actions[at] };
            let kept_name = kept_action.name();
            if let (
                Action::RevokeRoleSessions { covers_activity_until: Some(later), .. },
                Action::RevokeRoleSessions { covers_activity_until: Some(covered), .. },
            ) = (&a, kept_action)
            {
                *covered = (*covered).max(*later);
            }
            let (this, other) =
                (crate::finding::principal_arn(&plans[i].principal), crate::finding::principal_arn(&plans[first].principal));
            let note = if first == i {
                format!("{} on {} was asked twice: done once", a.name(), a.target())
            } else if kept_name != a.name() {
                // e.g. a key one principal used and another created: two principals, one key
                format!("{} on {} is the same change as {kept_name} planned for {other}: done once, under {other}", a.name(), a.target())
            } else {
                format!("{this} is the same IAM entity as {other}: {} on {} is done once, under {other}", a.name(), a.target())
            };
            plans[i].notes.push(note);
        }
        plans[i].actions = kept;
    }
}

fn plan_one(f: &FlaggedPrincipal, pb: &Playbook, guard: &Guard, now: DateTime<Utc>) -> PrincipalPlan {
    let mut p = PrincipalPlan { principal: f.principal.clone(), actions: Vec::new(), refused: None, human: None, notes: Vec::new() };
    let checks = |account: &str, arn: &str| guard.check_account(account).and_then(|()| guard.check_principal(arn));
    match &f.principal {
        Principal::IamUser { arn, user_name, account_id, arn_derived } => {
            if let Err(reason) = checks(account_id, arn) {
                p.refused = Some(reason);
                return p;
            }
            if *arn_derived {
                p.notes.push(format!("the ARN {arn} was derived from the user name; the handlers confirm it with IAM before acting"));
            }
            for k in &f.activity.access_keys {
                let deactivatable =
                    k.kind != KeyKind::Temporary && pb.key_prefixes.iter().any(|pre| k.access_key_id.starts_with(pre.as_str()));
                if !deactivatable {
                    p.notes.push(format!(
                        "key {} is a session key: it cannot be deactivated{}",
                        k.access_key_id,
                        if pb.user.quarantine_user { "; the quarantine policy denies its session too" } else { "" }
                    ));
                } else if pb.user.deactivate_access_keys {
                    p.actions.push(Action::DeactivateAccessKey {
                        account_id: account_id.clone(),
                        access_key_id: k.access_key_id.clone(),
                        user_name: Some(user_name.clone()),
                        bound: None,
                    });
                }
            }
            if pb.user.quarantine_user {
                p.actions.push(Action::QuarantineUser {
                    account_id: account_id.clone(),
                    user_arn: arn.clone(),
                    user_name: user_name.clone(),
                    bound: None,
                });
            }
            let contained = !p.actions.is_empty();
            instance_actions(&mut p, f, pb.instances, contained, account_id, arn);
            created_key_actions(&mut p, f, pb.created_keys, guard, account_id, arn);
            if p.actions.is_empty() {
                p.human = Some(format!("the playbook (LG_USER_ACTIONS) takes no action on users: review {user_name} and its keys by hand"));
            }
        }
        Principal::AssumedRole { service_linked: true, role_name, .. } => {
            p.refused = Some(format!("{role_name} is a service-linked role: AWS manages it, launchguard never changes it"));
        }
        Principal::AssumedRole { identity_center: true, role_name, .. } => {
            p.human = Some(format!(
                "{role_name} is an IAM Identity Center permission set role: find the person in Identity Center (session names: {}), disable the user there and revoke the permission set's sessions",
                f.activity.session_names.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Principal::AssumedRole { role_arn, role_name, account_id, .. } => {
            if let Err(reason) = checks(account_id, role_arn) {
                p.refused = Some(reason);
                return p;
            }
            if pb.role.revoke_role_sessions {
                p.actions.push(Action::RevokeRoleSessions {
                    account_id: account_id.clone(),
                    role_arn: role_arn.clone(),
                    role_name: role_name.clone(),
                    issued_before: now,
                    covers_activity_until: Some(f.activity.last_seen),
                    bound: None,
                });
                p.notes.push(format!(
                    "revoking sessions denies every session of {role_name}, current and new, until a release (sessions: {}): whatever runs as this role stops too; find who can assume the role",
                    f.activity.session_names.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            } else {
                p.human = Some(format!(
                    "the playbook (LG_ROLE_ACTIONS) takes no action on roles: revoke the sessions of {role_name} by hand if needed"
                ));
            }
            let contained = !p.actions.is_empty();
            instance_actions(&mut p, f, pb.instances, contained, account_id, role_arn);
            created_key_actions(&mut p, f, pb.created_keys, guard, account_id, role_arn);
        }
        Principal::Root { account_id, .. } => {
            p.human = Some(format!(
                "CRITICAL: the root user of {account_id} launched instances. launchguard never changes root. Sign in as root, change the password, remove root access keys, check MFA, and terminate the instances"
            ));
        }
        Principal::FederatedUser { arn, issuer_arn: Some(issuer), .. } => {
            p.human = Some(format!(
                "{arn} and any other federated user named by the calls counted are tokens of {issuer} (GetFederationToken, as CloudTrail records it): confirm that in CloudTrail, then deactivate {issuer}'s keys and attach a deny policy"
            ));
        }
        Principal::FederatedUser { arn, .. } => {
            p.human = Some(format!(
                "{arn} is a federated user (GetFederationToken): its credentials come from an IAM user's keys. Find that user (CloudTrail GetFederationToken), deactivate its keys and attach a deny policy"
            ));
        }
        Principal::IdentityCenterUser { id, .. } => {
            p.human = Some(format!("Identity Center user {id}: disable the user in IAM Identity Center and revoke its sessions"));
        }
        Principal::AwsService { service } => {
            p.refused = Some(format!("{service} is an AWS service: launchguard never acts on AWS itself"));
        }
        Principal::Unknown { .. } => {
            p.human = Some(format!("{}: the CloudTrail identity could not be classified; investigate by hand", f.principal.label()));
        }
    }
    p
}
