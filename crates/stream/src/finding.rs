//! The finding the stream detector sends: the detector's [`Finding`], made from the exact events
//! that crossed a horizon, naming its path (the EventBridge stream) and how many seconds after
//! the first event of the crossing window it was made.

use chrono::{DateTime, TimeZone, Utc};
use launchguard_core::contract::{
    Finding, FindingKind, FindingVerdict, FlaggedPrincipal, ReadSummary, SCHEMA_VERSION, Trigger, finding_id,
};
use launchguard_core::scan::ScanStats;
use launchguard_core::window::TimeWindow;
use launchguard_detector::DetectorRule;

use crate::Config;

/// The name findings of this path carry as their detector: `launchguard-stream/<rule>`.
pub fn stream_detector_name(rule: &str) -> String {
    format!("launchguard-stream/{rule}")
}

/// What `ReadSummary.method` says for this path.
pub const METHOD: &str = "eventbridge_stream";

/// What was read when a horizon was crossed.
#[derive(Debug, Clone)]
pub struct Crossed {
    /// The first instant read, ms.
    pub from_ms: i64,
    /// The last instant read, ms.
    pub to_ms: i64,
    /// The scan of the events read.
    pub stats: ScanStats,
    /// Why what was read is not whole, if it is not.
    pub incomplete: Option<String>,
    /// True when every record of the finding's claims was proven to come from the stream's own
    /// queue: the finding then has an id of its own, never one an unproven finding of the same
    /// window could have taken (in the stream's claim or the dispatcher's ledger).
    pub proven: bool,
}

/// A finding and how fast it was made.
#[derive(Debug, Clone)]
pub struct Made {
    /// The finding.
    pub finding: Finding,
    /// Seconds from the first event of the crossing window to the finding.
    pub seconds_after_first_event: i64,
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The `Contain` finding of one flagged principal.
pub fn stream_finding(
    cfg: &Config,
    rule: &DetectorRule,
    account: &str,
    region: &str,
    flagged: FlaggedPrincipal,
    crossed: &Crossed,
    now: DateTime<Utc>,
) -> Made {
    let window = TimeWindow { start: utc(crossed.from_ms), end: utc(crossed.to_ms) };
    let detector = stream_detector_name(&rule.rule.id);
    let first = flagged.crossed.map_or(now, |c| c.window_start);
    let seconds = (now - first).num_seconds().max(0);
    let basis = if crossed.proven { format!("{detector}#delivered-by-aws") } else { detector.clone() };
    let id = finding_id(&basis, account, &window, std::slice::from_ref(&flagged.principal));
    let finding = Finding {
        schema_version: SCHEMA_VERSION,
        kind: FindingKind::Finding,
        finding_id: id,
        detector,
        rule: rule.rule.id.clone(),
        account_id: account.to_owned(),
        region: region.to_owned(),
        created_at: now,
        trigger: Some(Trigger { name: format!("EventBridge stream (caught {seconds} s after the first event)"), arn: None, fired_at: now }),
        event: rule.rule.event.label(),
        window,
        window_complete: crossed.incomplete.is_none(),
        incomplete_reason: crossed.incomplete.clone(),
        dry_run: cfg.dry_run,
        verdict: FindingVerdict::Contain,
        principals: vec![flagged],
        excluded: Vec::new(),
        top_launchers: Vec::new(),
        read: ReadSummary {
            records_read: crossed.stats.rows,
            matching_records: crossed.stats.matched,
            unparseable_records: crossed.stats.unparseable,
            principals_seen: 1,
            method: METHOD.to_owned(),
            widened: false,
            key_conflicts: Vec::new(),
            key_conflicts_total: None,
            unexplained: None,
        },
    };
    Made { finding, seconds_after_first_event: seconds }
}
