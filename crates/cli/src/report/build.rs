//! Incident records into the report's input and the summary's facts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use launchguard_core::contract::Finding;
use launchguard_report::{Holding, IncidentFacts, ReleaseEvent, ReportInput};
use launchguard_responder_dispatcher::{IncidentRecord, RecordType, Status};

use super::records::concerns;
use crate::CliError;

fn release_event(r: &IncidentRecord, backed: bool) -> Option<ReleaseEvent> {
    let req = r.release.as_ref()?;
    Some(ReleaseEvent {
        verified: backed,
        at: r.recorded_at,
        requested_by: req.requested_by.clone(),
        reason: req.reason.clone(),
        principal_arn: req.principal_arn.clone(),
        dry_run: req.dry_run || r.status == Status::DryRun,
        outcomes: r.outcomes.clone(),
        notes: r.refusals.iter().chain(&r.human_actions).cloned().collect(),
    })
}

/// Every release record about `fid`, verified only when the ledger backs it for `fid` itself.
fn releases_of(fid: &str, records: &[IncidentRecord], backed: &[BTreeSet<String>]) -> Vec<ReleaseEvent> {
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.record_type == RecordType::Release && concerns(r, fid))
        .filter_map(|(i, r)| release_event(r, backed.get(i).is_some_and(|b| b.contains(fid))))
        .collect()
}

/// The report input of finding `fid`: its latest incident record with the finding, and every
/// release of it (`backed`: the findings the ledger backs each record for, [`super::records::backed`]).
pub fn report_input(
    fid: &str,
    records: &[IncidentRecord],
    backed: &[BTreeSet<String>],
    now: DateTime<Utc>,
) -> Result<ReportInput, CliError> {
    let latest =
        records.iter().rev().find(|r| r.record_type == RecordType::Incident && r.finding_id == fid).ok_or_else(|| CliError::Input {
            source_name: fid.to_owned(),
            reason: "no incident record of this finding in the log group: check --finding, --log-group and --since".into(),
        })?;
    let Some(value) = latest.finding.clone() else {
        return Err(CliError::Input {
            source_name: fid.to_owned(),
            reason: format!(
                "its incident record was cut to fit a log event; the whole record is at {}: download it and give it to support",
                latest.detail.as_deref().unwrap_or("(no detail kept)")
            ),
        });
    };
    let finding = Finding::parse(value).map_err(|e| CliError::Input {
        source_name: fid.to_owned(),
        reason: format!("the finding in its incident record cannot be read: {e}"),
    })?;
    Ok(ReportInput {
        finding,
        outcomes: latest.outcomes.clone(),
        refusals: latest.refusals.clone(),
        human_actions: latest.human_actions.clone(),
        releases: releases_of(fid, records, backed),
        generated_at: now,
    })
}

/// One [`IncidentFacts`] per finding with an incident record: contained when its first record
/// was written, with its latest record's outcomes and every release of it (each marked verified
/// or not, from `backed`), and what the ledger still holds in place (`held`, from
/// [`super::records::holdings`]: the only source of open containments).
pub fn incident_facts(
    records: &[IncidentRecord],
    backed: &[BTreeSet<String>],
    held: &BTreeMap<String, Vec<Holding>>,
) -> Vec<IncidentFacts> {
    let mut by_finding: BTreeMap<&str, Vec<&IncidentRecord>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.record_type == RecordType::Incident) {
        by_finding.entry(r.finding_id.as_str()).or_default().push(r);
    }
    by_finding
        .into_iter()
        .filter_map(|(fid, recs)| {
            let first = recs.first()?;
            let latest = recs.last()?;
            Some(IncidentFacts {
                finding_id: fid.to_owned(),
                recorded_at: first.recorded_at,
                principals: latest.principals.clone(),
                nobody: latest.status == Status::NobodyOverThreshold,
                dry_run: latest.status == Status::DryRun,
                person: !latest.refusals.is_empty() || !latest.human_actions.is_empty(),
                outcomes: latest.outcomes.clone(),
                releases: releases_of(fid, records, backed),
                verified: records.iter().zip(backed).any(|(r, b)| r.record_type == RecordType::Incident && b.contains(fid)),
                open: held.get(fid).cloned().unwrap_or_default(),
            })
        })
        .collect()
}
