//! A responder function's configuration, read once.

use launchguard_aws::command::CommandGate;
use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::guard::Guard;
use launchguard_core::policy::DEFAULT_QUARANTINE_POLICY_ARN;

use crate::error::HandlerError;
use crate::function::{Function, Setting};

/// Configuration, read once.
#[derive(Debug, Clone)]
pub struct Config {
    /// The function: its name and the actions it serves.
    pub function: &'static Function,
    /// Account and protected principals (`PROTECTED_PRINCIPALS`, `ALLOWED_ACCOUNTS`).
    pub guard: Guard,
    /// `DRY_RUN`: report only, for every request.
    pub dry_run: bool,
    /// `LG_LONG_TERM_KEY_PREFIXES`: key prefixes that may be deactivated (default `AKIA`); empty
    /// when the function serves no action that reads it.
    pub key_prefixes: Vec<String>,
    /// `QUARANTINE_POLICY_ARN` (default `arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3`);
    /// empty when the function serves no action that reads it.
    pub quarantine_policy_arn: String,
    /// `COMMAND_KEY_ID`, `LG_MAX_COMMAND_AGE_SECONDS`: only sealed, fresh commands are executed.
    pub gate: CommandGate,
}

impl Config {
    /// From the environment (`PROTECTED_PRINCIPALS`, `ALLOWED_ACCOUNTS`, `DRY_RUN`, the gate's,
    /// and the settings its actions read) and the function's own identity (account, role).
    pub fn from_env(function: &'static Function, env: &dyn Env, own_account: &str, own_role: &str) -> Result<Self, HandlerError> {
        let quarantine_policy_arn = match function.reads(Setting::QuarantinePolicyArn) {
            true => quarantine_policy_arn(env)?,
            false => String::new(),
        };
        let guard = config::guard(env, own_account, own_role).map_err(HandlerError::Config)?;
        let dry_run = config::bool_var(env, "DRY_RUN", false).map_err(HandlerError::Config)?;
        let key_prefixes = match function.reads(Setting::LongTermKeyPrefixes) {
            true => config::long_term_key_prefixes(env).map_err(HandlerError::Config)?,
            false => Vec::new(),
        };
        let gate = CommandGate::from_env(env, function.name).map_err(HandlerError::Config)?;
        Ok(Self { function, guard, dry_run, key_prefixes, quarantine_policy_arn, gate })
    }
}

fn quarantine_policy_arn(env: &dyn Env) -> Result<String, HandlerError> {
    let policy = env.get("QUARANTINE_POLICY_ARN").unwrap_or_else(|| DEFAULT_QUARANTINE_POLICY_ARN.to_owned());
    if !policy.starts_with("arn:") || !policy.contains(":policy/") {
        return Err(HandlerError::Config(CoreError::Config {
            name: "QUARANTINE_POLICY_ARN".into(),
            problem: format!("is {policy:?}: expected a managed policy ARN such as {DEFAULT_QUARANTINE_POLICY_ARN}"),
        }));
    }
    Ok(policy)
}
