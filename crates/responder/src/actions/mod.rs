//! The responder actions, one file each, with its reversal beside it; this module maps each
//! contract action to its code.
//!
//! | contract action | file | spec |
//! |---|---|---|
//! | `deactivate_access_key`, reversal `reactivate_access_key` | `deactivate_access_key.rs` | [`deactivate_access_key::DEACTIVATE`], [`deactivate_access_key::REACTIVATE`] |
//! | `quarantine_user`, reversal `release_user_quarantine` | `quarantine_user.rs` | [`quarantine_user::QUARANTINE`], [`quarantine_user::RELEASE`] |
//! | `revoke_role_sessions`, reversal `restore_role_sessions` | `revoke_role_sessions.rs` | [`revoke_role_sessions::REVOKE`], [`revoke_role_sessions::RESTORE`] |
//!
//! A reversal lives in the file of the action it reverses: it must recognise exactly what that
//! action wrote (the status, the attachment, the document, `guard_only`), so the two change
//! together, and "where is the code that deactivates a key, and undoes it" has one answer.

pub mod deactivate_access_key;
pub mod quarantine_user;
pub mod revoke_role_sessions;

use launchguard_core::contract::{Action, ResponseOutcome};

use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{IamPorts, KeyStatus};

/// Every action the library knows, in the contract's order.
pub static ALL: &[&Spec] = &[
    &deactivate_access_key::DEACTIVATE,
    &deactivate_access_key::REACTIVATE,
    &quarantine_user::QUARANTINE,
    &quarantine_user::RELEASE,
    &revoke_role_sessions::REVOKE,
    &revoke_role_sessions::RESTORE,
];

/// Run the request's action (the function serves it: the envelope checked).
pub(crate) async fn act<I: IamPorts>(ctx: &Ctx<'_>, iam: &I) -> Result<ResponseOutcome, Stop> {
    use deactivate_access_key::Key;
    use quarantine_user::{Placed, User};
    use revoke_role_sessions::Role;
    match &ctx.req.action {
        Action::DeactivateAccessKey { account_id, access_key_id, user_name } => {
            let k = Key { account_id, id: access_key_id, user_name: user_name.as_deref() };
            deactivate_access_key::set_status(ctx, iam, &k, KeyStatus::Inactive).await
        }
        Action::ReactivateAccessKey { account_id, access_key_id, user_name } => {
            let k = Key { account_id, id: access_key_id, user_name: user_name.as_deref() };
            deactivate_access_key::set_status(ctx, iam, &k, KeyStatus::Active).await
        }
        Action::QuarantineUser { account_id, user_arn, user_name } => {
            quarantine_user::quarantine(ctx, iam, account_id, user_arn, user_name).await
        }
        Action::ReleaseUserQuarantine { account_id, user_arn, user_name, policy_arn, previous_document, guard_only } => {
            let u = User { account_id, arn: user_arn, name: user_name };
            let what = match (policy_arn.as_deref(), *guard_only) {
                (Some(p), false) => Placed::Attached(p),
                (Some(p), true) => Placed::GuardBeside(p),
                (None, _) => Placed::Inline,
            };
            quarantine_user::release(ctx, iam, &u, what, previous_document.as_deref()).await
        }
        Action::RevokeRoleSessions { account_id, role_arn, role_name, issued_before, covers_activity_until } => {
            let r = Role { account_id, arn: role_arn, name: role_name };
            revoke_role_sessions::revoke(ctx, iam, &r, *issued_before, *covers_activity_until).await
        }
        Action::RestoreRoleSessions { account_id, role_arn, role_name, written_document, previous_document } => {
            let r = Role { account_id, arn: role_arn, name: role_name };
            revoke_role_sessions::restore(ctx, iam, &r, written_document.as_deref(), previous_document.as_deref()).await
        }
        Action::StopInstances { .. } | Action::TerminateInstances { .. } | Action::StartInstances { .. } => {
            Err(Stop::Refuse(format!("{} is an EC2 action: this library does not serve it yet", ctx.req.action.name())))
        }
    }
}
