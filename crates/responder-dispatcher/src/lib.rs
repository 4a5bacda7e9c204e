//! launchguard-dispatcher: turns a finding into containment, and a release into its reversal.
//!
//! For a [`Finding`] (from any detector):
//! 1. validate it (schema, account, non-empty principals) — a bad finding changes nothing;
//! 2. plan actions per principal with the playbook ([`plan`]); protected principals and AWS
//!    itself are refused here, before any handler is invoked;
//! 3. invoke the handlers, concurrently with a bound, one request per action; one failure never
//!    stops the others;
//! 4. publish one readable SNS notification ([`notify`]) and write one incident record (JSON) to
//!    the incident log group;
//! 5. return a retryable error when an action failed retryably, so Lambda retries the event
//!    (every action is idempotent).
//!
//! For a [`ReleaseRequest`]: find the incident records of the finding (or the principal), run the
//! `reversal` of every action that was `applied`, and record and notify that too.

pub mod auth;
pub mod aws;
pub mod notify;
pub mod plan;

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use launchguard_aws::mac::{MacSigner, MacVerifier};
use launchguard_aws::{CallError, Invoker};
use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::contract::{
    Action, DispatcherInput, Finding, HandlerKind, OutcomeStatus, ReleaseRequest, ResponseOutcome, ResponseRequest,
};
use launchguard_core::guard::Guard;
use launchguard_core::ids::IamArn;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;
use tracing::{error, info, warn};

use crate::auth::Seals;
use crate::plan::{Playbook, PrincipalPlan};

/// The AWS actions the dispatcher calls (checked against `policies/` by the tests).
pub const AWS_ACTIONS: &[&str] = &[
    "lambda:InvokeFunction",
    "sns:Publish",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:FilterLogEvents",
    "kms:GenerateMac",
    "kms:VerifyMac",
];

/// The dispatcher's name in outcomes it writes itself (refusals before invoking a handler).
pub const DISPATCHER: &str = "launchguard-dispatcher";

/// Errors of the dispatcher.
#[derive(Debug, Error)]
pub enum DispatcherError {
    /// The payload is not a valid finding or release request: nothing was done.
    #[error("invalid input, nothing done: {0}")]
    InvalidInput(#[from] CoreError),
    /// A valid finding that this dispatcher must not act on: nothing was done.
    #[error("finding {finding_id} rejected, nothing done: {reason}")]
    Rejected {
        /// The finding.
        finding_id: String,
        /// Why.
        reason: String,
    },
    /// Some actions failed; the others were done, notified and recorded.
    #[error("{failed} action(s) failed{}: {errors}", if *retryable { " and will be retried" } else { "" })]
    ActionsFailed {
        /// How many.
        failed: usize,
        /// Their errors.
        errors: String,
        /// True when at least one failure may pass on a retry (throttling, 5xx, network).
        retryable: bool,
    },
    /// The notification could not be published (the actions were done and recorded).
    #[error("could not publish the notification to {topic}: {error}")]
    Notify {
        /// Topic ARN.
        topic: String,
        /// The error.
        error: CallError,
    },
    /// The incident record could not be written (the actions were done and notified).
    #[error("could not write the incident record to {group}: {error}")]
    Record {
        /// Log group.
        group: String,
        /// The error.
        error: CallError,
    },
    /// KMS could not verify a seal or seal a request: nothing was done.
    #[error("KMS key {key_id} could not be used, nothing done: {error}")]
    Kms {
        /// The key.
        key_id: String,
        /// The error.
        error: CallError,
    },
    /// The incident log group could not be searched for a release.
    #[error("could not search {group} for the incidents to release: {error}")]
    Search {
        /// Log group.
        group: String,
        /// The error.
        error: CallError,
    },
}

impl DispatcherError {
    /// Whether Lambda should retry the event.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidInput(_) | Self::Rejected { .. } => false,
            Self::ActionsFailed { retryable, .. } => *retryable,
            Self::Notify { error, .. } | Self::Record { error, .. } | Self::Search { error, .. } | Self::Kms { error, .. } => {
                error.retryable
            }
        }
    }
}

/// Configuration, read once.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ACCESS_KEY_HANDLER_LAMBDA_NAME`.
    pub access_key_handler: String,
    /// `IAM_HANDLER_LAMBDA_NAME`.
    pub iam_handler: String,
    /// `NOTIFICATION_TOPIC_ARN`.
    pub topic_arn: String,
    /// `INCIDENT_LOG_GROUP`.
    pub incident_log_group: String,
    /// The name to show in "how to undo" (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// Account and protected principals.
    pub guard: Guard,
    /// `DRY_RUN`.
    pub dry_run: bool,
    /// `LG_MAX_CONCURRENCY` (default 8): handler invocations at once.
    pub max_concurrency: usize,
    /// `LG_RELEASE_LOOKBACK_DAYS` (default 30): how far back a release looks for incidents.
    pub release_lookback: Duration,
    /// The playbook.
    pub playbook: Playbook,
    /// The KMS keys that findings and releases must be sealed with, and requests are sealed with.
    pub seals: Seals,
}

impl Config {
    /// From the environment and the function's own identity; errors name the variable.
    pub fn from_env(env: &dyn Env, own_account: &str, own_role: &str) -> Result<Self, CoreError> {
        let topic_arn = config::required(env, "NOTIFICATION_TOPIC_ARN", "the SNS topic ARN for notifications")?;
        if !topic_arn.starts_with("arn:") || !topic_arn.contains(":sns:") {
            return Err(CoreError::Config {
                name: "NOTIFICATION_TOPIC_ARN".into(),
                problem: format!("is {topic_arn:?}: expected an SNS topic ARN"),
            });
        }
        Ok(Self {
            access_key_handler: config::required(env, "ACCESS_KEY_HANDLER_LAMBDA_NAME", "the launchguard-accesskey-handler function name")?,
            iam_handler: config::required(env, "IAM_HANDLER_LAMBDA_NAME", "the launchguard-iam-handler function name")?,
            topic_arn,
            incident_log_group: config::required(env, "INCIDENT_LOG_GROUP", "the CloudWatch Logs group for incident records")?,
            function_name: env.get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| DISPATCHER.to_owned()),
            guard: config::guard(env, own_account, own_role)?,
            dry_run: config::bool_var(env, "DRY_RUN", false)?,
            max_concurrency: usize::try_from(config::u64_var(env, "LG_MAX_CONCURRENCY", 8, 1, 64)?).unwrap_or(8),
            release_lookback: Duration::days(i64::try_from(config::u64_var(env, "LG_RELEASE_LOOKBACK_DAYS", 30, 1, 365)?).unwrap_or(30)),
            playbook: Playbook::from_env(env)?,
            seals: Seals::from_env(env)?,
        })
    }
}

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

/// One incident record, as written to the incident log group (one JSON log event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// `incident` (containment of a finding) or `release`.
    pub record_type: String,
    /// Record format version.
    pub schema_version: u32,
    /// The finding.
    pub finding_id: String,
    /// When written.
    pub recorded_at: DateTime<Utc>,
    /// Overall state: `contained`, `dry_run`, `action_needed`, `failed`, `released`...
    pub status: String,
    /// Principal ARNs concerned (for searching by principal).
    pub principals: Vec<String>,
    /// Every outcome.
    pub outcomes: Vec<ResponseOutcome>,
    /// What a human must do.
    pub human_actions: Vec<String>,
    /// Refusals made before any handler was invoked.
    pub refusals: Vec<String>,
    /// The SNS message id, or why publishing failed.
    pub notification: String,
    /// The finding (for `incident` records).
    pub finding: Option<Value>,
    /// The release request (for `release` records).
    pub release: Option<ReleaseRequest>,
}

/// What the dispatcher returns.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchReport {
    /// Overall state (see [`IncidentRecord::status`]), or `nothing_to_release`.
    pub status: String,
    /// The finding.
    pub finding_id: String,
    /// Every outcome.
    pub outcomes: Vec<ResponseOutcome>,
    /// Refusals made before invoking handlers.
    pub refusals: Vec<String>,
    /// What a human must do.
    pub human_actions: Vec<String>,
    /// SNS message id.
    pub notification_message_id: Option<String>,
    /// Where the incident record is: `<group>/<stream>`.
    pub incident_record: Option<String>,
}

/// Handle one raw payload: a finding sealed with the finding key or a release sealed with the
/// release key ([`auth`]); anything else is refused before it is even parsed.
pub async fn handle<I: Invoker, N: Notifier, L: IncidentLog, K: MacSigner + MacVerifier>(
    payload: &[u8],
    cfg: &Config,
    lambda: &I,
    sns: &N,
    logs: &L,
    kms: &K,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    let (input, _sealed) = auth::open_input(&cfg.seals, kms, payload, now).await?;
    match input {
        DispatcherInput::Finding(f) => dispatch_finding(&f, cfg, lambda, sns, logs, kms, now).await,
        DispatcherInput::Release(r) => release(&r, cfg, lambda, sns, logs, kms, now).await,
    }
}

fn principal_arn(p: &launchguard_core::principal::Principal) -> String {
    use launchguard_core::principal::Principal;
    match p {
        Principal::IamUser { arn, .. } | Principal::Root { arn, .. } | Principal::FederatedUser { arn, .. } => arn.clone(),
        Principal::AssumedRole { role_arn, .. } => role_arn.clone(),
        other => other.key(),
    }
}

/// Invoke the handler for each request, at most `max_concurrency` at once; outcomes in request order.
pub async fn run_requests<I: Invoker, K: MacSigner>(
    requests: Vec<ResponseRequest>,
    cfg: &Config,
    lambda: &I,
    kms: &K,
    now: DateTime<Utc>,
) -> Vec<ResponseOutcome> {
    let calls = requests.into_iter().enumerate().map(|(i, req)| async move { (i, invoke_one(&req, cfg, lambda, kms, now).await) });
    let mut done: Vec<(usize, ResponseOutcome)> = futures_util::stream::iter(calls).buffer_unordered(cfg.max_concurrency).collect().await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

#[derive(Deserialize)]
struct LambdaErrorDoc {
    #[serde(default, rename = "errorType")]
    error_type: String,
    #[serde(default, rename = "errorMessage")]
    error_message: String,
}

async fn invoke_one<I: Invoker, K: MacSigner>(
    req: &ResponseRequest,
    cfg: &Config,
    lambda: &I,
    kms: &K,
    now: DateTime<Utc>,
) -> ResponseOutcome {
    let function = match req.action.handler() {
        HandlerKind::AccessKey => &cfg.access_key_handler,
        HandlerKind::Iam => &cfg.iam_handler,
    };
    let payload = match auth::seal_request(&cfg.seals, kms, req, now).await {
        Ok(p) => p,
        Err(e) => {
            return ResponseOutcome::failed(
                req,
                DISPATCHER,
                format!("could not seal the request with {}: {e}", cfg.seals.command_key_id),
                e.retryable,
                now,
            );
        }
    };
    let outcome = match lambda.invoke_sync(function, payload).await {
        Err(e) => ResponseOutcome::failed(req, DISPATCHER, format!("invoking {function}: {}", e.message), e.retryable, now),
        Ok(resp) if resp.function_error.is_some() => {
            let doc: Option<LambdaErrorDoc> = serde_json::from_slice(&resp.payload).ok();
            let what = doc
                .map(|d| format!("{}: {}", d.error_type, d.error_message))
                .unwrap_or_else(|| String::from_utf8_lossy(&resp.payload).into_owned());
            // The handlers say with the error type whether a retry can help (KMS, the replay record).
            let retryable = what.starts_with("launchguard.Retryable");
            ResponseOutcome::failed(req, DISPATCHER, format!("{function} failed: {what}"), retryable, now)
        }
        Ok(resp) => match serde_json::from_slice::<Value>(&resp.payload)
            .map_err(|e| e.to_string())
            .and_then(|v| ResponseOutcome::parse(v).map_err(|e| e.to_string()))
        {
            Ok(o) if o.request_id == req.request_id && o.action == req.action => o,
            Ok(o) => ResponseOutcome::failed(
                req,
                DISPATCHER,
                format!("{function} answered request {} instead of {}", o.request_id, req.request_id),
                false,
                now,
            ),
            Err(e) => ResponseOutcome::failed(req, DISPATCHER, format!("{function} did not answer with an outcome: {e}"), false, now),
        },
    };
    info!(finding_id = %outcome.finding_id, request_id = %outcome.request_id, action = outcome.action.name(), target = %outcome.action.target(),
        outcome = outcome.outcome.name(), handler = %outcome.handler, detail = %outcome.detail, "action outcome");
    outcome
}

fn overall(outcomes: &[ResponseOutcome], plans: &[PrincipalPlan], dry_run: bool) -> &'static str {
    let t = notify::Tally::of(outcomes);
    if dry_run {
        "dry_run"
    } else if t.failed > 0 {
        "failed"
    } else if t.refused > 0 || plans.iter().any(|p| p.refused.is_some() || p.human.is_some()) {
        "action_needed"
    } else if t.applied > 0 {
        "contained"
    } else {
        "already_contained"
    }
}

fn stream_name(now: DateTime<Utc>) -> String {
    format!("incidents/{}", now.format("%Y/%m/%d"))
}

/// Contain the principals of one finding.
pub async fn dispatch_finding<I: Invoker, N: Notifier, L: IncidentLog, K: MacSigner>(
    finding: &Finding,
    cfg: &Config,
    lambda: &I,
    sns: &N,
    logs: &L,
    kms: &K,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    let reject = |reason: String| DispatcherError::Rejected { finding_id: finding.finding_id.clone(), reason };
    cfg.guard.check_account(&finding.account_id).map_err(reject)?;
    // A "nobody over threshold" finding has no principal: nothing is planned, a person is told.
    let nobody = finding.verdict == launchguard_core::contract::FindingVerdict::NobodyOverThreshold;
    if finding.principals.is_empty() && !nobody {
        return Err(reject("it names no principal".into()));
    }
    let dry_run = finding.dry_run || cfg.dry_run;
    info!(finding_id = %finding.finding_id, detector = %finding.detector, principals = finding.principals.len(), dry_run,
        window_complete = finding.window_complete, "finding received");
    let plans = plan::plan(&finding.principals, &cfg.playbook, &cfg.guard, now);
    let requests: Vec<ResponseRequest> =
        plans.iter().flat_map(|p| p.actions.iter().cloned()).map(|a| ResponseRequest::new(&finding.finding_id, a, dry_run, now)).collect();
    let outcomes = run_requests(requests, cfg, lambda, kms, now).await;
    let refusals: Vec<String> = plans.iter().filter_map(|p| p.refused.as_ref().map(|r| format!("{}: {r}", p.principal.label()))).collect();
    let human: Vec<String> = plans.iter().filter_map(|p| p.human.as_ref().map(|h| format!("{}: {h}", p.principal.label()))).collect();
    for r in &refusals {
        warn!(finding_id = %finding.finding_id, refusal = %r, "principal refused");
    }
    let status = if nobody { "nobody_over_threshold" } else { overall(&outcomes, &plans, dry_run) };
    let mut shown = finding.clone();
    shown.dry_run = dry_run;
    let (subject, body) = notify::finding_message(&shown, &plans, &outcomes, &cfg.function_name);
    let finding_json = serde_json::to_value(&shown).unwrap_or(Value::Null);
    let full = json!({"finding": finding_json, "outcomes": outcomes});
    let compact = json!({"finding_id": finding.finding_id, "status": status, "outcomes": outcomes});
    let message = notify::with_json_block(body, &full, &compact);
    let published =
        sns.publish(&cfg.topic_arn, &subject, &message, &[("finding_id", finding.finding_id.clone()), ("status", status.to_owned())]).await;
    let record = IncidentRecord {
        record_type: "incident".into(),
        schema_version: 1,
        finding_id: finding.finding_id.clone(),
        recorded_at: now,
        status: status.into(),
        principals: finding.principals.iter().map(|p| principal_arn(&p.principal)).collect(),
        outcomes: outcomes.clone(),
        human_actions: human.clone(),
        refusals: refusals.clone(),
        notification: match &published {
            Ok(id) => id.clone(),
            Err(e) => format!("not published: {e}"),
        },
        finding: Some(finding_json),
        release: None,
    };
    finish(record, published, cfg, logs, now).await
}

async fn finish<L: IncidentLog>(
    record: IncidentRecord,
    published: Result<String, CallError>,
    cfg: &Config,
    logs: &L,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    let stream = stream_name(now);
    let text = serde_json::to_string(&record).unwrap_or_default();
    let recorded = logs.append(&cfg.incident_log_group, &stream, text, now).await;
    let report = DispatchReport {
        status: record.status.clone(),
        finding_id: record.finding_id.clone(),
        outcomes: record.outcomes.clone(),
        refusals: record.refusals.clone(),
        human_actions: record.human_actions.clone(),
        notification_message_id: published.as_ref().ok().cloned(),
        incident_record: recorded.is_ok().then(|| format!("{}/{stream}", cfg.incident_log_group)),
    };
    info!(finding_id = %report.finding_id, status = %report.status, record_type = %record.record_type, outcomes = report.outcomes.len(),
        notification = ?report.notification_message_id, incident_record = ?report.incident_record, "dispatch finished");
    let mut retryable = false;
    let failed: Vec<String> = report
        .outcomes
        .iter()
        .filter_map(|o| match &o.outcome {
            OutcomeStatus::Failed { error, retryable: r } => {
                retryable |= *r;
                Some(format!("{} on {}: {error}", o.action.name(), o.action.target()))
            }
            _ => None,
        })
        .collect();
    if let Err(error) = published {
        error!(error = %error, "notification not published");
        return Err(DispatcherError::Notify { topic: cfg.topic_arn.clone(), error });
    }
    if let Err(error) = recorded {
        error!(error = %error, "incident record not written");
        return Err(DispatcherError::Record { group: cfg.incident_log_group.clone(), error });
    }
    if !failed.is_empty() {
        return Err(DispatcherError::ActionsFailed { failed: failed.len(), errors: failed.join("; "), retryable });
    }
    Ok(report)
}

/// The user or role an action is about, as `(account, name, is_user)`.
fn action_subject(a: &Action) -> Option<(String, String, bool)> {
    match a {
        Action::DeactivateAccessKey { account_id, user_name, .. } | Action::ReactivateAccessKey { account_id, user_name, .. } => {
            user_name.clone().map(|u| (account_id.clone(), u, true))
        }
        Action::QuarantineUser { account_id, user_name, .. } | Action::ReleaseUserQuarantine { account_id, user_name, .. } => {
            Some((account_id.clone(), user_name.clone(), true))
        }
        Action::RevokeRoleSessions { account_id, role_name, .. } | Action::RestoreRoleSessions { account_id, role_name, .. } => {
            Some((account_id.clone(), role_name.clone(), false))
        }
    }
}

fn search_pattern(finding_id: Option<&str>, target: Option<&IamArn>) -> String {
    // Values were validated: finding ids by `release`, names by `IamArn::parse`. The name alone is
    // searched (an ARN in a record may lack the path); every record is re-checked afterwards.
    match (finding_id, target) {
        (Some(f), _) => format!("{{ $.finding_id = \"{f}\" }}"),
        (None, Some(t)) => format!("\"{}\"", t.name),
        (None, None) => String::new(),
    }
}

/// Refuse a release asked for by the principal it would release (a contained principal never
/// releases itself). `requested_by` is said by the sender; the seal proves only that the sender
/// may release, so this is a second line behind the quarantine, which denies the release key.
fn not_self_release(r: &ReleaseRequest, a: &Action) -> Result<(), String> {
    let Some(by) = &r.requested_by else { return Ok(()) };
    let caller = launchguard_core::guard::role_of_caller(by);
    let Ok(caller) = IamArn::parse(&caller) else { return Ok(()) };
    let same = action_subject(a).is_some_and(|(account, name, is_user)| {
        account == caller.account_id
            && name.eq_ignore_ascii_case(&caller.name)
            && is_user == (caller.entity == launchguard_core::ids::IamEntity::User)
    });
    if same { Err(format!("{by} asked to release its own containment: a contained principal never releases itself")) } else { Ok(()) }
}

/// Undo what launchguard applied for a finding or a principal.
pub async fn release<I: Invoker, N: Notifier, L: IncidentLog, K: MacSigner>(
    r: &ReleaseRequest,
    cfg: &Config,
    lambda: &I,
    sns: &N,
    logs: &L,
    kms: &K,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    if let Some(f) = &r.finding_id
        && !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(DispatcherError::InvalidInput(CoreError::InvalidPayload {
            kind: "release",
            reason: "finding_id may hold only letters, digits, - and _".into(),
        }));
    }
    let target = r.principal_arn.as_deref().map(IamArn::parse).transpose()?;
    let label = r.finding_id.clone().unwrap_or_else(|| r.principal_arn.clone().unwrap_or_default());
    let messages = logs
        .search(&cfg.incident_log_group, now - cfg.release_lookback, now, &search_pattern(r.finding_id.as_deref(), target.as_ref()))
        .await
        .map_err(|error| DispatcherError::Search { group: cfg.incident_log_group.clone(), error })?;
    let mut reversals: Vec<(String, Action)> = Vec::new();
    for m in &messages {
        // Re-check every record: the service's filter is not trusted.
        let Ok(rec) = serde_json::from_str::<IncidentRecord>(m) else { continue };
        if rec.record_type != "incident" || r.finding_id.as_ref().is_some_and(|f| *f != rec.finding_id) {
            continue;
        }
        for o in rec.outcomes.iter().filter(|o| o.outcome == OutcomeStatus::Applied) {
            let Some(rev) = &o.reversal else { continue };
            if let Some(t) = &target {
                let wanted = (t.account_id.clone(), t.name.clone(), t.entity == launchguard_core::ids::IamEntity::User);
                if action_subject(rev) != Some(wanted) {
                    continue;
                }
            }
            if !reversals.iter().any(|(_, a)| a == rev) {
                reversals.push((rec.finding_id.clone(), rev.clone()));
            }
        }
    }
    if reversals.is_empty() {
        info!(release = %label, records = messages.len(), "nothing to release");
        return Ok(DispatchReport {
            status: "nothing_to_release".into(),
            finding_id: label,
            outcomes: Vec::new(),
            refusals: Vec::new(),
            human_actions: Vec::new(),
            notification_message_id: None,
            incident_record: None,
        });
    }
    let dry_run = r.dry_run || cfg.dry_run;
    let mut refusals = Vec::new();
    let mut requests = Vec::new();
    for (finding_id, a) in reversals {
        match cfg.guard.check_account(a.account_id()).and_then(|()| not_self_release(r, &a)) {
            Ok(()) => requests.push(ResponseRequest::new(&finding_id, a, dry_run, now)),
            Err(reason) => refusals.push(format!("{}: {reason}", a.target())),
        }
    }
    let outcomes = run_requests(requests, cfg, lambda, kms, now).await;
    let t = notify::Tally::of(&outcomes);
    let status = if dry_run {
        "dry_run"
    } else if t.failed > 0 {
        "release_failed"
    } else if t.refused > 0 || !refusals.is_empty() {
        "release_partial"
    } else {
        "released"
    };
    let subject = launchguard_core::error::cut(
        &format!("[launchguard] RELEASE {}: {} action(s) for {label}", status.to_uppercase(), outcomes.len()),
        notify::MAX_SUBJECT - 1,
    );
    let mut body = format!(
        "launchguard release for {label}{}\nreason: {}\n\n",
        if dry_run { " (DRY RUN: nothing was changed)" } else { "" },
        r.reason.as_deref().unwrap_or("none given")
    );
    for o in &outcomes {
        body.push_str(&format!("- {}: {} on {}: {}\n", o.outcome.name().to_uppercase(), o.action.name(), o.action.target(), o.detail));
    }
    for x in &refusals {
        body.push_str(&format!("- REFUSED: {x}\n"));
    }
    let message = notify::with_json_block(body, &json!({"release": r, "outcomes": outcomes}), &json!({"release": r}));
    let published = sns.publish(&cfg.topic_arn, &subject, &message, &[("finding_id", label.clone()), ("status", status.to_owned())]).await;
    let record = IncidentRecord {
        record_type: "release".into(),
        schema_version: 1,
        finding_id: label,
        recorded_at: now,
        status: status.into(),
        principals: r.principal_arn.iter().cloned().collect(),
        outcomes,
        human_actions: Vec::new(),
        refusals,
        notification: match &published {
            Ok(id) => id.clone(),
            Err(e) => format!("not published: {e}"),
        },
        finding: None,
        release: Some(r.clone()),
    };
    finish(record, published, cfg, logs, now).await
}
