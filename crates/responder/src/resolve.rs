//! Resolving a user or role through IAM and checking it before any write.

use std::future::Future;

use launchguard_aws::CallError;
use launchguard_core::ids::{IamArn, IamEntity, validate_account_id};
use launchguard_core::principal::is_service_linked_role;

use crate::envelope::{Ctx, Stop};

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
    if real_parsed.name != name || real_parsed.account_id != account_id || real_parsed.entity != entity {
        return Err(Stop::Refuse(format!("IAM says {kind} {name} is {real}, which does not match {arn}")));
    }
    if parsed.path != "/" && parsed.path != real_parsed.path {
        return Err(Stop::Refuse(format!("{arn} has path {}, but the {kind} is {real}", parsed.path)));
    }
    if entity == IamEntity::Role && is_service_linked_role(&real, name) {
        return Err(Stop::Refuse(format!("{real} is a service-linked role: AWS manages it, launchguard never changes it")));
    }
    ctx.cfg.guard.check_principal(&real).map_err(Stop::Refuse)?;
    Ok(real)
}
