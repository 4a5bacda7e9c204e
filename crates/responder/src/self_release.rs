//! A release never undoes the containment of whoever asked for it, checked where IAM is: a
//! reversal the dispatcher sends for a release carries who asked (`requested_by`); before anything
//! else, the handler resolves that principal and the one the reversal is about through IAM and
//! compares IAM's unique ids (`GetUser`'s `UserId`, `AIDA…`), so a user renamed after its
//! containment is still itself. A role cannot be renamed: its name is compared (as IAM compares
//! names, without regard to case). A reversal that carries the unique id of the principal whose
//! containment it undoes (`principal_id`: from the ledger entry, or a created key's creator) is
//! refused for a requester with that `UserId`, whatever either is named now. The dispatcher,
//! which makes no IAM call, sends the reversals
//! of a release asked for by an IAM user as dry runs first, and rejects the release on this
//! refusal before anything is marked released.

use std::future::Future;

use launchguard_core::contract::SELF_RELEASE;
use launchguard_core::guard::role_of_caller;
use launchguard_core::ids::{IamArn, IamEntity};

use crate::envelope::{Ctx, Stop};
use crate::ports::Users;

/// Refuse the request when it is a reversal asked for by the principal it is about: the user or
/// role (`entity`) in `account_id` that `subject` names as IAM says now (`None`: IAM knows none).
/// Nothing is looked up without a `requested_by`, or for a requester of another account or kind.
pub(crate) async fn check<I: Users>(
    ctx: &Ctx<'_>,
    iam: &I,
    account_id: &str,
    entity: IamEntity,
    subject: impl Future<Output = Result<Option<String>, Stop>>,
) -> Result<(), Stop> {
    let Some(by) = ctx.req.requested_by.as_deref() else { return Ok(()) };
    let Ok(caller) = IamArn::parse(&role_of_caller(by)) else {
        return Err(Stop::Refuse(format!("requested_by {by:?} is not an IAM user, role or role session ARN")));
    };
    if caller.account_id != account_id {
        return Ok(());
    }
    // The principal the reversal undoes the containment of, by the unique id the ledger holds
    // (`principal_id`: the contained user's, or a created key's creator's): a user asking under a
    // new name is still that user.
    if caller.entity == IamEntity::User
        && let Some(want) = ctx.req.principal_id.as_deref()
        && iam.user_id(&caller.name).await?.as_deref() == Some(want)
    {
        return Err(Stop::Refuse(format!(
            "{by} is IAM user {want} (its unique id), whose containment this undoes under whatever name it has now: {SELF_RELEASE}"
        )));
    }
    if caller.entity != entity {
        return Ok(());
    }
    let Some(name) = subject.await? else { return Ok(()) };
    let kind = if entity == IamEntity::User { "user" } else { "role" };
    if caller.name.eq_ignore_ascii_case(&name) {
        return Err(Stop::Refuse(format!("{by} is {kind} {name}, whose containment this undoes: {SELF_RELEASE}")));
    }
    if entity == IamEntity::Role {
        return Ok(());
    }
    let (Some(theirs), Some(mine)) = (iam.user_id(&name).await?, iam.user_id(&caller.name).await?) else { return Ok(()) };
    if theirs == mine {
        return Err(Stop::Refuse(format!(
            "{by} is user {name} under another name (IAM's unique id {mine} for both), whose containment this undoes: {SELF_RELEASE}"
        )));
    }
    Ok(())
}
