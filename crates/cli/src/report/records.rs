//! Reading incident records back, re-checked, and each checked against the ledger.
//!
//! Anyone with `logs:PutLogEvents` on the incident log group can append a record that parses. The
//! ledger (S3, written only by launchguard's roles) is the truth: a record it does not back is
//! shown as unverified and never closes a containment ([`backed`]), and what is still contained
//! is read from the ledger alone ([`holdings`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use launchguard_aws::store::ConditionalStore;
use launchguard_report::Holding;
use launchguard_responder_dispatcher::ledger::{Ledger, entry_key, target_of};
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
/// the ledger holds it; a release record, each finding one of whose OWN entries (an entry of that
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

/// What the ledger still holds in place for each finding: every entry of the finding (its own:
/// the entry names it) that [`ActionEntry::holds`](launchguard_responder_dispatcher::ledger::ActionEntry::holds), since its outcome's completion (a claim's
/// start while a delivery acts). The summary's open containments come from here only.
pub async fn holdings<S: ConditionalStore>(
    ledger: &Ledger<'_, S>,
    findings: impl IntoIterator<Item = &str>,
) -> Result<BTreeMap<String, Vec<Holding>>, CliError> {
    let mut out = BTreeMap::new();
    for fid in findings {
        let mut held = Vec::new();
        if let Some(f) = ledger.finding(fid).await.map_err(ledger_failed)? {
            for k in &f.entries {
                if let Some((e, _)) = ledger.entry(k).await.map_err(ledger_failed)?
                    && e.finding_id == fid
                    && e.holds()
                {
                    let since = e.outcome.as_ref().map_or(e.claimed_at, |o| o.completed_at);
                    held.push(Holding { action: e.action, since });
                }
            }
        }
        out.insert(fid.to_owned(), held);
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
