//! The one error type of the core crate.

use thiserror::Error;

/// Everything that can go wrong in pure core logic. Each message says what was wrong and,
/// where it helps, what to do about it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// The event could not be read as a Lambda SNS event nor as a direct alarm-action payload.
    #[error("event is neither an SNS event nor a CloudWatch alarm-action payload: {0}")]
    UnrecognisedEvent(String),
    /// An alarm message was recognised but a field it needs is missing or malformed.
    #[error("alarm message is malformed: {0}")]
    MalformedAlarm(String),
    /// A timestamp could not be parsed.
    #[error("cannot parse timestamp {value:?}: expected ISO 8601 such as 2019-10-02T17:20:48.551+0000")]
    BadTimestamp {
        /// The offending text (truncated to 64 characters).
        value: String,
    },
    /// Input that should hold CloudTrail records does not.
    #[error("not CloudTrail data: {0}")]
    NotCloudTrail(String),
    /// A payload does not match the contract (unknown field, wrong type, unknown version...).
    #[error("invalid {kind} payload: {reason}")]
    InvalidPayload {
        /// Which payload kind was being read ("finding", "response request", ...).
        kind: &'static str,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A configuration variable is missing or invalid.
    #[error("configuration variable {name} {problem}")]
    Config {
        /// The environment variable name.
        name: String,
        /// What is wrong with it and what is expected.
        problem: String,
    },
    /// A rule of the detector's rule set is invalid.
    #[error("rule set {origin}: rule {rule}: field {field} {problem}")]
    Rule {
        /// Where the rule set came from (bundled, LG_RULES, a path).
        origin: String,
        /// The rule's id (or its position when it has none).
        rule: String,
        /// The field.
        field: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// A value given to the query builder could be used for injection.
    #[error("refusing to build a query with {what} {value:?}: {why}")]
    UnsafeQueryValue {
        /// Which value.
        what: &'static str,
        /// The value.
        value: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// A payload that must be sealed (authenticated) is not, or its seal does not hold.
    #[error("refused, nothing done: {0}")]
    Unauthenticated(crate::auth::Refusal),
    /// An identifier (ARN, account id, access key id) is malformed.
    #[error("invalid {what} {value:?}: {why}")]
    InvalidId {
        /// What kind of identifier.
        what: &'static str,
        /// The value (truncated).
        value: String,
        /// Why it was refused.
        why: &'static str,
    },
}

/// Cut a value down for an error message so that a 5 MB input does not become a 5 MB log line.
pub(crate) fn excerpt(s: &str) -> String {
    cut(s, 64)
}

/// Like [`excerpt`], for longer diagnostics (256 bytes).
pub(crate) fn excerpt_long(s: &str) -> String {
    cut(s, 256)
}

/// The first `max` bytes of `s` (on a character boundary), with an ellipsis when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
