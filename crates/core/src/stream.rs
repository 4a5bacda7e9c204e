//! The EventBridge path, pure: an "AWS API Call via CloudTrail" event read into the project's
//! CloudTrail record ([`crate::record::parse_record`]) and checked, the event matched against a
//! rule by the same [`Scanner`] the detector and `scan` use, and the per-principal time buckets
//! the stream detector keeps, turned into the points [`crate::windows::judge`] takes. No second
//! copy of any rule logic: the buckets are judged by `judge`, and a finding is made only from
//! the exact events, assessed by [`crate::burst::Tracker::assess`] (the stream crate does that).
//!
//! # Bucketing and its error bound
//!
//! The store keeps, per principal and rule, the sums of the events of each bucket of
//! `width` ms: bucket `k` holds the events with `k*width <= t < (k+1)*width`. [`judge_buckets`]
//! puts each bucket's sums at its start and judges them with every horizon's window widened by
//! one bucket (`w + width`).
//!
//! - **Never a miss.** The events of any exact window `[t, t + w)` lie in buckets whose starts
//!   lie in `[floor(t/width)*width, t + w)`, a span shorter than `w + width`; so one widened
//!   window holds all of their buckets, and its sums are at least the exact window's (every sum
//!   is of non-negative counts, and `max(launched, requested)` grows with both). Whatever
//!   reaches a threshold exactly reaches it bucketed (`tests::bucketed_never_misses`).
//! - **Errs toward flagging, by at most two buckets.** A widened window over bucket starts
//!   `[s, s + w + width)` holds events of `[s, s + w + 2*width)`: the bucketed path can flag a
//!   principal whose events reach a threshold only within `w + 2*width`
//!   (`tests::bucketed_flags_only_within_two_buckets_more`). That is why a bucketed crossing is
//!   only a trigger: the finding is decided on the exact events of the store.
//!
//! A bucket of many calls is judged as that many points at its start (calls and failed calls
//! are counted one point a call), at most the largest call threshold of the horizons: past it,
//! one bucket alone reaches every call threshold anyway, so the judgement cannot change.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::launch::LaunchFacts;
use crate::principal::{Principal, classify, is_made_by_aws_service_for};
use crate::query::EventRule;
use crate::record::{CloudTrailRecord, parse_record};
use crate::scan::{LaunchSink, Scanner};
use crate::text::untrusted;
use crate::windows::{Horizon, Measure, Point, Span, judge};

/// The `detail-type` CloudTrail gives the management events it sends to EventBridge.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// The largest event accepted, bytes: EventBridge's own limit for one event (256 KiB).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// The longest `eventID` accepted (CloudTrail's are 36-character UUIDs).
pub const MAX_EVENT_ID: usize = 128;
/// An event more than this far in the future of the function's clock is refused, ms.
pub const MAX_AHEAD_MS: i64 = 5 * 60 * 1000;
/// The stream detector's bucket, seconds.
pub const BUCKET_SECONDS: u64 = 10;

/// Where the stream detector accepts events from: its own accounts and regions, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    /// Accounts whose events are judged.
    pub accounts: Vec<String>,
    /// Regions whose events are judged.
    pub regions: Vec<String>,
}

/// Why an event was refused: it never counts and never makes a finding. Values from the event
/// are shown through [`untrusted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "refused", rename_all = "snake_case")]
pub enum Refusal {
    /// Larger than EventBridge sends.
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Not one JSON object.
    NotAnEvent {
        /// What the parser said.
        error: String,
    },
    /// Not an "AWS API Call via CloudTrail" event.
    NotCloudTrail {
        /// Its `detail-type`.
        detail_type: Option<String>,
    },
    /// From an account not configured.
    Account {
        /// The envelope's `account`.
        account: Option<String>,
    },
    /// From a region not configured.
    Region {
        /// The envelope's `region`.
        region: Option<String>,
    },
    /// `detail` is not a CloudTrail record.
    MalformedDetail {
        /// Why.
        error: String,
    },
    /// The record names another account or region than its envelope.
    Mismatch {
        /// `recipientAccountId` or `awsRegion`.
        field: String,
    },
    /// Not sent by AWS: the envelope's `source` is not `aws.<service>` of the record's
    /// `eventSource` (only AWS sends `aws.*` sources; `PutEvents` refuses them to anyone else).
    NotFromAws {
        /// The envelope's `source`.
        source: Option<String>,
    },
    /// No `userIdentity` that names anyone.
    NoPrincipal,
    /// No usable `eventID` (missing, longer than [`MAX_EVENT_ID`], or not `[A-Za-z0-9_-]`).
    NoEventId,
    /// No readable `eventTime`.
    NoTime,
    /// `eventTime` outside what the stream judges: older than `oldest_ms`, or more than
    /// [`MAX_AHEAD_MS`] ahead of now.
    OutOfTime {
        /// The event's time, epoch ms.
        t_ms: i64,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |v: &Option<String>| v.as_deref().map_or_else(|| "none".to_owned(), |s| format!("{:?}", untrusted(s)));
        match self {
            Self::TooLarge { bytes } => write!(f, "event of {bytes} bytes, over EventBridge's {MAX_EVENT_BYTES}"),
            Self::NotAnEvent { error } => write!(f, "not an EventBridge event: {}", untrusted(error)),
            Self::NotCloudTrail { detail_type } => write!(f, "detail-type {} is not {DETAIL_TYPE:?}", opt(detail_type)),
            Self::Account { account } => write!(f, "account {} is not one this function watches", opt(account)),
            Self::Region { region } => write!(f, "region {} is not one this function watches", opt(region)),
            Self::MalformedDetail { error } => write!(f, "detail is not a CloudTrail record: {}", untrusted(error)),
            Self::Mismatch { field } => write!(f, "the record's {field} is not its envelope's"),
            Self::NotFromAws { source } => {
                write!(f, "source {} is not the aws.<service> of the record's eventSource: not an event AWS sent", opt(source))
            }
            Self::NoPrincipal => f.write_str("the record names no principal (no userIdentity with a type, ARN or principal id)"),
            Self::NoEventId => f.write_str("the record has no usable eventID"),
            Self::NoTime => f.write_str("the record has no readable eventTime"),
            Self::OutOfTime { t_ms } => write!(f, "eventTime {t_ms} ms is outside the horizons judged now"),
        }
    }
}

/// One accepted event.
#[derive(Debug, Clone)]
pub struct StreamEvent<'a> {
    /// The envelope's account (checked against [`Scope`], and equal to the record's recipient).
    pub account: String,
    /// The envelope's region.
    pub region: String,
    /// The CloudTrail record's JSON text, as sent: what the store keeps for the finding.
    pub detail: &'a str,
    /// The record.
    pub record: CloudTrailRecord<'a>,
    /// Its `eventID`.
    pub event_id: String,
    /// Its `eventTime`, epoch ms.
    pub t_ms: i64,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default, rename = "detail-type")]
    detail_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    account: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    region: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
}

/// The `source` AWS gives the EventBridge events of a CloudTrail `eventSource`:
/// `ec2.amazonaws.com` is `aws.ec2`. The stream's rules match it ([`crate::stream_plan`]), and the
/// stream refuses any other: `PutEvents` refuses an `aws.` source to anyone but AWS.
pub fn eventbridge_source(event_source: &str) -> String {
    format!("aws.{}", event_source.trim_end_matches(".amazonaws.com"))
}

fn usable_event_id(id: &str) -> bool {
    (1..=MAX_EVENT_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// True when `userIdentity` names someone: a type, an ARN or a principal id.
fn names_someone(r: &CloudTrailRecord<'_>) -> bool {
    let present = |v: &Option<Cow<'_, str>>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    r.user_identity.as_ref().is_some_and(|u| present(&u.arn) || present(&u.principal_id) || present(&u.identity_type))
}

/// Read one EventBridge event (an SQS message's body): refused unless it is an "AWS API Call via
/// CloudTrail" event of a configured account and region whose `detail` is a CloudTrail record
/// of the same account and region, sent by AWS (`source` is [`eventbridge_source`] of its
/// `eventSource`), naming a principal, with an `eventID` and an `eventTime` in
/// `[oldest_ms, now_ms + MAX_AHEAD_MS]`.
pub fn parse_event<'a>(text: &'a str, scope: &Scope, oldest_ms: i64, now_ms: i64) -> Result<StreamEvent<'a>, Refusal> {
    if text.len() > MAX_EVENT_BYTES {
        return Err(Refusal::TooLarge { bytes: text.len() });
    }
    let env: Envelope<'a> = serde_json::from_str(text).map_err(|e| Refusal::NotAnEvent { error: e.to_string() })?;
    if env.detail_type.as_deref() != Some(DETAIL_TYPE) {
        return Err(Refusal::NotCloudTrail { detail_type: env.detail_type.map(Cow::into_owned) });
    }
    let account = match env.account {
        Some(a) if scope.accounts.iter().any(|s| *s == a) => a.into_owned(),
        other => return Err(Refusal::Account { account: other.map(Cow::into_owned) }),
    };
    let region = match env.region {
        Some(r) if scope.regions.iter().any(|s| *s == r) => r.into_owned(),
        other => return Err(Refusal::Region { region: other.map(Cow::into_owned) }),
    };
    let detail = env.detail.map(RawValue::get).ok_or_else(|| Refusal::MalformedDetail { error: "no detail".into() })?;
    if !detail.starts_with('{') {
        return Err(Refusal::MalformedDetail { error: "detail is not an object".into() });
    }
    let record = parse_record(detail).map_err(|error| Refusal::MalformedDetail { error })?;
    if record.recipient_account_id.as_deref().is_some_and(|a| a != account) {
        return Err(Refusal::Mismatch { field: "recipientAccountId".into() });
    }
    if record.aws_region.as_deref().is_some_and(|r| r != region) {
        return Err(Refusal::Mismatch { field: "awsRegion".into() });
    }
    let from_aws = record.event_source.as_deref().map(eventbridge_source);
    if from_aws.is_none() || env.source.as_deref() != from_aws.as_deref() {
        return Err(Refusal::NotFromAws { source: env.source.map(Cow::into_owned) });
    }
    if !names_someone(&record) {
        return Err(Refusal::NoPrincipal);
    }
    let event_id = record.event_id.as_deref().filter(|id| usable_event_id(id)).ok_or(Refusal::NoEventId)?.to_owned();
    let t_ms = record.time_ms().ok_or(Refusal::NoTime)?;
    if t_ms < oldest_ms || t_ms > now_ms.saturating_add(MAX_AHEAD_MS) {
        return Err(Refusal::OutOfTime { t_ms });
    }
    Ok(StreamEvent { account, region, detail, record, event_id, t_ms })
}

/// What one event, or one bucket of events, counts for each measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Instances launched.
    pub launched: u64,
    /// Instances requested.
    pub requested: u64,
    /// Calls (dry runs excluded).
    pub calls: u64,
    /// Failed calls (dry runs excluded).
    pub failed: u64,
}

impl Counts {
    /// What one point counts for (a dry run: nothing).
    pub fn of(p: &Point) -> Self {
        if p.dry_run {
            return Self::default();
        }
        Self { launched: p.launched, requested: p.requested, calls: 1, failed: u64::from(p.failed) }
    }

    /// Both added, saturating.
    pub fn plus(self, o: Self) -> Self {
        Self {
            launched: self.launched.saturating_add(o.launched),
            requested: self.requested.saturating_add(o.requested),
            calls: self.calls.saturating_add(o.calls),
            failed: self.failed.saturating_add(o.failed),
        }
    }

    /// True when it counts for nothing.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// One event matched against one rule, by the rule's [`Scanner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Who made the call.
    pub principal: Principal,
    /// When, epoch ms.
    pub t_ms: i64,
    /// What it counts for: nothing for a dry run, nor for a call an AWS service made on the
    /// principal's behalf unless those are contained.
    pub counts: Counts,
}

#[derive(Default)]
struct HitSink {
    with_services: bool,
    hit: Option<Hit>,
}

impl LaunchSink for HitSink {
    fn add_launch<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) {
        let (principal, session) = classify(record.user_identity.as_ref());
        let by_service = session.invoked_by.as_deref().is_some_and(|by| is_made_by_aws_service_for(&principal, by));
        let point = if by_service && !self.with_services {
            Point::nothing(t_ms)
        } else {
            Point { t_ms, launched: facts.launched, requested: facts.requested, failed: facts.failed, dry_run: facts.dry_run }
        };
        self.hit = Some(Hit { principal, t_ms, counts: Counts::of(&point) });
    }
}

/// The event (a record's JSON text) as `rule` counts it, read by the scanner every other path
/// uses; `None` when it is not the rule's event.
pub fn hit(rule: &EventRule, detail: &str, contain_invoked_by_aws_service: bool) -> Option<Hit> {
    let mut s = Scanner::with_sink(rule.clone(), None, HitSink { with_services: contain_invoked_by_aws_service, hit: None });
    s.push_message(detail);
    s.aggregate.hit
}

/// The start of the bucket holding `t_ms`.
pub fn bucket_start(t_ms: i64, width_ms: i64) -> i64 {
    let w = width_ms.max(1);
    t_ms.div_euclid(w).saturating_mul(w)
}

/// One stored bucket: the sums of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bucket {
    /// Its start, epoch ms.
    pub start_ms: i64,
    /// The sums.
    pub counts: Counts,
}

/// The horizons judged over buckets: each window widened by one bucket (see the module's notes).
pub fn widened(horizons: &[Horizon], width_seconds: u64) -> Vec<Horizon> {
    horizons.iter().map(|h| Horizon { window_seconds: h.window_seconds.saturating_add(width_seconds), ..*h }).collect()
}

/// The points of `buckets` for [`judge`]: each bucket at its start, one point a call (at most
/// the largest call threshold of `horizons`), the first carrying the instances.
pub fn bucket_points(buckets: &[Bucket], horizons: &[Horizon]) -> Vec<Point> {
    let cap = horizons.iter().filter(|h| h.measure != Measure::Instances).map(|h| h.threshold.max(1)).max().unwrap_or(1);
    let mut sorted: Vec<&Bucket> = buckets.iter().collect();
    sorted.sort_by_key(|b| b.start_ms);
    let mut out = Vec::new();
    for b in sorted {
        let c = b.counts;
        let has_instances = c.launched > 0 || c.requested > 0;
        let n = c.calls.min(cap).max(u64::from(has_instances));
        let failed = c.failed.min(n);
        for i in 0..n {
            let first = i == 0;
            out.push(Point {
                t_ms: b.start_ms,
                launched: if first { c.launched } else { 0 },
                requested: if first { c.requested } else { 0 },
                failed: i < failed,
                dry_run: false,
            });
        }
    }
    out
}

/// Judge stored buckets of `width_seconds` against `horizons` by [`judge`] (each window widened
/// by one bucket): never misses what the exact events cross; may flag what they cross only
/// within two buckets more. Span horizons are positions in `horizons`.
pub fn judge_buckets(buckets: &[Bucket], horizons: &[Horizon], width_seconds: u64) -> Vec<Span> {
    judge(&bucket_points(buckets, horizons), &widened(horizons, width_seconds))
}

/// The buckets to read around an event at `t_ms`: every window of every horizon (widened) that
/// can hold it, `[from, to)` in ms.
pub fn read_range(t_ms: i64, horizons: &[Horizon], width_seconds: u64) -> (i64, i64) {
    let longest = horizons.iter().map(|h| h.window_seconds).max().unwrap_or(0).saturating_add(2 * width_seconds);
    let span = i64::try_from(longest.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
    let w = i64::try_from(width_seconds.saturating_mul(1000)).unwrap_or(1);
    (bucket_start(t_ms, w).saturating_sub(span), bucket_start(t_ms, w).saturating_add(span).saturating_add(w))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    const W: u64 = BUCKET_SECONDS;

    fn bucketed(points: &[Point], width_ms: i64) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = Vec::new();
        for p in points {
            let start_ms = bucket_start(p.t_ms, width_ms);
            match out.iter_mut().find(|b| b.start_ms == start_ms) {
                Some(b) => b.counts = b.counts.plus(Counts::of(p)),
                None => out.push(Bucket { start_ms, counts: Counts::of(p) }),
            }
        }
        out
    }

    fn point() -> impl Strategy<Value = Point> {
        (0i64..(3 * 3_600_000), 0u64..6, 0u64..6, any::<bool>(), 0u8..8).prop_map(|(t_ms, l, r, failed, dry)| {
            if dry == 0 { Point::nothing(t_ms) } else { Point { t_ms, launched: l.min(r), requested: r, failed, dry_run: false } }
        })
    }

    fn horizon() -> impl Strategy<Value = Horizon> {
        let measure = prop_oneof![Just(Measure::Instances), Just(Measure::Calls), Just(Measure::FailedCalls)];
        (measure, prop_oneof![Just(60u64), Just(300), Just(3600), 1u64..900], 1u64..40)
            .prop_map(|(measure, window_seconds, threshold)| Horizon { measure, window_seconds, threshold })
    }

    fn crossed(spans: &[Span], hi: usize) -> bool {
        spans.iter().any(|s| s.horizon == hi)
    }

    #[test]
    fn ten_calls_astride_a_bucket_edge_are_still_ten_within_the_window() {
        // GIVEN 10 calls in 60 s that start 1 ms before a bucket edge and end 59 s later
        let points: Vec<Point> =
            (0..10).map(|i| Point { t_ms: 9_999 + i * 6_000, launched: 1, requested: 1, ..Point::default() }).collect();
        let h = [Horizon { measure: Measure::Instances, window_seconds: 60, threshold: 10 }];
        assert!(!judge(&points, &h).is_empty());
        // THEN the buckets cross it too
        assert!(!judge_buckets(&bucketed(&points, 10_000), &h, W).is_empty());
    }

    #[test]
    fn a_busy_bucket_is_at_most_the_largest_call_threshold_of_points() {
        let b = [Bucket { start_ms: 0, counts: Counts { launched: 3, requested: 3, calls: 1_000_000, failed: 7 } }];
        let h = [Horizon { measure: Measure::Calls, window_seconds: 60, threshold: 25 }];
        let p = bucket_points(&b, &h);
        assert_eq!(p.len(), 25);
        assert_eq!(p.iter().filter(|p| p.failed).count(), 7);
        assert_eq!(p.iter().map(|p| p.launched).sum::<u64>(), 3);
    }

    proptest! {
        /// No arrangement of events inside a window escapes its threshold through the buckets.
        #[test]
        fn bucketed_never_misses(
            mut points in proptest::collection::vec(point(), 0..80),
            horizons in proptest::collection::vec(horizon(), 1..4),
            width_s in prop_oneof![Just(W), 1u64..60],
        ) {
            crate::windows::sort(&mut points);
            let exact = judge(&points, &horizons);
            let buckets = judge_buckets(&bucketed(&points, i64::try_from(width_s * 1000).unwrap()), &horizons, width_s);
            for (hi, h) in horizons.iter().enumerate() {
                prop_assert!(!crossed(&exact, hi) || crossed(&buckets, hi), "horizon {:?} missed", h);
            }
        }

        /// The error is toward flagging, and bounded: whatever the buckets flag, the exact
        /// events reach within the window plus two buckets.
        #[test]
        fn bucketed_flags_only_within_two_buckets_more(
            mut points in proptest::collection::vec(point(), 0..80),
            horizons in proptest::collection::vec(horizon(), 1..4),
            width_s in prop_oneof![Just(W), 1u64..60],
        ) {
            crate::windows::sort(&mut points);
            let buckets = judge_buckets(&bucketed(&points, i64::try_from(width_s * 1000).unwrap()), &horizons, width_s);
            let wider: Vec<Horizon> = horizons.iter().map(|h| Horizon { window_seconds: h.window_seconds + 2 * width_s, ..*h }).collect();
            let exact_wider = judge(&points, &wider);
            for (hi, h) in horizons.iter().enumerate() {
                prop_assert!(!crossed(&buckets, hi) || crossed(&exact_wider, hi), "horizon {:?} over-flagged", h);
            }
        }

        /// No input panics the event reader; whatever it accepts is in scope and names someone.
        #[test]
        fn no_input_panics_the_reader(text in ".{0,400}", account in "[0-9]{12}", region in "[a-z]{2}-[a-z]+-[0-9]") {
            let scope = Scope { accounts: vec![account.clone()], regions: vec![region.clone()] };
            let _ = parse_event(&text, &scope, 0, i64::MAX);
            let wrapped = format!(
                r#"{{"detail-type":"{DETAIL_TYPE}","account":"{account}","region":"{region}","detail":{}}}"#,
                serde_json::to_string(&text).unwrap()
            );
            prop_assert!(parse_event(&wrapped, &scope, 0, i64::MAX).is_err());
        }

        /// Nor any JSON detail; an accepted one is in scope and names someone.
        #[test]
        fn no_detail_panics_the_reader(
            et in proptest::option::of("[0-9T:Z-]{0,24}"),
            id in proptest::option::of(".{0,40}"),
            ty in proptest::option::of("[A-Za-z]{0,12}"),
            arn in proptest::option::of(".{0,30}"),
            recipient in proptest::option::of("[0-9]{12}"),
        ) {
            let scope = Scope { accounts: vec!["111122223333".into()], regions: vec!["us-east-1".into()] };
            let mut detail = serde_json::json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances"});
            if let Some(v) = &et { detail["eventTime"] = v.clone().into(); }
            if let Some(v) = &id { detail["eventID"] = v.clone().into(); }
            if let Some(v) = &recipient { detail["recipientAccountId"] = v.clone().into(); }
            if ty.is_some() || arn.is_some() {
                detail["userIdentity"] = serde_json::json!({"type": ty, "arn": arn});
            }
            let ev = serde_json::json!({"detail-type": DETAIL_TYPE, "source": "aws.ec2", "account": "111122223333", "region": "us-east-1",
                "detail": detail});
            let text = ev.to_string();
            if let Ok(e) = parse_event(&text, &scope, 0, i64::MAX) {
                prop_assert_eq!(e.account.as_str(), "111122223333");
                prop_assert!(recipient.is_none_or(|r| r == "111122223333"));
                prop_assert!(usable_event_id(&e.event_id));
                prop_assert!(names_someone(&e.record));
            }
        }

        /// Only AWS's own envelope is read: a valid event under any `source` but the record's
        /// `aws.<service>` (`PutEvents` lets anyone send any other) is refused as not AWS's.
        #[test]
        fn only_the_records_own_aws_source_is_accepted(source in proptest::option::of(prop_oneof![
            ".{0,20}", "aws\\.[a-z0-9]{0,8}", "[A-Za-z]{1,6}\\.ec2", Just("aws.ec2 ".to_owned()), Just("AWS.EC2".to_owned()),
        ])) {
            let scope = Scope { accounts: vec!["111122223333".into()], regions: vec!["us-east-1".into()] };
            let detail = serde_json::json!({"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "eventTime": "2026-11-22T05:38:30Z",
                "eventID": "00000000-0000-4000-8000-000000000001", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ci-deployer", "userName": "ci-deployer"}});
            let mut ev = serde_json::json!({"detail-type": DETAIL_TYPE, "account": "111122223333", "region": "us-east-1", "detail": detail});
            if let Some(s) = &source { ev["source"] = s.clone().into(); }
            let text = ev.to_string();
            let got = parse_event(&text, &scope, 0, i64::MAX);
            if source.as_deref() == Some("aws.ec2") {
                prop_assert!(got.is_ok(), "{:?}", got.err());
            } else {
                prop_assert!(matches!(got, Err(Refusal::NotFromAws { .. })), "{:?}", got.err());
            }
            ev["source"] = "aws.ec2".into();
            prop_assert!(parse_event(&ev.to_string(), &scope, 0, i64::MAX).is_ok());
        }
    }
}
