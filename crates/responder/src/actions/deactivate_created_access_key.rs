//! Deactivate an access key that a contained principal *created* (`CreateAccessKey`), usually for
//! another user, so that the key the attacker took away stops working too. Reversal:
//! `reactivate_access_key` (in `deactivate_access_key.rs`), the same code with the other status.
//!
//! What: `UpdateAccessKey` of exactly that key to `Inactive`, never `DeleteAccessKey`, never
//! another key of the user. It runs every check of `deactivate_access_key` (account, key form,
//! long-term key, the owner `GetAccessKeyLastUsed` names, that user's real ARN in the account and
//! not protected, `ListAccessKeys` of the owner lists the key), and one more. The owner is IAM's,
//! not the record's: a user renamed after the call (`UpdateUser`) does not save the key; the
//! outcome names the user the record named when IAM's differs. The extra check: IAM's `CreateDate` of the key is not earlier than the `CreateAccessKey` call
//! (`created_at`, less [`CLOCK_SKEW`]). A key that existed before the call is not the one it
//! created: a forged or misread record cannot turn this into "deactivate any user's key".
//!
//! Why a separate action: the key's user is not the flagged principal, and the notification, the
//! ledger and a release must say whose call created it (`created_by`).

use chrono::{DateTime, Duration, Utc};

use crate::envelope::Stop;
use crate::function::{Setting, Spec};

/// `deactivate_created_access_key`. Its reversal is `reactivate_access_key`.
pub static DEACTIVATE_CREATED: Spec = Spec {
    name: "deactivate_created_access_key",
    reverses: None,
    permissions: super::deactivate_access_key::PERMISSIONS,
    settings: &[Setting::LongTermKeyPrefixes],
};

/// How much earlier than the record's `eventTime` IAM's `CreateDate` may be (the two clocks are
/// AWS's own, and CloudTrail writes whole seconds).
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

/// Refuse unless the key was created no earlier than the call that, the finding says, created it.
pub(crate) fn check_created(key: &str, owner: &str, created: Option<DateTime<Utc>>, call: DateTime<Utc>) -> Result<(), Stop> {
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match created {
        None => Err(Stop::Refuse(format!(
            "IAM gave no CreateDate for access key {key} of {owner}: it cannot be matched to the CreateAccessKey call of {}; nothing changed",
            at(call)
        ))),
        Some(c) if call.checked_sub_signed(CLOCK_SKEW).is_none_or(|earliest| c < earliest) => Err(Stop::Refuse(format!(
            "access key {key} of {owner} was created at {}, before the CreateAccessKey call of {}: it is not the key that call created; nothing changed",
            at(c),
            at(call)
        ))),
        Some(_) => Ok(()),
    }
}
