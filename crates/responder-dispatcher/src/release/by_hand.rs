//! What a person checks, and undoes by hand, when launchguard cannot tell whether it made a change,
//! or cannot prove whose containment an entry without an IAM unique id would undo.

use launchguard_core::contract::{Action, OutcomeStatus};
use launchguard_core::policy::{Containment, DEFAULT_QUARANTINE_POLICY_ARN, partition_of};

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
    format!(
        "{} (finding {}, {}): launchguard cannot tell whether it made this change, because {why}; it was not undone: {}",
        e.action.target(),
        e.finding_id,
        e.action.name(),
        steps(e)
    )
}

/// For a person: the entry `e` of a user or role with no IAM unique id (written before the ledger
/// kept ids, or IAM did not answer its handler). Its reversal names the principal by name, and a
/// name can be renamed or given to another principal since: the id of whoever holds the name now
/// (what a handler's dry run reports) does not prove that principal is the one `e` contained, so
/// launchguard never undoes it by itself, and never closes it.
pub(crate) fn no_id(e: &ActionEntry) -> String {
    format!(
        "{} (finding {}, {}): launchguard's ledger has no IAM unique id for this entry (written before it kept ids, or IAM did not answer its handler), so launchguard cannot prove that whoever holds the name now is the principal it contained (a name can be renamed, or given to another user or role): it was not undone, and stays open; a person checks in CloudTrail (launchguard's handler's call for finding {}) which principal, by unique id, launchguard contained, that it holds this name now (`aws iam get-user`/`get-role`), and that no other containment of it relies on the change, then: {}",
        e.action.target(),
        e.finding_id,
        e.action.name(),
        e.finding_id,
        steps(e)
    )
}

/// What a person checks, and the commands that undo launchguard's change of `e` (every value
/// shell-quoted).
fn steps(e: &ActionEntry) -> String {
    match &e.action {
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
        Action::QuarantineUser { account_id, user_arn, user_name, .. } => {
            let policy = match &e.reversal {
                Some(Action::ReleaseUserQuarantine { policy_arn: Some(p), .. }) => p.clone(),
                _ => DEFAULT_QUARANTINE_POLICY_ARN.to_owned(),
            };
            let ours = |c: Containment| c.arn(partition_of(user_arn), account_id);
            format!(
                "check `aws iam list-attached-user-policies --user-name {u}` and CloudTrail AttachUserPolicy by launchguard-iam-handler; undo only what launchguard added: `aws iam detach-user-policy --user-name {u} --policy-arn {g}` or `--policy-arn {b}` (its guard), `aws iam detach-user-policy --user-name {u} --policy-arn {p}` (only if launchguard attached it: never beside {b}), `aws iam detach-user-policy --user-name {u} --policy-arn {d}` (if launchguard attached it)",
                u = q(user_name),
                p = q(&policy),
                g = q(&ours(Containment::Guard)),
                b = q(&ours(Containment::GuardBeside)),
                d = q(&ours(Containment::DenyAll)),
            )
        }
        Action::DeactivateUserAccessKeys { user_name, .. } => {
            let keys = match &e.reversal {
                Some(Action::ReactivateUserAccessKeys { access_key_ids, .. }) => {
                    format!(" (launchguard reported deactivating {})", access_key_ids.iter().map(|k| q(k)).collect::<Vec<_>>().join(", "))
                }
                _ => String::new(),
            };
            format!(
                "check `aws iam list-access-keys --user-name {u}` and CloudTrail UpdateAccessKey by launchguard-accesskey-handler{keys}; reactivate only the keys launchguard deactivated, and only if {u} must keep them: `aws iam update-access-key --user-name {u} --access-key-id KEY --status Active`",
                u = q(user_name),
            )
        }
        Action::RevokeRoleSessions { account_id, role_arn, role_name, .. } => format!(
            "check `aws iam list-attached-role-policies --role-name {r}` and CloudTrail AttachRolePolicy by launchguard-iam-handler; if launchguard attached it and the role's sessions must work again: `aws iam detach-role-policy --role-name {r} --policy-arn {p}`",
            r = q(role_name),
            p = q(&Containment::RoleSessions.arn(partition_of(role_arn), account_id))
        ),
        other => format!("check {} by hand", other.target()),
    }
}
