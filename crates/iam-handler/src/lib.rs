//! launchguard-iam-handler: restricts a principal reversibly, never removing what it has.
//!
//! - **Quarantine a user**: attach the managed deny policy (default
//!   `AWSCompromisedKeyQuarantineV3`); when it cannot be attached (the 10-managed-policy limit, a
//!   partition without it) put the inline deny policy `launchguard-quarantine` instead. Existing
//!   policies are never detached or deleted.
//! - **Revoke a role's sessions**: put the inline role policy `launchguard-revoke-sessions`,
//!   denying everything to sessions with `aws:TokenIssueTime` before the given instant. A later
//!   request moves the instant forward, never back. Service-linked roles are refused.
//! - **Reversals** remove exactly what launchguard added: the quarantine policy it attached (and
//!   no other), its own inline policies.
//!
//! Only commands sealed by the dispatcher are executed, each request id once
//! (`launchguard_aws::command`). Every refusal (account, protected principal, malformed ARN, name/ARN mismatch) happens before
//! any IAM write; the user or role is resolved through IAM and checked on its real ARN.

pub mod aws;

use std::future::Future;

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::command::{self, Admission, CommandGate, GateError};
use launchguard_aws::mac::MacVerifier;
use launchguard_aws::store::ConditionalStore;
use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::guard::Guard;
use launchguard_core::ids::{IamArn, IamEntity, validate_account_id};
use launchguard_core::policy::{
    DEFAULT_QUARANTINE_POLICY_ARN, QUARANTINE_INLINE_POLICY, REVOKE_SESSIONS_POLICY, quarantine_document, revoke_sessions_document,
    revoked_before,
};
use launchguard_core::principal::is_service_linked_role;
use launchguard_core::time::format_utc;
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
    let req = match command::admit(&cfg.gate, kms, store, payload, now).await.map_err(HandlerError::Gate)? {
        Admission::Answered(previous) => {
            info!(finding_id = %previous.finding_id, request_id = %previous.request_id, outcome = previous.outcome.name(),
                "request executed before: answered from its record, not executed again");
            return Ok(previous);
        }
        Admission::Execute(req) => req,
    };
    let outcome = command::remember(store, &req, respond(&req, cfg, iam, now).await).await;
    info!(finding_id = %outcome.finding_id, request_id = %outcome.request_id, action = outcome.action.name(),
        target = %outcome.action.target(), outcome = outcome.outcome.name(), detail = %outcome.detail, "iam outcome");
    Ok(outcome)
}

/// What went wrong before acting: refuse, or report a failed call.
enum Stop {
    Refuse(String),
    Fail(CallError),
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Self {
        Self::Fail(e)
    }
}

struct Ctx<'a> {
    req: &'a ResponseRequest,
    cfg: &'a Config,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn dry_run(&self) -> bool {
        self.req.dry_run || self.cfg.dry_run
    }

    fn outcome(&self, status: OutcomeStatus, detail: String) -> ResponseOutcome {
        ResponseOutcome::for_request(self.req, HANDLER, status, detail, self.now)
    }

    fn applied(&self, detail: String, undo: String, reversal: Option<Action>) -> ResponseOutcome {
        let mut o = self.outcome(OutcomeStatus::Applied, detail);
        o.undo = Some(undo);
        o.reversal = reversal;
        o
    }
}

/// Decide and act for one parsed request.
pub async fn respond<I: UserPolicies + RolePolicies>(req: &ResponseRequest, cfg: &Config, iam: &I, now: DateTime<Utc>) -> ResponseOutcome {
    let ctx = Ctx { req, cfg, now };
    let result = match &req.action {
        Action::QuarantineUser { account_id, user_arn, user_name } => quarantine(&ctx, iam, account_id, user_arn, user_name).await,
        Action::ReleaseUserQuarantine { account_id, user_arn, user_name, policy_arn } => {
            release_quarantine(&ctx, iam, account_id, user_arn, user_name, policy_arn.as_deref()).await
        }
        Action::RevokeRoleSessions { account_id, role_arn, role_name, issued_before, covers_activity_until } => {
            revoke(&ctx, iam, account_id, role_arn, role_name, *issued_before, *covers_activity_until).await
        }
        Action::RestoreRoleSessions { account_id, role_arn, role_name } => restore(&ctx, iam, account_id, role_arn, role_name).await,
        other => Err(Stop::Refuse(format!("{} is not an IAM policy action; send it to launchguard-accesskey-handler", other.name()))),
    };
    match result {
        Ok(o) => o,
        Err(Stop::Refuse(reason)) => ResponseOutcome::refused(req, HANDLER, reason, now),
        Err(Stop::Fail(e)) => ResponseOutcome::failed(req, HANDLER, e.message.clone(), e.retryable, now),
    }
}

/// Check the request's ARN and name against each other, the account and the guard, then resolve
/// the real ARN through IAM and check that too. Returns the real ARN.
async fn resolve(
    ctx: &Ctx<'_>,
    account_id: &str,
    arn: &str,
    name: &str,
    entity: IamEntity,
    real: impl Future<Output = Result<Option<String>, CallError>>,
) -> Result<String, Stop> {
    validate_account_id(account_id).map_err(|e| Stop::Refuse(e.to_string()))?;
    ctx.cfg.guard.check_account(account_id).map_err(Stop::Refuse)?;
    let parsed = IamArn::parse(arn).map_err(|e| Stop::Refuse(e.to_string()))?;
    let kind = if entity == IamEntity::User { "user" } else { "role" };
    if parsed.entity != entity {
        return Err(Stop::Refuse(format!("{arn} is not a {kind} ARN")));
    }
    if parsed.name != name || parsed.account_id != account_id {
        return Err(Stop::Refuse(format!("{arn} does not name {kind} {name} in account {account_id}")));
    }
    if entity == IamEntity::Role && is_service_linked_role(arn, name) {
        return Err(Stop::Refuse(format!("{arn} is a service-linked role: AWS manages it, launchguard never changes it")));
    }
    ctx.cfg.guard.check_principal(arn).map_err(Stop::Refuse)?;
    let real = real.await?.ok_or_else(|| Stop::Refuse(format!("{kind} {name} does not exist in account {account_id}")))?;
    let real_parsed = IamArn::parse(&real).map_err(|e| Stop::Refuse(format!("IAM returned an unexpected ARN: {e}")))?;
    if real_parsed.name != name || real_parsed.account_id != account_id || real_parsed.entity != entity {
        return Err(Stop::Refuse(format!("IAM says {kind} {name} is {real}, which does not match {arn}")));
    }
    if parsed.path != "/" && parsed.path != real_parsed.path {
        return Err(Stop::Refuse(format!("{arn} has path {}, but the {kind} is {real}", parsed.path)));
    }
    if entity == IamEntity::Role && is_service_linked_role(&real, name) {
        return Err(Stop::Refuse(format!("{real} is a service-linked role: AWS manages it, launchguard never changes it")));
    }
    ctx.cfg.guard.check_principal(&real).map_err(Stop::Refuse)?;
    Ok(real)
}

async fn quarantine<I: UserPolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    user_arn: &str,
    user: &str,
) -> Result<ResponseOutcome, Stop> {
    let real = resolve(ctx, account_id, user_arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let policy = ctx.cfg.quarantine_policy_arn.as_str();
    let attached = iam.attached_user_policies(user).await?;
    if attached.iter().any(|p| p == policy) {
        return Ok(ctx.outcome(OutcomeStatus::AlreadyApplied, format!("user {user} already has {policy} attached")));
    }
    if iam.user_inline_policy(user, QUARANTINE_INLINE_POLICY).await?.is_some() {
        return Ok(
            ctx.outcome(OutcomeStatus::AlreadyApplied, format!("user {user} already has the inline policy {QUARANTINE_INLINE_POLICY}"))
        );
    }
    if ctx.dry_run() {
        return Ok(ctx.outcome(
            OutcomeStatus::DryRun,
            format!("dry run: would attach {policy} to {real} (inline {QUARANTINE_INLINE_POLICY} if it cannot be attached); its {} attached policies untouched", attached.len()),
        ));
    }
    let release = |policy_arn: Option<String>| Action::ReleaseUserQuarantine {
        account_id: account_id.to_owned(),
        user_arn: real.clone(),
        user_name: user.to_owned(),
        policy_arn,
    };
    match iam.attach_user_policy(user, policy).await {
        Ok(()) => Ok(ctx.applied(
            format!("attached {policy} to {real}; its {} other attached policies and its inline policies untouched", attached.len()),
            format!("aws iam detach-user-policy --user-name {user} --policy-arn {policy}"),
            Some(release(Some(policy.to_owned()))),
        )),
        // The 10-policy limit, or a partition/emulator without the managed policy: inline instead.
        Err(e) if matches!(e.code.as_deref(), Some("LimitExceeded" | "NoSuchEntity" | "PolicyNotAttachable")) => {
            iam.put_user_policy(user, QUARANTINE_INLINE_POLICY, &quarantine_document()).await?;
            Ok(ctx.applied(
                format!("could not attach {policy} ({}); put the inline deny-all policy {QUARANTINE_INLINE_POLICY} on {real} instead; nothing else touched", e.message),
                format!("aws iam delete-user-policy --user-name {user} --policy-name {QUARANTINE_INLINE_POLICY}"),
                Some(release(None)),
            ))
        }
        Err(e) => Err(Stop::Fail(e)),
    }
}

async fn release_quarantine<I: UserPolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    user_arn: &str,
    user: &str,
    policy_arn: Option<&str>,
) -> Result<ResponseOutcome, Stop> {
    let real = resolve(ctx, account_id, user_arn, user, IamEntity::User, iam.user_arn(user)).await?;
    match policy_arn {
        Some(p) => {
            if p != ctx.cfg.quarantine_policy_arn {
                return Err(Stop::Refuse(format!(
                    "{p} is not the quarantine policy ({}): launchguard only detaches what it attached",
                    ctx.cfg.quarantine_policy_arn
                )));
            }
            if !iam.attached_user_policies(user).await?.iter().any(|a| a == p) {
                return Ok(ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{p} is not attached to {user}")));
            }
            if ctx.dry_run() {
                return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would detach {p} from {real}")));
            }
            iam.detach_user_policy(user, p).await?;
            Ok(ctx.applied(
                format!("detached {p} from {real}; nothing else touched"),
                format!("aws iam attach-user-policy --user-name {user} --policy-arn {p}"),
                Some(Action::QuarantineUser { account_id: account_id.to_owned(), user_arn: real.clone(), user_name: user.to_owned() }),
            ))
        }
        None => {
            if iam.user_inline_policy(user, QUARANTINE_INLINE_POLICY).await?.is_none() {
                return Ok(ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{user} has no inline policy {QUARANTINE_INLINE_POLICY}")));
            }
            if ctx.dry_run() {
                return Ok(ctx.outcome(
                    OutcomeStatus::DryRun,
                    format!("dry run: would delete the inline policy {QUARANTINE_INLINE_POLICY} of {real}"),
                ));
            }
            iam.delete_user_policy(user, QUARANTINE_INLINE_POLICY).await?;
            Ok(ctx.applied(
                format!("deleted the inline policy {QUARANTINE_INLINE_POLICY} of {real}; nothing else touched"),
                "quarantine the user again if needed".into(),
                Some(Action::QuarantineUser { account_id: account_id.to_owned(), user_arn: real.clone(), user_name: user.to_owned() }),
            ))
        }
    }
}

async fn revoke<I: RolePolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    role_arn: &str,
    role: &str,
    before: DateTime<Utc>,
    covers: Option<DateTime<Utc>>,
) -> Result<ResponseOutcome, Stop> {
    if before > ctx.now + chrono::Duration::minutes(5) {
        return Err(Stop::Refuse(format!("issued_before {before} is in the future: that would also deny sessions not yet issued")));
    }
    let real = resolve(ctx, account_id, role_arn, role, IamEntity::Role, iam.role_arn(role)).await?;
    let existing = iam.role_inline_policy(role, REVOKE_SESSIONS_POLICY).await?;
    let existing_before = existing.as_deref().and_then(revoked_before);
    if let Some(t) = existing_before.filter(|t| *t >= before) {
        return Ok(ctx.outcome(
            OutcomeStatus::AlreadyApplied,
            format!("sessions of {real} issued before {t} are already revoked (never moved back)"),
        ));
    }
    if let (Some(t), Some(c)) = (existing_before, covers)
        && t > c
    {
        return Ok(ctx.outcome(
            OutcomeStatus::AlreadyApplied,
            format!(
                "sessions of {real} issued before {t} are already revoked: that covers every session active in this finding (last seen {c})"
            ),
        ));
    }
    if existing.is_some() && existing_before.is_none() {
        return Err(Stop::Refuse(format!(
            "{real} has an inline policy named {REVOKE_SESSIONS_POLICY} that launchguard did not write; not overwriting it"
        )));
    }
    let moved = existing_before.map(|t| format!(" (moved forward from {t})")).unwrap_or_default();
    if ctx.dry_run() {
        return Ok(ctx.outcome(
            OutcomeStatus::DryRun,
            format!("dry run: would deny sessions of {real} issued before {}{moved}", format_utc(before)),
        ));
    }
    iam.put_role_policy(role, REVOKE_SESSIONS_POLICY, &revoke_sessions_document(before)).await?;
    Ok(ctx.applied(
        format!(
            "sessions of {real} issued before {} are denied by the inline policy {REVOKE_SESSIONS_POLICY}{moved}; the role's other policies untouched",
            format_utc(before)
        ),
        format!("aws iam delete-role-policy --role-name {role} --policy-name {REVOKE_SESSIONS_POLICY}"),
        Some(Action::RestoreRoleSessions { account_id: account_id.to_owned(), role_arn: real.clone(), role_name: role.to_owned() }),
    ))
}

async fn restore<I: RolePolicies>(ctx: &Ctx<'_>, iam: &I, account_id: &str, role_arn: &str, role: &str) -> Result<ResponseOutcome, Stop> {
    let real = resolve(ctx, account_id, role_arn, role, IamEntity::Role, iam.role_arn(role)).await?;
    match iam.role_inline_policy(role, REVOKE_SESSIONS_POLICY).await? {
        None => Ok(ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{real} has no inline policy {REVOKE_SESSIONS_POLICY}"))),
        Some(doc) if revoked_before(&doc).is_none() => Err(Stop::Refuse(format!(
            "the inline policy {REVOKE_SESSIONS_POLICY} of {real} was not written by launchguard; not deleting it"
        ))),
        Some(_) if ctx.dry_run() => {
            Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would delete the inline policy {REVOKE_SESSIONS_POLICY} of {real}")))
        }
        Some(_) => {
            iam.delete_role_policy(role, REVOKE_SESSIONS_POLICY).await?;
            Ok(ctx.applied(
                format!("deleted the inline policy {REVOKE_SESSIONS_POLICY} of {real}: its sessions work again"),
                "revoke the role's sessions again if needed".into(),
                None,
            ))
        }
    }
}
