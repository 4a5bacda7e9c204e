//! launchguard-core: everything the launchguard functions share, and no I/O.
//!
//! This crate parses the inputs (CloudWatch alarm notifications, CloudTrail records), decides
//! (classification, aggregation, thresholds, protected principals) and defines the versioned
//! payload contract that the functions exchange. It never opens a socket, reads a file or the
//! clock on its own: callers pass in bytes, strings, environment lookups and "now".
//!
//! Map of the modules:
//! - [`alarm`]: CloudWatch alarm state changes from an SNS event or a direct alarm action.
//! - [`gate`]: which alarm notifications are acted on (only the configured alarms, own account, recent).
//! - [`window`]: the time window to search for an alarm, and its fallback.
//! - [`time`]: tolerant timestamp parsing (CloudTrail, CloudWatch, Logs Insights formats).
//! - [`record`]: the borrowed CloudTrail record model and every container shape.
//! - [`principal`]: `userIdentity` classification.
//! - [`capacity`]: the launch routes (RunInstances, fleets, spot requests, Auto Scaling groups) and
//!   the capacity each call asks for.
//! - [`launch`]: launch counting (launched, requested, failed, dry runs), of every route.
//! - [`aggregate`]: per-principal activity, de-duplicated by access key.
//! - [`split`]: the records of a document of any shape as text, unparsed (lookup-events exports
//!   too), keeping what precedes a cut.
//! - [`stream`]: the EventBridge path: an "AWS API Call via CloudTrail" event read and checked,
//!   matched by the scanner, and time buckets judged by [`windows`] (never missing, erring toward flagging).
//! - [`stream_plan`]: the EventBridge rules deploy renders from a rule set (IAM's in us-east-1 only).
//! - [`scan`]: pre-filter, parse, re-check and aggregate a stream of records.
//! - [`windows`]: the one judgement of a principal's time-ordered calls against every horizon
//!   of a rule (sliding, half-open windows): which horizon was crossed and when.
//! - [`burst`]: per-principal calls, judged by [`windows`]: bursts (scan) and the detector's assessment.
//! - [`evidence`]: the records that crossed a threshold, as a finding names them, and the check of
//!   what CloudTrail's event history answers for them (nobody is contained on forgeable records).
//! - [`threshold`]: what is counted and who may be flagged (AWS services, `invokedBy`).
//! - [`alarm_plan`]: the metric filters and alarms deploy renders from a rule set (one per threshold).
//! - [`rules`]: the detector's rule set (which events, what is counted, thresholds, actions,
//!   alarms), bundled and validated.
//! - [`created`]: what an IAM call created (users, access keys and for whom).
//! - [`query`]: Logs Insights query and FilterLogEvents pattern building.
//! - [`auth`]: sealed (KMS-MAC-authenticated) payloads: envelope, MAC'd message, freshness.
//! - [`contract`]: `Finding`, `ResponseRequest`, `ResponseOutcome`, `ReleaseRequest`.
//! - [`fit`]: a finding cut (never of what containment needs, while anything else can go) and
//!   split to fit the asynchronous invocation limit once sealed.
//! - [`ids`]: ARN, account and access key ID validation, protected-principal patterns.
//! - [`protected_iam`]: the protected-principal patterns as IAM `Resource` patterns (the
//!   handlers' deny, rendered by `launchguard-render --protected`).
//! - [`guard`]: account and protected-principal checks shared by the responders.
//! - [`policy`]: the IAM policy documents launchguard writes and reads back.
//! - [`schema`]: the JSON Schema of each payload kind, derived from the types (`schemas/`).
//! - [`config`]: typed configuration read through an environment lookup.
//! - [`text`]: the one escaping path for outside text on its way to people (pages, reports, log
//!   lines, suggested shell commands): Cc, Cf, Zl and Zp shown escaped.

pub mod aggregate;
pub mod alarm;
pub mod alarm_plan;
pub mod auth;
pub mod burst;
pub mod capacity;
pub mod config;
pub mod contract;
pub mod created;
pub mod error;
pub mod evidence;
pub mod fit;
pub mod gate;
pub mod guard;
pub mod ids;
pub mod launch;
pub mod policy;
pub mod principal;
pub mod protected_iam;
pub mod query;
pub mod record;
pub mod resize;
pub mod rules;
pub mod scan;
pub mod schema;
pub mod split;
pub mod stream;
pub mod stream_plan;
pub mod text;
pub mod threshold;
pub mod time;
pub mod window;
pub mod windows;

pub use error::CoreError;
