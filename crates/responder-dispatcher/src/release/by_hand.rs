//! What a person checks, and undoes by hand, when launchguard cannot tell whether it made a change.

use launchguard_core::contract::{Action, OutcomeStatus};
use launchguard_core::policy::{DEFAULT_QUARANTINE_POLICY_ARN, QUARANTINE_GUARD_POLICY, QUARANTINE_INLINE_POLICY, REVOKE_SESSIONS_POLICY};

use crate::ledger::{ActionEntry, EntryState};

fn q(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| "'?'".to_owned(), |c| c.into_owned())
}

/// The human action for an entry whose owner is unknown: what happened, what to check, and the
/// commands that undo launchguard's change (every value shell-quoted).
pub(crate) fn unknown_change(e: &ActionEntry) -> String {
    let why = match (&e.state, e.outcome.as_ref().map(|o| &o.outcome)) {
        (EntryState::Claimed, _) => format!(
            "the delivery that claimed it at {} stopped before recording an outcome",
            e.claimed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        (_, Some(OutcomeStatus::Failed { error, .. })) => format!("it failed ({})", launchguard_core::error::cut(error, 200)),
        (_, Some(OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied)) => match &e.reversal {
            Some(Action::ReleaseUserQuarantine { policy_arn: Some(p), guard_only: true, .. }) => format!(
                "an earlier attempt stopped while acting, and the retry found {p} already attached (it may be launchguard's own attachment)"
            ),
            _ => "an earlier attempt stopped while acting, and a later one found the change (or part of it) already in place".to_owned(),
        },
        _ => "an earlier attempt stopped while acting".to_owned(),
    };
    let steps = match &e.action {
        Action::DeactivateAccessKey { access_key_id, user_name: Some(u), .. } => format!(
            "check `aws iam list-access-keys --user-name {u}` and CloudTrail UpdateAccessKey by launchguard-accesskey-handler; if launchguard deactivated it and it must work again: `aws iam update-access-key --user-name {u} --access-key-id {k} --status Active`",
            u = q(u),
            k = q(access_key_id)
        ),
        Action::DeactivateCreatedAccessKey { access_key_id, user_name: u, created_by, .. } => format!(
            "check `aws iam list-access-keys --user-name {u}` and CloudTrail UpdateAccessKey by launchguard-accesskey-handler; the key was created by {c}: reactivate it only if launchguard deactivated it and its user needs it (`aws iam update-access-key --user-name {u} --access-key-id {k} --status Active`)",
            u = q(u),
            k = q(access_key_id),
            c = q(created_by)
        ),
        Action::DeactivateAccessKey { access_key_id, user_name: None, .. } => format!(
            "find its user (`aws iam get-access-key-last-used --access-key-id {k}`) and check CloudTrail UpdateAccessKey by launchguard-accesskey-handler; reactivate it only if launchguard deactivated it",
            k = q(access_key_id)
        ),
        Action::QuarantineUser { user_name, .. } => {
            let policy = match &e.reversal {
                Some(Action::ReleaseUserQuarantine { policy_arn: Some(p), .. }) => p.clone(),
                _ => DEFAULT_QUARANTINE_POLICY_ARN.to_owned(),
            };
            format!(
                "check `aws iam list-attached-user-policies --user-name {u}` and `aws iam list-user-policies --user-name {u}`, and CloudTrail AttachUserPolicy/PutUserPolicy by launchguard-iam-handler; undo only what launchguard added: `aws iam delete-user-policy --user-name {u} --policy-name {QUARANTINE_GUARD_POLICY}`, `aws iam detach-user-policy --user-name {u} --policy-arn {p}` (if launchguard attached it), `aws iam delete-user-policy --user-name {u} --policy-name {QUARANTINE_INLINE_POLICY}` (if launchguard put it)",
                u = q(user_name),
                p = q(&policy)
            )
        }
        Action::RevokeRoleSessions { role_name, .. } => format!(
            "check `aws iam get-role-policy --role-name {r} --policy-name {REVOKE_SESSIONS_POLICY}` and CloudTrail PutRolePolicy by launchguard-iam-handler; if launchguard wrote it and the role's sessions must work again: `aws iam delete-role-policy --role-name {r} --policy-name {REVOKE_SESSIONS_POLICY}`",
            r = q(role_name)
        ),
        other => format!("check {} by hand", other.target()),
    };
    format!(
        "{} (finding {}, {}): launchguard cannot tell whether it made this change, because {why}; it was not undone: {steps}",
        e.action.target(),
        e.finding_id,
        e.action.name()
    )
}
