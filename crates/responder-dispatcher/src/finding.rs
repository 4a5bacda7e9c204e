//! Containing the principals of one finding, once, whatever the number of deliveries.

use chrono::{DateTime, Utc};
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::ConditionalStore;
use launchguard_aws::{CallError, Invoker};
use launchguard_core::contract::{Action, Finding, OutcomeStatus, ResponseOutcome, ResponseRequest};
use launchguard_core::principal::Principal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use crate::error::{Failure, Part};
use crate::ledger::{ActionEntry, Claim, Ledger, entry_key, target_of};
use crate::plan::{self, PrincipalPlan};
use crate::record::{DispatchReport, IncidentRecord, MAX_RECORD_BYTES, RecordType, Status};
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

fn ledger_failure(e: &CallError) -> Failure {
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

/// Contain the principals of one finding.
pub async fn dispatch_finding<I: Invoker, N: Notifier, L: IncidentLog, S: ConditionalStore, K: MacSigner>(
    finding: &Finding,
    io: &Io<'_, I, N, L, S, K>,
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
    info!(finding_id = %fid, detector = %finding.detector, principals = finding.principals.len(), dry_run,
        window_complete = finding.window_complete, "finding received");
    let plans = plan::plan(&finding.principals, &cfg.playbook, &cfg.guard, now);
    let actions: Vec<Action> = plans.iter().flat_map(|p| p.actions.iter().cloned()).collect();
    let keys: Vec<String> = actions.iter().map(|a| entry_key(&target_of(a), fid)).collect();
    let ledger = Ledger::new(io.store);
    // No IAM change without a ledger entry: every change launchguard makes stays releasable.
    let entry =
        ledger.count_delivery(fid, &keys, now).await.map_err(|e| DispatcherError::Incomplete { failures: vec![ledger_failure(&e)] })?;
    let mut failures = Vec::new();
    let mut claims = Vec::new();
    for a in &actions {
        match ledger.claim(fid, a, now).await {
            Ok(c) => claims.push(Some(c)),
            Err(e) => {
                failures.push(ledger_failure(&e));
                claims.push(None);
            }
        }
    }
    let requests: Vec<ResponseRequest> = actions
        .iter()
        .zip(&claims)
        .filter(|(_, c)| matches!(c, Some(Claim::Act { .. })))
        .map(|(a, _)| ResponseRequest::new(fid, a.clone(), dry_run, now))
        .collect();
    let mut fresh = run_requests(requests, cfg, io.lambda, io.kms, now).await.into_iter();
    // Every action's outcome, in plan order: this delivery's, or the one the ledger holds.
    let mut outcomes = Vec::new();
    let mut state: Vec<(String, Option<String>, bool)> = Vec::new();
    let mut busy = 0;
    let mut released_before = Vec::new();
    for (key, claim) in keys.iter().zip(claims) {
        let done: Option<ActionEntry> = match claim {
            Some(Claim::Act { etag, entry, owner_if_in_place }) => {
                let Some(o) = fresh.next() else { continue };
                match ledger.settle(*entry, &etag, &o, owner_if_in_place).await {
                    Ok(e) => Some(e),
                    Err(e) => {
                        failures.push(ledger_failure(&e));
                        outcomes.push(o);
                        continue;
                    }
                }
            }
            Some(Claim::Settled(e)) => Some(*e),
            Some(Claim::Busy) => {
                busy += 1;
                None
            }
            None => None,
        };
        let Some(e) = done else { continue };
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
    let refusals: Vec<String> = plans.iter().filter_map(|p| p.refused.as_ref().map(|r| format!("{}: {r}", p.principal.label()))).collect();
    let mut human: Vec<String> = plans.iter().filter_map(|p| p.human.as_ref().map(|h| format!("{}: {h}", p.principal.label()))).collect();
    human.extend(released_before.iter().cloned());
    for r in &refusals {
        warn!(finding_id = %fid, refusal = %r, "principal refused");
    }
    let status = if nobody {
        Status::NobodyOverThreshold
    } else if busy > 0 && outcomes.is_empty() {
        Status::InProgress
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
    failures.extend(action_failures(&outcomes));
    // Another delivery is acting on part of this finding: it pages and records; a redelivery
    // after a release says nothing new.
    if busy == 0 && status != Status::AlreadyReleased {
        let mut shown = finding.clone();
        shown.dry_run = dry_run;
        let (subject, body) = notify::finding_message(&shown, &plans, &outcomes, &cfg.function_name);
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
        };
        let page = Page { subject, body, full, compact, fingerprint: Some(fingerprint(&state)) };
        deliver(io, &ledger, record, page, &mut report, &mut failures, now).await;
    }
    info!(finding_id = %fid, status = status.as_str(), deliveries = report.deliveries, outcomes = report.outcomes.len(),
        notification = ?report.notification_message_id, incident_record = ?report.incident_record, "dispatch finished");
    if failures.is_empty() { Ok(report) } else { Err(DispatcherError::Incomplete { failures }) }
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

/// A notification ready to send.
pub(crate) struct Page {
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) full: Value,
    pub(crate) compact: Value,
    /// `None`: always send (a release); otherwise once per fingerprint.
    pub(crate) fingerprint: Option<String>,
}

/// Publish and record once per outcome fingerprint: the ledger says which delivery sends them.
pub(crate) async fn deliver<N: Notifier, L: IncidentLog, I, S: ConditionalStore, K>(
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    mut record: IncidentRecord,
    page: Page,
    report: &mut DispatchReport,
    failures: &mut Vec<Failure>,
    now: DateTime<Utc>,
) {
    let cfg = io.cfg;
    let fid = record.finding_id.clone();
    let (fid_c, page_fp) = (&fid, &page.fingerprint);
    let reference = format!(
        "full detail: the incident record for {fid} in the log group {} (a record too large for a log event is kept whole under s3://{}/ledger/details/{fid}/ and the log names it); what launchguard did: s3://{}/ledger/findings/{fid}",
        cfg.incident_log_group, cfg.ledger_bucket, cfg.ledger_bucket
    );
    let claim = |record: bool| async move {
        match &page_fp {
            Some(fp) => ledger.claim_mark(fid_c, record, fp).await,
            None => Ok(true),
        }
    };
    let unclaim = |record: bool| async move {
        if let Some(fp) = &page_fp {
            let _ = ledger.release_mark(fid_c, record, fp).await;
        }
    };
    match claim(false).await {
        Err(e) => failures.push(ledger_failure(&e)),
        Ok(false) => record.notification = "sent before for the same outcome".into(),
        Ok(true) => {
            let message = notify::fit_message(page.body, &page.full, &page.compact, &reference);
            let attrs = [("finding_id", fid.clone()), ("status", record.status.as_str().to_owned())];
            match io.sns.publish(&cfg.topic_arn, &page.subject, &message, &attrs).await {
                Ok(id) => {
                    record.notification = id.clone();
                    report.notification_message_id = Some(id);
                }
                Err(e) => {
                    error!(error = %e, "notification not published");
                    record.notification = format!("not published: {e}");
                    unclaim(false).await;
                    failures.push(Failure {
                        part: Part::Notify,
                        what: format!("publishing to {}: {}", cfg.topic_arn, e.message),
                        retryable: e.retryable,
                    });
                }
            }
        }
    }
    match claim(true).await {
        Err(e) => failures.push(ledger_failure(&e)),
        Ok(false) => {}
        Ok(true) => {
            let stream = stream_name(now);
            let text = event_text(io, ledger, &mut record, page_fp.as_deref(), failures, now).await;
            match io.logs.append(&cfg.incident_log_group, &stream, text, now).await {
                Ok(()) => report.incident_record = Some(format!("{}/{stream}", cfg.incident_log_group)),
                Err(e) => {
                    error!(error = %e, "incident record not written");
                    unclaim(true).await;
                    failures.push(Failure {
                        part: Part::Record,
                        what: format!("writing to {}: {}", cfg.incident_log_group, e.message),
                        retryable: e.retryable,
                    });
                }
            }
        }
    }
}

/// The incident record as one log event. A record too large for one is kept whole in the ledger
/// (`details/`) and written cut, naming where the whole one is; a ledger that cannot keep it is a
/// failure of its own, and the cut record says so.
async fn event_text<I, N, L, S: ConditionalStore, K>(
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    record: &mut IncidentRecord,
    fingerprint: Option<&str>,
    failures: &mut Vec<Failure>,
    now: DateTime<Utc>,
) -> String {
    let whole = serde_json::to_string(&*record).unwrap_or_default();
    if whole.len() <= MAX_RECORD_BYTES {
        return whole;
    }
    let name = format!("{}-{}", record.record_type.as_str(), fingerprint.map_or_else(|| now.timestamp_millis().to_string(), str::to_owned));
    match ledger.keep_detail(&record.finding_id, &name, whole.into_bytes()).await {
        Ok(key) => record.detail = Some(format!("s3://{}/ledger/{key}", io.cfg.ledger_bucket)),
        Err(e) => {
            error!(error = %e, "the whole incident record could not be kept in the ledger; writing it cut");
            record.detail = Some(format!("the whole record could not be kept: {}", e.message));
            failures.push(Failure {
                part: Part::Record,
                what: format!("keeping the whole incident record in the ledger: {}", e.message),
                retryable: e.retryable,
            });
        }
    }
    record.to_event(MAX_RECORD_BYTES)
}
