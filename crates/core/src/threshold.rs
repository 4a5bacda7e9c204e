//! Who gets flagged. The alarm says something happened; the thresholds say who did it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aggregate::Activity;
use crate::principal::Principal;

/// What a matching record counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    /// Instances launched or requested (`RunInstances`).
    #[default]
    Instances,
    /// Calls, failed ones counted as attempts (dry runs are not).
    Calls,
}

impl Counted {
    /// True for [`Counted::Instances`] (the default, left out of serialised thresholds).
    pub fn is_instances(&self) -> bool {
        *self == Counted::Instances
    }
}

/// The flagging rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// What is counted: instances (default: `min_instances` applies) or calls (`min_calls`
    /// applies, and `min_instances` does not).
    #[serde(default, skip_serializing_if = "Counted::is_instances")]
    pub counts: Counted,
    /// With `counts: calls`: flag a principal with at least this many calls, failed ones
    /// included, in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_calls: Option<u64>,
    /// Flag a principal that launched or requested at least this many instances (default 10).
    pub min_instances: u64,
    /// Also flag a principal with at least this many failed launch calls (default: off).
    pub min_failed_calls: Option<u64>,
    /// Never flag AWS services and service-linked roles (default true).
    pub exclude_aws_services: bool,
    /// Count the launches AWS itself made through a service-linked role (`invokedBy` its service,
    /// [`crate::principal::is_made_by_aws_service_for`]) towards its thresholds
    /// (`LG_CONTAIN_INVOKED_BY_AWS_SERVICE`, default false: they are reported apart). A
    /// customer's principal launching through a service always counts.
    #[serde(default)]
    pub contain_invoked_by_aws_service: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            counts: Counted::Instances,
            min_calls: None,
            min_instances: 10,
            min_failed_calls: None,
            exclude_aws_services: true,
            contain_invoked_by_aws_service: false,
        }
    }
}

/// The decision for one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Over a threshold: hand to the responders.
    Flagged {
        /// Which thresholds were crossed, in words.
        reasons: Vec<String>,
    },
    /// Over a threshold but excluded by rule (AWS service callers).
    Excluded {
        /// Why.
        reason: String,
    },
    /// Under every threshold.
    BelowThreshold,
}

impl Thresholds {
    /// Decide for one principal on the sums of one span of activity (no window: the caller
    /// chose the span). Who is flagged on a read is decided by [`crate::windows::judge`].
    ///
    /// Launches an AWS service made on the principal's behalf (`invokedBy`) count only when
    /// `contain_invoked_by_aws_service` is set; otherwise a principal over a threshold only
    /// through them is [`Verdict::Excluded`], with the services named.
    pub fn evaluate(&self, principal: &Principal, a: &Activity) -> Verdict {
        let direct =
            |total: u64, by_service: u64| if self.contain_invoked_by_aws_service { total } else { total.saturating_sub(by_service) };
        let launched = direct(a.instances_launched, a.aws_service_launched);
        let requested = direct(a.instances_requested, a.aws_service_requested);
        let mut reasons = Vec::new();
        let attempts = direct(a.calls.saturating_sub(a.dry_run_calls), a.aws_service_calls);
        if self.counts == Counted::Calls {
            if let Some(min) = self.min_calls.filter(|m| attempts >= *m) {
                let failed = if a.failed_calls > 0 { format!(", {} of them failed", a.failed_calls) } else { String::new() };
                reasons.push(format!("{attempts} calls{failed} (threshold {min})"));
            }
        } else if launched >= self.min_instances {
            reasons.push(format!("launched {launched} instances (threshold {})", self.min_instances));
        } else if requested >= self.min_instances {
            reasons.push(format!("requested {requested} instances (threshold {})", self.min_instances));
        }
        if let Some(min) = self.min_failed_calls.filter(|m| a.failed_calls >= *m) {
            reasons.push(format!("{} failed launch calls (threshold {min})", a.failed_calls));
        }
        let over_by_service = match self.counts {
            Counted::Instances => a.instances_launched.max(a.instances_requested) >= self.min_instances,
            Counted::Calls => self.min_calls.is_some_and(|m| a.calls.saturating_sub(a.dry_run_calls) >= m),
        };
        if reasons.is_empty() && over_by_service && a.aws_service_calls > 0 {
            let services = a.invoked_by.iter().cloned().collect::<Vec<_>>().join(", ");
            return Verdict::Excluded {
                reason: format!(
                    "{} is over the threshold only through {} call(s) that AWS services ({services}) made on its behalf (invokedBy); \
                     set LG_CONTAIN_INVOKED_BY_AWS_SERVICE=true to contain such principals",
                    principal.label(),
                    a.aws_service_calls
                ),
            };
        }
        if a.aws_service_calls > 0 && !reasons.is_empty() {
            reasons.push(format!("{} of {} calls made by AWS services on its behalf (invokedBy)", a.aws_service_calls, a.calls));
        }
        if reasons.is_empty() {
            Verdict::BelowThreshold
        } else if self.exclude_aws_services && principal.is_aws_service() {
            Verdict::Excluded { reason: format!("{} is AWS itself; {}", principal.label(), reasons.join("; ")) }
        } else {
            Verdict::Flagged { reasons }
        }
    }
}

/// Every principal of a window, sorted into flagged, excluded and below threshold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Over a threshold: to contain.
    pub flagged: Vec<crate::contract::FlaggedPrincipal>,
    /// Over a threshold but excluded by rule.
    pub excluded: Vec<crate::contract::FlaggedPrincipal>,
    /// Under every threshold.
    pub below: Vec<crate::aggregate::PrincipalActivity>,
}

impl Thresholds {
    /// Sort every principal by its sums over everything given (keeps the input order inside
    /// each group): `launchguard scan --totals` only. Never a verdict on a read: the detector
    /// and the scan's bursts judge sliding windows ([`crate::burst::Tracker::assess`]).
    pub fn assess(&self, principals: Vec<crate::aggregate::PrincipalActivity>) -> Assessment {
        let mut out = Assessment::default();
        for pa in principals {
            match self.evaluate(&pa.principal, &pa.activity) {
                Verdict::Flagged { reasons } => out.flagged.push(crate::contract::FlaggedPrincipal {
                    principal: pa.principal,
                    activity: pa.activity,
                    reasons,
                    crossed: None,
                    evidence: None,
                    principal_id: None,
                    delivered_by_aws: Vec::new(),
                }),
                Verdict::Excluded { reason } => out.excluded.push(crate::contract::FlaggedPrincipal {
                    principal: pa.principal,
                    activity: pa.activity,
                    reasons: vec![reason],
                    crossed: None,
                    evidence: None,
                    principal_id: None,
                    delivered_by_aws: Vec::new(),
                }),
                Verdict::BelowThreshold => out.below.push(pa),
            }
        }
        out
    }
}
