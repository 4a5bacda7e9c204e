//! What every responder function's tests do (feature `test-util`): configure the function as a
//! test account would, and send it a command sealed as the dispatcher seals it.

use chrono::{DateTime, Utc};
use launchguard_aws::mac::MemoryKms;
use launchguard_aws::store::MemoryStore;
use launchguard_core::auth::Purpose;
use launchguard_core::contract::{OutcomeStatus, ResponseOutcome};

use crate::config::Config;
use crate::envelope::{handle, handle_ec2};
use crate::error::HandlerError;
use crate::function::Function;
use crate::memory::MemoryIam;
use crate::memory_ec2::MemoryEc2;

/// The command key the tests seal with.
pub const COMMAND_KEY: &str = "alias/launchguard-command";

/// `function`'s configuration in `account` as role `own_role`: `PROTECTED_PRINCIPALS`
/// `arn:aws:iam::*:user/breakglass-*`, the command key, a ledger bucket, then `extra` (a later
/// entry overrides an earlier one).
///
/// # Panics
/// When that configuration is invalid: configuration errors are tested with `Function::config`.
pub fn config(function: &'static Function, account: &str, own_role: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("PROTECTED_PRINCIPALS".to_owned(), "arn:aws:iam::*:user/breakglass-*".to_owned()),
        ("COMMAND_KEY_ID".to_owned(), COMMAND_KEY.to_owned()),
        ("LEDGER_BUCKET".to_owned(), "ledger".to_owned()),
    ];
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env = move |k: &str| vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    function.config(&env, account, own_role).expect("a valid test configuration")
}

/// Seal `payload` with the command key at `at`, as the dispatcher does, and handle it at `at`
/// with a fresh replay record.
pub async fn handle_sealed(iam: &MemoryIam, cfg: &Config, payload: &str, at: DateTime<Utc>) -> Result<ResponseOutcome, HandlerError> {
    let kms = MemoryKms::with_keys(&[COMMAND_KEY]);
    let sealed = kms.sealed(COMMAND_KEY, Purpose::Command, payload, at);
    handle(&sealed, cfg, iam, &kms, &MemoryStore::default(), at).await
}

/// [`handle_sealed`] for an EC2 function (`iam` resolves the principal).
pub async fn handle_sealed_ec2(
    ec2: &MemoryEc2,
    iam: &MemoryIam,
    cfg: &Config,
    payload: &str,
    at: DateTime<Utc>,
) -> Result<ResponseOutcome, HandlerError> {
    let kms = MemoryKms::with_keys(&[COMMAND_KEY]);
    let sealed = kms.sealed(COMMAND_KEY, Purpose::Command, payload, at);
    handle_ec2(&sealed, cfg, ec2, iam, &kms, &MemoryStore::default(), at).await
}

/// The reason of a refusal.
///
/// # Panics
/// When the outcome is not a refusal (the test expected one).
pub fn refused(o: &ResponseOutcome) -> String {
    match &o.outcome {
        OutcomeStatus::Refused { reason } => reason.clone(),
        other => panic!("expected refused, got {other:?}: {}", o.detail),
    }
}

/// A running instance of `account` as `DescribeInstances` reports it, launched at `at` in
/// reservation `reservation`, with `tags`.
pub fn running_instance(id: &str, account: &str, at: DateTime<Utc>, reservation: &str, tags: &[(&str, &str)]) -> crate::ports::Instance {
    crate::ports::Instance {
        id: id.to_owned(),
        state: Some(crate::ports::InstanceState::Running),
        launch_time: Some(at),
        reservation_id: Some(reservation.to_owned()),
        owner_id: Some(account.to_owned()),
        tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

/// The launch record of [`running_instance`] in `region`, as a finding carries it.
pub fn launch_of(i: &crate::ports::Instance, region: &str) -> launchguard_core::aggregate::LaunchedInstance {
    launchguard_core::aggregate::LaunchedInstance {
        instance_id: i.id.clone(),
        region: region.to_owned(),
        launched_at: i.launch_time.unwrap_or_default(),
        reservation_id: i.reservation_id.clone(),
        request_id: None,
    }
}
