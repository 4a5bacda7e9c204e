//! launchguard-ec2-handler: stops (or terminates, when the rule says so) exactly the instances a
//! flagged principal launched, in the region they were launched in, tagged
//! `launchguard:incident=<finding id>` first.
//!
//! It serves `stop_instances`, its reversal `start_instances`, and `terminate_instances` (not
//! reversible); the code, its checks in order and the reversal are in
//! `launchguard_responder::actions::stop_instances` and `terminate_instances`, the envelope
//! (sealed commands, each request id once, dry run, outcomes) in `launchguard_responder`. Its
//! role allows exactly [`FUNCTION`]`.aws_actions()`, scoped by tag where EC2 supports it
//! (`policies/launchguard-ec2-handler.json`).

use launchguard_responder::Function;
use launchguard_responder::actions::stop_instances::{START, STOP};
use launchguard_responder::actions::terminate_instances::TERMINATE;

/// The function: its name and the actions it serves.
pub static FUNCTION: Function = Function {
    name: "launchguard-ec2-handler",
    actions: &[&STOP, &START, &TERMINATE],
    serves: "an EC2 instance action",
    others_to: "launchguard-accesskey-handler or launchguard-iam-handler",
    log_message: "ec2 outcome",
};
