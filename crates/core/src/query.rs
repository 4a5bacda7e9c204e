//! The Logs Insights query and the FilterLogEvents pattern for an event rule.
//!
//! Both ask only for what the detector re-checks itself (`@timestamp`, `@message`): the service's
//! filtering is an optimisation, never trusted (LocalStack ignores it entirely).

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::record::CloudTrailRecord;

/// Logs Insights returns at most this many rows per query.
pub const INSIGHTS_MAX_LIMIT: u32 = 10_000;

/// An event source and name, validated so that they can be put into a query verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRule {
    event_source: String,
    event_name: String,
}

impl EventRule {
    /// `ec2.amazonaws.com` / `RunInstances`.
    pub fn run_instances() -> Self {
        Self { event_source: "ec2.amazonaws.com".into(), event_name: "RunInstances".into() }
    }

    /// A rule for another event. Source: `[a-z0-9.-]+` ending in `.amazonaws.com`; name:
    /// `[A-Za-z0-9]+`. Anything else is refused: no quoting tricks reach a query.
    pub fn new(event_source: &str, event_name: &str) -> Result<Self, CoreError> {
        let ok_source = (1..=128).contains(&event_source.len())
            && event_source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && event_source.ends_with(".amazonaws.com");
        if !ok_source {
            return Err(CoreError::UnsafeQueryValue {
                what: "event source",
                value: crate::error::excerpt(event_source),
                why: "expected lower-case letters, digits, dots and dashes ending in .amazonaws.com",
            });
        }
        let ok_name = (1..=128).contains(&event_name.len()) && event_name.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok_name {
            return Err(CoreError::UnsafeQueryValue {
                what: "event name",
                value: crate::error::excerpt(event_name),
                why: "expected letters and digits only",
            });
        }
        Ok(Self { event_source: event_source.into(), event_name: event_name.into() })
    }

    /// The event source.
    pub fn event_source(&self) -> &str {
        &self.event_source
    }

    /// The event name.
    pub fn event_name(&self) -> &str {
        &self.event_name
    }

    /// The Logs Insights query, `limit` clamped to `1..=10000`.
    pub fn insights_query(&self, limit: u32) -> String {
        format!(
            "fields @timestamp, @message | filter eventSource = '{}' and eventName = '{}' | sort @timestamp asc | limit {}",
            self.event_source,
            self.event_name,
            limit.clamp(1, INSIGHTS_MAX_LIMIT)
        )
    }

    /// The CloudWatch Logs filter pattern (also usable for the metric filter).
    pub fn filter_pattern(&self) -> String {
        format!("{{ ($.eventSource = \"{}\") && ($.eventName = \"{}\") }}", self.event_source, self.event_name)
    }

    /// A byte string that every matching `@message` contains (the quoted event name). Records
    /// without it are skipped without parsing.
    pub fn needle(&self) -> String {
        format!("\"{}\"", self.event_name)
    }

    /// True when a parsed record is this event.
    pub fn matches(&self, r: &CloudTrailRecord<'_>) -> bool {
        r.is_event(&self.event_source, &self.event_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_pattern_for_run_instances() {
        let r = EventRule::run_instances();
        assert_eq!(
            r.insights_query(10_000),
            "fields @timestamp, @message | filter eventSource = 'ec2.amazonaws.com' and eventName = 'RunInstances' | sort @timestamp asc | limit 10000"
        );
        assert_eq!(r.insights_query(99_999), r.insights_query(10_000));
        assert_eq!(r.filter_pattern(), r#"{ ($.eventSource = "ec2.amazonaws.com") && ($.eventName = "RunInstances") }"#);
    }

    #[test]
    fn injection_is_refused() {
        assert!(EventRule::new("ec2.amazonaws.com' or 1=1 --", "RunInstances").is_err());
        assert!(EventRule::new("ec2.amazonaws.com", "RunInstances' | stats count(*)").is_err());
        assert!(EventRule::new("ec2.amazonaws.com", "Run\"Instances").is_err());
        assert!(EventRule::new("evil.example.com", "RunInstances").is_err());
        assert!(EventRule::new("ec2.amazonaws.com", "").is_err());
        assert!(EventRule::new("iam.amazonaws.com", "CreateAccessKey").is_ok());
    }
}
