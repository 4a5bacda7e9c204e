//! Walking one target of a release: keep what another containment relies on, otherwise run the
//! reversals of launchguard's released changes, each with IAM's unique id of the principal (a
//! key's owner) whose containment it undoes. An entry that has none is identified first by its
//! handler (a dry run of its reversal reports the id of who holds the key, or the name, now):
//! that id's other unreleased entries keep the change; without an id, a person is told. An entry
//! of a user or role without an id is never undone by the walk: who holds its name now is not
//! proven to be whom it contained, so a person is told, and its release stays open.

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::Invoker;
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::ConditionalStore;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome, ResponseRequest};

use super::{by_hand, ledger_failure};
use crate::finding::Io;
use crate::ledger::{ActionEntry, Ledger, Owner, ReversalState, principal_prefix, target_of};
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
    (notes, human): (&mut Vec<String>, &mut Vec<String>),
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
            let by = e.released.as_ref().and_then(|r| r.by.clone());
            // whose containment it undoes, by IAM's unique id (for a key: its owner's). An entry
            // without one (written before the ledger kept ids, or IAM did not answer its handler)
            // is never undone by name alone: its handler is asked first who holds the name (or
            // the key) now ([`identify`]), and that id's other entries count as holders.
            let id = match e.principal_id.clone().or_else(|| key_owner_id(e).map(str::to_owned)) {
                Some(id) => Some(id),
                // a user's or role's reversal names it by name, and the dry run would report who
                // holds the name NOW, not whom the entry contained: nothing proves they are one,
                // so a person undoes it; the entry's release stays open (never closed as done)
                None if names_a_principal(&rev) => {
                    human.push(by_hand::no_id(e));
                    done[i] = true;
                    continue;
                }
                None if needs_identity(t) => match identify(io, e, &rev, by.clone(), now).await {
                    Identity::Id(id) => {
                        if let Some(h) = held_by_id(ledger, t, &id, e).await.map_err(|e| ledger_failure(&e))? {
                            notes.push(format!(
                                "kept: {} is still contained by finding {} (the same {} by IAM's unique id {id}, under another name)",
                                rev.target(),
                                h.finding_id,
                                if t.contains("/role/") { "role" } else { "user" }
                            ));
                            done[i] = true;
                            continue;
                        }
                        Some(id)
                    }
                    Identity::Unknown => {
                        human.push(unproven(e, &rev));
                        done[i] = true;
                        continue;
                    }
                    // refused or failed: recorded as the reversal's outcome; tried again in the
                    // next pass, as a refused reversal is (another one undone first may let it pass)
                    Identity::Answer(o) => {
                        last[i] = Some(*o);
                        continue;
                    }
                },
                None => None,
            };
            // a key another containment relies on stays inactive (the target differs: a key's
            // own, or its user's every-key deactivation)
            let Some(rev) = without_held_keys(ledger, rev, e, id.as_deref(), notes).await.map_err(|e| ledger_failure(&e))? else {
                done[i] = true;
                continue;
            };
            let mut req = ResponseRequest::new(&e.finding_id, rev, dry_run, now);
            // who asked for the release that marked it: the handler refuses a self-release by IAM's ids
            req.requested_by = by;
            // the handler refuses when the name the reversal gives belongs to another principal now
            req.principal_id = id;
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

/// Whether an unreleased containment of another target holds `target` (an entry on it that
/// [`ActionEntry::holds`]).
async fn held_on<S: ConditionalStore>(ledger: &Ledger<'_, S>, target: &str) -> Result<Option<ActionEntry>, CallError> {
    Ok(ledger.entries_on(target).await?.into_iter().map(|(_, e, _)| e).find(ActionEntry::holds))
}

/// IAM's unique id of the user whose key the access key entry `e` deactivated, as CloudTrail's
/// confirmed records gave it (the id its action was bound to, which the handler checked against
/// the key's owner before acting). `None` when the action was not bound (records with no id): the
/// key's user is then known by the name the handler reported only.
pub(super) fn key_owner_id(e: &ActionEntry) -> Option<&str> {
    match &e.action {
        Action::DeactivateAccessKey { bound: Some(b), .. } => Some(b.principal_id.as_str()),
        _ => None,
    }
}

/// The user an every-key entry is about, as IAM named it last (its reversal's name), for a note.
fn every_key_user(h: &ActionEntry) -> &str {
    match (h.reversal.as_ref().or(h.outcome.as_ref().and_then(|o| o.reversal.as_ref())), &h.action) {
        (Some(Action::ReactivateUserAccessKeys { user_name, .. }), _) | (_, Action::DeactivateUserAccessKeys { user_name, .. }) => {
            user_name
        }
        _ => "?",
    }
}

/// An unreleased every-key containment (`deactivate_user_access_keys`) of the user of the access
/// key entry `e`, found by IAM's identity: filed under the name IAM reported owning the key
/// ([`ActionEntry::key_user`]), or under any other name a finding gave the same user, through
/// `id`, IAM's unique id of the key's owner (the entry's `principal_id`, the id its action was
/// bound to, or the one its handler gave when asked; [`Ledger::entries_of`] follows the `ids/`
/// filing), whatever the kind of key action. A user that renamed itself between two findings is
/// one user: the newer containment keeps its key.
async fn every_key_held<S: ConditionalStore>(
    ledger: &Ledger<'_, S>,
    account_id: &str,
    e: &ActionEntry,
    id: Option<&str>,
) -> Result<Option<ActionEntry>, CallError> {
    // a key whose user nobody named is found by the id alone (the name part of a target is not
    // read under `ids/`)
    let Some(user) = e.key_user().or(id) else { return Ok(None) };
    let all = format!("{}keys", principal_prefix(account_id, true, user));
    Ok(ledger.entries_of(&all, id).await?.into_iter().map(|(_, h, _)| h).find(ActionEntry::holds))
}

/// `rev` without the key statuses another unreleased containment relies on, whose target is not
/// `rev`'s own (the walk checked that one): reactivating a key that a
/// `deactivate_user_access_keys` of its user still holds would give that user a working key
/// back, and so would reactivating, with a user's every-key reversal, a key a containment of the
/// key itself holds. What is kept is named in `notes`; `None` when nothing is left to undo (the
/// entry's release stays open, for a person).
async fn without_held_keys<S: ConditionalStore>(
    ledger: &Ledger<'_, S>,
    rev: Action,
    e: &ActionEntry,
    id: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Option<Action>, CallError> {
    match rev {
        Action::ReactivateAccessKey { ref account_id, ref access_key_id, .. } => match every_key_held(ledger, account_id, e, id).await? {
            Some(h) => {
                notes.push(format!(
                    "kept: access key {access_key_id} stays inactive: finding {} deactivated every key of user {} and is not released",
                    h.finding_id,
                    every_key_user(&h)
                ));
                Ok(None)
            }
            None => Ok(Some(rev)),
        },
        Action::ReactivateUserAccessKeys { account_id, user_arn, user_name, access_key_ids } => {
            let mut free = Vec::new();
            for k in access_key_ids {
                let probe = Action::ReactivateAccessKey { account_id: account_id.clone(), access_key_id: k.clone(), user_name: None };
                match held_on(ledger, &target_of(&probe)).await? {
                    Some(h) => notes.push(format!(
                        "kept: access key {k} of user {user_name} stays inactive: finding {} still contains it",
                        h.finding_id
                    )),
                    None => free.push(k),
                }
            }
            Ok((!free.is_empty()).then_some(Action::ReactivateUserAccessKeys { account_id, user_arn, user_name, access_key_ids: free }))
        }
        other => Ok(Some(other)),
    }
}

/// Whether `rev` undoes a containment of a user or role it names by name (its quarantine, every
/// key, sessions). A key's reversal is bound to the key's id, which IAM never reuses (and the
/// handler checks the key's owner); instances' to their ids.
pub(super) fn names_a_principal(rev: &Action) -> bool {
    matches!(rev, Action::ReleaseUserQuarantine { .. } | Action::ReactivateUserAccessKeys { .. } | Action::RestoreRoleSessions { .. })
}

/// Whether entries of target `t` are a principal's or a key's: their reversal is run only with
/// IAM's unique id of the principal (a key's owner).
fn needs_identity(t: &str) -> bool {
    matches!(t.split('/').nth(2), Some("user" | "role" | "key"))
}

/// What the handler said when asked who holds what an entry without an id would undo.
enum Identity {
    /// IAM's unique id of the user or role the reversal names now (a key's owner).
    Id(String),
    /// The handler answered, without an id (IAM did not answer it, or an older handler).
    Unknown,
    /// The handler refused or failed: recorded as the reversal's outcome, retried by a later release.
    Answer(Box<ResponseOutcome>),
}

/// Ask the handler of `rev` (the reversal of `e`, an entry without IAM's unique id) for the id of
/// whoever IAM gives the name (or the key) now: `rev` sent as a dry run, whose outcome reports it.
async fn identify<I: Invoker, N, L, S: ConditionalStore, K: MacSigner>(
    io: &Io<'_, I, N, L, S, K>,
    e: &ActionEntry,
    rev: &Action,
    by: Option<String>,
    now: DateTime<Utc>,
) -> Identity {
    let mut probe = ResponseRequest::new(&e.finding_id, rev.clone(), true, now);
    probe.requested_by = by;
    let o = run_requests(vec![probe], io.cfg, io.lambda, io.kms, now, io.invoke_until).await.remove(0);
    match (&o.outcome, o.principal_id.as_deref().filter(|id| !id.is_empty())) {
        (OutcomeStatus::DryRun | OutcomeStatus::AlreadyApplied, Some(id)) => Identity::Id(id.to_owned()),
        (OutcomeStatus::DryRun | OutcomeStatus::AlreadyApplied | OutcomeStatus::Applied, _) => Identity::Unknown,
        _ => Identity::Answer(Box::new(o)),
    }
}

/// An unreleased entry on target `t` filed under IAM's unique id `id` (another name a finding gave
/// the principal), other than `e` itself.
async fn held_by_id<S: ConditionalStore>(
    ledger: &Ledger<'_, S>,
    t: &str,
    id: &str,
    e: &ActionEntry,
) -> Result<Option<ActionEntry>, CallError> {
    Ok(ledger
        .entries_of(t, Some(id))
        .await?
        .into_iter()
        .map(|(_, h, _)| h)
        .find(|h| h.holds() && !(h.finding_id == e.finding_id && h.target == e.target)))
}

/// For a person: the reversal of an entry whose principal IAM's unique id cannot name.
fn unproven(e: &ActionEntry, rev: &Action) -> String {
    format!(
        "{} (finding {}, {}): launchguard's ledger has no IAM unique id for this entry (written before it kept ids, or IAM did not answer its handler), and the handler could not give the id of who holds the name now, so launchguard cannot prove whose containment {} would undo: it was not undone; a person checks who holds the name (`aws iam get-user`/`get-role`), that no other containment of that principal relies on it, and undoes it by hand",
        e.action.target(),
        e.finding_id,
        e.action.name(),
        rev.name()
    )
}
