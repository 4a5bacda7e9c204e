//! Every forward action on an IAM user is bound to the user CloudTrail confirmed, by IAM's unique
//! id: a name can be renamed (`iam:UpdateUser`, which a burst's own admin key can call) and given
//! to another user between the burst and the containment; the unique id and the keys cannot.
//! The id comes only from CloudTrail's own records of the principal's confirmed evidence
//! ([`Proven::principal_ids`]), never from the finding (the trail's log group can be forged), with
//! a long-term key those records show it using ([`Proven::access_keys`]): the handler finds the
//! user's current name through that key, checks `GetUser`'s `UserId` against the id, and acts on
//! the current name, or refuses and says so ([`BoundPrincipal`]).
//!
//! Records naming no id, or more than one (a user deleted and made again under its name inside
//! the window), bind nothing: the handlers resolve the name as before, and the plan says why.
//! Roles are not bound here (a role cannot be renamed; its reversals carry its `RoleId`).

use launchguard_core::contract::{Action, BoundPrincipal};
use launchguard_core::evidence::Proven;
use launchguard_core::ids::validate_user_id;
use launchguard_core::principal::{KeyKind, Principal};

use super::PrincipalPlan;

/// IAM's unique id of `p`'s user as CloudTrail's confirmed records carry it, when they name
/// exactly one well-formed user id.
fn confirmed_user_id(p: &mut PrincipalPlan, proven: &Proven) -> Option<String> {
    let Principal::IamUser { user_name, .. } = &p.principal else { return None };
    let ids: Vec<&String> = proven.principal_ids.iter().collect();
    match ids.as_slice() {
        [] => None,
        [id] if validate_user_id(id).is_ok() => Some((*id).clone()),
        [id] => {
            p.notes.push(format!(
                "CloudTrail's confirmed records give {user_name} the principal id {}, which is not an IAM user's unique id: the actions resolve the name {user_name} as IAM gives it now",
                launchguard_core::text::untrusted(id)
            ));
            None
        }
        many => {
            p.notes.push(format!(
                "CloudTrail's confirmed records give {user_name} {} unique ids ({}): a user of that name was deleted and made again; the actions resolve the name {user_name} as IAM gives it now: check which user holds it",
                many.len(),
                many.iter().map(|id| launchguard_core::text::untrusted(id)).collect::<Vec<_>>().join(", ")
            ));
            None
        }
    }
}

/// Bind `p`'s actions on its IAM user (its keys, its quarantine, its instances, the creator of
/// the keys it created) to the user CloudTrail's confirmed records name ([`BoundPrincipal`]).
/// Returns the id bound to, for the page and the record.
pub fn bind_to_the_confirmed_user(p: &mut PrincipalPlan, proven: &Proven) -> Option<String> {
    let id = confirmed_user_id(p, proven)?;
    let Principal::IamUser { arn, user_name, .. } = p.principal.clone() else { return None };
    // a long-term key: only its owner can be found through GetAccessKeyLastUsed
    let key = proven.access_keys.iter().find(|k| KeyKind::of(k) == KeyKind::LongTerm).cloned();
    let bound = BoundPrincipal { principal_id: id.clone(), access_key_id: key };
    for a in &mut p.actions {
        match a {
            Action::DeactivateAccessKey { user_name: Some(u), bound: b, .. } if u.eq_ignore_ascii_case(&user_name) => {
                *b = Some(bound.clone());
            }
            Action::QuarantineUser { user_name: u, bound: b, .. } if u.eq_ignore_ascii_case(&user_name) => *b = Some(bound.clone()),
            Action::StopInstances { principal_arn, bound: b, .. } | Action::TerminateInstances { principal_arn, bound: b, .. }
                if *principal_arn == arn =>
            {
                *b = Some(bound.clone());
            }
            Action::DeactivateCreatedAccessKey { created_by, created_by_id, .. } if *created_by == arn => *created_by_id = Some(id.clone()),
            _ => {}
        }
    }
    Some(id)
}
