//! Incident records into the report's input and the summary's facts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use launchguard_core::contract::{Finding, FindingVerdict};
use launchguard_report::{IncidentFacts, ReleaseEvent, ReportInput};
use launchguard_responder_dispatcher::{IncidentRecord, RecordType, Status};

use super::records::{LedgerFinding, concerns};
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

/// True when incident record `r` agrees with what the ledger holds of its finding: written no
/// earlier than the ledger first saw the finding, and, when the ledger holds outcomes of its
/// actions, a dry run exactly when they were, and never "nobody over threshold". A record that
/// disagrees is outside text (anyone with `logs:PutLogEvents` can append one) and is not used.
fn agrees(r: &IncidentRecord, v: &LedgerFinding) -> bool {
    let finding_dry = r.finding.as_ref().and_then(|f| f.get("dry_run")).and_then(serde_json::Value::as_bool).unwrap_or(false);
    let dry = r.status == Status::DryRun || finding_dry;
    r.recorded_at >= v.first_seen
        && match v.dry_run() {
            Some(d) => d == dry && r.status != Status::NobodyOverThreshold,
            None => true,
        }
}

/// The principals a report may name for a finding the ledger holds (`None`: it holds none, and
/// the report is unverified): those its entries act on, and those that every incident record of
/// it agreeing with the ledger names. A record appended by anyone with `logs:PutLogEvents` can
/// leave a principal out of this list, never put one in (compared as IAM compares names).
fn trusted_principals(recs: &[&IncidentRecord], view: Option<&LedgerFinding>) -> Option<Vec<String>> {
    let v = view?;
    let mut out: Vec<String> = v.principals().iter().map(|p| p.to_lowercase()).collect();
    let mut agreeing = recs.iter().filter(|r| agrees(r, v));
    if let Some(first) = agreeing.next() {
        let mut common: Vec<String> = first.principals.iter().map(|p| p.to_lowercase()).collect();
        for r in agreeing {
            let theirs: Vec<String> = r.principals.iter().map(|p| p.to_lowercase()).collect();
            common.retain(|p| theirs.contains(p));
        }
        out.extend(common);
    }
    Some(out)
}

fn is_trusted(trusted: Option<&[String]>, principal: &str) -> bool {
    trusted.is_none_or(|t| t.contains(&principal.to_lowercase()))
}

/// The incident record of `fid` a report describes it by: the latest that agrees with the
/// ledger ([`agrees`]) and names only principals it may ([`trusted_principals`]), else the one
/// that agrees and names the most of them (the latest on a tie), else the latest (its state is
/// then overridden by the ledger's).
fn chosen<'a>(recs: &[&'a IncidentRecord], view: Option<&LedgerFinding>) -> Option<&'a IncidentRecord> {
    let trusted = trusted_principals(recs, view);
    let agreeing = |r: &&&IncidentRecord| view.is_none_or(|v| agrees(r, v));
    // among those that agree: one naming only trusted principals first, then the most of them,
    // then the latest
    recs.iter()
        .filter(agreeing)
        .max_by_key(|r| {
            let named = r.principals.iter().filter(|p| is_trusted(trusted.as_deref(), p)).count();
            (named == r.principals.len(), named)
        })
        .or_else(|| recs.last())
        .copied()
}

fn incident_records<'a>(fid: &str, records: &'a [IncidentRecord]) -> Vec<&'a IncidentRecord> {
    records.iter().filter(|r| r.record_type == RecordType::Incident && r.finding_id == fid).collect()
}

/// The report input of finding `fid`: the finding from its incident record (the latest that
/// agrees with the ledger; of its principals only those the report may name,
/// [`trusted_principals`]), and every release of it (`backed`: the findings the ledger backs each
/// record for, [`super::records::backed`]). When the ledger holds the finding (`view`), what was
/// done, whether it was a dry run, and what is still held come from the ledger, never from a
/// record; otherwise the report says it is unverified.
pub fn report_input(
    fid: &str,
    records: &[IncidentRecord],
    backed: &[BTreeSet<String>],
    view: Option<&LedgerFinding>,
    now: DateTime<Utc>,
) -> Result<ReportInput, CliError> {
    let recs = incident_records(fid, records);
    let latest = chosen(&recs, view).ok_or_else(|| CliError::Input {
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
    let mut finding = Finding::parse(value).map_err(|e| CliError::Input {
        source_name: fid.to_owned(),
        reason: format!("the finding in its incident record cannot be read: {e}"),
    })?;
    // only the principals the ledger, or every record that agrees with it, names
    let trusted = trusted_principals(&recs, view);
    finding.principals.retain(|p| is_trusted(trusted.as_deref(), &p.principal.key()));
    if let Some(d) = view.and_then(LedgerFinding::dry_run) {
        // the ledger holds outcomes: it says whether they were a dry run, and that someone was flagged
        finding.dry_run = d;
        if finding.verdict == FindingVerdict::NobodyOverThreshold {
            finding.verdict = FindingVerdict::Contain;
        }
    }
    Ok(ReportInput {
        finding,
        outcomes: view.map_or_else(|| latest.outcomes.clone(), LedgerFinding::outcomes),
        refusals: latest.refusals.clone(),
        human_actions: latest.human_actions.clone(),
        releases: releases_of(fid, records, backed),
        generated_at: now,
        held: view.map(LedgerFinding::held),
        unverified: view.is_none(),
    })
}

/// One [`IncidentFacts`] per finding with an incident record or held by the ledger (`views`,
/// [`super::records::ledger_findings`]). For a finding the ledger holds: contained when the ledger
/// first saw it, with the ledger's outcomes and what it still holds in place (the only source of
/// open containments), described by its incident record that agrees with the ledger (principals,
/// refusals; the principals of its entries when it has none). For any other: its records,
/// unverified, and nothing open. Every release is marked verified or not, from `backed`.
pub fn incident_facts(
    records: &[IncidentRecord],
    backed: &[BTreeSet<String>],
    views: &BTreeMap<String, LedgerFinding>,
) -> Vec<IncidentFacts> {
    let mut fids: BTreeSet<&str> =
        records.iter().filter(|r| r.record_type == RecordType::Incident).map(|r| r.finding_id.as_str()).collect();
    fids.extend(views.keys().map(String::as_str));
    fids.into_iter()
        .filter_map(|fid| {
            let recs = incident_records(fid, records);
            let view = views.get(fid);
            let rec = chosen(&recs, view);
            let trusted = trusted_principals(&recs, view);
            let ledger_dry = view.and_then(LedgerFinding::dry_run);
            Some(IncidentFacts {
                finding_id: fid.to_owned(),
                recorded_at: match view {
                    Some(v) => v.first_seen,
                    None => recs.first()?.recorded_at,
                },
                principals: match (rec, view) {
                    (Some(r), _) => {
                        let named: Vec<String> = r.principals.iter().filter(|p| is_trusted(trusted.as_deref(), p)).cloned().collect();
                        match view {
                            Some(v) if named.is_empty() => v.principals(),
                            _ => named,
                        }
                    }
                    (None, Some(v)) => v.principals(),
                    (None, None) => Vec::new(),
                },
                nobody: ledger_dry.is_none() && rec.is_some_and(|r| r.status == Status::NobodyOverThreshold),
                dry_run: ledger_dry.unwrap_or_else(|| rec.is_some_and(|r| r.status == Status::DryRun)),
                person: rec.is_some_and(|r| !r.refusals.is_empty() || !r.human_actions.is_empty()),
                outcomes: match (view, rec) {
                    (Some(v), _) => v.outcomes(),
                    (None, Some(r)) => r.outcomes.clone(),
                    (None, None) => Vec::new(),
                },
                releases: releases_of(fid, records, backed),
                verified: view.is_some(),
                open: view.map(LedgerFinding::held).unwrap_or_default(),
            })
        })
        .collect()
}
