//! launchguard-iam-handler: restricts a principal reversibly, never removing what it has.
//!
//! It serves `quarantine_user` (reversal `release_user_quarantine`, in
//! `launchguard_responder::actions::quarantine_user`) and `revoke_role_sessions` (reversal
//! `restore_role_sessions`, in `launchguard_responder::actions::revoke_role_sessions`); the
//! envelope (sealed commands, each request id once, dry run, outcomes) is `launchguard_responder`.
//! Its role allows exactly [`FUNCTION`]`.aws_actions()`.

use launchguard_responder::Function;
use launchguard_responder::actions::quarantine_user::{QUARANTINE, RELEASE};
use launchguard_responder::actions::revoke_role_sessions::{RESTORE, REVOKE};

/// The function: its name and the actions it serves.
pub static FUNCTION: Function = Function {
    name: "launchguard-iam-handler",
    actions: &[&QUARANTINE, &RELEASE, &REVOKE, &RESTORE],
    serves: "an IAM policy action",
    others_to: "launchguard-accesskey-handler",
    log_message: "iam outcome",
};
