//! The crate's one error type.

use thiserror::Error;

/// Rendering errors. Rendering text cannot fail; only the JSON serialiser can.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The JSON form could not be written (a bug: report it with the finding id).
    #[error("the report could not be written as JSON: {0}; report this with the finding id")]
    Json(#[from] serde_json::Error),
}
