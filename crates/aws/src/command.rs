//! The gate in front of every handler: only commands the dispatcher sealed, each executed once.
//!
//! 1. [`admit`] opens the sealed command with the handler's configured command key (form,
//!    purpose, age, then `kms:VerifyMac`), parses the `response_request` inside, and looks up the
//!    request id in the handler's own replay record (`requests/<handler>/<request_id>.json` in the
//!    ledger bucket). A request id that was already executed is answered from that record, never
//!    executed again, whoever sends it and however often.
//! 2. The handler executes an admitted request.
//! 3. [`remember`] writes the outcome of a change (`applied`, `already_applied`) with a
//!    conditional put (`If-None-Match: *`): when two deliveries race, the first record stands and
//!    both answer with it.
//!
//! Dry runs, refusals and failures are not recorded: they changed nothing, so running them again
//! can do no harm (a failed containment must be retried).
//!
//! Each handler writes and reads only its own prefix, and its role may write only there: one
//! handler in an attacker's hands cannot write a record that makes another answer "already
//! applied" (request ids are deterministic, so it could name the other's next request).
//! Records from before the split (`requests/<request_id>.json`, shared by every handler) are
//! still read for a reversal, the request a release sends, and only when the record names this
//! handler: a release retried across the upgrade is answered from it instead of undoing again.
//! A containment never reads them (executed again, it answers `already_applied`).

use launchguard_core::CoreError;
use launchguard_core::auth::{Freshness, Purpose, Refusal};
use launchguard_core::config::{self, Env};
use launchguard_core::contract::{OutcomeStatus, ResponseOutcome, ResponseRequest};

use crate::CallError;
use crate::mac::{MacVerifier, OpenFailure, open};
use crate::store::{ConditionalStore, Put};

/// Key prefix of the replay records in the ledger bucket: each handler's under
/// `requests/<handler>/` ([`CommandGate::record_key`]).
pub const REPLAY_PREFIX: &str = "requests/";

/// What a handler checks commands with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandGate {
    /// `COMMAND_KEY_ID`: the KMS HMAC key the dispatcher seals commands with.
    pub key_id: String,
    /// `LG_MAX_COMMAND_AGE_SECONDS` (default 900) and the allowed clock skew.
    pub freshness: Freshness,
    /// `LEDGER_BUCKET`: the S3 bucket holding the replay record (and the dispatcher's ledger).
    pub ledger_bucket: String,
    /// The handler's function name (`launchguard-iam-handler`): its replay records are under
    /// `requests/<handler>/`, and a record from before the split must name it.
    pub handler: String,
}

impl CommandGate {
    /// `COMMAND_KEY_ID` and `LEDGER_BUCKET` (required), `LG_MAX_COMMAND_AGE_SECONDS` (default
    /// 900, 60 to 3600), for the handler named `handler`.
    pub fn from_env(env: &dyn Env, handler: &str) -> Result<Self, CoreError> {
        let key_id = config::required(env, "COMMAND_KEY_ID", "the KMS HMAC key (id, ARN or alias) the dispatcher seals commands with")?;
        let age = config::u64_var(env, "LG_MAX_COMMAND_AGE_SECONDS", 900, 60, 3600)?;
        let max_age = chrono::Duration::seconds(i64::try_from(age).unwrap_or(900));
        let ledger_bucket = config::required(env, "LEDGER_BUCKET", "the S3 bucket of launchguard's ledger")?;
        Ok(Self { key_id, freshness: Freshness { max_age, ..Freshness::commands() }, ledger_bucket, handler: handler.to_owned() })
    }

    /// The key of this handler's replay record of `request_id`: `requests/<handler>/<id>.json`.
    pub fn record_key(&self, request_id: &str) -> String {
        format!("{REPLAY_PREFIX}{}/{request_id}.json", self.handler)
    }
}

/// The key of a replay record from before each handler had its own prefix.
fn legacy_record_key(request_id: &str) -> String {
    format!("{REPLAY_PREFIX}{request_id}.json")
}

/// What to do with a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Authentic, fresh, never executed: execute it, then [`remember`] the outcome.
    Execute(Box<ResponseRequest>),
    /// Executed before: this is its recorded outcome. Do not execute again.
    Answered(Box<ResponseOutcome>),
}

/// Why a command was not admitted. Nothing was done for any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateError {
    /// Not sealed, sealed for something else, stale, or a MAC that does not verify.
    Refused(Refusal),
    /// Authentic, but not a valid `response_request`.
    Invalid(CoreError),
    /// KMS or the replay record could not be reached.
    Unavailable(CallError),
}

impl GateError {
    /// Whether the sender should try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(e) if e.retryable)
    }
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "refused, nothing done: {r}"),
            Self::Invalid(e) => write!(f, "invalid request, nothing done: {e}"),
            Self::Unavailable(e) => write!(f, "nothing done, could not check the command: {e}"),
        }
    }
}

impl std::error::Error for GateError {}

impl From<OpenFailure> for GateError {
    fn from(f: OpenFailure) -> Self {
        match f {
            OpenFailure::Refused(r) => Self::Refused(r),
            OpenFailure::Kms(e) => Self::Unavailable(e),
        }
    }
}

/// The whole gate around one handler: open and look up the command ([`admit`]); answer a request
/// executed before from its record; otherwise `execute` it and [`remember`] the outcome.
pub async fn serve<V, S, F, Fut>(
    gate: &CommandGate,
    kms: &V,
    store: &S,
    payload: &[u8],
    now: chrono::DateTime<chrono::Utc>,
    execute: F,
) -> Result<ResponseOutcome, GateError>
where
    V: MacVerifier,
    S: ConditionalStore,
    F: FnOnce(ResponseRequest) -> Fut,
    Fut: std::future::Future<Output = ResponseOutcome>,
{
    match admit(gate, kms, store, payload, now).await? {
        Admission::Answered(previous) => {
            tracing::info!(finding_id = %previous.finding_id, request_id = %previous.request_id, outcome = previous.outcome.name(),
                "request executed before: answered from its record, not executed again");
            Ok(*previous)
        }
        Admission::Execute(req) => {
            let outcome = execute((*req).clone()).await;
            Ok(remember(gate, store, &req, outcome).await)
        }
    }
}

/// Open, parse and look up one command.
pub async fn admit<V: MacVerifier, S: ConditionalStore>(
    gate: &CommandGate,
    kms: &V,
    store: &S,
    payload: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Admission, GateError> {
    let sealed = open(kms, &gate.key_id, Purpose::Command, gate.freshness, payload, now).await?;
    let req = ResponseRequest::from_bytes(sealed.payload.as_bytes()).map_err(GateError::Invalid)?;
    match recorded(gate, store, &req).await.map_err(GateError::Unavailable)? {
        Some(previous) => Ok(Admission::Answered(Box::new(as_replay_answer(previous)))),
        None => Ok(Admission::Execute(Box::new(req))),
    }
}

/// The answer to a request executed before: its recorded outcome, status included (an `applied`
/// stays `applied`, so the dispatcher's ledger still knows launchguard made the change and keeps
/// its reversal), with a detail that says nothing was executed now.
fn as_replay_answer(mut recorded: ResponseOutcome) -> ResponseOutcome {
    let first = recorded.completed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    recorded.detail = format!("{} (request executed before, at {first}; answered from its record, nothing executed now)", recorded.detail);
    recorded
}

/// The recorded outcome of `req`, if it was executed before: this handler's record, or for a
/// reversal a record from before the split that names this handler. A record that does not
/// answer this very request (another request id or action) is an error: someone wrote the
/// bucket by hand.
async fn recorded<S: ConditionalStore>(gate: &CommandGate, store: &S, req: &ResponseRequest) -> Result<Option<ResponseOutcome>, CallError> {
    if req.dry_run {
        return Ok(None);
    }
    if let Some(own) = read_record(store, &gate.record_key(&req.request_id), req).await? {
        return Ok(Some(own));
    }
    if !req.action.is_reversal() {
        return Ok(None);
    }
    let legacy = read_record(store, &legacy_record_key(&req.request_id), req).await?;
    Ok(legacy.filter(|o| o.handler == gate.handler))
}

async fn read_record<S: ConditionalStore>(store: &S, key: &str, req: &ResponseRequest) -> Result<Option<ResponseOutcome>, CallError> {
    let Some(obj) = store.get(key).await? else { return Ok(None) };
    let parsed = serde_json::from_slice::<serde_json::Value>(&obj.body)
        .map_err(|e| e.to_string())
        .and_then(|v| ResponseOutcome::parse(v).map_err(|e| e.to_string()));
    match parsed {
        Ok(o) if o.request_id == req.request_id && o.action == req.action => Ok(Some(o)),
        Ok(_) => Err(CallError::new(format!("the replay record {key} answers another request: inspect the ledger bucket"), false)),
        Err(e) => Err(CallError::new(format!("the replay record {key} is unreadable ({e}): inspect the ledger bucket"), false)),
    }
}

/// Record the outcome of an executed request, and return the outcome that stands: this one, or
/// the one a concurrent delivery recorded first.
pub async fn remember<S: ConditionalStore>(
    gate: &CommandGate,
    store: &S,
    req: &ResponseRequest,
    outcome: ResponseOutcome,
) -> ResponseOutcome {
    if req.dry_run || !matches!(outcome.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied) {
        return outcome;
    }
    let body = serde_json::to_vec(&outcome).unwrap_or_default();
    match store.put_if_absent(&gate.record_key(&req.request_id), body).await {
        Ok(Put::Written { .. }) => outcome,
        Ok(Put::Conflict) => match recorded(gate, store, req).await {
            Ok(Some(first)) => first,
            _ => outcome,
        },
        Err(e) => {
            // The change is made; without the record only a replay of this very request, within
            // its freshness bound, could run it again (and it is idempotent).
            tracing::error!(request_id = %req.request_id, error = %e, "could not write the replay record");
            outcome
        }
    }
}
