//! Releasing: undo what launchguard did and still owns, by finding or by principal.
//!
//! A release marks the entries in its scope released (by whom, why) and `releasing`, then walks
//! each target's entries: an unreleased entry that holds a containment (or a claim) stops the walk
//! (the newest containment wins: what it relies on stays); a released entry whose change
//! launchguard made, and whose reversal has not run, is reversed, and the handler reverses only
//! while IAM holds exactly what launchguard wrote. A change launchguard found in place is never
//! undone. Marking before listing, against a delivery that claims before listing, closes the race
//! with a new containment of the same target (see [`crate::ledger::releasing`]).
//!
//! An entry whose owner is unknown (a delivery died, timed out or failed while acting; a claim
//! that went stale) blocks nothing and is never undone by itself: the release names it in
//! `human_actions`, with what to check and the commands that undo it ([`by_hand`]), and its status
//! says a person must act. Every release that covers it names it again, while its reversal stays
//! unknown: the release that first marked it may have answered busy. An entry without IAM's
//! unique id of its principal (written before the ledger kept ids, or IAM did not answer its
//! handler) is never undone by its name alone. A user's or role's is handed to a person (who holds
//! its name now is not proven to be whom it contained) and its release stays open; a key's (or
//! instances') reversal is bound to the key's id: the walk asks its handler for the id of the key's
//! owner, and hands it to a person when no id comes back. A release by principal leaves every
//! entry without an id out, and names it for a person. The walk is in [`walk`].

mod by_hand;
mod identity;
mod walk;

use chrono::{DateTime, Utc};
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::ConditionalStore;
use launchguard_aws::{CallError, Invoker};
use launchguard_core::CoreError;
use launchguard_core::contract::{Action, OutcomeStatus, ReleaseRequest, ResponseRequest, SELF_RELEASE};
use launchguard_core::ids::{IamArn, IamEntity};
use serde_json::json;
use tracing::{info, warn};

use crate::error::{Failure, Part};
use crate::finding::{Io, action_failures};
use crate::ledger::{ActionEntry, Held, Holder, Ledger, Marking, ReversalState, keys_prefix, principal_prefix, target_of_key};
use crate::page::{Page, deliver};
use crate::record::{DispatchReport, IncidentRecord, RecordType, Status};
use crate::{DispatcherError, IncidentLog, Notifier, notify};

pub(super) fn ledger_failure(e: &CallError) -> DispatcherError {
    DispatcherError::Incomplete {
        failures: vec![Failure { part: Part::Ledger, what: format!("ledger: {}", e.message), retryable: e.retryable }],
    }
}

/// Undo what launchguard applied for a finding or a principal.
pub async fn release<I: Invoker, N: Notifier, L: IncidentLog, S: ConditionalStore, K: MacSigner>(
    r: &ReleaseRequest,
    io: &Io<'_, I, N, L, S, K>,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    if let Some(f) = &r.finding_id
        && !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(DispatcherError::InvalidInput(CoreError::InvalidPayload {
            kind: "release",
            reason: "finding_id may hold only letters, digits, - and _".into(),
        }));
    }
    let target = r.principal_arn.as_deref().map(IamArn::parse).transpose()?;
    let prefix = target.as_ref().map(|t| principal_prefix(&t.account_id, t.entity == IamEntity::User, &t.name));
    let label = r.finding_id.clone().unwrap_or_else(|| r.principal_arn.clone().unwrap_or_default());
    let dry_run = r.dry_run || io.cfg.dry_run;
    let ledger = Ledger::new(io.store);
    // The scope: entry keys. A principal's access keys are found by the user IAM reported owning
    // them ([`ActionEntry::key_user`]), not by a name in the key (a key's target is its id).
    let mut scope: Vec<String> = match (&r.finding_id, &target, &prefix) {
        (Some(f), _, _) => match ledger.finding(f).await.map_err(|e| ledger_failure(&e))? {
            Some(fe) => {
                let mut keys = Vec::new();
                for k in fe.entries {
                    let of_target = match (&target, &prefix) {
                        (Some(t), Some(p)) => {
                            let on = target_of_key(&k).map(|x| format!("{x}/")).unwrap_or_default();
                            on.starts_with(p.as_str())
                                || (on.starts_with(&keys_prefix(&t.account_id))
                                    && ledger.entry(&k).await.map_err(|e| ledger_failure(&e))?.is_some_and(|(e, _)| owns_key(t, &e)))
                        }
                        _ => true,
                    };
                    if of_target {
                        keys.push(k);
                    }
                }
                keys
            }
            None => Vec::new(),
        },
        (None, Some(t), Some(p)) => {
            // both ledger layouts: the principal's targets under any case of its name, and (a
            // user) the keys IAM reported it owning, filed under their id or under a user's name
            let is_user = t.entity == IamEntity::User;
            let listed = ledger.principal_keys(&t.account_id, is_user).await.map_err(|e| ledger_failure(&e))?;
            let on = |k: &str| target_of_key(k).map(|x| format!("{x}/")).unwrap_or_default();
            let mut keys: Vec<String> = listed.iter().filter(|k| on(k).starts_with(p.as_str())).cloned().collect();
            if is_user {
                let kp = keys_prefix(&t.account_id);
                let mut candidates = ledger.entries_under(&kp).await.map_err(|e| ledger_failure(&e))?;
                for k in listed.iter().filter(|k| on(k).starts_with(&kp)) {
                    if let Some((e, etag)) = ledger.entry(k).await.map_err(|e| ledger_failure(&e))? {
                        candidates.push((k.clone(), e, etag));
                    }
                }
                keys.extend(candidates.into_iter().filter(|(_, e, _)| owns_key(t, e)).map(|(k, _, _)| k));
            }
            // the same principal's targets under the other names findings gave it, by the IAM
            // unique id its handlers reported ([`Ledger::entries_on`])
            let mut targets: Vec<String> = keys.iter().filter_map(|k| target_of_key(k)).filter(|x| x.starts_with(p.as_str())).collect();
            targets.sort();
            targets.dedup();
            for x in targets {
                for (k, e, _) in ledger.entries_on(&x).await.map_err(|e| ledger_failure(&e))? {
                    if e.principal_id.is_some() && !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            keys
        }
        (None, ..) => Vec::new(),
    };
    // A principal named by name: only the entries of the principal IAM gives that name now, by
    // IAM's unique id (a rename, or the name given to a new user, never widens the scope).
    let left = match &r.principal_arn {
        Some(p) => identity::keep_the_named_principal(p, &mut scope, io, &ledger, now).await?,
        None => identity::LeftOut::default(),
    };
    let mut notes = left.notes;
    // A contained principal never releases itself: refused before anything is marked. Who asks
    // must be said (the CLI and SECURITY.md's manual path do), as an IAM user, role or session.
    let by = match r.requested_by.as_deref() {
        Some(by) if IamArn::parse(&launchguard_core::guard::role_of_caller(by)).is_ok() => by,
        other => {
            return Err(DispatcherError::Rejected {
                finding_id: label,
                reason: format!(
                    "requested_by is {other:?}: a release must name who asks (an IAM user, role or role session ARN); use `launchguard release`"
                ),
            });
        }
    };
    for key in &scope {
        if let Some((e, _)) = ledger.entry(key).await.map_err(|e| ledger_failure(&e))?
            && names_the_caller(by, &e)
        {
            return Err(DispatcherError::Rejected {
                finding_id: label,
                reason: format!("{by} asked to release its own containment ({}): {SELF_RELEASE}", e.action.target()),
            });
        }
    }
    // A user renamed after its containment is still itself: the handlers compare IAM's unique
    // ids (the dispatcher makes no IAM call), before anything is marked.
    if let Some(reason) = asked_by_itself(by, &scope, io, &ledger, now).await? {
        return Err(DispatcherError::Rejected { finding_id: label, reason });
    }
    // Mark the scope released and `releasing` (before listing any target). A fresh claim is a
    // delivery acting right now: retry. A stale one, or an unknown owner, is for a person.
    let mut marked = 0;
    let mut human = left.by_hand;
    if !dry_run {
        let mut held = Vec::new();
        for key in &scope {
            match ledger.mark_for_release(key, r.requested_by.clone(), r.reason.clone(), now).await.map_err(|e| ledger_failure(&e))? {
                Marking::Marked { entry, newly } => {
                    marked += usize::from(newly);
                    // named on every release that covers it (not only the one that first marked
                    // it: that one may have answered busy) while its reversal stays unknown
                    if entry.released.as_ref().is_some_and(|rel| rel.reversal == ReversalState::Unknown) {
                        human.push(by_hand::unknown_change(&entry));
                    }
                }
                Marking::Busy(e) => held.push(Held {
                    target: e.action.target(),
                    holder: Holder::Delivery { finding_id: e.finding_id.clone(), delivery: e.claimed_by },
                    since: e.claimed_at,
                }),
                Marking::Missing => {}
            }
        }
        if !held.is_empty() {
            // what was marked stays released; the walk runs, and names what is for a person,
            // when the release is sent again
            for h in &human {
                warn!(release = %label, by_hand = %h, "release busy: this needs a person, and is named again when the release is sent again");
            }
            for key in &scope {
                ledger.end_release(key, None).await.map_err(|e| ledger_failure(&e))?;
            }
            return Err(DispatcherError::Busy { finding_id: label, held, failures: Vec::new() });
        }
    }
    // Walk each target.
    // Walk each target, as IAM names it: an entry written in the layout before today's is walked
    // with the newer entries of its target ([`target_of_key`], [`Ledger::entries_on`]).
    let mut targets: Vec<String> = scope.iter().filter_map(|k| target_of_key(k)).collect();
    targets.sort();
    targets.dedup();
    let mut outcomes = Vec::new();
    for t in &targets {
        let mine: Vec<&String> = scope.iter().filter(|k| target_of_key(k).as_deref() == Some(t.as_str())).collect();
        let ended = walk::walk(t, io, &ledger, &scope, (dry_run, now), &mut outcomes, (&mut notes, &mut human)).await?;
        if !dry_run {
            for key in mine.into_iter().filter(|k| !ended.contains(k)) {
                ledger.end_release(key, None).await.map_err(|e| ledger_failure(&e))?;
            }
        }
    }
    if outcomes.is_empty() && marked == 0 && human.is_empty() {
        info!(release = %label, entries = scope.len(), "nothing to release");
        return Ok(DispatchReport {
            status: Status::NothingToRelease,
            finding_id: label,
            outcomes: Vec::new(),
            refusals: Vec::new(),
            human_actions: notes,
            notification_message_id: None,
            incident_record: None,
            deliveries: 0,
        });
    }
    let t = notify::Tally::of(&outcomes);
    let status = if dry_run {
        Status::DryRun
    } else if t.failed > 0 {
        Status::ReleaseFailed
    } else if t.refused > 0 {
        Status::ReleasePartial
    } else if !human.is_empty() {
        Status::ReleaseActionNeeded
    } else {
        Status::Released
    };
    let subject =
        notify::subject(&format!("[launchguard] RELEASE {}: {} action(s) for {label}", status.as_str().to_uppercase(), outcomes.len()));
    let mut body = format!(
        "launchguard release for {}{}\nreason: {}\n\n",
        notify::untrusted(&label),
        if dry_run { " (DRY RUN: nothing was changed)" } else { "" },
        notify::untrusted(r.reason.as_deref().unwrap_or("none given"))
    );
    for o in &outcomes {
        body.push_str(&format!("- {}\n", notify::status_line(o)));
    }
    for x in &notes {
        body.push_str(&format!("- {}\n", notify::untrusted(x)));
    }
    for h in &human {
        body.push_str(&format!("- BY HAND: {}\n", notify::untrusted(h)));
    }
    let mut report = DispatchReport {
        status,
        finding_id: label.clone(),
        outcomes: outcomes.clone(),
        refusals: notes.clone(),
        human_actions: human.clone(),
        notification_message_id: None,
        incident_record: None,
        deliveries: 0,
    };
    let page = Page {
        subject,
        body,
        full: json!({"release": r, "outcomes": outcomes}),
        compact: json!({"release": r}),
        fingerprint: None,
        quiet: None,
    };
    let record = IncidentRecord {
        record_type: RecordType::Release,
        schema_version: 1,
        finding_id: label,
        recorded_at: now,
        status,
        principals: r.principal_arn.iter().cloned().collect(),
        outcomes: outcomes.clone(),
        human_actions: human,
        refusals: notes,
        notification: String::new(),
        ledger: None,
        finding: None,
        release: Some(r.clone()),
        detail: None,
        cut: None,
        report: None,
    };
    let mut failures = action_failures(&outcomes);
    deliver(io, &ledger, record, page, &mut report, &mut failures, now).await;
    if failures.is_empty() { Ok(report) } else { Err(DispatcherError::Incomplete { failures }) }
}

/// For a release asked for by an IAM user (a role cannot be renamed: the check by name above
/// holds for it), each reversal in the scope not yet run, sent to its handler as a dry run that
/// names who asks and the unique id of the principal it undoes the containment of (the entry's
/// `principal_id`; for a created key, its creator's `created_by_id`): the handler resolves both
/// through IAM and refuses when they are one user by IAM's unique id (`launchguard_responder`'s
/// `self_release`). That refusal is the reason to
/// reject the release; a handler that cannot answer makes the release fail (retryably when it
/// may pass later), since the check could not be made.
async fn asked_by_itself<I: Invoker, N, L, S: ConditionalStore, K: MacSigner>(
    by: &str,
    scope: &[String],
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    now: DateTime<Utc>,
) -> Result<Option<String>, DispatcherError> {
    let Ok(caller) = IamArn::parse(&launchguard_core::guard::role_of_caller(by)) else { return Ok(None) };
    if caller.entity != IamEntity::User {
        return Ok(None);
    }
    let mut checks = Vec::new();
    for key in scope {
        if let Some((e, _)) = ledger.entry(key).await.map_err(|e| ledger_failure(&e))?
            && let Some(rev) = e.reversal.clone()
            && e.released.as_ref().is_none_or(|r| r.reversal != ReversalState::Done)
        {
            let mut req = ResponseRequest::new(&e.finding_id, rev, true, now);
            req.requested_by = Some(by.to_owned());
            req.principal_id = e.principal_id.clone();
            // a created key: its creator, by the unique id CloudTrail's records gave it, never
            // releases it under another name (the key's user is checked by the handler)
            if let Action::DeactivateCreatedAccessKey { created_by_id: Some(creator), .. } = &e.action {
                req.principal_id = Some(creator.clone());
            }
            checks.push(req);
        }
    }
    if checks.is_empty() {
        return Ok(None);
    }
    let mut failures = Vec::new();
    for o in crate::run_requests(checks, io.cfg, io.lambda, io.kms, now, io.invoke_until).await {
        match &o.outcome {
            OutcomeStatus::Refused { reason } if reason.contains(SELF_RELEASE) => {
                return Ok(Some(format!("{by} asked to release its own containment ({}): {reason}", o.action.target())));
            }
            OutcomeStatus::Failed { error, retryable } => failures.push(Failure {
                part: Part::Action,
                what: format!(
                    "checking with IAM that {by} is not the principal of {} (a dry run of {}): {error}",
                    o.action.target(),
                    o.action.name()
                ),
                retryable: *retryable,
            }),
            _ => {}
        }
    }
    if failures.is_empty() { Ok(None) } else { Err(DispatcherError::Incomplete { failures }) }
}

/// One IAM user or role: same account, kind, and name without regard to case (as IAM compares).
fn same_entity(a: &IamArn, b: &IamArn) -> bool {
    a.account_id == b.account_id && a.entity == b.entity && a.name.eq_ignore_ascii_case(&b.name)
}

/// True when `t` is the IAM user of the access key entry `e` (as IAM reported it).
fn owns_key(t: &IamArn, e: &ActionEntry) -> bool {
    t.entity == IamEntity::User
        && action_account(&e.action) == t.account_id
        && e.key_user().is_some_and(|u| u.eq_ignore_ascii_case(&t.name))
}

fn action_account(a: &Action) -> &str {
    match a {
        Action::DeactivateAccessKey { account_id, .. }
        | Action::ReactivateAccessKey { account_id, .. }
        | Action::DeactivateCreatedAccessKey { account_id, .. }
        | Action::QuarantineUser { account_id, .. }
        | Action::ReleaseUserQuarantine { account_id, .. }
        | Action::DeactivateUserAccessKeys { account_id, .. }
        | Action::ReactivateUserAccessKeys { account_id, .. }
        | Action::RevokeRoleSessions { account_id, .. }
        | Action::RestoreRoleSessions { account_id, .. }
        | Action::StopInstances { account_id, .. }
        | Action::TerminateInstances { account_id, .. }
        | Action::StartInstances { account_id, .. } => account_id,
    }
}

/// Whether `requested_by` is the principal entry `e` is about: [`names_the_caller_in`] its action,
/// or, for an access key, the key's user as IAM reported it when the handler acted (a user renamed
/// after the call that created its key is still the key's user).
fn names_the_caller(requested_by: &str, e: &ActionEntry) -> bool {
    let Ok(caller) = IamArn::parse(&launchguard_core::guard::role_of_caller(requested_by)) else { return false };
    owns_key(&caller, e) || names_the_caller_in(&caller, &e.action)
}

/// Whether `caller` (the user or role of `requested_by`: a user, role, or assumed-role session) is
/// the user or role `action` is about, by name. IAM names are compared without regard to case, as IAM
/// does; a user renamed since is caught by IAM's unique ids in [`asked_by_itself`] (the entry's
/// `principal_id`, a created key's `created_by_id`). `requested_by` is said by the sender: the seal proves only that the sender may release,
/// so this is a second line behind the quarantine (SECURITY.md).
fn names_the_caller_in(caller: &IamArn, action: &Action) -> bool {
    let (account, name, is_user) = match action {
        Action::DeactivateAccessKey { account_id, user_name: Some(u), .. }
        | Action::ReactivateAccessKey { account_id, user_name: Some(u), .. } => (account_id, u, true),
        Action::QuarantineUser { account_id, user_name, .. }
        | Action::ReleaseUserQuarantine { account_id, user_name, .. }
        | Action::DeactivateUserAccessKeys { account_id, user_name, .. }
        | Action::ReactivateUserAccessKeys { account_id, user_name, .. } => (account_id, user_name, true),
        Action::RevokeRoleSessions { account_id, role_name, .. } | Action::RestoreRoleSessions { account_id, role_name, .. } => {
            (account_id, role_name, false)
        }
        Action::DeactivateAccessKey { user_name: None, .. } | Action::ReactivateAccessKey { user_name: None, .. } => return false,
        // The key's user, or the principal whose call created the key: neither undoes it.
        Action::DeactivateCreatedAccessKey { account_id, user_name, created_by, .. } => {
            let creator = IamArn::parse(&launchguard_core::guard::role_of_caller(created_by)).ok();
            if creator.is_some_and(|c| same_entity(&c, caller)) {
                return true;
            }
            (account_id, user_name, true)
        }
        Action::StopInstances { .. } | Action::TerminateInstances { .. } | Action::StartInstances { .. } => {
            return action.instances_principal().is_some_and(|p| same_entity(&p, caller));
        }
    };
    *account == caller.account_id && name.eq_ignore_ascii_case(&caller.name) && is_user == (caller.entity == IamEntity::User)
}
