//! The envelope around every action: open the sealed command (authenticate, parse, replay
//! record: `launchguard_aws::command::serve`), route it to the function's action (any other is
//! refused before any call), and turn what the action says into the outcome.

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::command;
use launchguard_aws::mac::MacVerifier;
use launchguard_aws::store::ConditionalStore;
use launchguard_core::contract::{Action, MovedIntoProtection, OutcomeStatus, ResponseOutcome, ResponseRequest};
use tracing::info;

use crate::actions;
use crate::config::Config;
use crate::error::HandlerError;
use crate::ports::{AccessKeys, Ec2Ports, IamPorts, Roles, Users};

/// Handle one raw payload: a command sealed by the dispatcher (see `launchguard_aws::command`).
/// Anything not sealed with the command key, stale or invalid is an error and nothing is done;
/// a request id executed before is answered from its record; everything else is an outcome,
/// logged as one JSON line.
pub async fn handle<I: IamPorts, V: MacVerifier, S: ConditionalStore>(
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
        target = %outcome.action.target(), outcome = outcome.outcome.name(), detail = %outcome.detail, "{}", cfg.function.log_message);
    Ok(outcome)
}

/// Decide and act for one parsed request.
pub async fn respond<I: IamPorts>(req: &ResponseRequest, cfg: &Config, iam: &I, now: DateTime<Utc>) -> ResponseOutcome {
    let f = cfg.function;
    if !f.serves_action(req.action.name()) {
        return ResponseOutcome::refused(
            req,
            f.name,
            format!("{} is not {}; send it to {}", req.action.name(), f.serves, f.others_to),
            now,
        );
    }
    let ctx = Ctx { req, cfg, now };
    match actions::act(&ctx, iam).await {
        Ok(o) => o,
        Err(Stop::Refuse(reason)) => ResponseOutcome::refused(req, f.name, reason, now),
        Err(Stop::Moved(m)) => moved(req, f.name, m, now),
        Err(Stop::Fail(e)) => ResponseOutcome::failed(req, f.name, e.message.clone(), e.retryable, now),
    }
}

/// [`handle`] for a function whose actions call EC2 (`launchguard-ec2-handler`); `iam` resolves
/// the principal whose instances are acted on.
pub async fn handle_ec2<E: Ec2Ports, I: Users + Roles + AccessKeys, V: MacVerifier, S: ConditionalStore>(
    payload: &[u8],
    cfg: &Config,
    ec2: &E,
    iam: &I,
    kms: &V,
    store: &S,
    now: DateTime<Utc>,
) -> Result<ResponseOutcome, HandlerError> {
    let outcome = command::serve(&cfg.gate, kms, store, payload, now, |req| async move { respond_ec2(&req, cfg, ec2, iam, now).await })
        .await
        .map_err(HandlerError::Gate)?;
    info!(finding_id = %outcome.finding_id, request_id = %outcome.request_id, action = outcome.action.name(),
        target = %outcome.action.target(), outcome = outcome.outcome.name(), detail = %outcome.detail, "{}", cfg.function.log_message);
    Ok(outcome)
}

/// [`respond`] for a function whose actions call EC2 (and IAM, to resolve the principal).
pub async fn respond_ec2<E: Ec2Ports, I: Users + Roles + AccessKeys>(
    req: &ResponseRequest,
    cfg: &Config,
    ec2: &E,
    iam: &I,
    now: DateTime<Utc>,
) -> ResponseOutcome {
    let f = cfg.function;
    if !f.serves_action(req.action.name()) {
        return ResponseOutcome::refused(
            req,
            f.name,
            format!("{} is not {}; send it to {}", req.action.name(), f.serves, f.others_to),
            now,
        );
    }
    let ctx = Ctx { req, cfg, now };
    match actions::act_ec2(&ctx, ec2, iam).await {
        Ok(o) => o,
        Err(Stop::Refuse(reason)) => ResponseOutcome::refused(req, f.name, reason, now),
        Err(Stop::Moved(m)) => moved(req, f.name, m, now),
        Err(Stop::Fail(e)) => ResponseOutcome::failed(req, f.name, e.message.clone(), e.retryable, now),
    }
}

/// What went wrong before acting: refuse, refuse a confirmed user that moved itself into the
/// protected principals since the burst (a likely evasion, paged as such), or report a failed call.
pub(crate) enum Stop {
    Refuse(String),
    Moved(MovedIntoProtection),
    Fail(CallError),
}

/// The refusal of a confirmed user that moved or renamed itself into the protected principals:
/// nothing is done to it (launchguard never acts on a protected principal), and the outcome
/// carries both ARNs and the id for the page.
fn moved(req: &ResponseRequest, handler: &str, m: MovedIntoProtection, now: DateTime<Utc>) -> ResponseOutcome {
    let reason = format!(
        "LIKELY EVASION: the user CloudTrail confirmed ({}) was {} in its records, which PROTECTED_PRINCIPALS does not protect, and IAM names it {} now, which it protects: it moved or renamed itself into a protected path or name after the burst; launchguard never acts on a protected principal, so nothing changed; a person contains it by hand",
        m.principal_id, m.recorded_arn, m.current_arn
    );
    let mut o = ResponseOutcome::refused(req, handler, reason, now);
    o.moved_into_protection = Some(m);
    o
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Self {
        Self::Fail(e)
    }
}

/// One request being served: what an action needs to decide and to answer.
pub(crate) struct Ctx<'a> {
    pub(crate) req: &'a ResponseRequest,
    pub(crate) cfg: &'a Config,
    pub(crate) now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// `DRY_RUN`, or `dry_run` in the request.
    pub(crate) fn dry_run(&self) -> bool {
        self.req.dry_run || self.cfg.dry_run
    }

    pub(crate) fn outcome(&self, status: OutcomeStatus, detail: String) -> ResponseOutcome {
        ResponseOutcome::for_request(self.req, self.cfg.function.name, status, detail, self.now)
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
