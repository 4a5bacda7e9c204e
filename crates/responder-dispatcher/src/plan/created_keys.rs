//! The access keys a contained principal created (`CreateAccessKey`, read from the finding's
//! `activity.created`): each one is deactivated, for whichever user it was created, with the
//! access-key handler's `deactivate_created_access_key` (the same exact-key, ownership and
//! protection checks as any key, and the key must not predate the call).
//!
//! Only for principals launchguard contains (the callers of this module): a protected principal's,
//! AWS's or a person-handled principal's creations are named in the notification, never acted on.
//! A key created for a protected user is not sent: a person must rotate it, and the plan says so.

use launchguard_core::contract::{Action, FlaggedPrincipal};
use launchguard_core::created::Created;
use launchguard_core::guard::Guard;

use super::PrincipalPlan;

/// Add one `deactivate_created_access_key` per key `f` created (when `enabled`), and a note for
/// what it created that is not acted on (users; keys the playbook leaves).
pub(super) fn created_key_actions(p: &mut PrincipalPlan, f: &FlaggedPrincipal, enabled: bool, guard: &Guard, account_id: &str, by: &str) {
    let mut left: Vec<String> = Vec::new();
    // Only for a principal launchguard contains (notify-only playbooks contain nobody), and whose
    // ARN is IAM's own: a derived ARN (no path) could hide a protection by path.
    let why_not = if p.actions.is_empty() {
        Some("launchguard takes no containment action on it (LG_USER_ACTIONS / LG_ROLE_ACTIONS)")
    } else if f.principal.arn_derived() {
        Some("its ARN was derived from the record, so its protections cannot be checked here")
    } else {
        None
    };
    let enabled = enabled && why_not.is_none();
    let carried = f.activity.created.len() as u64;
    if let Some(total) = f.activity.totals.get("created").copied().filter(|t| *t > carried) {
        p.notes.push(format!(
            "CRITICAL: it created {total} users or access keys and the finding carries {carried}: find the rest (CloudTrail CreateAccessKey and CreateUser by {by}) and deactivate the keys by hand"
        ));
    }
    for c in &f.activity.created {
        let Created::AccessKey { access_key_id, user_name, created_at } = c else {
            left.push(c.label());
            continue;
        };
        if !enabled {
            left.push(c.label());
            continue;
        }
        let owner = format!("arn:aws:iam::{account_id}:user/{user_name}");
        if let Err(reason) = guard.check_principal(&owner) {
            p.notes.push(format!(
                "CRITICAL: it created access key {access_key_id} for {user_name}, which launchguard never changes ({reason}): rotate it by hand now (`aws iam update-access-key --user-name {} --access-key-id {} --status Inactive`)",
                crate::notify::shell_word(user_name),
                crate::notify::shell_word(access_key_id)
            ));
            continue;
        }
        p.actions.push(Action::DeactivateCreatedAccessKey {
            account_id: account_id.to_owned(),
            access_key_id: access_key_id.clone(),
            user_name: user_name.clone(),
            created_by: by.to_owned(),
            created_at: *created_at,
            created_by_id: None,
        });
    }
    if !left.is_empty() {
        p.notes.push(format!(
            "what it created is left for a person to review (launchguard does not delete users{}): {}",
            match why_not {
                Some(why) => format!(", and leaves its keys: {why}"),
                None => " or keys".to_owned(),
            },
            left.join(", ")
        ));
    }
}
