//! The launch routes, and the capacity a call of each asks for: instances requested.
//!
//! `RunInstances` is one way to start instances; a principal can also ask AWS for capacity that
//! AWS then launches itself, under a service-linked role (excluded from flagging, as AWS's own):
//!
//! | event | requested instances |
//! |---|---|
//! | `ec2` `RunInstances` | `maxCount`, summed ([`crate::launch`]) |
//! | `ec2` `CreateFleet` (`instant`, `request`, `maintain`) | `CreateFleetRequest.TargetCapacitySpecification.TotalTargetCapacity` |
//! | `ec2` `RequestSpotInstances` | `instanceCount` (the API's default: 1, in a request with its `launchSpecification`) |
//! | `ec2` `RequestSpotFleet` | `spotFleetRequestConfig.targetCapacity` |
//! | `autoscaling` `CreateAutoScalingGroup` | `desiredCapacity`, else `minSize` (AWS refuses a desired capacity below the minimum) |
//! | `autoscaling` `UpdateAutoScalingGroup` | `desiredCapacity`, else `minSize`, else 0 (a change of neither) |
//! | `autoscaling` `SetDesiredCapacity` | `desiredCapacity` |
//!
//! The caller who asked is the principal counted, and what it asked for counts as instances
//! requested, judged by the same horizons as its own launches. A group's or fleet's size is
//! counted, not the change from its size before (CloudTrail does not record that): a principal
//! that resizes a large group often needs a higher allowance. A capacity in units of vCPUs or
//! memory (`TargetCapacityUnitType`) or of weighted capacity is counted as that many instances:
//! more than AWS launches, never fewer. The instances AWS then starts (`RunInstances` by
//! `AWSServiceRoleForAutoScaling`, `AWSServiceRoleForEC2Fleet`, `AWSServiceRoleForEC2Spot`...)
//! stay excluded, so nothing is counted twice.
//!
//! Field names are matched as CloudTrail writes them (lower camel case for these APIs, upper
//! camel case inside `CreateFleetRequest`) and, because exports differ, without regard to the
//! case of their first letter. A call whose count cannot be read (CloudTrail omitted the
//! request, or the field a count needs is absent or not a number) is counted as
//! [`crate::launch::launch_facts`] counts an unreadable `RunInstances`: a successful one as
//! [`crate::launch::OMITTED_COUNT`] (every instances threshold), a failed one as one, and marked malformed.

use serde_json::Value;

use crate::record::CloudTrailRecord;

/// `ec2.amazonaws.com`.
pub const EC2: &str = "ec2.amazonaws.com";
/// `autoscaling.amazonaws.com`.
pub const AUTOSCALING: &str = "autoscaling.amazonaws.com";

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
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 7] = [
        Self::RunInstances,
        Self::CreateFleet,
        Self::RequestSpotInstances,
        Self::RequestSpotFleet,
        Self::CreateAutoScalingGroup,
        Self::UpdateAutoScalingGroup,
        Self::SetDesiredCapacity,
    ];

    /// Its `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            Self::CreateAutoScalingGroup | Self::UpdateAutoScalingGroup | Self::SetDesiredCapacity => AUTOSCALING,
            _ => EC2,
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
    /// the order [`requested`] reads them; empty for `RunInstances` (counted by
    /// [`crate::launch`]).
    pub fn count_fields(self) -> &'static [&'static [&'static str]] {
        match self {
            Self::RunInstances => &[],
            Self::CreateFleet => &[&["CreateFleetRequest", "TargetCapacitySpecification", "TotalTargetCapacity"]],
            Self::RequestSpotInstances => &[&["instanceCount"]],
            Self::RequestSpotFleet => &[&["spotFleetRequestConfig", "targetCapacity"]],
            Self::CreateAutoScalingGroup | Self::UpdateAutoScalingGroup => &[&["desiredCapacity"], &["minSize"]],
            Self::SetDesiredCapacity => &[&["desiredCapacity"]],
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
        Route::CreateFleet | Route::RequestSpotFleet | Route::SetDesiredCapacity => read(route.count_fields()[0]).ok().flatten(),
        // the API launches one when the count is not given
        // (its launch specification is what every real request holds: without it the request
        // is not readable)
        Route::RequestSpotInstances => match read(route.count_fields()[0]) {
            Ok(Some(n)) => Some(n),
            Ok(None) => field(request, "launchSpecification").filter(|v| v.is_object()).map(|_| 1),
            Err(()) => None,
        },
        Route::CreateAutoScalingGroup | Route::UpdateAutoScalingGroup => {
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
}
