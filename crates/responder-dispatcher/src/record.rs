//! The incident record (one JSON log event per dispatch, for people) and the dispatch report.

use chrono::{DateTime, Utc};
use launchguard_core::contract::{ReleaseRequest, ResponseOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The overall state of a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every action applied or in place.
    Contained,
    /// Everything was already in place.
    AlreadyContained,
    /// A person must act (refusals, principals launchguard never changes).
    ActionNeeded,
    /// An action failed.
    Failed,
    /// Dry run: nothing changed.
    DryRun,
    /// The finding was released before; a redelivery does not contain again.
    AlreadyReleased,
    /// A release undid (or kept, for a newer containment) everything in its scope.
    Released,
    /// A release left something in place that it would have undone (refused: IAM changed since).
    ReleasePartial,
    /// A reversal failed.
    ReleaseFailed,
    /// Everything launchguard owns in the release's scope was undone (or kept), but launchguard
    /// cannot tell whether it made some changes (a delivery died, timed out or failed while
    /// acting): a person must check and undo them by hand (`human_actions`).
    ReleaseActionNeeded,
    /// Nothing launchguard did is left to undo in the release's scope.
    NothingToRelease,
    /// The alarm fired but nobody was over the per-principal thresholds: a person is told, nothing
    /// is changed.
    NobodyOverThreshold,
}

impl Status {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contained => "contained",
            Self::AlreadyContained => "already_contained",
            Self::ActionNeeded => "action_needed",
            Self::Failed => "failed",
            Self::DryRun => "dry_run",
            Self::AlreadyReleased => "already_released",
            Self::Released => "released",
            Self::ReleasePartial => "release_partial",
            Self::ReleaseFailed => "release_failed",
            Self::ReleaseActionNeeded => "release_action_needed",
            Self::NothingToRelease => "nothing_to_release",
            Self::NobodyOverThreshold => "nobody_over_threshold",
        }
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What an incident record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// Containment of a finding.
    Incident,
    /// A release.
    Release,
}

impl RecordType {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Release => "release",
        }
    }
}

impl PartialEq<&str> for RecordType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One incident record, as written to the incident log group (one JSON log event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// `incident` or `release`.
    pub record_type: RecordType,
    /// Record format version.
    pub schema_version: u32,
    /// The finding.
    pub finding_id: String,
    /// When written.
    pub recorded_at: DateTime<Utc>,
    /// Overall state.
    pub status: Status,
    /// Principal ARNs concerned (for searching by principal).
    pub principals: Vec<String>,
    /// Every outcome.
    pub outcomes: Vec<ResponseOutcome>,
    /// What a human must do.
    pub human_actions: Vec<String>,
    /// Refusals made before any handler was invoked, and reversals kept or refused.
    pub refusals: Vec<String>,
    /// The SNS message id, or why publishing failed.
    pub notification: String,
    /// Where the ledger keeps the full detail (`s3://bucket/ledger/findings/<id>`).
    #[serde(default)]
    pub ledger: Option<String>,
    /// The finding (for `incident` records).
    pub finding: Option<Value>,
    /// The release request (for `release` records).
    pub release: Option<ReleaseRequest>,
    /// Where the whole record is (`s3://bucket/ledger/details/...`) when this one was cut to fit a
    /// log event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What was cut from this record to fit a log event, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
    /// The incident report (`REPORT_BUCKET`): where it is, or why it is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::report::ReportState>,
}

/// Largest incident record written, in bytes: a CloudWatch Logs event is at most 256 KiB,
/// 26 bytes of which are taken by the event's overhead; the rest is margin.
pub const MAX_RECORD_BYTES: usize = 250 * 1024;

/// A list of the record that can be cut: its name, its length, and how to cut it.
type CutList = (&'static str, fn(&IncidentRecord) -> usize, fn(&mut IncidentRecord, usize));

fn json_len<T: Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

impl IncidentRecord {
    /// The record as one log event of at most `limit` bytes. Whole when it fits; otherwise,
    /// in this order until it fits: without the finding, then with fewer outcomes (failed ones
    /// first), human actions, refusals and principals. What was cut is said in `cut`, with the
    /// full counts; `detail` says where the whole record is.
    pub fn to_event(&self, limit: usize) -> String {
        let whole = serde_json::to_string(self).unwrap_or_default();
        if whole.len() <= limit {
            return whole;
        }
        let mut r = self.clone();
        r.finding = None;
        let mut cuts = vec![format!("the finding ({} bytes)", json_len(&self.finding))];
        // Failed outcomes first: a cut never hides a failed action.
        r.outcomes.sort_by_key(|o| !matches!(o.outcome, launchguard_core::contract::OutcomeStatus::Failed { .. }));
        let lists: [CutList; 4] = [
            ("outcomes", |r| r.outcomes.len(), |r, n| r.outcomes.truncate(n)),
            ("human actions", |r| r.human_actions.len(), |r, n| r.human_actions.truncate(n)),
            ("refusals", |r| r.refusals.len(), |r, n| r.refusals.truncate(n)),
            ("principals", |r| r.principals.len(), |r, n| r.principals.truncate(n)),
        ];
        for (name, len, truncate) in lists {
            let total = len(&r);
            while json_len(&r) + 512 > limit && len(&r) > 0 {
                let half = len(&r) / 2;
                truncate(&mut r, half);
            }
            if len(&r) < total {
                cuts.push(format!("{name}: {} of {total} kept", len(&r)));
            }
        }
        r.cut = Some(launchguard_core::error::cut(&format!("cut to fit a log event: {}", cuts.join("; ")), 400));
        let text = serde_json::to_string(&r).unwrap_or_default();
        if text.len() <= limit {
            return text;
        }
        // Only the fixed fields are left, and they are still too large: the least that says where.
        serde_json::json!({"record_type": r.record_type, "schema_version": r.schema_version,
            "finding_id": launchguard_core::error::cut(&r.finding_id, 256), "status": r.status, "detail": r.detail,
            "cut": "everything but the status: too large for a log event"})
        .to_string()
    }
}

/// What the dispatcher returns.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchReport {
    /// Overall state.
    pub status: Status,
    /// The finding.
    pub finding_id: String,
    /// Every outcome.
    pub outcomes: Vec<ResponseOutcome>,
    /// Refusals made before invoking handlers.
    pub refusals: Vec<String>,
    /// What a human must do.
    pub human_actions: Vec<String>,
    /// SNS message id (none when this delivery sent no page: nothing new to say).
    pub notification_message_id: Option<String>,
    /// Where the incident record is: `<group>/<stream>`.
    pub incident_record: Option<String>,
    /// Deliveries of this finding so far (from the ledger).
    pub deliveries: u64,
}
