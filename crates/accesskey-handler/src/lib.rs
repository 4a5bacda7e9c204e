//! launchguard-accesskey-handler: deactivates exactly one IAM access key, reversibly.
//!
//! Rules, in the order they are checked (every refusal happens before any IAM write):
//! 0. the payload is a command sealed by the dispatcher with the command key, fresh, and not
//!    executed before (`launchguard_aws::command`); a replay is answered from its record;
//! 1. the payload is a valid `response_request` for this handler's actions;
//! 2. the account is the function's own (or listed in `ALLOWED_ACCOUNTS`);
//! 3. the key id is well formed and long-term (`AKIA`): `ASIA` keys belong to STS sessions;
//! 4. the key's owner is resolved (`GetAccessKeyLastUsed`) when not given, and the key is
//!    verified to belong to that user (`ListAccessKeys`);
//! 5. the user is not protected (checked on its real ARN from `GetUser`);
//! 6. already in the wanted state: `already_applied`; `DRY_RUN`: `dry_run`;
//! 7. `UpdateAccessKey` on that one key. Never `DeleteAccessKey`, never another key.

pub mod aws;

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
use launchguard_core::ids::{validate_access_key_id, validate_account_id, validate_iam_name};
use launchguard_core::principal::KeyKind;
use thiserror::Error;
use tracing::info;

/// This handler's name in outcomes.
pub const HANDLER: &str = "launchguard-accesskey-handler";

/// The AWS actions this handler calls (checked against `policies/` by the tests).
pub const AWS_ACTIONS: &[&str] = &[
    "iam:GetAccessKeyLastUsed",
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:UpdateAccessKey",
    "kms:VerifyMac",
    "s3:GetObject",
    "s3:PutObject",
];

/// Errors that stop the handler before it can even answer with an outcome.
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
    /// `DRY_RUN`: report only, for every request.
    pub dry_run: bool,
    /// `LG_LONG_TERM_KEY_PREFIXES`: key prefixes that may be deactivated (default `AKIA`).
    pub key_prefixes: Vec<String>,
    /// `COMMAND_KEY_ID`, `LG_MAX_COMMAND_AGE_SECONDS`: only sealed, fresh commands are executed.
    pub gate: CommandGate,
}

impl Config {
    /// From the environment (`PROTECTED_PRINCIPALS`, `ALLOWED_ACCOUNTS`, `DRY_RUN`) and the
    /// function's own identity (account, role).
    pub fn from_env(env: &dyn Env, own_account: &str, own_role: &str) -> Result<Self, HandlerError> {
        Ok(Self {
            guard: config::guard(env, own_account, own_role).map_err(HandlerError::Config)?,
            dry_run: config::bool_var(env, "DRY_RUN", false).map_err(HandlerError::Config)?,
            key_prefixes: config::long_term_key_prefixes(env).map_err(HandlerError::Config)?,
            gate: CommandGate::from_env(env).map_err(HandlerError::Config)?,
        })
    }
}

/// An access key's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// `Active`
    Active,
    /// `Inactive`
    Inactive,
}

/// The IAM calls this handler makes.
pub trait AccessKeys: Send + Sync {
    /// `GetAccessKeyLastUsed`: the key's user, `None` when the key does not exist here.
    fn key_owner(&self, access_key_id: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `GetUser`: the user's ARN, `None` when there is no such user.
    fn user_arn(&self, user_name: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `ListAccessKeys` of a user.
    fn list_keys(&self, user_name: &str) -> impl Future<Output = Result<Vec<(String, KeyStatus)>, CallError>> + Send;
    /// `UpdateAccessKey` of exactly this key.
    fn set_status(&self, user_name: &str, access_key_id: &str, status: KeyStatus) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// Handle one raw payload: a command sealed by the dispatcher (see `launchguard_aws::command`).
/// Anything not sealed with the command key, stale or invalid is an error and nothing is done;
/// a request id executed before is answered from its record; everything else is an outcome,
/// logged as one JSON line.
pub async fn handle<I: AccessKeys, V: MacVerifier, S: ConditionalStore>(
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
        target = %outcome.action.target(), outcome = outcome.outcome.name(), detail = %outcome.detail, "access key outcome");
    Ok(outcome)
}

/// Decide and act for one parsed request.
pub async fn respond<I: AccessKeys>(req: &ResponseRequest, cfg: &Config, iam: &I, now: DateTime<Utc>) -> ResponseOutcome {
    let (account_id, key, user_name, want) = match &req.action {
        Action::DeactivateAccessKey { account_id, access_key_id, user_name } => (account_id, access_key_id, user_name, KeyStatus::Inactive),
        Action::ReactivateAccessKey { account_id, access_key_id, user_name } => (account_id, access_key_id, user_name, KeyStatus::Active),
        other => {
            return ResponseOutcome::refused(
                req,
                HANDLER,
                format!("{} is not an access key action; send it to launchguard-iam-handler", other.name()),
                now,
            );
        }
    };
    let refuse = |reason: String| ResponseOutcome::refused(req, HANDLER, reason, now);
    let fail = |e: CallError| ResponseOutcome::failed(req, HANDLER, e.message.clone(), e.retryable, now);
    if let Err(e) = validate_account_id(account_id) {
        return refuse(e.to_string());
    }
    if let Err(reason) = cfg.guard.check_account(account_id) {
        return refuse(reason);
    }
    if let Err(e) = validate_access_key_id(key) {
        return refuse(e.to_string());
    }
    if KeyKind::of(key) == KeyKind::Temporary {
        return refuse(format!(
            "{key} is a temporary STS key (ASIA…): it cannot be deactivated; revoke the sessions of the role (or quarantine the user) that issued it"
        ));
    }
    if !cfg.key_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
        return refuse(format!("{key} is not an IAM user access key (expected a key starting with {})", cfg.key_prefixes.join(" or ")));
    }
    if let Some(u) = user_name
        && let Err(e) = validate_iam_name(u)
    {
        return refuse(format!("user_name: {e}"));
    }
    let owner = match iam.key_owner(key).await {
        Ok(Some(o)) => o,
        Ok(None) => return refuse(format!("access key {key} does not exist in account {account_id}")),
        Err(e) => return fail(e),
    };
    if let Some(u) = user_name.as_deref().filter(|u| **u != owner) {
        return refuse(format!("access key {key} belongs to user {owner}, not to {u}: nothing changed"));
    }
    let user_arn = match iam.user_arn(&owner).await {
        Ok(Some(a)) => a,
        Ok(None) => return refuse(format!("user {owner} does not exist")),
        Err(e) => return fail(e),
    };
    if launchguard_core::principal::arn_account(&user_arn) != Some(account_id.as_str()) {
        return refuse(format!("user {user_arn} is not in account {account_id}"));
    }
    if let Err(reason) = cfg.guard.check_principal(&user_arn) {
        return refuse(reason);
    }
    let keys = match iam.list_keys(&owner).await {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let Some(&(_, current)) = keys.iter().find(|(k, _)| k == key) else {
        return refuse(format!("ListAccessKeys of {owner} does not list {key}: ownership not confirmed, nothing changed"));
    };
    let word = |s: KeyStatus| if s == KeyStatus::Active { "Active" } else { "Inactive" };
    // The reversal of setting `want` on this key. Also carried by `already_applied`: a retried
    // request must learn it; whether launchguard made the change is the dispatcher's ledger's call.
    let reversal = match want {
        KeyStatus::Inactive => {
            Action::ReactivateAccessKey { account_id: account_id.clone(), access_key_id: key.clone(), user_name: Some(owner.clone()) }
        }
        KeyStatus::Active => {
            Action::DeactivateAccessKey { account_id: account_id.clone(), access_key_id: key.clone(), user_name: Some(owner.clone()) }
        }
    };
    if current == want {
        let mut o = ResponseOutcome::for_request(
            req,
            HANDLER,
            OutcomeStatus::AlreadyApplied,
            format!("access key {key} of {owner} is already {}", word(want)),
            now,
        );
        o.reversal = Some(reversal);
        return o;
    }
    if req.dry_run || cfg.dry_run {
        return ResponseOutcome::for_request(
            req,
            HANDLER,
            OutcomeStatus::DryRun,
            format!(
                "dry run: would set access key {key} of {owner} from {} to {}; its other {} key(s) untouched",
                word(current),
                word(want),
                keys.len() - 1
            ),
            now,
        );
    }
    if let Err(e) = iam.set_status(&owner, key, want).await {
        return fail(e);
    }
    let mut o = ResponseOutcome::for_request(
        req,
        HANDLER,
        OutcomeStatus::Applied,
        format!("access key {key} of {owner} set to {}; its other {} key(s) untouched", word(want), keys.len() - 1),
        now,
    );
    let back = word(current);
    o.undo = Some(format!("aws iam update-access-key --user-name {owner} --access-key-id {key} --status {back}"));
    o.reversal = Some(reversal);
    o
}
