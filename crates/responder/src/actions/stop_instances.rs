//! Stop exactly the instances a flagged principal launched, and the reversal: start them again.
//!
//! What: tag each instance `launchguard:incident=<finding id>` (`CreateTags`), then
//! `StopInstances` of exactly those ids, in the region they were launched in. Why: deactivating
//! the key leaves what the attacker launched running (and billing); stopping is reversible, and
//! the tag is what the reversal (and the function's policy) recognise.
//!
//! Checks (every refusal before any EC2 write; [`verify`], shared with `terminate_instances`):
//! 1. the account is the function's own (or in `ALLOWED_ACCOUNTS`); the principal is resolved
//!    through IAM (`GetUser` or `GetRole`, `resolve.rs`): its real ARN, path included, must not be
//!    protected, service-linked or an Identity Center role (a finding's ARN derived from a session
//!    ARN has no path, so it cannot show a protection by path: IAM's answer decides);
//! 2. `DescribeInstances` in the action's region; each instance must then
//!    - exist there, in the action's account (the reservation's `OwnerId`),
//!    - match its launch record: the same reservation (a record without one is refused: a time
//!      alone matches any instance of that minute), and a `LaunchTime` no earlier than 60 s before
//!      the record's (instance ids are never reused; a later one is the same instance stopped
//!      and started again, which must not dodge the stop),
//!    - not be tagged `launchguard:protected=true`.
//!
//! An instance tagged `launchguard:incident` with another value (which its launcher can set at
//! launch) is tagged with this incident instead, and stopped.
//!
//! An instance that fails a check is left alone and named in the outcome's warnings; the others
//! are acted on. An instance already stopped (or stopping) by someone else is left alone and not
//! tagged: launchguard did not stop it, so its release never starts it. One stopped and tagged by
//! another incident (launchguard's stop for an earlier finding over the same launches) is held in
//! place for this one too: when nothing else is left, `already_applied` with no reversal, so the
//! dispatcher's ledger counts this finding as holding the instances and a release of the earlier
//! finding alone keeps them stopped. None left: `refused`.
//! Only the instances launchguard stops are in the reversal; all of them already stopped and
//! tagged by this incident: `already_applied`, with the reversal. One that EC2 refuses to stop
//! (stop protection, a spot instance) does not shield the others: the batch is retried one
//! instance at a time and each refusal is named.
//!
//! Reversal (`start_instances`): refused unless its `incident` is the request's finding id (a
//! reversal undoes its own finding's stop); then only instances still tagged with that incident: a stopped one is
//! started and its tag removed; a running one only loses the tag (a retried reversal); one still
//! `stopping` makes it fail, retryably (a release right after the stop); any other (no tag,
//! another incident's, terminated) is left alone and named.

use std::collections::BTreeSet;

use launchguard_core::aggregate::LaunchedInstance;
use launchguard_core::contract::{Action, BoundPrincipal, INCIDENT_TAG, OutcomeStatus, PROTECTED_TAG, ResponseOutcome};
use launchguard_core::ids::validate_account_id;

use crate::envelope::{Ctx, Stop};
use crate::function::Spec;
use crate::ports::{AccessKeys, DescribeInstances, Instance, InstanceState, InstanceStates, InstanceTags, Roles, Users};
use crate::resolve::resolve_principal;

/// `stop_instances`.
pub static STOP: Spec = Spec {
    name: "stop_instances",
    reverses: None,
    permissions: &[
        "ec2:CreateTags",
        "ec2:DescribeInstances",
        "ec2:StopInstances",
        "iam:GetAccessKeyLastUsed",
        "iam:GetRole",
        "iam:GetUser",
    ],
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
    /// The user CloudTrail confirmed launching them, by IAM's unique id (the action's `bound`).
    pub(crate) bound: Option<&'a BoundPrincipal>,
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
pub(crate) async fn verify<E: DescribeInstances, I: Users + Roles + AccessKeys>(
    ctx: &Ctx<'_>,
    ec2: &E,
    iam: &I,
    s: &Set<'_>,
) -> Result<Verified, Stop> {
    check_account(ctx, s.account_id)?;
    resolve_principal(ctx, iam, s.account_id, s.principal_arn, s.bound).await?;
    let ids: Vec<String> = s.instances.iter().map(|l| l.instance_id.clone()).collect();
    let described = ec2.describe_instances(s.region, &ids).await?;
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
            Some(d) if d.launch_time.is_none_or(|t| (l.launched_at - t).num_seconds() >= 60) => Some(format!(
                "{id}: launched at {}, before the launch record's {}: not the launch the finding saw",
                d.launch_time.map_or("unknown".to_owned(), |t| t.to_rfc3339()),
                l.launched_at.to_rfc3339()
            )),
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
pub(crate) async fn stop<E: DescribeInstances + InstanceTags + InstanceStates, I: Users + Roles + AccessKeys>(
    ctx: &Ctx<'_>,
    ec2: &E,
    iam: &I,
    s: &Set<'_>,
) -> Result<ResponseOutcome, Stop> {
    let v = verify(ctx, ec2, iam, s).await?;
    let incident = ctx.req.finding_id.as_str();
    let mut skipped = v.skipped;
    // ours: stopped (or stopping) by an earlier attempt of this incident; to_stop: running
    let (mut ours, mut to_stop): (Vec<&Instance>, Vec<&Instance>) = (Vec::new(), Vec::new());
    // stopped (or stopping) and tagged by another incident: held in place by that one, and by this
    let mut others: Vec<&Instance> = Vec::new();
    for i in &v.ok {
        match i.state {
            Some(InstanceState::Terminated | InstanceState::ShuttingDown) => skipped.push(format!("{}: already terminated", i.id)),
            Some(InstanceState::Stopped | InstanceState::Stopping) if tagged_by(i, incident) => ours.push(i),
            Some(InstanceState::Stopped | InstanceState::Stopping) if i.tags.contains_key(INCIDENT_TAG) => {
                skipped.push(format!(
                    "{}: already stopped and tagged {INCIDENT_TAG}={} (another incident's stop): kept stopped while this finding holds it",
                    i.id,
                    i.tags.get(INCIDENT_TAG).map(String::as_str).unwrap_or_default()
                ));
                others.push(i);
            }
            Some(InstanceState::Stopped | InstanceState::Stopping) => {
                skipped.push(format!("{}: already stopped by someone else (not tagged, never started by a release)", i.id));
            }
            _ => {
                if let Some(other) = i.tags.get(INCIDENT_TAG).filter(|t| *t != incident) {
                    skipped.push(format!("{}: was tagged {INCIDENT_TAG}={other}; tagged with this incident instead", i.id));
                }
                to_stop.push(i);
            }
        }
    }
    let with = |mut o: ResponseOutcome, skipped: &[String]| {
        o.warnings = skipped.iter().map(|w| format!("left alone: {w}")).collect();
        o
    };
    let reversal = |stopped: &[&Instance]| Action::StartInstances {
        account_id: s.account_id.to_owned(),
        region: s.region.to_owned(),
        principal_arn: s.principal_arn.to_owned(),
        incident: incident.to_owned(),
        instance_ids: ids(stopped),
    };
    if to_stop.is_empty() {
        if ours.is_empty() && !others.is_empty() {
            let d = format!(
                "{} instance(s) in {} already stopped by another incident of launchguard: held for this finding too, never started by its release",
                others.len(),
                s.region
            );
            return Ok(with(ctx.outcome(OutcomeStatus::AlreadyApplied, d), &skipped));
        }
        if ours.is_empty() {
            return Err(Stop::Refuse(format!("no instance left to stop, nothing changed: {}", skipped.join("; "))));
        }
        let d = format!("{} instance(s) in {} already stopped and tagged {INCIDENT_TAG}={incident}", ours.len(), s.region);
        return Ok(with(ctx.already(d, reversal(&ours)), &skipped));
    }
    if ctx.dry_run() {
        let d = format!("dry run: would tag and stop {} instance(s) in {}: {}", to_stop.len(), s.region, ids(&to_stop).join(" "));
        return Ok(with(ctx.outcome(OutcomeStatus::DryRun, d), &skipped));
    }
    let to_tag: Vec<&Instance> = to_stop.iter().copied().filter(|i| !tagged_by(i, incident)).collect();
    if !to_tag.is_empty() {
        ec2.create_tag(s.region, &ids(&to_tag), INCIDENT_TAG, incident).await?;
    }
    let refused = each_or_one_by_one(&ids(&to_stop), |chunk| async move { ec2.stop_instances(s.region, &chunk).await }).await?;
    skipped.extend(refused.iter().map(|(id, e)| format!("{id}: EC2 refused to stop it ({e}); tagged, still running: stop it by hand")));
    // Tagged, whether EC2 stopped it or not: the release untags a running one and starts a
    // stopped one, so an instance EC2 refused is in the reversal too.
    let mut stopped = ours;
    stopped.extend(to_stop.iter().copied());
    let done: Vec<&Instance> = to_stop.iter().copied().filter(|i| !refused.iter().any(|(id, _)| *id == i.id)).collect();
    let list = ids(&done).join(" ");
    Ok(with(
        ctx.applied(
            format!("{} instance(s) in {} tagged {INCIDENT_TAG}={incident} and stopped: {list}", done.len(), s.region),
            format!("aws ec2 start-instances --region {} --instance-ids {}", s.region, ids(&stopped).join(" ")),
            Some(reversal(&stopped)),
        ),
        &skipped,
    ))
}

/// Run `call` on all `ids` at once; when EC2 refuses the batch for a reason a retry cannot fix
/// (one instance with stop or termination protection fails the whole call), run it again one
/// instance at a time, so that one instance cannot shield the others. Returns the instances EC2
/// refused, with why; an error only when it refused every one (or a retry can help).
pub(crate) async fn each_or_one_by_one<F, Fut>(ids: &[String], call: F) -> Result<Vec<(String, String)>, Stop>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(), launchguard_aws::CallError>>,
{
    match call(ids.to_vec()).await {
        Ok(()) => return Ok(Vec::new()),
        Err(e) if e.retryable || ids.len() == 1 => return Err(Stop::Fail(e)),
        Err(_) => {}
    }
    let mut refused = Vec::new();
    let mut last = None;
    for id in ids {
        match call(vec![id.clone()]).await {
            Ok(()) => {}
            Err(e) if e.retryable => return Err(Stop::Fail(e)),
            Err(e) => {
                refused.push((id.clone(), e.message.clone()));
                last = Some(e);
            }
        }
    }
    match last {
        Some(e) if refused.len() == ids.len() => Err(Stop::Fail(e)),
        _ => Ok(refused),
    }
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
    // A reversal undoes its own finding's stop: the dispatcher sends it under the finding id of
    // the ledger entry it reverses, which is the incident the stop tagged. A payload whose fields
    // disagree (a planted or mixed-up entry) would start another finding's instances.
    if incident != ctx.req.finding_id {
        return Err(Stop::Refuse(format!(
            "start_instances names incident {incident}, but the request is for finding {}: a reversal only undoes its own finding's stop; nothing changed",
            ctx.req.finding_id
        )));
    }
    let described = ec2.describe_instances(region, instance_ids).await?;
    let wanted: BTreeSet<&str> = instance_ids.iter().map(String::as_str).collect();
    let mut skipped = Vec::new();
    let (mut to_start, mut untag, mut stopping) = (Vec::new(), Vec::new(), Vec::new());
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
                Some(InstanceState::Stopping) => stopping.push(d.id.clone()),
                _ => skipped.push(format!("{id}: neither stopped nor running")),
            },
        }
    }
    // A release right after the stop: EC2 is still stopping them. Starting is refused until
    // they are stopped, so this fails, retryably: the release is retried, never recorded done.
    if !stopping.is_empty() {
        return Err(Stop::Fail(launchguard_aws::CallError {
            message: format!("{} instance(s) in {region} are still stopping ({}); retry in a minute", stopping.len(), stopping.join(" ")),
            code: Some("IncorrectInstanceState".into()),
            retryable: true,
        }));
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
