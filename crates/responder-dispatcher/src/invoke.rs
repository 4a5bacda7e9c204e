//! Invoking the handlers: one synchronous invocation per request, concurrently with a bound.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use launchguard_aws::Invoker;
use launchguard_aws::mac::MacSigner;
use launchguard_core::contract::{HandlerKind, ResponseOutcome, ResponseRequest};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;
use tracing::info;

use crate::ledger::INVOKE_WINDOW;
use crate::{Config, DISPATCHER};

/// Invoke the handler for each request, at most `max_concurrency` at once; outcomes in request order.
/// A request not sent by `invoke_until` (the delivery's start + [`INVOKE_WINDOW`]) is not sent at
/// all: it fails, retryably, so every handler a delivery invoked has ended before its claims can
/// be taken over ([`STALE_CLAIM`](crate::ledger::STALE_CLAIM)). The window is checked before
/// sealing (no KMS call for a request that cannot go) and again right before invoking: sealing
/// (KMS `GenerateMac`, retried by the SDK) or a wait for a concurrency slot can take long.
pub async fn run_requests<I: Invoker, K: MacSigner>(
    requests: Vec<ResponseRequest>,
    cfg: &Config,
    lambda: &I,
    kms: &K,
    now: DateTime<Utc>,
    invoke_until: Instant,
) -> Vec<ResponseOutcome> {
    let calls = requests.into_iter().enumerate().map(|(i, req)| async move {
        if let Some(late) = past_window(&req, invoke_until, "", now) {
            return (i, late);
        }
        (i, invoke_one(&req, cfg, lambda, kms, now, invoke_until).await)
    });
    let mut done: Vec<(usize, ResponseOutcome)> = futures_util::stream::iter(calls).buffer_unordered(cfg.max_concurrency).collect().await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

/// The retryable failure of a request that is not sent because the delivery is past its invoke
/// window (`when` says at which step), or `None` while it may still be sent.
fn past_window(req: &ResponseRequest, invoke_until: Instant, when: &str, now: DateTime<Utc>) -> Option<ResponseOutcome> {
    (Instant::now() >= invoke_until).then(|| {
        let what = format!(
            "not sent: this delivery is past its first {} s{when}, after which it invokes no handler; retried",
            INVOKE_WINDOW.num_seconds()
        );
        ResponseOutcome::failed(req, DISPATCHER, what, true, now)
    })
}

#[derive(Deserialize)]
struct LambdaErrorDoc {
    #[serde(default, rename = "errorType")]
    error_type: String,
    #[serde(default, rename = "errorMessage")]
    error_message: String,
}

pub(crate) async fn invoke_one<I: Invoker, K: MacSigner>(
    req: &ResponseRequest,
    cfg: &Config,
    lambda: &I,
    kms: &K,
    now: DateTime<Utc>,
    invoke_until: Instant,
) -> ResponseOutcome {
    let function = match req.action.handler() {
        HandlerKind::AccessKey => &cfg.access_key_handler,
        HandlerKind::Iam => &cfg.iam_handler,
        HandlerKind::Ec2 => match &cfg.ec2_handler {
            Some(f) => f,
            // Never sent to another handler: refused, with what to set.
            None => {
                let what = "the dispatcher has no EC2 handler: set EC2_HANDLER_LAMBDA_NAME (the launchguard-ec2-handler function)";
                return ResponseOutcome::refused(req, DISPATCHER, what, now);
            }
        },
    };
    let payload = match crate::auth::seal_request(&cfg.seals, kms, req, now).await {
        Ok(p) => p,
        Err(e) => {
            let what = format!("could not seal the request with {}: {e}", cfg.seals.command_key_id);
            return ResponseOutcome::failed(req, DISPATCHER, what, e.retryable, now);
        }
    };
    // Sealing may have taken long (KMS throttled, the SDK retrying): checked again right before
    // the invocation, so that no handler starts after the window.
    if let Some(late) = past_window(req, invoke_until, " (the request was sealed too late)", now) {
        return late;
    }
    let outcome = match lambda.invoke_sync(function, payload).await {
        Err(e) => ResponseOutcome::failed(req, DISPATCHER, format!("invoking {function}: {}", e.message), e.retryable, now),
        Ok(resp) if resp.function_error.is_some() => {
            let doc: Option<LambdaErrorDoc> = serde_json::from_slice(&resp.payload).ok();
            let error_type = doc.as_ref().map(|d| d.error_type.clone()).unwrap_or_default();
            let what = doc
                .map(|d| format!("{}: {}", d.error_type, d.error_message))
                .unwrap_or_else(|| String::from_utf8_lossy(&resp.payload).into_owned());
            // The handlers say with `launchguard.Final` that a retry cannot help (a refused or
            // invalid command: nothing done). Anything else (`launchguard.Retryable`, a timeout,
            // a crash, out of memory) stopped a handler that may have acted: a retry sends the
            // same request id, and a handler that acted answers from its replay record.
            let retryable = !error_type.starts_with("launchguard.Final");
            let may_have_acted = if retryable && !error_type.starts_with("launchguard.") {
                "; it stopped on its own (timeout, crash, out of memory) and may have changed IAM before it did"
            } else {
                ""
            };
            ResponseOutcome::failed(req, DISPATCHER, format!("{function} failed: {what}{may_have_acted}"), retryable, now)
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
