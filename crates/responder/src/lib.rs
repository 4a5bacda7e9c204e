//! launchguard-responder: what every responder function is built on.
//!
//! A responder function (a Lambda function with its own role) is a name and the actions it
//! serves ([`Function`]); an action ([`Spec`] and its module under [`actions`], one file each,
//! its reversal beside it) is its name, the AWS actions it calls, its checks, how it applies,
//! what it answers when the state is already there, and its reversal. Everything else is shared:
//!
//! - the envelope ([`handle`]): only commands sealed by the dispatcher are executed, each request
//!   id once (`launchguard_aws::command::serve`); the action must be one the function serves;
//!   every refusal (account, protected principal, malformed id, ownership, service-linked role)
//!   happens before any IAM write; `DRY_RUN` or the request's `dry_run` changes nothing; the
//!   outcome carries the reversal (`already_applied` too);
//! - one error ([`HandlerError`]), retryable or final;
//! - the configuration ([`Config`]), read once;
//! - the IAM ports ([`ports`], one capability each) and their SDK adapter ([`aws::Iam`]);
//! - with the `test-util` feature, the in-memory IAM every crate's tests use
//!   (`memory::MemoryIam`) and what their tests share (`testing`: a test configuration, a
//!   command sealed as the dispatcher seals it);
//! - the Lambda entry point ([`lambda::serve`]).
//!
//! Where the code for a rule is: deactivating a key, [`actions::deactivate_access_key`];
//! quarantining a user, [`actions::quarantine_user`]; revoking a role's sessions,
//! [`actions::revoke_role_sessions`]; stopping (and starting again) the instances a principal
//! launched, [`actions::stop_instances`]; terminating them, [`actions::terminate_instances`]
//! (EC2 ports in [`ports`], adapter [`aws_ec2::Ec2`], one client a region); resolving a principal's real ARN and checking it,
//! `resolve.rs`; refusing a release asked for by the principal it releases (IAM's unique ids),
//! `self_release.rs`.

pub mod actions;
pub mod aws;
pub mod aws_ec2;
mod config;
mod envelope;
mod error;
mod function;
pub mod lambda;
#[cfg(feature = "test-util")]
pub mod memory;
#[cfg(feature = "test-util")]
pub mod memory_ec2;
pub mod ports;
mod resolve;
mod self_release;
#[cfg(feature = "test-util")]
pub mod testing;

pub use config::Config;
pub use envelope::{handle, handle_ec2, respond, respond_ec2};
pub use error::HandlerError;
pub use function::{ENVELOPE_PERMISSIONS, Function, Setting, Spec};
pub use ports::KeyStatus;
