//! launchguard-accesskey-handler: deactivates IAM access keys, reversibly: exactly the key that was used (or created), or every active key of a user whose quarantine IAM refused.
//!
//! It serves `deactivate_access_key`, `deactivate_created_access_key` (a key a contained
//! principal created, for another user) and their reversal `reactivate_access_key`, and
//! `deactivate_user_access_keys` (every active key of a user whose quarantine IAM refused) with its
//! reversal `reactivate_user_access_keys`; the code, its checks in order and its reversal are in
//! `launchguard_responder::actions::deactivate_access_key`, `deactivate_created_access_key` and
//! `deactivate_user_access_keys`,
//! the envelope (sealed commands, each request id once, dry run, outcomes) in
//! `launchguard_responder`. Its role allows exactly [`FUNCTION`]`.aws_actions()`.

use launchguard_responder::Function;
use launchguard_responder::actions::deactivate_access_key::{DEACTIVATE, REACTIVATE};
use launchguard_responder::actions::deactivate_created_access_key::DEACTIVATE_CREATED;
use launchguard_responder::actions::deactivate_user_access_keys::{DEACTIVATE_ALL, REACTIVATE_ALL};

/// The function: its name and the actions it serves.
pub static FUNCTION: Function = Function {
    name: "launchguard-accesskey-handler",
    actions: &[&DEACTIVATE, &DEACTIVATE_CREATED, &REACTIVATE, &DEACTIVATE_ALL, &REACTIVATE_ALL],
    serves: "an access key action",
    others_to: "launchguard-iam-handler",
    log_message: "access key outcome",
};
