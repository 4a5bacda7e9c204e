//! Revoke a role's sessions, and its reversal: restore them, undoing exactly that.
//!
//! What: the inline role policy `launchguard-revoke-sessions` denies everything to sessions issued
//! before a cut-off; a later request moves the cut-off forward, never back. Why this way: it is
//! the console's "revoke active sessions", reversible, and touches nothing else of the role. The
//! policy is launchguard's only when it holds launchguard's exact document: a look-alike (one that
//! denies a single action, say) is overwritten, and its document kept for the reversal. The
//! reversal puts the previous document back (an older cut-off, or the look-alike), or removes the
//! policy when launchguard created it, and only while the role still holds what launchguard wrote:
//! a newer cut-off is never removed by the release of an older one.
//!
//! Checks: a cut-off more than 5 minutes in the future is refused; the role is resolved through
//! IAM and checked on its real ARN (`crate::resolve`; service-linked roles are refused). Already
//! there (launchguard's exact document with a cut-off as late, or one that covers the finding's
//! activity): `already_applied`, carrying the reversal. The reversal (`restore_role_sessions`)
//! is in this file: it must recognise exactly the document [`revoke`] writes.

use chrono::{DateTime, Utc};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::IamEntity;
use launchguard_core::policy::{REVOKE_SESSIONS_POLICY, decode_document, launchguard_cutoff, revoke_sessions_document, same_document};
use launchguard_core::time::format_utc;

use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{RoleInlinePolicies, Roles};
use crate::resolve::resolve;

/// `revoke_role_sessions`.
pub static REVOKE: Spec = Spec {
    name: "revoke_role_sessions",
    reverses: None,
    permissions: &["iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy"],
    settings: &[],
};

/// `restore_role_sessions`: the reversal of [`REVOKE`].
pub static RESTORE: Spec = Spec {
    name: "restore_role_sessions",
    reverses: Some("revoke_role_sessions"),
    permissions: &["iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
    settings: &[],
};

/// The role an action names.
pub(crate) struct Role<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) arn: &'a str,
    pub(crate) name: &'a str,
}

pub(crate) async fn revoke<I: Roles + RoleInlinePolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    r: &Role<'_>,
    before: DateTime<Utc>,
    covers: Option<DateTime<Utc>>,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, role) = (r.account_id, r.name);
    if before > ctx.now + chrono::Duration::minutes(5) {
        return Err(Stop::Refuse(format!("issued_before {before} is in the future: that would also deny sessions not yet issued")));
    }
    let real = resolve(ctx, account_id, r.arn, role, IamEntity::Role, iam.role_arn(role)).await?;
    let restore = |written: String, previous: Option<String>| Action::RestoreRoleSessions {
        account_id: account_id.to_owned(),
        role_arn: real.clone(),
        role_name: role.to_owned(),
        written_document: Some(written),
        previous_document: previous,
    };
    let existing = iam.role_inline_policy(role, REVOKE_SESSIONS_POLICY).await?;
    let existing_before = existing.as_deref().and_then(launchguard_cutoff);
    if let Some(t) = existing_before {
        let in_place = || restore(revoke_sessions_document(t), None);
        if t >= before {
            return Ok(ctx.already(format!("sessions of {real} issued before {t} are already revoked (never moved back)"), in_place()));
        }
        if let Some(c) = covers
            && t > c
        {
            return Ok(ctx.already(
                format!(
                    "sessions of {real} issued before {t} are already revoked: that covers every session active in this finding (last seen {c})"
                ),
                in_place(),
            ));
        }
    }
    let warnings: Vec<String> = match (&existing, existing_before) {
        (Some(doc), None) => vec![format!(
            "{real} had an inline policy named {REVOKE_SESSIONS_POLICY} not written by launchguard (it is not launchguard's deny-all cut-off document); launchguard overwrote it and keeps it for the release: {}",
            launchguard_core::error::cut(&decode_document(doc), 300)
        )],
        _ => Vec::new(),
    };
    let moved = existing_before.map(|t| format!(" (moved forward from {t})")).unwrap_or_default();
    if ctx.dry_run() {
        let mut o = ctx
            .outcome(OutcomeStatus::DryRun, format!("dry run: would deny sessions of {real} issued before {}{moved}", format_utc(before)));
        o.warnings = warnings;
        return Ok(o);
    }
    let doc = revoke_sessions_document(before);
    iam.put_role_policy(role, REVOKE_SESSIONS_POLICY, &doc).await?;
    let undo = match &existing {
        None => format!("aws iam delete-role-policy --role-name {role} --policy-name {REVOKE_SESSIONS_POLICY}"),
        Some(_) => "the release puts the previous document back".to_owned(),
    };
    let mut o = ctx.applied(
        format!(
            "sessions of {real} issued before {} are denied by the inline policy {REVOKE_SESSIONS_POLICY}{moved}; the role's other policies untouched",
            format_utc(before)
        ),
        undo,
        Some(restore(doc, existing.map(|d| decode_document(&d)))),
    );
    o.warnings = warnings;
    Ok(o)
}

pub(crate) async fn restore<I: Roles + RoleInlinePolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    r: &Role<'_>,
    written: Option<&str>,
    previous: Option<&str>,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, role) = (r.account_id, r.name);
    let real = resolve(ctx, account_id, r.arn, role, IamEntity::Role, iam.role_arn(role)).await?;
    let Some(written) = written else {
        return Err(Stop::Refuse(format!(
            "the reversal does not say which document launchguard wrote on {real}: restore by hand (aws iam get-role-policy --role-name {role} --policy-name {REVOKE_SESSIONS_POLICY})"
        )));
    };
    let Some(current) = iam.role_inline_policy(role, REVOKE_SESSIONS_POLICY).await? else {
        return Ok(
            ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{real} has no inline policy {REVOKE_SESSIONS_POLICY}: nothing to undo"))
        );
    };
    if !same_document(&current, written) {
        return Err(Stop::Refuse(format!(
            "the inline policy {REVOKE_SESSIONS_POLICY} of {real} is not the document launchguard wrote (a newer cut-off, or someone changed it): not touching it"
        )));
    }
    let what = match previous.and_then(launchguard_cutoff) {
        Some(t) => format!("moved the session cut-off of {real} back to the previous one, {}", format_utc(t)),
        None if previous.is_some() => format!("put back the previous document of the inline policy {REVOKE_SESSIONS_POLICY} of {real}"),
        None => format!("deleted the inline policy {REVOKE_SESSIONS_POLICY} of {real}: its sessions work again"),
    };
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would have {what}")));
    }
    match previous {
        Some(doc) => iam.put_role_policy(role, REVOKE_SESSIONS_POLICY, doc).await?,
        None => iam.delete_role_policy(role, REVOKE_SESSIONS_POLICY).await?,
    }
    Ok(ctx.applied(what, "revoke the role's sessions again if needed".into(), None))
}
