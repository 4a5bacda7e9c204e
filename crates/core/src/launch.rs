//! Counting EC2 launches: instances, not calls. A `RunInstances` record as below; a call that
//! asks AWS for capacity (a fleet, spot requests, an Auto Scaling group: [`crate::capacity`])
//! for the instances it asks for, its failures and dry runs counted alike.
//!
//! - launched: the items of `responseElements.instancesSet` (with their instance ids);
//! - requested: `maxCount` summed over `requestParameters.instancesSet.items` (a failed call
//!   still requested them: an attacker stopped by a vCPU limit is still an attacker);
//! - failed: an `errorCode` other than `Client.DryRunOperation`;
//! - dry run: `Client.DryRunOperation` is a permission check, not a launch: counted apart.
//!
//! A call that resizes a group or fleet ([`crate::capacity::Change::Resize`]) counts 0 here, its
//! new size carried in [`LaunchFacts::set_size`]: the increase depends on earlier records of the
//! read, which [`crate::resize::resolve`] weighs when the read closes.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use crate::capacity::{Change, GroupId, Route, SetSize, as_written, group_name, instance_type, requested};
use crate::record::CloudTrailRecord;

/// A `RunInstances` record with its request and response read in the same pass.
pub type LaunchRecord<'a> = CloudTrailRecord<'a, Request<'a>, Response<'a>>;

/// The `errorCode` of a successful dry run.
pub const DRY_RUN_ERROR: &str = "Client.DryRunOperation";

/// What a successful launch whose count CloudTrail omitted counts for: as many instances as any
/// threshold can be ([`crate::rules::MAX_THRESHOLD`] is this), so it reaches every instances
/// horizon, as the instances metric filter counts it. What it really launched is not known; the
/// dispatcher's CloudTrail confirmation still decides before anything is contained.
pub const OMITTED_COUNT: u64 = 1_000_000;

/// What one `RunInstances` record says about instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchFacts {
    /// Instances actually started (0 on error).
    pub launched: u64,
    /// Instances asked for (`maxCount`, summed); 0 for a dry run.
    pub requested: u64,
    /// The call failed (not counting dry runs).
    pub failed: bool,
    /// The call was a dry run.
    pub dry_run: bool,
    /// `errorCode`, when present.
    pub error_code: Option<String>,
    /// Ids of the instances started.
    pub instance_ids: Vec<String>,
    /// `launchTime` of each started instance (epoch ms) as the response gives it, in the order of
    /// `instance_ids` (`None` when absent or unreadable).
    pub launch_times_ms: Vec<Option<i64>>,
    /// `responseElements.reservationId`, when the response has it.
    pub reservation_id: Option<String>,
    /// `responseElements.requestId` (the EC2 request id), when the response has it.
    pub request_id: Option<String>,
    /// Instance types, requested or launched.
    pub instance_types: Vec<String>,
    /// What the call created (IAM calls counted as calls: a user, an access key).
    pub created: Option<crate::created::Created>,
    /// True when `requestParameters` or `responseElements` had an unexpected shape, or when
    /// neither says how many instances a call asked for; the counts then hold what could be read
    /// (at least one instance requested).
    pub malformed: bool,
    /// A successful launch (not a dry run, no `errorCode`) whose count neither the request nor
    /// the response says (CloudTrail omitted them): `requested` is then [`OMITTED_COUNT`].
    pub count_omitted: bool,
    /// The size a successful call set on a group or fleet ([`crate::capacity`]): a create's (its
    /// `requested` counts it) or a resize's (its `requested` is 0 until the read's earlier sizes
    /// say the increase, [`crate::resize`]).
    pub set_size: Option<SetSize>,
    /// A count read from fields not as CloudTrail writes them ([`crate::capacity::as_written`]):
    /// the instances metric's filters cannot have added `requested`, so it never explains an
    /// alarm's datapoint ([`crate::aggregate::Aggregate::unfiltered_requested`]).
    pub unfiltered: bool,
}

/// The `requestParameters` of `RunInstances`, as far as counting needs.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    #[serde(default)]
    instances_set: Option<Items<RequestItem>>,
    #[serde(borrow, default)]
    instance_type: Option<Cow<'a, str>>,
}

/// One item of `requestParameters.instancesSet`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RequestItem {
    #[serde(default, deserialize_with = "lenient_u64")]
    max_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    min_count: Option<u64>,
}

/// The `responseElements` of `RunInstances`, as far as counting needs.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Response<'a> {
    #[serde(borrow, default)]
    instances_set: Option<Items<ResponseItem<'a>>>,
    #[serde(borrow, default)]
    reservation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
}

/// One item of `responseElements.instancesSet`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResponseItem<'a> {
    #[serde(borrow, default)]
    instance_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    instance_type: Option<Cow<'a, str>>,
    /// Epoch milliseconds in CloudTrail (a number; some exports write a string).
    #[serde(default, deserialize_with = "lenient_u64")]
    launch_time: Option<u64>,
}

/// `{"items": [...]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

/// CloudTrail writes counts as numbers; some exports write them as strings.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N<'a> {
        U(u64),
        S(&'a str),
        F(f64),
    }
    Ok(match Option::<N<'_>>::deserialize(d)? {
        Some(N::U(n)) => Some(n),
        Some(N::S(s)) => s.trim().parse().ok(),
        Some(N::F(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1e12 => Some(f as u64),
        _ => None,
    })
}

/// Read the launch facts of a launch record ([`Route`]) whose request and response are still
/// raw: `RunInstances`, or a call asking for capacity. Never fails: what cannot be read is
/// flagged with [`LaunchFacts::malformed`].
pub fn launch_facts(record: &CloudTrailRecord<'_>) -> LaunchFacts {
    if let Some(route) = Route::of(record).filter(|r| *r != Route::RunInstances) {
        let mut f = capacity_facts(route, record.error_code.as_deref(), record.request_parameters, record.response_elements);
        if let Some(s) = f.set_size.as_mut() {
            let account =
                record.recipient_account_id.as_deref().or_else(|| record.user_identity.as_ref().and_then(|u| u.account_id.as_deref()));
            s.group.account = account.unwrap_or_default().to_owned();
            s.group.region = record.aws_region.as_deref().unwrap_or_default().to_owned();
        }
        return f;
    }
    let mut malformed = false;
    let req: Option<Request<'_>> = record.request_parameters.and_then(|r| serde_json::from_str(r.get()).map_err(|_| malformed = true).ok());
    let resp: Option<Response<'_>> = match record.error_code {
        Some(_) => None,
        None => record.response_elements.and_then(|r| serde_json::from_str(r.get()).map_err(|_| malformed = true).ok()),
    };
    let mut f = facts(record.error_code.as_deref(), req.as_ref(), resp);
    f.malformed |= malformed;
    f
}

/// The launch facts of a record of `route` (not `RunInstances`), its `requestParameters` and
/// `responseElements` still raw. Never fails: what cannot be read is marked
/// [`LaunchFacts::malformed`] and counted as [`crate::capacity`] says. A resize counts 0, its new
/// size in [`LaunchFacts::set_size`] (the group's account and region left empty:
/// [`launch_facts`] fills them from the record).
pub fn capacity_facts(
    route: Route,
    error_code: Option<&str>,
    request: Option<&serde_json::value::RawValue>,
    response: Option<&serde_json::value::RawValue>,
) -> LaunchFacts {
    let mut f = LaunchFacts { error_code: error_code.map(str::to_owned), ..LaunchFacts::default() };
    f.dry_run = error_code == Some(DRY_RUN_ERROR);
    f.failed = error_code.is_some() && !f.dry_run;
    if f.dry_run {
        return f;
    }
    let value: Option<serde_json::Value> = request.and_then(|r| serde_json::from_str(r.get()).ok());
    match value.as_ref().and_then(|v| requested(route, v)) {
        Some(n) => {
            f.requested = if route.change() == Change::Resize { 0 } else { n };
            f.unfiltered = !value.as_ref().is_some_and(|v| as_written(route, v));
            let bounds = match (route.change(), value.as_ref()) {
                (Change::Resize, Some(v)) => crate::capacity::bounds(route, v),
                _ => Some((Some(n), None, None)),
            };
            // a resize that changes no size (a launch template, labels) sets none
            if !f.failed
                && let Some(kind) = route.sizes()
                && let Some((desired, min, max)) = bounds
            {
                let response: Option<serde_json::Value> = response.and_then(|r| serde_json::from_str(r.get()).ok());
                let name = group_name(route, value.as_ref(), response.as_ref()).unwrap_or_default();
                let group = GroupId { account: String::new(), region: String::new(), kind, name };
                let size = desired.or(min).or(max).unwrap_or(n);
                let vouches = value.as_ref().is_some_and(|v| as_written(route, v));
                f.set_size = Some(SetSize { group, size, change: route.change(), desired, min, max, vouches });
            }
        }
        None => {
            f.malformed = true;
            f.count_omitted = !f.failed;
            f.requested = if f.failed { 1 } else { OMITTED_COUNT };
        }
    }
    if let Some(t) = value.as_ref().and_then(|v| instance_type(route, v)) {
        f.instance_types.push(t);
    }
    f
}

/// Read the launch facts of a `RunInstances` record read in one pass.
pub fn launch_record_facts(record: &mut LaunchRecord<'_>) -> LaunchFacts {
    let resp = record.response_elements.take();
    facts(record.error_code.as_deref(), record.request_parameters.as_ref(), resp)
}

fn facts(error_code: Option<&str>, req: Option<&Request<'_>>, resp: Option<Response<'_>>) -> LaunchFacts {
    let mut f = LaunchFacts { error_code: error_code.map(str::to_owned), ..LaunchFacts::default() };
    f.dry_run = error_code == Some(DRY_RUN_ERROR);
    f.failed = error_code.is_some() && !f.dry_run;
    if let Some(t) = req.and_then(|r| r.instance_type.as_deref()) {
        f.instance_types.push(t.to_owned());
    }
    let max_sum: u64 = req
        .and_then(|r| r.instances_set.as_ref())
        .map(|s| s.items.iter().map(|i| i.max_count.or(i.min_count).unwrap_or(1)).fold(0u64, u64::saturating_add))
        .unwrap_or(0);
    if error_code.is_none()
        && let Some(resp) = resp
        && let Some(set) = resp.instances_set
    {
        f.reservation_id = resp.reservation_id.map(Cow::into_owned);
        f.request_id = resp.request_id.map(Cow::into_owned);
        f.launched = set.items.len() as u64;
        f.instance_ids.reserve(set.items.len());
        for it in set.items {
            if let Some(id) = it.instance_id {
                f.instance_ids.push(id.into_owned());
                f.launch_times_ms.push(it.launch_time.and_then(|t| i64::try_from(t).ok()));
            }
            if let Some(t) = it.instance_type
                && !f.instance_types.iter().any(|x| *x == t)
            {
                f.instance_types.push(t.into_owned());
            }
        }
    }
    f.requested = if f.dry_run { 0 } else { max_sum.max(f.launched) };
    // A call that is not a dry run asked for at least one instance. When neither the request nor
    // the response says how many (CloudTrail replaces a field over its size limit by
    // `{"omitted": true, ...}`, and a large `TagSpecifications` gets it there), the count is not
    // known and the record is flagged, so the read is incomplete. A successful launch may have
    // started any number: it counts as every threshold ([`OMITTED_COUNT`]), as the instances
    // metric filter counts it; a failed one counts the one it certainly asked for.
    if !f.dry_run && f.requested == 0 {
        f.count_omitted = !f.failed;
        f.requested = if f.failed { 1 } else { OMITTED_COUNT };
        f.malformed = true;
    }
    f
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn dry_runs_ask_for_nothing_and_unreadable_successes_for_every_threshold() {
        let raw = serde_json::value::RawValue::from_string(json!({"instanceCount": 50}).to_string()).unwrap();
        let f = capacity_facts(Route::RequestSpotInstances, Some(DRY_RUN_ERROR), Some(&raw), None);
        assert!(f.dry_run && f.requested == 0 && !f.failed);
        let f = capacity_facts(Route::RequestSpotInstances, Some("Client.MaxSpotInstanceCountExceeded"), Some(&raw), None);
        assert!(f.failed && f.requested == 50);
        let f = capacity_facts(Route::SetDesiredCapacity, None, None, None);
        assert!(f.malformed && f.count_omitted && f.requested == OMITTED_COUNT);
        let f = capacity_facts(Route::SetDesiredCapacity, Some("ValidationError"), None, None);
        assert!(f.malformed && !f.count_omitted && f.requested == 1);
        // a resize counts nothing by itself: its new size waits for the read's earlier sizes
        let raw =
            serde_json::value::RawValue::from_string(json!({"autoScalingGroupName": "g", "desiredCapacity": 21}).to_string()).unwrap();
        let f = capacity_facts(Route::SetDesiredCapacity, None, Some(&raw), None);
        assert_eq!((f.requested, f.set_size.map(|s| (s.size, s.change))), (0, Some((21, Change::Resize))));
        let f = capacity_facts(Route::SetDesiredCapacity, Some("ValidationError"), Some(&raw), None);
        assert!(f.failed && f.requested == 0 && f.set_size.is_none());
    }
}
