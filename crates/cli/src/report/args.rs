//! The arguments of `launchguard report`.

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use launchguard_report::Format;

use crate::CliError;

/// The default incident log group (`INCIDENT_LOG_GROUP` of the stack).
pub const DEFAULT_LOG_GROUP: &str = "/launchguard/incidents";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown.
    Md,
    /// One self-contained HTML page (opens offline, requests nothing).
    Html,
    /// JSON.
    Json,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Md => Format::Markdown,
            ReportFormat::Html => Format::Html,
            ReportFormat::Json => Format::Json,
        }
    }
}

/// `launchguard report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// One incident's report: the finding id (from the notification).
    #[arg(long, conflicts_with = "until")]
    pub finding: Option<String>,
    /// A period summary from this day (`2026-11-01`) or instant (RFC 3339), UTC; with --finding:
    /// where to start looking for its records (default: 400 days ago).
    #[arg(long)]
    pub since: Option<String>,
    /// End of the period (excluded; default: now).
    #[arg(long, requires = "since")]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// The incident log group (`INCIDENT_LOG_GROUP`; environment variable or flag).
    #[arg(long, env = "INCIDENT_LOG_GROUP", default_value = DEFAULT_LOG_GROUP)]
    pub log_group: String,
    /// The ledger bucket (`LEDGER_BUCKET`; environment variable or flag): the truth the records are
    /// checked against (a release record it does not back is shown as unverified).
    #[arg(long, env = "LEDGER_BUCKET", required_unless_present = "records")]
    pub ledger_bucket: Option<String>,
    /// Read the incident records from this file instead of CloudWatch Logs (no AWS call): one
    /// JSON record a line, as the dispatcher writes them, or `aws logs filter-log-events` output.
    /// A sample: fixtures/report/incident-records.jsonl.
    #[arg(long, value_name = "FILE", conflicts_with = "ledger_bucket")]
    pub records: Option<std::path::PathBuf>,
    /// With --records: the ledger as a directory of its objects (`aws s3 sync
    /// s3://LEDGER_BUCKET/ledger/ DIR`; a sample: fixtures/report/ledger). Without it the ledger
    /// is empty and no record is backed by it.
    #[arg(long, value_name = "DIR", requires = "records")]
    pub ledger_dir: Option<std::path::PathBuf>,
    /// Where and as whom to read.
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
}

/// `2026-11-01` (midnight UTC) or any timestamp launchguard reads.
pub fn day(s: &str) -> Result<DateTime<Utc>, CliError> {
    let t = s.trim();
    let full = if t.len() == 10 && t.as_bytes().get(4) == Some(&b'-') { format!("{t}T00:00:00Z") } else { t.to_owned() };
    launchguard_core::time::parse_timestamp(&full)
        .map_err(|_| CliError::Usage(format!("{s:?} is not a day (2026-11-01) or an RFC 3339 instant")))
}
