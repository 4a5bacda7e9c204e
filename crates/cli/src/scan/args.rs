//! `launchguard scan`'s arguments (clap) and the settings they make.

use chrono::{DateTime, Duration, Utc};
use clap::{Args, ValueEnum};
use launchguard_core::query::EventRule;
use launchguard_core::rules::{Rule, RuleSet};
use launchguard_core::threshold::{Counted, Thresholds};
use launchguard_core::time::parse_timestamp;
use launchguard_core::window::TimeWindow;
use launchguard_core::windows::{Horizon, Measure};

use super::input::ReadOptions;
use super::source::WalkFilter;
use crate::CliError;

/// `launchguard scan --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// For people: a section a rule, a line a burst with its details on the lines below.
    Text,
    /// One JSON object (schemas/scan-report.schema.json).
    Json,
}

/// Replay archived CloudTrail through the detector's classification and report the bursts.
#[derive(Debug, Clone, Args)]
#[command(after_help = crate::help::short(crate::help::SCAN_EXAMPLES, crate::exit::SCAN_EXIT), after_long_help = crate::help::long(AFTER_HELP, crate::help::SCAN_EXAMPLES, crate::exit::SCAN_EXIT))]
pub struct ScanArgs {
    /// Inputs: files (.json, .json.gz, JSON lines, lookup-events output...), directories (read
    /// recursively, as `aws s3 sync` leaves them), `s3://bucket/prefix`, or `-` for standard
    /// input (also when none is given).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// The report's format: `text` for people (at most 100 columns), or `json`, one object:
    /// {"version": 1, "status", "nothing_read", "inputs", "incomplete_inputs", "skipped_inputs",
    /// "stats", "warnings", "rules": [{"rule", "horizons", "bursts", "launchers", ...}], "bursts",
    /// "launchers"}; its JSON Schema: schemas/scan-report.schema.json, every field: docs/scan.md.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ScanFormat,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Write the report to this file instead of standard output (as `report --out`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Exit 0 (or 1) even when a burst is flagged; without it a flagged burst exits 3
    /// (prowler's `--ignore-exit-code-3` is an alias).
    #[arg(long, alias = "ignore-exit-code-3")]
    pub ignore_flagged: bool,
    /// Also report each principal's sums over the whole input (the old behaviour).
    #[arg(long)]
    pub totals: bool,
    /// A detector rule to replay (the rule set of LG_RULES, LG_RULES_FILE, or the bundled one);
    /// repeat it to replay several. Default: every rule of the set, each reported on its own.
    /// `launchguard rules` lists the set in force with every threshold.
    #[arg(long, value_name = "ID", value_parser = crate::rules::RuleIdParser)]
    pub rule: Vec<String>,
    /// Judge one sliding window instead of the rules' horizons: 90s, 10m, 1h, or seconds (the
    /// threshold is the rule's first horizon's, or --min-instances / --min-calls).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// The first horizon's threshold of the rules counting instances (10 for ec2-mass-launch:
    /// 10 instances launched or requested within 5 minutes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_instances: Option<u64>,
    /// The first horizon's threshold of the rules counting calls.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_calls: Option<u64>,
    /// Also flag at this many failed calls within the first horizon's window.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_failed_calls: Option<u64>,
    /// Flag AWS services and service-linked roles too.
    #[arg(long)]
    pub include_aws_services: bool,
    /// Only records at or after this time (2023-07-10T12:00:00Z) or day (2023-07-10: from its
    /// midnight, UTC).
    #[arg(long, value_name = "TIME|DAY", value_parser = parse_start)]
    pub start: Option<DateTime<Utc>>,
    /// Only records at or before this time, or through this day (2023-07-10: up to its last
    /// millisecond, UTC).
    #[arg(long, value_name = "TIME|DAY", value_parser = parse_end)]
    pub end: Option<DateTime<Utc>>,
    /// Files read at once (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Walking a directory, read only the files whose path (relative to the directory) matches
    /// this glob (`*.json.gz`, `**/us-east-1/**`); may be repeated. Files named are always read.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Walking a directory, leave out the files whose relative path matches this glob; may be
    /// repeated.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// For s3:// inputs.
    #[cfg(feature = "aws")]
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// The longest line or document read: 64MiB, 512KiB, or bytes. Anything longer counts as
    /// one unreadable record (the input as incomplete), and is never held in memory whole.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_document_size: usize,
}

const AFTER_HELP: &str = "Reads CloudTrail delivery files ({\"Records\":[...]}), the console's event-history export, \
`aws cloudtrail lookup-events` output (and its JSON lines), JSON arrays, EventBridge envelopes and JSON lines, gzip \
(concatenated too) or plain, UTF-8 (with or without a byte-order mark) or UTF-16; documents one after the other with \
anything or nothing between them (`zcat *.json.gz | launchguard scan -`). zip, xz, bzip2 and zstd files are named, not \
read: decompress them first. A line that is not JSON, a document cut short or over --max-document-size, a broken \
symbolic link: each is counted unreadable, its input named, and the scan goes on. A directory walk skips (and lists) \
files plainly not CloudTrail, by name (.md, .yml...) or first bytes; --include/--exclude narrow it. Each file is read \
once however many names or links lead to it, and each record counts once by its eventID (duplicates are counted in \
the summary). Every rule of the rule set is replayed (or those named by --rule), each reported on its \
own. A principal is flagged when the calls inside one sliding window of a rule's horizon reach its threshold \
(ec2-mass-launch: 10 instances within 5 minutes, 40 within an hour, 150 within 24 hours). Windows are half-open: a \
window of 5 minutes starting at a call at t holds the calls at t <= time < t + 5 min; a call exactly 5 minutes \
later is in the next window. Each burst is reported with the horizon crossed and when, its start, end, calls, \
failed calls, keys, IPs, regions and user agents. With no input and a terminal on standard input, the scan says that \
it reads standard input (paste CloudTrail, end with Ctrl-D).";

/// One rule as a scan replays it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// The rule's id.
    pub rule_id: String,
    /// The watched events (RunInstances for ec2-mass-launch).
    pub rule: EventRule,
    /// What is counted and who may be flagged.
    pub thresholds: Thresholds,
    /// The horizons judged ([`launchguard_core::windows::judge`]).
    pub horizons: Vec<Horizon>,
}

/// What a scan needs from its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The rules replayed, in rule-set order.
    pub rules: Vec<RuleSettings>,
    /// Only records in this time range.
    pub range: Option<TimeWindow>,
    /// Whole-input sums too.
    pub totals: bool,
    /// How inputs are read (the size cap).
    pub read: ReadOptions,
}

impl ScanArgs {
    /// The report's format: `--format`, or json with `--json`.
    pub fn output_format(&self) -> ScanFormat {
        if self.json { ScanFormat::Json } else { self.format }
    }

    /// The `--include`/`--exclude` filter of directory walks, checked.
    pub fn source_filter(&self) -> Result<WalkFilter, CliError> {
        WalkFilter::new(&self.include, &self.exclude)
    }

    /// The settings, checked, with the rule set of the environment (`LG_RULES`,
    /// `LG_RULES_FILE`) or the bundled one.
    pub fn settings(&self) -> Result<Settings, CliError> {
        self.settings_with(&crate::rules::rule_set_in_force()?)
    }

    /// The settings, checked, for the rules of `set` named by `--rule` (all when none is).
    pub fn settings_with(&self, set: &RuleSet) -> Result<Settings, CliError> {
        let mut chosen: Vec<&Rule> = Vec::new();
        for id in &self.rule {
            let rule = set
                .get(id)
                .ok_or_else(|| CliError::Usage(format!("--rule {id}: no such rule in {} (rules: {})", set.origin, set.ids().join(", "))))?;
            if !chosen.iter().any(|r| r.id == rule.id) {
                chosen.push(rule);
            }
        }
        if chosen.is_empty() {
            chosen = set.rules.iter().collect();
        }
        let range = match (self.start, self.end) {
            (None, None) => None,
            (s, e) => Some(
                TimeWindow::new(s.unwrap_or(DateTime::<Utc>::MIN_UTC), e.unwrap_or(DateTime::<Utc>::MAX_UTC))
                    .ok_or_else(|| CliError::Usage("--end is before --start".into()))?,
            ),
        };
        let counts = |c: Counted| chosen.iter().any(|r| r.event.counts() == c);
        if self.min_instances.is_some() && !counts(Counted::Instances) {
            return Err(CliError::Usage("--min-instances: no rule replayed counts instances".into()));
        }
        if self.min_calls.is_some() && !counts(Counted::Calls) {
            return Err(CliError::Usage("--min-calls: no rule replayed counts calls".into()));
        }
        let rules = chosen
            .into_iter()
            .map(|rule| {
                let mut thresholds = rule.thresholds(false);
                match (rule.event.counts(), self.min_instances, self.min_calls) {
                    (Counted::Instances, Some(n), _) => thresholds.min_instances = n,
                    (Counted::Calls, _, Some(n)) => thresholds.min_calls = Some(n),
                    _ => {}
                }
                if self.min_failed_calls.is_some() {
                    thresholds.min_failed_calls = self.min_failed_calls;
                }
                if self.include_aws_services {
                    thresholds.exclude_aws_services = false;
                }
                let mut horizons = rule.horizons_with(&thresholds);
                if let Some(w) = self.window {
                    let window_seconds = u64::try_from(w.num_seconds()).unwrap_or(1);
                    horizons.truncate(1);
                    horizons.extend(thresholds.min_failed_calls.map(|threshold| Horizon {
                        measure: Measure::FailedCalls,
                        window_seconds,
                        threshold,
                    }));
                    for h in &mut horizons {
                        h.window_seconds = window_seconds;
                    }
                }
                RuleSettings { rule_id: rule.id.clone(), rule: rule.event.clone(), thresholds, horizons }
            })
            .collect();
        Ok(Settings {
            rules,
            range,
            totals: self.totals,
            read: ReadOptions { max_document: self.max_document_size, ..ReadOptions::default() },
        })
    }
}

/// A day alone (`2023-07-10`): its midnight, UTC.
fn day_alone(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// `--start`: a time, or a day's midnight (UTC).
pub fn parse_start(s: &str) -> Result<DateTime<Utc>, String> {
    day_alone(s).map_or_else(|| parse_timestamp(s).map_err(|e| format!("{e} (or a day: 2023-07-10)")), Ok)
}

/// `--end`: a time, or a day's last millisecond (UTC): `--end 2023-07-10` keeps that whole day.
pub fn parse_end(s: &str) -> Result<DateTime<Utc>, String> {
    match day_alone(s) {
        Some(d) => Ok(d + Duration::days(1) - Duration::milliseconds(1)),
        None => parse_timestamp(s).map_err(|e| format!("{e} (or a day: 2023-07-10)")),
    }
}

/// `64MiB`, `512KiB`, `1GiB` (or `K`, `M`, `G`, binary), or bytes; at least 1 KiB.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: usize = n.parse().map_err(|_| format!("{s:?}: expected a size such as 64MiB, 512KiB or 1048576"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" | "k" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return Err(format!("{s:?}: expected a size such as 64MiB, 512KiB or 1048576 (units KiB, MiB, GiB)")),
    };
    let bytes = n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?}: too large"))?;
    if bytes < 1024 {
        return Err(format!("{s:?}: the size must be at least 1KiB"));
    }
    Ok(bytes)
}

/// `90s`, `10m`, `1h`, `2d`, or a number of seconds; between 1 second and 30 days.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| format!("{s:?}: expected a duration such as 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{s:?}: expected a duration such as 90s, 10m or 1h (units s, m, h, d)"))?;
    if !(1..=30 * 86_400).contains(&secs) {
        return Err(format!("{s:?}: the window must be between 1 second and 30 days"));
    }
    Ok(Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn start_and_end_take_a_day_as_well_as_a_time() {
        let t = |s: &str| parse_timestamp(s).unwrap();
        assert_eq!(parse_start("2023-07-10").unwrap(), t("2023-07-10T00:00:00Z"));
        assert_eq!(parse_end("2023-07-10").unwrap(), t("2023-07-10T23:59:59.999Z"));
        assert_eq!(parse_start("2023-07-10T12:00:00Z").unwrap(), t("2023-07-10T12:00:00Z"));
        assert_eq!(parse_end("2023-07-10T12:00:00Z").unwrap(), t("2023-07-10T12:00:00Z"));
        for bad in ["2023-13-01", "10/07/2023", "yesterday"] {
            assert!(parse_start(bad).is_err() && parse_end(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::minutes(10));
        assert_eq!(parse_duration("1h").unwrap(), Duration::hours(1));
        assert_eq!(parse_duration("45").unwrap(), Duration::seconds(45));
        for bad in ["", "0s", "ten", "5w", "31d", "-5m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_read_as_people_write_them_and_the_default_cap_is_64_mib() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "0", "12", "1TiB", "MiB", "-5M", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            scan: ScanArgs,
        }
        let a = <Cli as clap::Parser>::try_parse_from(["scan"]).unwrap().scan;
        assert_eq!(a.max_document_size, crate::scan::input::DEFAULT_MAX_DOCUMENT);
        assert_eq!(crate::scan::input::DEFAULT_MAX_DOCUMENT, 64 << 20);
    }

    #[test]
    fn every_rule_is_replayed_unless_rules_are_named() {
        let set = RuleSet::bundled().unwrap();
        let parse = |args: &[&str]| {
            #[derive(Debug, clap::Parser)]
            struct Cli {
                #[command(flatten)]
                scan: ScanArgs,
            }
            <Cli as clap::Parser>::try_parse_from(std::iter::once("scan").chain(args.iter().copied())).unwrap().scan.settings_with(&set)
        };
        let ids = |s: &Settings| s.rules.iter().map(|r| r.rule_id.clone()).collect::<Vec<_>>();
        // no --rule: every rule of the set, the launch rule with its three horizons
        let all = parse(&[]).unwrap();
        assert_eq!(ids(&all), set.ids());
        assert_eq!(
            all.rules[0].horizons.iter().map(|h| (h.window_seconds, h.threshold)).collect::<Vec<_>>(),
            vec![(300, 10), (3600, 40), (86_400, 150)]
        );
        // --rule repeated narrows the set, in the order given, once each
        let two = parse(&["--rule", "iam-user-burst", "--rule", "ec2-mass-launch", "--rule", "iam-user-burst"]).unwrap();
        assert_eq!(ids(&two), vec!["iam-user-burst", "ec2-mass-launch"]);
        // --window judges one window with the first horizon's threshold
        let one = parse(&["--rule", "ec2-mass-launch", "--window", "60s", "--min-instances", "7"]).unwrap();
        assert_eq!(one.rules[0].horizons, vec![Horizon { measure: Measure::Instances, window_seconds: 60, threshold: 7 }]);
        // an override no replayed rule can take, or an unknown rule, is refused
        assert!(parse(&["--rule", "ec2-mass-launch", "--min-calls", "3"]).is_err());
        assert!(parse(&["--rule", "nope"]).is_err());
    }
}
