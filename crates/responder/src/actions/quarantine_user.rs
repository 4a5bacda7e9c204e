//! Quarantine a user, and its reversal: release the quarantine, undoing exactly that.
//!
//! What: attach the managed quarantine policy (`QUARANTINE_POLICY_ARN`, AWS's
//! `AWSCompromisedKeyQuarantineV3` by default) and, beside it, the stack's guard
//! (`launchguard-quarantine-guard`, `policies/containment/`: no use of launchguard's keys and
//! functions, no role assumption, no policy change, no launch by any other route); when the
//! quarantine policy does not exist here, attach the stack's deny-all policy instead. Why this
//! way: attaching adds a deny without touching anything the user has, and no policy document is
//! ever written: the handler's role may attach only these policies (issue 32), so neither a
//! command nor a changed function can hand a user a permission.
//!
//! Checks: the user is resolved through IAM and checked on its real ARN (`crate::resolve`).
//! Already there (the policy and a guard, or the deny-all policy): `already_applied`, carrying
//! the reversal. The policy attached by someone else (a person, AWS's leaked-key response):
//! launchguard attaches the *other* guard, `launchguard-quarantine-guard-beside`.
//!
//! Reversal (`release_user_quarantine`, in this file: it undoes exactly the shapes [`quarantine`]
//! writes, so both change together): the handler reads what it placed from IAM, never from the
//! command. Which guard is attached is its record: the quarantine policy is detached only beside
//! `launchguard-quarantine-guard` (launchguard attached both), never beside the `-beside` guard.
//! The command's `previous_document` is never written and its `guard_only` never believed.

use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::IamEntity;
use launchguard_core::policy::{Containment, partition_of};

use crate::envelope::{Ctx, Stop};
use crate::function::{Setting, Spec};
use crate::ports::{UserManagedPolicies, Users};
use crate::resolve::resolve;

/// `quarantine_user`.
pub static QUARANTINE: Spec = Spec {
    name: "quarantine_user",
    reverses: None,
    permissions: &["iam:GetUser", "iam:ListAttachedUserPolicies", "iam:AttachUserPolicy"],
    settings: &[Setting::QuarantinePolicyArn],
};

/// `release_user_quarantine`: the reversal of [`QUARANTINE`].
pub static RELEASE: Spec = Spec {
    name: "release_user_quarantine",
    reverses: Some("quarantine_user"),
    permissions: &["iam:GetUser", "iam:ListAttachedUserPolicies", "iam:DetachUserPolicy"],
    settings: &[Setting::QuarantinePolicyArn],
};

/// The user an action names.
pub(crate) struct User<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) arn: &'a str,
    pub(crate) name: &'a str,
}

/// The stack's containment policies in the user's account and partition.
struct Ours {
    guard: String,
    beside: String,
    deny_all: String,
}

impl Ours {
    fn of(real: &str, account_id: &str) -> Self {
        let p = partition_of(real);
        Self {
            guard: Containment::Guard.arn(p, account_id),
            beside: Containment::GuardBeside.arn(p, account_id),
            deny_all: Containment::DenyAll.arn(p, account_id),
        }
    }
}

/// Whether the attach failed because the policy is not there (a partition or emulator without
/// it), as opposed to a failure that must be reported.
fn missing(e: &launchguard_aws::CallError) -> bool {
    matches!(e.code.as_deref(), Some("NoSuchEntity" | "PolicyNotAttachable"))
}

pub(crate) async fn quarantine<I: Users + UserManagedPolicies>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    user_arn: &str,
    user: &str,
) -> Result<ResponseOutcome, Stop> {
    let real = resolve(ctx, account_id, user_arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let policy = ctx.cfg.quarantine_policy_arn.as_str();
    let ours = Ours::of(&real, account_id);
    let release = |policy_arn: Option<String>, guard_only: bool| Action::ReleaseUserQuarantine {
        account_id: account_id.to_owned(),
        user_arn: real.clone(),
        user_name: user.to_owned(),
        policy_arn,
        previous_document: None,
        guard_only,
    };
    let attached = iam.attached_user_policies(user).await?;
    let has = |p: &str| attached.iter().any(|a| a == p);
    if has(policy) && (has(&ours.guard) || has(&ours.beside)) {
        return Ok(ctx.already(
            format!("user {user} already has {policy} and launchguard's guard attached"),
            release(Some(policy.to_owned()), !has(&ours.guard)),
        ));
    }
    if has(&ours.deny_all) {
        return Ok(
            ctx.already(format!("user {user} already has launchguard's deny-all policy {} attached", ours.deny_all), release(None, false))
        );
    }
    if has(policy) {
        // Attached by someone else (a person, AWS's leaked-key response): launchguard adds only
        // the other guard, whose name is the record that it must never detach the policy.
        if ctx.dry_run() {
            return Ok(ctx.outcome(
                OutcomeStatus::DryRun,
                format!("dry run: {policy} is attached to {real}; would attach the guard {}", ours.beside),
            ));
        }
        iam.attach_user_policy(user, &ours.beside).await?;
        return Ok(ctx.applied(
            format!("{policy} was already attached to {real} (not by launchguard: a release leaves it attached); attached launchguard's guard {} (no use of launchguard's keys and functions, no role assumption, no policy change, no launch by another route)", ours.beside),
            format!("aws iam detach-user-policy --user-name {user} --policy-arn {}", ours.beside),
            Some(release(Some(policy.to_owned()), true)),
        ));
    }
    if ctx.dry_run() {
        return Ok(ctx.outcome(
            OutcomeStatus::DryRun,
            format!("dry run: would attach {policy} and launchguard's guard to {real} (the deny-all {} if the policy does not exist here); its {} attached policies untouched", ours.deny_all, attached.len()),
        ));
    }
    match iam.attach_user_policy(user, policy).await {
        Ok(()) => {
            iam.attach_user_policy(user, &ours.guard).await?;
            Ok(ctx.applied(
                format!(
                    "attached {policy} and launchguard's guard {} to {real} (no use of launchguard's keys and functions, no role assumption, no policy change, no launch by another route); its {} other attached policies and its inline policies untouched",
                    ours.guard,
                    attached.len()
                ),
                format!(
                    "aws iam detach-user-policy --user-name {user} --policy-arn {policy} && aws iam detach-user-policy --user-name {user} --policy-arn {}",
                    ours.guard
                ),
                Some(release(Some(policy.to_owned()), false)),
            ))
        }
        Err(e) if missing(&e) => {
            iam.attach_user_policy(user, &ours.deny_all).await?;
            Ok(ctx.applied(
                format!(
                    "could not attach {policy} ({}); attached launchguard's deny-all policy {} to {real} instead; nothing else touched",
                    e.message, ours.deny_all
                ),
                format!("aws iam detach-user-policy --user-name {user} --policy-arn {}", ours.deny_all),
                Some(release(None, false)),
            ))
        }
        // LimitExceeded (the user holds the most managed policies IAM allows) is reported: no
        // inline document is ever written and no policy detached; the dispatcher deactivates every
        // active key of the user instead (`deactivate_user_access_keys`, SECURITY.md).
        Err(e) => Err(Stop::Fail(e)),
    }
}

pub(crate) async fn release<I: Users + UserManagedPolicies>(ctx: &Ctx<'_>, iam: &I, u: &User<'_>) -> Result<ResponseOutcome, Stop> {
    let (account_id, user) = (u.account_id, u.name);
    let real = resolve(ctx, account_id, u.arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let again =
        Action::QuarantineUser { account_id: account_id.to_owned(), user_arn: real.clone(), user_name: user.to_owned(), bound: None };
    let policy = ctx.cfg.quarantine_policy_arn.as_str();
    let ours = Ours::of(&real, account_id);
    let attached = iam.attached_user_policies(user).await?;
    let has = |p: &str| attached.iter().any(|a| a == p);
    // What launchguard placed, as IAM shows it: the quarantine policy only beside its own guard.
    let mut detach: Vec<&str> = Vec::new();
    if has(&ours.guard) {
        if has(policy) {
            detach.push(policy);
        }
        detach.push(&ours.guard);
    }
    if has(&ours.beside) {
        detach.push(&ours.beside);
    }
    if has(&ours.deny_all) {
        detach.push(&ours.deny_all);
    }
    let kept = if has(policy) && !detach.contains(&policy) {
        format!("; {policy} left attached: launchguard did not attach it")
    } else {
        String::new()
    };
    if detach.is_empty() {
        return Ok(
            ctx.outcome(OutcomeStatus::AlreadyApplied, format!("none of launchguard's quarantine policies is attached to {real}{kept}"))
        );
    }
    let what = format!("detached {} from {real}{kept}", detach.join(" and "));
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would have {what}")));
    }
    for p in &detach {
        iam.detach_user_policy(user, p).await?;
    }
    Ok(ctx.applied(format!("{what}; nothing else touched"), "quarantine the user again if needed".into(), Some(again)))
}
