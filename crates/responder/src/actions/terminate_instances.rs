//! Terminate exactly the instances a flagged principal launched. Not reversible: never the
//! default, and the outcome says so.
//!
//! What: the checks of `stop_instances` ([`super::stop_instances::verify`]: account, the
//! principal resolved through IAM and not protected, each instance described, matching its launch record, not protected), then tag
//! (`launchguard:incident=<finding id>`), then `TerminateInstances` of exactly those ids. Already
//! terminated (or shutting down): `already_applied`, with no reversal.

use launchguard_core::contract::{INCIDENT_TAG, OutcomeStatus, ResponseOutcome};

use super::stop_instances::{Set, each_or_one_by_one, verify};
use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{AccessKeys, DescribeInstances, InstanceState, InstanceStates, InstanceTags, Roles, Users};

/// `terminate_instances`. No reversal.
pub static TERMINATE: Spec = Spec {
    name: "terminate_instances",
    reverses: None,
    permissions: &[
        "ec2:CreateTags",
        "ec2:DescribeInstances",
        "ec2:TerminateInstances",
        "iam:GetAccessKeyLastUsed",
        "iam:GetRole",
        "iam:GetUser",
    ],
    settings: &[],
};

/// Said in every outcome of a termination.
pub const NOT_REVERSIBLE: &str = "terminated instances cannot be started again: this is not reversible";

/// `terminate_instances`.
pub(crate) async fn terminate<E: DescribeInstances + InstanceTags + InstanceStates, I: Users + Roles + AccessKeys>(
    ctx: &Ctx<'_>,
    ec2: &E,
    iam: &I,
    s: &Set<'_>,
) -> Result<ResponseOutcome, Stop> {
    let v = verify(ctx, ec2, iam, s).await?;
    let incident = ctx.req.finding_id.as_str();
    let warnings: Vec<String> =
        std::iter::once(NOT_REVERSIBLE.to_owned()).chain(v.skipped.iter().map(|w| format!("left alone: {w}"))).collect();
    let with = |mut o: ResponseOutcome| {
        o.warnings.clone_from(&warnings);
        o
    };
    let live: Vec<String> =
        v.ok.iter()
            .filter(|i| !matches!(i.state, Some(InstanceState::Terminated | InstanceState::ShuttingDown)))
            .map(|i| i.id.clone())
            .collect();
    if live.is_empty() {
        let d = format!("{} instance(s) in {} already terminated", v.ok.len(), s.region);
        return Ok(with(ctx.outcome(OutcomeStatus::AlreadyApplied, d)));
    }
    if ctx.dry_run() {
        let d =
            format!("dry run: would tag and terminate {} instance(s) in {} ({NOT_REVERSIBLE}): {}", live.len(), s.region, live.join(" "));
        return Ok(with(ctx.outcome(OutcomeStatus::DryRun, d)));
    }
    ec2.create_tag(s.region, &live, INCIDENT_TAG, incident).await?;
    let refused = each_or_one_by_one(&live, |chunk| async move { ec2.terminate_instances(s.region, &chunk).await }).await?;
    let done: Vec<&String> = live.iter().filter(|id| !refused.iter().any(|(r, _)| r == *id)).collect();
    let mut o = ctx.outcome(
        OutcomeStatus::Applied,
        format!(
            "{} instance(s) in {} tagged {INCIDENT_TAG}={incident} and terminated ({NOT_REVERSIBLE}): {}",
            done.len(),
            s.region,
            done.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
        ),
    );
    o.undo = Some(format!("none: {NOT_REVERSIBLE}"));
    let mut o = with(o);
    o.warnings.extend(
        refused
            .iter()
            .map(|(id, e)| format!("left alone: {id}: EC2 refused to terminate it ({e}); tagged, still there: terminate it by hand")),
    );
    Ok(o)
}
