//! Reading incident records back, re-checked, and each checked against the ledger.
//!
//! Anyone with `logs:PutLogEvents` on the incident log group can append a record that parses. The
//! ledger (S3, written only by launchguard's roles) is the truth: a record it does not back is
//! shown as unverified and never closes a containment ([`backed`]); when a finding was contained,
//! what it did and what is still contained are read from the ledger alone ([`LedgerFinding`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use launchguard_aws::store::ConditionalStore;
use launchguard_core::contract::{Action, OutcomeStatus, ResponseOutcome};
use launchguard_report::Holding;
use launchguard_responder_dispatcher::ledger::{ActionEntry, FindingEntry, Ledger, entry_key, target_of};
use launchguard_responder_dispatcher::{IncidentLog, IncidentRecord, RecordType};

use crate::CliError;

/// The records read, and how many messages were not incident records.
#[derive(Debug, Clone)]
pub struct Records {
    /// Every incident and release record, oldest first.
    pub records: Vec<IncidentRecord>,
    /// Messages that could not be read as one (counted, never trusted).
    pub unreadable: usize,
}

/// Every record in `[start, end]`, of `finding` when given (the filter pattern only narrows what
/// the service returns; each record is checked here).
pub async fn read<L: IncidentLog>(
    logs: &L,
    group: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    finding: Option<&str>,
) -> Result<Records, CliError> {
    let pattern = finding.map_or_else(String::new, |f| format!("\"{}\"", f.replace('"', "")));
    let messages = logs.search(group, start, end, &pattern).await.map_err(|e| CliError::Aws {
        what: format!("reading the incident records of {group} (logs:FilterLogEvents)"),
        reason: format!("{e}; check the log group (--log-group) and your credentials"),
    })?;
    let mut out = Records { records: Vec::new(), unreadable: 0 };
    for m in messages {
        match serde_json::from_str::<IncidentRecord>(&m) {
            Ok(r) if finding.is_none_or(|f| concerns(&r, f)) => out.records.push(r),
            Ok(_) => {}
            Err(_) => out.unreadable += 1,
        }
    }
    out.records.sort_by_key(|r| r.recorded_at);
    Ok(out)
}

fn ledger_failed(e: launchguard_aws::CallError) -> CliError {
    CliError::Aws {
        what: "reading the ledger (s3:GetObject, s3:ListBucket on the ledger bucket)".into(),
        reason: format!("{e}; check --ledger-bucket and your credentials"),
    }
}

/// For each record, the findings the ledger backs it for: an incident record, its finding when
/// the ledger holds it (what the report takes from it is then checked against the ledger,
/// [`super::build`]); a release record, each finding one of whose OWN entries (an entry of that
/// finding, named by the release's finding or its outcomes) was released by whom the release
/// names, no later than the record (a release sent again after a busy answer finds its entries
/// already marked, at the first attempt). Another finding's release never backs it.
pub async fn backed<S: ConditionalStore>(ledger: &Ledger<'_, S>, records: &[IncidentRecord]) -> Result<Vec<BTreeSet<String>>, CliError> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let mut ok = BTreeSet::new();
        match (r.record_type, &r.release) {
            (RecordType::Incident, _) => {
                if ledger.finding(&r.finding_id).await.map_err(ledger_failed)?.is_some() {
                    ok.insert(r.finding_id.clone());
                }
            }
            (RecordType::Release, Some(req)) => {
                let mut keys: Vec<String> = r.outcomes.iter().map(|o| entry_key(&target_of(&o.action), &o.finding_id)).collect();
                if let Some(fid) = &req.finding_id
                    && let Some(f) = ledger.finding(fid).await.map_err(ledger_failed)?
                {
                    keys.extend(f.entries);
                }
                for k in keys {
                    if let Some((e, _)) = ledger.entry(&k).await.map_err(ledger_failed)?
                        && req.finding_id.as_ref().is_none_or(|f| *f == e.finding_id)
                        && e.released.as_ref().is_some_and(|x| x.at <= r.recorded_at && x.by == req.requested_by)
                    {
                        ok.insert(e.finding_id);
                    }
                }
            }
            (RecordType::Release, None) => {}
        }
        out.push(ok);
    }
    Ok(out)
}

/// What the ledger holds of one finding: the truth every record of it is checked against.
#[derive(Debug, Clone)]
pub struct LedgerFinding {
    /// When the ledger first saw it (its first delivery): when it was contained.
    pub first_seen: DateTime<Utc>,
    /// Its own entries (each names it), in the order the finding entry lists them.
    pub entries: Vec<ActionEntry>,
}

impl LedgerFinding {
    /// Every outcome the ledger holds for the finding's actions (released or not), in order.
    pub fn outcomes(&self) -> Vec<ResponseOutcome> {
        self.entries.iter().filter_map(|e| e.outcome.clone()).collect()
    }

    /// Whether its actions were a dry run, when the ledger holds an outcome of them (`None`: it
    /// holds none, and cannot say).
    pub fn dry_run(&self) -> Option<bool> {
        let outcomes: Vec<&ResponseOutcome> = self.entries.iter().filter_map(|e| e.outcome.as_ref()).collect();
        (!outcomes.is_empty()).then(|| outcomes.iter().all(|o| o.outcome == OutcomeStatus::DryRun))
    }

    /// What it still holds in place ([`ActionEntry::holds`]), since its outcome's completion (a
    /// claim's start while a delivery acts): the only source of open containments.
    pub fn held(&self) -> Vec<Holding> {
        self.entries
            .iter()
            .filter(|e| e.holds())
            .map(|e| Holding { action: e.action.clone(), since: e.outcome.as_ref().map_or(e.claimed_at, |o| o.completed_at) })
            .collect()
    }

    /// The principals its entries act on, as ARNs (for a finding whose incident record is
    /// missing): a key's user as IAM reported it, a user's or role's ARN, an instance launcher.
    pub fn principals(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            let p = match &e.action {
                Action::DeactivateAccessKey { account_id, access_key_id, .. }
                | Action::ReactivateAccessKey { account_id, access_key_id, .. }
                | Action::DeactivateCreatedAccessKey { account_id, access_key_id, .. } => match e.key_user() {
                    Some(u) => format!("arn:aws:iam::{account_id}:user/{u}"),
                    None => format!("access key {access_key_id}"),
                },
                Action::QuarantineUser { user_arn, .. }
                | Action::ReleaseUserQuarantine { user_arn, .. }
                | Action::DeactivateUserAccessKeys { user_arn, .. }
                | Action::ReactivateUserAccessKeys { user_arn, .. } => user_arn.clone(),
                Action::RevokeRoleSessions { role_arn, .. } | Action::RestoreRoleSessions { role_arn, .. } => role_arn.clone(),
                Action::StopInstances { principal_arn, .. }
                | Action::TerminateInstances { principal_arn, .. }
                | Action::StartInstances { principal_arn, .. } => principal_arn.clone(),
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// The finding as the ledger holds it, with its own entries; `None` when the ledger holds no such
/// finding (then every record of it is unverified).
pub async fn ledger_finding<S: ConditionalStore>(ledger: &Ledger<'_, S>, fid: &str) -> Result<Option<LedgerFinding>, CliError> {
    let Some(f) = ledger.finding(fid).await.map_err(ledger_failed)? else { return Ok(None) };
    Ok(Some(of_entry(ledger, f).await?))
}

async fn of_entry<S: ConditionalStore>(ledger: &Ledger<'_, S>, f: FindingEntry) -> Result<LedgerFinding, CliError> {
    let mut entries = Vec::new();
    for k in &f.entries {
        if let Some((e, _)) = ledger.entry(k).await.map_err(ledger_failed)?
            && e.finding_id == f.finding_id
        {
            entries.push(e);
        }
    }
    Ok(LedgerFinding { first_seen: f.first_seen, entries })
}

/// The findings a period summary shows from the ledger: every finding it first saw in
/// `[since, until)` (a containment whose incident record is missing, or whose record is dated
/// elsewhere, is still one of the period's), and every finding named by `also` (records of the
/// period), wherever the ledger dates it.
pub async fn ledger_findings<'a, S: ConditionalStore>(
    ledger: &Ledger<'_, S>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    also: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, LedgerFinding>, CliError> {
    let also: BTreeSet<&str> = also.into_iter().collect();
    let mut out = BTreeMap::new();
    for f in ledger.all_findings().await.map_err(ledger_failed)? {
        if (f.first_seen >= since && f.first_seen < until) || also.contains(f.finding_id.as_str()) {
            let fid = f.finding_id.clone();
            out.insert(fid, of_entry(ledger, f).await?);
        }
    }
    Ok(out)
}

/// True when the record is about finding `fid`: its incident record, or a release of it (by
/// finding, or whose reversals are of its actions).
pub fn concerns(r: &IncidentRecord, fid: &str) -> bool {
    r.finding_id == fid
        || r.release.as_ref().and_then(|x| x.finding_id.as_deref()) == Some(fid)
        || r.outcomes.iter().any(|o| o.finding_id == fid)
}
