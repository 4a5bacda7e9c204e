//! Deactivate one access key, and its reversal: reactivate it.
//!
//! What: `UpdateAccessKey` of exactly the key that was used to `Inactive`. Never
//! `DeleteAccessKey`, never another key of the user (deactivating *all* of a user's keys took
//! production down elsewhere). Why this way: it stops the credential the attacker holds,
//! reversibly, and nothing else.
//!
//! Checks, in this order (every refusal before any IAM write):
//! 1. the account id is well formed and the function's own (or in `ALLOWED_ACCOUNTS`);
//! 2. the key id is well formed and long-term (`LG_LONG_TERM_KEY_PREFIXES`, `AKIA`): `ASIA`
//!    keys belong to STS sessions and cannot be deactivated;
//! 3. the key's owner is resolved (`GetAccessKeyLastUsed`), and must be the user the request
//!    names, if it names one (compared as IAM compares names, without regard to case); when the
//!    request is bound to the user CloudTrail confirmed (`bound`), the owner must instead have
//!    that user's unique id (`GetUser`'s `UserId`), under whatever name it has now;
//! 4. the user's real ARN (`GetUser`) is in the account and not protected;
//! 5. `ListAccessKeys` of that user lists the key (ownership confirmed).
//!
//! Its user's other active keys are left active, and named in the outcome's warnings with their
//! last use (`GetAccessKeyLastUsed`, which this action holds already), so that a person can
//! decide: the page shows them. Key ids, dates, services and regions go through
//! `launchguard_core::text::untrusted`.
//!
//! Already there (the key has the wanted status): `already_applied`, carrying the reversal.
//! Reversal (`reactivate_access_key`, in this file because it is the same code with the other
//! status, under the same checks): `UpdateAccessKey` back to `Active`.

use chrono::{DateTime, Utc};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_core::ids::{validate_access_key_id, validate_account_id, validate_iam_name};
use launchguard_core::principal::KeyKind;
use launchguard_core::text::untrusted;

use crate::envelope::{Ctx, Stop};
use crate::function::{Setting, Spec};
use crate::ports::{AccessKeys, KeyMeta, KeyStatus, Users};

pub(crate) const PERMISSIONS: &[&str] = &["iam:GetAccessKeyLastUsed", "iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey"];

/// `deactivate_access_key`.
pub static DEACTIVATE: Spec =
    Spec { name: "deactivate_access_key", reverses: None, permissions: PERMISSIONS, settings: &[Setting::LongTermKeyPrefixes] };

/// `reactivate_access_key`: the reversal of [`DEACTIVATE`].
pub static REACTIVATE: Spec = Spec {
    name: "reactivate_access_key",
    reverses: Some("deactivate_access_key"),
    permissions: PERMISSIONS,
    settings: &[Setting::LongTermKeyPrefixes],
};

/// The key an action names.
pub(crate) struct Key<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) id: &'a str,
    pub(crate) user_name: Option<&'a str>,
    /// For a key another principal's call created: IAM's `CreateDate` must not be earlier than
    /// this (see `deactivate_created_access_key`).
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// IAM's unique id of the user CloudTrail confirmed calling with the key (the action's
    /// `bound`): the key's owner must have it, under whatever name it has now.
    pub(crate) bound_id: Option<&'a str>,
}

/// Set the key to `want`: `Inactive` for [`DEACTIVATE`], `Active` for its reversal.
pub(crate) async fn set_status<I: Users + AccessKeys>(
    ctx: &Ctx<'_>,
    iam: &I,
    k: &Key<'_>,
    want: KeyStatus,
) -> Result<ResponseOutcome, Stop> {
    let (account_id, key, user_name) = (k.account_id, k.id, k.user_name);
    let cfg = ctx.cfg;
    validate_account_id(account_id).map_err(|e| Stop::Refuse(e.to_string()))?;
    cfg.guard.check_account(account_id).map_err(Stop::Refuse)?;
    validate_access_key_id(key).map_err(|e| Stop::Refuse(e.to_string()))?;
    if KeyKind::of(key) == KeyKind::Temporary {
        return Err(Stop::Refuse(format!(
            "{key} is a temporary STS key (ASIA…): it cannot be deactivated; revoke the sessions of the role (or quarantine the user) that issued it"
        )));
    }
    if !cfg.key_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
        return Err(Stop::Refuse(format!(
            "{key} is not an IAM user access key (expected a key starting with {})",
            cfg.key_prefixes.join(" or ")
        )));
    }
    if let Some(u) = user_name
        && let Err(e) = validate_iam_name(u)
    {
        return Err(Stop::Refuse(format!("user_name: {e}")));
    }
    let Some(owner) = iam.key_owner(key).await? else {
        return Err(Stop::Refuse(format!("access key {key} does not exist in account {account_id}")));
    };
    // A key never moves between users: bound to the user CloudTrail confirmed, its owner must be
    // that user by IAM's unique id, whatever its name now (a rename after the burst must not save
    // the key). Unbound: the owner must be the user named (IAM names are unique without regard
    // to case: a case-only rename is the same user).
    let mut renamed = None;
    if let Some(want) = k.bound_id {
        crate::resolve::check_user_id(iam, &owner, want, user_name.unwrap_or(&owner)).await?;
        renamed = user_name.filter(|u| !u.eq_ignore_ascii_case(&owner));
    } else if let Some(u) = user_name.filter(|u| !u.eq_ignore_ascii_case(&owner)) {
        return Err(Stop::Refuse(format!("access key {key} belongs to user {owner}, not to {u}: nothing changed")));
    }
    let Some(user_arn) = iam.user_arn(&owner).await? else {
        return Err(Stop::Refuse(format!("user {owner} does not exist")));
    };
    if launchguard_core::principal::arn_account(&user_arn) != Some(account_id) {
        return Err(Stop::Refuse(format!("user {user_arn} is not in account {account_id}")));
    }
    cfg.guard.check_principal(&user_arn).map_err(Stop::Refuse)?;
    let keys = iam.list_keys(&owner).await?;
    let Some(listed) = keys.iter().find(|k| k.id == key) else {
        return Err(Stop::Refuse(format!("ListAccessKeys of {owner} does not list {key}: ownership not confirmed, nothing changed")));
    };
    if let Some(at) = k.created_at {
        crate::actions::deactivate_created_access_key::check_created(key, &owner, listed.created, at)?;
    }
    let current = listed.status;
    let others = match want {
        KeyStatus::Inactive => other_active_keys(iam, &owner, key, &keys).await,
        KeyStatus::Active => Vec::new(),
    };
    let word = |s: KeyStatus| if s == KeyStatus::Active { "Active" } else { "Inactive" };
    // The reversal of setting `want` on this key. Also carried by `already_applied`: a retried
    // request must learn it; whether launchguard made the change is the dispatcher's ledger's call.
    let (account_id, access_key_id, user_name) = (account_id.to_owned(), key.to_owned(), Some(owner.clone()));
    let reversal = match want {
        KeyStatus::Inactive => Action::ReactivateAccessKey { account_id, access_key_id, user_name },
        KeyStatus::Active => Action::DeactivateAccessKey { account_id, access_key_id, user_name, bound: None },
    };
    if current == want {
        let mut o = ctx.already(format!("access key {key} of {owner} is already {}", word(want)), reversal);
        o.warnings = others;
        return Ok(o);
    }
    if ctx.dry_run() {
        return Ok(with_warnings(
            ctx.outcome(
                OutcomeStatus::DryRun,
                format!(
                    "dry run: would set access key {key} of {owner} from {} to {}; its other {} key(s) untouched",
                    word(current),
                    word(want),
                    keys.len() - 1
                ),
            ),
            others,
        ));
    }
    iam.set_status(&owner, key, want).await?;
    let back = word(current);
    let was = renamed
        .map(|u| format!(" (the finding named its user {u}; IAM names the same user, by its unique id, {owner} now)"))
        .unwrap_or_default();
    Ok(with_warnings(
        ctx.applied(
            format!("access key {key} of {owner} set to {}; its other {} key(s) untouched{was}", word(want), keys.len() - 1),
            format!("aws iam update-access-key --user-name {owner} --access-key-id {key} --status {back}"),
            Some(reversal),
        ),
        others,
    ))
}

fn with_warnings(mut o: ResponseOutcome, warnings: Vec<String>) -> ResponseOutcome {
    o.warnings = warnings;
    o
}

/// At most this many other keys are named (IAM allows two keys a user).
const MAX_OTHER_KEYS: usize = 10;

/// Each other active key of `owner` (not `key`), with its last use: what a person needs to decide
/// whether to deactivate it too. A last use IAM does not answer is said, never a failure.
async fn other_active_keys<I: AccessKeys>(iam: &I, owner: &str, key: &str, keys: &[KeyMeta]) -> Vec<String> {
    let mut out = Vec::new();
    for k in keys.iter().filter(|k| k.id != key && k.status == KeyStatus::Active).take(MAX_OTHER_KEYS) {
        let used = match iam.last_use(&k.id).await {
            Ok(Some(u)) => format!(
                "last used {}{}{}",
                untrusted(&launchguard_core::time::format_utc(u.at)),
                u.service.map(|s| format!(" by {}", untrusted(&s))).unwrap_or_default(),
                u.region.map(|r| format!(" in {}", untrusted(&r))).unwrap_or_default()
            ),
            Ok(None) => "never used".into(),
            Err(e) => format!("last use unknown ({})", untrusted(&e.message)),
        };
        out.push(format!(
            "other active access key {} of {}: {used}; left active (only the key that was used is deactivated): deactivate it by hand if {} should not keep it",
            untrusted(&k.id),
            untrusted(owner),
            untrusted(owner)
        ));
    }
    out
}
