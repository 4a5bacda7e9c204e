//! The EC2 actions of a contained principal: its own instances, one action per region.

use launchguard_core::contract::{Action, FlaggedPrincipal};

use super::{InstancePlaybook, PrincipalPlan};

/// The EC2 actions for a principal launchguard contains (`contained`: the playbook and the rule
/// give it a containment action): one a region, over the launch records of its own
/// `RunInstances` responses; notes for the instances the finding could not carry. A principal
/// launchguard does not contain (notify only) gets no instance action.
pub(super) fn instance_actions(
    p: &mut PrincipalPlan,
    f: &FlaggedPrincipal,
    pb: InstancePlaybook,
    contained: bool,
    account_id: &str,
    principal_arn: &str,
) {
    let a = &f.activity;
    if pb == InstancePlaybook::None || !contained {
        if a.instances_launched > 0 {
            let shown: Vec<&str> = a.instance_ids.iter().take(10).map(String::as_str).collect();
            let more = a.instance_ids.len().saturating_sub(shown.len());
            let why = if !contained {
                "launchguard takes no containment action on it: notify only"
            } else {
                "LG_EC2_ACTION=none, or the rule names neither stop_instances nor terminate_instances"
            };
            p.notes.push(format!(
                "the {} instance(s) it launched keep running ({why}): {}{}",
                a.instances_launched,
                shown.join(" "),
                if more > 0 { format!(" and {more} more (in the incident record)") } else { String::new() }
            ));
        }
        return;
    }
    let mut by_region: std::collections::BTreeMap<&str, Vec<launchguard_core::aggregate::LaunchedInstance>> = Default::default();
    let mut seen = std::collections::BTreeSet::new();
    // An id twice (two records without an eventID) would make the handler refuse the region's
    // whole action: each instance once.
    for l in a.launches.iter().filter(|l| seen.insert(l.instance_id.as_str())) {
        by_region.entry(l.region.as_str()).or_default().push(l.clone());
    }
    for (region, instances) in by_region {
        let (account_id, region, principal_arn) = (account_id.to_owned(), region.to_owned(), principal_arn.to_owned());
        p.actions.push(match pb {
            InstancePlaybook::Terminate => Action::TerminateInstances { account_id, region, principal_arn, instances, bound: None },
            _ => Action::StopInstances { account_id, region, principal_arn, instances, bound: None },
        });
    }
    let carried = a.launches.len() as u64;
    if a.instances_launched > carried {
        p.notes.push(format!(
            "{} of the {} instance(s) it launched are not in the finding (over {} ids, cut to fit, or without a region): find them by hand (CloudTrail RunInstances of this principal) and stop them",
            a.instances_launched - carried,
            a.instances_launched,
            launchguard_core::aggregate::MAX_INSTANCE_IDS
        ));
    }
    if pb == InstancePlaybook::Terminate && carried > 0 {
        p.notes.push("LG_EC2_ACTION=terminate: terminated instances cannot be started again; a release cannot undo it".into());
    }
}
