//! Quarantine a user, and its reversal: release the quarantine, undoing exactly that.
//!
//! What: attach the managed deny policy and, beside it, launchguard's guard (the managed policy
//! does not deny the user launchguard's own KMS keys and functions: the guard does, so a contained
//! user can never seal its own release); when the managed policy cannot be attached, put
//! launchguard's inline deny-all document (which denies those too). Why this way: attaching adds a deny without touching anything the user has;
//! an inline policy of launchguard's name is launchguard's only when it holds launchguard's exact
//! document, so a look-alike (even one that *allows* everything) never counts as quarantined.
//!
//! Checks: the user is resolved through IAM and checked on its real ARN (`crate::resolve`).
//! Already there (the policy attached and launchguard's exact guard, or launchguard's exact
//! inline document): `already_applied`, carrying the reversal. The policy attached by someone
//! else: launchguard adds only its guard, and the reversal says `guard_only`.
//!
//! Reversal (`release_user_quarantine`, in this file: it undoes exactly the shapes [`quarantine`]
//! writes, so both change together): detach the policy only when launchguard attached it (never
//! with `guard_only`), and remove the guard or the inline document only while it is exactly what
//! launchguard wrote, putting back the document it overwrote.

use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::IamEntity;
use launchguard_core::policy::{
    QUARANTINE_GUARD_POLICY, QUARANTINE_INLINE_POLICY, decode_document, is_launchguard_guard, is_launchguard_quarantine,
    quarantine_document, quarantine_guard_document,
};

use crate::envelope::{Ctx, Stop};
use crate::function::{Setting, Spec};
use crate::ports::{UserInlinePolicies, UserManagedPolicies, Users};
use crate::resolve::resolve;

/// `quarantine_user`.
pub static QUARANTINE: Spec = Spec {
    name: "quarantine_user",
    reverses: None,
    permissions: &["iam:GetUser", "iam:ListAttachedUserPolicies", "iam:GetUserPolicy", "iam:AttachUserPolicy", "iam:PutUserPolicy"],
    settings: &[Setting::QuarantinePolicyArn],
};

/// `release_user_quarantine`: the reversal of [`QUARANTINE`].
pub static RELEASE: Spec = Spec {
    name: "release_user_quarantine",
    reverses: Some("quarantine_user"),
    permissions: &[
        "iam:GetUser",
        "iam:ListAttachedUserPolicies",
        "iam:GetUserPolicy",
        "iam:DetachUserPolicy",
        "iam:PutUserPolicy",
        "iam:DeleteUserPolicy",
    ],
    settings: &[Setting::QuarantinePolicyArn],
};

/// The user an action names.
pub(crate) struct User<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) arn: &'a str,
    pub(crate) name: &'a str,
}

fn look_alike(real: &str, doc: &str) -> String {
    format!(
        "{real} has an inline policy named {QUARANTINE_INLINE_POLICY} not written by launchguard (it is not launchguard's deny-all document): {}",
        launchguard_core::error::cut(&decode_document(doc), 300)
    )
}

pub(crate) async fn quarantine<I: Users + UserManagedPolicies + UserInlinePolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    user_arn: &str,
    user: &str,
) -> Result<ResponseOutcome, Stop> {
    let real = resolve(ctx, account_id, user_arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let policy = ctx.cfg.quarantine_policy_arn.as_str();
    let release = |policy_arn: Option<String>, previous_document: Option<String>, guard_only: bool| Action::ReleaseUserQuarantine {
        account_id: account_id.to_owned(),
        user_arn: real.clone(),
        user_name: user.to_owned(),
        policy_arn,
        previous_document,
        guard_only,
    };
    let attached = iam.attached_user_policies(user).await?;
    let guard = iam.user_inline_policy(user, QUARANTINE_GUARD_POLICY).await?;
    let guarded = guard.as_deref().is_some_and(is_launchguard_guard);
    // A look-alike guard is overwritten; its document is kept for the reversal.
    let previous_guard = guard.filter(|_| !guarded).map(|d| decode_document(&d));
    if attached.iter().any(|p| p == policy) && guarded {
        return Ok(ctx.already(
            format!("user {user} already has {policy} attached and launchguard's guard {QUARANTINE_GUARD_POLICY}"),
            release(Some(policy.to_owned()), None, false),
        ));
    }
    if attached.iter().any(|p| p == policy) {
        // Attached by someone else (a person, AWS's leaked-key response): launchguard adds only
        // its guard, and its reversal removes only the guard, never the policy it did not attach.
        if ctx.dry_run() {
            return Ok(ctx.outcome(
                OutcomeStatus::DryRun,
                format!("dry run: {policy} is attached to {real}; would add the guard {QUARANTINE_GUARD_POLICY}"),
            ));
        }
        iam.put_user_policy(user, QUARANTINE_GUARD_POLICY, &quarantine_guard_document()).await?;
        let undo = match &previous_guard {
            Some(_) => "the release puts the previous document of the guard back".to_owned(),
            None => format!("aws iam delete-user-policy --user-name {user} --policy-name {QUARANTINE_GUARD_POLICY}"),
        };
        return Ok(ctx.applied(
            format!("{policy} was already attached to {real} (not by launchguard: a release leaves it attached); added launchguard's guard {QUARANTINE_GUARD_POLICY} (no use of launchguard's keys and functions)"),
            undo,
            Some(release(Some(policy.to_owned()), previous_guard, true)),
        ));
    }
    let inline = iam.user_inline_policy(user, QUARANTINE_INLINE_POLICY).await?;
    if inline.as_deref().is_some_and(is_launchguard_quarantine) {
        return Ok(ctx.already(
            format!("user {user} already has launchguard's inline deny-all policy {QUARANTINE_INLINE_POLICY}"),
            release(None, None, false),
        ));
    }
    let warnings: Vec<String> = inline.iter().map(|d| look_alike(&real, d)).collect();
    if ctx.dry_run() {
        let mut o = ctx.outcome(
            OutcomeStatus::DryRun,
            format!("dry run: would attach {policy} to {real} (inline {QUARANTINE_INLINE_POLICY} if it cannot be attached); its {} attached policies untouched", attached.len()),
        );
        o.warnings = warnings;
        return Ok(o);
    }
    let mut o = match iam.attach_user_policy(user, policy).await {
        Ok(()) => {
            // The managed policy does not deny launchguard's keys and functions: the guard does.
            iam.put_user_policy(user, QUARANTINE_GUARD_POLICY, &quarantine_guard_document()).await?;
            ctx.applied(
                format!(
                    "attached {policy} to {real} and put the guard {QUARANTINE_GUARD_POLICY} (no use of launchguard's keys and functions); its {} other attached policies and its inline policies untouched",
                    attached.len()
                ),
                format!(
                    "aws iam detach-user-policy --user-name {user} --policy-arn {policy} && aws iam delete-user-policy --user-name {user} --policy-name {QUARANTINE_GUARD_POLICY}"
                ),
                Some(release(Some(policy.to_owned()), previous_guard.clone(), false)),
            )
        }
        // The 10-policy limit, or a partition/emulator without the managed policy: inline instead.
        Err(e) if matches!(e.code.as_deref(), Some("LimitExceeded" | "NoSuchEntity" | "PolicyNotAttachable")) => {
            iam.put_user_policy(user, QUARANTINE_INLINE_POLICY, &quarantine_document()).await?;
            let (verb, undo) = match &inline {
                Some(_) => ("overwrote the look-alike", "the release puts the previous document back".to_owned()),
                None => ("put", format!("aws iam delete-user-policy --user-name {user} --policy-name {QUARANTINE_INLINE_POLICY}")),
            };
            ctx.applied(
                format!("could not attach {policy} ({}); {verb} inline deny-all policy {QUARANTINE_INLINE_POLICY} on {real} instead; nothing else touched", e.message),
                undo,
                // IAM returns inline documents URL-encoded: keep the document itself, to put back
                Some(release(None, inline.as_deref().map(decode_document), false)),
            )
        }
        Err(e) => return Err(Stop::Fail(e)),
    };
    o.warnings = warnings;
    Ok(o)
}

/// What a quarantine placed, as its reversal says.
pub(crate) enum Placed<'a> {
    /// launchguard attached this managed policy and put its guard beside it.
    Attached(&'a str),
    /// This managed policy was attached by someone else: launchguard put only its guard.
    GuardBeside(&'a str),
    /// launchguard put its inline deny-all policy.
    Inline,
}

pub(crate) async fn release<I: Users + UserManagedPolicies + UserInlinePolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    u: &User<'_>,
    placed: Placed<'_>,
    previous: Option<&str>,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, user) = (u.account_id, u.name);
    let real = resolve(ctx, account_id, u.arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let again = Action::QuarantineUser { account_id: account_id.to_owned(), user_arn: real.clone(), user_name: user.to_owned() };
    let (p, detach) = match placed {
        Placed::Attached(p) => (p, true),
        Placed::GuardBeside(p) => (p, false),
        Placed::Inline => return release_inline(ctx, iam, user, &real, previous, again).await,
    };
    if p != ctx.cfg.quarantine_policy_arn {
        return Err(Stop::Refuse(format!(
            "{p} is not the quarantine policy ({}): launchguard only detaches what it attached",
            ctx.cfg.quarantine_policy_arn
        )));
    }
    // Detached only when launchguard attached it; the guard goes only while it is exactly what
    // launchguard wrote.
    let attached = detach && iam.attached_user_policies(user).await?.iter().any(|a| a == p);
    let guard = iam.user_inline_policy(user, QUARANTINE_GUARD_POLICY).await?;
    let our_guard = guard.as_deref().is_some_and(is_launchguard_guard);
    let warnings: Vec<String> = (guard.is_some() && !our_guard)
        .then(|| format!("the inline policy {QUARANTINE_GUARD_POLICY} of {real} is not the document launchguard wrote: left in place"))
        .into_iter()
        .collect();
    let kept = if detach { String::new() } else { format!("; {p} left attached: launchguard did not attach it") };
    if !attached && !our_guard {
        let mut o = ctx.outcome(
            OutcomeStatus::AlreadyApplied,
            format!(
                "{} launchguard's guard is not there{kept}",
                if detach { format!("{p} is not attached to {user} and") } else { String::new() }
            ),
        );
        o.warnings = warnings;
        return Ok(o);
    }
    let guard_what = if previous.is_some() { "put back the previous document of" } else { "deleted" };
    let what = match attached {
        true => format!("detached {p} from {real} and {guard_what} launchguard's guard {QUARANTINE_GUARD_POLICY}"),
        false => format!("{guard_what} launchguard's guard {QUARANTINE_GUARD_POLICY} of {real}{kept}"),
    };
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would have {what}")));
    }
    if attached {
        iam.detach_user_policy(user, p).await?;
    }
    if our_guard {
        match previous {
            Some(doc) => iam.put_user_policy(user, QUARANTINE_GUARD_POLICY, doc).await?,
            None => iam.delete_user_policy(user, QUARANTINE_GUARD_POLICY).await?,
        }
    }
    let undo = match attached {
        true => format!("aws iam attach-user-policy --user-name {user} --policy-arn {p}"),
        false => "quarantine the user again if needed".to_owned(),
    };
    let mut o = ctx.applied(format!("{what}; nothing else touched"), undo, Some(again));
    o.warnings = warnings;
    Ok(o)
}

async fn release_inline<I: Users + UserManagedPolicies + UserInlinePolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    user: &str,
    real: &str,
    previous: Option<&str>,
    again: Action,
) -> Result<ResponseOutcome, Stop> {
    let Some(current) = iam.user_inline_policy(user, QUARANTINE_INLINE_POLICY).await? else {
        return Ok(ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{user} has no inline policy {QUARANTINE_INLINE_POLICY}")));
    };
    if !is_launchguard_quarantine(&current) {
        return Err(Stop::Refuse(format!(
            "the inline policy {QUARANTINE_INLINE_POLICY} of {real} is not the document launchguard wrote (someone changed it since): not touching it"
        )));
    }
    let what = match previous {
        Some(_) => format!("put back the previous document of the inline policy {QUARANTINE_INLINE_POLICY} of {real}"),
        None => format!("deleted the inline policy {QUARANTINE_INLINE_POLICY} of {real}"),
    };
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would have {what}")));
    }
    match previous {
        Some(doc) => iam.put_user_policy(user, QUARANTINE_INLINE_POLICY, doc).await?,
        None => iam.delete_user_policy(user, QUARANTINE_INLINE_POLICY).await?,
    }
    Ok(ctx.applied(format!("{what}; nothing else touched"), "quarantine the user again if needed".into(), Some(again)))
}
