//! Resolving a user or role through IAM and checking it before any write.

use std::future::Future;

use launchguard_aws::CallError;
use launchguard_core::contract::{ANOTHER_PRINCIPAL, BoundPrincipal, MovedIntoProtection, PROTECTED_TAG};
use launchguard_core::ids::{IamArn, IamEntity, validate_account_id};
use launchguard_core::principal::{is_identity_center_role, is_service_linked_role};

use crate::envelope::{Ctx, Stop};
use crate::ports::{AccessKeys, Roles, Users};

/// Check the request's ARN and name against each other, the account and the guard, then resolve
/// the real ARN through IAM and check that too. Returns the real ARN.
pub(crate) async fn resolve(
    ctx: &Ctx<'_>,
    account_id: &str,
    arn: &str,
    name: &str,
    entity: IamEntity,
    real: impl Future<Output = Result<Option<String>, CallError>>,
) -> Result<String, Stop> {
    validate_account_id(account_id).map_err(|e| Stop::Refuse(e.to_string()))?;
    ctx.cfg.guard.check_account(account_id).map_err(Stop::Refuse)?;
    let parsed = IamArn::parse(arn).map_err(|e| Stop::Refuse(e.to_string()))?;
    let kind = if entity == IamEntity::User { "user" } else { "role" };
    if parsed.entity != entity {
        return Err(Stop::Refuse(format!("{arn} is not a {kind} ARN")));
    }
    if parsed.name != name || parsed.account_id != account_id {
        return Err(Stop::Refuse(format!("{arn} does not name {kind} {name} in account {account_id}")));
    }
    if entity == IamEntity::Role && is_service_linked_role(arn, name) {
        return Err(Stop::Refuse(format!("{arn} is a service-linked role: AWS manages it, launchguard never changes it")));
    }
    ctx.cfg.guard.check_principal(arn).map_err(Stop::Refuse)?;
    let real = real.await?.ok_or_else(|| Stop::Refuse(format!("{kind} {name} does not exist in account {account_id}")))?;
    let real_parsed = IamArn::parse(&real).map_err(|e| Stop::Refuse(format!("IAM returned an unexpected ARN: {e}")))?;
    // IAM names are unique without regard to case; IAM answers with the name's own case
    if !real_parsed.name.eq_ignore_ascii_case(name) || real_parsed.account_id != account_id || real_parsed.entity != entity {
        return Err(Stop::Refuse(format!("IAM says {kind} {name} is {real}, which does not match {arn}")));
    }
    if parsed.path != "/" && parsed.path != real_parsed.path {
        return Err(Stop::Refuse(format!("{arn} has path {}, but the {kind} is {real}", parsed.path)));
    }
    if entity == IamEntity::Role && is_service_linked_role(&real, name) {
        return Err(Stop::Refuse(format!("{real} is a service-linked role: AWS manages it, launchguard never changes it")));
    }
    if entity == IamEntity::Role && is_identity_center_role(&real, name) {
        return Err(Stop::Refuse(format!(
            "{real} is an IAM Identity Center permission set role: a person behind it is handled in Identity Center, launchguard never changes it"
        )));
    }
    ctx.cfg.guard.check_principal(&real).map_err(Stop::Refuse)?;
    Ok(real)
}

/// Resolve the IAM user or role a principal ARN names (`arn:aws:iam::<account>:user/...` or
/// `role/...`, with or without its path) through IAM (`GetUser`, `GetRole`) and check what IAM
/// says: real ARN and path, service-linked and Identity Center roles, protected principals.
/// Every action on a principal's resources (its instances) calls this before acting.
/// A user bound to the id CloudTrail confirmed (`bound`) is found under its current name first
/// ([`bound_user`]).
pub(crate) async fn resolve_principal<I: Users + Roles + AccessKeys>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    principal_arn: &str,
    bound: Option<&BoundPrincipal>,
) -> Result<String, Stop> {
    let parsed = IamArn::parse(principal_arn).map_err(|e| Stop::Refuse(e.to_string()))?;
    match parsed.entity {
        IamEntity::User => {
            let (arn, name) = bound_user(ctx, iam, account_id, principal_arn, &parsed.name, bound).await?;
            let real = resolve(ctx, account_id, &arn, &name, IamEntity::User, iam.user_arn(&name)).await?;
            check_not_tag_protected(&real, iam.user_tags(&name).await?)?;
            Ok(real)
        }
        IamEntity::Role => {
            let real = resolve(ctx, account_id, principal_arn, &parsed.name, IamEntity::Role, iam.role_arn(&parsed.name)).await?;
            check_role_id(iam, &parsed.name, bound).await?;
            check_not_tag_protected(&real, iam.role_tags(&parsed.name).await?)?;
            Ok(real)
        }
    }
}

/// Refuse when IAM tags the principal `real` `launchguard:protected=true` (`GetUser`'s or
/// `GetRole`'s `Tags`). IAM's policies deny the IAM handlers' writes on such a principal
/// (`aws:ResourceTag`); nothing in IAM can deny an EC2 write on its instances, so the code does.
/// A superset of IAM's reading: the key and the value without regard to case, the value trimmed.
/// No such principal any more (deleted since the resolve): refused too.
pub(crate) fn check_not_tag_protected(real: &str, tags: Option<Vec<(String, String)>>) -> Result<(), Stop> {
    let Some(tags) = tags else {
        return Err(Stop::Refuse(format!("{real} does not exist now (deleted since it was resolved): nothing changed")));
    };
    match tags.iter().find(|(k, v)| k.eq_ignore_ascii_case(PROTECTED_TAG) && v.trim().eq_ignore_ascii_case("true")) {
        Some((k, v)) => Err(Stop::Refuse(format!(
            "{real} is tagged {k}={v} in IAM: a protected principal; launchguard never acts on it or its resources (remove the tag, or act by hand)"
        ))),
        None => Ok(()),
    }
}

/// For a role's action bound to the role CloudTrail confirmed issued the sessions (`bound`, its
/// `RoleId` from `sessionContext.sessionIssuer.principalId`): refuse, changing nothing, unless
/// `GetRole`'s `RoleId` of `role` is that id. A role deleted and made again under the name is
/// another principal (its sessions are not the launcher's): the refusal names both ids. Not bound
/// (an action written before, or records that named no role id): nothing is looked up.
pub(crate) async fn check_role_id<I: Roles>(iam: &I, role: &str, bound: Option<&BoundPrincipal>) -> Result<(), Stop> {
    let Some(want) = bound.map(|b| b.principal_id.as_str()) else { return Ok(()) };
    match iam.role_id(role).await? {
        Some(id) if id == want => Ok(()),
        Some(id) => Err(Stop::Refuse(format!(
            "IAM's role {role} is {id}, not {want}, the role CloudTrail recorded issuing the sessions that made the calls (deleted and made again under the name): {ANOTHER_PRINCIPAL}; nothing changed; a person checks who holds the role {role} now and whether {want} still exists"
        ))),
        None => Err(Stop::Refuse(format!(
            "role {role} does not exist now ({want} issued the sessions that made the calls: deleted); nothing changed; a person checks what the role's sessions did"
        ))),
    }
}

/// The ARN and name to act on for the user an action names as `arn` and `name`: without `bound`,
/// those (no IAM call). With it, the user CloudTrail confirmed made the calls, under the name IAM
/// gives it now: the owner of its key (`GetAccessKeyLastUsed`; the name the action gives when
/// the key is gone), whose `GetUser` `UserId` must be the bound id ([`check_user_id`]). The
/// action's own ARN is checked against the protections too (a rename never sheds a protection),
/// and so is IAM's ARN for the user now: protected there only, it moved itself into protection
/// ([`moved_into_protection`]). The ARN returned keeps its path, with the current name.
pub(crate) async fn bound_user<I: Users + AccessKeys>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    arn: &str,
    name: &str,
    bound: Option<&BoundPrincipal>,
) -> Result<(String, String), Stop> {
    let Some(b) = bound else { return Ok((arn.to_owned(), name.to_owned())) };
    // the request's own checks first: no IAM call for a request refused on its face
    validate_account_id(account_id).map_err(|e| Stop::Refuse(e.to_string()))?;
    ctx.cfg.guard.check_account(account_id).map_err(Stop::Refuse)?;
    let mut parsed = IamArn::parse(arn).map_err(|e| Stop::Refuse(e.to_string()))?;
    if parsed.entity != IamEntity::User || parsed.name != name || parsed.account_id != account_id {
        return Err(Stop::Refuse(format!("{arn} does not name user {name} in account {account_id}")));
    }
    ctx.cfg.guard.check_principal(arn).map_err(Stop::Refuse)?;
    let owner = match b.access_key_id.as_deref() {
        Some(key) => iam.key_owner(key).await?,
        None => None,
    };
    let current = owner.unwrap_or_else(|| name.to_owned());
    check_user_id(iam, &current, &b.principal_id, name).await?;
    moved_into_protection(ctx, iam, arn, &current, &b.principal_id).await?;
    if current == name {
        return Ok((arn.to_owned(), current));
    }
    parsed.name.clone_from(&current);
    Ok((parsed.to_arn(), current))
}

/// The user CloudTrail confirmed (IAM's unique id `id`, now named `current`) was not protected
/// under `recorded` (the ARN its records carry, checked by the caller) and IAM's ARN for it now is
/// protected: it moved (`iam:UpdateUser --new-path`) or renamed itself into `PROTECTED_PRINCIPALS`
/// after the burst. launchguard never acts on a protected principal, so this refuses too, but as
/// a likely evasion ([`Stop::Moved`]) that the page shows loudly, never as a routine skip.
async fn moved_into_protection<I: Users>(ctx: &Ctx<'_>, iam: &I, recorded: &str, current: &str, id: &str) -> Result<(), Stop> {
    let Some(real) = iam.user_arn(current).await? else { return Ok(()) };
    if ctx.cfg.guard.check_principal(&real).is_ok() {
        return Ok(());
    }
    Err(Stop::Moved(MovedIntoProtection { principal_id: id.to_owned(), recorded_arn: recorded.to_owned(), current_arn: real }))
}

/// Refuse, changing nothing, unless IAM's user `current` has the unique id `want` (`GetUser`'s
/// `UserId`): the user CloudTrail confirmed making the calls, found as `named` in the finding.
/// A user renamed away, or a name given to another user, never turns a containment onto
/// someone else: the page says which id to find.
pub(crate) async fn check_user_id<I: Users>(iam: &I, current: &str, want: &str, named: &str) -> Result<(), Stop> {
    let renamed = if current.eq_ignore_ascii_case(named) { String::new() } else { format!(" (the finding named it {named})") };
    match iam.user_id(current).await? {
        Some(id) if id == want => Ok(()),
        Some(id) => Err(Stop::Refuse(format!(
            "IAM's user {current}{renamed} is {id}, not {want}, the user CloudTrail recorded making the calls (renamed, or its name given to another user): {ANOTHER_PRINCIPAL}; nothing changed; a person finds {want} (`aws iam list-users`) and contains it by hand"
        ))),
        None => Err(Stop::Refuse(format!(
            "user {current}{renamed} does not exist now, and no key of {want} (the user CloudTrail recorded making the calls) gives its current name: renamed or deleted; nothing changed; a person finds {want} (`aws iam list-users`) and contains it by hand"
        ))),
    }
}

/// For a reversal that carries the unique id of the principal whose containment it undoes (the
/// request's `principal_id`, from the ledger entry): refuse, before anything changes, when IAM's
/// current holder of `name` (a user or role, `entity`) has another id. A rename (or a name given
/// to a new user) must never turn one principal's release into another's: the containment of the
/// principal with that id stays, and a person finds it by the id. No id: nothing is looked up.
pub(crate) async fn check_principal_id<I: Users + Roles>(ctx: &Ctx<'_>, iam: &I, entity: IamEntity, name: &str) -> Result<(), Stop> {
    let Some(want) = ctx.req.principal_id.as_deref() else { return Ok(()) };
    let (kind, now) = match entity {
        IamEntity::User => ("user", iam.user_id(name).await?),
        IamEntity::Role => ("role", iam.role_id(name).await?),
    };
    match now {
        Some(id) if id == want => Ok(()),
        Some(id) => Err(Stop::Refuse(format!(
            "IAM's {kind} {name} is {id} now, not {want} whose containment this undoes (renamed, or the name was given to another {kind}): {ANOTHER_PRINCIPAL}; nothing changed; a person finds {want} (`aws iam list-{kind}s`) and undoes its containment by hand"
        ))),
        None => Err(Stop::Refuse(format!(
            "IAM knows no {kind} {name} now ({want} was contained under that name: renamed or deleted): {ANOTHER_PRINCIPAL}; nothing changed; a person finds {want} (`aws iam list-{kind}s`) and undoes its containment by hand"
        ))),
    }
}
