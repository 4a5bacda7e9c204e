//! `launchguard report`: one incident's report (`--finding ID`), or a period summary
//! (`--since DAY [--until DAY]`), from the incident records in CloudWatch Logs.
//!
//! - [`args`]: clap arguments;
//! - [`records`]: incident records read through the dispatcher's [`IncidentLog`] port and
//!   re-checked (a message that is not an incident record is counted, not trusted), then checked
//!   against the ledger: the ledger is the truth, and a release record it does not back is shown
//!   as unverified and never closes a containment; when a finding was contained, what was done
//!   and what is still open are the ledger's ([`records::LedgerFinding`]), never what a record
//!   says, and a finding the ledger holds is in the summary even without a record;
//! - [`local`]: the records and the ledger from local files (`--records`, `--ledger-dir`);
//! - [`build`]: the records of one finding as a [`launchguard_report::ReportInput`], and every
//!   finding's as [`launchguard_report::IncidentFacts`].

pub mod args;
pub mod build;
pub mod local;
pub mod records;

use chrono::{DateTime, Duration, Utc};
use launchguard_aws::store::ConditionalStore;
use launchguard_report::{PeriodSummary, render, render_summary};
use launchguard_responder_dispatcher::ledger::Ledger;
use launchguard_responder_dispatcher::{IncidentLog, RecordType};

pub use args::{ReportArgs, ReportFormat};

use crate::CliError;

/// How far back `--finding` looks when no `--since` is given (the default retention of the
/// incident log group is 400 days).
pub const FINDING_LOOKBACK_DAYS: i64 = 400;

/// The report or summary the arguments ask for, as text. `ledger` is the ledger bucket's store
/// (keys under `ledger/`): what it backs is verified.
pub async fn run<L: IncidentLog, S: ConditionalStore>(
    args: &ReportArgs,
    logs: &L,
    ledger: &S,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let ledger = Ledger::new(ledger);
    let format = args.format.into();
    let since = args.since.as_deref().map(args::day).transpose()?;
    let until = args.until.as_deref().map(args::day).transpose()?.unwrap_or(now);
    match (&args.finding, since) {
        (Some(fid), since) => {
            // local records (--records) are read whole: no lookback
            let lookback = if args.records.is_some() { DateTime::<Utc>::MIN_UTC } else { now - Duration::days(FINDING_LOOKBACK_DAYS) };
            let start = since.unwrap_or(lookback);
            let recs = records::read(logs, &args.log_group, start, now, Some(fid)).await?;
            let backed = records::backed(&ledger, &recs.records).await?;
            let view = records::ledger_finding(&ledger, fid).await?;
            let input = build::report_input(fid, &recs.records, &backed, view.as_ref(), now)?;
            render(&input, format).map_err(|e| CliError::Output(e.to_string()))
        }
        (None, Some(since)) => {
            if until <= since {
                return Err(CliError::Usage(format!("--until ({until}) must be after --since ({since})")));
            }
            // releases made after the period still close its containments: read up to now
            let recs = records::read(logs, &args.log_group, since, now.max(until), None).await?;
            let backed = records::backed(&ledger, &recs.records).await?;
            let fids: std::collections::BTreeSet<&str> =
                recs.records.iter().filter(|r| r.record_type == RecordType::Incident).map(|r| r.finding_id.as_str()).collect();
            let views = records::ledger_findings(&ledger, since, until, fids).await?;
            let summary = PeriodSummary::build(&build::incident_facts(&recs.records, &backed, &views), since, until, now);
            render_summary(&summary, format).map_err(|e| CliError::Output(e.to_string()))
        }
        (None, None) => Err(CliError::Usage("give --finding ID (one incident) or --since DAY (a period summary)".into())),
    }
}
