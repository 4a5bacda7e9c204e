//! Stop exactly the instances a flagged principal launched, and the reversal: start them again.
//!
//! What: tag each instance `launchguard:incident=<finding id>` (`CreateTags`), then
//! `StopInstances` of exactly those ids, in the region they were launched in. Why: deactivating
//! the key leaves what the attacker launched running (and billing); stopping is reversible, and
//! the tag is what the reversal (and the function's policy) recognise.
//!
//! Checks (every refusal before any EC2 write; [`verify`], shared with `terminate_instances`):
//! 1. the account is the function's own (or in `ALLOWED_ACCOUNTS`), the principal is not
//!    protected;
//! 2. `DescribeInstances` in the action's region; each instance must then
//!    - exist there, in the action's account (the reservation's `OwnerId`),
//!    - match its launch record: the same reservation (a record without one is refused), `LaunchTime` within
//!      60 seconds of the record's launch time (a restarted instance has a later `LaunchTime` and
//!      is refused: it is no longer the launch the finding saw),
//!    - not be tagged `launchguard:protected=true`, nor `launchguard:incident` by another finding.
//!
//! An instance that fails a check is left alone and named in the outcome's warnings; the others
//! are acted on. None left: `refused`. All already stopped (or stopping) and tagged by this
//! incident: `already_applied`, with the reversal.
//!
//! Reversal (`start_instances`): only instances still tagged with that incident: a stopped one is
//! started and its tag removed; a running one only loses the tag (a retried reversal); any other
//! (no tag, another incident's, stopping, terminated) is left alone and named.

use std::collections::BTreeSet;

use launchguard_core::aggregate::LaunchedInstance;
use launchguard_core::contract::{Action, INCIDENT_TAG, OutcomeStatus, PROTECTED_TAG, ResponseOutcome};
use launchguard_core::ids::validate_account_id;

use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{DescribeInstances, Instance, InstanceState, InstanceStates, InstanceTags};

/// `stop_instances`.
pub static STOP: Spec = Spec {
    name: "stop_instances",
    reverses: None,
    permissions: &["ec2:CreateTags", "ec2:DescribeInstances", "ec2:StopInstances"],
    settings: &[],
};

/// `start_instances`: the reversal of [`STOP`].
pub static START: Spec = Spec {
    name: "start_instances",
    reverses: Some("stop_instances"),
    permissions: &["ec2:DeleteTags", "ec2:DescribeInstances", "ec2:StartInstances"],
    settings: &[],
};

/// The instance set an EC2 action names.
pub(crate) struct Set<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) region: &'a str,
    pub(crate) principal_arn: &'a str,
    pub(crate) instances: &'a [LaunchedInstance],
}

/// What [`verify`] found: the instances that passed, as described, and why the others did not.
pub(crate) struct Verified {
    pub(crate) ok: Vec<Instance>,
    pub(crate) skipped: Vec<String>,
}

fn check_account(ctx: &Ctx<'_>, account_id: &str) -> Result<(), Stop> {
    validate_account_id(account_id).map_err(|e| Stop::Refuse(e.to_string()))?;
    ctx.cfg.guard.check_account(account_id).map_err(Stop::Refuse)
}

fn is_protected(i: &Instance) -> bool {
    i.tags.get(PROTECTED_TAG).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The checks of `stop_instances` and `terminate_instances`, before any write.
pub(crate) async fn verify<E: DescribeInstances>(ctx: &Ctx<'_>, ec2: &E, s: &Set<'_>) -> Result<Verified, Stop> {
    check_account(ctx, s.account_id)?;
    ctx.cfg.guard.check_principal(s.principal_arn).map_err(Stop::Refuse)?;
    let ids: Vec<String> = s.instances.iter().map(|l| l.instance_id.clone()).collect();
    let described = ec2.describe_instances(s.region, &ids).await?;
    let incident = ctx.req.finding_id.as_str();
    let (mut ok, mut skipped) = (Vec::new(), Vec::new());
    for l in s.instances {
        let id = &l.instance_id;
        let why = match described.iter().find(|d| d.id == *id) {
            None => Some(format!("{id}: not found in {} of account {}", s.region, s.account_id)),
            Some(d) if d.owner_id.as_deref() != Some(s.account_id) => {
                Some(format!("{id}: owned by account {}, not {}", d.owner_id.as_deref().unwrap_or("unknown"), s.account_id))
            }
            Some(_) if l.region != s.region => Some(format!("{id}: launched in {}, not {}", l.region, s.region)),
            Some(d) if is_protected(d) => Some(format!("{id}: tagged {PROTECTED_TAG}=true")),
            // The reservation is what ties the instance to the principal's own call (CloudTrail
            // always records it): a launch time alone matches any instance of that minute.
            Some(_) if l.reservation_id.is_none() => {
                Some(format!("{id}: its launch record has no reservation id, so nothing ties it to the principal's call"))
            }
            Some(d) if l.reservation_id.as_ref().is_some_and(|r| d.reservation_id.as_ref() != Some(r)) => Some(format!(
                "{id}: reservation {} does not match the launch record's {}",
                d.reservation_id.as_deref().unwrap_or("unknown"),
                l.reservation_id.as_deref().unwrap_or_default()
            )),
            Some(d) if d.launch_time.is_none_or(|t| (t - l.launched_at).num_seconds().abs() >= 60) => Some(format!(
                "{id}: launched at {}, not within a minute of the launch record's {}",
                d.launch_time.map_or("unknown".to_owned(), |t| t.to_rfc3339()),
                l.launched_at.to_rfc3339()
            )),
            Some(d) if d.tags.get(INCIDENT_TAG).is_some_and(|v| v != incident) => {
                Some(format!("{id}: already tagged {INCIDENT_TAG} by another incident"))
            }
            Some(d) => {
                ok.push(d.clone());
                None
            }
        };
        skipped.extend(why);
    }
    if ok.is_empty() {
        return Err(Stop::Refuse(format!("no instance passed the checks, nothing changed: {}", skipped.join("; "))));
    }
    Ok(Verified { ok, skipped })
}

fn tagged_by(i: &Instance, incident: &str) -> bool {
    i.tags.get(INCIDENT_TAG).is_some_and(|v| v == incident)
}

fn ids(v: &[&Instance]) -> Vec<String> {
    v.iter().map(|i| i.id.clone()).collect()
}

/// `stop_instances`.
pub(crate) async fn stop<E: DescribeInstances + InstanceTags + InstanceStates>(
    ctx: &Ctx<'_>,
    ec2: &E,
    s: &Set<'_>,
) -> Result<ResponseOutcome, Stop> {
    let v = verify(ctx, ec2, s).await?;
    let incident = ctx.req.finding_id.as_str();
    let (gone, live): (Vec<&Instance>, Vec<&Instance>) =
        v.ok.iter().partition(|i| matches!(i.state, Some(InstanceState::Terminated | InstanceState::ShuttingDown)));
    let mut skipped = v.skipped;
    skipped.extend(gone.iter().map(|i| format!("{}: already terminated", i.id)));
    if live.is_empty() {
        return Err(Stop::Refuse(format!("no instance left to stop, nothing changed: {}", skipped.join("; "))));
    }
    let to_tag: Vec<&Instance> = live.iter().copied().filter(|i| !tagged_by(i, incident)).collect();
    let to_stop: Vec<&Instance> =
        live.iter().copied().filter(|i| !matches!(i.state, Some(InstanceState::Stopped | InstanceState::Stopping))).collect();
    let reversal = Action::StartInstances {
        account_id: s.account_id.to_owned(),
        region: s.region.to_owned(),
        principal_arn: s.principal_arn.to_owned(),
        incident: incident.to_owned(),
        instance_ids: ids(&live),
    };
    let with = |mut o: ResponseOutcome| {
        o.warnings = skipped.iter().map(|w| format!("left alone: {w}")).collect();
        o
    };
    if to_tag.is_empty() && to_stop.is_empty() {
        let d = format!("{} instance(s) in {} already stopped and tagged {INCIDENT_TAG}={incident}", live.len(), s.region);
        return Ok(with(ctx.already(d, reversal)));
    }
    if ctx.dry_run() {
        let d = format!(
            "dry run: would tag {} and stop {} instance(s) in {}: {}",
            to_tag.len(),
            to_stop.len(),
            s.region,
            ids(&to_stop).join(" ")
        );
        return Ok(with(ctx.outcome(OutcomeStatus::DryRun, d)));
    }
    if !to_tag.is_empty() {
        ec2.create_tag(s.region, &ids(&to_tag), INCIDENT_TAG, incident).await?;
    }
    if !to_stop.is_empty() {
        ec2.stop_instances(s.region, &ids(&to_stop)).await?;
    }
    let all = ids(&live).join(" ");
    Ok(with(ctx.applied(
        format!("{} instance(s) in {} tagged {INCIDENT_TAG}={incident} and stopped: {all}", live.len(), s.region),
        format!("aws ec2 start-instances --region {} --instance-ids {all}", s.region),
        Some(reversal),
    )))
}

/// `start_instances`: the reversal of [`stop`].
pub(crate) async fn start<E: DescribeInstances + InstanceTags + InstanceStates>(
    ctx: &Ctx<'_>,
    ec2: &E,
    account_id: &str,
    region: &str,
    incident: &str,
    instance_ids: &[String],
) -> Result<ResponseOutcome, Stop> {
    check_account(ctx, account_id)?;
    let described = ec2.describe_instances(region, instance_ids).await?;
    let wanted: BTreeSet<&str> = instance_ids.iter().map(String::as_str).collect();
    let mut skipped = Vec::new();
    let (mut to_start, mut untag) = (Vec::new(), Vec::new());
    for id in instance_ids {
        match described.iter().find(|d| d.id == *id && wanted.contains(d.id.as_str())) {
            None => skipped.push(format!("{id}: not found in {region}")),
            Some(d) if d.owner_id.as_deref() != Some(account_id) => skipped.push(format!("{id}: not in account {account_id}")),
            Some(d) if !tagged_by(d, incident) => skipped.push(format!("{id}: not tagged {INCIDENT_TAG}={incident}")),
            Some(d) => match d.state {
                Some(InstanceState::Stopped) => {
                    to_start.push(d);
                    untag.push(d);
                }
                Some(InstanceState::Running | InstanceState::Pending) => untag.push(d),
                _ => skipped.push(format!("{id}: neither stopped nor running")),
            },
        }
    }
    let with = |mut o: ResponseOutcome| {
        o.warnings = skipped.iter().map(|w| format!("left alone: {w}")).collect();
        o
    };
    if untag.is_empty() {
        let d = format!("no instance in {region} is tagged {INCIDENT_TAG}={incident} any more: nothing to start");
        return Ok(with(ctx.outcome(OutcomeStatus::AlreadyApplied, d)));
    }
    if ctx.dry_run() {
        let d =
            format!("dry run: would start {} instance(s) in {region} and remove their tag: {}", to_start.len(), ids(&to_start).join(" "));
        return Ok(with(ctx.outcome(OutcomeStatus::DryRun, d)));
    }
    if !to_start.is_empty() {
        ec2.start_instances(region, &ids(&to_start)).await?;
    }
    ec2.delete_tag(region, &ids(&untag), INCIDENT_TAG, incident).await?;
    let started = ids(&to_start).join(" ");
    Ok(with(ctx.applied(
        format!("{} instance(s) in {region} started and untagged: {started}", to_start.len()),
        format!("aws ec2 stop-instances --region {region} --instance-ids {started}"),
        None,
    )))
}
