//! launchguard-detector: from a CloudWatch alarm to an exact finding.
//!
//! It accepts only its own alarms ([`launchguard_core::gate`]), reads the CloudTrail records of
//! the alarm's window (Logs Insights, FilterLogEvents as the fallback), re-checks every record
//! itself, aggregates and thresholds them with `launchguard-core`, and hands a [`Finding`] to the
//! responder dispatcher: principals to contain, or, when nobody is over the thresholds, a
//! "nobody over threshold" finding so that a person is told. While an alarm stays in `ALARM`, a
//! scheduled event makes it look again ([`schedule`]). It never changes anything in the account.
//!
//! Modules: [`config`] (environment), [`read`] (Insights and FilterLogEvents), [`detect`]
//! (`handle`, `handle_alarm`), [`schedule`] (the re-check), [`report`] (what is returned and
//! logged), [`aws`] (the SDK adapters), [`memory`] (an in-memory log group for tests).
//!
//! The AWS calls sit behind small traits, [`LogReader`], [`AlarmStates`] and [`Invoker`]; [`aws`]
//! implements them over the SDK, and the tests implement them in memory.
//!
//! [`Finding`]: launchguard_core::contract::Finding

pub mod aws;
pub mod config;
pub mod confirm;
pub mod detect;
pub mod memory;
pub mod read;
pub mod report;
pub mod schedule;

pub use config::{Config, DetectorRule, ReadMethod, detector_rules};
pub use detect::{account_from_function_arn, detector_name, handle, handle_alarm, send_parts, send_to};
pub use launchguard_aws::{CallError, Invoker};
use launchguard_core::CoreError;
pub use read::{FilterPage, LogReader, QueryPage, QueryStatus, WindowRead, read_window, read_with_filter, read_with_insights};
pub use report::{PrincipalSummary, PrincipalVerdict, Report, ReportStatus};
pub use schedule::{AlarmChange, AlarmDescription, AlarmHistory, AlarmStates};
use thiserror::Error;

/// The AWS actions the detector calls (checked against `policies/` by the tests).
pub const AWS_ACTIONS: &[&str] = &[
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StopQuery",
    "logs:FilterLogEvents",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmHistory",
    "lambda:InvokeFunction",
    "kms:GenerateMac",
];

/// The detector's name in findings.
pub const DETECTOR_NAME: &str = "launchguard-detector/run-instances";

/// Errors of the detector. [`DetectorError::is_retryable`] decides whether Lambda should retry.
#[derive(Debug, Error)]
pub enum DetectorError {
    /// Bad configuration: fix the function's environment.
    #[error(transparent)]
    Config(#[from] CoreError),
    /// Neither Logs Insights nor FilterLogEvents could read the window.
    #[error("could not read CloudTrail records from log group {log_group}: Logs Insights: {insights}; FilterLogEvents: {filter}")]
    Read {
        /// The log group.
        log_group: String,
        /// What Insights said (or "not used").
        insights: String,
        /// What FilterLogEvents said.
        filter: String,
    },
    /// The window was read only in part and nobody crossed a threshold in that part: no
    /// conclusion can be drawn, so Lambda should try again.
    #[error("window read only in part ({0}); nobody over the thresholds in what was read; retrying")]
    Incomplete(String),
    /// The dispatcher could not be invoked.
    #[error("could not invoke the dispatcher {function}: {error}")]
    Invoke {
        /// Function name.
        function: String,
        /// The error.
        error: String,
    },
    /// The scheduled re-check could not read the alarm states.
    #[error("could not read the state of alarm(s) {alarms} with cloudwatch:DescribeAlarms: {error}")]
    DescribeAlarms {
        /// The alarm names asked for.
        alarms: String,
        /// The error.
        error: String,
    },
    /// Parts of a finding that are over the asynchronous invocation limit even with every list
    /// cut (one principal alone is that large): they were not sent, every other part was. The
    /// same data gives the same sizes, so a retry cannot help: a person must look.
    #[error("finding {finding_id}: {} part(s) over the {limit}-byte limit even trimmed, NOT sent (every other part was): {}",
        parts.len(), parts.iter().map(|(id, n)| format!("{id} ({n} bytes sealed)")).collect::<Vec<_>>().join(", "))]
    PartsTooLarge {
        /// The finding.
        finding_id: String,
        /// Each part not sent, and its size once sealed.
        parts: Vec<(String, usize)>,
        /// The limit.
        limit: usize,
    },
    /// The detector's own account is unknown.
    #[error("cannot tell which account this is: the function ARN has none; set LG_ACCOUNT_ID")]
    NoAccount,
}

impl DetectorError {
    /// Throttling, 5xx, timeouts and partial reads are worth retrying; configuration is not.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::NoAccount | Self::PartsTooLarge { .. })
    }
}
