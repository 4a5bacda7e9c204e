//! Reading incident records back, re-checked, and each checked against the ledger.
//!
//! Anyone with `logs:PutLogEvents` on the incident log group can append a record that parses. The
//! ledger (S3, written only by launchguard's roles) is the truth: a record it does not back is
//! shown as unverified and never closes a containment ([`backed`]).

use chrono::{DateTime, Utc};
use launchguard_aws::store::ConditionalStore;
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

/// For each record, whether the ledger backs it: an incident record when the ledger holds its
/// finding; a release record when an entry it names (by its outcomes, or its finding's entries)
/// was released by whom the release names, no later than the record (a release sent again after
/// a busy answer finds its entries already marked, at the first attempt).
pub async fn backed<S: ConditionalStore>(ledger: &Ledger<'_, S>, records: &[IncidentRecord]) -> Result<Vec<bool>, CliError> {
    let failed = |e: launchguard_aws::CallError| CliError::Aws {
        what: "reading the ledger (s3:GetObject, s3:ListBucket on the ledger bucket)".into(),
        reason: format!("{e}; check --ledger-bucket and your credentials"),
    };
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let ok = match (r.record_type, &r.release) {
            (RecordType::Incident, _) => ledger.finding(&r.finding_id).await.map_err(failed)?.is_some(),
            (RecordType::Release, Some(req)) => {
                let mut keys: Vec<String> = r.outcomes.iter().map(|o| entry_key(&target_of(&o.action), &o.finding_id)).collect();
                if let Some(fid) = &req.finding_id
                    && let Some(f) = ledger.finding(fid).await.map_err(failed)?
                {
                    keys.extend(f.entries);
                }
                let mut found = false;
                for k in keys {
                    if let Some((e, _)) = ledger.entry(&k).await.map_err(failed)?
                        && e.released.as_ref().is_some_and(|x| x.at <= r.recorded_at && x.by == req.requested_by)
                    {
                        found = true;
                        break;
                    }
                }
                found
            }
            (RecordType::Release, None) => false,
        };
        out.push(ok);
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
