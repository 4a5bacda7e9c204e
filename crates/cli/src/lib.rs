//! The `launchguard` command line, as a library: `main.rs` only parses the arguments and calls
//! in here.
//!
//! - [`scan`]: `launchguard scan`, the detector's classification replayed on archived CloudTrail
//!   (files, directories, `s3://` prefixes, standard input), streaming and in parallel, reported
//!   as bursts.
//! - [`release`]: `launchguard release`, undo a containment as a person allowed to release.
//! - [`report`]: `launchguard report`, an incident's report or a period summary, from the
//!   incident records.
//! - [`error`]: [`CliError`], the crate's one error type.

pub mod error;
pub mod release;
pub mod report;
pub mod scan;

pub use error::CliError;
