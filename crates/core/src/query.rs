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
/// query verbatim; optionally more sources with their names (`also`: the launch routes of
/// Auto Scaling next to EC2's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventRule {
    event_source: String,
    event_names: Vec<String>,
    /// Events of other sources that the rule also counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    also: Vec<EventGroup>,
    #[serde(default)]
    counts: Counted,
}

/// More events of one other source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventGroup {
    event_source: String,
    event_names: Vec<String>,
}

/// Most event names in a rule, over all its sources.
pub const MAX_EVENT_NAMES: usize = 16;

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

fn check_names(event_names: &[&str], total: usize) -> Result<(), CoreError> {
    if event_names.is_empty() || total > MAX_EVENT_NAMES {
        return Err(CoreError::UnsafeQueryValue { what: "event names", value: total.to_string(), why: "expected 1 to 16 event names" });
    }
    for (i, n) in event_names.iter().enumerate() {
        check_name(n)?;
        if event_names[..i].contains(n) {
            return Err(CoreError::UnsafeQueryValue { what: "event name", value: crate::error::excerpt(n), why: "listed twice" });
        }
    }
    Ok(())
}

impl EventRule {
    /// `ec2.amazonaws.com` / `RunInstances`, counting instances.
    pub fn run_instances() -> Self {
        Self {
            event_source: "ec2.amazonaws.com".into(),
            event_names: vec!["RunInstances".into()],
            also: Vec::new(),
            counts: Counted::Instances,
        }
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
        check_names(event_names, event_names.len())?;
        Ok(Self {
            event_source: event_source.into(),
            event_names: event_names.iter().map(|n| (*n).to_owned()).collect(),
            also: Vec::new(),
            counts,
        })
    }

    /// This rule with the events `event_names` of another source too, checked as in
    /// [`EventRule::with_names`]: a source not named before, at most [`MAX_EVENT_NAMES`] names
    /// over all sources.
    pub fn and_names(mut self, event_source: &str, event_names: &[&str]) -> Result<Self, CoreError> {
        check_source(event_source)?;
        if self.groups().any(|(s, _)| s == event_source) {
            return Err(CoreError::UnsafeQueryValue {
                what: "event source",
                value: crate::error::excerpt(event_source),
                why: "named twice: list all its events once",
            });
        }
        let total = self.groups().map(|(_, n)| n.len()).sum::<usize>() + event_names.len();
        check_names(event_names, total)?;
        self.also
            .push(EventGroup { event_source: event_source.into(), event_names: event_names.iter().map(|n| (*n).to_owned()).collect() });
        Ok(self)
    }

    /// Every source with its names, the first source first.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &[String])> {
        std::iter::once((self.event_source.as_str(), self.event_names.as_slice()))
            .chain(self.also.iter().map(|g| (g.event_source.as_str(), g.event_names.as_slice())))
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

    /// `<eventSource>/<eventName>[,<eventName>...]`, as a finding's `event` says it; each
    /// further source after a `;`.
    pub fn label(&self) -> String {
        self.groups().map(|(s, n)| format!("{s}/{}", n.join(","))).collect::<Vec<_>>().join(";")
    }

    /// The Logs Insights query, `limit` clamped to `1..=10000`.
    pub fn insights_query(&self, limit: u32) -> String {
        let group = |source: &str, names: &[String]| {
            let names = match names {
                [one] => format!("eventName = '{one}'"),
                many => format!("eventName in [{}]", many.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")),
            };
            format!("eventSource = '{source}' and {names}")
        };
        let filter = if self.also.is_empty() {
            group(&self.event_source, &self.event_names)
        } else {
            self.groups().map(|(s, n)| format!("({})", group(s, n))).collect::<Vec<_>>().join(" or ")
        };
        format!("fields @timestamp, @message | filter {filter} | sort @timestamp asc | limit {}", limit.clamp(1, INSIGHTS_MAX_LIMIT))
    }

    /// The CloudWatch Logs filter pattern (also usable for the metric filter).
    pub fn filter_pattern(&self) -> String {
        format!("{{ {} }}", self.filter_terms())
    }

    /// The filter pattern's terms, without the braces: one source's, or each source's in
    /// parentheses joined by `||` (ready to be put in parentheses and joined with `&&`).
    pub fn filter_terms(&self) -> String {
        if self.also.is_empty() {
            return source_terms(&self.event_source, &self.event_names);
        }
        self.groups().map(|(s, n)| format!("({})", source_terms(s, n))).collect::<Vec<_>>().join(" || ")
    }

    /// Byte strings one of which every matching `@message` contains (the quoted event names).
    /// Records with none of them are skipped without parsing.
    pub fn needles(&self) -> Vec<String> {
        self.groups().flat_map(|(_, n)| n.iter()).map(|n| format!("\"{n}\"")).collect()
    }

    /// True when a parsed record is one of this rule's events.
    pub fn matches<Q, S>(&self, r: &CloudTrailRecord<'_, Q, S>) -> bool {
        self.groups().any(|(s, names)| names.iter().any(|n| r.is_event(s, n)))
    }
}

/// `($.eventSource = "s") && (($.eventName = "a") || ...)`.
fn source_terms(source: &str, names: &[String]) -> String {
    let names = match names {
        [one] => format!("($.eventName = \"{one}\")"),
        many => format!("({})", many.iter().map(|n| format!("($.eventName = \"{n}\")")).collect::<Vec<_>>().join(" || ")),
    };
    format!("($.eventSource = \"{source}\") && {names}")
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
