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
//! - [`schema`]: the JSON Schemas of `scan`'s and `rules`' JSON output (`schemas/`).
//! - [`error`]: [`CliError`], the crate's one error type.
//! - [`exit`]: the exit statuses of every subcommand; [`help`]: the examples `--help` ends with.
//!
//! The subcommands that call AWS ([`release`], [`report`], `scan` of `s3://` prefixes) and
//! [`aws`] are the `aws` feature (default); without it the crate links no AWS SDK.

#[cfg(feature = "aws")]
pub mod aws;
pub mod commands;
pub mod error;
pub mod exit;
pub mod help;
#[cfg(feature = "aws")]
pub mod release;
#[cfg(feature = "aws")]
pub mod report;
pub mod rules;
pub mod scan;
pub mod schema;

pub use error::CliError;
