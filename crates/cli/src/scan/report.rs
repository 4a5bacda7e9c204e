//! The report of a scan: a typed value, serialised as the `--format json` output (its shape is
//! documented in docs/scan.md and schemas/scan-report.schema.json, and checked by a test), or
//! rendered as text for people ([`super::text`]).

use chrono::{DateTime, Utc};
use launchguard_core::burst::Burst;
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::scan::ScanStats;
use launchguard_core::text::Untrusted;
use launchguard_core::threshold::{Counted, Thresholds, Verdict};
use launchguard_core::windows::{Horizon, duration_words};
use schemars::JsonSchema;
use serde::Serialize;

/// Whether every input was read whole: the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// Every input read to its end (exit 0).
    Complete,
    /// At least one input not (exit 1): see `incomplete_inputs`.
    Incomplete,
}

/// An input not read whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct IncompleteInput {
    /// Its name (path, `s3://` URL, `stdin`).
    pub input: String,
    /// What went wrong and how many records were read before.
    pub problem: String,
}

/// An input found by a directory walk and not read: plainly not CloudTrail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SkippedInput {
    /// Its name.
    pub input: String,
    /// Why it was skipped (its name, its first bytes).
    pub reason: String,
}

/// Inputs read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct InputCounts {
    /// Inputs listed.
    pub listed: u64,
    /// Bytes read (compressed, where they were).
    pub bytes: u64,
}

/// A principal with calls of a rule in the input, whether or not in a burst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Launcher {
    /// The rule whose calls these are.
    pub rule: String,
    /// Who (`IAM user alice`, `role R`, ...).
    pub principal: String,
    /// Its ARN or stable key.
    pub key: String,
    /// Its account, when known.
    pub account: Option<String>,
    /// Calls over the whole input.
    pub calls: u64,
    /// Failed calls over the whole input (dry runs excluded).
    pub failed_calls: u64,
    /// Instances launched over the whole input.
    pub instances_launched: u64,
    /// Instances requested over the whole input.
    pub instances_requested: u64,
    /// First call.
    pub first_seen: DateTime<Utc>,
    /// Last call.
    pub last_seen: DateTime<Utc>,
    /// Its bursts flagged.
    pub bursts_flagged: u64,
    /// Its resizes of a group or fleet whose size before the input does not show: counted as 0
    /// instances (launchguard_core::capacity), shown here.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unknown_prior_resize_calls: u64,
    /// The first of them ([`launchguard_core::aggregate::MAX_DISTINCT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_prior_resizes: Vec<launchguard_core::aggregate::UnknownResize>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whole-input sums (`--totals`): the detector's verdict on everything read at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Totals {
    /// Over a threshold over the whole input.
    pub flagged: Vec<FlaggedPrincipal>,
    /// Over it, but excluded (AWS services).
    pub excluded: Vec<FlaggedPrincipal>,
}

/// One rule's part of a scan.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RuleReport {
    /// The rule's id.
    pub rule: String,
    /// Its events, `<eventSource>/<eventName>[,...]`.
    pub event: String,
    /// What its horizons count: `instances` or `calls`.
    pub counts: Counted,
    /// Every horizon in force: a principal is flagged when one sliding (half-open) window of a
    /// horizon reaches its threshold.
    pub horizons: Vec<Horizon>,
    /// Who may be flagged (AWS services, `invokedBy`), and the first horizon's thresholds.
    pub thresholds: Thresholds,
    /// This rule's record counters.
    pub stats: ScanStats,
    /// Its bursts: flagged first, then excluded; by start time. Each names the rule.
    pub bursts: Vec<Burst>,
    /// Every principal with calls of the rule, most instances first.
    pub launchers: Vec<Launcher>,
    /// Whole-input sums, with `--totals` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
}

/// The version of `launchguard scan --json`'s shape: raised when a field changes meaning or goes.
pub const SCAN_JSON_VERSION: u32 = 1;

/// The report of one scan: every rule replayed, each with its own bursts.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ScanReport {
    /// The version of this shape ([`SCAN_JSON_VERSION`]).
    pub version: u32,
    /// `complete` or `incomplete`.
    pub status: Completeness,
    /// Inputs listed and bytes read.
    pub inputs: InputCounts,
    /// Inputs not read whole, each with what went wrong and what was salvaged.
    pub incomplete_inputs: Vec<IncompleteInput>,
    /// Record counters over every rule: records read once; matched, duplicates and the
    /// counters of matching records summed over the rules (each rule's own in `rules[].stats`).
    pub stats: ScanStats,
    /// Every rule's bursts, in rule order (each with its `rule`).
    pub bursts: Vec<Burst>,
    /// Every rule's principals (each with its `rule`).
    pub launchers: Vec<Launcher>,
    /// The rules replayed, in order, each with its horizons, counters and bursts.
    pub rules: Vec<RuleReport>,
    /// Files found by walking a directory and not read, being plainly not CloudTrail (by name
    /// or first bytes): they do not make the scan incomplete.
    pub skipped_inputs: Vec<SkippedInput>,
    /// What the reader of the report should know that is not an error: an empty input, nothing
    /// read at all.
    pub warnings: Vec<String>,
    /// No record was read from any input (an empty directory or file): not a clean scan (exit 1).
    pub nothing_read: bool,
}

impl ScanReport {
    /// The report of the rules' parts.
    pub fn new(rules: Vec<RuleReport>, inputs: InputCounts, incomplete_inputs: Vec<IncompleteInput>) -> Self {
        let mut stats = rules.first().map(|r| r.stats.clone()).unwrap_or_default();
        for r in rules.iter().skip(1) {
            let s = &r.stats;
            stats.matched += s.matched;
            stats.duplicates += s.duplicates;
            stats.outside_window += s.outside_window;
            stats.without_time += s.without_time;
            stats.uncounted += s.uncounted;
            stats.unparseable = stats.unparseable.max(s.unparseable);
        }
        let status = if incomplete_inputs.is_empty() { Completeness::Complete } else { Completeness::Incomplete };
        ScanReport {
            version: SCAN_JSON_VERSION,
            status,
            inputs,
            incomplete_inputs,
            stats,
            bursts: rules.iter().flat_map(|r| r.bursts.iter().cloned()).collect(),
            launchers: rules.iter().flat_map(|r| r.launchers.iter().cloned()).collect(),
            rules,
            skipped_inputs: Vec::new(),
            warnings: Vec::new(),
            nothing_read: false,
        }
    }

    /// Bursts flagged, every rule.
    pub fn flagged(&self) -> impl Iterator<Item = &Burst> {
        self.bursts.iter().filter(|b| matches!(b.verdict, Verdict::Flagged { .. }))
    }

    /// The part of one rule.
    pub fn rule(&self, id: &str) -> Option<&RuleReport> {
        self.rules.iter().find(|r| r.rule == id)
    }
}

/// Why a burst is flagged (or excluded), in words: each horizon crossed, and what the burst did.
pub fn why(b: &Burst, counts: Counted) -> String {
    let mut parts: Vec<String> =
        b.horizons.iter().map(|c| format!("{} {} within {}", c.count, c.measure.word(), duration_words(c.window_seconds))).collect();
    if counts == Counted::Instances {
        parts.push(format!("requested {}, launched {}", b.instances_requested, b.instances_launched));
    }
    if b.failed_calls > 0 {
        parts.push(format!("{} failed call(s)", b.failed_calls));
    }
    if let Verdict::Excluded { reason } = &b.verdict {
        parts.push(format!("excluded: {}", Untrusted(reason)));
    }
    parts.join("; ")
}
