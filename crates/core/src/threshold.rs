//! Who gets flagged. The alarm says something happened; the thresholds say who did it.

use serde::{Deserialize, Serialize};

use crate::aggregate::Activity;
use crate::principal::Principal;

/// The flagging rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Flag a principal that launched or requested at least this many instances (default 10).
    pub min_instances: u64,
    /// Also flag a principal with at least this many failed launch calls (default: off).
    pub min_failed_calls: Option<u64>,
    /// Never flag AWS services and service-linked roles (default true).
    pub exclude_aws_services: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { min_instances: 10, min_failed_calls: None, exclude_aws_services: true }
    }
}

/// The decision for one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Decide for one principal.
    pub fn evaluate(&self, principal: &Principal, a: &Activity) -> Verdict {
        let mut reasons = Vec::new();
        if a.instances_launched >= self.min_instances {
            reasons.push(format!("launched {} instances (threshold {})", a.instances_launched, self.min_instances));
        } else if a.instances_requested >= self.min_instances {
            reasons.push(format!("requested {} instances (threshold {})", a.instances_requested, self.min_instances));
        }
        if let Some(min) = self.min_failed_calls.filter(|m| a.failed_calls >= *m) {
            reasons.push(format!("{} failed launch calls (threshold {min})", a.failed_calls));
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
    /// Sort every principal of a window (keeps the input order inside each group).
    pub fn assess(&self, principals: Vec<crate::aggregate::PrincipalActivity>) -> Assessment {
        let mut out = Assessment::default();
        for pa in principals {
            match self.evaluate(&pa.principal, &pa.activity) {
                Verdict::Flagged { reasons } => {
                    out.flagged.push(crate::contract::FlaggedPrincipal { principal: pa.principal, activity: pa.activity, reasons })
                }
                Verdict::Excluded { reason } => out.excluded.push(crate::contract::FlaggedPrincipal {
                    principal: pa.principal,
                    activity: pa.activity,
                    reasons: vec![reason],
                }),
                Verdict::BelowThreshold => out.below.push(pa),
            }
        }
        out
    }
}
