//! `launchguard scan`'s arguments (clap) and the settings they make.

use chrono::{DateTime, Duration, Utc};
use clap::Args;
use launchguard_core::query::EventRule;
use launchguard_core::threshold::Thresholds;
use launchguard_core::time::parse_timestamp;
use launchguard_core::window::TimeWindow;

use crate::CliError;

/// The default burst window: the alarm's evaluated span as `make deploy` sets it,
/// `ALARM_PERIOD_SECONDS` (60) × `ALARM_EVALUATION_PERIODS` (1) in `deploy/config.env`.
pub const DEFAULT_WINDOW_SECONDS: i64 = 60;

/// Replay archived CloudTrail through the detector's classification and report the bursts.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ScanArgs {
    /// Inputs: files (.json, .json.gz, JSON lines, lookup-events output...), directories (read
    /// recursively, as `aws s3 sync` leaves them), `s3://bucket/prefix`, or `-` for standard
    /// input (also when none is given).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Print the report as JSON (shape: README, "Replaying archived CloudTrail").
    #[arg(long)]
    pub json: bool,
    /// Also report each principal's sums over the whole input (the old behaviour).
    #[arg(long)]
    pub totals: bool,
    /// The sliding window a burst must reach a threshold within: 90s, 10m, 1h, or seconds.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub window: Duration,
    /// Flag at this many instances launched or requested within the window.
    #[arg(long, value_name = "N", default_value_t = Thresholds::default().min_instances, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_instances: u64,
    /// Also flag at this many failed launch calls within the window.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_failed_calls: Option<u64>,
    /// Flag AWS services and service-linked roles too.
    #[arg(long)]
    pub include_aws_services: bool,
    /// Only records at or after this time (2023-07-10T12:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start: Option<DateTime<Utc>>,
    /// Only records at or before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub end: Option<DateTime<Utc>>,
    /// Files read at once (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

const AFTER_HELP: &str = "Reads CloudTrail delivery files ({\"Records\":[...]}), the console's event-history export, \
`aws cloudtrail lookup-events` output (and its JSON lines), JSON arrays, EventBridge envelopes and JSON lines, gzip \
(concatenated too) or plain. A principal is flagged when it launches or requests at least --min-instances instances \
within --window (the detector's rule); each burst is reported with its start, end, calls, keys, IPs, regions and \
user agents. Records delivered twice (same eventID) count once.

Exit status: 0 every input read whole; 1 some input could not be read whole (named in the report, with what was \
salvaged); 2 bad usage or nothing could be listed.";

/// What a scan needs from its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The watched event (RunInstances).
    pub rule: EventRule,
    /// Only records in this time range.
    pub range: Option<TimeWindow>,
    /// The burst window.
    pub window: Duration,
    /// The flagging rule.
    pub thresholds: Thresholds,
    /// Whole-input sums too.
    pub totals: bool,
}

impl ScanArgs {
    /// The settings, checked.
    pub fn settings(&self) -> Result<Settings, CliError> {
        let range = match (self.start, self.end) {
            (None, None) => None,
            (s, e) => Some(
                TimeWindow::new(s.unwrap_or(DateTime::<Utc>::MIN_UTC), e.unwrap_or(DateTime::<Utc>::MAX_UTC))
                    .ok_or_else(|| CliError::Usage("--end is before --start".into()))?,
            ),
        };
        let thresholds = Thresholds {
            min_instances: self.min_instances,
            min_failed_calls: self.min_failed_calls,
            exclude_aws_services: !self.include_aws_services,
            ..Thresholds::default()
        };
        Ok(Settings { rule: EventRule::run_instances(), range, window: self.window, thresholds, totals: self.totals })
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_timestamp(s).map_err(|e| e.to_string())
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
    fn the_default_window_is_the_deployed_alarm_span() {
        // GIVEN the deploy's default alarm settings
        let env = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/config.env")).unwrap();
        let get = |k: &str| -> i64 { env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap().trim().parse().unwrap() };
        // THEN the scan's default window is their period times the periods evaluated
        assert_eq!(DEFAULT_WINDOW_SECONDS, get("ALARM_PERIOD_SECONDS") * get("ALARM_EVALUATION_PERIODS"));
        assert_eq!(parse_duration("60s").unwrap().num_seconds(), DEFAULT_WINDOW_SECONDS);
    }
}
