//! A release's marks on the entries it releases.
//!
//! The order both sides keep (S3 is strongly consistent for reads and lists after writes):
//! - a release marks each entry of its scope `releasing` (`If-Match`), *then* lists each target's
//!   entries, and reverses nothing on a target where another unreleased entry or a claim exists;
//! - a finding's delivery takes its claim on a target, *then* lists the target's entries, and gives
//!   its claim back (retryably busy) when one of them is being released (a fresh mark).
//!
//! Whichever of the two lists second sees the other's write, so either the release keeps the
//! change, or the new containment waits for the release to finish and then contains again: a
//! release never undoes a change that a new containment has just counted on. Both may back off;
//! neither waits on the other for longer than [`STALE_CLAIM`](super::STALE_CLAIM).

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::store::ConditionalStore;

use super::Ledger;
use super::entry::{ActionEntry, EntryState, Owner, Released, ReversalState};

impl<S: ConditionalStore> Ledger<'_, S> {
    /// The release is over for this entry: clear its mark and, when given, record what became of
    /// its reversal.
    pub async fn end_release(&self, key: &str, reversal: Option<ReversalState>) -> Result<(), CallError> {
        self.update::<ActionEntry>(key, |cur| {
            let mut e = cur?;
            if let (Some(state), Some(rel)) = (&reversal, e.released.as_mut()) {
                rel.reversal = state.clone();
            }
            e.releasing = None;
            Some(e)
        })
        .await
        .map(|_| ())
    }
}

/// What marking one entry of a release's scope did.
#[derive(Debug)]
pub enum Marking {
    /// Marked `releasing` (and released). `newly`: it was not released before.
    Marked {
        /// The entry as marked.
        entry: Box<ActionEntry>,
        /// Released now, not by an earlier release.
        newly: bool,
    },
    /// A delivery claimed it less than the stale bound ago and may be acting: not marked.
    Busy(Box<ActionEntry>),
    /// No such entry.
    Missing,
}

/// What a release means for an entry's reversal, from the entry as it is now: launchguard's
/// change is kept for the walk; a claim that went stale (its delivery died) or an owner that is
/// unknown is for a person; anything else is not launchguard's.
fn reversal_for(e: &ActionEntry) -> ReversalState {
    match (e.state, e.owner) {
        (EntryState::Claimed, _) | (_, Some(Owner::Unknown)) => ReversalState::Unknown,
        (_, Some(Owner::Launchguard)) if e.reversal.is_some() => ReversalState::Kept,
        _ => ReversalState::NotOurs,
    }
}

impl<S: ConditionalStore> Ledger<'_, S> {
    /// Mark one entry of a release's scope: `releasing` since `now`, and released (by, why) unless
    /// it was before. Decided on the entry as it is when written (`If-Match`), never on an older read.
    pub async fn mark_for_release(
        &self,
        key: &str,
        by: Option<String>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Marking, CallError> {
        let mut marking = Marking::Missing;
        self.update::<ActionEntry>(key, |cur| {
            let mut e = cur?;
            if e.released.is_none() && e.fresh_claim(now) {
                marking = Marking::Busy(Box::new(e));
                return None;
            }
            let newly = e.released.is_none();
            if newly {
                e.released = Some(Released { at: now, by: by.clone(), reason: reason.clone(), reversal: reversal_for(&e) });
            }
            e.releasing = Some(now);
            marking = Marking::Marked { entry: Box::new(e.clone()), newly };
            Some(e)
        })
        .await?;
        Ok(marking)
    }
}
