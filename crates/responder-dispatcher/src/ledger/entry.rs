//! What the ledger holds: one finding's action on one target ([`ActionEntry`]), one finding's
//! summary ([`FindingEntry`]), and where each is kept.

use chrono::{DateTime, Utc};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use serde::{Deserialize, Serialize};

use super::{STALE_CLAIM, marks::Mark};

/// Whether launchguard itself made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// launchguard made it (the outcome was `applied`, and after an interrupted attempt one whose
    /// reversal undoes the whole change): a release may undo it.
    Launchguard,
    /// It was in place when launchguard first looked: a release never undoes it.
    Other,
    /// An earlier attempt may or may not have made it (it died, timed out or failed): a release
    /// never undoes it by itself; it tells a person what to check and undo by hand. Sticky: a
    /// later `already_applied`, or an `applied` that undoes only part of the change (a
    /// quarantine's guard beside a policy found attached), leaves it unknown.
    Unknown,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// A delivery claimed it and is acting (see `claimed_at` and `claimed_by`).
    Claimed,
    /// The action answered (see the outcome).
    Done,
    /// Created, then given back before any handler was invoked (a release was running on the
    /// target): nothing was done under it.
    Unclaimed,
}

/// What became of an entry's reversal after its release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReversalState {
    /// Nothing to undo: launchguard did not make this change.
    NotOurs,
    /// Waiting: a newer containment of the same target relies on the change.
    Kept,
    /// Undone.
    Done,
    /// The handler refused (IAM no longer holds what launchguard wrote): left as it is.
    Refused {
        /// Why.
        reason: String,
    },
    /// The reversal failed; a later release retries it.
    Failed {
        /// The error.
        error: String,
    },
    /// launchguard cannot tell whether it made the change (the delivery died, timed out or
    /// failed while acting): never undone by itself; the release told a person what to check.
    Unknown,
}

/// A release of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// When.
    pub at: DateTime<Utc>,
    /// Who asked (`requested_by` of the release, when given).
    pub by: Option<String>,
    /// Why, as given.
    pub reason: Option<String>,
    /// What became of the reversal.
    pub reversal: ReversalState,
}

/// One finding's action on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEntry {
    /// The finding.
    pub finding_id: String,
    /// The target (`targets/...` without the finding).
    pub target: String,
    /// The action asked (kept when a stale claim is taken over: the same request id).
    pub action: Action,
    /// First claimed.
    pub created_at: DateTime<Utc>,
    /// Last claimed: the start of the delivery that claimed it (a stale claim is taken over).
    pub claimed_at: DateTime<Utc>,
    /// The delivery of the finding that last claimed it (the finding entry's count).
    #[serde(default)]
    pub claimed_by: Option<u64>,
    /// Claimed, done or given back.
    pub state: EntryState,
    /// The outcome, once done: what launchguard found (`detail` of `already_applied`) or wrote.
    pub outcome: Option<ResponseOutcome>,
    /// Whether launchguard made the change.
    pub owner: Option<Owner>,
    /// The reversal of launchguard's change (from the first `applied` outcome).
    pub reversal: Option<Action>,
    /// Set once released.
    pub released: Option<Released>,
    /// Set while a release of this entry may reverse changes on its target (see
    /// [`Ledger::begin_release`](super::Ledger::begin_release)): when it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releasing: Option<DateTime<Utc>>,
    /// IAM's unique id of the user or role the entry's target belongs to, as the handler reported
    /// it (`principal_id` of its outcome): the entry's identity. It is filed under that id as well
    /// ([`identity_key`]), so every entry of one principal is found whatever name each finding gave
    /// it. For an access key (its id is its target): IAM's unique id of the key's owner, which a
    /// release follows to an every-key containment of the same user under another name. For a
    /// bound action, the id it was bound to (an answer with another id is not kept). `None`
    /// before a handler answered, and for an entry written before handlers reported it (found by
    /// name; a release asks its handler for the id before undoing it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}

impl ActionEntry {
    /// True when the entry holds a containment in place (launchguard's or found in place).
    pub fn holds(&self) -> bool {
        self.released.is_none()
            && (self.state == EntryState::Claimed
                || self.outcome.as_ref().is_some_and(|o| matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied)))
    }

    /// True when a delivery claimed it less than [`STALE_CLAIM`] ago: it may still be acting.
    pub fn fresh_claim(&self, now: DateTime<Utc>) -> bool {
        self.state == EntryState::Claimed && now - self.claimed_at < STALE_CLAIM
    }

    /// For the containment's page: an unreleased change in place whose owner is unknown (an
    /// earlier attempt stopped while acting; a retry found it, or part of it, in place).
    pub fn unknown_owner_note(&self) -> Option<String> {
        let in_place = self.outcome.as_ref().is_some_and(|o| matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied));
        (self.released.is_none() && in_place && self.owner == Some(Owner::Unknown)).then(|| {
            format!(
                "{}: an earlier attempt of {} stopped while acting, so launchguard cannot tell whether it made all of this change: a release will not undo it by itself, and will name what to check and undo by hand",
                self.action.target(),
                self.action.name()
            )
        })
    }

    /// The IAM user an access key entry is about, as IAM says: the owner the handler reported (its
    /// reversal names the user IAM found owning the key when it acted), else the name the action
    /// gave. `None` for an entry that is not about a key, or a key whose user nobody named. The
    /// entry's identity is the key (account + key id, [`target_of`]); this is how a release by
    /// principal and the self-release check find the key's user after a rename.
    pub fn key_user(&self) -> Option<&str> {
        fn reported(a: Option<&Action>) -> Option<&str> {
            match a {
                Some(Action::ReactivateAccessKey { user_name: Some(u), .. }) => Some(u.as_str()),
                _ => None,
            }
        }
        reported(self.reversal.as_ref()).or_else(|| reported(self.outcome.as_ref().and_then(|o| o.reversal.as_ref()))).or(
            match &self.action {
                Action::DeactivateAccessKey { user_name: Some(u), .. } | Action::DeactivateCreatedAccessKey { user_name: u, .. } => {
                    Some(u.as_str())
                }
                _ => None,
            },
        )
    }

    /// True when a release started less than [`STALE_CLAIM`] ago may still be reversing changes
    /// on this entry's target.
    pub fn fresh_release(&self, now: DateTime<Utc>) -> bool {
        self.releasing.is_some_and(|at| now - at < STALE_CLAIM)
    }
}

/// One finding's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEntry {
    /// The finding.
    pub finding_id: String,
    /// First delivered.
    pub first_seen: DateTime<Utc>,
    /// Deliveries so far (duplicates and retries included); each delivery's number is the count
    /// after counting it.
    pub deliveries: u64,
    /// The keys of its action entries.
    pub entries: Vec<String>,
    /// The page for the outcome fingerprint last notified: being sent, or sent.
    pub notified: Option<Mark>,
    /// The incident record for the outcome fingerprint last recorded: being written, or written.
    pub recorded: Option<Mark>,
    /// The incident reports written (`s3://…/reports/<finding>/<fingerprint>.html`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<String>,
}

pub(crate) fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A user or role name as a key segment. IAM names are unique without regard to case (`Bob` and
/// `bob` cannot both exist), so the ledger compares them as IAM does: lower-cased.
fn name_seg(name: &str) -> String {
    seg(&name.to_ascii_lowercase())
}

/// The prefix of every access key target of an account.
pub fn keys_prefix(account_id: &str) -> String {
    format!("targets/{}/key/", seg(account_id))
}

/// The target an action changes, as a key prefix. Its identity is IAM's: an access key is the
/// account and the key id (key ids are unique; the user a record or a finding names can be
/// renamed, or differ in case, and is not part of it); a user or role is the account and the name
/// compared without regard to case.
pub fn target_of(a: &Action) -> String {
    match a {
        // The key's own target: a key deactivated as used and as created, under any name of its
        // user, is one target.
        Action::DeactivateAccessKey { account_id, access_key_id, .. }
        | Action::ReactivateAccessKey { account_id, access_key_id, .. }
        | Action::DeactivateCreatedAccessKey { account_id, access_key_id, .. } => {
            format!("{}{}", keys_prefix(account_id), seg(access_key_id))
        }
        Action::QuarantineUser { account_id, user_name, .. } | Action::ReleaseUserQuarantine { account_id, user_name, .. } => {
            format!("targets/{}/user/{}/quarantine", seg(account_id), name_seg(user_name))
        }
        // under the user's prefix (a release by principal finds it), filed by IAM's unique id too
        Action::DeactivateUserAccessKeys { account_id, user_name, .. } | Action::ReactivateUserAccessKeys { account_id, user_name, .. } => {
            format!("targets/{}/user/{}/keys", seg(account_id), name_seg(user_name))
        }
        Action::RevokeRoleSessions { account_id, role_name, .. } | Action::RestoreRoleSessions { account_id, role_name, .. } => {
            format!("targets/{}/role/{}/sessions", seg(account_id), name_seg(role_name))
        }
        // Under the principal's prefix (a release by principal finds them), one target a region.
        Action::StopInstances { account_id, region, principal_arn, .. }
        | Action::TerminateInstances { account_id, region, principal_arn, .. }
        | Action::StartInstances { account_id, region, principal_arn, .. } => match a.instances_principal() {
            Some(p) => format!(
                "{}instances/{}",
                principal_prefix(account_id, p.entity == launchguard_core::ids::IamEntity::User, &p.name),
                seg(region)
            ),
            None => format!("targets/{}/principal/{}/instances/{}", seg(account_id), seg(principal_arn), seg(region)),
        },
    }
}

/// The prefix of every target of one principal but its access keys (those are under
/// [`keys_prefix`], found by [`ActionEntry::key_user`]).
pub fn principal_prefix(account_id: &str, is_user: bool, name: &str) -> String {
    format!("targets/{}/{}/{}/", seg(account_id), if is_user { "user" } else { "role" }, name_seg(name))
}

/// A key segment with its letters lower-cased (not the hex digits of its `%XX` escapes): the
/// segment of the ASCII-lower-cased name, as [`name_seg`] writes it.
fn lower_seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex = 0;
    for c in s.chars() {
        if hex > 0 {
            hex -= 1;
            out.push(c);
        } else {
            hex = if c == '%' { 2 } else { 0 };
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The target (as [`target_of`] names it) of an entry key written in either layout: today's, or
/// the one before a key's target became account + key id and names were lower-cased
/// (`targets/<acct>/user/<Name>/key/<id>/<finding>`, `targets/<acct>/user/<Name>/quarantine/…`,
/// a name in the case a record gave). `None` for a key that is not an entry's. Reading both
/// layouts is how a containment recorded before the upgrade keeps holding its target, and how a
/// release of it sees the newer ones.
pub fn target_of_key(key: &str) -> Option<String> {
    let (target, _finding) = key.rsplit_once('/')?;
    let p: Vec<&str> = target.split('/').collect();
    match p.as_slice() {
        ["targets", acct, "user", _name, "key", id] => Some(format!("targets/{acct}/key/{id}")),
        ["targets", acct, kind @ ("user" | "role"), name, rest @ ..] if !rest.is_empty() => {
            Some(format!("targets/{acct}/{kind}/{}/{}", lower_seg(name), rest.join("/")))
        }
        ["targets", _, _, ..] => Some(target.to_owned()),
        _ => None,
    }
}

/// The prefix under which the layout before today's may have filed entries of `target` (besides
/// `target/` itself): an access key's under its account's users, a user's or role's under the
/// account's users or roles (its name in any case).
pub(super) fn legacy_prefix(target: &str) -> Option<String> {
    let p: Vec<&str> = target.split('/').collect();
    match p.as_slice() {
        ["targets", acct, "key", _] => Some(format!("targets/{acct}/user/")),
        ["targets", acct, kind @ ("user" | "role"), _, _, ..] => Some(format!("targets/{acct}/{kind}/")),
        _ => None,
    }
}

/// Where the entries of one principal's target are filed by IAM's unique id `id` (the
/// principal's `UserId` or `RoleId`): `ids/<account>/<user|role>/<id>/<what>/`, `<what>` being
/// the target's part after the name (`quarantine`, `sessions`, `instances/<region>`). `None` for
/// a target that is not a user's or role's (an access key: its id is its identity).
pub fn identity_prefix(target: &str, id: &str) -> Option<String> {
    let p: Vec<&str> = target.split('/').collect();
    match p.as_slice() {
        ["targets", acct, kind @ ("user" | "role"), _name, rest @ ..] if !rest.is_empty() => {
            Some(format!("ids/{acct}/{kind}/{}/{}/", seg(id), rest.join("/")))
        }
        _ => None,
    }
}

/// The key under [`identity_prefix`] that names one finding's entry (its body is the entry's
/// key): the entry re-keyed to IAM's identity of its principal.
pub fn identity_key(target: &str, id: &str, finding_id: &str) -> Option<String> {
    identity_prefix(target, id).map(|p| format!("{p}{}", seg(finding_id)))
}

/// The key of one finding's entry on one target.
pub fn entry_key(target: &str, finding_id: &str) -> String {
    format!("{target}/{}", seg(finding_id))
}

pub(super) fn finding_key(finding_id: &str) -> String {
    format!("findings/{}", seg(finding_id))
}

pub(super) fn detail_key(finding_id: &str, record: &str) -> String {
    format!("details/{}/{}", seg(finding_id), seg(record))
}
