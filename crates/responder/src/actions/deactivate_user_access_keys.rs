//! Deactivate every active access key of a user whose quarantine cannot be applied, and its
//! reversal: reactivate exactly the keys it deactivated.
//!
//! When: the dispatcher sends it only after `quarantine_user` of a confirmed user failed for a
//! reason a retry cannot help (IAM's `LimitExceeded`: the user holds the ten managed policies IAM
//! allows, which a launcher can attach to itself). Without it, the user's other key (left active
//! by `deactivate_access_key`, by design) keeps working. Why this way: the access-key handler's
//! role already holds `iam:UpdateAccessKey` on `user/*` (protected principals denied); no
//! launchguard role may detach someone's policies or write a document, so no room is made in the
//! user's policies and nothing is written but key statuses (issue 32: no new IAM power).
//!
//! What: `UpdateAccessKey` to `Inactive` of each key `ListAccessKeys` lists `Active` for the user;
//! never `DeleteAccessKey`, never a policy. Checks, before any write:
//! 1. bound to the user CloudTrail confirmed (`bound`, as the quarantine it replaces was), the
//!    user is found as every forward action finds it (`crate::resolve::bound_user`): the owner of
//!    its confirmed key (`GetAccessKeyLastUsed`) under whatever name it has now, whose `GetUser`
//!    `UserId` must be the bound id. A launcher that filled its policy slots and renamed itself
//!    is still contained; a name given to another user since is never acted on;
//! 2. the user is resolved through IAM (`crate::resolve`): the account, the real ARN against the
//!    command's, protected principals refused (on the command's ARN and on IAM's; protected on
//!    IAM's only, a confirmed user is paged as a likely evasion);
//! 3. unbound, when the command names the keys CloudTrail confirmed the user used (`used_keys`),
//!    IAM lists at least one of them under the user: a name given to another user since the
//!    finding is refused, nothing changed.
//!
//! Already there (no active key): `already_applied`, with no reversal (launchguard changed
//! nothing). Reversal (`reactivate_user_access_keys`, in this file: it undoes exactly what
//! [`deactivate_all`] writes): the user checked by IAM's unique id first (`self_release`, the
//! request's `principal_id`), then each key the command names set `Active` only while IAM still
//! lists it under that user and it is `Inactive`; any other key is left as it is, and named.

use launchguard_core::contract::{Action, MAX_USER_KEYS, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::IamEntity;
use launchguard_core::text::untrusted;

use crate::actions::quarantine_user::User;
use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{AccessKeys, KeyStatus, Users};
use crate::resolve::resolve;

/// `GetAccessKeyLastUsed`: a bound request finds its user through the confirmed key.
const PERMISSIONS: &[&str] = &["iam:GetAccessKeyLastUsed", "iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey"];
/// The reversal finds its user by the name and unique id the containment was filed under.
const REACTIVATE_PERMISSIONS: &[&str] = &["iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey"];

/// `deactivate_user_access_keys`.
pub static DEACTIVATE_ALL: Spec = Spec { name: "deactivate_user_access_keys", reverses: None, permissions: PERMISSIONS, settings: &[] };

/// `reactivate_user_access_keys`: the reversal of [`DEACTIVATE_ALL`].
pub static REACTIVATE_ALL: Spec = Spec {
    name: "reactivate_user_access_keys",
    reverses: Some("deactivate_user_access_keys"),
    permissions: REACTIVATE_PERMISSIONS,
    settings: &[],
};

/// The commands that set `keys` of `user` to `status`, one after the other (an IAM user name and
/// a key id hold no character a shell reads specially: `IamArn::parse` and `ListAccessKeys`).
fn commands(user: &str, keys: &[String], status: &str) -> String {
    keys.iter()
        .map(|k| format!("aws iam update-access-key --user-name {user} --access-key-id {k} --status {status}"))
        .collect::<Vec<_>>()
        .join(" && ")
}

fn listing(keys: &[String]) -> String {
    keys.iter().map(|k| untrusted(k)).collect::<Vec<_>>().join(", ")
}

/// Deactivate every active access key of the user (see the module's checks). `used_keys`: for an
/// unbound request, the keys CloudTrail confirmed the user used; `None` when the user was checked
/// by IAM's unique id already (bound), under the name IAM gives it now.
pub(crate) async fn deactivate_all<I: Users + AccessKeys>(
    ctx: &Ctx<'_>,
    iam: &I,
    u: &User<'_>,
    used_keys: Option<&[String]>,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, user) = (u.account_id, u.name);
    let real = resolve(ctx, account_id, u.arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let keys = iam.list_keys(user).await?;
    if let Some(used_keys) = used_keys.filter(|u| !u.is_empty())
        && !keys.iter().any(|k| used_keys.contains(&k.id))
    {
        return Err(Stop::Refuse(format!(
            "IAM lists none of the keys CloudTrail saw {user} use ({}) under {real}: the name may belong to another user now (renamed since the finding); nothing changed",
            listing(used_keys)
        )));
    }
    let active: Vec<String> = keys.iter().filter(|k| k.status == KeyStatus::Active).map(|k| k.id.clone()).collect();
    let inactive = keys.len() - active.len();
    if active.is_empty() {
        return Ok(ctx.outcome(
            OutcomeStatus::AlreadyApplied,
            format!("no access key of {real} is active ({inactive} inactive): nothing to deactivate"),
        ));
    }
    if active.len() > MAX_USER_KEYS {
        return Err(Stop::Refuse(format!(
            "IAM lists {} active access keys for {real}, more than the {MAX_USER_KEYS} launchguard deactivates in one action: nothing changed; deactivate them by hand",
            active.len()
        )));
    }
    let what = format!(
        "every active access key of {real} ({}: {}); its {inactive} inactive key(s) untouched; no key deleted, no policy touched",
        active.len(),
        listing(&active)
    );
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would set Inactive {what}")));
    }
    let mut done: Vec<String> = Vec::new();
    for k in &active {
        if let Err(e) = iam.set_status(user, k, KeyStatus::Inactive).await {
            let before = if done.is_empty() {
                String::new()
            } else {
                format!(
                    " (access key(s) {} of {user} were set Inactive before this failure: a retry finds them inactive; reactivate them by hand if {user} must keep them)",
                    listing(&done)
                )
            };
            return Err(Stop::Fail(launchguard_aws::CallError { message: format!("{}{before}", e.message), ..e }));
        }
        done.push(k.clone());
    }
    let reversal = Action::ReactivateUserAccessKeys {
        account_id: account_id.to_owned(),
        user_arn: real.clone(),
        user_name: user.to_owned(),
        access_key_ids: done.clone(),
    };
    Ok(ctx.applied(format!("set Inactive {what}"), commands(user, &done, "Active"), Some(reversal)))
}

/// Reactivate exactly `ids`, each only while IAM lists it under the user and it is inactive.
/// The caller has checked the user (self-release, IAM's unique id).
pub(crate) async fn reactivate<I: Users + AccessKeys>(
    ctx: &Ctx<'_>,
    iam: &I,
    u: &User<'_>,
    ids: &[String],
) -> Result<ResponseOutcome, Stop> {
    let (account_id, user) = (u.account_id, u.name);
    let real = resolve(ctx, account_id, u.arn, user, IamEntity::User, iam.user_arn(user)).await?;
    let keys = iam.list_keys(user).await?;
    let (mut set, mut active, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        match keys.iter().find(|k| &k.id == id) {
            Some(k) if k.status == KeyStatus::Inactive => set.push(id.clone()),
            Some(_) => active.push(id.clone()),
            None => gone.push(id.clone()),
        }
    }
    let mut left = Vec::new();
    if !active.is_empty() {
        left.push(format!("already active: {}", listing(&active)));
    }
    if !gone.is_empty() {
        left.push(format!("not listed under {real} any more (deleted, or not its key), left as they are: {}", listing(&gone)));
    }
    let left = if left.is_empty() { String::new() } else { format!("; {}", left.join("; ")) };
    if set.is_empty() {
        return Ok(
            ctx.outcome(OutcomeStatus::AlreadyApplied, format!("no access key launchguard deactivated for {real} is inactive{left}"))
        );
    }
    let what = format!("access key(s) {} of {real} that launchguard deactivated{left}", listing(&set));
    if ctx.dry_run() {
        return Ok(ctx.outcome(OutcomeStatus::DryRun, format!("dry run: would set Active {what}")));
    }
    for k in &set {
        iam.set_status(user, k, KeyStatus::Active).await?;
    }
    let again = Action::DeactivateUserAccessKeys {
        account_id: account_id.to_owned(),
        user_arn: real.clone(),
        user_name: user.to_owned(),
        used_keys: set.clone(),
        bound: None,
    };
    Ok(ctx.applied(format!("set Active {what}"), commands(user, &set, "Inactive"), Some(again)))
}
