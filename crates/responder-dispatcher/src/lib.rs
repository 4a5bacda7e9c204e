//! launchguard-dispatcher: turns a finding into containment, and a release into its reversal.
//!
//! For a [`Finding`](launchguard_core::contract::Finding) (from any detector):
//! 1. validate it (schema, account, non-empty principals) — a bad finding changes nothing;
//! 2. plan actions per principal with the playbook ([`plan`]); protected principals and AWS
//!    itself are refused here, before any handler is invoked; a principal with actions is
//!    contained only when CloudTrail's event history confirms the records that made it cross
//!    the threshold ([`confirm`]), else it is notify-only and the page says why;
//! 3. count the delivery and claim each action in the [`ledger`] (conditional writes: two
//!    deliveries of one finding never both act); invoke the handlers for the claimed actions,
//!    concurrently with a bound; record each outcome, and whether launchguard made the change;
//!    an action another delivery (or a release) still holds after a short wait makes the
//!    delivery answer a retryable busy error, and page nothing yet;
//!    a confirmed user whose quarantine failed for a reason a retry cannot help (IAM's
//!    `LimitExceeded`) has every active access key deactivated instead ([`fallback`]);
//! 4. publish one readable SNS notification ([`notify`]) and write one incident record per
//!    *new* outcome (a duplicate delivery with nothing new sends neither);
//! 5. return an error listing every failed part, retryable when any part is ([`error`]).
//!
//! For a [`ReleaseRequest`](launchguard_core::contract::ReleaseRequest): see [`release`].

pub mod auth;
pub mod aws;
pub mod config;
pub mod confirm;
pub mod error;
pub mod fallback;
pub mod finding;
mod invoke;
pub mod ledger;
pub mod notify;
mod page;
pub mod plan;
pub mod record;
pub mod release;
pub mod report;

use std::future::Future;

use chrono::{DateTime, Utc};
use launchguard_aws::mac::{MacSigner, MacVerifier};
use launchguard_aws::store::{ConditionalStore, ObjectPut, PresignGet};
use launchguard_aws::trail::EventHistory;
use launchguard_aws::{CallError, Invoker};
use launchguard_core::contract::DispatcherInput;

pub use crate::config::Config;
pub use crate::error::{DispatcherError, Failure, Part};
pub use crate::invoke::run_requests;
pub use crate::ledger::{Held, Holder};
pub use crate::record::{DispatchReport, IncidentRecord, RecordType, Status};

/// The AWS actions the dispatcher calls (checked against `policies/` by the tests).
pub const AWS_ACTIONS: &[&str] = &[
    "lambda:InvokeFunction",
    "sns:Publish",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    // REPORT_BUCKET: the report is written (PutObject) and linked (a GET URL pre-signed with
    // the dispatcher's credentials: its role must be allowed s3:GetObject on the report).
    "kms:GenerateMac",
    "kms:VerifyMac",
    // a finding's records, confirmed in CloudTrail's event history before any containment
    "cloudtrail:LookupEvents",
];

/// The dispatcher's name in outcomes it writes itself (refusals before invoking a handler).
pub const DISPATCHER: &str = "launchguard-dispatcher";

/// Publishing notifications.
pub trait Notifier: Send + Sync {
    /// `sns:Publish`; the message id.
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
        attributes: &[(&str, String)],
    ) -> impl Future<Output = Result<String, CallError>> + Send;
}

/// The durable incident log.
pub trait IncidentLog: Send + Sync {
    /// Append one JSON record to `stream` (created when missing).
    fn append(&self, group: &str, stream: &str, record: String, at: DateTime<Utc>) -> impl Future<Output = Result<(), CallError>> + Send;
    /// Every message in `[start, end]` that may match `pattern` (the caller re-checks each).
    fn search(
        &self,
        group: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        pattern: &str,
    ) -> impl Future<Output = Result<Vec<String>, CallError>> + Send;
}

/// Handle one raw payload.
///
/// The payload must be a finding sealed with the finding key or a release sealed with the
/// release key ([`auth`]); anything else is refused before it is even parsed. A sealed release is
/// accepted once: a replay of the same envelope is refused. `reports` writes and links the
/// incident report (used only when `REPORT_BUCKET` is set); `trail` confirms a finding's records.
#[allow(clippy::too_many_arguments)] // one port per AWS service, as everywhere in launchguard
pub async fn handle<
    I: Invoker,
    N: Notifier,
    L: IncidentLog,
    S: ConditionalStore,
    K: MacSigner + MacVerifier,
    R: ObjectPut + PresignGet,
    T: EventHistory,
>(
    payload: &[u8],
    cfg: &Config,
    lambda: &I,
    sns: &N,
    logs: &L,
    store: &S,
    kms: &K,
    reports: &R,
    trail: &T,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    let deadline = tokio::time::Instant::now() + ledger::DISPATCHER_TIMEOUT.to_std().unwrap_or_default();
    handle_until(deadline, payload, cfg, lambda, sns, logs, store, kms, reports, trail, now).await
}

/// [`handle`] for a delivery that Lambda stops at `deadline` (its context's deadline): no handler
/// is invoked unless it can finish by then, and CloudTrail's lookups stop early enough for the
/// handlers to be invoked ([`ledger::CONFIRM_RESERVE`]).
#[allow(clippy::too_many_arguments)] // one port per AWS service, as everywhere in launchguard
pub async fn handle_until<
    I: Invoker,
    N: Notifier,
    L: IncidentLog,
    S: ConditionalStore,
    K: MacSigner + MacVerifier,
    R: ObjectPut + PresignGet,
    T: EventHistory,
>(
    deadline: tokio::time::Instant,
    payload: &[u8],
    cfg: &Config,
    lambda: &I,
    sns: &N,
    logs: &L,
    store: &S,
    kms: &K,
    reports: &R,
    trail: &T,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    let (invoke_until, confirm_until) = ledger::delivery_limits(tokio::time::Instant::now(), deadline);
    let (input, sealed, sealer) = auth::open_input(&cfg.seals, kms, payload, now).await?;
    if matches!(input, DispatcherInput::Release(_)) {
        auth::accept_release_once(store, &sealed, now).await?;
    }
    let io = finding::Io { cfg, lambda, sns, logs, store, kms, invoke_until, confirm_until };
    match input {
        DispatcherInput::Finding(f) => finding::dispatch_finding(&f, sealer, &io, reports, trail, now).await,
        DispatcherInput::Release(r) => release::release(&r, &io, now).await,
    }
}
