//! The `launchguard` command line, as a library: `main.rs` only parses the arguments and calls
//! in here.
//!
//! - [`scan`]: `launchguard scan`, the detector's classification replayed on archived CloudTrail
//!   (files, directories, `s3://` prefixes, standard input), streaming and in parallel, reported
//!   as bursts.
//! - [`release`]: `launchguard release`, undo a containment as a person allowed to release.
//! - [`report`]: `launchguard report`, an incident's report or a period summary, from the
//!   incident records.
//! - [`rules`]: `launchguard rules`, the rule set in force with every threshold.
//! - [`aws`]: `--region`/`--profile` of every subcommand that calls AWS, and what to do about
//!   an AWS error.
//! - [`error`]: [`CliError`], the crate's one error type.
//! - [`exit`]: the exit statuses of every subcommand; [`help`]: the examples `--help` ends with.

pub mod aws;
pub mod commands;
pub mod error;
pub mod exit;
pub mod help;
pub mod release;
pub mod report;
pub mod rules;
pub mod scan;

pub use error::CliError;
