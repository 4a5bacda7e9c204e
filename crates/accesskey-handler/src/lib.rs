//! launchguard-accesskey-handler: deactivates exactly one IAM access key, reversibly.
//!
//! It serves `deactivate_access_key`, `deactivate_created_access_key` (a key a contained
//! principal created, for another user) and their reversal `reactivate_access_key`; the code, its
//! checks in order and its reversal are in `launchguard_responder::actions::deactivate_access_key`
//! and `deactivate_created_access_key`,
//! the envelope (sealed commands, each request id once, dry run, outcomes) in
//! `launchguard_responder`. Its role allows exactly [`FUNCTION`]`.aws_actions()`.

use launchguard_responder::Function;
use launchguard_responder::actions::deactivate_access_key::{DEACTIVATE, REACTIVATE};
use launchguard_responder::actions::deactivate_created_access_key::DEACTIVATE_CREATED;

/// The function: its name and the actions it serves.
pub static FUNCTION: Function = Function {
    name: "launchguard-accesskey-handler",
    actions: &[&DEACTIVATE, &DEACTIVATE_CREATED, &REACTIVATE],
    serves: "an access key action",
    others_to: "launchguard-iam-handler",
    log_message: "access key outcome",
};
