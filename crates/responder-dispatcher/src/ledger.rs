//! The ledger: what launchguard did, per finding and per target, in a store with conditional
//! writes (S3, keys under `ledger/`).
//!
//! Key layout (relative to the store's `ledger/` prefix; every segment percent-encoded):
//! - `findings/<finding_id>`: [`FindingEntry`]: deliveries counted, the entries of the finding,
//!   the outcome fingerprint last paged and last recorded (one page, one record per outcome).
//! - `targets/<account>/user/<name>/key/<key_id>/<finding_id>`,
//!   `targets/<account>/user/<name>/quarantine/<finding_id>`,
//!   `targets/<account>/role/<name>/sessions/<finding_id>`: [`ActionEntry`]: one finding's action
//!   on one target: its claim, its outcome, whether launchguard made the change, its reversal, and
//!   its release.
//!
//! - `details/<finding_id>/<record>`: an incident record too large for a log event, whole (the
//!   log keeps a cut copy that names this key).
//!
//! Invariants: an entry is created only with `put_if_absent` (two deliveries cannot both act) and
//! changed only with `put_if_match` on the version just read; a release runs a reversal only for an
//! entry whose change launchguard made ([`Owner::Launchguard`]), once, and only when no newer
//! unreleased entry on the same target relies on it.

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::CallError;
use launchguard_aws::store::{ConditionalStore, Put};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A claim older than this is taken to be from a delivery that died (the function timeout is 300 s).
pub const STALE_CLAIM: Duration = Duration::minutes(10);

/// Whether launchguard itself made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// launchguard made it (the outcome was `applied`): a release may undo it.
    Launchguard,
    /// It was in place when launchguard first looked: a release never undoes it.
    Other,
    /// An earlier attempt may or may not have made it: a release never undoes it by itself; a
    /// person is told.
    Unknown,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// A delivery claimed it and is acting.
    Claimed,
    /// The action answered (see the outcome).
    Done,
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
    /// The action asked.
    pub action: Action,
    /// First claimed.
    pub created_at: DateTime<Utc>,
    /// Last claimed (a stale claim is taken over).
    pub claimed_at: DateTime<Utc>,
    /// Claimed or done.
    pub state: EntryState,
    /// The outcome, once done: what launchguard found (`detail` of `already_applied`) or wrote.
    pub outcome: Option<ResponseOutcome>,
    /// Whether launchguard made the change.
    pub owner: Option<Owner>,
    /// The reversal of launchguard's change (from the first `applied` outcome).
    pub reversal: Option<Action>,
    /// Set once released.
    pub released: Option<Released>,
}

impl ActionEntry {
    /// True when the entry holds a containment in place (launchguard's or found in place).
    pub fn holds(&self) -> bool {
        self.released.is_none()
            && (self.state == EntryState::Claimed
                || self.outcome.as_ref().is_some_and(|o| matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied)))
    }
}

/// One finding's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEntry {
    /// The finding.
    pub finding_id: String,
    /// First delivered.
    pub first_seen: DateTime<Utc>,
    /// Deliveries so far (duplicates and retries included).
    pub deliveries: u64,
    /// The keys of its action entries.
    pub entries: Vec<String>,
    /// The outcome fingerprint last notified.
    pub notified: Option<String>,
    /// The outcome fingerprint last recorded in the incident log.
    pub recorded: Option<String>,
}

/// What a delivery may do with one action.
#[derive(Debug)]
pub enum Claim {
    /// Act: this delivery holds the claim at this version. `owner_if_in_place` is what an
    /// `already_applied` answer means for ownership.
    Act {
        /// The claim's version.
        etag: String,
        /// The entry as claimed.
        entry: Box<ActionEntry>,
        /// Ownership if the handler answers `already_applied`.
        owner_if_in_place: Owner,
    },
    /// Do not act: done before (or released); its stored entry.
    Settled(Box<ActionEntry>),
    /// Another delivery is acting right now.
    Busy,
}

fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The target an action changes, as a key prefix.
pub fn target_of(a: &Action) -> String {
    match a {
        Action::DeactivateAccessKey { account_id, access_key_id, user_name }
        | Action::ReactivateAccessKey { account_id, access_key_id, user_name } => match user_name {
            Some(u) => format!("targets/{}/user/{}/key/{}", seg(account_id), seg(u), seg(access_key_id)),
            None => format!("targets/{}/key/{}", seg(account_id), seg(access_key_id)),
        },
        Action::QuarantineUser { account_id, user_name, .. } | Action::ReleaseUserQuarantine { account_id, user_name, .. } => {
            format!("targets/{}/user/{}/quarantine", seg(account_id), seg(user_name))
        }
        Action::RevokeRoleSessions { account_id, role_name, .. } | Action::RestoreRoleSessions { account_id, role_name, .. } => {
            format!("targets/{}/role/{}/sessions", seg(account_id), seg(role_name))
        }
    }
}

/// The prefix of every target of one principal.
pub fn principal_prefix(account_id: &str, is_user: bool, name: &str) -> String {
    format!("targets/{}/{}/{}/", seg(account_id), if is_user { "user" } else { "role" }, seg(name))
}

/// The key of one finding's entry on one target.
pub fn entry_key(target: &str, finding_id: &str) -> String {
    format!("{target}/{}", seg(finding_id))
}

fn finding_key(finding_id: &str) -> String {
    format!("findings/{}", seg(finding_id))
}

fn to_vec<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn corrupt(key: &str, e: &serde_json::Error) -> CallError {
    CallError::new(
        format!("ledger entry {key} cannot be read ({e}): inspect it in the ledger bucket; launchguard will not act on it"),
        false,
    )
}

/// The ledger over a store.
#[derive(Debug)]
pub struct Ledger<'a, S> {
    store: &'a S,
}

/// How many times a conditional update is retried on a conflict before giving up (retryably).
const ATTEMPTS: usize = 8;

impl<'a, S: ConditionalStore> Ledger<'a, S> {
    /// The ledger in `store` (whose keys are already under `ledger/`).
    pub fn new(store: &'a S) -> Self {
        Self { store }
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, String)>, CallError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(s) => Ok(Some((serde_json::from_slice(&s.body).map_err(|e| corrupt(key, &e))?, s.etag))),
        }
    }

    /// Read-modify-write with `If-Match` (or `If-None-Match` when absent), retried on conflicts.
    async fn update<T: Serialize + DeserializeOwned + Clone>(
        &self,
        key: &str,
        mut change: impl FnMut(Option<T>) -> Option<T>,
    ) -> Result<Option<T>, CallError> {
        for _ in 0..ATTEMPTS {
            let current = self.read::<T>(key).await?;
            let etag = current.as_ref().map(|(_, e)| e.clone());
            let Some(next) = change(current.map(|(v, _)| v)) else { return Ok(None) };
            let put = match &etag {
                Some(e) => self.store.put_if_match(key, to_vec(&next), e).await?,
                None => self.store.put_if_absent(key, to_vec(&next)).await?,
            };
            if let Put::Written { .. } = put {
                return Ok(Some(next));
            }
        }
        Err(CallError::new(format!("ledger entry {key} kept changing under concurrent deliveries; retry"), true))
    }

    /// Keep a whole incident record that is too large for a log event, once (`put_if_absent`; an
    /// object already there holds the same record). Returns its key under `ledger/`.
    pub async fn keep_detail(&self, finding_id: &str, record: &str, body: Vec<u8>) -> Result<String, CallError> {
        let key = format!("details/{}/{}", seg(finding_id), seg(record));
        self.store.put_if_absent(&key, body).await?;
        Ok(key)
    }

    /// Count one delivery of a finding; returns the entry after counting.
    pub async fn count_delivery(&self, finding_id: &str, entries: &[String], now: DateTime<Utc>) -> Result<FindingEntry, CallError> {
        let fresh = FindingEntry {
            finding_id: finding_id.to_owned(),
            first_seen: now,
            deliveries: 0,
            entries: Vec::new(),
            notified: None,
            recorded: None,
        };
        let out = self
            .update::<FindingEntry>(&finding_key(finding_id), |cur| {
                let mut f = cur.unwrap_or_else(|| fresh.clone());
                f.deliveries += 1;
                for e in entries {
                    if !f.entries.contains(e) {
                        f.entries.push(e.clone());
                    }
                }
                Some(f)
            })
            .await?;
        out.ok_or_else(|| CallError::new("ledger: finding entry not written", true))
    }

    /// The finding's entry, if any.
    pub async fn finding(&self, finding_id: &str) -> Result<Option<FindingEntry>, CallError> {
        Ok(self.read::<FindingEntry>(&finding_key(finding_id)).await?.map(|(f, _)| f))
    }

    /// Claim the page (or the record) for this outcome fingerprint: true for the one delivery
    /// that must send it, false when it was sent for this outcome already.
    pub async fn claim_mark(&self, finding_id: &str, record: bool, fingerprint: &str) -> Result<bool, CallError> {
        let mut claimed = false;
        self.update::<FindingEntry>(&finding_key(finding_id), |cur| {
            let mut f = cur?;
            let mark = if record { &mut f.recorded } else { &mut f.notified };
            if mark.as_deref() == Some(fingerprint) {
                claimed = false;
                return None;
            }
            *mark = Some(fingerprint.to_owned());
            claimed = true;
            Some(f)
        })
        .await?;
        Ok(claimed)
    }

    /// Give a claimed page (or record) back after it could not be sent, so a retry sends it.
    pub async fn release_mark(&self, finding_id: &str, record: bool, fingerprint: &str) -> Result<(), CallError> {
        self.update::<FindingEntry>(&finding_key(finding_id), |cur| {
            let mut f = cur?;
            let mark = if record { &mut f.recorded } else { &mut f.notified };
            if mark.as_deref() != Some(fingerprint) {
                return None;
            }
            *mark = None;
            Some(f)
        })
        .await
        .map(|_| ())
    }

    /// Claim one action of a finding for this delivery.
    pub async fn claim(&self, finding_id: &str, action: &Action, now: DateTime<Utc>) -> Result<Claim, CallError> {
        let target = target_of(action);
        let key = entry_key(&target, finding_id);
        let fresh = ActionEntry {
            finding_id: finding_id.to_owned(),
            target,
            action: action.clone(),
            created_at: now,
            claimed_at: now,
            state: EntryState::Claimed,
            outcome: None,
            owner: None,
            reversal: None,
            released: None,
        };
        for _ in 0..ATTEMPTS {
            let Some((cur, etag)) = self.read::<ActionEntry>(&key).await? else {
                match self.store.put_if_absent(&key, to_vec(&fresh)).await? {
                    Put::Written { etag } => {
                        return Ok(Claim::Act { etag, entry: Box::new(fresh), owner_if_in_place: Owner::Other });
                    }
                    Put::Conflict => continue,
                }
            };
            if cur.released.is_some() {
                return Ok(Claim::Settled(Box::new(cur)));
            }
            let (retake, owner_if_in_place) = match (&cur.state, cur.outcome.as_ref().map(|o| &o.outcome)) {
                (EntryState::Claimed, _) if now - cur.claimed_at < STALE_CLAIM => return Ok(Claim::Busy),
                // the delivery that claimed it died: it may have changed IAM
                (EntryState::Claimed, _) => (true, Owner::Unknown),
                (EntryState::Done, Some(OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied)) => {
                    return Ok(Claim::Settled(Box::new(cur)));
                }
                // a failure may have changed IAM before failing (a timeout); refusals and dry runs did not
                (EntryState::Done, Some(OutcomeStatus::Failed { .. })) => (true, Owner::Unknown),
                (EntryState::Done, _) => (true, cur.owner.unwrap_or(Owner::Other)),
            };
            if retake {
                let mut next = cur.clone();
                next.state = EntryState::Claimed;
                next.claimed_at = now;
                next.action = action.clone();
                if let Put::Written { etag } = self.store.put_if_match(&key, to_vec(&next), &etag).await? {
                    return Ok(Claim::Act { etag, entry: Box::new(next), owner_if_in_place });
                }
            }
        }
        Err(CallError::new(format!("ledger entry {key} kept changing under concurrent deliveries; retry"), true))
    }

    /// Record the outcome of a claimed action.
    pub async fn settle(
        &self,
        mut entry: ActionEntry,
        etag: &str,
        outcome: &ResponseOutcome,
        owner_if_in_place: Owner,
    ) -> Result<ActionEntry, CallError> {
        let key = entry_key(&entry.target, &entry.finding_id);
        entry.state = EntryState::Done;
        match outcome.outcome {
            OutcomeStatus::Applied => {
                entry.owner = Some(Owner::Launchguard);
                entry.reversal = outcome.reversal.clone();
            }
            OutcomeStatus::AlreadyApplied if entry.owner != Some(Owner::Launchguard) => {
                entry.owner = Some(owner_if_in_place);
                // kept for a person when ownership is unknown; never run by itself
                if entry.reversal.is_none() {
                    entry.reversal = outcome.reversal.clone();
                }
            }
            _ => {}
        }
        entry.outcome = Some(outcome.clone());
        match self.store.put_if_match(&key, to_vec(&entry), etag).await? {
            Put::Written { .. } => Ok(entry),
            Put::Conflict => Err(CallError::new(format!("ledger entry {key} changed while this delivery held its claim; retry"), true)),
        }
    }

    /// Every entry under a prefix (`targets/...`), with its version.
    pub async fn entries_under(&self, prefix: &str) -> Result<Vec<(String, ActionEntry, String)>, CallError> {
        let mut out = Vec::new();
        for key in self.store.list(prefix).await? {
            if let Some((e, etag)) = self.read::<ActionEntry>(&key).await? {
                out.push((key, e, etag));
            }
        }
        Ok(out)
    }

    /// One entry, with its version.
    pub async fn entry(&self, key: &str) -> Result<Option<(ActionEntry, String)>, CallError> {
        self.read::<ActionEntry>(key).await
    }

    /// Replace an entry read at `etag`; false on a conflict.
    pub async fn replace(&self, key: &str, entry: &ActionEntry, etag: &str) -> Result<bool, CallError> {
        Ok(matches!(self.store.put_if_match(key, to_vec(entry), etag).await?, Put::Written { .. }))
    }
}
