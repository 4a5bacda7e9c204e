//! Revoke a role's sessions, and its reversal: restore them, undoing exactly that.
//!
//! What: attach the stack's deny-all managed policy `launchguard-revoke-sessions`
//! (`policies/containment/`) to the role: every session of the role is denied everything, those
//! issued before the cut-off and any new one, until a person releases it. Why this way: the
//! handler's role may attach and detach only that policy (`iam:PolicyARN`), never write a
//! document, so no command and no changed function can give a role a permission (issue 32).
//!
//! What it costs: the console's "revoke active sessions" writes an inline document with the
//! request's `aws:TokenIssueTime` cut-off, which needs `iam:PutRolePolicy` on every role, i.e. a
//! role that can write any policy. A managed policy's document is fixed when the stack is made,
//! so the cut-off cannot be per request: new sessions of the role are denied too, and whatever
//! runs as the role (instances, functions, pipelines) stops working until the release. The
//! request's `issued_before` is reported, not enforced.
//!
//! Checks: a cut-off more than 5 minutes in the future is refused; the role is resolved through
//! IAM and checked on its real ARN (`crate::resolve`; service-linked roles are refused); a
//! revocation bound to the `RoleId` CloudTrail confirmed is refused when `GetRole` gives the name
//! another id (`crate::resolve::check_role_id`: a role deleted and made again under the name). Already
//! there (the policy attached): `already_applied`, carrying the reversal. The reversal
//! (`restore_role_sessions`) detaches that policy and nothing else; the command's
//! `written_document` and `previous_document` are never written.

use chrono::{DateTime, Utc};
use launchguard_core::contract::{Action, BoundPrincipal, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::IamEntity;
use launchguard_core::policy::{Containment, partition_of};
use launchguard_core::time::format_utc;

use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{RoleManagedPolicies, Roles};
use crate::resolve::{check_role_id, resolve};

/// `revoke_role_sessions`.
pub static REVOKE: Spec = Spec {
    name: "revoke_role_sessions",
    reverses: None,
    permissions: &["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:AttachRolePolicy"],
    settings: &[],
};

/// `restore_role_sessions`: the reversal of [`REVOKE`].
pub static RESTORE: Spec = Spec {
    name: "restore_role_sessions",
    reverses: Some("revoke_role_sessions"),
    permissions: &["iam:GetRole", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy"],
    settings: &[],
};

/// The role an action names.
pub(crate) struct Role<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) arn: &'a str,
    pub(crate) name: &'a str,
}

pub(crate) async fn revoke<I: Roles + RoleManagedPolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    r: &Role<'_>,
    before: DateTime<Utc>,
    bound: Option<&BoundPrincipal>,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, role) = (r.account_id, r.name);
    if before > ctx.now + chrono::Duration::minutes(5) {
        return Err(Stop::Refuse(format!("issued_before {before} is in the future: that would also deny sessions not yet issued")));
    }
    let real = resolve(ctx, account_id, r.arn, role, IamEntity::Role, iam.role_arn(role)).await?;
    check_role_id(iam, role, bound).await?;
    let policy = Containment::RoleSessions.arn(partition_of(&real), account_id);
    let restore = || Action::RestoreRoleSessions {
        account_id: account_id.to_owned(),
        role_arn: real.clone(),
        role_name: role.to_owned(),
        written_document: None,
        previous_document: None,
    };
    if iam.attached_role_policies(role).await?.contains(&policy) {
        return Ok(ctx.already(format!("every session of {real} is already denied by {policy}"), restore()));
    }
    if ctx.dry_run() {
        return Ok(ctx.outcome(
            OutcomeStatus::DryRun,
            format!(
                "dry run: would attach {policy} to {real}, denying every session (those issued before {} and any new one)",
                format_utc(before)
            ),
        ));
    }
    iam.attach_role_policy(role, &policy).await?;
    Ok(ctx.applied(
        format!(
            "every session of {real} is denied by {policy} (those issued before {} and any new one, until the release); the role's other policies untouched",
            format_utc(before)
        ),
        format!("aws iam detach-role-policy --role-name {role} --policy-arn {policy}"),
        Some(restore()),
    ))
}

pub(crate) async fn restore<I: Roles + RoleManagedPolicies>(ctx: &Ctx<'_>, iam: &I, r: &Role<'_>) -> Result<ResponseOutcome, Stop> {
    let (account_id, role) = (r.account_id, r.name);
    let real = resolve(ctx, account_id, r.arn, role, IamEntity::Role, iam.role_arn(role)).await?;
    let policy = Containment::RoleSessions.arn(partition_of(&real), account_id);
    if !iam.attached_role_policies(role).await?.contains(&policy) {
        return Ok(ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{policy} is not attached to {real}: nothing to undo")));
    }
    let what = format!("detached {policy} from {real}: its sessions work again");
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would have {what}")));
    }
    iam.detach_role_policy(role, &policy).await?;
    Ok(ctx.applied(what, "revoke the role's sessions again if needed".into(), None))
}
