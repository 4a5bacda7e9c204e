//! A responder function: a name and the actions it serves. Its permissions, its settings and its
//! router follow from the actions.

use launchguard_core::config::Env;

use crate::config::Config;
use crate::error::HandlerError;

/// A setting an action reads from the environment, beside the envelope's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `LG_LONG_TERM_KEY_PREFIXES`: key prefixes that may be deactivated (default `AKIA`).
    LongTermKeyPrefixes,
    /// `QUARANTINE_POLICY_ARN` (default `arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3`).
    QuarantinePolicyArn,
}

/// One responder action, as a function declares it (Cloud Custodian's registry entry): its name
/// in the contract (`Action::name`), the AWS actions it calls, the settings it reads, and which
/// action it reverses. The code is in `crate::actions::<module>`.
#[derive(Debug)]
pub struct Spec {
    /// `Action::name()` of the contract action it carries out.
    pub name: &'static str,
    /// The action it is the reversal of, if it is one.
    pub reverses: Option<&'static str>,
    /// Every AWS action it may call (`service:Action`): a function's role allows exactly the
    /// union of its actions' permissions and the envelope's ([`ENVELOPE_PERMISSIONS`]).
    pub permissions: &'static [&'static str],
    /// The settings it reads.
    pub settings: &'static [Setting],
}

/// What the envelope calls for every command: `kms:VerifyMac` (the seal), `s3:GetObject` and
/// `s3:PutObject` (the replay record, `launchguard_aws::command`).
pub const ENVELOPE_PERMISSIONS: &[&str] = &["kms:VerifyMac", "s3:GetObject", "s3:PutObject"];

/// A responder function (one Lambda function, one role): which actions it serves.
#[derive(Debug)]
pub struct Function {
    /// Its name, in outcomes and in Lambda.
    pub name: &'static str,
    /// The actions it serves; any other is refused before any call.
    pub actions: &'static [&'static Spec],
    /// What it serves, for that refusal: `"an access key action"`.
    pub serves: &'static str,
    /// Where the other actions go, for that refusal.
    pub others_to: &'static str,
    /// The message its outcome log lines carry.
    pub log_message: &'static str,
}

impl Function {
    /// Whether it serves the contract action of this name.
    pub fn serves_action(&self, name: &str) -> bool {
        self.actions.iter().any(|a| a.name == name)
    }

    /// Every AWS action it may call: its actions' permissions and the envelope's, sorted, once
    /// each. Its policy in `policies/` allows exactly these (`crates/testkit/tests/policies.rs`).
    pub fn aws_actions(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> =
            ENVELOPE_PERMISSIONS.iter().copied().chain(self.actions.iter().flat_map(|a| a.permissions.iter().copied())).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Whether one of its actions reads this setting.
    pub fn reads(&self, s: Setting) -> bool {
        self.actions.iter().any(|a| a.settings.contains(&s))
    }

    /// Its configuration, from the environment and the function's own identity (account, role).
    pub fn config(&'static self, env: &dyn Env, own_account: &str, own_role: &str) -> Result<Config, HandlerError> {
        Config::from_env(self, env, own_account, own_role)
    }
}
