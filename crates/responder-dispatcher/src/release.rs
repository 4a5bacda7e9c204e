//! Releasing: undo what launchguard did and still owns, by finding or by principal.
//!
//! A release marks the entries in its scope released (by whom, why), then walks each target's
//! entries from the newest: an unreleased entry that holds a containment stops the walk (the
//! newest containment wins: what it relies on stays); a released entry whose change launchguard
//! made, and whose reversal has not run, is reversed, and the handler reverses only while IAM
//! holds exactly what launchguard wrote. A change launchguard found in place is never undone.

use chrono::{DateTime, Utc};
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::ConditionalStore;
use launchguard_aws::{CallError, Invoker};
use launchguard_core::CoreError;
use launchguard_core::contract::{Action, OutcomeStatus, ReleaseRequest, ResponseRequest};
use launchguard_core::ids::{IamArn, IamEntity};
use serde_json::json;
use tracing::info;

use crate::error::{Failure, Part};
use crate::finding::{Io, Page, action_failures, deliver};
use crate::ledger::{ActionEntry, EntryState, Ledger, Owner, Released, ReversalState, principal_prefix};
use crate::record::{DispatchReport, IncidentRecord, RecordType, Status};
use crate::{DispatcherError, IncidentLog, Notifier, notify, run_requests};

fn ledger_failure(e: &CallError) -> DispatcherError {
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
    // The scope: entry keys.
    let scope: Vec<String> = match &r.finding_id {
        Some(f) => match ledger.finding(f).await.map_err(|e| ledger_failure(&e))? {
            Some(fe) => fe.entries.into_iter().filter(|k| prefix.as_ref().is_none_or(|p| k.starts_with(p.as_str()))).collect(),
            None => Vec::new(),
        },
        None => {
            let p = prefix.clone().unwrap_or_default();
            ledger.entries_under(&p).await.map_err(|e| ledger_failure(&e))?.into_iter().map(|(k, _, _)| k).collect()
        }
    };
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
    {
        for key in &scope {
            if let Some((e, _)) = ledger.entry(key).await.map_err(|e| ledger_failure(&e))?
                && names_the_caller(by, &e.action)
            {
                return Err(DispatcherError::Rejected {
                    finding_id: label,
                    reason: format!(
                        "{by} asked to release its own containment ({}): a contained principal never releases itself",
                        e.action.target()
                    ),
                });
            }
        }
    }
    // Mark the scope released.
    let mut marked = 0;
    let mut notes = Vec::new();
    for key in &scope {
        for _ in 0..8 {
            let Some((mut e, etag)) = ledger.entry(key).await.map_err(|e| ledger_failure(&e))? else { break };
            if e.released.is_some() || dry_run {
                break;
            }
            if e.state == EntryState::Claimed {
                return Err(DispatcherError::Incomplete {
                    failures: vec![Failure {
                        part: Part::Ledger,
                        what: format!(
                            "{} is being contained right now (finding {}): release again in a minute",
                            e.action.target(),
                            e.finding_id
                        ),
                        retryable: true,
                    }],
                });
            }
            let ours = e.owner == Some(Owner::Launchguard) && e.reversal.is_some();
            if e.owner == Some(Owner::Unknown) {
                notes.push(format!(
                    "{} (finding {}): launchguard cannot tell whether it made this change; undo it by hand if it should go: {:?}",
                    e.action.target(),
                    e.finding_id,
                    e.reversal
                ));
            }
            e.released = Some(Released {
                at: now,
                by: r.requested_by.clone(),
                reason: r.reason.clone(),
                reversal: if ours { ReversalState::Kept } else { ReversalState::NotOurs },
            });
            if ledger.replace(key, &e, &etag).await.map_err(|e| ledger_failure(&e))? {
                marked += 1;
                break;
            }
        }
    }
    // Walk each target from the newest entry.
    let mut targets: Vec<String> = scope.iter().filter_map(|k| k.rsplit_once('/').map(|(t, _)| t.to_owned())).collect();
    targets.sort();
    targets.dedup();
    let mut outcomes = Vec::new();
    for t in &targets {
        let all = ledger.entries_under(&format!("{t}/")).await.map_err(|e| ledger_failure(&e))?;
        // Any unreleased containment of this target relies on launchguard's change: keep it all.
        if let Some((_, holder, _)) = all.iter().find(|(k, e, _)| e.holds() && !(dry_run && scope.contains(k))) {
            if all.iter().any(|(_, e, _)| e.owner == Some(Owner::Launchguard)) {
                notes.push(format!("kept: {} is still contained by finding {}", holder.action.target(), holder.finding_id));
            }
            continue;
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
                        Some(rel) => {
                            matches!(rel.reversal, ReversalState::Kept | ReversalState::Failed { .. } | ReversalState::Refused { .. })
                        }
                        None => dry_run && scope.contains(k),
                    }
            })
            .collect();
        pending.sort_by_key(|p| std::cmp::Reverse(p.1.created_at));
        let mut last: Vec<Option<launchguard_core::contract::ResponseOutcome>> = vec![None; pending.len()];
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
                let req = ResponseRequest::new(&e.finding_id, rev, dry_run, now);
                let o = run_requests(vec![req], io.cfg, io.lambda, io.kms, now).await.remove(0);
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
        for ((key, e, etag), o) in pending.into_iter().zip(last) {
            let Some(o) = o else { continue };
            let state = match &o.outcome {
                OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied => Some(ReversalState::Done),
                OutcomeStatus::Refused { reason } => Some(ReversalState::Refused { reason: reason.clone() }),
                OutcomeStatus::Failed { error, .. } => Some(ReversalState::Failed { error: error.clone() }),
                OutcomeStatus::DryRun => None,
            };
            if let Some(state) = state {
                let mut next = e.clone();
                if let Some(rel) = next.released.as_mut() {
                    rel.reversal = state;
                }
                if !ledger.replace(&key, &next, &etag).await.map_err(|e| ledger_failure(&e))? {
                    notes.push(format!("{}: the ledger entry changed during the release; release again to check", e.action.target()));
                }
            }
            outcomes.push(o);
        }
    }
    if outcomes.is_empty() && marked == 0 {
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
    } else {
        Status::Released
    };
    let subject =
        notify::subject(&format!("[launchguard] RELEASE {}: {} action(s) for {label}", status.as_str().to_uppercase(), outcomes.len()));
    let mut body = format!(
        "launchguard release for {label}{}\nreason: {}\n\n",
        if dry_run { " (DRY RUN: nothing was changed)" } else { "" },
        r.reason.as_deref().unwrap_or("none given")
    );
    for o in &outcomes {
        body.push_str(&format!("- {}: {} on {}: {}\n", o.outcome.name().to_uppercase(), o.action.name(), o.action.target(), o.detail));
    }
    for x in &notes {
        body.push_str(&format!("- {x}\n"));
    }
    let mut report = DispatchReport {
        status,
        finding_id: label.clone(),
        outcomes: outcomes.clone(),
        refusals: notes.clone(),
        human_actions: Vec::new(),
        notification_message_id: None,
        incident_record: None,
        deliveries: 0,
    };
    let page = Page { subject, body, full: json!({"release": r, "outcomes": outcomes}), compact: json!({"release": r}), fingerprint: None };
    let record = IncidentRecord {
        record_type: RecordType::Release,
        schema_version: 1,
        finding_id: label,
        recorded_at: now,
        status,
        principals: r.principal_arn.iter().cloned().collect(),
        outcomes: outcomes.clone(),
        human_actions: Vec::new(),
        refusals: notes,
        notification: String::new(),
        ledger: None,
        finding: None,
        release: Some(r.clone()),
        detail: None,
        cut: None,
    };
    let mut failures = action_failures(&outcomes);
    deliver(io, &ledger, record, page, &mut report, &mut failures, now).await;
    if failures.is_empty() { Ok(report) } else { Err(DispatcherError::Incomplete { failures }) }
}

/// Whether `requested_by` (a caller ARN: user, role, or assumed-role session) is the user or role
/// `action` is about. IAM names are compared without regard to case, as IAM does. `requested_by`
/// is said by the sender: the seal proves only that the sender may release, so this is a second
/// line behind the quarantine (SECURITY.md).
fn names_the_caller(requested_by: &str, action: &Action) -> bool {
    let Ok(caller) = IamArn::parse(&launchguard_core::guard::role_of_caller(requested_by)) else { return false };
    let (account, name, is_user) = match action {
        Action::DeactivateAccessKey { account_id, user_name: Some(u), .. }
        | Action::ReactivateAccessKey { account_id, user_name: Some(u), .. } => (account_id, u, true),
        Action::QuarantineUser { account_id, user_name, .. } | Action::ReleaseUserQuarantine { account_id, user_name, .. } => {
            (account_id, user_name, true)
        }
        Action::RevokeRoleSessions { account_id, role_name, .. } | Action::RestoreRoleSessions { account_id, role_name, .. } => {
            (account_id, role_name, false)
        }
        Action::DeactivateAccessKey { user_name: None, .. } | Action::ReactivateAccessKey { user_name: None, .. } => return false,
    };
    *account == caller.account_id && name.eq_ignore_ascii_case(&caller.name) && is_user == (caller.entity == IamEntity::User)
}
