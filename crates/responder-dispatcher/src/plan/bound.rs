//! Every forward action on an IAM user is bound to the user CloudTrail confirmed, by IAM's unique
//! id: a name can be renamed (`iam:UpdateUser`, which a burst's own admin key can call) and given
//! to another user between the burst and the containment; the unique id and the keys cannot.
//! The id comes only from CloudTrail's own records of the principal's confirmed evidence
//! ([`Proven::principal_ids`]), never from the finding (the trail's log group can be forged), with
//! a long-term key those records show it using ([`Proven::access_keys`]): the handler finds the
//! user's current name through that key, checks `GetUser`'s `UserId` against the id, and acts on
//! the current name, or refuses and says so ([`BoundPrincipal`]).
//!
//! Records naming no id bind nothing: the handlers resolve the name as before. Records naming
//! more than one (a user deleted and made again under its name inside the window) take no action
//! by the name (quarantine, all keys, instances) and page a person with every id; the per-key
//! deactivations stay (a key's id is its identity).
//!
//! A role cannot be renamed, but it can be deleted and made again under its name (another
//! `RoleId`, another principal): every action on a role's resources (its sessions, its instances)
//! is bound to the `RoleId` CloudTrail's confirmed records carry as
//! `sessionContext.sessionIssuer.principalId` ([`Proven::role_ids`]); the handler compares it with
//! `GetRole`'s and refuses on a mismatch. Records naming two role ids (the role made again inside
//! the window) leave the role's actions to a person: which role launched is not one answer.

use launchguard_core::contract::{Action, BoundPrincipal};
use launchguard_core::evidence::Proven;
use launchguard_core::ids::{validate_role_id, validate_user_id};
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
            // Not one user: the name is held now by whichever was made last. Nothing goes by the
            // name (its quarantine, its keys by name, its instances); a key CloudTrail shows used
            // is still deactivated (its id is its identity, checked by the handler).
            let listed = many.iter().map(|id| launchguard_core::text::untrusted(id)).collect::<Vec<_>>().join(", ");
            let user_name = user_name.clone();
            let arn = match &p.principal {
                Principal::IamUser { arn, .. } => arn.clone(),
                _ => String::new(),
            };
            let before = p.actions.len();
            p.actions.retain(|a| !by_the_name(a, &arn, &user_name));
            let left = before - p.actions.len();
            let why = format!(
                "CloudTrail's confirmed records give {user_name} {} unique ids ({listed}): a user of that name was deleted and made again inside the window, and IAM's user {user_name} now is only one of them; {left} action(s) by the name were not taken (quarantine, all keys, instances): a person checks with `aws iam get-user --user-name {user_name}` which id holds the name, and contains each of {listed} by hand",
                many.len()
            );
            p.human = Some(match p.human.take() {
                Some(h) => format!("{why}; {h}"),
                None => why,
            });
            None
        }
    }
}

/// True when `a` acts on the user `arn` (`user_name`) by its name: its quarantine, all its keys,
/// its instances. A per-key deactivation is by the key's id.
fn by_the_name(a: &Action, arn: &str, user_name: &str) -> bool {
    match a {
        Action::QuarantineUser { user_name: u, .. } | Action::DeactivateUserAccessKeys { user_name: u, .. } => {
            u.eq_ignore_ascii_case(user_name)
        }
        Action::StopInstances { principal_arn, .. } | Action::TerminateInstances { principal_arn, .. } => principal_arn == arn,
        _ => false,
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

/// Bind `p`'s actions on its role's resources (the session revocation, its instances) to the role
/// CloudTrail's confirmed records name as the sessions' issuer, by `RoleId`
/// ([`BoundPrincipal`] with no key). Records with no role id bind nothing (the handler resolves
/// the name); one malformed id, or more than one, leaves the role's actions to a person (the plan
/// says why) rather than act on whichever role holds the name now. Returns the id bound to.
pub fn bind_to_the_confirmed_role(p: &mut PrincipalPlan, proven: &Proven) -> Option<String> {
    let Principal::AssumedRole { role_arn, role_name, .. } = p.principal.clone() else { return None };
    let ids: Vec<&String> = proven.role_ids.iter().collect();
    let id = match ids.as_slice() {
        [] => return None,
        [id] if validate_role_id(id).is_ok() => (*id).clone(),
        other => {
            let listed = other.iter().map(|id| launchguard_core::text::untrusted(id)).collect::<Vec<_>>().join(", ");
            let before = p.actions.len();
            p.actions.retain(|a| !on_the_role(a, &role_arn, &role_name));
            if p.actions.len() != before {
                let why = format!(
                    "CloudTrail's confirmed records give the sessions of {role_name} the issuer id(s) {listed}, not one IAM role id: the role was deleted and made again under the name (or the records are not a role's); nothing is done on the role {role_name} or its instances: a person checks with `aws iam get-role --role-name {role_name}` which role holds the name and contains the one that launched by hand"
                );
                p.human = Some(match p.human.take() {
                    Some(h) => format!("{why}; {h}"),
                    None => why,
                });
            }
            return None;
        }
    };
    let bound = BoundPrincipal { principal_id: id.clone(), access_key_id: None };
    for a in &mut p.actions {
        match a {
            Action::RevokeRoleSessions { role_name: r, bound: b, .. } if r.eq_ignore_ascii_case(&role_name) => *b = Some(bound.clone()),
            Action::StopInstances { principal_arn, bound: b, .. } | Action::TerminateInstances { principal_arn, bound: b, .. }
                if *principal_arn == role_arn =>
            {
                *b = Some(bound.clone());
            }
            _ => {}
        }
    }
    Some(id)
}

/// True when `a` acts on the role `role_arn` (`role_name`): its sessions, or its instances.
fn on_the_role(a: &Action, role_arn: &str, role_name: &str) -> bool {
    match a {
        Action::RevokeRoleSessions { role_name: r, .. } => r.eq_ignore_ascii_case(role_name),
        Action::StopInstances { principal_arn, .. } | Action::TerminateInstances { principal_arn, .. } => principal_arn == role_arn,
        _ => false,
    }
}
