//! The launch routes, and the capacity a call of each asks for: instances requested.
//!
//! `RunInstances` is one way to start instances; a principal can also ask AWS for capacity that
//! AWS then launches itself, under a service-linked role (excluded from flagging, as AWS's own).
//! A route either CREATES capacity (its count is new instances) or RESIZES a group or fleet that
//! exists (its record gives only the new size):
//!
//! | event | change | size read | group or fleet |
//! |---|---|---|---|
//! | `ec2` `RunInstances` | create | `maxCount`, summed ([`crate::launch`]) | none |
//! | `ec2` `CreateFleet` (`instant`, `request`, `maintain`) | create | `CreateFleetRequest.TargetCapacitySpecification.TotalTargetCapacity` | `responseElements.CreateFleetResponse.fleetId` |
//! | `ec2` `RequestSpotInstances` | create | `instanceCount` (the API's default: 1, in a request with its `launchSpecification`) | none |
//! | `ec2` `RequestSpotFleet` | create | `spotFleetRequestConfig.targetCapacity` | `responseElements.spotFleetRequestId` |
//! | `autoscaling` `CreateAutoScalingGroup` | create | `desiredCapacity`, else `minSize` (AWS refuses a desired capacity below the minimum) | `autoScalingGroupName` |
//! | `eks` `CreateNodegroup` | create | `scalingConfig.desiredSize`, else `scalingConfig.minSize`, else 2 (the API's default) | `clusterName` / `nodegroupName` |
//! | `autoscaling` `UpdateAutoScalingGroup` | resize | `desiredCapacity`, else `minSize`, else no change | `autoScalingGroupName` |
//! | `autoscaling` `SetDesiredCapacity` | resize | `desiredCapacity` | `autoScalingGroupName` |
//! | `autoscaling` `PutScheduledUpdateGroupAction` | resize | `desiredCapacity`, else `minSize`, else no change | `autoScalingGroupName` |
//! | `ec2` `ModifyFleet` | resize | `ModifyFleetRequest.TargetCapacitySpecification.TotalTargetCapacity` | `ModifyFleetRequest.FleetId` |
//! | `ec2` `ModifySpotFleetRequest` | resize | `ModifySpotFleetRequestRequest.TargetCapacity`, else `targetCapacity` | `...SpotFleetRequestId`, else `spotFleetRequestId` |
//! | `eks` `UpdateNodegroupConfig` | resize | `scalingConfig.desiredSize`, else `scalingConfig.minSize`, else no change | `clusterName` (or `name`) / `nodegroupName` |
//!
//! The caller who asked is the principal counted, and what it asked for counts as instances
//! requested, judged by the same horizons as its own launches. A create counts its size. A
//! resize counts only the INCREASE over the size of the same group or fleet (same account,
//! region, kind and name, names compared exactly, as AWS does) that an earlier record of the same
//! read set (any principal's create or resize, in event-time order, creates before resizes at
//! the same millisecond): a decrease counts 0, and shrinking then growing again counts every
//! growth ([`crate::resize`]). A resize whose group's earlier size the read does not show counts
//! 0 towards the thresholds (so a cluster autoscaler growing a group of 20 to 21 is not
//! contained), and is never dropped: it is carried in the principal's activity
//! ([`crate::aggregate::Activity::unknown_prior_resizes`]) into the verdict, the scan report and
//! the detector's page, and the instances alarm (which counts the new size) wakes the detector,
//! whose unexplained datapoint pages a person. A record read alone (the stream's event, the
//! dispatcher's CloudTrail confirmation) shows no earlier size: there a resize counts 0, so a
//! finding resting on a resize's increase is not confirmed by CloudTrail's record alone and the
//! dispatcher only notifies. Only a call that vouches for its size ([`SetSize::vouches`]: its
//! count fields as CloudTrail writes them, [`as_written`], and not a service-linked role's own
//! call) gives a later resize its size before; any other makes the group's size unknown.
//!
//! A capacity in units of vCPUs or memory (`TargetCapacityUnitType`) or of weighted capacity is
//! counted as that many instances: more than AWS launches, never fewer. The instances AWS then
//! starts (`RunInstances` by `AWSServiceRoleForAutoScaling`, `AWSServiceRoleForEC2Fleet`,
//! `AWSServiceRoleForEC2Spot`...) stay excluded, so nothing is counted twice.
//!
//! Field names are matched as CloudTrail writes them (lower camel case for most of these APIs,
//! upper camel case inside `CreateFleetRequest` and `ModifyFleetRequest`) and, because exports
//! differ, without regard to the case of their first letter. The fields of `ModifyFleet`,
//! `ModifySpotFleetRequest`, `PutScheduledUpdateGroupAction` and the EKS calls follow the API
//! references and have not been checked against real records. A call whose count cannot be read
//! (CloudTrail omitted the request, or the field a count needs is absent or not a number) is
//! counted as [`crate::launch::launch_facts`] counts an unreadable `RunInstances`: a successful
//! one as [`crate::launch::OMITTED_COUNT`] (every instances threshold), a failed one as one, and
//! marked malformed.

use serde_json::Value;

use crate::record::CloudTrailRecord;

/// `ec2.amazonaws.com`.
pub const EC2: &str = "ec2.amazonaws.com";
/// `autoscaling.amazonaws.com`.
pub const AUTOSCALING: &str = "autoscaling.amazonaws.com";
/// `eks.amazonaws.com`.
pub const EKS: &str = "eks.amazonaws.com";

/// What a route does to capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// New capacity: the count is instances asked for.
    Create,
    /// A group's or fleet's new size: the count is the increase over its size before.
    Resize,
}

/// What a create or resize route sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sized {
    /// An Auto Scaling group.
    AutoScalingGroup,
    /// An EC2 fleet.
    Fleet,
    /// A spot fleet request.
    SpotFleet,
    /// An EKS managed node group (cluster / node group).
    Nodegroup,
}

impl Sized {
    /// Its name in words.
    pub fn word(self) -> &'static str {
        match self {
            Self::AutoScalingGroup => "Auto Scaling group",
            Self::Fleet => "EC2 fleet",
            Self::SpotFleet => "spot fleet request",
            Self::Nodegroup => "EKS node group",
        }
    }
}

/// One group or fleet: where it is and its name, exactly as the record writes it (AWS compares
/// these names exactly: `web` and `WEB` are two groups).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId {
    /// The account the call was made in (`recipientAccountId`, else the caller's account).
    pub account: String,
    /// `awsRegion`.
    pub region: String,
    /// What it is.
    pub kind: Sized,
    /// Its name or id (`cluster/nodegroup` for a node group); empty when the record does not say.
    pub name: String,
}

/// A size a call set: a create's (the group's size after it) or a resize's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSize {
    /// The group or fleet.
    pub group: GroupId,
    /// The size the call names (a create's size; a resize's desired size, else its minimum,
    /// else its maximum): what a report shows.
    pub size: u64,
    /// What the call did.
    pub change: Change,
    /// A resize's bounds: the desired size (a fleet's target capacity), the minimum and the
    /// maximum it sets, each when given. The size after it is the desired size (else the size
    /// before), raised to the minimum and lowered to the maximum, as AWS keeps a group's desired
    /// capacity inside its bounds.
    pub desired: Option<u64>,
    /// The minimum it sets.
    pub min: Option<u64>,
    /// The maximum it sets.
    pub max: Option<u64>,
    /// Whether the size it sets may stand as a later call's size before ([`crate::resize`]):
    /// false for a call whose count fields are not as CloudTrail writes them ([`as_written`]:
    /// the instances metric's filters did not count it) and for a call a service-linked role
    /// made for its service ([`crate::principal::is_made_by_aws_service_for`]: never flagged).
    /// Such a call makes the group's size unknown from then on, and a resize of it counts as a
    /// resize of unknown prior size.
    pub vouches: bool,
}

/// A resize's `(desired, minimum, maximum)` as its request gives them ([`SetSize`]); `None`
/// for a route that resizes nothing, or a request that changes no size (a launch template, labels).
pub fn bounds(route: Route, request: &Value) -> Option<(Option<u64>, Option<u64>, Option<u64>)> {
    let n = |path: &[&str]| number(at(request, path));
    let b = match route {
        Route::UpdateAutoScalingGroup | Route::SetDesiredCapacity | Route::PutScheduledUpdateGroupAction => {
            (n(&["desiredCapacity"]), n(&["minSize"]), n(&["maxSize"]))
        }
        Route::UpdateNodegroupConfig => {
            (n(&["scalingConfig", "desiredSize"]), n(&["scalingConfig", "minSize"]), n(&["scalingConfig", "maxSize"]))
        }
        Route::ModifyFleet | Route::ModifySpotFleetRequest => (requested(route, request), None, None),
        _ => return None,
    };
    (b != (None, None, None)).then_some(b)
}

/// A call that starts instances, or asks AWS for capacity that it then launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `ec2:RunInstances`.
    RunInstances,
    /// `ec2:CreateFleet`.
    CreateFleet,
    /// `ec2:RequestSpotInstances`.
    RequestSpotInstances,
    /// `ec2:RequestSpotFleet`.
    RequestSpotFleet,
    /// `autoscaling:CreateAutoScalingGroup`.
    CreateAutoScalingGroup,
    /// `autoscaling:UpdateAutoScalingGroup`.
    UpdateAutoScalingGroup,
    /// `autoscaling:SetDesiredCapacity`.
    SetDesiredCapacity,
    /// `autoscaling:PutScheduledUpdateGroupAction`.
    PutScheduledUpdateGroupAction,
    /// `ec2:ModifyFleet`.
    ModifyFleet,
    /// `ec2:ModifySpotFleetRequest`.
    ModifySpotFleetRequest,
    /// `eks:CreateNodegroup`.
    CreateNodegroup,
    /// `eks:UpdateNodegroupConfig`.
    UpdateNodegroupConfig,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 12] = [
        Self::RunInstances,
        Self::CreateFleet,
        Self::RequestSpotInstances,
        Self::RequestSpotFleet,
        Self::ModifyFleet,
        Self::ModifySpotFleetRequest,
        Self::CreateAutoScalingGroup,
        Self::UpdateAutoScalingGroup,
        Self::SetDesiredCapacity,
        Self::PutScheduledUpdateGroupAction,
        Self::CreateNodegroup,
        Self::UpdateNodegroupConfig,
    ];

    /// Its `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            Self::CreateAutoScalingGroup
            | Self::UpdateAutoScalingGroup
            | Self::SetDesiredCapacity
            | Self::PutScheduledUpdateGroupAction => AUTOSCALING,
            Self::CreateNodegroup | Self::UpdateNodegroupConfig => EKS,
            _ => EC2,
        }
    }

    /// Whether it creates capacity or resizes a group or fleet.
    pub fn change(self) -> Change {
        match self {
            Self::UpdateAutoScalingGroup
            | Self::SetDesiredCapacity
            | Self::PutScheduledUpdateGroupAction
            | Self::ModifyFleet
            | Self::ModifySpotFleetRequest
            | Self::UpdateNodegroupConfig => Change::Resize,
            _ => Change::Create,
        }
    }

    /// What it sizes, when it sizes a group or fleet.
    pub fn sizes(self) -> Option<Sized> {
        match self {
            Self::RunInstances | Self::RequestSpotInstances => None,
            Self::CreateFleet | Self::ModifyFleet => Some(Sized::Fleet),
            Self::RequestSpotFleet | Self::ModifySpotFleetRequest => Some(Sized::SpotFleet),
            Self::CreateAutoScalingGroup
            | Self::UpdateAutoScalingGroup
            | Self::SetDesiredCapacity
            | Self::PutScheduledUpdateGroupAction => Some(Sized::AutoScalingGroup),
            Self::CreateNodegroup | Self::UpdateNodegroupConfig => Some(Sized::Nodegroup),
        }
    }

    /// Its `eventName`.
    pub fn event_name(self) -> &'static str {
        match self {
            Self::RunInstances => "RunInstances",
            Self::CreateFleet => "CreateFleet",
            Self::RequestSpotInstances => "RequestSpotInstances",
            Self::RequestSpotFleet => "RequestSpotFleet",
            Self::CreateAutoScalingGroup => "CreateAutoScalingGroup",
            Self::UpdateAutoScalingGroup => "UpdateAutoScalingGroup",
            Self::SetDesiredCapacity => "SetDesiredCapacity",
            Self::PutScheduledUpdateGroupAction => "PutScheduledUpdateGroupAction",
            Self::ModifyFleet => "ModifyFleet",
            Self::ModifySpotFleetRequest => "ModifySpotFleetRequest",
            Self::CreateNodegroup => "CreateNodegroup",
            Self::UpdateNodegroupConfig => "UpdateNodegroupConfig",
        }
    }

    /// The route of this source and name.
    pub fn named(event_source: &str, event_name: &str) -> Option<Route> {
        Self::ALL.into_iter().find(|r| r.event_source() == event_source && r.event_name() == event_name)
    }

    /// The route of a record, when it is a launch.
    pub fn of<Q, S>(record: &CloudTrailRecord<'_, Q, S>) -> Option<Route> {
        Self::named(record.event_source.as_deref()?, record.event_name.as_deref()?)
    }

    /// The paths (from `requestParameters`) of the numbers a call of this route asks for, in
    /// the order [`requested`] reads them (the first one given decides); empty for
    /// `RunInstances` (counted by [`crate::launch`]).
    pub fn count_fields(self) -> &'static [&'static [&'static str]] {
        match self {
            Self::RunInstances => &[],
            Self::CreateFleet => &[&["CreateFleetRequest", "TargetCapacitySpecification", "TotalTargetCapacity"]],
            Self::ModifyFleet => &[&["ModifyFleetRequest", "TargetCapacitySpecification", "TotalTargetCapacity"]],
            Self::RequestSpotInstances => &[&["instanceCount"]],
            Self::RequestSpotFleet => &[&["spotFleetRequestConfig", "targetCapacity"]],
            Self::ModifySpotFleetRequest => &[&["ModifySpotFleetRequestRequest", "TargetCapacity"], &["targetCapacity"]],
            Self::CreateAutoScalingGroup | Self::UpdateAutoScalingGroup | Self::PutScheduledUpdateGroupAction => {
                &[&["desiredCapacity"], &["minSize"]]
            }
            Self::SetDesiredCapacity => &[&["desiredCapacity"]],
            Self::CreateNodegroup | Self::UpdateNodegroupConfig => &[&["scalingConfig", "desiredSize"], &["scalingConfig", "minSize"]],
        }
    }

    /// The paths of the group's or fleet's name: in `requestParameters`, or (`response`) in
    /// `responseElements` for a fleet AWS names when it creates it; each tried in order.
    pub fn name_fields(self) -> (bool, &'static [&'static [&'static str]]) {
        match self {
            Self::RunInstances | Self::RequestSpotInstances => (false, &[]),
            Self::CreateFleet => (true, &[&["CreateFleetResponse", "fleetId"], &["fleetId"]]),
            Self::RequestSpotFleet => (true, &[&["RequestSpotFleetResponse", "spotFleetRequestId"], &["spotFleetRequestId"]]),
            Self::ModifyFleet => (false, &[&["ModifyFleetRequest", "FleetId"], &["fleetId"]]),
            Self::ModifySpotFleetRequest => (false, &[&["ModifySpotFleetRequestRequest", "SpotFleetRequestId"], &["spotFleetRequestId"]]),
            Self::CreateAutoScalingGroup
            | Self::UpdateAutoScalingGroup
            | Self::SetDesiredCapacity
            | Self::PutScheduledUpdateGroupAction => (false, &[&["autoScalingGroupName"]]),
            Self::CreateNodegroup | Self::UpdateNodegroupConfig => (false, &[&["nodegroupName"]]),
        }
    }
}

/// True when the record starts instances or asks for capacity ([`Route`]).
pub fn is_launch<Q, S>(record: &CloudTrailRecord<'_, Q, S>) -> bool {
    Route::of(record).is_some()
}

/// `o[key]`, the key's first letter in either case (`TargetCapacity` or `targetCapacity`).
fn field<'v>(o: &'v Value, key: &str) -> Option<&'v Value> {
    let m = o.as_object()?;
    if let Some(v) = m.get(key) {
        return Some(v);
    }
    let mut c = key.chars();
    let first = c.next()?;
    let first = if first.is_ascii_uppercase() { first.to_ascii_lowercase() } else { first.to_ascii_uppercase() };
    let mut flipped = String::with_capacity(key.len());
    flipped.push(first);
    flipped.push_str(c.as_str());
    m.get(&flipped)
}

fn at<'v>(o: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(o, |v, k| field(v, k))
}

/// True when every count field of `route` ([`Route::count_fields`]) that `request` gives (its
/// name's first letter in either case, as [`requested`] reads it) is given as CloudTrail writes
/// it: under the exact name the instances metric's filters match (`alarm_plan` renders the
/// same [`Route::count_fields`] as `$.requestParameters.<path>`) and as a JSON number (a filter's
/// `>=` never matches a string). The one place that decides whether a count core reads is one
/// the metric can have added: a record for which it is false never gives a group its size
/// before ([`SetSize::vouches`]) and its count is left out of what explains an alarm's
/// datapoint (`LaunchFacts::unfiltered`).
pub fn as_written(route: Route, request: &Value) -> bool {
    route.count_fields().iter().all(|path| match at(request, path) {
        None | Some(Value::Null) => true,
        Some(_) => matches!(path.iter().try_fold(request, |v, k| v.get(k)), Some(Value::Number(_))),
    })
}

/// A count as CloudTrail writes it (a number; some exports write a string); `None` when absent
/// or not a whole number at or above 0.
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1e12).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What a call of `route` (not `RunInstances`) asks for, from its `requestParameters`:
/// `Some(n)` when read, `None` when the count cannot be read (absent request, a count field
/// absent where the API requires one, or not a number).
pub fn requested(route: Route, request: &Value) -> Option<u64> {
    if !request.is_object() || field(request, "omitted").is_some_and(|v| v.as_bool() == Some(true)) {
        return None;
    }
    let read = |path: &[&str]| -> Result<Option<u64>, ()> {
        match at(request, path) {
            None | Some(Value::Null) => Ok(None),
            v => number(v).map(Some).ok_or(()),
        }
    };
    match route {
        Route::RunInstances => None,
        Route::CreateFleet | Route::RequestSpotFleet | Route::SetDesiredCapacity | Route::ModifyFleet => {
            read(route.count_fields()[0]).ok().flatten()
        }
        Route::ModifySpotFleetRequest => match read(route.count_fields()[0]) {
            Ok(None) => read(route.count_fields()[1]).ok().flatten(),
            v => v.ok().flatten(),
        },
        Route::CreateNodegroup | Route::UpdateNodegroupConfig => {
            let desired = read(route.count_fields()[0]).ok()?;
            let min = read(route.count_fields()[1]).ok()?;
            let named = field(request, "nodegroupName").filter(|v| v.is_string()).is_some();
            match (desired, min, route) {
                (Some(d), _, _) => Some(d),
                (None, Some(m), _) => Some(m),
                // the API's default scaling configuration (desired size 2), for a request that
                // names its node group
                (None, None, Route::CreateNodegroup) => named.then_some(2),
                // an update of other settings (labels, taints): no change of size
                (None, None, _) => named.then_some(0),
            }
        }
        // the API launches one when the count is not given
        // (its launch specification is what every real request holds: without it the request
        // is not readable)
        Route::RequestSpotInstances => match read(route.count_fields()[0]) {
            Ok(Some(n)) => Some(n),
            Ok(None) => field(request, "launchSpecification").filter(|v| v.is_object()).map(|_| 1),
            Err(()) => None,
        },
        Route::CreateAutoScalingGroup | Route::UpdateAutoScalingGroup | Route::PutScheduledUpdateGroupAction => {
            let desired = read(&["desiredCapacity"]).ok()?;
            let min = read(&["minSize"]).ok()?;
            match (desired, min, route) {
                // AWS refuses a desired capacity below the minimum: a successful call's group
                // holds `desiredCapacity` when given, else at least `minSize`
                (Some(d), _, _) => Some(d),
                (None, Some(m), _) => Some(m),
                // CreateAutoScalingGroup requires minSize
                (None, None, Route::CreateAutoScalingGroup) => None,
                // an update that changes neither (a launch template, a maximum): no capacity;
                // but every update names its group
                (None, None, _) => field(request, "autoScalingGroupName").filter(|v| v.is_string()).map(|_| 0),
            }
        }
    }
}

/// The group or fleet a call of `route` sizes, named by its request or (a fleet AWS names when
/// it creates it) its response: `None` for a route that sizes none, an empty name when the
/// record does not say which. A node group is `cluster/nodegroup`.
pub fn group_name(route: Route, request: Option<&Value>, response: Option<&Value>) -> Option<String> {
    route.sizes()?;
    let (in_response, paths) = route.name_fields();
    let from = if in_response { response } else { request };
    let name = from.and_then(|v| paths.iter().find_map(|p| at(v, p).and_then(Value::as_str))).unwrap_or_default();
    if route.sizes() == Some(Sized::Nodegroup) {
        let cluster =
            request.and_then(|v| field(v, "clusterName").or_else(|| field(v, "name"))).and_then(Value::as_str).unwrap_or_default();
        if cluster.is_empty() || name.is_empty() {
            return Some(String::new());
        }
        return Some(format!("{cluster}/{name}"));
    }
    Some(name.to_owned())
}

/// The instance type a call of `route` names in its request, when it names one.
pub fn instance_type(route: Route, request: &Value) -> Option<String> {
    let v = match route {
        Route::RequestSpotInstances => at(request, &["launchSpecification", "instanceType"]),
        _ => None,
    };
    v.and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn each_route_reads_its_count() {
        let cases = [
            (
                Route::CreateFleet,
                json!({"CreateFleetRequest": {"TargetCapacitySpecification": {"TotalTargetCapacity": 40}, "Type": "instant"}}),
                Some(40),
            ),
            (Route::RequestSpotInstances, json!({"instanceCount": 20, "spotPrice": "5.00"}), Some(20)),
            (Route::RequestSpotInstances, json!({"spotPrice": "5.00", "launchSpecification": {"imageId": "ami-1"}}), Some(1)),
            (Route::RequestSpotInstances, json!({"spotPrice": "5.00"}), None),
            (Route::RequestSpotFleet, json!({"spotFleetRequestConfig": {"targetCapacity": 300}}), Some(300)),
            (Route::RequestSpotFleet, json!({"SpotFleetRequestConfig": {"TargetCapacity": "7"}}), Some(7)),
            (Route::CreateAutoScalingGroup, json!({"autoScalingGroupName": "g", "minSize": 500, "maxSize": 500}), Some(500)),
            (Route::CreateAutoScalingGroup, json!({"autoScalingGroupName": "g", "minSize": 0, "desiredCapacity": 12}), Some(12)),
            (Route::CreateAutoScalingGroup, json!({"autoScalingGroupName": "g", "minSize": 0, "desiredCapacity": "x"}), None),
            (Route::CreateAutoScalingGroup, json!({"autoScalingGroupName": "g"}), None),
            (Route::UpdateAutoScalingGroup, json!({"autoScalingGroupName": "g", "maxSize": 900}), Some(0)),
            (Route::UpdateAutoScalingGroup, json!({"autoScalingGroupName": "g", "minSize": 30}), Some(30)),
            (Route::UpdateAutoScalingGroup, json!({"maxSize": 900}), None),
            (Route::SetDesiredCapacity, json!({"autoScalingGroupName": "g", "desiredCapacity": 64}), Some(64)),
            (Route::SetDesiredCapacity, json!({"autoScalingGroupName": "g", "desiredCapacity": -3}), None),
            (Route::SetDesiredCapacity, json!({"omitted": true, "originalSize": 150_000}), None),
            (
                Route::ModifyFleet,
                json!({"ModifyFleetRequest": {"FleetId": "fleet-1", "TargetCapacitySpecification": {"TotalTargetCapacity": 9}}}),
                Some(9),
            ),
            (
                Route::ModifySpotFleetRequest,
                json!({"ModifySpotFleetRequestRequest": {"SpotFleetRequestId": "sfr-1", "TargetCapacity": 8}}),
                Some(8),
            ),
            (Route::ModifySpotFleetRequest, json!({"spotFleetRequestId": "sfr-1", "targetCapacity": "6"}), Some(6)),
            (Route::ModifySpotFleetRequest, json!({"spotFleetRequestId": "sfr-1", "targetCapacity": -6}), None),
            (Route::PutScheduledUpdateGroupAction, json!({"autoScalingGroupName": "g", "scheduledActionName": "a", "minSize": 5}), Some(5)),
            (Route::PutScheduledUpdateGroupAction, json!({"autoScalingGroupName": "g", "scheduledActionName": "a", "maxSize": 5}), Some(0)),
            (Route::CreateNodegroup, json!({"clusterName": "c", "nodegroupName": "n", "scalingConfig": {"desiredSize": 30}}), Some(30)),
            (Route::CreateNodegroup, json!({"clusterName": "c", "nodegroupName": "n"}), Some(2)),
            (Route::UpdateNodegroupConfig, json!({"name": "c", "nodegroupName": "n", "labels": {}}), Some(0)),
            (Route::UpdateNodegroupConfig, json!({"name": "c", "nodegroupName": "n", "scalingConfig": {"minSize": 4}}), Some(4)),
            (Route::UpdateNodegroupConfig, json!({"name": "c", "scalingConfig": {"desiredSize": "x"}}), None),
        ];
        for (route, request, want) in cases {
            assert_eq!(requested(route, &request), want, "{route:?} {request}");
        }
    }

    #[test]
    fn every_route_is_named_once() {
        for r in Route::ALL {
            assert_eq!(Route::named(r.event_source(), r.event_name()), Some(r));
        }
        assert_eq!(Route::named(AUTOSCALING, "RunInstances"), None);
    }

    #[test]
    fn groups_are_named_exactly_and_fleets_by_their_response() {
        let fleet = json!({"CreateFleetResponse": {"fleetId": "fleet-9"}});
        assert_eq!(group_name(Route::CreateFleet, Some(&json!({})), Some(&fleet)).as_deref(), Some("fleet-9"));
        assert_eq!(group_name(Route::CreateFleet, Some(&json!({})), None).as_deref(), Some(""));
        let asg = json!({"autoScalingGroupName": "Web"});
        assert_eq!(group_name(Route::SetDesiredCapacity, Some(&asg), None).as_deref(), Some("Web"));
        let ng = json!({"clusterName": "c", "nodegroupName": "n"});
        assert_eq!(group_name(Route::CreateNodegroup, Some(&ng), None).as_deref(), Some("c/n"));
        assert_eq!(group_name(Route::RunInstances, Some(&asg), None), None);
    }
}
