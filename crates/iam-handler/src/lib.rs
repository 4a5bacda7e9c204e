//! launchguard-iam-handler: restricts a principal reversibly, never removing what it has.
//!
//! - **Quarantine a user**: attach the managed deny policy (default
//!   `AWSCompromisedKeyQuarantineV3`); when it cannot be attached (the 10-managed-policy limit, a
//!   partition without it) put the inline deny policy `launchguard-quarantine` instead. Existing
//!   policies are never detached or deleted.
//! - **Revoke a role's sessions**: put the inline role policy `launchguard-revoke-sessions`,
//!   denying everything to sessions with `aws:TokenIssueTime` before the given instant. A later
//!   request moves the instant forward, never back. Service-linked roles are refused.
//! - **Exact documents**: launchguard's inline policies are recognised by their exact document,
//!   never by their name. A same-named policy with another document is overwritten (its document
//!   kept in the reversal) and reported as a warning; it is never "already applied".
//! - **Reversals** undo exactly what launchguard wrote, and only while IAM still holds it: the
//!   quarantine policy it attached (and no other); its inline documents, replaced by what was there
//!   before, or removed when launchguard created them.
//!
//! Only commands sealed by the dispatcher are executed, each request id once
//! (`launchguard_aws::command`). Every refusal (account, protected principal, malformed ARN, name/ARN mismatch) happens before
//! any IAM write; the user or role is resolved through IAM and checked on its real ARN.

pub mod aws;
mod quarantine;
mod resolve;
mod revoke;

use std::future::Future;

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::command::{self, CommandGate, GateError};
use launchguard_aws::mac::MacVerifier;
use launchguard_aws::store::ConditionalStore;
use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::guard::Guard;
use launchguard_core::policy::DEFAULT_QUARANTINE_POLICY_ARN;
use thiserror::Error;
use tracing::info;

/// This handler's name in outcomes.
pub const HANDLER: &str = "launchguard-iam-handler";

/// The AWS actions this handler calls (checked against `policies/` by the tests).
pub const AWS_ACTIONS: &[&str] = &[
    "iam:GetUser",
    "iam:ListAttachedUserPolicies",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
    "iam:GetUserPolicy",
    "iam:PutUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "kms:VerifyMac",
    "s3:GetObject",
    "s3:PutObject",
];

/// Errors that stop the handler before it can answer with an outcome.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// Not a command the dispatcher sealed, stale, or KMS / the replay record unreachable:
    /// nothing was done.
    #[error(transparent)]
    Gate(GateError),
    /// Bad configuration.
    #[error(transparent)]
    Config(CoreError),
}

impl HandlerError {
    /// Whether the sender should try again (KMS or the replay record briefly unreachable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Gate(g) if g.is_retryable())
    }
}

/// Configuration, read once.
#[derive(Debug, Clone)]
pub struct Config {
    /// Account and protected principals.
    pub guard: Guard,
    /// `DRY_RUN`.
    pub dry_run: bool,
    /// `QUARANTINE_POLICY_ARN` (default `arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3`).
    pub quarantine_policy_arn: String,
    /// `COMMAND_KEY_ID`, `LG_MAX_COMMAND_AGE_SECONDS`: only sealed, fresh commands are executed.
    pub gate: CommandGate,
}

impl Config {
    /// From the environment and the function's own identity.
    pub fn from_env(env: &dyn Env, own_account: &str, own_role: &str) -> Result<Self, HandlerError> {
        let policy = env.get("QUARANTINE_POLICY_ARN").unwrap_or_else(|| DEFAULT_QUARANTINE_POLICY_ARN.to_owned());
        if !policy.starts_with("arn:") || !policy.contains(":policy/") {
            return Err(HandlerError::Config(CoreError::Config {
                name: "QUARANTINE_POLICY_ARN".into(),
                problem: format!("is {policy:?}: expected a managed policy ARN such as {DEFAULT_QUARANTINE_POLICY_ARN}"),
            }));
        }
        Ok(Self {
            guard: config::guard(env, own_account, own_role).map_err(HandlerError::Config)?,
            dry_run: config::bool_var(env, "DRY_RUN", false).map_err(HandlerError::Config)?,
            quarantine_policy_arn: policy,
            gate: CommandGate::from_env(env).map_err(HandlerError::Config)?,
        })
    }
}

/// IAM calls on users.
pub trait UserPolicies: Send + Sync {
    /// `GetUser`: the user's real ARN, `None` if there is no such user.
    fn user_arn(&self, user: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `ListAttachedUserPolicies`: managed policy ARNs.
    fn attached_user_policies(&self, user: &str) -> impl Future<Output = Result<Vec<String>, CallError>> + Send;
    /// `AttachUserPolicy`.
    fn attach_user_policy(&self, user: &str, policy_arn: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `DetachUserPolicy`.
    fn detach_user_policy(&self, user: &str, policy_arn: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `GetUserPolicy`: the document, `None` if there is no such inline policy.
    fn user_inline_policy(&self, user: &str, name: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `PutUserPolicy`.
    fn put_user_policy(&self, user: &str, name: &str, document: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `DeleteUserPolicy`.
    fn delete_user_policy(&self, user: &str, name: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// IAM calls on roles.
pub trait RolePolicies: Send + Sync {
    /// `GetRole`: the role's real ARN, `None` if there is no such role.
    fn role_arn(&self, role: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `GetRolePolicy`: the document, `None` if there is no such inline policy.
    fn role_inline_policy(&self, role: &str, name: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `PutRolePolicy`.
    fn put_role_policy(&self, role: &str, name: &str, document: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `DeleteRolePolicy`.
    fn delete_role_policy(&self, role: &str, name: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// Handle one raw payload: a command sealed by the dispatcher (see `launchguard_aws::command`).
/// Anything not sealed with the command key, stale or invalid is an error and nothing is done;
/// a request id executed before is answered from its record.
pub async fn handle<I: UserPolicies + RolePolicies, V: MacVerifier, S: ConditionalStore>(
    payload: &[u8],
    cfg: &Config,
    iam: &I,
    kms: &V,
    store: &S,
    now: DateTime<Utc>,
) -> Result<ResponseOutcome, HandlerError> {
    let outcome = command::serve(&cfg.gate, kms, store, payload, now, |req| async move { respond(&req, cfg, iam, now).await })
        .await
        .map_err(HandlerError::Gate)?;
    info!(finding_id = %outcome.finding_id, request_id = %outcome.request_id, action = outcome.action.name(),
        target = %outcome.action.target(), outcome = outcome.outcome.name(), detail = %outcome.detail, "iam outcome");
    Ok(outcome)
}

/// What went wrong before acting: refuse, or report a failed call.
pub(crate) enum Stop {
    Refuse(String),
    Fail(CallError),
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Self {
        Self::Fail(e)
    }
}

pub(crate) struct Ctx<'a> {
    pub(crate) req: &'a ResponseRequest,
    pub(crate) cfg: &'a Config,
    pub(crate) now: DateTime<Utc>,
}

impl Ctx<'_> {
    pub(crate) fn dry_run(&self) -> bool {
        self.req.dry_run || self.cfg.dry_run
    }

    pub(crate) fn outcome(&self, status: OutcomeStatus, detail: String) -> ResponseOutcome {
        ResponseOutcome::for_request(self.req, HANDLER, status, detail, self.now)
    }

    pub(crate) fn applied(&self, detail: String, undo: String, reversal: Option<Action>) -> ResponseOutcome {
        let mut o = self.outcome(OutcomeStatus::Applied, detail);
        o.undo = Some(undo);
        o.reversal = reversal;
        o
    }

    /// `already_applied`, still carrying the reversal of launchguard's change (a retried request
    /// must learn it; the dispatcher's ledger decides whether launchguard made the change).
    pub(crate) fn already(&self, detail: String, reversal: Action) -> ResponseOutcome {
        let mut o = self.outcome(OutcomeStatus::AlreadyApplied, detail);
        o.reversal = Some(reversal);
        o
    }
}

/// Decide and act for one parsed request.
pub async fn respond<I: UserPolicies + RolePolicies>(req: &ResponseRequest, cfg: &Config, iam: &I, now: DateTime<Utc>) -> ResponseOutcome {
    let ctx = Ctx { req, cfg, now };
    let result = match &req.action {
        Action::QuarantineUser { account_id, user_arn, user_name } => {
            quarantine::quarantine(&ctx, iam, account_id, user_arn, user_name).await
        }
        Action::ReleaseUserQuarantine { account_id, user_arn, user_name, policy_arn, previous_document, guard_only } => {
            let u = quarantine::User { account_id, arn: user_arn, name: user_name };
            let what = match (policy_arn.as_deref(), *guard_only) {
                (Some(p), false) => quarantine::Placed::Attached(p),
                (Some(p), true) => quarantine::Placed::GuardBeside(p),
                (None, _) => quarantine::Placed::Inline,
            };
            quarantine::release(&ctx, iam, &u, what, previous_document.as_deref()).await
        }
        Action::RevokeRoleSessions { account_id, role_arn, role_name, issued_before, covers_activity_until } => {
            let r = revoke::Role { account_id, arn: role_arn, name: role_name };
            revoke::revoke(&ctx, iam, &r, *issued_before, *covers_activity_until).await
        }
        Action::RestoreRoleSessions { account_id, role_arn, role_name, written_document, previous_document } => {
            let r = revoke::Role { account_id, arn: role_arn, name: role_name };
            revoke::restore(&ctx, iam, &r, written_document.as_deref(), previous_document.as_deref()).await
        }
        other => Err(Stop::Refuse(format!("{} is not an IAM policy action; send it to launchguard-accesskey-handler", other.name()))),
    };
    match result {
        Ok(o) => o,
        Err(Stop::Refuse(reason)) => ResponseOutcome::refused(req, HANDLER, reason, now),
        Err(Stop::Fail(e)) => ResponseOutcome::failed(req, HANDLER, e.message.clone(), e.retryable, now),
    }
}
