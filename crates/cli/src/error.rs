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
    #[cfg(feature = "aws")]
    /// An AWS call failed: one line, with what to do (from AWS's error code).
    #[error("{what} failed: {}. What to do: {}", launchguard_core::text::untrusted(.reason), crate::aws::advice(.reason))]
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

impl CliError {
    /// The exit status this error ends the command with: bad usage 2; an input, an AWS call or
    /// a release that did not succeed 1.
    pub fn status(&self) -> crate::exit::Status {
        use crate::exit::Status;
        match self {
            CliError::Usage(_) | CliError::Core(_) | CliError::Input { .. } => Status::Usage,
            CliError::Output(_) | CliError::Refused(_) => Status::Incomplete,
            #[cfg(feature = "aws")]
            CliError::Aws { .. } => Status::Incomplete,
        }
    }
}
