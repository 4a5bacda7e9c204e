//! What the detector returns (and logs) for one event.

use launchguard_core::aggregate::Activity;
use launchguard_core::gate::AlarmRefusal;
use launchguard_core::principal::Principal;
use launchguard_core::scan::ScanStats;
use launchguard_core::threshold::Assessment;
use launchguard_core::window::TimeWindow;
use serde::Serialize;

/// What the detector did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Not an alarm in `ALARM` (or a scheduled check while every alarm is `OK`).
    Ignored,
    /// An alarm that failed the gate (see [`AlarmRefusal`]): not acted on.
    Refused,
    /// Nobody over the thresholds: a "nobody over threshold" finding was sent so that a person
    /// is told the alarm fired, with the top launchers.
    NoOneFlagged,
    /// A finding with principals to contain was sent.
    Dispatched,
}

/// The verdict on one principal, in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalVerdict {
    /// Over a threshold: to contain.
    Flagged,
    /// Over a threshold but excluded by rule.
    Excluded,
    /// Under every threshold.
    BelowThreshold,
}

/// A principal's activity, summarised for the log and the returned report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PrincipalSummary {
    /// Who.
    pub principal: String,
    /// Instances launched.
    pub launched: u64,
    /// Instances requested.
    pub requested: u64,
    /// Calls.
    pub calls: u64,
    /// The verdict.
    pub verdict: PrincipalVerdict,
}

/// What the detector returns (and logs) for one alarm.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was done.
    pub status: ReportStatus,
    /// Why the alarm was refused, when it was.
    pub refusal: Option<AlarmRefusal>,
    /// Why ignored, when ignored.
    pub ignored: Vec<String>,
    /// The alarm.
    pub alarm: Option<String>,
    /// The window finally read.
    pub window: Option<TimeWindow>,
    /// True when the fallback window was read.
    pub widened: bool,
    /// How it was read.
    pub method: Option<String>,
    /// Insights query ids.
    pub query_ids: Vec<String>,
    /// Counters of the read.
    pub scan: Option<ScanStats>,
    /// Every principal seen with a launch.
    pub principals: Vec<PrincipalSummary>,
    /// The finding sent, if any.
    pub finding_id: Option<String>,
    /// The ids actually sent: the finding's own, or its parts when it had to be split to fit.
    pub finding_parts: Vec<String>,
    /// True when the finding is a dry run.
    pub dry_run: bool,
    /// Whether the window was read completely.
    pub window_complete: Option<bool>,
    /// Milliseconds per step: `read`, `fallback_read`, `assess`, `dispatch`.
    pub timings_ms: Vec<(String, u64)>,
}

impl Report {
    /// A report for an event that was not acted on.
    pub fn ignored(reasons: Vec<String>) -> Self {
        Self {
            status: ReportStatus::Ignored,
            refusal: None,
            ignored: reasons,
            alarm: None,
            window: None,
            widened: false,
            method: None,
            query_ids: Vec::new(),
            scan: None,
            principals: Vec::new(),
            finding_id: None,
            finding_parts: Vec::new(),
            dry_run: false,
            window_complete: None,
            timings_ms: Vec::new(),
        }
    }

    /// A report for an alarm refused by the gate.
    pub fn refused(alarm: &str, refusal: AlarmRefusal) -> Self {
        Self { status: ReportStatus::Refused, alarm: Some(alarm.to_owned()), refusal: Some(refusal), ..Self::ignored(Vec::new()) }
    }
}

pub(crate) fn summaries(a: &Assessment) -> Vec<PrincipalSummary> {
    let s = |p: &Principal, act: &Activity, verdict| PrincipalSummary {
        principal: p.label(),
        launched: act.instances_launched,
        requested: act.instances_requested,
        calls: act.calls,
        verdict,
    };
    a.flagged
        .iter()
        .map(|f| s(&f.principal, &f.activity, PrincipalVerdict::Flagged))
        .chain(a.excluded.iter().map(|f| s(&f.principal, &f.activity, PrincipalVerdict::Excluded)))
        .chain(a.below.iter().map(|p| s(&p.principal, &p.activity, PrincipalVerdict::BelowThreshold)))
        .collect()
}
