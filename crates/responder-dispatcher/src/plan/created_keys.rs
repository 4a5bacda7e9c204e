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
                "CRITICAL: it created access key {access_key_id} for {user_name}, which launchguard never changes ({reason}): rotate it by hand now (`aws iam update-access-key --user-name {user_name} --access-key-id {access_key_id} --status Inactive`)"
            ));
            continue;
        }
        p.actions.push(Action::DeactivateCreatedAccessKey {
            account_id: account_id.to_owned(),
            access_key_id: access_key_id.clone(),
            user_name: user_name.clone(),
            created_by: by.to_owned(),
            created_at: *created_at,
        });
    }
    if !left.is_empty() {
        p.notes.push(format!(
            "what it created is left for a person to review (launchguard does not delete users or keys): {}",
            left.join(", ")
        ));
    }
}
