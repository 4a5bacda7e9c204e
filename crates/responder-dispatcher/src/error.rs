//! The dispatcher's one error type: what failed, and whether Lambda should retry the event.

use launchguard_core::CoreError;
use thiserror::Error;

use crate::ledger::{Held, STALE_CLAIM};

/// The part of a dispatch that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A containment (or reversal) action.
    Action,
    /// The SNS notification.
    Notify,
    /// The incident record in CloudWatch Logs.
    Record,
    /// The ledger (S3).
    Ledger,
    /// Checking a seal, or recording a release before acting (KMS, S3): nothing was done.
    Seal,
}

/// One failed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Which part.
    pub part: Part,
    /// What happened, and on what.
    pub what: String,
    /// A retry may succeed (throttling, 5xx, network).
    pub retryable: bool,
}

/// Errors of the dispatcher.
#[derive(Debug, Error)]
pub enum DispatcherError {
    /// The payload is not a valid finding or release request: nothing was done.
    #[error("invalid input, nothing done: {0}")]
    InvalidInput(#[from] CoreError),
    /// A valid finding that this dispatcher must not act on: nothing was done.
    #[error("finding {finding_id} rejected, nothing done: {reason}")]
    Rejected {
        /// The finding.
        finding_id: String,
        /// Why.
        reason: String,
    },
    /// Some parts failed; every other part was still done. Every failure is listed: a failure to
    /// notify or record never hides a failed action.
    #[error("{} part(s) failed{}: {}", failures.len(), if self.is_retryable() { " (retryable: Lambda retries the event)" } else { "" },
        failures.iter().map(|f| format!("[{:?}] {}", f.part, f.what)).collect::<Vec<_>>().join("; "))]
    Incomplete {
        /// What failed.
        failures: Vec<Failure>,
    },
    /// Another delivery (or a release) holds the claim on some of this finding's actions and may
    /// be acting right now: this delivery did what it could, and pages nothing until every
    /// action is settled. Always retryable: Lambda retries the event, and a claim held longer
    /// than the stale bound is taken over (its handler answers from its replay record); after
    /// Lambda's last retry the failed-events queue keeps the finding.
    #[error("finding {finding_id}: {} (retry: Lambda retries the event; a claim older than {} s is taken over){}",
        held.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "), STALE_CLAIM.num_seconds(),
        if failures.is_empty() { String::new() } else { format!("; also {} part(s) failed: {}", failures.len(),
            failures.iter().map(|f| format!("[{:?}] {}", f.part, f.what)).collect::<Vec<_>>().join("; ")) })]
    Busy {
        /// The finding.
        finding_id: String,
        /// The claims held by someone else.
        held: Vec<Held>,
        /// Every other failed part.
        failures: Vec<Failure>,
    },
}

impl DispatcherError {
    /// Whether Lambda should retry the event: when any failed part may pass on a retry.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidInput(_) | Self::Rejected { .. } => false,
            Self::Incomplete { failures } => failures.iter().any(|f| f.retryable),
            Self::Busy { .. } => true,
        }
    }

    /// The failures of one part.
    pub fn failures_of(&self, part: Part) -> usize {
        match self {
            Self::Incomplete { failures } | Self::Busy { failures, .. } => failures.iter().filter(|f| f.part == part).count(),
            _ => 0,
        }
    }
}
