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
    /// Another delivery of the same finding is acting right now.
    InProgress,
    /// The finding was released before; a redelivery does not contain again.
    AlreadyReleased,
    /// A release undid (or kept, for a newer containment) everything in its scope.
    Released,
    /// A release left something in place that it would have undone (refused: IAM changed since).
    ReleasePartial,
    /// A reversal failed.
    ReleaseFailed,
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
            Self::InProgress => "in_progress",
            Self::AlreadyReleased => "already_released",
            Self::Released => "released",
            Self::ReleasePartial => "release_partial",
            Self::ReleaseFailed => "release_failed",
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
