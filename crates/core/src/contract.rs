//! The versioned payload contract between detectors, the dispatcher and the handlers.
//!
//! Every payload is a JSON object with `schema_version` and `kind`. Readers check the version
//! first (an unknown one is refused by name), then parse strictly: an unknown field is an error
//! that names it. Writers always write [`SCHEMA_VERSION`].
//!
//! | kind               | from → to                         | type               |
//! |--------------------|-----------------------------------|--------------------|
//! | `finding`          | any detector → dispatcher         | [`Finding`]        |
//! | `release`          | a person or tool → dispatcher     | [`ReleaseRequest`] |
//! | `response_request` | dispatcher → a handler            | [`ResponseRequest`]|
//! | `response_outcome` | a handler → dispatcher            | [`ResponseOutcome`]|
//!
//! Example payloads are in `fixtures/contract/` and are parsed by the tests.
//!
//! EC2 actions ([`Action::StopInstances`], [`Action::TerminateInstances`], reversal
//! [`Action::StartInstances`]) act on one instance set of one principal in one account and one
//! region: only ids the flagged principal's own `RunInstances` responses returned
//! (`activity.instance_ids`, with their launch records `activity.launches`), each with what the
//! handler verifies against `DescribeInstances` (launch time, reservation). At most
//! [`MAX_INSTANCE_IDS`] instances, no id twice, every launch record in the action's region.
//! `terminate_instances` has no reversal: its outcome says it cannot be undone.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::aggregate::{Activity, KeyConflict, LaunchedInstance, MAX_INSTANCE_IDS};
use crate::error::CoreError;
pub use crate::fit::{SEAL_OVERHEAD_BYTES, sealed_len};
use crate::principal::Principal;
use crate::window::TimeWindow;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 1;
/// The schema versions this build reads.
pub const SUPPORTED_SCHEMA_VERSIONS: &[u32] = &[1];
/// Largest payload accepted, in bytes (the Lambda asynchronous invocation limit).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// The schemas' form of [`validate_token`]: finding, request and rule ids.
const TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{1,128}$";
/// The schemas' form of [`validate_region`].
const REGION_PATTERN: &str = "^[a-z0-9-]{1,32}$";
/// The schemas' form of [`crate::ids::validate_account_id`].
const ACCOUNT_PATTERN: &str = "^[0-9]{12}$";

/// A principal the detector flagged (or excluded), with what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlaggedPrincipal {
    /// Who.
    pub principal: Principal,
    /// What they did in the window.
    pub activity: Activity,
    /// Why they were flagged (or excluded), in words.
    pub reasons: Vec<String>,
    /// The rule's horizon first crossed and when ([`crate::windows::judge`]). Absent in
    /// findings written before horizons existed, and for principals below every threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crossed: Option<crate::windows::Crossing>,
    /// The fewest records that cross the threshold, for the dispatcher to confirm with
    /// CloudTrail's event history before any containment ([`crate::evidence`]). Absent: nothing
    /// can be confirmed, and the principal is not contained automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::evidence::Evidence>,
    /// IAM's unique id of the user (`userIdentity.principalId`, `AIDA…`) or of the role
    /// (`sessionIssuer.principalId`, `AROA…`) as CloudTrail's own
    /// event history recorded it in the principal's confirmed evidence: set by the dispatcher once
    /// CloudTrail confirmed the principal, for the page and the incident record. A detector leaves
    /// it out, and a value in a finding received is never acted on (the trail's log group can be
    /// forged): the actions are bound to the id CloudTrail's records carry ([`BoundPrincipal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The CloudTrail records of `evidence` exactly as AWS delivered them to the stream detector:
    /// the `detail` of EventBridge events whose `source` is the record's own `aws.<service>`, which
    /// `PutEvents` refuses to anyone but AWS, from the stream's queue, which only the stream's own
    /// rules may write to. Only the stream detector sets it. The dispatcher reads it only in a
    /// finding sealed with the stream detector's own key (`STREAM_FINDING_KEY_ID`, whose key
    /// policy lets the stream's role alone make MACs); there each record answers for its claim as
    /// CloudTrail's event history would, judged by the same check ([`crate::evidence`]), so the
    /// principal is contained in seconds, before `LookupEvents` holds the calls (minutes). In any
    /// other finding it is ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered_by_aws: Vec<String>,
}

/// The IAM user a forward action is bound to: IAM's unique id as CloudTrail's own records of the
/// principal's confirmed calls carry it (`userIdentity.principalId`, `AIDA…`), and one long-term
/// access key those records show it using. A user can be renamed (`iam:UpdateUser`) and its
/// name given to another user; its unique id and its keys never move. The handler finds the
/// user's current name through the key (`GetAccessKeyLastUsed`), checks that `GetUser` gives it
/// this id, and acts on that name; it refuses, changing nothing, when IAM's user has another id.
/// Absent in actions written before it existed, for roles, and when CloudTrail's records did not
/// name exactly one id: the handler then resolves the name the action gives, as before.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundPrincipal {
    /// IAM's unique id of the user (`UserId`).
    pub principal_id: String,
    /// A long-term key CloudTrail's confirmed records show the user calling with: its owner is
    /// the user, whatever its name now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

/// What triggered the detector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Alarm name (or another detector's trigger name).
    #[schemars(length(max = 256))]
    pub name: String,
    /// Alarm ARN, when known.
    pub arn: Option<String>,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
}

/// How the window was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadSummary {
    /// Records (log events) read.
    pub records_read: u64,
    /// Records of the watched event inside the window.
    pub matching_records: u64,
    /// Records that could not be parsed.
    pub unparseable_records: u64,
    /// Principals seen with the event.
    pub principals_seen: u64,
    /// How the records were read: `insights`, `filter_log_events`, ...
    pub method: String,
    /// True when the fallback (wider) window was searched.
    pub widened: bool,
    /// Access keys seen under two different principals (a contradiction in the data).
    pub key_conflicts: Vec<KeyConflict>,
    /// How many key conflicts there were, when `key_conflicts` was cut to fit a payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_conflicts_total: Option<u64>,
    /// Set when what was read does not explain the alarm's datapoint (a dry run counted by a
    /// metric, records not delivered yet...): what the datapoint was and what was found. A person
    /// is paged with it; no threshold's window is ever widened for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplained: Option<String>,
}

/// Kind tag of a [`Finding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// `"finding"`
    Finding,
}

/// What the detector asks of the dispatcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingVerdict {
    /// Contain the `principals` (never empty).
    #[default]
    Contain,
    /// The alarm fired but nobody is over the per-principal thresholds: `principals` is empty,
    /// nothing is changed, a person is told, with the `top_launchers`.
    NobodyOverThreshold,
}

/// What a detector found: who did what, in which window. Input of the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Contract version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `"finding"`.
    pub kind: FindingKind,
    /// Deterministic id (see [`finding_id`]): the same detector, account, window and principals
    /// give the same id, so a duplicate delivery is recognised.
    #[schemars(pattern(TOKEN_PATTERN))]
    pub finding_id: String,
    /// The detector that wrote it, e.g. `launchguard-detector/run-instances`.
    pub detector: String,
    /// The detector rule that produced it (`[A-Za-z0-9_-]`, 1 to 128 characters): `ec2-mass-launch`,
    /// `iam-user-burst`, `iam-access-key-burst`, or another detector's own. Findings written
    /// before rules existed are about `ec2-mass-launch`, the default.
    #[serde(default = "default_rule")]
    #[schemars(pattern(TOKEN_PATTERN))]
    pub rule: String,
    /// The account the activity happened in (12 digits).
    #[schemars(pattern(ACCOUNT_PATTERN))]
    pub account_id: String,
    /// The region the detector ran in.
    #[schemars(pattern(REGION_PATTERN))]
    pub region: String,
    /// When the finding was made.
    pub created_at: DateTime<Utc>,
    /// What triggered the detector.
    pub trigger: Option<Trigger>,
    /// The event watched, `<eventSource>/<eventName>`.
    pub event: String,
    /// The window searched.
    pub window: TimeWindow,
    /// True only when every record of the window was read. A finding with `false` is still acted
    /// on (the flagged principals did cross the threshold) but says so everywhere.
    pub window_complete: bool,
    /// Why the window is incomplete, when it is.
    pub incomplete_reason: Option<String>,
    /// Dry run: every responder validates and reports, nothing is changed.
    pub dry_run: bool,
    /// What is asked: containment, or only telling a person (default `contain`).
    #[serde(default)]
    pub verdict: FindingVerdict,
    /// Principals over the thresholds. Never empty when `verdict` is `contain`; always empty
    /// when it is `nobody_over_threshold`.
    pub principals: Vec<FlaggedPrincipal>,
    /// Principals over the thresholds but excluded by rule (AWS services), for the record.
    pub excluded: Vec<FlaggedPrincipal>,
    /// The principals who launched most, for a `nobody_over_threshold` finding (default empty).
    #[serde(default)]
    pub top_launchers: Vec<FlaggedPrincipal>,
    /// How the window was read.
    pub read: ReadSummary,
}

fn default_rule() -> String {
    crate::rules::EC2_MASS_LAUNCH.to_owned()
}

/// Longest release reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 512;

/// Check an id that ends up in log filters, S3 keys and a command a person runs: 1 to 128
/// characters from `[A-Za-z0-9_-]`. Anything else is refused, never cleaned up.
pub fn validate_token(field: &str, value: &str) -> Result<(), String> {
    if (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(format!("{field} must be 1-128 characters from [A-Za-z0-9_-], found {:?}", crate::error::excerpt(value)))
    }
}

/// Check a region code (`us-east-1`, `cn-north-1`, `us-gov-west-1`): 1 to 32 characters from
/// `[a-z0-9-]`. It is shown to people and used in commands they run.
pub fn validate_region(value: &str) -> Result<(), String> {
    if (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Ok(())
    } else {
        Err(format!("region must be a region code (1-32 characters from [a-z0-9-]), found {:?}", crate::error::excerpt(value)))
    }
}

/// Check a free text shown to people: at most `max` characters, no control character (no line
/// break can make it a line of its own).
pub fn validate_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() <= max && !value.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(format!("{field} must be at most {max} characters with no control characters, found {:?}", crate::error::excerpt(value)))
    }
}

/// Deterministic finding id: `lg-` and 32 hex digits of SHA-256 over the detector, account,
/// window and the sorted principal keys.
pub fn finding_id(detector: &str, account_id: &str, window: &TimeWindow, principals: &[Principal]) -> String {
    let mut keys: Vec<String> = principals.iter().map(Principal::key).collect();
    keys.sort();
    keys.dedup();
    let mut h = Sha256::new();
    for part in [detector, account_id, &window.start_ms().to_string(), &window.end_ms().to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    for k in keys {
        h.update(k.as_bytes());
        h.update([0u8]);
    }
    format!("lg-{}", hex(&h.finalize()[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One containment action (or its reversal) on one principal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Set exactly this access key `Inactive` (never delete it, never touch other keys).
    DeactivateAccessKey {
        /// Account of the key's user.
        account_id: String,
        /// The key.
        access_key_id: String,
        /// Its user, when known (resolved with `GetAccessKeyLastUsed` otherwise).
        user_name: Option<String>,
        /// The user CloudTrail confirmed made the calls, by IAM's unique id ([`BoundPrincipal`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<BoundPrincipal>,
    },
    /// Reversal: set the key `Active` again.
    ReactivateAccessKey {
        /// Account of the key's user.
        account_id: String,
        /// The key.
        access_key_id: String,
        /// Its user, when known.
        user_name: Option<String>,
    },
    /// Set `Inactive` exactly this access key, which `created_by` created for `user_name` (often
    /// another user) in a `CreateAccessKey` call at `created_at`: the key must still belong to that
    /// user and IAM's `CreateDate` must not be earlier than the call (a key that existed before it
    /// is not the one the call created). Reversal: [`Action::ReactivateAccessKey`].
    DeactivateCreatedAccessKey {
        /// Account of the key's user.
        account_id: String,
        /// The key the call created.
        access_key_id: String,
        /// The user it was created for.
        user_name: String,
        /// The principal whose call created it (the finding's principal ARN).
        created_by: String,
        /// When: the `CreateAccessKey` record's `eventTime`.
        created_at: DateTime<Utc>,
        /// IAM's unique id of `created_by` as CloudTrail's confirmed records carry it: a release
        /// asked for by that user, under any name, is refused (neither the creator nor the key's
        /// user releases the key).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_by_id: Option<String>,
    },
    /// Attach a deny policy to the user; never detach or delete anything.
    QuarantineUser {
        /// Account.
        account_id: String,
        /// The user's ARN.
        user_arn: String,
        /// The user's name.
        user_name: String,
        /// The user CloudTrail confirmed made the calls, by IAM's unique id ([`BoundPrincipal`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<BoundPrincipal>,
    },
    /// Reversal: remove the quarantine launchguard added.
    ReleaseUserQuarantine {
        /// Account.
        account_id: String,
        /// The user's ARN.
        user_arn: String,
        /// The user's name.
        user_name: String,
        /// The managed policy ARN that was attached, if it was a managed policy.
        policy_arn: Option<String>,
        /// For the inline quarantine: the document a same-named inline policy held before
        /// launchguard overwrote it, put back instead of deleting the policy. `None`: launchguard
        /// created the policy, and removes it (only while it still holds launchguard's document).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_document: Option<String>,
        /// `policy_arn` was attached by someone else (a person, AWS's leaked-key response) when
        /// launchguard came: launchguard only added its guard, and the reversal removes the guard
        /// (putting back `previous_document`, a look-alike guard it overwrote) and never detaches
        /// the policy.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        guard_only: bool,
    },
    /// When the quarantine of a confirmed user cannot be applied (IAM answered `LimitExceeded`, or
    /// another failure a retry cannot help): set `Inactive` every access key IAM lists `Active`
    /// for the user, never deleting one, never touching a policy. Bound (`bound`, the quarantine's
    /// own), the user is the one CloudTrail confirmed, found as the forward actions find it: the
    /// owner of its confirmed key under whatever name it has now, whose `GetUser` `UserId` must be
    /// the bound id. Unbound, the user named is resolved through IAM and must own, in IAM, at
    /// least one of `used_keys` (the keys CloudTrail confirmed it used, when the finding names
    /// any). Either way a name given to another user since is refused.
    /// Reversal: [`Action::ReactivateUserAccessKeys`], exactly the keys it deactivated.
    DeactivateUserAccessKeys {
        /// Account.
        account_id: String,
        /// The user's ARN.
        user_arn: String,
        /// The user's name.
        user_name: String,
        /// The keys CloudTrail confirmed the user used (at most [`MAX_USER_KEYS`]; may be empty).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        used_keys: Vec<String>,
        /// The user CloudTrail confirmed made the calls, by IAM's unique id ([`BoundPrincipal`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<BoundPrincipal>,
    },
    /// Reversal of `deactivate_user_access_keys`: set `Active` again exactly these keys, each only
    /// while IAM still lists it under this user (the user checked by IAM's unique id, the
    /// request's `principal_id`); any other key is left as it is.
    ReactivateUserAccessKeys {
        /// Account.
        account_id: String,
        /// The user's ARN.
        user_arn: String,
        /// The user's name.
        user_name: String,
        /// The keys launchguard deactivated (1 to [`MAX_USER_KEYS`]).
        access_key_ids: Vec<String>,
    },
    /// Deny every action to the role's sessions issued before `issued_before`.
    RevokeRoleSessions {
        /// Account.
        account_id: String,
        /// The role's ARN.
        role_arn: String,
        /// The role's name.
        role_name: String,
        /// Sessions issued before this instant are denied.
        issued_before: DateTime<Utc>,
        /// The last activity the revocation must cover (the finding's `last_seen`). An existing
        /// revocation whose cut-off is after it already denies every session the finding saw:
        /// the request is then `already_applied` and the cut-off is not moved.
        covers_activity_until: Option<DateTime<Utc>>,
        /// The role CloudTrail confirmed issued the sessions, by IAM's unique id (`RoleId`, from
        /// `sessionContext.sessionIssuer.principalId`; no key): the handler refuses when `GetRole`
        /// gives the name another id (a role deleted and made again under the name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<BoundPrincipal>,
    },
    /// Reversal: undo the session revocation launchguard wrote, only while the role still holds
    /// exactly `written_document`: put `previous_document` back, or remove the policy when
    /// launchguard created it (`previous_document` is `None`).
    RestoreRoleSessions {
        /// Account.
        account_id: String,
        /// The role's ARN.
        role_arn: String,
        /// The role's name.
        role_name: String,
        /// The document launchguard wrote (the reversal refuses when IAM holds anything else).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        written_document: Option<String>,
        /// The document that was there before (an older cut-off, or someone else's policy).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_document: Option<String>,
    },
    /// Tag (`launchguard:incident=<finding id>`), then stop, exactly these instances: ones the
    /// principal's own `RunInstances` calls started, in `region`, each verified against
    /// `DescribeInstances` first. Reversal: [`Action::StartInstances`].
    StopInstances {
        /// Account the instances are in.
        account_id: String,
        /// Region they were launched in (every launch record's `region`).
        region: String,
        /// The principal that launched them (from the finding), for people and the ledger.
        principal_arn: String,
        /// Their launch records, from the finding's `activity.launches`.
        instances: Vec<LaunchedInstance>,
        /// The user (when the principal is one) CloudTrail confirmed made the calls, by IAM's unique id ([`BoundPrincipal`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<BoundPrincipal>,
    },
    /// Tag, then terminate, exactly these instances (same checks as `stop_instances`). Not
    /// reversible: never the default, and the outcome and the notification say so.
    TerminateInstances {
        /// Account the instances are in.
        account_id: String,
        /// Region they were launched in.
        region: String,
        /// The principal that launched them.
        principal_arn: String,
        /// Their launch records.
        instances: Vec<LaunchedInstance>,
        /// The user (when the principal is one) CloudTrail confirmed made the calls, by IAM's unique id ([`BoundPrincipal`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bound: Option<BoundPrincipal>,
    },
    /// Reversal of `stop_instances`: start the instances that are stopped and still tagged
    /// `launchguard:incident=<incident>`, and remove that tag; any other is left as it is.
    StartInstances {
        /// Account the instances are in.
        account_id: String,
        /// Region.
        region: String,
        /// The principal that launched them.
        principal_arn: String,
        /// The finding id the stop tagged them with.
        incident: String,
        /// The instances launchguard stopped.
        instance_ids: Vec<String>,
    },
}

/// The tag launchguard puts on the instances it acts on: `launchguard:incident=<finding id>`.
pub const INCIDENT_TAG: &str = "launchguard:incident";
/// An instance tagged `launchguard:protected=true` is never stopped or terminated.
pub const PROTECTED_TAG: &str = "launchguard:protected";

/// The most access keys a `deactivate_user_access_keys` or its reversal names (IAM allows two
/// a user).
pub const MAX_USER_KEYS: usize = 10;

/// Check a list of access key ids an action names: each well formed, none twice, at most
/// [`MAX_USER_KEYS`], and at least one when `at_least_one`.
fn validate_key_list(field: &str, keys: &[String], at_least_one: bool) -> Result<(), String> {
    if keys.len() > MAX_USER_KEYS {
        return Err(format!("{field} names at most {MAX_USER_KEYS} access keys, found {}", keys.len()));
    }
    if at_least_one && keys.is_empty() {
        return Err(format!("{field} names at least one access key"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for k in keys {
        crate::ids::validate_access_key_id(k).map_err(|e| format!("{field}: {e}"))?;
        if !seen.insert(k) {
            return Err(format!("{field}: access key {k} is named twice"));
        }
    }
    Ok(())
}

/// Check an EC2 instance id: `i-` and 8 to 17 lowercase hex digits (AWS writes 8 or 17; the
/// test kit's bursts write 13).
pub fn validate_instance_id(value: &str) -> Result<(), String> {
    let ok = value
        .strip_prefix("i-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if ok { Ok(()) } else { Err(format!("{:?} is not an EC2 instance id (i- and 8 to 17 hex digits)", crate::error::excerpt(value))) }
}

/// Check an EC2 action's instance set: 1 to [`MAX_INSTANCE_IDS`] well-formed ids, none twice,
/// each launched in `region`.
fn validate_instance_set<'a>(region: &str, ids: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Result<(), String> {
    validate_region(region)?;
    let mut seen = std::collections::BTreeSet::new();
    for (id, launched_in) in ids {
        validate_instance_id(id)?;
        if !seen.insert(id) {
            return Err(format!("instance {id} is named twice"));
        }
        if let Some(r) = launched_in
            && r != region
        {
            return Err(format!("instance {id} was launched in {:?}, not in the action's region {region}", crate::error::excerpt(r)));
        }
    }
    match seen.len() {
        0 => Err("an EC2 action names at least one instance".into()),
        n if n > MAX_INSTANCE_IDS => Err(format!("an EC2 action names at most {MAX_INSTANCE_IDS} instances, found {n}")),
        _ => Ok(()),
    }
}

/// Which handler runs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    /// `launchguard-accesskey-handler`
    AccessKey,
    /// `launchguard-iam-handler`
    Iam,
    /// `launchguard-ec2-handler`
    Ec2,
}

impl Action {
    /// The handler responsible for this action.
    pub fn handler(&self) -> HandlerKind {
        match self {
            Self::DeactivateAccessKey { .. }
            | Self::DeactivateCreatedAccessKey { .. }
            | Self::ReactivateAccessKey { .. }
            | Self::DeactivateUserAccessKeys { .. }
            | Self::ReactivateUserAccessKeys { .. } => HandlerKind::AccessKey,
            Self::StopInstances { .. } | Self::TerminateInstances { .. } | Self::StartInstances { .. } => HandlerKind::Ec2,
            _ => HandlerKind::Iam,
        }
    }

    /// The account the action changes.
    pub fn account_id(&self) -> &str {
        match self {
            Self::DeactivateAccessKey { account_id, .. }
            | Self::DeactivateCreatedAccessKey { account_id, .. }
            | Self::ReactivateAccessKey { account_id, .. }
            | Self::QuarantineUser { account_id, .. }
            | Self::ReleaseUserQuarantine { account_id, .. }
            | Self::DeactivateUserAccessKeys { account_id, .. }
            | Self::ReactivateUserAccessKeys { account_id, .. }
            | Self::RevokeRoleSessions { account_id, .. }
            | Self::RestoreRoleSessions { account_id, .. }
            | Self::StopInstances { account_id, .. }
            | Self::TerminateInstances { account_id, .. }
            | Self::StartInstances { account_id, .. } => account_id,
        }
    }

    /// The `type` tag, e.g. `deactivate_access_key`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DeactivateAccessKey { .. } => "deactivate_access_key",
            Self::DeactivateCreatedAccessKey { .. } => "deactivate_created_access_key",
            Self::ReactivateAccessKey { .. } => "reactivate_access_key",
            Self::QuarantineUser { .. } => "quarantine_user",
            Self::ReleaseUserQuarantine { .. } => "release_user_quarantine",
            Self::DeactivateUserAccessKeys { .. } => "deactivate_user_access_keys",
            Self::ReactivateUserAccessKeys { .. } => "reactivate_user_access_keys",
            Self::RevokeRoleSessions { .. } => "revoke_role_sessions",
            Self::RestoreRoleSessions { .. } => "restore_role_sessions",
            Self::StopInstances { .. } => "stop_instances",
            Self::TerminateInstances { .. } => "terminate_instances",
            Self::StartInstances { .. } => "start_instances",
        }
    }

    /// True for the reversals.
    pub fn is_reversal(&self) -> bool {
        matches!(
            self,
            Self::ReactivateAccessKey { .. }
                | Self::ReleaseUserQuarantine { .. }
                | Self::ReactivateUserAccessKeys { .. }
                | Self::RestoreRoleSessions { .. }
                | Self::StartInstances { .. }
        )
    }

    /// What it acts on, for people: `key AKIA… of alice`, `user alice`, `role Dev`.
    pub fn target(&self) -> String {
        match self {
            Self::DeactivateAccessKey { access_key_id, user_name, .. } | Self::ReactivateAccessKey { access_key_id, user_name, .. } => {
                match user_name {
                    Some(u) => format!("access key {access_key_id} of user {u}"),
                    None => format!("access key {access_key_id}"),
                }
            }
            Self::DeactivateCreatedAccessKey { access_key_id, user_name, .. } => {
                format!("access key {access_key_id} of user {user_name}")
            }
            Self::QuarantineUser { user_name, .. } | Self::ReleaseUserQuarantine { user_name, .. } => format!("user {user_name}"),
            Self::DeactivateUserAccessKeys { user_name, .. } => format!("every access key of user {user_name}"),
            Self::ReactivateUserAccessKeys { user_name, access_key_ids, .. } => {
                format!("access key(s) {} of user {user_name}", access_key_ids.join(", "))
            }
            Self::RevokeRoleSessions { role_name, .. } | Self::RestoreRoleSessions { role_name, .. } => format!("role {role_name}"),
            Self::StopInstances { region, principal_arn, instances, .. }
            | Self::TerminateInstances { region, principal_arn, instances, .. } => {
                format!("{} instance(s) of {principal_arn} in {region}", instances.len())
            }
            Self::StartInstances { region, principal_arn, instance_ids, .. } => {
                format!("{} instance(s) of {principal_arn} in {region}", instance_ids.len())
            }
        }
    }

    /// True when `reversal` can only undo this action: the reverse kind, on the same account and
    /// target: the same key id; only instances this action named, in its region; for a user or
    /// a role the same account (its name may be IAM's newer one). A handler's answer carrying any other
    /// reversal (one whose code was changed, planting "reactivate another key") is not kept: a
    /// release runs only the reversal of what launchguard sent.
    pub fn reverses(&self, reversal: &Action) -> bool {
        // a key is its account and id (IAM's identity: a renamed user keeps its keys)
        match (self, reversal) {
            (
                Self::DeactivateAccessKey { account_id: a, access_key_id: k, .. }
                | Self::DeactivateCreatedAccessKey { account_id: a, access_key_id: k, .. },
                Self::ReactivateAccessKey { account_id: ra, access_key_id: rk, .. },
            ) => a == ra && k == rk,
            // the handler names the user or role as IAM does now (a rename since the record is
            // kept): the kind and the account are checked, not the name
            (Self::QuarantineUser { account_id: a, .. }, Self::ReleaseUserQuarantine { account_id: ra, .. })
            | (Self::RevokeRoleSessions { account_id: a, .. }, Self::RestoreRoleSessions { account_id: ra, .. }) => a == ra,
            // unbound, the user the handler resolved by the action's name (IAM compares names
            // without regard to case); bound, the user IAM gives the confirmed unique id, under the
            // name it has now (a rename since the finding: the ledger files the entry under that
            // id, and the release sends it, so the reversal is refused unless IAM still gives the
            // name to that id); each key is checked at the release to be listed under that user
            (
                Self::DeactivateUserAccessKeys { account_id: a, user_name: u, bound, .. },
                Self::ReactivateUserAccessKeys { account_id: ra, user_name: ru, .. },
            ) => a == ra && (bound.is_some() || u.eq_ignore_ascii_case(ru)),
            (
                Self::StopInstances { account_id: a, region: g, instances, .. },
                Self::StartInstances { account_id: ra, region: rg, instance_ids, .. },
            ) => a == ra && g == rg && instance_ids.iter().all(|id| instances.iter().any(|i| &i.instance_id == id)),
            _ => false,
        }
    }

    /// For an EC2 action: the user or role that launched its instances (a role session as its
    /// role), when `principal_arn` is a user, role or role-session ARN.
    pub fn instances_principal(&self) -> Option<crate::ids::IamArn> {
        match self {
            Self::StopInstances { principal_arn, .. }
            | Self::TerminateInstances { principal_arn, .. }
            | Self::StartInstances { principal_arn, .. } => crate::ids::IamArn::parse(&crate::guard::role_of_caller(principal_arn)).ok(),
            _ => None,
        }
    }

    /// The user or role a forward action is bound to ([`BoundPrincipal`]), when it carries one.
    pub fn bound(&self) -> Option<&BoundPrincipal> {
        match self {
            Self::DeactivateAccessKey { bound, .. }
            | Self::QuarantineUser { bound, .. }
            | Self::RevokeRoleSessions { bound, .. }
            | Self::StopInstances { bound, .. }
            | Self::TerminateInstances { bound, .. }
            | Self::DeactivateUserAccessKeys { bound, .. } => bound.as_ref(),
            Self::DeactivateCreatedAccessKey { .. }
            | Self::ReactivateAccessKey { .. }
            | Self::ReleaseUserQuarantine { .. }
            | Self::RestoreRoleSessions { .. }
            | Self::StartInstances { .. }
            | Self::ReactivateUserAccessKeys { .. } => None,
        }
    }

    /// Its IAM unique ids are well formed: the bound user's id and key
    /// ([`crate::ids::validate_user_id`], [`crate::ids::validate_access_key_id`]), a created key's
    /// `created_by_id`. `Ok` for an action without one.
    pub fn validate_ids(&self) -> Result<(), String> {
        if let Some(b) = self.bound() {
            // a role's id for a role's action (its sessions, its instances), a user's otherwise
            let of_role = matches!(self, Self::RevokeRoleSessions { .. })
                || self.instances_principal().is_some_and(|p| p.entity == crate::ids::IamEntity::Role);
            if of_role {
                crate::ids::validate_role_id(&b.principal_id).map_err(|e| format!("bound.principal_id: {e}"))?;
                if b.access_key_id.is_some() {
                    return Err("bound.access_key_id: a role is bound by its RoleId only".into());
                }
            } else {
                crate::ids::validate_user_id(&b.principal_id).map_err(|e| format!("bound.principal_id: {e}"))?;
            }
            if let Some(k) = &b.access_key_id {
                crate::ids::validate_access_key_id(k).map_err(|e| format!("bound.access_key_id: {e}"))?;
            }
        }
        if let Self::DeactivateCreatedAccessKey { created_by_id: Some(id), .. } = self {
            crate::ids::validate_user_id(id).map_err(|e| format!("created_by_id: {e}"))?;
        }
        Ok(())
    }

    /// For an EC2 action: its instance set is well formed (see [`validate_instance_set`]) and its
    /// principal is an ARN; for `deactivate_created_access_key`: `created_by` is an ARN; for
    /// `deactivate_user_access_keys` and its reversal: the key ids are well formed, none twice, at
    /// most [`MAX_USER_KEYS`] ([`validate_key_list`]). `Ok` for any other action.
    pub fn validate_instances(&self) -> Result<(), String> {
        let principal = match self {
            Self::StopInstances { region, principal_arn, instances, .. }
            | Self::TerminateInstances { region, principal_arn, instances, .. } => {
                validate_instance_set(region, instances.iter().map(|i| (i.instance_id.as_str(), Some(i.region.as_str()))))?;
                principal_arn
            }
            Self::StartInstances { region, principal_arn, incident, instance_ids, .. } => {
                validate_token("incident", incident)?;
                validate_instance_set(region, instance_ids.iter().map(|i| (i.as_str(), None)))?;
                principal_arn
            }
            Self::DeactivateCreatedAccessKey { created_by, .. } => created_by,
            Self::DeactivateUserAccessKeys { used_keys, .. } => return validate_key_list("used_keys", used_keys, false),
            Self::ReactivateUserAccessKeys { access_key_ids, .. } => return validate_key_list("access_key_ids", access_key_ids, true),
            _ => return Ok(()),
        };
        if principal.len() > 2048 || !principal.starts_with("arn:") || principal.chars().any(|c| c.is_control() || c.is_whitespace()) {
            let field = if matches!(self, Self::DeactivateCreatedAccessKey { .. }) { "created_by" } else { "principal_arn" };
            return Err(format!("{field} must be an ARN"));
        }
        Ok(())
    }
}

/// Kind tag of a [`ResponseRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseRequestKind {
    /// `"response_request"`
    ResponseRequest,
}

/// One action for one principal, sent by the dispatcher to a handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseRequest {
    /// Contract version.
    pub schema_version: u32,
    /// Always `"response_request"`.
    pub kind: ResponseRequestKind,
    /// Idempotency key: the same finding and action give the same id (see [`request_id`]).
    #[schemars(pattern(TOKEN_PATTERN))]
    pub request_id: String,
    /// The finding (or release) it comes from.
    #[schemars(pattern(TOKEN_PATTERN))]
    pub finding_id: String,
    /// What to do.
    pub action: Action,
    /// Validate and report only; change nothing.
    pub dry_run: bool,
    /// When the dispatcher asked.
    pub requested_at: DateTime<Utc>,
    /// For a reversal a release asked for: who asked (the release's `requested_by`). The handler
    /// resolves it and the principal the reversal is about through IAM, and refuses
    /// ([`SELF_RELEASE`]) when they are one by IAM's unique id: a user renamed after its
    /// containment is still itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// For a reversal: IAM's unique id (`UserId` `AIDA…`, `RoleId` `AROA…`) of the user or role
    /// whose containment it undoes, as the handler reported it when it acted (the ledger entry's
    /// `principal_id`). The handler resolves the name the reversal gives through IAM and refuses,
    /// changing nothing, when IAM's current holder of that name has another id: a name can be
    /// renamed or reused, this id cannot. Absent in requests written before it existed and for
    /// entries with no id (an access key is its own identity). A user asking for a release
    /// (`requested_by`) whose `UserId` is this id is refused ([`SELF_RELEASE`]), under any name;
    /// for the dry-run check of a created key's reactivation, the dispatcher sends the creator's
    /// id (`created_by_id`) here, so a renamed creator cannot release the key it created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}

/// The words of every refusal of a release asked for by a principal it would release (the
/// dispatcher's check by name, a handler's by IAM's unique id).
pub const SELF_RELEASE: &str = "a contained principal never releases itself";

/// The words of every refusal of a reversal whose name now belongs to a principal other than the
/// one it undoes the containment of (by IAM's unique id, the request's `principal_id`).
pub const ANOTHER_PRINCIPAL: &str = "the name belongs to another principal now";

/// Deterministic request id: `lgr-` and 24 hex digits of SHA-256 over the finding id and action.
pub fn request_id(finding_id: &str, action: &Action) -> String {
    let mut h = Sha256::new();
    h.update(finding_id.as_bytes());
    h.update([0u8]);
    h.update(serde_json::to_vec(action).unwrap_or_default());
    format!("lgr-{}", hex(&h.finalize()[..12]))
}

/// The result of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutcomeStatus {
    /// The change was made now.
    Applied,
    /// The state was already as asked (nothing changed).
    AlreadyApplied,
    /// Dry run: this is what would have been done.
    DryRun,
    /// Not done, on purpose (protected principal, other account, unsupported principal...).
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// Tried and failed.
    Failed {
        /// The error.
        error: String,
        /// Trying again may work (throttling, 5xx, network).
        retryable: bool,
    },
}

impl OutcomeStatus {
    /// `applied`, `already_applied`, `dry_run`, `refused`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::AlreadyApplied => "already_applied",
            Self::DryRun => "dry_run",
            Self::Refused { .. } => "refused",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Kind tag of a [`ResponseOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseOutcomeKind {
    /// `"response_outcome"`
    ResponseOutcome,
}

/// What a handler did with a [`ResponseRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseOutcome {
    /// Contract version.
    pub schema_version: u32,
    /// Always `"response_outcome"`.
    pub kind: ResponseOutcomeKind,
    /// The request answered.
    pub request_id: String,
    /// The finding it comes from.
    pub finding_id: String,
    /// The action.
    pub action: Action,
    /// Applied, already applied, dry run, refused or failed.
    pub outcome: OutcomeStatus,
    /// What was (or would have been) done, in words.
    pub detail: String,
    /// How to undo it by hand, when something was changed.
    pub undo: Option<String>,
    /// The action that undoes exactly what launchguard's change did. Set with `applied`, and with
    /// `already_applied` when the state is exactly what launchguard writes (a retried request
    /// must still learn it); whether launchguard made the change is the dispatcher's ledger's
    /// call, never the handler's.
    pub reversal: Option<Action>,
    /// The handler that answered.
    pub handler: String,
    /// When it finished.
    pub completed_at: DateTime<Utc>,
    /// Things a person must look at even though the action succeeded (a look-alike policy that
    /// launchguard did not write, overwritten...). Shown loudly in the notification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// IAM's unique id (`UserId` `AIDA…`, `RoleId` `AROA…`) of the user or role whose resources
    /// a containment changed, as IAM gave it to the handler once the action passed its checks:
    /// the identity the dispatcher's ledger files the containment under (a name can be renamed;
    /// this id cannot). For an access key action: the `UserId` of the key's owner. For a reversal
    /// sent as a dry run: the id of the principal IAM gives the name it names now (a release asks
    /// this before undoing an entry that has no id). Absent for reversals that act, refusals,
    /// failures, and when IAM did not answer (for a containment, a warning says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Set with a refusal when the user CloudTrail confirmed (by IAM's unique id) was not
    /// protected under the ARN its records carry and is protected under the ARN IAM gives it now:
    /// it moved or renamed itself into `PROTECTED_PRINCIPALS` after the burst, a likely evasion.
    /// launchguard never acts on a protected principal; the page says so loudly, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_into_protection: Option<MovedIntoProtection>,
}

/// A confirmed user that launchguard refused to act on because it is protected now, although the
/// ARN CloudTrail's records carry was not ([`ResponseOutcome::moved_into_protection`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MovedIntoProtection {
    /// IAM's unique id of the user (`UserId`), the one CloudTrail's confirmed records carry.
    pub principal_id: String,
    /// The user's ARN as CloudTrail's records carry it (not protected).
    pub recorded_arn: String,
    /// The user's ARN as IAM gives it now (protected).
    pub current_arn: String,
}

impl ResponseOutcome {
    /// An outcome for `req`.
    pub fn for_request(
        req: &ResponseRequest,
        handler: &str,
        outcome: OutcomeStatus,
        detail: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            kind: ResponseOutcomeKind::ResponseOutcome,
            request_id: req.request_id.clone(),
            finding_id: req.finding_id.clone(),
            action: req.action.clone(),
            outcome,
            detail: detail.into(),
            undo: None,
            reversal: None,
            handler: handler.to_owned(),
            completed_at: now,
            warnings: Vec::new(),
            principal_id: None,
            moved_into_protection: None,
        }
    }
}

/// Kind tag of a [`ReleaseRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    /// `"release"`
    Release,
}

/// Undo what launchguard did: by finding, or for one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Contract version.
    pub schema_version: u32,
    /// Always `"release"`.
    pub kind: ReleaseKind,
    /// Release everything this finding applied.
    #[schemars(pattern(TOKEN_PATTERN))]
    pub finding_id: Option<String>,
    /// Release only this principal (user or role ARN); with `finding_id`, within that finding.
    pub principal_arn: Option<String>,
    /// Why, for the record (at most 512 characters, no control characters).
    #[schemars(length(max = MAX_REASON_CHARS))]
    pub reason: Option<String>,
    /// Who asks: the caller identity ARN the CLI read from STS. Said by the sender (the seal
    /// proves only that the sender may release), recorded, and refused when it names a principal
    /// being released.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Report only.
    pub dry_run: bool,
}

/// Everything the dispatcher accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatcherInput {
    /// Contain the principals of a finding.
    Finding(Box<Finding>),
    /// Undo earlier containment.
    Release(ReleaseRequest),
}

/// Read the `schema_version` and `kind` of a payload, refusing unknown versions by name.
fn header(v: &Value, what: &'static str) -> Result<(u32, String), CoreError> {
    let invalid = |reason: String| CoreError::InvalidPayload { kind: what, reason };
    let obj = v.as_object().ok_or_else(|| invalid("expected a JSON object".into()))?;
    let version = match obj.get("schema_version") {
        None => return Err(invalid("schema_version is missing".into())),
        Some(n) => n.as_u64().ok_or_else(|| invalid(format!("schema_version must be a whole number, found {n}")))?,
    };
    let version = u32::try_from(version).unwrap_or(u32::MAX);
    if !SUPPORTED_SCHEMA_VERSIONS.contains(&version) {
        return Err(invalid(format!(
            "unsupported schema_version {version}; this build reads {SUPPORTED_SCHEMA_VERSIONS:?}: upgrade launchguard or send version {SCHEMA_VERSION}"
        )));
    }
    let kind = match obj.get("kind") {
        Some(Value::String(k)) => k.clone(),
        Some(other) => return Err(invalid(format!("kind must be a string, found {other}"))),
        None => return Err(invalid("kind is missing".into())),
    };
    Ok((version, kind))
}

fn strict<T: DeserializeOwned>(v: Value, what: &'static str) -> Result<T, CoreError> {
    serde_json::from_value(v).map_err(|e| CoreError::InvalidPayload { kind: what, reason: e.to_string() })
}

fn expect_kind(kind: &str, want: &str, what: &'static str) -> Result<(), CoreError> {
    if kind == want {
        Ok(())
    } else {
        Err(CoreError::InvalidPayload { kind: what, reason: format!("kind is {kind:?}, expected {want:?}") })
    }
}

/// Decode raw bytes into a JSON value, refusing oversized and non-UTF-8 payloads.
pub fn decode_payload(bytes: &[u8], what: &'static str) -> Result<Value, CoreError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(CoreError::InvalidPayload {
            kind: what,
            reason: format!("payload is {} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit", bytes.len()),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| CoreError::InvalidPayload { kind: what, reason: format!("not JSON: {e}") })
}

/// Size of a JSON value as serialised.
fn size_of(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

fn check_size(v: &Value, what: &'static str) -> Result<(), CoreError> {
    let n = size_of(v);
    if n > MAX_PAYLOAD_BYTES {
        return Err(CoreError::InvalidPayload {
            kind: what,
            reason: format!("payload is {n} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit"),
        });
    }
    Ok(())
}

impl DispatcherInput {
    /// Parse a dispatcher payload: a finding or a release request.
    pub fn parse(v: Value) -> Result<Self, CoreError> {
        check_size(&v, "dispatcher input")?;
        let (_, kind) = header(&v, "dispatcher input")?;
        match kind.as_str() {
            "finding" => Ok(Self::Finding(Box::new(Finding::parse(v)?))),
            "release" => Ok(Self::Release(ReleaseRequest::parse(v)?)),
            other => Err(CoreError::InvalidPayload {
                kind: "dispatcher input",
                reason: format!("kind {other:?} is not accepted here; expected \"finding\" or \"release\""),
            }),
        }
    }
}

impl Finding {
    /// Parse and validate a finding.
    pub fn parse(v: Value) -> Result<Self, CoreError> {
        check_size(&v, "finding")?;
        let (_, kind) = header(&v, "finding")?;
        expect_kind(&kind, "finding", "finding")?;
        let f: Self = strict(v, "finding")?;
        crate::ids::validate_account_id(&f.account_id)
            .map_err(|e| CoreError::InvalidPayload { kind: "finding", reason: format!("account_id: {e}") })?;
        validate_token("finding_id", &f.finding_id).map_err(|reason| CoreError::InvalidPayload { kind: "finding", reason })?;
        validate_region(&f.region).map_err(|reason| CoreError::InvalidPayload { kind: "finding", reason })?;
        validate_token("rule", &f.rule).map_err(|reason| CoreError::InvalidPayload { kind: "finding", reason })?;
        if let Some(t) = &f.trigger {
            validate_text("trigger.name", &t.name, 256).map_err(|reason| CoreError::InvalidPayload { kind: "finding", reason })?;
        }
        for p in f.principals.iter().chain(&f.excluded).chain(&f.top_launchers) {
            if let Some(id) = &p.principal_id {
                // a user's `UserId` or, for a role bound by its `RoleId`, the role's
                crate::ids::validate_user_id(id)
                    .or_else(|_| crate::ids::validate_role_id(id))
                    .map_err(|e| CoreError::InvalidPayload { kind: "finding", reason: format!("principal_id: {e}") })?;
            }
            for c in &p.activity.created {
                c.validate(&f.window).map_err(|reason| CoreError::InvalidPayload { kind: "finding", reason })?;
            }
        }
        if f.verdict == FindingVerdict::NobodyOverThreshold && !f.principals.is_empty() {
            return Err(CoreError::InvalidPayload {
                kind: "finding",
                reason: "a nobody_over_threshold finding must have an empty principals list".into(),
            });
        }
        Ok(f)
    }
}

impl ReleaseRequest {
    /// Parse and validate a release request.
    pub fn parse(v: Value) -> Result<Self, CoreError> {
        let (_, kind) = header(&v, "release")?;
        expect_kind(&kind, "release", "release")?;
        let r: Self = strict(v, "release")?;
        let invalid = |reason: String| CoreError::InvalidPayload { kind: "release", reason };
        if let Some(f) = &r.finding_id {
            validate_token("finding_id", f).map_err(invalid)?;
        }
        if let Some(reason) = &r.reason {
            validate_text("reason", reason, MAX_REASON_CHARS).map_err(invalid)?;
        }
        if let Some(by) = &r.requested_by
            && (by.len() > 2048 || !by.starts_with("arn:") || by.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(invalid("requested_by must be the caller's ARN".into()));
        }
        if r.finding_id.is_none() && r.principal_arn.is_none() {
            return Err(CoreError::InvalidPayload { kind: "release", reason: "give finding_id, principal_arn, or both".into() });
        }
        if let Some(arn) = &r.principal_arn {
            crate::ids::IamArn::parse(arn)
                .map_err(|e| CoreError::InvalidPayload { kind: "release", reason: format!("principal_arn: {e}") })?;
        }
        Ok(r)
    }
}

impl ResponseRequest {
    /// Parse and validate a request.
    pub fn parse(v: Value) -> Result<Self, CoreError> {
        check_size(&v, "response request")?;
        let (_, kind) = header(&v, "response request")?;
        expect_kind(&kind, "response_request", "response request")?;
        let r: Self = strict(v, "response request")?;
        let invalid = |reason: String| CoreError::InvalidPayload { kind: "response request", reason };
        validate_token("request_id", &r.request_id).map_err(invalid)?;
        validate_token("finding_id", &r.finding_id).map_err(invalid)?;
        r.action.validate_instances().map_err(invalid)?;
        r.action.validate_ids().map_err(invalid)?;
        Ok(r)
    }

    /// A request for `action` from `finding_id`.
    pub fn new(finding_id: &str, action: Action, dry_run: bool, now: DateTime<Utc>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            kind: ResponseRequestKind::ResponseRequest,
            request_id: request_id(finding_id, &action),
            finding_id: finding_id.to_owned(),
            action,
            dry_run,
            requested_at: now,
            requested_by: None,
            principal_id: None,
        }
    }
}

impl ResponseOutcome {
    /// Parse and validate an outcome.
    pub fn parse(v: Value) -> Result<Self, CoreError> {
        let (_, kind) = header(&v, "response outcome")?;
        expect_kind(&kind, "response_outcome", "response outcome")?;
        strict(v, "response outcome")
    }
}

impl ResponseRequest {
    /// Parse a handler's raw payload: size, UTF-8, JSON, version, kind, fields.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CoreError> {
        Self::parse(decode_payload(bytes, "response request")?)
    }
}

impl ResponseOutcome {
    /// A refusal: nothing was changed, on purpose.
    pub fn refused(req: &ResponseRequest, handler: &str, reason: impl Into<String>, now: DateTime<Utc>) -> Self {
        let reason = reason.into();
        Self::for_request(
            req,
            handler,
            OutcomeStatus::Refused { reason: reason.clone() },
            format!("refused: {reason}; nothing changed"),
            now,
        )
    }

    /// A failure of an AWS call.
    pub fn failed(req: &ResponseRequest, handler: &str, error: impl Into<String>, retryable: bool, now: DateTime<Utc>) -> Self {
        let error = error.into();
        Self::for_request(req, handler, OutcomeStatus::Failed { error: error.clone(), retryable }, format!("failed: {error}"), now)
    }
}
