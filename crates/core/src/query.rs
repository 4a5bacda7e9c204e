//! The Logs Insights query and the FilterLogEvents pattern for an event rule.
//!
//! Both ask only for what the detector re-checks itself (`@timestamp`, `@message`): the service's
//! filtering is an optimisation, never trusted (LocalStack ignores it entirely).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::record::CloudTrailRecord;
use crate::threshold::Counted;

/// Logs Insights returns at most this many rows per query.
pub const INSIGHTS_MAX_LIMIT: u32 = 10_000;

/// An event source, its names and what is counted, validated so that they can be put into a
/// query verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventRule {
    event_source: String,
    event_names: Vec<String>,
    #[serde(default)]
    counts: Counted,
}

fn check_source(event_source: &str) -> Result<(), CoreError> {
    let ok_source = (1..=128).contains(&event_source.len())
        && event_source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && event_source.ends_with(".amazonaws.com");
    if ok_source {
        return Ok(());
    }
    Err(CoreError::UnsafeQueryValue {
        what: "event source",
        value: crate::error::excerpt(event_source),
        why: "expected lower-case letters, digits, dots and dashes ending in .amazonaws.com",
    })
}

fn check_name(event_name: &str) -> Result<(), CoreError> {
    if (1..=128).contains(&event_name.len()) && event_name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(());
    }
    Err(CoreError::UnsafeQueryValue {
        what: "event name",
        value: crate::error::excerpt(event_name),
        why: "expected letters and digits only",
    })
}

impl EventRule {
    /// `ec2.amazonaws.com` / `RunInstances`, counting instances.
    pub fn run_instances() -> Self {
        Self { event_source: "ec2.amazonaws.com".into(), event_names: vec!["RunInstances".into()], counts: Counted::Instances }
    }

    /// A rule for another event, counting calls. Source: `[a-z0-9.-]+` ending in
    /// `.amazonaws.com`; name: `[A-Za-z0-9]+`. Anything else is refused: no quoting tricks reach
    /// a query.
    pub fn new(event_source: &str, event_name: &str) -> Result<Self, CoreError> {
        Self::with_names(event_source, &[event_name], Counted::Calls)
    }

    /// A rule for one or more event names of one source (at most 16, none twice), counting
    /// `counts`. Every value is checked as in [`EventRule::new`].
    pub fn with_names(event_source: &str, event_names: &[&str], counts: Counted) -> Result<Self, CoreError> {
        check_source(event_source)?;
        if event_names.is_empty() || event_names.len() > 16 {
            return Err(CoreError::UnsafeQueryValue {
                what: "event names",
                value: event_names.len().to_string(),
                why: "expected 1 to 16 event names",
            });
        }
        for (i, n) in event_names.iter().enumerate() {
            check_name(n)?;
            if event_names[..i].contains(n) {
                return Err(CoreError::UnsafeQueryValue { what: "event name", value: crate::error::excerpt(n), why: "listed twice" });
            }
        }
        Ok(Self { event_source: event_source.into(), event_names: event_names.iter().map(|n| (*n).to_owned()).collect(), counts })
    }

    /// The event source.
    pub fn event_source(&self) -> &str {
        &self.event_source
    }

    /// The first event name (the only one of most rules).
    pub fn event_name(&self) -> &str {
        self.event_names.first().map_or("", String::as_str)
    }

    /// Every event name.
    pub fn event_names(&self) -> &[String] {
        &self.event_names
    }

    /// What a matching record counts for.
    pub fn counts(&self) -> Counted {
        self.counts
    }

    /// `<eventSource>/<eventName>[,<eventName>...]`, as a finding's `event` says it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.event_source, self.event_names.join(","))
    }

    /// The Logs Insights query, `limit` clamped to `1..=10000`.
    pub fn insights_query(&self, limit: u32) -> String {
        let names = match self.event_names.as_slice() {
            [one] => format!("eventName = '{one}'"),
            many => format!("eventName in [{}]", many.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")),
        };
        format!(
            "fields @timestamp, @message | filter eventSource = '{}' and {names} | sort @timestamp asc | limit {}",
            self.event_source,
            limit.clamp(1, INSIGHTS_MAX_LIMIT)
        )
    }

    /// The CloudWatch Logs filter pattern (also usable for the metric filter).
    pub fn filter_pattern(&self) -> String {
        let names = match self.event_names.as_slice() {
            [one] => format!("($.eventName = \"{one}\")"),
            many => format!("({})", many.iter().map(|n| format!("($.eventName = \"{n}\")")).collect::<Vec<_>>().join(" || ")),
        };
        format!("{{ ($.eventSource = \"{}\") && {names} }}", self.event_source)
    }

    /// Byte strings one of which every matching `@message` contains (the quoted event names).
    /// Records with none of them are skipped without parsing.
    pub fn needles(&self) -> Vec<String> {
        self.event_names.iter().map(|n| format!("\"{n}\"")).collect()
    }

    /// True when a parsed record is one of this rule's events.
    pub fn matches<Q, S>(&self, r: &CloudTrailRecord<'_, Q, S>) -> bool {
        self.event_names.iter().any(|n| r.is_event(&self.event_source, n))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
        assert!(EventRule::with_names("iam.amazonaws.com", &[], Counted::Calls).is_err());
        assert!(EventRule::with_names("iam.amazonaws.com", &["CreateUser", "CreateUser"], Counted::Calls).is_err());
    }

    #[test]
    fn several_names_are_one_query_and_one_pattern() {
        let r = EventRule::with_names("iam.amazonaws.com", &["CreateUser", "CreateLoginProfile"], Counted::Calls).unwrap();
        assert_eq!(
            r.insights_query(100),
            "fields @timestamp, @message | filter eventSource = 'iam.amazonaws.com' and eventName in ['CreateUser', 'CreateLoginProfile'] | sort @timestamp asc | limit 100"
        );
        assert_eq!(
            r.filter_pattern(),
            r#"{ ($.eventSource = "iam.amazonaws.com") && (($.eventName = "CreateUser") || ($.eventName = "CreateLoginProfile")) }"#
        );
        assert_eq!(r.label(), "iam.amazonaws.com/CreateUser,CreateLoginProfile");
    }
}
