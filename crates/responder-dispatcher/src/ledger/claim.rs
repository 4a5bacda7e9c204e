//! Claiming one action of a finding for one delivery, and recording its outcome.

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::store::{ConditionalStore, Put};
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use tracing::warn;

use super::entry::{ActionEntry, EntryState, Owner, ReversalState, entry_key, identity_key, target_of, target_of_key};
use super::{ATTEMPTS, Ledger, STALE_CLAIM, to_vec};

/// Who holds a claim this delivery could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another delivery of a finding (its number among the finding's deliveries, when known).
    Delivery {
        /// The finding.
        finding_id: String,
        /// The delivery.
        delivery: Option<u64>,
    },
    /// A release that may be reversing changes on the same target.
    Release {
        /// The finding whose entry is being released.
        finding_id: String,
    },
}

/// A claim held by someone else, and since when: retry once it is settled or stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// What it is on, for people (`user alice`).
    pub target: String,
    /// Who holds it.
    pub holder: Holder,
    /// Since when.
    pub since: DateTime<Utc>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match &self.holder {
            Holder::Delivery { finding_id, delivery: Some(n) } => {
                write!(f, "{}: delivery {n} of finding {finding_id} holds the claim since {since}", self.target)
            }
            Holder::Delivery { finding_id, delivery: None } => {
                write!(f, "{}: another delivery of finding {finding_id} holds the claim since {since}", self.target)
            }
            Holder::Release { finding_id } => {
                write!(f, "{}: a release of finding {finding_id} is running since {since}", self.target)
            }
        }
    }
}

/// What a delivery may do with one action.
#[derive(Debug)]
pub enum Claim {
    /// Act: this delivery holds the claim at this version. `owner_if_in_place` is what an
    /// `already_applied` answer means for ownership.
    Act {
        /// The claim's version.
        etag: String,
        /// The entry as claimed (its action is the one to send: a taken-over claim keeps the
        /// request id of the delivery that died).
        entry: Box<ActionEntry>,
        /// Ownership if the handler answers `already_applied`.
        owner_if_in_place: Owner,
    },
    /// Do not act: done before (or released); its stored entry.
    Settled(Box<ActionEntry>),
    /// This very delivery holds it already (the same target asked twice): nothing more to do.
    Own,
    /// Someone else holds it, and may be acting right now.
    Busy(Held),
}

impl<S: ConditionalStore> Ledger<'_, S> {
    /// Claim one action of a finding for delivery `delivery`.
    ///
    /// After taking the claim it lists the target's entries: a release running on the target
    /// (a fresh `releasing` mark) makes it give the claim back and answer [`Claim::Busy`]. The
    /// release marks first and lists after, this claims first and lists after: whichever lists
    /// second sees the other (S3 is strongly consistent for reads and lists after writes), so a
    /// release never reverses a change that a new containment relies on (see `release`).
    pub async fn claim(&self, finding_id: &str, action: &Action, delivery: u64, now: DateTime<Utc>) -> Result<Claim, CallError> {
        let target = target_of(action);
        let key = entry_key(&target, finding_id);
        let fresh = ActionEntry {
            finding_id: finding_id.to_owned(),
            target: target.clone(),
            action: action.clone(),
            created_at: now,
            claimed_at: now,
            claimed_by: Some(delivery),
            state: EntryState::Claimed,
            outcome: None,
            owner: None,
            reversal: None,
            released: None,
            releasing: None,
            principal_id: None,
        };
        for _ in 0..ATTEMPTS {
            let (before, written) = match self.read::<ActionEntry>(&key).await? {
                None => match self.store.put_if_absent(&key, to_vec(&fresh)).await? {
                    Put::Written { etag } => (None, Some((etag, fresh.clone(), Owner::Other))),
                    Put::Conflict => continue,
                },
                Some((cur, etag)) => {
                    if cur.released.is_some() {
                        return Ok(Claim::Settled(Box::new(cur)));
                    }
                    let owner_if_in_place = match (&cur.state, cur.outcome.as_ref().map(|o| &o.outcome)) {
                        (EntryState::Claimed, _) if cur.claimed_by == Some(delivery) => return Ok(Claim::Own),
                        (EntryState::Claimed, _) if cur.fresh_claim(now) => {
                            let holder = Holder::Delivery { finding_id: finding_id.to_owned(), delivery: cur.claimed_by };
                            return Ok(Claim::Busy(Held { target: cur.action.target(), holder, since: cur.claimed_at }));
                        }
                        // the delivery that claimed it is certainly dead: it may have changed IAM
                        (EntryState::Claimed, _) => Owner::Unknown,
                        (EntryState::Done, Some(OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied)) => {
                            return Ok(Claim::Settled(Box::new(cur)));
                        }
                        // a failure may have changed IAM before failing (a timeout); refusals and dry runs did not
                        (EntryState::Done, Some(OutcomeStatus::Failed { .. })) => Owner::Unknown,
                        (EntryState::Done | EntryState::Unclaimed, _) => cur.owner.unwrap_or(Owner::Other),
                    };
                    let mut next = cur.clone();
                    next.state = EntryState::Claimed;
                    next.claimed_at = now;
                    next.claimed_by = Some(delivery);
                    match self.store.put_if_match(&key, to_vec(&next), &etag).await? {
                        Put::Written { etag } => (Some(cur), Some((etag, next, owner_if_in_place))),
                        Put::Conflict => continue,
                    }
                }
            };
            let Some((etag, entry, owner_if_in_place)) = written else { continue };
            let on = self.entries_on(&target).await?;
            // The same finding's entry in the layout before today's (a redelivery after an
            // upgrade): released, or settled in place, it answers for this one, which is given
            // back; nothing is sent (a released containment is not made again, and the ledger
            // never counts one it does not hold).
            if before.is_none()
                && let Some((_, old, _)) = on.iter().find(|(k, e, _)| {
                    *k != key
                        && e.finding_id == finding_id
                        && (e.released.is_some()
                            || (e.state == EntryState::Done
                                && e.outcome
                                    .as_ref()
                                    .is_some_and(|o| matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied))))
                })
            {
                self.give_back(&key, &etag, ActionEntry { state: EntryState::Unclaimed, ..entry }).await?;
                return Ok(Claim::Settled(Box::new(old.clone())));
            }
            if let Some(held) = release_running(&on, &key, now) {
                self.give_back(&key, &etag, before.unwrap_or(ActionEntry { state: EntryState::Unclaimed, ..entry })).await?;
                return Ok(Claim::Busy(held));
            }
            return Ok(Claim::Act { etag, entry: Box::new(entry), owner_if_in_place });
        }
        Err(CallError::new(format!("ledger entry {key} kept changing under concurrent deliveries; retry"), true))
    }

    /// Put back what the entry was before this delivery claimed it (nothing was done under the
    /// claim). An error is retryable: the claim stays, and is taken over once stale.
    async fn give_back(&self, key: &str, etag: &str, before: ActionEntry) -> Result<(), CallError> {
        match self.store.put_if_match(key, to_vec(&before), etag).await? {
            Put::Written { .. } => Ok(()),
            Put::Conflict => Err(CallError::new(
                format!("ledger entry {key} changed while this delivery was giving its claim back; retry (a stale claim is taken over)"),
                true,
            )),
        }
    }

    /// Record the outcome of a claimed action. A failure may have changed IAM before failing
    /// (a handler that timed out or crashed after a write): unless launchguard's change is known,
    /// the owner becomes [`Owner::Unknown`], and a release names it to a person.
    ///
    /// [`Owner::Unknown`] is sticky (it is also what `owner_if_in_place` says for a taken-over
    /// claim): a later attempt sees the state an interrupted one may have left, so its
    /// `already_applied` stays unknown, and its `applied` makes the owner
    /// [`Owner::Launchguard`] only when its reversal undoes the whole change
    /// ([`undoes_whole_change`]). A quarantine stopped after attaching the managed policy, before
    /// its guard, is retried as "attached by someone else" (`guard_only`): that stays unknown, and
    /// a release names it to a person instead of leaving the policy attached silently. A replay
    /// answer needs no case of its own: it carries the status and reversal the completed execution
    /// recorded, and is judged by them (its detail text is not a contract).
    pub async fn settle(
        &self,
        mut entry: ActionEntry,
        etag: &str,
        outcome: &ResponseOutcome,
        owner_if_in_place: Owner,
    ) -> Result<ActionEntry, CallError> {
        let key = entry_key(&entry.target, &entry.finding_id);
        entry.state = EntryState::Done;
        // Only a reversal of the very action sent is kept: a changed handler's answer cannot
        // plant a reversal for another target (a key launchguard never deactivated).
        let mut outcome = outcome.clone();
        if let Some(r) = outcome.reversal.take_if(|r| !entry.action.reverses(r)) {
            warn!(action = %entry.action.name(), target = %entry.action.target(), planted = %r.target(),
                "the handler answered with a reversal of another action: not kept");
            outcome.warnings.push(format!(
                "the handler answered with a reversal of another target ({}): not kept, a release will not run it; check the handler's code",
                launchguard_core::text::untrusted(&r.target())
            ));
        }
        // The identity the answer reports is kept only when it is the one the action was bound to
        // (the id CloudTrail confirmed, which the handler checked IAM gives before acting): a
        // changed handler's answer cannot file a containment, or a reversal, under another user.
        // Another id drops the reversal too (it was written for that user).
        let bound_id = entry.action.bound().map(|b| b.principal_id.clone());
        if let Some(want) = &bound_id
            && let Some(got) = outcome.principal_id.take_if(|got| got != want)
        {
            warn!(action = %entry.action.name(), target = %entry.action.target(), bound = %want, answered = %got,
                "the handler answered with another principal's unique id: id and reversal not kept");
            let dropped = outcome.reversal.take().map(|r| format!(" and its reversal ({})", r.target())).unwrap_or_default();
            outcome.warnings.push(format!(
                "the handler answered with IAM's unique id {}{} for an action bound to {}: not kept, a release will not run it; check the handler's code",
                launchguard_core::text::untrusted(&got),
                launchguard_core::text::untrusted(&dropped),
                launchguard_core::text::untrusted(want)
            ));
        }
        if outcome.principal_id.is_none() && matches!(outcome.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied) {
            outcome.principal_id.clone_from(&bound_id);
        }
        let outcome = &outcome;
        let ours = entry.owner == Some(Owner::Launchguard);
        let unsure = !ours && (entry.owner == Some(Owner::Unknown) || owner_if_in_place == Owner::Unknown);
        match outcome.outcome {
            OutcomeStatus::Applied if ours || !unsure || undoes_whole_change(outcome.reversal.as_ref()) => {
                entry.owner = Some(Owner::Launchguard);
                entry.reversal = outcome.reversal.clone();
            }
            OutcomeStatus::Applied => {
                // only part of the change is launchguard's for sure: kept for a person, never run
                entry.owner = Some(Owner::Unknown);
                entry.reversal = outcome.reversal.clone().or(entry.reversal.take());
            }
            OutcomeStatus::AlreadyApplied if !ours => {
                entry.owner = Some(if unsure { Owner::Unknown } else { owner_if_in_place });
                // kept for a person when ownership is unknown; never run by itself
                if entry.reversal.is_none() {
                    entry.reversal = outcome.reversal.clone();
                }
            }
            OutcomeStatus::Failed { .. } if !ours => entry.owner = Some(Owner::Unknown),
            _ => {}
        }
        entry.outcome = Some(outcome.clone());
        // Re-keyed to IAM's identity of its principal (what the handler reports), before the
        // outcome is kept: a retry of a settle that failed here claims again and writes it then.
        // An access key entry keeps its owner's id (the key is its own target, filed by its id).
        if let Some(id) = outcome.principal_id.as_deref().filter(|id| !id.is_empty())
            && identity_key(&entry.target, id, &entry.finding_id).is_none()
        {
            entry.principal_id = Some(id.to_owned());
        }
        if let Some(id) = outcome.principal_id.as_deref().filter(|id| !id.is_empty())
            && let Some(by_id) = identity_key(&entry.target, id, &entry.finding_id)
        {
            self.store.put_if_absent(&by_id, key.clone().into_bytes()).await?;
            entry.principal_id = Some(id.to_owned());
            if matches!(outcome.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied)
                && let Some(note) = self.crossed_release(&entry, &key, id).await?
            {
                entry.owner = Some(Owner::Unknown);
                if let Some(o) = entry.outcome.as_mut() {
                    o.warnings.push(note);
                }
            }
        }
        match self.store.put_if_match(&key, to_vec(&entry), etag).await? {
            Put::Written { .. } => Ok(entry),
            Put::Conflict => Err(CallError::new(format!("ledger entry {key} changed while this delivery held its claim; retry"), true)),
        }
    }
}

impl<S: ConditionalStore> Ledger<'_, S> {
    /// Whether a release of the same principal, filed under another of its names, may have
    /// reversed what this entry's handler just found or made. This claim listed only the target
    /// of the name its finding gave ([`Ledger::claim`]); a release of an entry filed under another
    /// name sees this one only once it is filed under the id (just done). A release that listed
    /// before that marked its entry first, so it shows here: still `releasing`, or released with
    /// its reversal run (or failed) since this claim's delivery could have looked (its start less
    /// [`STALE_CLAIM`]: a release reverses within its own delivery). Then launchguard cannot tell
    /// whether the containment is still in place: a person is told what to check.
    async fn crossed_release(&self, entry: &ActionEntry, key: &str, id: &str) -> Result<Option<String>, CallError> {
        let since = entry.claimed_at - STALE_CLAIM;
        for (k, e, _) in self.entries_of(&entry.target, Some(id)).await? {
            if k == key || target_of_key(&k).as_deref() == Some(entry.target.as_str()) {
                continue; // the same name's target: the claim's own check covers it
            }
            let reversed = e.released.as_ref().is_some_and(|r| {
                r.at > since && matches!(r.reversal, ReversalState::Done | ReversalState::Failed { .. } | ReversalState::Unknown)
            });
            if e.releasing.is_some() || reversed {
                return Ok(Some(format!(
                    "{}: a release of finding {} (the same {} by IAM's unique id {id}, under another name) ran while this acted and may have undone it: check that it is still contained, and contain it by hand if not; a release will not undo it by itself",
                    entry.action.target(),
                    e.finding_id,
                    if entry.target.contains("/role/") { "role" } else { "user" },
                )));
            }
        }
        Ok(None)
    }
}

/// A fresh release of another entry of the target (`on`: its entries in both layouts), if any.
fn release_running(on: &[(String, ActionEntry, String)], own: &str, now: DateTime<Utc>) -> Option<Held> {
    on.iter().find(|(k, e, _)| k != own && e.fresh_release(now)).map(|(_, e, _)| Held {
        target: e.action.target(),
        holder: Holder::Release { finding_id: e.finding_id.clone() },
        since: e.releasing.unwrap_or(now),
    })
}

/// Whether a reversal undoes all of the change its `applied` outcome made: false when there is
/// none, and for a quarantine that found its managed policy already attached (`guard_only`: after
/// an interrupted attempt, that attachment may be launchguard's own).
pub fn undoes_whole_change(reversal: Option<&Action>) -> bool {
    match reversal {
        None => false,
        Some(Action::ReleaseUserQuarantine { guard_only, .. }) => !guard_only,
        Some(_) => true,
    }
}
