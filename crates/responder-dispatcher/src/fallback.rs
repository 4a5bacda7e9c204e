//! When a confirmed user's quarantine cannot be applied: contain it by deactivating every active
//! access key it has instead. Pure: actions and outcomes in, actions and page lines out.
//!
//! A launcher whose stolen key may attach policies to itself can fill IAM's ten managed-policy
//! slots before it launches; the quarantine then fails with `LimitExceeded`, and the user's other
//! key (left active by design: `deactivate_access_key` stops only the key that was used) keeps
//! working. No launchguard role may detach someone's policies or write a document (issue 32), so
//! no room is made: the access-key handler sets every active key of the user `Inactive`
//! (`deactivate_user_access_keys`), with a reversal that reactivates exactly those keys.
//!
//! Only a failure a retry cannot help turns into this: a throttled or timed-out quarantine is
//! retried (the delivery answers a retryable error), never replaced. A refusal (a protected user,
//! a name IAM does not know) is not a failure: nothing is done instead.

use std::fmt::Write as _;

use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_core::text::untrusted;

use crate::ledger::target_of;

/// For each quarantine whose outcome failed for a reason a retry cannot help, the action that
/// contains its user instead: `deactivate_user_access_keys`, bound exactly as the quarantine was
/// (`bound`: the handler follows the confirmed key to the user's current name and checks its
/// unique id, so a user that filled its slots and renamed itself is still contained, and a name
/// given to someone else since is never acted on), and naming the keys CloudTrail confirmed the
/// user used (the plan's `deactivate_access_key` of that user: unbound, the handler refuses
/// unless IAM lists one of them under the user).
/// `done` pairs each action sent with its outcome (none while another delivery holds it); one
/// action per target.
pub fn instead(done: &[(&Action, Option<&ResponseOutcome>)]) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    for (a, o) in done {
        let Action::QuarantineUser { account_id, user_arn, user_name, bound } = a else { continue };
        if !o.is_some_and(|o| matches!(o.outcome, OutcomeStatus::Failed { retryable: false, .. })) {
            continue;
        }
        let used_keys: Vec<String> = done
            .iter()
            .filter_map(|(k, _)| match k {
                Action::DeactivateAccessKey { account_id: ka, access_key_id, user_name: Some(u), .. }
                    if ka == account_id && u.eq_ignore_ascii_case(user_name) =>
                {
                    Some(access_key_id.clone())
                }
                _ => None,
            })
            .take(launchguard_core::contract::MAX_USER_KEYS)
            .collect();
        let all = Action::DeactivateUserAccessKeys {
            account_id: account_id.clone(),
            user_arn: user_arn.clone(),
            user_name: user_name.clone(),
            used_keys,
            bound: bound.clone(),
        };
        if !out.iter().any(|x| target_of(x) == target_of(&all)) {
            out.push(all);
        }
    }
    out
}

/// The page's section for every quarantine replaced by the deactivation of all keys: that the
/// quarantine failed and why (IAM's code and message), what was done instead (how many keys, and
/// how to undo it), or that the user is not contained at all. Every outside value goes through
/// [`untrusted`].
pub fn page_section(b: &mut String, outcomes: &[ResponseOutcome]) {
    let mut first = true;
    for o in outcomes {
        let Action::DeactivateUserAccessKeys { account_id, user_name, .. } = &o.action else { continue };
        if first {
            let _ = writeln!(b, "\n!!! QUARANTINE FAILED: EVERY ACCESS KEY DEACTIVATED INSTEAD !!!");
            first = false;
        }
        let user = untrusted(user_name);
        let why = outcomes
            .iter()
            .find_map(|q| match (&q.action, &q.outcome) {
                (Action::QuarantineUser { account_id: qa, user_name: qu, .. }, OutcomeStatus::Failed { error, .. })
                    if qa == account_id && qu.eq_ignore_ascii_case(user_name) =>
                {
                    Some(untrusted(error))
                }
                _ => None,
            })
            .unwrap_or_else(|| "see its FAILED line above".to_owned());
        let _ = writeln!(b, "- user {user}: the quarantine could not be applied: {why}");
        match &o.outcome {
            OutcomeStatus::Applied => {
                let n = match &o.reversal {
                    Some(Action::ReactivateUserAccessKeys { access_key_ids, .. }) => access_key_ids.len(),
                    _ => 0,
                };
                let _ = writeln!(b, "  instead, all {n} active access key(s) of {user} were deactivated: {}", untrusted(&o.detail));
                if let Some(u) = &o.undo {
                    let _ = writeln!(b, "  undo by hand: {}", untrusted(u));
                }
            }
            OutcomeStatus::AlreadyApplied => {
                let _ = writeln!(b, "  instead, launchguard found no active access key of {user}: {}", untrusted(&o.detail));
            }
            OutcomeStatus::DryRun => {
                let _ = writeln!(b, "  instead, {}", untrusted(&o.detail));
            }
            OutcomeStatus::Refused { reason: why } | OutcomeStatus::Failed { error: why, .. } => {
                let _ = writeln!(
                    b,
                    "  launchguard could NOT deactivate its access keys either ({}): {user} IS NOT CONTAINED; deactivate its keys by hand (aws iam list-access-keys --user-name {user}, then aws iam update-access-key --user-name {user} --access-key-id KEY --status Inactive)",
                    untrusted(why)
                );
            }
        }
        let _ = writeln!(
            b,
            "  its console password (if any), and sessions its keys obtained until they expire, may still work: make room among its managed policies (aws iam list-attached-user-policies --user-name {user}) and quarantine it by hand"
        );
    }
}
