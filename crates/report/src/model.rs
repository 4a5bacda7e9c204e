//! What a report is made of: the input (a wire format: the CLI rebuilds it from incident
//! records) and the headline derived from it.

use chrono::{DateTime, Utc};
use launchguard_core::contract::{Finding, FindingVerdict, OutcomeStatus, ResponseOutcome};
use serde::{Deserialize, Serialize};

use crate::timeline::Timeline;

/// Everything one incident's report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// The finding, as the dispatcher received it.
    pub finding: Finding,
    /// Every action's outcome (with its reversal), in plan order.
    pub outcomes: Vec<ResponseOutcome>,
    /// Principals refused before any handler was invoked, in words.
    pub refusals: Vec<String>,
    /// What a person must do.
    pub human_actions: Vec<String>,
    /// Releases of this finding, oldest first.
    #[serde(default)]
    pub releases: Vec<ReleaseEvent>,
    /// What the ledger still holds in place for this finding, when the ledger was read
    /// (`launchguard report`); `None`: not known. An incident is released only when a verified
    /// release closed something and nothing is held ([`Headline::PartlyReleased`] otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Vec<Holding>>,
    /// The ledger holds no such finding: every record of it is outside text that anyone with
    /// `logs:PutLogEvents` on the incident log group can write, and the report says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
    /// When the report was written.
    pub generated_at: DateTime<Utc>,
}

/// A containment the ledger holds in place (applied, or found in place, or being applied right
/// now, and not released): the only source of what is still contained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    /// The action in place.
    pub action: launchguard_core::contract::Action,
    /// Since when (its outcome's completion; the claim's start while a delivery is acting).
    pub since: DateTime<Utc>,
}

/// True when one of `held` is a containment (not a reversal) still in place.
pub fn holds_containment(held: &[Holding]) -> bool {
    held.iter().any(|h| !h.action.is_reversal())
}

/// One release of (part of) the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEvent {
    /// When the release was recorded.
    pub at: DateTime<Utc>,
    /// Who asked (`requested_by`, as sent).
    pub requested_by: Option<String>,
    /// Why, as given.
    pub reason: Option<String>,
    /// Only this principal (none: the whole finding).
    pub principal_arn: Option<String>,
    /// A preview: nothing was changed.
    pub dry_run: bool,
    /// The reversals run and their outcomes.
    pub outcomes: Vec<ResponseOutcome>,
    /// Reversals kept or refused, and what a person must undo by hand.
    pub notes: Vec<String>,
    /// The ledger backs this release (an entry it names was released by whom it names). One the
    /// ledger does not back (anyone who can write to the incident log group can append a record)
    /// is shown as unverified and never closes a containment.
    #[serde(default)]
    pub verified: bool,
}

impl ReleaseEvent {
    /// True when this release undoes containments: not a preview, and backed by the ledger.
    pub fn closes(&self) -> bool {
        !self.dry_run && self.verified
    }

    /// How a report names a release the ledger does not back.
    pub const UNVERIFIED: &'static str = "UNVERIFIED: the ledger does not back this record, so it closes nothing";
}

/// The state of an incident in one word, from its outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Headline {
    /// The alarm fired, nobody was over the per-principal thresholds: nothing was changed.
    NobodyOverThreshold,
    /// Dry run: nothing was changed.
    DryRun,
    /// An action failed.
    Failed,
    /// A person must act (refusals, principals launchguard never changes).
    ActionNeeded,
    /// Every action applied (or found in place).
    Contained,
    /// Every action was found in place.
    AlreadyContained,
    /// Released since: a verified release closed containments, and the ledger holds none of the
    /// incident's in place.
    Released,
    /// A verified release closed some of the incident's containments, and the ledger still holds
    /// others in place (the report names which).
    PartlyReleased,
}

impl Headline {
    /// The headline of an incident.
    pub fn of(input: &ReportInput) -> Self {
        Self::from_parts(
            input.finding.verdict == FindingVerdict::NobodyOverThreshold,
            input.finding.dry_run,
            &input.outcomes,
            !input.refusals.is_empty() || !input.human_actions.is_empty(),
            input.releases.iter().any(ReleaseEvent::closes),
            input.held.as_deref().is_some_and(holds_containment),
        )
    }

    /// The headline from its parts (the period summary has no finding at hand). `released`: a
    /// verified release closed something; `still_held`: the ledger still holds a containment of
    /// the incident in place (then it is only partly released).
    pub fn from_parts(nobody: bool, dry_run: bool, outcomes: &[ResponseOutcome], person: bool, released: bool, still_held: bool) -> Self {
        let any = |f: fn(&OutcomeStatus) -> bool| outcomes.iter().any(|o| f(&o.outcome));
        if nobody {
            Self::NobodyOverThreshold
        } else if dry_run || (!outcomes.is_empty() && outcomes.iter().all(|o| o.outcome == OutcomeStatus::DryRun)) {
            Self::DryRun
        } else if released && still_held {
            Self::PartlyReleased
        } else if released {
            Self::Released
        } else if any(|s| matches!(s, OutcomeStatus::Failed { .. })) {
            Self::Failed
        } else if person || any(|s| matches!(s, OutcomeStatus::Refused { .. })) {
            Self::ActionNeeded
        } else if any(|s| *s == OutcomeStatus::Applied) {
            Self::Contained
        } else {
            Self::AlreadyContained
        }
    }

    /// For people: `CONTAINED`, `ACTION NEEDED`...
    pub fn label(self) -> &'static str {
        match self {
            Self::NobodyOverThreshold => "NOBODY OVER THRESHOLD",
            Self::DryRun => "DRY RUN",
            Self::Failed => "FAILED",
            Self::ActionNeeded => "ACTION NEEDED",
            Self::Contained => "CONTAINED",
            Self::AlreadyContained => "ALREADY CONTAINED",
            Self::Released => "RELEASED",
            Self::PartlyReleased => "PARTLY RELEASED",
        }
    }

    /// A CSS class name (`contained`, `action-needed`...).
    pub fn css(self) -> &'static str {
        match self {
            Self::NobodyOverThreshold => "nobody",
            Self::DryRun => "dry-run",
            Self::Failed => "failed",
            Self::ActionNeeded => "action-needed",
            Self::Contained | Self::AlreadyContained => "contained",
            Self::Released => "released",
            Self::PartlyReleased => "partly-released",
        }
    }
}

/// The JSON form of one incident's report (`launchguard report --finding ID --format json`): the
/// input, the headline and the chart's data. A wire format: fields are added, never renamed.
#[derive(Debug, Clone, Serialize)]
pub struct ReportDocument<'a> {
    /// `1`.
    pub report_version: u32,
    /// The finding.
    pub finding_id: &'a str,
    /// The state in one word.
    pub headline: Headline,
    /// Instances launched per principal per minute (the chart's data).
    pub timeline: Timeline,
    /// Everything the report shows.
    pub input: &'a ReportInput,
}

impl<'a> ReportDocument<'a> {
    /// The document of `input`.
    pub fn of(input: &'a ReportInput) -> Self {
        Self {
            report_version: 1,
            finding_id: &input.finding.finding_id,
            headline: Headline::of(input),
            timeline: Timeline::of(&input.finding),
            input,
        }
    }
}

/// The principals a report shows: the flagged ones, or the top launchers when nobody was over.
pub fn shown_principals(f: &Finding) -> &[launchguard_core::contract::FlaggedPrincipal] {
    if f.verdict == FindingVerdict::NobodyOverThreshold { &f.top_launchers } else { &f.principals }
}

/// The ARN a person searches for: a user's or root's ARN, an assumed role's role ARN, or the
/// principal's key for the others.
pub fn principal_arn(p: &launchguard_core::principal::Principal) -> String {
    use launchguard_core::principal::Principal;
    match p {
        Principal::IamUser { arn, .. } | Principal::Root { arn, .. } | Principal::FederatedUser { arn, .. } => arn.clone(),
        Principal::AssumedRole { role_arn, .. } => role_arn.clone(),
        other => other.key(),
    }
}
