//! The responder actions, one file each, with its reversal beside it; this module maps each
//! contract action to its code.
//!
//! | contract action | file | spec |
//! |---|---|---|
//! | `deactivate_access_key`, reversal `reactivate_access_key` | `deactivate_access_key.rs` | [`deactivate_access_key::DEACTIVATE`], [`deactivate_access_key::REACTIVATE`] |
//! | `deactivate_created_access_key`, reversal `reactivate_access_key` | `deactivate_created_access_key.rs` | [`deactivate_created_access_key::DEACTIVATE_CREATED`] |
//! | `quarantine_user`, reversal `release_user_quarantine` | `quarantine_user.rs` | [`quarantine_user::QUARANTINE`], [`quarantine_user::RELEASE`] |
//! | `deactivate_user_access_keys`, reversal `reactivate_user_access_keys` | `deactivate_user_access_keys.rs` | [`deactivate_user_access_keys::DEACTIVATE_ALL`], [`deactivate_user_access_keys::REACTIVATE_ALL`] |
//! | `revoke_role_sessions`, reversal `restore_role_sessions` | `revoke_role_sessions.rs` | [`revoke_role_sessions::REVOKE`], [`revoke_role_sessions::RESTORE`] |
//! | `stop_instances`, reversal `start_instances` | `stop_instances.rs` | [`stop_instances::STOP`], [`stop_instances::START`] |
//! | `terminate_instances` (no reversal) | `terminate_instances.rs` | [`terminate_instances::TERMINATE`] |
//!
//! A reversal lives in the file of the action it reverses: it must recognise exactly what that
//! action wrote (the status, the attachment, which guard), so the two change
//! together, and "where is the code that deactivates a key, and undoes it" has one answer.

pub mod deactivate_access_key;
pub mod deactivate_created_access_key;
pub mod deactivate_user_access_keys;
pub mod quarantine_user;
pub mod revoke_role_sessions;
pub mod stop_instances;
pub mod terminate_instances;

use launchguard_core::contract::{Action, ResponseOutcome};
use launchguard_core::ids::IamEntity;

use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{AccessKeys, Ec2Ports, IamPorts, KeyStatus, Roles, Users};

/// Every action the library knows, in the contract's order.
pub static ALL: &[&Spec] = &[
    &deactivate_access_key::DEACTIVATE,
    &deactivate_access_key::REACTIVATE,
    &deactivate_created_access_key::DEACTIVATE_CREATED,
    &quarantine_user::QUARANTINE,
    &quarantine_user::RELEASE,
    &deactivate_user_access_keys::DEACTIVATE_ALL,
    &deactivate_user_access_keys::REACTIVATE_ALL,
    &revoke_role_sessions::REVOKE,
    &revoke_role_sessions::RESTORE,
    &stop_instances::STOP,
    &terminate_instances::TERMINATE,
    &stop_instances::START,
];

/// IAM's unique id of the user or role whose resources an action changes (`GetUser`'s `UserId`,
/// `GetRole`'s `RoleId`), reported in its outcome: the dispatcher's ledger files the containment
/// under it, so a rename never splits one principal into two targets. Looked up once the action
/// passed its checks (a refusal makes no IAM call):
/// - a containment (`quarantine_user`, `deactivate_user_access_keys`, `revoke_role_sessions`,
///   `stop_instances`, `terminate_instances`): its principal, by the name the action resolved;
/// - an access key action (`deactivate_access_key`, `deactivate_created_access_key`,
///   `reactivate_access_key`): the key's owner as IAM says (the key is its own target; the id
///   tells the ledger which user's every-key containment, under any name, still holds it);
/// - a reversal sent as a dry run: the principal IAM gives the name it names now, so that a
///   release can learn whose containment an entry without an id would undo before undoing it.
///   A reversal that acts reports none (it is filed under the entry it reverses).
///
/// A bound action reports its bound id (the handler checked IAM gives it before acting). When IAM
/// does not answer, a containment's outcome says so in a warning and the ledger files it by name
/// only (a release hands such an entry to a person unless IAM answers then).
async fn report_principal_id<I: Users + Roles + AccessKeys>(iam: &I, dry_run: bool, mut o: ResponseOutcome) -> ResponseOutcome {
    let (entity, name) = match &o.action {
        Action::QuarantineUser { user_name, .. } | Action::DeactivateUserAccessKeys { user_name, .. } => {
            (IamEntity::User, user_name.clone())
        }
        Action::RevokeRoleSessions { role_name, .. } => (IamEntity::Role, role_name.clone()),
        Action::StopInstances { .. } | Action::TerminateInstances { .. } => match o.action.instances_principal() {
            Some(p) => (p.entity, p.name),
            None => return o,
        },
        Action::DeactivateAccessKey { access_key_id, .. }
        | Action::DeactivateCreatedAccessKey { access_key_id, .. }
        | Action::ReactivateAccessKey { access_key_id, .. } => {
            if let Some(b) = o.action.bound() {
                o.principal_id = Some(b.principal_id.clone());
                return o;
            }
            let owner = match key_owner_reported(&o) {
                Some(u) => Some(u),
                None => iam.key_owner(access_key_id).await.ok().flatten(),
            };
            // no warning when IAM does not answer: a key is its own target, and a release asks
            // again before it reactivates the key
            if let Some(owner) = owner {
                o.principal_id = iam.user_id(&owner).await.ok().flatten();
            }
            return o;
        }
        Action::ReleaseUserQuarantine { user_name, .. } | Action::ReactivateUserAccessKeys { user_name, .. } if dry_run => {
            if let Ok(Some(id)) = iam.user_id(user_name).await {
                o.principal_id = Some(id);
            }
            return o;
        }
        Action::RestoreRoleSessions { role_name, .. } if dry_run => {
            if let Ok(Some(id)) = iam.role_id(role_name).await {
                o.principal_id = Some(id);
            }
            return o;
        }
        Action::StartInstances { .. } if dry_run => {
            let id = match o.action.instances_principal() {
                Some(p) if p.entity == IamEntity::User => iam.user_id(&p.name).await,
                Some(p) => iam.role_id(&p.name).await,
                None => return o,
            };
            if let Ok(Some(id)) = id {
                o.principal_id = Some(id);
            }
            return o;
        }
        Action::ReleaseUserQuarantine { .. }
        | Action::ReactivateUserAccessKeys { .. }
        | Action::RestoreRoleSessions { .. }
        | Action::StartInstances { .. } => return o,
    };
    // bound to the id CloudTrail confirmed: the handler checked IAM gives it before acting
    if let Some(b) = o.action.bound() {
        o.principal_id = Some(b.principal_id.clone());
        return o;
    }
    let id = match entity {
        IamEntity::User => iam.user_id(&name).await,
        IamEntity::Role => iam.role_id(&name).await,
    };
    match id {
        Ok(Some(id)) => o.principal_id = Some(id),
        Ok(None) => o.warnings.push(format!(
            "IAM knows no {} {name} any more (renamed or deleted right after the action): its unique id is unknown, so launchguard's ledger knows this containment by the name only, and a release by principal under another name may not see it",
            if entity == IamEntity::User { "user" } else { "role" }
        )),
        Err(e) => o.warnings.push(format!(
            "IAM did not give the unique id of {name} ({}): launchguard's ledger knows this containment by the name only, so a release of a finding that named it otherwise may not see it",
            e.message
        )),
    }
    o
}

/// The key's owner as the access key handler reported it in the outcome's reversal (the user IAM
/// listed the key under when it acted).
fn key_owner_reported(o: &ResponseOutcome) -> Option<String> {
    match &o.reversal {
        Some(Action::ReactivateAccessKey { user_name: Some(u), .. } | Action::DeactivateAccessKey { user_name: Some(u), .. }) => {
            Some(u.clone())
        }
        _ => None,
    }
}

/// Run the request's action (the function serves it: the envelope checked), reporting IAM's
/// unique id of the principal a containment changes ([`report_principal_id`]).
pub(crate) async fn act<I: IamPorts>(ctx: &Ctx<'_>, iam: &I) -> Result<ResponseOutcome, Stop> {
    let o = act_on(ctx, iam).await?;
    Ok(report_principal_id(iam, ctx.dry_run(), o).await)
}

async fn act_on<I: IamPorts>(ctx: &Ctx<'_>, iam: &I) -> Result<ResponseOutcome, Stop> {
    use deactivate_access_key::Key;
    use quarantine_user::User;
    use revoke_role_sessions::Role;
    match &ctx.req.action {
        Action::DeactivateAccessKey { account_id, access_key_id, user_name, bound } => {
            let bound_id = bound.as_ref().map(|b| b.principal_id.as_str());
            let k = Key { account_id, id: access_key_id, user_name: user_name.as_deref(), created_at: None, bound_id };
            deactivate_access_key::set_status(ctx, iam, &k, KeyStatus::Inactive).await
        }
        Action::DeactivateCreatedAccessKey { account_id, access_key_id, user_name, created_at, .. } => {
            // IAM's owner, not the record's name: a rename after the call must not save the key
            let k = Key { account_id, id: access_key_id, user_name: None, created_at: Some(*created_at), bound_id: None };
            let mut o = deactivate_access_key::set_status(ctx, iam, &k, KeyStatus::Inactive).await?;
            let owner = match &o.reversal {
                Some(Action::ReactivateAccessKey { user_name: Some(owner), .. }) => Some(owner.clone()),
                _ => None,
            };
            if let Some(owner) = owner.filter(|owner| !owner.eq_ignore_ascii_case(user_name)) {
                o.detail.push_str(&format!(" (the CreateAccessKey call created it for {user_name}; IAM names its user {owner} now)"));
            }
            Ok(o)
        }
        Action::ReactivateAccessKey { account_id, access_key_id, user_name } => {
            // whoever IAM says owns the key now (a rename does not change the key's user)
            crate::self_release::check(ctx, iam, account_id, IamEntity::User, async { Ok::<_, Stop>(iam.key_owner(access_key_id).await?) })
                .await?;
            let k = Key { account_id, id: access_key_id, user_name: user_name.as_deref(), created_at: None, bound_id: None };
            deactivate_access_key::set_status(ctx, iam, &k, KeyStatus::Active).await
        }
        Action::QuarantineUser { account_id, user_arn, user_name, bound } => {
            // the user CloudTrail confirmed, under the name IAM gives it now
            let (arn, name) = crate::resolve::bound_user(ctx, iam, account_id, user_arn, user_name, bound.as_ref()).await?;
            let mut o = quarantine_user::quarantine(ctx, iam, account_id, &arn, &name).await?;
            if !name.eq_ignore_ascii_case(user_name) {
                o.detail.push_str(&format!(" (the finding named it {user_name}; IAM names the same user, by its unique id, {name} now)"));
            }
            Ok(o)
        }
        // What to detach is read from IAM: the command's `previous_document` is never written
        // and its `guard_only` never believed (issue 32).
        Action::ReleaseUserQuarantine { account_id, user_arn, user_name, policy_arn, .. } => {
            crate::self_release::check(ctx, iam, account_id, IamEntity::User, async { Ok::<_, Stop>(Some(user_name.clone())) }).await?;
            crate::resolve::check_principal_id(ctx, iam, IamEntity::User, user_name).await?;
            if let Some(p) = policy_arn.as_deref().filter(|p| *p != ctx.cfg.quarantine_policy_arn) {
                return Err(Stop::Refuse(format!(
                    "{p} is not the quarantine policy ({}): launchguard only detaches what it attached",
                    ctx.cfg.quarantine_policy_arn
                )));
            }
            quarantine_user::release(ctx, iam, &User { account_id, arn: user_arn, name: user_name }).await
        }
        Action::DeactivateUserAccessKeys { account_id, user_arn, user_name, used_keys, bound } => {
            // the user CloudTrail confirmed, under the name IAM gives it now, as the quarantine it
            // replaces found it: a rename after the burst must not save the user's other keys
            let (arn, name) = crate::resolve::bound_user(ctx, iam, account_id, user_arn, user_name, bound.as_ref()).await?;
            let u = User { account_id, arn: &arn, name: &name };
            let used = if bound.is_some() { None } else { Some(used_keys.as_slice()) };
            let mut o = deactivate_user_access_keys::deactivate_all(ctx, iam, &u, used).await?;
            if !name.eq_ignore_ascii_case(user_name) {
                o.detail.push_str(&format!(" (the finding named it {user_name}; IAM names the same user, by its unique id, {name} now)"));
            }
            Ok(o)
        }
        // Each key is reactivated only while IAM lists it under the user whose unique id the
        // containment was filed under (a renamed user is still itself; a reused name is not).
        Action::ReactivateUserAccessKeys { account_id, user_arn, user_name, access_key_ids } => {
            crate::self_release::check(ctx, iam, account_id, IamEntity::User, async { Ok::<_, Stop>(Some(user_name.clone())) }).await?;
            crate::resolve::check_principal_id(ctx, iam, IamEntity::User, user_name).await?;
            let u = User { account_id, arn: user_arn, name: user_name };
            deactivate_user_access_keys::reactivate(ctx, iam, &u, access_key_ids).await
        }
        Action::RevokeRoleSessions { account_id, role_arn, role_name, issued_before, bound, .. } => {
            let r = Role { account_id, arn: role_arn, name: role_name };
            revoke_role_sessions::revoke(ctx, iam, &r, *issued_before, bound.as_ref()).await
        }
        // The command's documents are never written: the restore detaches launchguard's policy.
        Action::RestoreRoleSessions { account_id, role_arn, role_name, .. } => {
            crate::self_release::check(ctx, iam, account_id, IamEntity::Role, async { Ok::<_, Stop>(Some(role_name.clone())) }).await?;
            crate::resolve::check_principal_id(ctx, iam, IamEntity::Role, role_name).await?;
            revoke_role_sessions::restore(ctx, iam, &Role { account_id, arn: role_arn, name: role_name }).await
        }
        Action::StopInstances { .. } | Action::TerminateInstances { .. } | Action::StartInstances { .. } => {
            Err(Stop::Refuse(format!("{} is an EC2 action: send it to launchguard-ec2-handler", ctx.req.action.name())))
        }
    }
}

/// Run the request's EC2 action (the function serves it: the envelope checked). `iam` resolves
/// the principal whose instances are acted on (`GetUser`, `GetRole`; a bound user through its key,
/// `GetAccessKeyLastUsed`) before anything else.
pub(crate) async fn act_ec2<E: Ec2Ports, I: Users + Roles + AccessKeys>(ctx: &Ctx<'_>, ec2: &E, iam: &I) -> Result<ResponseOutcome, Stop> {
    let o = act_ec2_on(ctx, ec2, iam).await?;
    Ok(report_principal_id(iam, ctx.dry_run(), o).await)
}

async fn act_ec2_on<E: Ec2Ports, I: Users + Roles + AccessKeys>(ctx: &Ctx<'_>, ec2: &E, iam: &I) -> Result<ResponseOutcome, Stop> {
    use stop_instances::Set;
    match &ctx.req.action {
        Action::StopInstances { account_id, region, principal_arn, instances, bound } => {
            stop_instances::stop(ctx, ec2, iam, &Set { account_id, region, principal_arn, instances, bound: bound.as_ref() }).await
        }
        Action::TerminateInstances { account_id, region, principal_arn, instances, bound } => {
            let set = Set { account_id, region, principal_arn, instances, bound: bound.as_ref() };
            terminate_instances::terminate(ctx, ec2, iam, &set).await
        }
        Action::StartInstances { account_id, region, incident, instance_ids, .. } => {
            if let Some(p) = ctx.req.action.instances_principal() {
                crate::self_release::check(ctx, iam, account_id, p.entity, async { Ok::<_, Stop>(Some(p.name.clone())) }).await?;
                crate::resolve::check_principal_id(ctx, iam, p.entity, &p.name).await?;
            }
            stop_instances::start(ctx, ec2, account_id, region, incident, instance_ids).await
        }
        other => Err(Stop::Refuse(format!("{} is not an EC2 action", other.name()))),
    }
}
