//! What an IAM call created, read from its CloudTrail record: the users of `CreateUser` and the
//! access keys of `CreateAccessKey` (with the user each key is for, who may be another user than
//! the caller). A person reads it in the notification; the responders act on nothing else.
//!
//! Only a successful call's `responseElements` is read (a failed call created nothing), and only
//! values of IAM's own form are kept: a user name from IAM's character set, an access key id of
//! upper-case letters and digits. Anything else is left out; the record still counts as a call.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{validate_access_key_id, validate_iam_name};
use crate::record::CloudTrailRecord;

/// At most this many created users are kept per principal; the rest are counted in
/// `truncated_values` and `totals`.
pub const MAX_CREATED: usize = 100;
/// At most this many created access keys are kept per principal (the dispatcher deactivates each:
/// an attacker creating and deleting throw-away keys must not push the one it keeps out); the
/// rest are counted in `truncated_values` and `totals`, and the notification says so.
pub const MAX_CREATED_KEYS: usize = 1000;

/// An IAM user name, as [`validate_iam_name`] checks it (for the JSON Schema).
const IAM_NAME_PATTERN: &str = "^[A-Za-z0-9+=,.@_-]{1,64}$";
/// An access key id, as [`validate_access_key_id`] checks it (for the JSON Schema).
const KEY_ID_PATTERN: &str = "^[A-Z0-9]{16,128}$";

/// How far outside the finding's window a created thing's time may be (the window's margins are
/// the detector's; CloudTrail's time is in whole seconds).
pub const CREATED_SKEW_SECONDS: i64 = 300;

/// One thing a principal's own call created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Created {
    /// An IAM user (`CreateUser`).
    User {
        /// Its name.
        #[schemars(pattern(IAM_NAME_PATTERN))]
        user_name: String,
        /// When (the record's `eventTime`).
        created_at: DateTime<Utc>,
    },
    /// An access key (`CreateAccessKey`), for `user_name` (the caller or another user).
    AccessKey {
        /// The key id (`AKIA…`).
        #[schemars(pattern(KEY_ID_PATTERN))]
        access_key_id: String,
        /// The user the key belongs to.
        #[schemars(pattern(IAM_NAME_PATTERN))]
        user_name: String,
        /// When (the record's `eventTime`): the key's `CreateDate` in IAM is not earlier.
        created_at: DateTime<Utc>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserResponse<'a> {
    #[serde(borrow)]
    user: Option<UserElement<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserElement<'a> {
    #[serde(borrow)]
    user_name: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyResponse<'a> {
    #[serde(borrow)]
    access_key: Option<KeyElement<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyElement<'a> {
    #[serde(borrow)]
    access_key_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    user_name: Option<std::borrow::Cow<'a, str>>,
}

/// What a successful `iam.amazonaws.com` `CreateUser` or `CreateAccessKey` record created, when
/// its response says so in IAM's own form and it has a time; `None` for anything else. Never
/// fails, never panics.
pub fn created(record: &CloudTrailRecord<'_>) -> Option<Created> {
    if record.error_code.is_some() || record.event_source.as_deref() != Some("iam.amazonaws.com") {
        return None;
    }
    let created_at = DateTime::from_timestamp_millis(record.time_ms()?)?;
    let response = record.response_elements?.get();
    match record.event_name.as_deref()? {
        "CreateUser" => {
            let r: UserResponse<'_> = serde_json::from_str(response).ok()?;
            let user_name = r.user?.user_name?;
            validate_iam_name(&user_name).ok()?;
            Some(Created::User { user_name: user_name.into_owned(), created_at })
        }
        "CreateAccessKey" => {
            let r: KeyResponse<'_> = serde_json::from_str(response).ok()?;
            let key = r.access_key?;
            let (access_key_id, user_name) = (key.access_key_id?, key.user_name?);
            validate_access_key_id(&access_key_id).ok()?;
            validate_iam_name(&user_name).ok()?;
            Some(Created::AccessKey { access_key_id: access_key_id.into_owned(), user_name: user_name.into_owned(), created_at })
        }
        _ => None,
    }
}

impl Created {
    /// When it was created (the call's `eventTime`).
    pub fn created_at(&self) -> DateTime<Utc> {
        match self {
            Created::User { created_at, .. } | Created::AccessKey { created_at, .. } => *created_at,
        }
    }

    /// Check a created thing a finding carries, as its reader must (another detector may have
    /// written it): names in IAM's form, a key id of upper-case letters and digits, and a time
    /// inside `window` (give or take [`CREATED_SKEW_SECONDS`]).
    pub fn validate(&self, window: &crate::window::TimeWindow) -> Result<(), String> {
        let (user_name, key) = match self {
            Created::User { user_name, .. } => (user_name, None),
            Created::AccessKey { access_key_id, user_name, .. } => (user_name, Some(access_key_id)),
        };
        validate_iam_name(user_name).map_err(|e| format!("created.user_name: {e}"))?;
        if let Some(k) = key {
            validate_access_key_id(k).map_err(|e| format!("created.access_key_id: {e}"))?;
        }
        let skew = chrono::Duration::seconds(CREATED_SKEW_SECONDS);
        let at = self.created_at();
        let inside =
            window.start.checked_sub_signed(skew).is_some_and(|s| at >= s) && window.end.checked_add_signed(skew).is_some_and(|e| at <= e);
        if inside {
            Ok(())
        } else {
            Err(format!("created.created_at {} is outside the finding's window", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        }
    }

    /// `user alice at 2026-11-22T05:20:05Z`: the label and when, as notifications and reports list it.
    pub fn described(&self) -> String {
        format!("{} at {}", self.label(), crate::time::format_utc(self.created_at()))
    }

    /// `user alice`, or `key AKIA… of bob`, as the notification says it.
    pub fn label(&self) -> String {
        match self {
            Created::User { user_name, .. } => format!("user {user_name}"),
            Created::AccessKey { access_key_id, user_name, .. } => format!("key {access_key_id} of {user_name}"),
        }
    }
}
