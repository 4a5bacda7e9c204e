//! launchguard-stream: the stream detector, beside the alarm chain. CloudTrail sends every
//! management event to EventBridge within seconds ("AWS API Call via CloudTrail"); a rule per
//! watched event routes them to an SQS queue, whose batches this function handles:
//!
//! 1. each message is read and checked ([`launchguard_core::stream::parse_event`]: configured
//!    account and region only, a CloudTrail record naming a principal, an `eventID`, a time
//!    inside the horizons) and matched against every rule by the detector's scanner;
//! 2. a matching event is recorded once by its `eventID` and added into its principal's 10-s
//!    bucket, in one transaction ([`store::CounterStore::record`]);
//! 3. the principal's buckets around it are judged by [`launchguard_core::windows::judge`]
//!    (never missing a crossing, erring toward flagging by at most two buckets);
//! 4. on a crossing, the exact events are read back and assessed as the detector assesses a
//!    read ([`launchguard_core::burst::Tracker::assess`]); if the principal is flagged, one
//!    finding per principal per incident is claimed (a conditional write) and sent sealed to the
//!    dispatcher with the detector's own sending code. The dispatcher's ledger makes the alarm
//!    chain's later finding for the same principal an "already contained" no-op.
//!
//! Before any of it, [`receipts`] proves each message came from the stream's own queue (its
//! `eventSourceARN`, and its receipt handle accepted by that queue): only a proven message's
//! record is ever carried as delivered by AWS; and before a finding carries any, [`rules`] reads
//! the stream's own EventBridge rules back and compares them with their rendering (a rule that
//! rewrites what it delivers, or matches what anyone may send, vouches for nothing).
//!
//! Modules: [`config`], [`store`] (the trait and its key layout), [`dynamo`] (DynamoDB),
//! [`memory`] (in memory, feature `test-util`), [`receipts`] (the proof), [`sqs`] (SQS),
//! [`memory_queue`] (in memory, feature `test-util`), [`rules`] (the rules' check and the health
//! page), [`eventbridge`] and [`sns`] (their AWS adapters), [`memory_rules`] and [`memory_health`]
//! (in memory, feature `test-util`), [`event`] (one message), [`finding`],
//! [`batch`] (partial batch responses).

pub mod batch;
pub mod config;
pub mod dynamo;
pub mod event;
pub mod eventbridge;
pub mod finding;
#[cfg(feature = "test-util")]
pub mod memory;
#[cfg(feature = "test-util")]
pub mod memory_health;
#[cfg(feature = "test-util")]
pub mod memory_queue;
#[cfg(feature = "test-util")]
pub mod memory_rules;
pub mod receipts;
pub mod rules;
pub mod sns;
pub mod sqs;
pub mod store;

pub use batch::{BatchReport, BatchResponse, SqsEvent, handle_batch};
pub use config::Config;
pub use event::{Outcome, handle_event};
pub use launchguard_aws::{CallError, Invoker};
use launchguard_detector::DetectorError;
pub use rules::Guard;
use thiserror::Error;

/// The AWS actions the stream detector calls (checked against its policy by the tests).
pub const AWS_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    // a proven event replacing an unproven copy at another time deletes the copy's event item
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "lambda:InvokeFunction",
    "kms:GenerateMac",
    "sqs:ChangeMessageVisibility",
    "events:DescribeRule",
    "events:ListTargetsByRule",
    "sns:Publish",
];

/// Errors of the stream detector: each fails its message, which SQS delivers again.
#[derive(Debug, Error)]
pub enum StreamError {
    /// The counter store failed or throttled: nothing is lost, the message comes again.
    #[error("counter store: {0}; the message will be delivered again")]
    Store(CallError),
    /// The dispatcher could not be given the finding: the claim is kept, and the message's next
    /// delivery sends it.
    #[error("{0}; the message will be delivered again and the finding sent then")]
    Dispatch(DetectorError),
}
