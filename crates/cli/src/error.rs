//! The one error type of the command line.

use launchguard_core::CoreError;
use thiserror::Error;

/// Errors of the command line. Each says what to do about it.
#[derive(Debug, Error)]
pub enum CliError {
    /// The arguments are wrong.
    #[error("{0} (see --help)")]
    Usage(String),
    /// An input could not be listed or opened at all.
    #[error("cannot read {source_name}: {reason}")]
    Input {
        /// File name, `s3://` URL or `stdin`.
        source_name: String,
        /// Why, and what to check.
        reason: String,
    },
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Output(String),
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
