//! `launchguard scan`: the detector's classification replayed on archived CloudTrail.
//!
//! Inputs are listed by their [`Source`] ([`LocalSource`]: files, directories, stdin;
//! [`S3Source`]: an S3 prefix), then read by a pool of workers (`rayon`), each input on its own
//! as a stream ([`input`]): gunzip, split into records, the detector's pre-filter, parse and
//! re-check ([`launchguard_core::scan::Scanner`]). A worker keeps only the matching records,
//! reduced to what aggregation needs; they are merged in input order into a
//! [`Tracker`] (each `eventID` once, compact per-principal calls), whose
//! [`Tracker::bursts`] (every horizon of the rule, judged by `launchguard_core::windows::judge`
//! as the detector judges them) make the report ([`report`]). Every rule of the set is
//! replayed (or those of `--rule`) in one pass: each input is opened and read once, and each of
//! its records handed to every rule's scanner ([`every_rule`]); each rule is reported on its own.
//!
//! Memory: per worker, one input's text (a line of JSON lines, or one document: a delivery
//! file is a few megabytes); per launch call, about 60 bytes; per principal, its activity with
//! capped lists. Not the archive.

pub mod args;
pub mod brackets;
pub mod every_rule;
pub mod input;
pub mod progress;
pub mod report;
#[cfg(feature = "aws")]
pub mod s3;
pub mod sniff;
pub mod source;
pub mod text;

use launchguard_core::burst::Tracker;
use launchguard_core::launch::LaunchFacts;
use launchguard_core::record::CloudTrailRecord;
use launchguard_core::scan::{LaunchSink, ScanStats, Scanner};

use every_rule::EveryRule;
use input::Feed;
use launchguard_core::threshold::{Assessment, Verdict};
use rayon::prelude::*;
use std::collections::HashSet;

pub use args::{RuleSettings, ScanArgs, ScanFormat, Settings};
pub use progress::{Bar, Progress, Silent};
pub use report::{Completeness, IncompleteInput, InputCounts, Launcher, RuleReport, SCAN_JSON_VERSION, ScanReport, SkippedInput, Totals};
#[cfg(feature = "aws")]
pub use s3::S3Source;
pub use source::{Input, LocalSource, Source, WalkFilter};

use crate::CliError;

/// A matching record, reduced to what aggregation needs and owning it.
#[derive(Debug)]
struct Launch {
    record: CloudTrailRecord<'static, (), ()>,
    t_ms: i64,
    facts: LaunchFacts,
}

/// A worker's sink: the matching records of one input, kept until merged.
#[derive(Debug, Default)]
struct Launches(Vec<Launch>);

impl LaunchSink for Launches {
    fn add_launch<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) {
        self.0.push(Launch { record: record.to_owned_bare(), t_ms, facts: facts.clone() });
    }
}

/// What one worker gives back for one input.
#[derive(Debug)]
struct Part {
    name: String,
    /// Each rule's counters and matching records, in the rules' order.
    rules: Vec<(ScanStats, Vec<Launch>)>,
    /// Records read.
    rows: u64,
    /// Records, lines or documents not read (once each, whichever rules could not parse them).
    unreadable: u64,
    bytes: u64,
    incomplete: Option<String>,
    /// Every record's `eventID` key, in order.
    event_keys: Vec<u128>,
    /// Nothing was read from it.
    empty: bool,
    /// Not read: plainly not CloudTrail.
    skipped: Option<String>,
}

/// Read one input once, handing each record to every rule's scanner.
fn read_one(source: &dyn Source, input: &Input, settings: &Settings) -> Part {
    let scanners = settings.rules.iter().map(|r| Scanner::with_sink(r.rule.clone(), settings.range, Launches::default())).collect();
    let mut feed = EveryRule::new(scanners);
    let mut part = Part {
        name: input.name.clone(),
        rules: Vec::new(),
        rows: 0,
        unreadable: 0,
        bytes: 0,
        incomplete: input.problem.clone(),
        event_keys: Vec::new(),
        empty: false,
        skipped: input.skipped.clone(),
    };
    if part.incomplete.is_none() && part.skipped.is_none() {
        match source.open(input) {
            Ok(reader) => {
                let options = input::ReadOptions { skip_non_json: input.walked, ..settings.read };
                let o = input::read_input_with(reader, &mut feed, &options);
                (part.bytes, part.incomplete, part.event_keys, part.empty, part.skipped) =
                    (o.bytes_in, o.incomplete.map(|i| i.0), o.event_keys, o.empty, o.skipped);
            }
            Err(e) => part.incomplete = Some(e.to_string()),
        }
    }
    (part.rows, part.unreadable) = (feed.rows(), feed.unreadable());
    part.rules = feed.scanners.into_iter().map(|s| (s.stats, s.aggregate.0)).collect();
    part
}

/// How many inputs are read before their results are merged (in input order): enough to keep
/// every worker busy, few enough that their matching records stay small.
const BATCH_PER_WORKER: usize = 8;

/// Scan every input of every source for every rule of `settings`, `jobs` at a time (default:
/// one per core), in one pass: each input is opened and read once, and each of its records
/// handed to every rule.
pub fn run(sources: &[&dyn Source], settings: &Settings, jobs: Option<usize>, progress: &dyn Progress) -> Result<ScanReport, CliError> {
    let mut inputs: Vec<(&dyn Source, Input)> = Vec::new();
    for s in sources {
        inputs.extend(s.list()?.into_iter().map(|i| (*s, i)));
    }
    progress.start(inputs.len() as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start {jobs:?} workers: {e}")))?;
    let batch = pool.current_num_threads().max(1) * BATCH_PER_WORKER;
    let mut counts = InputCounts { listed: inputs.len() as u64, bytes: 0 };
    let mut incomplete: Vec<IncompleteInput> = Vec::new();
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    // every record once by its eventID, whatever its event and whichever input holds it (the keys
    // are SHA-256 prefixes; foldhash, seeded per process, hashes them at a fraction of SipHash's cost)
    let mut seen: HashSet<u128, foldhash::fast::RandomState> = HashSet::default();
    let (mut duplicates, mut rows, mut unreadable) = (0u64, 0u64, 0u64);
    let mut trackers: Vec<Tracker> = settings.rules.iter().map(|_| Tracker::new()).collect();
    let mut stats: Vec<ScanStats> = vec![ScanStats::default(); settings.rules.len()];
    for chunk in inputs.chunks(batch) {
        let parts: Vec<Part> = pool.install(|| {
            chunk
                .par_iter()
                .map(|(s, i)| {
                    let p = read_one(*s, i, settings);
                    progress.done(&p.name, p.bytes);
                    p
                })
                .collect()
        });
        for p in parts {
            counts.bytes += p.bytes;
            rows += p.rows;
            unreadable += p.unreadable;
            for k in &p.event_keys {
                duplicates += u64::from(!seen.insert(*k));
            }
            if p.empty && p.incomplete.is_none() {
                warnings.push(format!("{}: empty: nothing was read from it", p.name));
            }
            if let Some(reason) = p.skipped {
                skipped.push(SkippedInput { input: p.name.clone(), reason });
            }
            if let Some(problem) = p.incomplete {
                incomplete.push(IncompleteInput { input: p.name, problem });
            }
            for ((tracker, total), (part_stats, launches)) in trackers.iter_mut().zip(stats.iter_mut()).zip(p.rules) {
                total.merge(&part_stats);
                for l in launches {
                    tracker.add_launch(&l.record, l.t_ms, &l.facts);
                }
            }
        }
    }
    progress.finish();
    let per_rule = trackers
        .into_iter()
        .zip(stats)
        .zip(&settings.rules)
        .map(|((tracker, mut stats), rule)| {
            // a record in two inputs was matched in each: count it once
            stats.matched -= tracker.duplicates.min(stats.matched);
            stats.duplicates += tracker.duplicates;
            rule_report(tracker, stats, rule, settings.totals)
        })
        .collect();
    if counts.listed == 0 {
        warnings.push("no input found (an empty directory?): nothing was read".into());
    } else if rows == 0 {
        warnings.push("no record in any input: nothing was read".into());
    }
    let mut report = ScanReport::new(per_rule, counts, incomplete);
    // records of any event seen again, counted once over the inputs (not once per rule), and
    // what could not be read, once (whichever rules could not parse it)
    report.stats.rows = rows;
    report.stats.duplicates = duplicates;
    report.stats.unparseable = unreadable;
    report.warnings = warnings;
    report.skipped_inputs = skipped;
    report.nothing_read = rows == 0;
    Ok(report)
}

fn rule_report(mut tracker: Tracker, stats: ScanStats, rule: &RuleSettings, totals: bool) -> RuleReport {
    let bursts = tracker.bursts(&rule.rule_id, &rule.horizons, &rule.thresholds);
    let aggregate = tracker.into_totals();
    let principals = aggregate.into_sorted();
    let launchers = principals
        .iter()
        .map(|p| Launcher {
            rule: rule.rule_id.clone(),
            principal: p.principal.label(),
            key: p.principal.key(),
            account: p.principal.account_id().map(str::to_owned),
            calls: p.activity.calls,
            failed_calls: p.activity.failed_calls,
            instances_launched: p.activity.instances_launched,
            instances_requested: p.activity.instances_requested,
            first_seen: p.activity.first_seen,
            last_seen: p.activity.last_seen,
            bursts_flagged: bursts
                .iter()
                .filter(|b| matches!(b.verdict, Verdict::Flagged { .. }) && b.principal.key() == p.principal.key())
                .count() as u64,
            unknown_prior_resize_calls: p.activity.unknown_prior_resize_calls,
            unknown_prior_resizes: p.activity.unknown_prior_resizes.clone(),
        })
        .collect();
    let totals = totals.then(|| {
        let Assessment { flagged, excluded, .. } = rule.thresholds.assess(principals);
        Totals { flagged, excluded }
    });
    RuleReport {
        rule: rule.rule_id.clone(),
        event: rule.rule.label(),
        counts: rule.thresholds.counts,
        horizons: rule.horizons.clone(),
        thresholds: rule.thresholds,
        stats,
        bursts,
        launchers,
        totals,
    }
}
