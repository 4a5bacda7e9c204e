//! The report of a scan: a typed value, serialised as the `--json` output (its shape is
//! documented in README, "Replaying archived CloudTrail", and checked by a test), or rendered as
//! text for people.

use std::fmt;

use chrono::{DateTime, Utc};
use launchguard_core::burst::Burst;
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::error::cut;
use launchguard_core::scan::ScanStats;
use launchguard_core::threshold::{Counted, Thresholds, Verdict};
use launchguard_core::time::format_utc;
use serde::Serialize;

/// Whether every input was read whole: the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// Every input read to its end (exit 0).
    Complete,
    /// At least one input not (exit 1): see `incomplete_inputs`.
    Incomplete,
}

/// An input not read whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncompleteInput {
    /// Its name (path, `s3://` URL, `stdin`).
    pub input: String,
    /// What went wrong and how many records were read before.
    pub problem: String,
}

/// An input found by a directory walk and not read: plainly not CloudTrail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedInput {
    /// Its name.
    pub input: String,
    /// Why it was skipped (its name, its first bytes).
    pub reason: String,
}

/// Inputs read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InputCounts {
    /// Inputs listed.
    pub listed: u64,
    /// Bytes read (compressed, where they were).
    pub bytes: u64,
}

/// A principal with launches in the input, whether or not in a burst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Launcher {
    /// Who (`IAM user alice`, `role R`, ...).
    pub principal: String,
    /// Its ARN or stable key.
    pub key: String,
    /// Launch calls over the whole input.
    pub calls: u64,
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
}

/// Whole-input sums (`--totals`): the detector's verdict on everything read at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Over a threshold over the whole input.
    pub flagged: Vec<FlaggedPrincipal>,
    /// Over it, but excluded (AWS services).
    pub excluded: Vec<FlaggedPrincipal>,
}

/// The report of one scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// `complete` or `incomplete`.
    pub status: Completeness,
    /// The detector rule replayed (`--rule`).
    pub rule: String,
    /// Its events, `<eventSource>/<eventName>[,...]`.
    pub event: String,
    /// The burst window, seconds.
    pub window_seconds: i64,
    /// The flagging rule applied to each window.
    pub thresholds: Thresholds,
    /// Inputs listed and bytes read.
    pub inputs: InputCounts,
    /// Inputs not read whole, each with what went wrong and what was salvaged.
    pub incomplete_inputs: Vec<IncompleteInput>,
    /// Record counters (records, pre-filtered, launches matched, duplicates, unreadable...).
    pub stats: ScanStats,
    /// Bursts: flagged first, then excluded; by start time.
    pub bursts: Vec<Burst>,
    /// Every principal with launches, most instances first.
    pub launchers: Vec<Launcher>,
    /// Whole-input sums, with `--totals` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// Files found by walking a directory and not read, being plainly not CloudTrail (by name
    /// or first bytes): they do not make the scan incomplete.
    pub skipped_inputs: Vec<SkippedInput>,
    /// What the reader of the report should know that is not an error: an empty input, nothing
    /// read at all.
    pub warnings: Vec<String>,
}

impl ScanReport {
    /// Bursts flagged.
    pub fn flagged(&self) -> impl Iterator<Item = &Burst> {
        self.bursts.iter().filter(|b| matches!(b.verdict, Verdict::Flagged { .. }))
    }
}

fn list(v: &[String], max: usize) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mut s = v.iter().take(max).cloned().collect::<Vec<_>>().join(",");
    if v.len() > max {
        s.push_str(&format!(",+{}", v.len() - max));
    }
    s
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "{} records in {} input(s) ({:.1} MB), {} {} counted, {} duplicate(s), {} unreadable; window {} s, threshold {}",
            s.rows,
            self.inputs.listed,
            self.inputs.bytes as f64 / 1e6,
            s.matched,
            self.event.split_once('/').map_or(self.event.as_str(), |(_, names)| names),
            s.duplicates,
            s.unparseable,
            self.window_seconds,
            match (self.thresholds.counts, self.thresholds.min_calls) {
                (Counted::Calls, Some(n)) => format!("{n} calls"),
                _ => format!("{} instances", self.thresholds.min_instances),
            }
        )?;
        writeln!(f)?;
        if self.bursts.is_empty() {
            writeln!(f, "No burst: no principal reached a threshold within {} s.", self.window_seconds)?;
        } else {
            writeln!(
                f,
                "{:<9} {:<44} {:<20} {:>8} {:>5} {:>8} {:>9}  KEYS / SOURCE IPS / REGIONS / USER AGENTS",
                "VERDICT", "PRINCIPAL", "START", "DURATION", "CALLS", "LAUNCHED", "REQUESTED"
            )?;
            for b in &self.bursts {
                let verdict = match &b.verdict {
                    Verdict::Flagged { .. } => "FLAGGED",
                    Verdict::Excluded { .. } => "excluded",
                    Verdict::BelowThreshold => "below",
                };
                writeln!(
                    f,
                    "{verdict:<9} {:<44} {:<20} {:>7}s {:>5} {:>8} {:>9}  {} / {} / {} / {}",
                    cut(&b.principal.label(), 44),
                    format_utc(b.start),
                    (b.end - b.start).num_seconds(),
                    b.calls,
                    b.instances_launched,
                    b.instances_requested,
                    list(&b.access_keys, 3),
                    list(&b.source_ips, 3),
                    list(&b.regions, 3),
                    cut(&list(&b.user_agents, 1), 40)
                )?;
            }
        }
        let quiet: Vec<&Launcher> = self.launchers.iter().filter(|l| l.bursts_flagged == 0).collect();
        if !quiet.is_empty() {
            writeln!(f)?;
            writeln!(f, "Launchers without a flagged burst (whole input):")?;
            for l in quiet.iter().take(20) {
                writeln!(
                    f,
                    "  {:<44} {:>5} calls {:>6} launched {:>6} requested  {} .. {}",
                    cut(&l.principal, 44),
                    l.calls,
                    l.instances_launched,
                    l.instances_requested,
                    format_utc(l.first_seen),
                    format_utc(l.last_seen)
                )?;
            }
            if quiet.len() > 20 {
                writeln!(f, "  ... and {} more (--json lists them all)", quiet.len() - 20)?;
            }
        }
        if let Some(t) = &self.totals {
            writeln!(f)?;
            writeln!(f, "Whole-input totals (--totals):")?;
            for (verdict, ps) in [("FLAGGED", &t.flagged), ("excluded", &t.excluded)] {
                for p in ps {
                    writeln!(f, "  {verdict:<9} {:<44} {}", cut(&p.principal.label(), 44), p.reasons.join("; "))?;
                }
            }
        }
        if !self.incomplete_inputs.is_empty() {
            writeln!(f)?;
            writeln!(f, "NOT READ WHOLE ({} input(s)):", self.incomplete_inputs.len())?;
            for i in &self.incomplete_inputs {
                writeln!(f, "  {}: {}", i.input, i.problem)?;
            }
        }
        if !self.skipped_inputs.is_empty() {
            writeln!(f)?;
            writeln!(f, "Skipped, not CloudTrail ({} file(s); --include/--exclude narrow a walk):", self.skipped_inputs.len())?;
            for i in self.skipped_inputs.iter().take(20) {
                writeln!(f, "  {}: {}", i.input, i.reason)?;
            }
            if self.skipped_inputs.len() > 20 {
                writeln!(f, "  ... and {} more (--json lists them all)", self.skipped_inputs.len() - 20)?;
            }
        }
        for w in &self.warnings {
            writeln!(f)?;
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
