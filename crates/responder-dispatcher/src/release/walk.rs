//! Walking one target of a release: keep what another containment relies on, otherwise run the
//! reversals of launchguard's released changes.

use chrono::{DateTime, Utc};
use launchguard_aws::Invoker;
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::ConditionalStore;
use launchguard_core::contract::{OutcomeStatus, ResponseOutcome, ResponseRequest};

use super::ledger_failure;
use crate::finding::Io;
use crate::ledger::{ActionEntry, Ledger, Owner, ReversalState};
use crate::{DispatcherError, run_requests};

/// Walk one target (as [`crate::ledger::target_of`] names it; its entries in both ledger
/// layouts, [`Ledger::entries_on`]) after the scope is marked: keep everything while another unreleased
/// containment (or a claim) holds it; otherwise reverse launchguard's released changes. Returns
/// the keys whose release it ended (their reversal recorded, their mark cleared).
#[allow(clippy::too_many_arguments)] // the release's state, passed down rather than bundled
pub(super) async fn walk<I: Invoker, N, L, S: ConditionalStore, K: MacSigner>(
    t: &str,
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    scope: &[String],
    (dry_run, now): (bool, DateTime<Utc>),
    outcomes: &mut Vec<ResponseOutcome>,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, DispatcherError> {
    let all = ledger.entries_on(t).await.map_err(|e| ledger_failure(&e))?;
    // Any unreleased containment of this target, or a claim, relies on launchguard's change: keep it all.
    if let Some((_, holder, _)) = all.iter().find(|(k, e, _)| e.holds() && !(dry_run && scope.contains(k))) {
        if all.iter().any(|(_, e, _)| e.owner == Some(Owner::Launchguard)) {
            notes.push(format!("kept: {} is still contained by finding {}", holder.action.target(), holder.finding_id));
        }
        return Ok(Vec::new());
    }
    // Launchguard's changes still to undo. Their order is not trusted (clocks tie): each pass
    // tries every one; a reversal refused because IAM holds a newer document of launchguard's
    // may pass once that one is undone.
    let mut pending: Vec<(String, ActionEntry, String)> = all
        .into_iter()
        .filter(|(k, e, _)| {
            e.owner == Some(Owner::Launchguard)
                && e.reversal.is_some()
                && match &e.released {
                    Some(rel) => matches!(rel.reversal, ReversalState::Kept | ReversalState::Failed { .. } | ReversalState::Refused { .. }),
                    None => dry_run && scope.contains(k),
                }
        })
        .collect();
    pending.sort_by_key(|p| std::cmp::Reverse(p.1.created_at));
    let mut last: Vec<Option<ResponseOutcome>> = vec![None; pending.len()];
    let mut done = vec![false; pending.len()];
    loop {
        let mut progress = false;
        for (i, (_, e, _)) in pending.iter().enumerate() {
            if done[i] {
                continue;
            }
            let Some(rev) = e.reversal.clone() else { continue };
            if let Err(reason) = io.cfg.guard.check_account(rev.account_id()) {
                notes.push(format!("{}: {reason}", rev.target()));
                done[i] = true;
                continue;
            }
            let mut req = ResponseRequest::new(&e.finding_id, rev, dry_run, now);
            // who asked for the release that marked it: the handler refuses a self-release by IAM's ids
            req.requested_by = e.released.as_ref().and_then(|r| r.by.clone());
            // whose containment it undoes, by IAM's unique id: the handler refuses when the name
            // the reversal gives belongs to another principal now
            req.principal_id = e.principal_id.clone();
            let o = run_requests(vec![req], io.cfg, io.lambda, io.kms, now, io.invoke_until).await.remove(0);
            if matches!(o.outcome, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied | OutcomeStatus::DryRun) {
                done[i] = true;
                progress = true;
            }
            last[i] = Some(o);
        }
        if !progress || dry_run {
            break;
        }
    }
    let mut ended = Vec::new();
    for ((key, _, _), o) in pending.into_iter().zip(last) {
        let Some(o) = o else { continue };
        let state = match &o.outcome {
            OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied => Some(ReversalState::Done),
            OutcomeStatus::Refused { reason } => Some(ReversalState::Refused { reason: reason.clone() }),
            OutcomeStatus::Failed { error, .. } => Some(ReversalState::Failed { error: error.clone() }),
            OutcomeStatus::DryRun => None,
        };
        if let Some(state) = state {
            ledger.end_release(&key, Some(state)).await.map_err(|e| ledger_failure(&e))?;
            ended.push(key);
        }
        outcomes.push(o);
    }
    Ok(ended)
}
