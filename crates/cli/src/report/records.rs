//! Reading incident records back, re-checked.

use chrono::{DateTime, Utc};
use launchguard_responder_dispatcher::{IncidentLog, IncidentRecord};

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

/// True when the record is about finding `fid`: its incident record, or a release of it (by
/// finding, or whose reversals are of its actions).
pub fn concerns(r: &IncidentRecord, fid: &str) -> bool {
    r.finding_id == fid
        || r.release.as_ref().and_then(|x| x.finding_id.as_deref()) == Some(fid)
        || r.outcomes.iter().any(|o| o.finding_id == fid)
}
