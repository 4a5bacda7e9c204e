//! Quarantine a user, and undo exactly that.
//!
//! What: attach the managed deny policy and, beside it, launchguard's guard (the managed policy
//! does not deny the user launchguard's own KMS keys and functions: the guard does, so a contained
//! user can never seal its own release); when the managed policy cannot be attached, put
//! launchguard's inline deny-all document (which denies those too). Why this way: attaching adds a deny without touching anything the user has;
//! an inline policy of launchguard's name is launchguard's only when it holds launchguard's exact
//! document, so a look-alike (even one that *allows* everything) never counts as quarantined.

use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::IamEntity;
use launchguard_core::policy::{
    QUARANTINE_GUARD_POLICY, QUARANTINE_INLINE_POLICY, decode_document, is_launchguard_guard, is_launchguard_quarantine,
    quarantine_document, quarantine_guard_document,
};

use crate::resolve::resolve;
use crate::{Ctx, Stop, UserPolicies};

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

pub(crate) async fn quarantine<I: UserPolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    user_arn: &str,
    user: &str,
) -> Result<ResponseOutcome, Stop> {
    let real = resolve(ctx, account_id, user_arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let policy = ctx.cfg.quarantine_policy_arn.as_str();
    let release = |policy_arn: Option<String>, previous_document: Option<String>| Action::ReleaseUserQuarantine {
        account_id: account_id.to_owned(),
        user_arn: real.clone(),
        user_name: user.to_owned(),
        policy_arn,
        previous_document,
    };
    let attached = iam.attached_user_policies(user).await?;
    let guarded = iam.user_inline_policy(user, QUARANTINE_GUARD_POLICY).await?.as_deref().is_some_and(is_launchguard_guard);
    if attached.iter().any(|p| p == policy) && guarded {
        return Ok(ctx.already(
            format!("user {user} already has {policy} attached and launchguard's guard {QUARANTINE_GUARD_POLICY}"),
            release(Some(policy.to_owned()), None),
        ));
    }
    if attached.iter().any(|p| p == policy) {
        // Attached by someone else (or an earlier attempt that stopped half-way): add the guard.
        if ctx.dry_run() {
            return Ok(ctx.outcome(
                OutcomeStatus::DryRun,
                format!("dry run: {policy} is attached to {real}; would add the guard {QUARANTINE_GUARD_POLICY}"),
            ));
        }
        iam.put_user_policy(user, QUARANTINE_GUARD_POLICY, &quarantine_guard_document()).await?;
        return Ok(ctx.applied(
            format!("{policy} was already attached to {real}; added launchguard's guard {QUARANTINE_GUARD_POLICY} (no use of launchguard's keys and functions)"),
            format!("aws iam delete-user-policy --user-name {user} --policy-name {QUARANTINE_GUARD_POLICY}"),
            Some(release(Some(policy.to_owned()), None)),
        ));
    }
    let inline = iam.user_inline_policy(user, QUARANTINE_INLINE_POLICY).await?;
    if inline.as_deref().is_some_and(is_launchguard_quarantine) {
        return Ok(ctx.already(
            format!("user {user} already has launchguard's inline deny-all policy {QUARANTINE_INLINE_POLICY}"),
            release(None, None),
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
                Some(release(Some(policy.to_owned()), None)),
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
                Some(release(None, inline.clone())),
            )
        }
        Err(e) => return Err(Stop::Fail(e)),
    };
    o.warnings = warnings;
    Ok(o)
}

pub(crate) async fn release<I: UserPolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    u: &User<'_>,
    policy_arn: Option<&str>,
    previous: Option<&str>,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, user) = (u.account_id, u.name);
    let real = resolve(ctx, account_id, u.arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let again = Action::QuarantineUser { account_id: account_id.to_owned(), user_arn: real.clone(), user_name: user.to_owned() };
    if let Some(p) = policy_arn {
        if p != ctx.cfg.quarantine_policy_arn {
            return Err(Stop::Refuse(format!(
                "{p} is not the quarantine policy ({}): launchguard only detaches what it attached",
                ctx.cfg.quarantine_policy_arn
            )));
        }
        let attached = iam.attached_user_policies(user).await?.iter().any(|a| a == p);
        // The guard goes only while it is exactly what launchguard wrote.
        let guard = iam.user_inline_policy(user, QUARANTINE_GUARD_POLICY).await?;
        let our_guard = guard.as_deref().is_some_and(is_launchguard_guard);
        if !attached && !our_guard {
            return Ok(
                ctx.outcome(OutcomeStatus::AlreadyApplied, format!("{p} is not attached to {user} and launchguard's guard is not there"))
            );
        }
        if ctx.dry_run() {
            return Ok(ctx.outcome(
                OutcomeStatus::DryRun,
                format!("dry run: would detach {p} from {real} and delete the guard {QUARANTINE_GUARD_POLICY}"),
            ));
        }
        if attached {
            iam.detach_user_policy(user, p).await?;
        }
        if our_guard {
            iam.delete_user_policy(user, QUARANTINE_GUARD_POLICY).await?;
        }
        let mut o = ctx.applied(
            format!("detached {p} from {real} and deleted launchguard's guard {QUARANTINE_GUARD_POLICY}; nothing else touched"),
            format!("aws iam attach-user-policy --user-name {user} --policy-arn {p}"),
            Some(again),
        );
        if guard.is_some() && !our_guard {
            o.warnings.push(format!(
                "the inline policy {QUARANTINE_GUARD_POLICY} of {real} is not the document launchguard wrote: left in place"
            ));
        }
        return Ok(o);
    }
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
