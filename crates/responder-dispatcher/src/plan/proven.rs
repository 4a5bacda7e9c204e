//! Only what CloudTrail proves is acted on: the artifacts an action takes from records (the
//! access key ids to deactivate, the instance ids to stop or terminate, the keys it created) come
//! from the records
//! CloudTrail's event history answered for the principal's confirmed evidence
//! ([`Proven`](launchguard_core::evidence::Proven)), never from a record that exists only in the
//! trail's log group. A confirmed burst is real; a forged record beside it (naming another of the
//! principal's keys, or another team's instance with a made-up `launchTime`) is not, and proves
//! nothing. What is left out is named in the plan's notes, for a person.

use launchguard_core::contract::Action;
use launchguard_core::evidence::Proven;

use super::PrincipalPlan;

/// Narrow `p`'s actions to what `proven` shows: a key deactivation only for a key CloudTrail's
/// records show the principal used; an instance action only over instances CloudTrail's
/// `RunInstances` responses list, in the same region, with CloudTrail's launch time and
/// reservation id. The principal-wide actions (quarantine, session revocation) stay: the principal
/// itself is confirmed. Every key or instance left out is named in a note.
pub fn only_what_cloudtrail_proves(p: &mut PrincipalPlan, proven: &Proven) {
    let mut keys_left: Vec<String> = Vec::new();
    let mut instances_left: Vec<String> = Vec::new();
    let mut created_left: Vec<String> = Vec::new();
    let mut kept = Vec::new();
    for mut a in std::mem::take(&mut p.actions) {
        match &mut a {
            Action::DeactivateAccessKey { access_key_id, .. } if !proven.access_keys.contains(access_key_id.as_str()) => {
                keys_left.push(access_key_id.clone());
                continue;
            }
            Action::DeactivateCreatedAccessKey { access_key_id, user_name, .. } if !proven.created_key(access_key_id, user_name) => {
                created_left.push(format!("{access_key_id} (for {user_name})"));
                continue;
            }
            Action::StopInstances { region, instances, .. } | Action::TerminateInstances { region, instances, .. } => {
                let mut confirmed = Vec::new();
                for l in std::mem::take(instances) {
                    match proven.launched(region, &l.instance_id) {
                        Some(c) => confirmed.push(c.clone()),
                        None => instances_left.push(format!("{} ({region})", l.instance_id)),
                    }
                }
                if confirmed.is_empty() {
                    continue;
                }
                *instances = confirmed;
            }
            _ => {}
        }
        kept.push(a);
    }
    p.actions = kept;
    if !keys_left.is_empty() {
        p.notes.push(format!(
            "key(s) {} not deactivated: only records in the trail's log group (which logs:PutLogEvents can forge) show them used, \
             none that CloudTrail confirmed; check them in CloudTrail's event history and deactivate them by hand if they were used",
            keys_left.join(", ")
        ));
    }
    if !created_left.is_empty() {
        p.notes.push(format!(
            "CRITICAL: created key(s) {} not deactivated: only records in the trail's log group (which logs:PutLogEvents can forge) \
             show them created, no CreateAccessKey record that CloudTrail confirmed (yet); check CloudTrail's event history \
             (us-east-1, CreateAccessKey) and deactivate them by hand if they were created",
            launchguard_core::text::untrusted(&created_left.join(", "))
        ));
    }
    if !instances_left.is_empty() {
        p.notes.push(format!(
            "instance(s) {} not stopped or terminated: only records in the trail's log group (which logs:PutLogEvents can forge) \
             list them, none that CloudTrail confirmed; check who launched them in CloudTrail's event history and act by hand",
            instances_left.join(", ")
        ));
    }
}
