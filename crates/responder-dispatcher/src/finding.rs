//! Containing the principals of one finding, once, whatever the number of deliveries.

use chrono::{DateTime, Utc};
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::{ConditionalStore, ObjectPut, PresignGet};
use launchguard_aws::{CallError, Invoker};
use launchguard_core::contract::{Action, Finding, FlaggedPrincipal, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::principal::Principal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::auth::Sealer;
use crate::error::{Failure, Part};
use crate::ledger::{ActionEntry, Claim, Held, Ledger, entry_key, target_of};
use crate::page::{Page, deliver};
use crate::plan::{self, PrincipalPlan};
use crate::record::{DispatchReport, IncidentRecord, RecordType, Status};
use crate::{Config, DispatcherError, IncidentLog, Notifier, notify, run_requests};

/// Everything a dispatch talks to.
#[derive(Debug)]
pub struct Io<'a, I, N, L, S, K> {
    /// Configuration.
    pub cfg: &'a Config,
    /// The handlers.
    pub lambda: &'a I,
    /// Notifications.
    pub sns: &'a N,
    /// Incident records.
    pub logs: &'a L,
    /// The ledger's store.
    pub store: &'a S,
    /// KMS: handler requests are sealed with the command key.
    pub kms: &'a K,
    /// No handler is invoked after this instant: the delivery's start +
    /// [`INVOKE_WINDOW`](crate::ledger::INVOKE_WINDOW), or earlier when the function has less
    /// time left than the handlers need.
    pub invoke_until: tokio::time::Instant,
    /// No CloudTrail lookup starts after this instant ([`crate::confirm`]): `invoke_until` less
    /// [`CONFIRM_RESERVE`](crate::ledger::CONFIRM_RESERVE).
    pub confirm_until: tokio::time::Instant,
}

pub(crate) fn principal_arn(p: &Principal) -> String {
    match p {
        Principal::IamUser { arn, .. } | Principal::Root { arn, .. } | Principal::FederatedUser { arn, .. } => arn.clone(),
        Principal::AssumedRole { role_arn, .. } => role_arn.clone(),
        other => other.key(),
    }
}

fn overall(outcomes: &[ResponseOutcome], plans: &[PrincipalPlan], dry_run: bool) -> Status {
    let t = notify::Tally::of(outcomes);
    if dry_run {
        Status::DryRun
    } else if t.failed > 0 {
        Status::Failed
    } else if t.refused > 0 || plans.iter().any(|p| p.refused.is_some() || p.human.is_some()) {
        Status::ActionNeeded
    } else if t.applied > 0 {
        Status::Contained
    } else {
        Status::AlreadyContained
    }
}

pub(crate) fn stream_name(now: DateTime<Utc>) -> String {
    format!("incidents/{}", now.format("%Y/%m/%d"))
}

pub(crate) fn ledger_failure(e: &CallError) -> Failure {
    Failure { part: Part::Ledger, what: format!("ledger: {}", e.message), retryable: e.retryable }
}

/// What the ledger says about this delivery's actions: a page is due when it changes.
fn fingerprint(entries: &[(String, Option<String>, bool)]) -> String {
    let mut h = Sha256::new();
    for (key, outcome, released) in entries {
        h.update(key.as_bytes());
        h.update([0]);
        h.update(outcome.as_deref().unwrap_or("-").as_bytes());
        h.update([u8::from(*released)]);
    }
    h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// How often a delivery re-reads the claims another delivery holds while it waits.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Where one planned action stands for this delivery.
enum Slot {
    /// Not claimed yet.
    Pending,
    /// Settled in the ledger (by this delivery or an earlier one).
    Done(Box<ActionEntry>),
    /// Acted, but the ledger could not record it (a failure is listed).
    Unrecorded(Box<ResponseOutcome>),
    /// Held by someone else.
    Busy(Held),
    /// This delivery holds it under another action; or the ledger could not be read (listed).
    Nothing,
}

impl Slot {
    /// The outcome this delivery knows for the action: the one it recorded, or could not record;
    /// none for a released entry (a person undid it: nothing is done instead).
    fn outcome(&self) -> Option<&ResponseOutcome> {
        match self {
            Self::Done(e) if e.released.is_none() => e.outcome.as_ref(),
            Self::Unrecorded(o) => Some(o),
            _ => None,
        }
    }
}

/// Claim every action, act on the claims taken, and wait (up to `LG_CLAIM_WAIT_SECONDS`) for
/// the ones another delivery holds; one slot per action, in plan order.
async fn act<I: Invoker, N, L, S: ConditionalStore, K: MacSigner>(
    actions: &[Action],
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    (fid, delivery, dry_run): (&str, u64, bool),
    failures: &mut Vec<Failure>,
    now: DateTime<Utc>,
) -> Vec<Slot> {
    let mut slots: Vec<Slot> = actions.iter().map(|_| Slot::Pending).collect();
    let wait_until = tokio::time::Instant::now() + io.cfg.claim_wait;
    loop {
        let mut acts = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            if !matches!(slots[i], Slot::Pending | Slot::Busy(_)) {
                continue;
            }
            slots[i] = match ledger.claim(fid, a, delivery, now).await {
                Ok(Claim::Act { etag, entry, owner_if_in_place }) => {
                    acts.push((i, etag, entry, owner_if_in_place));
                    Slot::Nothing
                }
                Ok(Claim::Settled(e)) => Slot::Done(e),
                Ok(Claim::Own) => Slot::Nothing,
                Ok(Claim::Busy(held)) => Slot::Busy(held),
                Err(e) => {
                    failures.push(ledger_failure(&e));
                    Slot::Nothing
                }
            };
        }
        // the claimed entry's action: a taken-over claim keeps the request id of the delivery
        // that died, so a handler that acted answers from its replay record
        let requests = acts.iter().map(|(_, _, e, _)| ResponseRequest::new(fid, e.action.clone(), dry_run, now)).collect();
        let outcomes = run_requests(requests, io.cfg, io.lambda, io.kms, now, io.invoke_until).await;
        for ((i, etag, entry, owner_if_in_place), o) in acts.into_iter().zip(outcomes) {
            slots[i] = match ledger.settle(*entry, &etag, &o, owner_if_in_place).await {
                Ok(e) => Slot::Done(Box::new(e)),
                Err(e) => {
                    failures.push(ledger_failure(&e));
                    Slot::Unrecorded(Box::new(o))
                }
            };
        }
        let busy = slots.iter().any(|s| matches!(s, Slot::Busy(_)));
        let left = wait_until.saturating_duration_since(tokio::time::Instant::now());
        if !busy || left.is_zero() {
            return slots;
        }
        tokio::time::sleep(POLL.min(left)).await;
    }
}

/// Contain the principals of one finding.
///
/// An action another delivery (or a release) holds is waited for; still held after the wait, the
/// delivery pages nothing and answers [`DispatcherError::Busy`] (retryable): Lambda retries, and
/// a claim older than the stale bound is taken over, so some delivery always pages.
///
/// `sealer` is the key that verified it: only a [`Sealer::Stream`] finding has its principals'
/// `delivered_by_aws` records trusted in place of CloudTrail's event history ([`crate::confirm`]).
#[allow(clippy::too_many_arguments)] // one port per AWS service, and who sealed it
pub async fn dispatch_finding<
    I: Invoker,
    N: Notifier,
    L: IncidentLog,
    S: ConditionalStore,
    K: MacSigner,
    R: ObjectPut + PresignGet,
    T: launchguard_aws::trail::EventHistory,
>(
    finding: &Finding,
    sealer: Sealer,
    io: &Io<'_, I, N, L, S, K>,
    reports: &R,
    trail: &T,
    now: DateTime<Utc>,
) -> Result<DispatchReport, DispatcherError> {
    let cfg = io.cfg;
    let fid = finding.finding_id.as_str();
    let reject = |reason: String| DispatcherError::Rejected { finding_id: fid.to_owned(), reason };
    cfg.guard.check_account(&finding.account_id).map_err(reject)?;
    // A "nobody over threshold" finding has no principal: nothing is planned, a person is told.
    let nobody = finding.verdict == launchguard_core::contract::FindingVerdict::NobodyOverThreshold;
    if finding.principals.is_empty() && !nobody {
        return Err(reject("it names no principal".into()));
    }
    let dry_run = finding.dry_run || cfg.dry_run;
    info!(finding_id = %fid, detector = %finding.detector, rule = %finding.rule, principals = finding.principals.len(), dry_run,
        window_complete = finding.window_complete, "finding received");
    // one action per ledger target: a delivery never claims a target twice
    let playbook = cfg.playbook.for_rule(cfg.rules.get(&finding.rule));
    let mut plans = plan::plan(&finding.principals, &playbook, &cfg.guard, now);
    // Only what CloudTrail confirms is contained: a principal whose records it does not confirm
    // gets no action, and a person is told which event ids and why.
    let mut unconfirmed: Vec<(usize, String)> = Vec::new();
    // IAM's unique id of each user CloudTrail confirmed (its actions are bound to it)
    let mut confirmed_ids: Vec<(usize, String)> = Vec::new();
    let (acting, flagged): (Vec<usize>, Vec<_>) =
        plans.iter().zip(&finding.principals).enumerate().filter(|(_, (p, _))| !p.actions.is_empty()).map(|(i, (_, f))| (i, f)).unzip();
    // The evidence is judged by the rule's horizons, in the finding's window: never by a horizon
    // the finding names for itself, nor on a record older than the window.
    let horizons = cfg.rules.get(&finding.rule).map(|r| r.horizons.as_slice());
    let fits: Vec<Result<(), String>> = flagged
        .iter()
        .map(|f| match f.evidence.as_ref() {
            Some(ev) => {
                launchguard_core::evidence::fits(ev, horizons, &finding.window).map_err(|why| format!("NOT contained, notify-only: {why}"))
            }
            None => Ok(()),
        })
        .collect();
    let to_confirm: Vec<&FlaggedPrincipal> = flagged.iter().zip(&fits).filter(|(_, fit)| fit.is_ok()).map(|(f, _)| *f).collect();
    let wanted: Vec<crate::confirm::Wanted> =
        acting.iter().zip(&fits).filter(|(_, fit)| fit.is_ok()).map(|(&i, _)| plans.get(i).map(wanted_of).unwrap_or_default()).collect();
    // The records AWS delivered to the stream detector, only in a finding its own key sealed.
    let delivered: Vec<&[String]> = match sealer {
        Sealer::Stream => to_confirm.iter().map(|f| f.delivered_by_aws.as_slice()).collect(),
        Sealer::Detector | Sealer::Release => {
            if to_confirm.iter().any(|f| !f.delivered_by_aws.is_empty()) {
                warn!(finding_id = %fid, detector = %launchguard_core::text::untrusted(&finding.detector),
                    "the finding carries records it says AWS delivered, but the stream detector's key did not seal it: ignored, \
                     CloudTrail's event history confirms it");
            }
            Vec::new()
        }
    };
    let mut confirmed =
        crate::confirm::confirm_all_delivered(&to_confirm, &delivered, &wanted, trail, &finding.window, cfg.confirm_wait, io.confirm_until)
            .await
            .into_iter();
    let verdicts: Vec<_> =
        fits.into_iter().map(|fit| fit.and_then(|()| confirmed.next().unwrap_or_else(|| Err("not confirmed".into())))).collect();
    for (i, verdict) in acting.into_iter().zip(verdicts) {
        let Some(p) = plans.get_mut(i) else { continue };
        match verdict {
            Ok(proven) => {
                plan::only_what_cloudtrail_proves(p, &proven);
                if let Some(id) = plan::bind_to_the_confirmed_user(p, &proven).or_else(|| plan::bind_to_the_confirmed_role(p, &proven)) {
                    confirmed_ids.push((i, id));
                }
            }
            Err(note) => {
                p.actions.clear();
                p.human = Some(match p.human.take() {
                    Some(h) => format!("{note}; {h}"),
                    None => note.clone(),
                });
                unconfirmed.push((i, note));
            }
        }
    }
    let mut actions: Vec<Action> = plans.iter().flat_map(|p| p.actions.iter().cloned()).collect();
    let mut keys: Vec<String> = actions.iter().map(|a| entry_key(&target_of(a), fid)).collect();
    let ledger = Ledger::new(io.store);
    // No IAM change without a ledger entry: every change launchguard makes stays releasable.
    let entry =
        ledger.count_delivery(fid, &keys, now).await.map_err(|e| DispatcherError::Incomplete { failures: vec![ledger_failure(&e)] })?;
    let mut failures = Vec::new();
    let mut slots = act(&actions, io, &ledger, (fid, entry.deliveries, dry_run), &mut failures, now).await;
    // A quarantine IAM refused for good (`LimitExceeded`): every active key of the user instead.
    let done: Vec<(&Action, Option<&ResponseOutcome>)> = actions.iter().zip(&slots).map(|(a, s)| (a, s.outcome())).collect();
    let instead: Vec<Action> =
        crate::fallback::instead(&done).into_iter().filter(|a| !keys.contains(&entry_key(&target_of(a), fid))).collect();
    if !instead.is_empty() {
        let more: Vec<String> = instead.iter().map(|a| entry_key(&target_of(a), fid)).collect();
        match ledger.note_entries(fid, &more).await {
            Ok(()) => {
                let acted = act(&instead, io, &ledger, (fid, entry.deliveries, dry_run), &mut failures, now).await;
                actions.extend(instead);
                keys.extend(more);
                slots.extend(acted);
            }
            Err(e) => failures.push(ledger_failure(&e)),
        }
    }
    // Every action's outcome, in plan order: this delivery's, or the one the ledger holds.
    let mut outcomes = Vec::new();
    let mut state: Vec<(String, Option<String>, bool)> = Vec::new();
    let mut held = Vec::new();
    let mut released_before = Vec::new();
    let mut unknown = Vec::new();
    for (key, slot) in keys.iter().zip(slots) {
        let e = match slot {
            Slot::Done(e) => *e,
            Slot::Unrecorded(o) => {
                let o = *o;
                outcomes.push(o);
                continue;
            }
            Slot::Busy(h) => {
                held.push(h);
                continue;
            }
            Slot::Pending | Slot::Nothing => continue,
        };
        unknown.extend(e.unknown_owner_note());
        if let Some(r) = &e.released {
            released_before.push(format!(
                "{} was released{}: not contained again",
                e.action.target(),
                r.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default()
            ));
        }
        state.push((key.clone(), e.outcome.as_ref().map(|o| o.outcome.name().to_owned()), e.released.is_some()));
        if e.released.is_none()
            && let Some(o) = e.outcome
        {
            outcomes.push(o);
        }
    }
    failures.extend(action_failures(&outcomes));
    if !held.is_empty() {
        // Another delivery or a release is acting on part of this finding: what this one says
        // now would be incomplete. Retried, a delivery pages once every action is settled.
        let e = DispatcherError::Busy { finding_id: fid.to_owned(), held, failures };
        warn!(finding_id = %fid, error = %e, "claims held by another delivery: retry");
        return Err(e);
    }
    let refusals: Vec<String> = plans.iter().filter_map(|p| p.refused.as_ref().map(|r| format!("{}: {r}", p.principal.label()))).collect();
    let mut human: Vec<String> = plans.iter().filter_map(|p| p.human.as_ref().map(|h| format!("{}: {h}", p.principal.label()))).collect();
    human.extend(released_before.iter().cloned());
    human.extend(unknown);
    for r in &refusals {
        warn!(finding_id = %fid, refusal = %r, "principal refused");
    }
    let status = if nobody {
        Status::NobodyOverThreshold
    } else if !released_before.is_empty() && outcomes.is_empty() {
        Status::AlreadyReleased
    } else {
        overall(&outcomes, &plans, dry_run)
    };
    let mut report = DispatchReport {
        status,
        finding_id: fid.to_owned(),
        outcomes: outcomes.clone(),
        refusals: refusals.clone(),
        human_actions: human.clone(),
        notification_message_id: None,
        incident_record: None,
        deliveries: entry.deliveries,
    };
    // A redelivery after a release says nothing new.
    if status != Status::AlreadyReleased {
        let mut shown = finding.clone();
        shown.dry_run = dry_run;
        // the page and the record name only the ids CloudTrail's records carry, never the finding's
        for (i, f) in shown.principals.iter_mut().enumerate() {
            f.principal_id = confirmed_ids.iter().find(|(j, _)| *j == i).map(|(_, id)| id.clone());
        }
        for (i, note) in &unconfirmed {
            if let Some(f) = shown.principals.get_mut(*i) {
                f.reasons.push(note.clone());
            }
        }
        let (subject, mut body) = notify::finding_message(&shown, &plans, &outcomes, &cfg.function_name);
        let fp = fingerprint(&state);
        let input = launchguard_report::ReportInput {
            finding: shown.clone(),
            outcomes: outcomes.clone(),
            refusals: refusals.clone(),
            human_actions: human.clone(),
            releases: Vec::new(),
            generated_at: now,
            held: None,
            unverified: false,
        };
        let report_state = crate::report::publish(reports, cfg, &input, &fp, now).await;
        if let Some(lines) = report_state.notification_lines() {
            body = notify::with_report(body, &lines);
        }
        if let Some(object) = report_state.object()
            && let Err(e) = ledger.note_report(fid, object).await
        {
            // the record and the page name it too: a report not in the ledger is not lost
            warn!(finding_id = %fid, error = %e, "the report could not be named in the ledger");
        }
        let finding_json = serde_json::to_value(&shown).unwrap_or(Value::Null);
        let full = json!({"finding": finding_json, "outcomes": outcomes});
        let compact = json!({"finding_id": fid, "status": status, "outcomes": outcomes.len()});
        let record = IncidentRecord {
            record_type: RecordType::Incident,
            schema_version: 1,
            finding_id: fid.to_owned(),
            recorded_at: now,
            status,
            principals: finding.principals.iter().map(|p| principal_arn(&p.principal)).collect(),
            outcomes,
            human_actions: human,
            refusals,
            notification: String::new(),
            ledger: Some(format!("s3://{}/ledger/findings/{fid}", cfg.ledger_bucket)),
            finding: Some(finding_json),
            release: None,
            detail: None,
            cut: None,
            report: (report_state != crate::report::ReportState::NotConfigured).then_some(report_state),
        };
        // nothing for a person to do or check (no human action, no refusal, no change of unknown
        // owner, no release crossing it): only then can a later detection stay quiet
        let quiet = if status == Status::AlreadyContained && record.human_actions.is_empty() && record.refusals.is_empty() {
            contained_by_another(&ledger, &actions, fid).await
        } else {
            None
        };
        if let Some(why) = &quiet {
            info!(finding_id = %fid, reason = %why, "no page: a later detection of an incident already contained");
        }
        let page = Page { subject, body, full, compact, fingerprint: Some(fp), quiet };
        deliver(io, &ledger, record, page, &mut report, &mut failures, now).await;
    }
    info!(finding_id = %fid, status = status.as_str(), deliveries = report.deliveries, outcomes = report.outcomes.len(),
        notification = ?report.notification_message_id, incident_record = ?report.incident_record, "dispatch finished");
    if failures.is_empty() { Ok(report) } else { Err(DispatcherError::Incomplete { failures }) }
}

/// Why this finding pages no one: every one of its actions' targets is held by an unreleased
/// change launchguard itself made for another finding (the stream path's finding, then the alarm
/// chain's for the same principal: one page per incident across both paths). `None` when any
/// target is not (nothing to act on, a change someone else made, one released or being released,
/// an unreadable ledger): a person is paged as before.
async fn contained_by_another<S: ConditionalStore>(ledger: &Ledger<'_, S>, actions: &[Action], fid: &str) -> Option<String> {
    if actions.is_empty() {
        return None;
    }
    let mut by: Vec<String> = Vec::new();
    for a in actions {
        let entries = ledger.entries_on(&target_of(a)).await.ok()?;
        let (_, other, _) = entries.into_iter().find(|(_, e, _)| {
            e.finding_id != fid && e.owner == Some(crate::ledger::Owner::Launchguard) && e.released.is_none() && e.releasing.is_none()
        })?;
        by.push(other.finding_id);
    }
    by.sort();
    by.dedup();
    Some(format!("not paged: launchguard already contains this incident under finding {} (one page per incident)", by.join(", ")))
}

/// The keys and instances `p`'s actions take from records.
fn wanted_of(p: &PrincipalPlan) -> crate::confirm::Wanted {
    let mut w = crate::confirm::Wanted::default();
    for a in &p.actions {
        match a {
            Action::DeactivateAccessKey { access_key_id, .. } => {
                w.keys.insert(access_key_id.clone());
            }
            Action::StopInstances { region, instances, .. } | Action::TerminateInstances { region, instances, .. } => {
                w.instances.extend(instances.iter().map(|l| (region.clone(), l.instance_id.clone())));
            }
            Action::DeactivateCreatedAccessKey { access_key_id, user_name, created_at, .. } => {
                w.created.insert((access_key_id.clone(), user_name.clone(), *created_at));
            }
            _ => {}
        }
    }
    w
}

pub(crate) fn action_failures(outcomes: &[ResponseOutcome]) -> Vec<Failure> {
    outcomes
        .iter()
        .filter_map(|o| match &o.outcome {
            OutcomeStatus::Failed { error, retryable } => Some(Failure {
                part: Part::Action,
                what: format!("{} on {}: {error}", o.action.name(), o.action.target()),
                retryable: *retryable,
            }),
            _ => None,
        })
        .collect()
}
