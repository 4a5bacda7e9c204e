//! The exit status of every subcommand: one table, documented in every `--help`.
//!
//! A subcommand that judges (`scan`) exits [`Status::Flagged`] when it flagged something, so
//! that a cron job or a CI step needs no JSON parsing (prowler exits 3 when a check fails);
//! `--ignore-flagged` turns that off. A flagged burst wins over an incomplete input: a script
//! that pages on 3 must never miss a burst because another file was cut short (the report
//! names both).

use std::process::ExitCode;

use crate::scan::{Completeness, ScanReport};

/// What a run of the command line ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done; every input read whole, nothing flagged.
    Clean,
    /// Some input could not be read whole, or nothing at all was read (an empty directory or
    /// file), or the AWS call or the release did not succeed.
    Incomplete,
    /// Bad usage: an unknown flag or rule, a path that does not exist, no region.
    Usage,
    /// Something was flagged (a burst reached a threshold).
    Flagged,
}

impl Status {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Status::Clean => 0,
            Status::Incomplete => 1,
            Status::Usage => 2,
            Status::Flagged => 3,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s.code())
    }
}

/// The status of a scan: [`Status::Flagged`] when a burst was flagged (unless `ignore_flagged`),
/// else [`Status::Incomplete`] when an input was not read whole or nothing was read, else
/// [`Status::Clean`].
pub fn of_scan(report: &ScanReport, ignore_flagged: bool) -> Status {
    if !ignore_flagged && report.flagged().next().is_some() {
        Status::Flagged
    } else if report.status == Completeness::Incomplete || report.nothing_read {
        Status::Incomplete
    } else {
        Status::Clean
    }
}

/// The exit statuses of `scan`, as its `--help` lists them.
pub const SCAN_EXIT: &str = "EXIT STATUS:
  0  every input read whole, nothing flagged
  1  some input not read whole (named in the report, with what was salvaged), or nothing read
     at all (an empty directory or file); a closed output pipe ends the scan quietly too
  2  bad usage: unknown flag or rule, a named path that does not exist, no AWS region for s3://
  3  a burst was flagged (even if some input was not read whole); --ignore-flagged makes it 0 or 1";

/// The exit statuses of `report`.
pub const REPORT_EXIT: &str = "EXIT STATUS:
  0  the report was written
  1  an AWS call failed (the message names the service, the operation, AWS's error and what to do)
  2  bad usage: no --finding or --since, a bad day, no AWS region
  (report does not judge: it renders what the detector and the dispatcher recorded; no status 3)";

/// The exit statuses of `release`.
pub const RELEASE_EXIT: &str = "EXIT STATUS:
  0  released, previewed (--dry-run) or nothing to release
  1  something was not released (each outcome is listed), or an AWS call failed
  2  bad usage, no AWS region, or the dispatcher refused the request (nothing was done)";

/// The exit statuses of `rules` and `completions`.
pub const PLAIN_EXIT: &str = "EXIT STATUS:
  0  done
  2  bad usage, or a rule set (LG_RULES, LG_RULES_FILE) that does not load";
