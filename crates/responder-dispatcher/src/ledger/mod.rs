//! The ledger: what launchguard did, per finding and per target, in a store with conditional
//! writes (S3, keys under `ledger/`).
//!
//! Key layout (relative to the store's `ledger/` prefix; every segment percent-encoded):
//! - `findings/<finding_id>`: [`FindingEntry`]: deliveries counted, the entries of the finding,
//!   the outcome fingerprint last paged and last recorded (one page, one record per outcome).
//! - `targets/<account>/key/<key_id>/<finding_id>`,
//!   `targets/<account>/user/<name>/quarantine/<finding_id>`,
//!   `targets/<account>/role/<name>/sessions/<finding_id>`,
//!   `targets/<account>/<user|role>/<name>/instances/<region>/<finding_id>`: [`ActionEntry`]: one
//!   finding's action on one target: its claim, its outcome, whether launchguard made the change,
//!   its reversal, and its release. Identity is IAM's: a key is account + key id (whatever user
//!   name a record gave; the entry names the owner the handler reported, [`ActionEntry::key_user`]),
//!   a user or role name is lower-cased (IAM names are unique without regard to case).
//!   Once a handler reports IAM's unique id of the user or role (`principal_id` of its outcome),
//!   the entry is also filed under it: `ids/<account>/<user|role>/<unique_id>/<what>/<finding_id>`
//!   holds the entry's key ([`identity_key`]), and [`Ledger::entries_on`] adds every entry filed
//!   under the ids of those it found, so two findings that named one principal by two names (a
//!   rename between them) hold one target. An access key entry keeps its owner's unique id
//!   (the access-key handler reports it) without being filed under `ids/`: a release follows it to
//!   the every-key containments of the same user. An answer's id for an action bound to another
//!   id is not kept ([`Ledger::settle`]).
//!   Entries written before that (a key under `targets/<account>/user/<name>/key/<key_id>/`, a
//!   name in the case a record gave) are read where they are: [`Ledger::entries_on`] finds every
//!   entry of a target in both layouts, and a release groups its scope by [`target_of_key`].
//!
//! - `details/<finding_id>/<record>`: an incident record too large for a log event, whole (the
//!   log keeps a cut copy that names this key).
//!
//! Invariants: an entry is created only with `put_if_absent` (two deliveries cannot both act) and
//! changed only with `put_if_match` on the version just read; a release runs a reversal only for an
//! entry whose change launchguard made ([`Owner::Launchguard`]), once, and only when no newer
//! unreleased entry on the same target relies on it.
//!
//! Modules: [`entry`] (what is kept, and where), [`claim`] (claiming, giving back, settling),
//! [`marks`] (one page and one record per outcome), [`releasing`] (a release's marks).

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::CallError;
use launchguard_aws::store::{ConditionalStore, Put};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod claim;
pub mod entry;
pub mod marks;
pub mod releasing;

pub use claim::{Claim, Held, Holder};
pub use entry::{
    ActionEntry, EntryState, FindingEntry, Owner, Released, ReversalState, entry_key, identity_key, identity_prefix, keys_prefix,
    principal_prefix, target_of, target_of_key,
};
pub use marks::{Mark, MarkClaim, MarkState};
pub use releasing::Marking;

/// The dispatcher's function timeout: `[package.metadata.lambda.deploy] timeout` in
/// `crates/responder-dispatcher/Cargo.toml` (`deploy/` and `e2e/` read it there; a test keeps the
/// two equal). Lambda stops a delivery at its start + this, whatever it is doing.
pub const DISPATCHER_TIMEOUT: Duration = Duration::seconds(120);

/// The handlers' function timeout (`[package.metadata.lambda.deploy] timeout` of both handlers).
pub const HANDLER_TIMEOUT: Duration = Duration::seconds(60);

/// A delivery invokes handlers only this long after it started: the window is checked before a
/// request is sealed and again right before it is invoked; a later request fails, retryably,
/// without being sent ("not sent").
pub const INVOKE_WINDOW: Duration = Duration::seconds(60);

/// The part of the invoke window that CloudTrail's lookups leave for what comes before the first
/// invocation (counting the delivery, claiming each action in the ledger, sealing requests).
pub const CONFIRM_RESERVE: Duration = Duration::seconds(10);

/// How long this delivery may run: Lambda's deadline (epoch milliseconds, the runtime API's
/// `Lambda-Runtime-Deadline-Ms`) less `now_ms`. A deadline that is not in the future is no
/// deadline Lambda gives (local emulators send a fixed number such as 600000): the deployed
/// [`DISPATCHER_TIMEOUT`] is taken instead, never zero, which would leave no time to confirm or
/// act.
pub fn time_left(deadline_ms: u64, now_ms: i64) -> std::time::Duration {
    let fallback = DISPATCHER_TIMEOUT.to_std().unwrap_or_default();
    match u64::try_from(now_ms) {
        Ok(now) if deadline_ms > now => std::time::Duration::from_millis(deadline_ms - now),
        _ => fallback,
    }
}

/// A delivery's limits from its start and the instant Lambda stops it: no handler is invoked
/// after the first (its start + [`INVOKE_WINDOW`], or earlier so that a handler invoked then can
/// run its [`HANDLER_TIMEOUT`] before the deadline), and no CloudTrail lookup starts after the
/// second ([`CONFIRM_RESERVE`] before the first).
pub fn delivery_limits(start: tokio::time::Instant, deadline: tokio::time::Instant) -> (tokio::time::Instant, tokio::time::Instant) {
    let span = |d: Duration| d.to_std().unwrap_or_default();
    let by_deadline = deadline.checked_sub(span(HANDLER_TIMEOUT)).unwrap_or(start).max(start);
    let invoke_until = (start + span(INVOKE_WINDOW)).min(by_deadline);
    let confirm_until = invoke_until.checked_sub(span(CONFIRM_RESERVE)).unwrap_or(start).max(start);
    (invoke_until, confirm_until)
}

/// The longest the SDK's standard retry strategy (5 attempts, `launchguard_aws::load_sdk_config`)
/// sleeps between the attempts of one `Invoke`: full-jitter exponential backoff from 1 s, at most
/// 1 + 2 + 4 + 8 s. A handler invocation that passed the window check may start this much later.
pub const INVOKE_RETRY_BACKOFF: Duration = Duration::seconds(15);

/// A claim (or a release's mark, or a page being sent) older than this is from a delivery that is
/// certainly dead, and is taken over.
///
/// A claim carries its delivery's start (`claimed_at`). Every handler the delivery invoked was
/// sent within its first [`INVOKE_WINDOW`] (60 s, checked right before each invocation), started
/// by then + [`INVOKE_RETRY_BACKOFF`] (the SDK retrying a throttled `Invoke`, 15 s), and ended by
/// its own [`HANDLER_TIMEOUT`] (60 s) after that: by start + 135 s, < 150 s; the rest covers
/// clocks that differ between instances and the failed attempts themselves (a throttle is
/// answered at once). Lambda has stopped the delivery itself by start + [`DISPATCHER_TIMEOUT`]
/// (120 s). A taken-over claim is sent again with the same request id: a handler that acted
/// answers from its replay record, so the ledger learns the real outcome. Lambda retries a failed
/// event after about 1 and 3 more minutes: the second retry of a delivery that found a claim busy
/// comes after this bound, and takes it over.
pub const STALE_CLAIM: Duration = Duration::seconds(150);

const _: () = assert!(INVOKE_WINDOW.num_seconds() + HANDLER_TIMEOUT.num_seconds() <= DISPATCHER_TIMEOUT.num_seconds());
const _: () =
    assert!(INVOKE_WINDOW.num_seconds() + INVOKE_RETRY_BACKOFF.num_seconds() + HANDLER_TIMEOUT.num_seconds() < STALE_CLAIM.num_seconds());
const _: () = assert!(STALE_CLAIM.num_seconds() > DISPATCHER_TIMEOUT.num_seconds());

pub(crate) fn to_vec<T: Serialize>(v: &T) -> Vec<u8> {
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
        let key = entry::detail_key(finding_id, record);
        self.store.put_if_absent(&key, body).await?;
        Ok(key)
    }

    /// Count one delivery of a finding; returns the entry after counting (its `deliveries` is
    /// this delivery's number).
    pub async fn count_delivery(&self, finding_id: &str, entries: &[String], now: DateTime<Utc>) -> Result<FindingEntry, CallError> {
        let fresh = FindingEntry {
            finding_id: finding_id.to_owned(),
            first_seen: now,
            deliveries: 0,
            entries: Vec::new(),
            notified: None,
            recorded: None,
            reports: Vec::new(),
        };
        let out = self
            .update::<FindingEntry>(&entry::finding_key(finding_id), |cur| {
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

    /// Name more action entries in the finding's entry (a containment planned after the first
    /// actions answered: `deactivate_user_access_keys` when a quarantine failed), before they
    /// are claimed: a release of the finding finds them. Not a delivery: nothing is counted.
    pub async fn note_entries(&self, finding_id: &str, entries: &[String]) -> Result<(), CallError> {
        self.update::<FindingEntry>(&entry::finding_key(finding_id), |cur| {
            let mut f = cur?;
            let before = f.entries.len();
            f.entries.extend(entries.iter().filter(|e| !f.entries.contains(e)).cloned().collect::<Vec<_>>());
            (f.entries.len() > before).then_some(f)
        })
        .await
        .map(|_| ())
    }

    /// Name a report written for the finding in its entry (once).
    pub async fn note_report(&self, finding_id: &str, object: &str) -> Result<(), CallError> {
        self.update::<FindingEntry>(&entry::finding_key(finding_id), |cur| {
            let mut f = cur?;
            if f.reports.iter().any(|r| r == object) {
                return None;
            }
            f.reports.push(object.to_owned());
            Some(f)
        })
        .await
        .map(|_| ())
    }

    /// The finding's entry, if any.
    pub async fn finding(&self, finding_id: &str) -> Result<Option<FindingEntry>, CallError> {
        Ok(self.read::<FindingEntry>(&entry::finding_key(finding_id)).await?.map(|(f, _)| f))
    }

    /// Every finding the ledger holds (`findings/`), read.
    pub async fn all_findings(&self) -> Result<Vec<FindingEntry>, CallError> {
        let mut out = Vec::new();
        for key in self.store.list("findings/").await? {
            if let Some((f, _)) = self.read::<FindingEntry>(&key).await? {
                out.push(f);
            }
        }
        Ok(out)
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

    /// Every entry on `target` (as [`target_of`] names it), with its key and version: those under
    /// it, and those the layout before today's filed elsewhere ([`entry::target_of_key`]: a key
    /// under its user's name, a name in its case), whose own action names the same target. Use
    /// this, never a plain prefix list, for "who else holds this target".
    pub async fn entries_on(&self, target: &str) -> Result<Vec<(String, ActionEntry, String)>, CallError> {
        self.entries_of(target, None).await
    }

    /// [`Ledger::entries_on`], also following the IAM unique id `id` (a handler's answer not yet
    /// kept in any entry).
    pub(crate) async fn entries_of(&self, target: &str, id: Option<&str>) -> Result<Vec<(String, ActionEntry, String)>, CallError> {
        let mut out = self.entries_under(&format!("{target}/")).await?;
        if let Some(p) = entry::legacy_prefix(target) {
            for key in self.store.list(&p).await? {
                if out.iter().any(|(k, _, _)| *k == key) || entry::target_of_key(&key).as_deref() != Some(target) {
                    continue;
                }
                if let Some((e, etag)) = self.read::<ActionEntry>(&key).await?
                    && target_of(&e.action) == target
                {
                    out.push((key, e, etag));
                }
            }
        }
        self.same_principal(target, id, &mut out).await?;
        Ok(out)
    }

    /// Add to `out` (entries on `target`) every entry of the same principal's same target that a
    /// finding filed under another name (a rename between two findings): those filed under the
    /// IAM unique id ([`entry::identity_prefix`]) a handler reported for any entry found, and
    /// theirs in turn. Ledger identity is IAM's, so a release never undoes what another finding
    /// of the same principal, named otherwise, still holds.
    async fn same_principal(
        &self,
        target: &str,
        seed: Option<&str>,
        out: &mut Vec<(String, ActionEntry, String)>,
    ) -> Result<(), CallError> {
        let mut seen: Vec<String> = Vec::new();
        loop {
            let ids: Vec<String> = out
                .iter()
                .filter_map(|(_, e, _)| e.principal_id.clone())
                .chain(seed.map(str::to_owned))
                .filter(|id| !seen.contains(id))
                .collect();
            if ids.is_empty() {
                return Ok(());
            }
            for id in ids {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id.clone());
                let Some(prefix) = entry::identity_prefix(target, &id) else { continue };
                for pointer in self.store.list(&prefix).await? {
                    let Some(stored) = self.store.get(&pointer).await? else { continue };
                    let key = String::from_utf8_lossy(&stored.body).into_owned();
                    if out.iter().any(|(k, _, _)| *k == key) {
                        continue;
                    }
                    // an entry of this kind of target, by this id (or none yet: its settle files
                    // it under the id before it keeps the outcome) is this principal's
                    if let Some((e, etag)) = self.read::<ActionEntry>(&key).await?
                        && e.principal_id.as_ref().is_none_or(|p| *p == id)
                        && entry::identity_prefix(&e.target, &id).as_deref() == Some(prefix.as_str())
                    {
                        out.push((key, e, etag));
                    }
                }
            }
        }
    }

    /// The keys of every entry of an account's users (`is_user`) or roles, in either layout.
    pub async fn principal_keys(&self, account_id: &str, is_user: bool) -> Result<Vec<String>, CallError> {
        self.store.list(&format!("targets/{}/{}/", entry::seg(account_id), if is_user { "user" } else { "role" })).await
    }

    /// One entry, with its version.
    pub async fn entry(&self, key: &str) -> Result<Option<(ActionEntry, String)>, CallError> {
        self.read::<ActionEntry>(key).await
    }
}

#[cfg(test)]
mod tests {
    /// `DISPATCHER_TIMEOUT` is the function timeout the deployment gives the dispatcher.
    #[test]
    fn the_timeout_is_the_deployed_one() {
        let manifest = include_str!("../../Cargo.toml");
        let deployed = manifest.split("[package.metadata.lambda.deploy]").nth(1).unwrap_or_default();
        let line = format!("timeout = {}", super::DISPATCHER_TIMEOUT.num_seconds());
        assert!(deployed.lines().any(|l| l.trim() == line), "crates/responder-dispatcher/Cargo.toml must say {line}");
        for handler in [include_str!("../../../iam-handler/Cargo.toml"), include_str!("../../../accesskey-handler/Cargo.toml")] {
            let line = format!("timeout = {}", super::HANDLER_TIMEOUT.num_seconds());
            assert!(handler.lines().any(|l| l.trim() == line), "each handler's Cargo.toml must say {line}");
        }
    }
}
