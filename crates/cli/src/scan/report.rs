//! The report of a scan: a typed value, serialised as the `--json` output (its shape is
//! documented in docs/scan.md, and checked by a test), or rendered as text for people: every
//! value from CloudTrail or the inputs (names, keys, addresses, user agents, file names,
//! problems) through the one escaping path ([`Untrusted`]).

use std::fmt;

use chrono::{DateTime, Utc};
use launchguard_core::burst::Burst;
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::error::cut;
use launchguard_core::scan::ScanStats;
use launchguard_core::text::{Untrusted, untrusted};
use launchguard_core::threshold::{Counted, Thresholds, Verdict};
use launchguard_core::time::format_utc;
use launchguard_core::windows::{Horizon, duration_words};
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

/// A principal with calls of a rule in the input, whether or not in a burst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// Whole-input sums (`--totals`): the detector's verdict on everything read at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Over a threshold over the whole input.
    pub flagged: Vec<FlaggedPrincipal>,
    /// Over it, but excluded (AWS services).
    pub excluded: Vec<FlaggedPrincipal>,
}

/// One rule's part of a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

fn list(v: &[String], max: usize) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mut s = v.iter().take(max).map(|x| untrusted(x)).collect::<Vec<_>>().join(",");
    if v.len() > max {
        s.push_str(&format!(",+{}", v.len() - max));
    }
    s
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

/// A principal as the text report shows it: CloudTrail's name, through the one escaping path.
fn who(label: &str, account: Option<&str>, several: bool) -> String {
    match account.filter(|_| several) {
        Some(a) => format!("{} {}", Untrusted(a), Untrusted(label)),
        None => untrusted(label),
    }
}

impl RuleReport {
    fn render(&self, f: &mut fmt::Formatter<'_>, several_accounts: bool) -> fmt::Result {
        let horizons: Vec<String> = self.horizons.iter().map(Horizon::describe).collect();
        writeln!(
            f,
            "Rule {} ({}): {} counted, {} duplicate(s); flagged at {} (sliding windows, half-open)",
            self.rule,
            self.event,
            self.stats.matched,
            self.stats.duplicates,
            horizons.join(", or ")
        )?;
        let launches = self.counts == Counted::Instances;
        if self.bursts.is_empty() {
            writeln!(f, "  No burst: no principal reached a threshold.")?;
        } else if launches {
            writeln!(
                f,
                "  {:<9} {:<56} {:<20} {:>8} {:>5} {:>6} {:>8} {:>9}  WHY / KEYS / SOURCE IPS / REGIONS / USER AGENTS",
                "VERDICT", "PRINCIPAL", "CROSSED AT", "DURATION", "CALLS", "FAILED", "LAUNCHED", "REQUESTED"
            )?;
        } else {
            writeln!(
                f,
                "  {:<9} {:<56} {:<20} {:>8} {:>5} {:>6}  WHY / KEYS / SOURCE IPS",
                "VERDICT", "PRINCIPAL", "CROSSED AT", "DURATION", "CALLS", "FAILED"
            )?;
        }
        for b in &self.bursts {
            let verdict = match &b.verdict {
                Verdict::Flagged { .. } => "FLAGGED",
                Verdict::Excluded { .. } => "excluded",
                Verdict::BelowThreshold => "below",
            };
            let name = cut(&who(&b.principal.label(), b.principal.account_id(), several_accounts), 56);
            let at = b.crossed.map_or(b.start, |c| c.at);
            let duration = (b.end - b.start).num_seconds();
            if launches {
                writeln!(
                    f,
                    "  {verdict:<9} {name:<56} {:<20} {duration:>7}s {:>5} {:>6} {:>8} {:>9}  {} / {} / {} / {} / {}",
                    format_utc(at),
                    b.calls,
                    b.failed_calls,
                    b.instances_launched,
                    b.instances_requested,
                    why(b, self.counts),
                    list(&b.access_keys, 3),
                    list(&b.source_ips, 3),
                    list(&b.regions, 3),
                    cut(&list(&b.user_agents, 1), 40)
                )?;
            } else {
                writeln!(
                    f,
                    "  {verdict:<9} {name:<56} {:<20} {duration:>7}s {:>5} {:>6}  {} / {} / {}",
                    format_utc(at),
                    b.calls,
                    b.failed_calls,
                    why(b, self.counts),
                    list(&b.access_keys, 3),
                    list(&b.source_ips, 3)
                )?;
            }
        }
        let quiet: Vec<&Launcher> = self.launchers.iter().filter(|l| l.bursts_flagged == 0).collect();
        if !quiet.is_empty() {
            writeln!(f, "  {} without a flagged burst (whole input):", if launches { "Launchers" } else { "Callers" })?;
            for l in quiet.iter().take(20) {
                let name = cut(&who(&l.principal, l.account.as_deref(), several_accounts), 56);
                if launches {
                    writeln!(
                        f,
                        "    {name:<56} {:>5} calls {:>4} failed {:>6} launched {:>6} requested  {} .. {}",
                        l.calls,
                        l.failed_calls,
                        l.instances_launched,
                        l.instances_requested,
                        format_utc(l.first_seen),
                        format_utc(l.last_seen)
                    )?;
                } else {
                    writeln!(
                        f,
                        "    {name:<56} {:>5} calls {:>4} failed  {} .. {}",
                        l.calls,
                        l.failed_calls,
                        format_utc(l.first_seen),
                        format_utc(l.last_seen)
                    )?;
                }
            }
            if quiet.len() > 20 {
                writeln!(f, "    ... and {} more (--json lists them all)", quiet.len() - 20)?;
            }
        }
        if let Some(t) = &self.totals {
            writeln!(f, "  Whole-input totals (--totals):")?;
            for (verdict, ps) in [("FLAGGED", &t.flagged), ("excluded", &t.excluded)] {
                for p in ps {
                    writeln!(f, "    {verdict:<9} {:<56} {}", cut(&untrusted(&p.principal.label()), 56), untrusted(&p.reasons.join("; ")))?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "{} records in {} input(s) ({:.1} MB), {} unreadable; {} rule(s) replayed",
            s.rows,
            self.inputs.listed,
            self.inputs.bytes as f64 / 1e6,
            s.unparseable,
            self.rules.len()
        )?;
        let accounts: std::collections::BTreeSet<&str> = self.launchers.iter().filter_map(|l| l.account.as_deref()).collect();
        let several = accounts.len() > 1;
        for r in &self.rules {
            writeln!(f)?;
            r.render(f, several)?;
        }
        if !self.incomplete_inputs.is_empty() {
            writeln!(f)?;
            writeln!(f, "NOT READ WHOLE ({} input(s)):", self.incomplete_inputs.len())?;
            for i in &self.incomplete_inputs {
                writeln!(f, "  {}: {}", Untrusted(&i.input), Untrusted(&i.problem))?;
            }
        }
        if !self.skipped_inputs.is_empty() {
            writeln!(f)?;
            writeln!(f, "Skipped, not CloudTrail ({} file(s); --include/--exclude narrow a walk):", self.skipped_inputs.len())?;
            for i in self.skipped_inputs.iter().take(20) {
                writeln!(f, "  {}: {}", Untrusted(&i.input), Untrusted(&i.reason))?;
            }
            if self.skipped_inputs.len() > 20 {
                writeln!(f, "  ... and {} more (--json lists them all)", self.skipped_inputs.len() - 20)?;
            }
        }
        for w in &self.warnings {
            writeln!(f)?;
            writeln!(f, "warning: {}", Untrusted(w))?;
        }
        Ok(())
    }
}
