//! The one error of every responder function: it stops the handler before it can answer with an
//! outcome. Everything after the gate is an outcome (`refused`, `failed`…), never an error.

use launchguard_aws::command::GateError;
use launchguard_core::CoreError;
use thiserror::Error;

/// Errors that stop a handler before it can answer with an outcome.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// Not a command the dispatcher sealed, stale, or KMS / the replay record unreachable:
    /// nothing was done.
    #[error(transparent)]
    Gate(GateError),
    /// Bad configuration.
    #[error(transparent)]
    Config(CoreError),
}

impl HandlerError {
    /// Whether the sender should try again (KMS or the replay record briefly unreachable);
    /// everything else is final.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Gate(g) if g.is_retryable())
    }
}
