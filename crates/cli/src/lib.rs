//! The `launchguard` command line. `launchguard scan` (this module): the detector's
//! classification on archived CloudTrail; `launchguard release` ([`release`]): undo a
//! containment as a person allowed to release.
//!
//! Reads CloudTrail delivery files (`{"Records":[...]}`), JSON arrays, EventBridge envelopes,
//! JSON lines, gzip-compressed or not, from files or standard input, and prints who would be
//! flagged and why, with the same core code as the detector (`launchguard-core`).

pub mod release;

use std::io::Read;

use chrono::{DateTime, Utc};
use launchguard_core::CoreError;
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::query::EventRule;
use launchguard_core::record::parse_document;
use launchguard_core::scan::{ScanStats, Scanner};
use launchguard_core::threshold::{Assessment, Thresholds};
use launchguard_core::time::{format_utc, parse_timestamp};
use launchguard_core::window::TimeWindow;
use serde::Serialize;
use thiserror::Error;

/// Usage text.
pub const USAGE: &str = "usage: launchguard scan [FILE...] [--json] [--min-instances N] [--min-failed-calls N]
                        [--include-aws-services] [--start TIME] [--end TIME]

Reads CloudTrail records (delivery files, JSON arrays, EventBridge envelopes, JSON lines; .gz or
plain) from the files, or from standard input when there is none or one is '-', and prints who
would be flagged for RunInstances and why. Exit status: 0 done, 2 bad usage or unreadable input.";

/// Errors of the command line.
#[derive(Debug, Error)]
pub enum CliError {
    /// The arguments are wrong.
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    /// An input could not be read.
    #[error("cannot read {source_name}: {reason}")]
    Input {
        /// File name or `stdin`.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// A core error (bad time, ...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An AWS call failed.
    #[error("{what} failed: {reason}")]
    Aws {
        /// What was being done.
        what: String,
        /// What AWS said.
        reason: String,
    },
    /// The dispatcher refused the request (nothing was done).
    #[error("the dispatcher refused: {0}")]
    Refused(String),
}

/// Parsed arguments of `scan`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanArgs {
    /// Inputs; empty means standard input.
    pub files: Vec<String>,
    /// JSON output.
    pub json: bool,
    /// Thresholds.
    pub thresholds: Thresholds,
    /// Only records in this window.
    pub window: Option<TimeWindow>,
}

/// Parse `scan`'s arguments (without the program and sub-command names).
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<ScanArgs, CliError> {
    let mut a = ScanArgs { files: Vec::new(), json: false, thresholds: Thresholds::default(), window: None };
    let (mut start, mut end): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut it = args.into_iter();
    let number = |flag: &str, v: Option<String>| -> Result<u64, CliError> {
        let v = v.ok_or_else(|| CliError::Usage(format!("{flag} needs a number")))?;
        v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| CliError::Usage(format!("{flag} {v:?}: expected a whole number above 0")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => a.json = true,
            "--include-aws-services" => a.thresholds.exclude_aws_services = false,
            "--min-instances" => a.thresholds.min_instances = number("--min-instances", it.next())?,
            "--min-failed-calls" => a.thresholds.min_failed_calls = Some(number("--min-failed-calls", it.next())?),
            "--start" | "--end" => {
                let v = it.next().ok_or_else(|| CliError::Usage(format!("{arg} needs a time such as 2023-07-10T12:00:00Z")))?;
                let t = parse_timestamp(&v)?;
                if arg == "--start" { start = Some(t) } else { end = Some(t) }
            }
            "-h" | "--help" => return Err(CliError::Usage("help".into())),
            s if s.starts_with("--") => return Err(CliError::Usage(format!("unknown option {s}"))),
            _ => a.files.push(arg),
        }
    }
    if start.is_some() || end.is_some() {
        let s = start.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let e = end.unwrap_or(DateTime::<Utc>::MAX_UTC);
        a.window = Some(TimeWindow::new(s, e).ok_or_else(|| CliError::Usage("--end is before --start".into()))?);
    }
    Ok(a)
}

/// Bytes of one input, gunzipped when they start with the gzip magic.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<String, CliError> {
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| CliError::Input { source_name: name.to_owned(), reason: format!("bad gzip: {e}") })?;
        out
    } else {
        bytes
    };
    String::from_utf8(bytes).map_err(|e| CliError::Input {
        source_name: name.to_owned(),
        reason: format!("not UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })
}

/// The result of a scan.
#[derive(Debug, Serialize)]
pub struct ScanReport {
    /// Inputs read.
    pub inputs: Vec<String>,
    /// Counters.
    pub stats: ScanStats,
    /// Records that could not be read, per input.
    pub unreadable_records: u64,
    /// Flagged principals.
    pub flagged: Vec<FlaggedPrincipal>,
    /// Excluded principals (AWS services).
    pub excluded: Vec<FlaggedPrincipal>,
    /// Principals under the thresholds: label, launched, requested.
    pub below: Vec<(String, u64, u64)>,
}

/// Scan the given documents (name, text).
pub fn scan(docs: &[(String, String)], args: &ScanArgs) -> Result<ScanReport, CliError> {
    let mut scanner = Scanner::new(EventRule::run_instances(), args.window);
    let mut unreadable = 0;
    for (name, text) in docs {
        let batch = parse_document(text).map_err(|e| CliError::Input { source_name: name.clone(), reason: e.to_string() })?;
        unreadable += batch.errors.len() as u64;
        for e in batch.errors.iter().take(3) {
            scanner.note_error(format!("{name} record {}: {}", e.index, e.reason));
        }
        for r in &batch.records {
            scanner.push_record(r);
        }
    }
    let stats = scanner.stats.clone();
    let Assessment { flagged, excluded, below } = args.thresholds.assess(scanner.aggregate.into_sorted());
    Ok(ScanReport {
        inputs: docs.iter().map(|(n, _)| n.clone()).collect(),
        stats,
        unreadable_records: unreadable,
        flagged,
        excluded,
        below: below.into_iter().map(|p| (p.principal.label(), p.activity.instances_launched, p.activity.instances_requested)).collect(),
    })
}

/// The report as a table for people.
pub fn render_table(r: &ScanReport) -> String {
    let mut out = format!(
        "{} records read from {} input(s), {} RunInstances, {} unreadable\n",
        r.stats.rows + r.unreadable_records,
        r.inputs.len(),
        r.stats.matched,
        r.unreadable_records
    );
    out.push_str(&format!(
        "{:<10} {:<56} {:>8} {:>9} {:>6} {:>6}  {}\n",
        "VERDICT", "PRINCIPAL", "LAUNCHED", "REQUESTED", "CALLS", "FAILED", "WHY / KEYS / SOURCE IPS / WHEN"
    ));
    let row = |verdict: &str, f: &FlaggedPrincipal| {
        let a = &f.activity;
        format!(
            "{verdict:<10} {:<56} {:>8} {:>9} {:>6} {:>6}  {}; keys {}; from {}; {} .. {}\n",
            launchguard_core::error::cut(&f.principal.label(), 56),
            a.instances_launched,
            a.instances_requested,
            a.calls,
            a.failed_calls,
            f.reasons.join("; "),
            a.access_keys.iter().map(|k| k.access_key_id.as_str()).collect::<Vec<_>>().join(","),
            a.source_ips.iter().cloned().collect::<Vec<_>>().join(","),
            format_utc(a.first_seen),
            format_utc(a.last_seen)
        )
    };
    for f in &r.flagged {
        out.push_str(&row("FLAGGED", f));
    }
    for f in &r.excluded {
        out.push_str(&row("excluded", f));
    }
    for (label, launched, requested) in &r.below {
        out.push_str(&format!("{:<10} {:<56} {:>8} {:>9}\n", "below", launchguard_core::error::cut(label, 56), launched, requested));
    }
    out
}
