//! `launchguard release`: undo a containment, as a person allowed to release.
//!
//! It builds the release request, seals it with the release key *using the caller's own
//! credentials* (`kms:GenerateMac`, which the key policy grants to `RELEASE_PRINCIPALS` only),
//! invokes the dispatcher synchronously and prints what was undone. The caller's identity (STS)
//! goes into the request as `requested_by`: the dispatcher refuses a principal releasing itself.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use launchguard_aws::Invoker;
use launchguard_aws::mac::{MacSigner, seal};
use launchguard_core::auth::Purpose;
use launchguard_core::contract::{ReleaseKind, ReleaseRequest, SCHEMA_VERSION};
use launchguard_core::text::untrusted;
use serde_json::Value;

use crate::CliError;

/// Default dispatcher function name.
pub const DEFAULT_DISPATCHER: &str = "launchguard-dispatcher";
/// Default release key (the alias the stack creates).
pub const DEFAULT_RELEASE_KEY: &str = "alias/launchguard-release";

/// What to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseArgs {
    /// `--finding`: the finding whose containment to undo.
    pub finding_id: Option<String>,
    /// `--principal`: only this user or role (with `--finding`, within that finding).
    pub principal_arn: Option<String>,
    /// `--reason`: why, for the record.
    pub reason: String,
    /// `--dry-run`: report what would be undone, change nothing.
    pub dry_run: bool,
    /// `--dispatcher`: the dispatcher's name or ARN.
    pub dispatcher: String,
    /// `--key`: the release key (id, ARN or alias).
    pub key_id: String,
}

/// The release request for `args`, checked exactly as the dispatcher will check it.
pub fn request(args: &ReleaseArgs, caller_arn: &str) -> Result<ReleaseRequest, CliError> {
    let r = ReleaseRequest {
        schema_version: SCHEMA_VERSION,
        kind: ReleaseKind::Release,
        finding_id: args.finding_id.clone(),
        principal_arn: args.principal_arn.clone(),
        reason: Some(args.reason.clone()),
        requested_by: Some(caller_arn.to_owned()),
        dry_run: args.dry_run,
    };
    let v = serde_json::to_value(&r).map_err(|e| CliError::Usage(e.to_string()))?;
    ReleaseRequest::parse(v).map_err(|e| CliError::Usage(e.to_string()))
}

/// Seal the request with the release key and send it to the dispatcher; the dispatcher's answer.
pub async fn release<S: MacSigner, I: Invoker>(
    args: &ReleaseArgs,
    caller_arn: &str,
    signer: &S,
    lambda: &I,
    now: DateTime<Utc>,
) -> Result<Value, CliError> {
    let req = request(args, caller_arn)?;
    let payload = serde_json::to_string(&req).map_err(|e| CliError::Usage(e.to_string()))?;
    let sealed = seal(signer, &args.key_id, Purpose::Release, payload, now).await.map_err(|e| CliError::Aws {
        what: format!("sealing the release with {} (only RELEASE_PRINCIPALS may; see SECURITY.md)", args.key_id),
        reason: e.to_string(),
    })?;
    let resp = lambda
        .invoke_sync(&args.dispatcher, sealed.to_json())
        .await
        .map_err(|e| CliError::Aws { what: format!("invoking {}", args.dispatcher), reason: e.to_string() })?;
    let answer: Value =
        serde_json::from_slice(&resp.payload).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&resp.payload).into()));
    if resp.function_error.is_some() {
        let msg = answer.get("errorMessage").and_then(Value::as_str).map_or_else(|| answer.to_string(), str::to_owned);
        return Err(CliError::Refused(msg));
    }
    Ok(answer)
}

/// The dispatcher's answer for a person. Every value in it is outside text (user and role names,
/// AWS error messages, the dispatcher's words): each goes through the one escaping path, so that
/// no line break or terminal control in it becomes a line or an escape of its own.
pub fn render(answer: &Value) -> String {
    let text = |v: &Value, default: &str| untrusted(v.as_str().unwrap_or(default));
    let mut out = String::new();
    let status = text(&answer["status"], "unknown");
    let _ = writeln!(out, "release {}: {status}", text(&answer["finding_id"], "?"));
    for o in answer["outcomes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "- {}: {} on {}: {}",
            text(&o["outcome"]["status"], "?").to_uppercase(),
            text(&o["action"]["type"], "?"),
            text(o["action"].get("user_name").or_else(|| o["action"].get("role_name")).unwrap_or(&Value::Null), "?"),
            text(&o["detail"], "")
        );
    }
    for r in answer["refusals"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "- REFUSED: {}", text(r, "?"));
    }
    for h in answer["human_actions"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "- BY HAND: {}", text(h, "?"));
    }
    out
}

/// Whether the answer means everything asked was done (or previewed).
pub fn succeeded(answer: &Value) -> bool {
    matches!(answer["status"].as_str(), Some("released" | "dry_run" | "nothing_to_release"))
}
