//! Bursts: a principal is flagged when a rule's horizon is reached within a sliding window of
//! time, never over everything it ever did.
//!
//! The alarm counts launches per period; an archive spans weeks. [`Tracker`] keeps, per
//! principal, one compact [`Call`] per call (time, counts, and small numbers standing for
//! its access key, source IP, region, user agent and `invokedBy`), besides the detector's
//! whole-input [`Aggregate`]. Each principal's calls, in time order, are judged by
//! [`crate::windows::judge`] against every horizon of the rule: [`Tracker::bursts`] (scan) makes
//! the overlapping spans of all horizons one burst; [`Tracker::assess`] (the detector's primary
//! read, fallback read and re-check) flags a principal with the horizon it crossed first.
//!
//! Memory: 40 bytes a launch call and its `eventID` (kept for the evidence a finding names), and 16 bytes (plus the hash table's slack) a distinct
//! `eventID` remembered to count a record delivered twice once; distinct values are kept once
//! per principal, at most [`MAX_VALUES`] of each kind.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::aggregate::{Activity, Aggregate, Placement};
use crate::capacity::SetSize;
use crate::contract::FlaggedPrincipal;
use crate::evidence::{Evidence, EvidenceEvent, MAX_EVIDENCE};
use crate::launch::LaunchFacts;
use crate::principal::{Principal, classify, is_made_by_aws_service_for};
use crate::record::CloudTrailRecord;
use crate::resize::{Resolved, Sizes, resolve};
use crate::scan::{LaunchSink, Seen, SeenRecords};
use crate::threshold::{Assessment, Thresholds, Verdict};
use crate::windows::{Crossing, Horizon, Measure, Point, Span, crossings, evidence, first_crossing, judge, window_calls};

/// At most this many distinct values of one kind (keys, IPs, regions, agents, services) are
/// remembered per principal; calls with others are counted, their value shown as dropped.
pub const MAX_VALUES: usize = 1024;

const DROPPED: u16 = u16::MAX;
const NONE: u16 = u16::MAX - 1;

/// One launch call, compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// `eventTime`, epoch milliseconds.
    pub t_ms: i64,
    /// Instances launched.
    pub launched: u32,
    /// Instances requested.
    pub requested: u32,
    key: u16,
    ip: u16,
    region: u16,
    agent: u16,
    service: u16,
    failed: bool,
    dry_run: bool,
    by_service: bool,
    /// A successful launch whose count CloudTrail omitted (`requested` is the stand-in).
    count_omitted: bool,
    /// Position of its `eventID` in the timeline's `event_ids` (`u32::MAX`: none).
    id: u32,
}

/// Distinct values of one kind, each kept once and named by its position.
#[derive(Debug, Default)]
struct Values {
    list: Vec<String>,
    index: HashMap<String, u16>,
}

impl Values {
    fn id(&mut self, v: Option<&str>) -> u16 {
        let Some(v) = v.filter(|v| !v.is_empty()) else { return NONE };
        if let Some(&i) = self.index.get(v) {
            return i;
        }
        if self.list.len() >= MAX_VALUES {
            return DROPPED;
        }
        let i = self.list.len() as u16;
        self.list.push(v.to_owned());
        self.index.insert(v.to_owned(), i);
        i
    }

    fn get(&self, i: u16) -> Option<&str> {
        self.list.get(usize::from(i)).map(String::as_str)
    }
}

/// One principal's launch calls.
#[derive(Debug, Default)]
struct Timeline {
    calls: Vec<Call>,
    keys: Values,
    ips: Values,
    regions: Values,
    agents: Values,
    services: Values,
    /// The `eventID` of each call that had one, and its `eventName` (in `names`): what a
    /// finding's evidence names.
    event_ids: Vec<(Box<str>, u16)>,
    names: Values,
}

/// A burst: calls of one principal whose sliding windows reached a threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Burst {
    /// The rule whose horizons were crossed (`ec2-mass-launch`, `iam-user-burst`, ...).
    pub rule: String,
    /// Who.
    pub principal: Principal,
    /// `flagged` (with `reasons`) or `excluded` (with `reason`), as the detector decides.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The horizon crossed first, and when ([`judge`]).
    pub crossed: Option<Crossing>,
    /// Every horizon the burst crossed, each at its first crossing, earliest first.
    pub horizons: Vec<Crossing>,
    /// First call of the burst.
    pub start: DateTime<Utc>,
    /// Last call of the burst.
    pub end: DateTime<Utc>,
    /// The most counted (instances launched or requested, whichever is more; or calls, for a
    /// rule counting calls) in one window of a horizon crossed.
    pub peak_in_window: u64,
    /// Launch calls.
    pub calls: u64,
    /// Instances launched.
    pub instances_launched: u64,
    /// Instances requested.
    pub instances_requested: u64,
    /// Failed calls (dry runs excluded).
    pub failed_calls: u64,
    /// Dry runs.
    pub dry_run_calls: u64,
    /// Access key ids used.
    pub access_keys: Vec<String>,
    /// Source IPs (or service names).
    pub source_ips: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// User agents.
    pub user_agents: Vec<String>,
    /// AWS services that made calls on the principal's behalf (`invokedBy`).
    pub invoked_by: Vec<String>,
    /// Values not shown because a principal had more than [`MAX_VALUES`] of a kind.
    pub dropped_values: u64,
}

/// A call that set a group's or fleet's size, waiting for the read to close
/// ([`crate::resize::resolve`]).
#[derive(Debug)]
struct Sizing {
    t_ms: i64,
    set: SetSize,
    /// Its principal, and its position in the principal's timeline.
    idx: usize,
    call: usize,
    event_name: String,
    by_service: bool,
    /// Its count fields are not as CloudTrail writes them ([`LaunchFacts::unfiltered`]).
    unfiltered: bool,
}

/// Per-principal launch calls and whole-input activity, each launch record counted once.
#[derive(Debug, Default)]
pub struct Tracker {
    totals: Aggregate,
    timelines: Vec<Timeline>,
    seen: SeenRecords,
    /// Calls that set a size, not yet weighed.
    sizing: Vec<Sizing>,
    /// The sizes the calls weighed so far set.
    sizes: Sizes,
    /// Records not counted because the same version of their `eventID` was seen before.
    pub duplicates: u64,
}

impl LaunchSink for Tracker {
    fn add_launch<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) {
        if self.seen.admit(record, t_ms, facts) == Seen::Duplicate {
            self.duplicates += 1;
            return;
        }
        self.place(record, t_ms, facts);
        self.place_released();
    }
}

impl Tracker {
    /// Count a record (admitted once) for its principal, unless [`Aggregate`] holds it.
    fn place<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) {
        let Placement::Counted(idx) = self.totals.add_with_facts(record, t_ms, facts) else { return };
        if idx >= self.timelines.len() {
            self.timelines.resize_with(idx + 1, Timeline::default);
        }
        let (_, session) = classify(record.user_identity.as_ref());
        let by_service =
            session.invoked_by.as_deref().is_some_and(|by| is_made_by_aws_service_for(&self.totals.principals()[idx].principal, by));
        let tl = &mut self.timelines[idx];
        let id = match record.event_id.as_deref() {
            Some(e) => {
                let name = tl.names.id(record.event_name.as_deref());
                tl.event_ids.push((e.into(), name));
                u32::try_from(tl.event_ids.len() - 1).unwrap_or(u32::MAX)
            }
            None => u32::MAX,
        };
        let call = Call {
            t_ms,
            launched: u32::try_from(facts.launched).unwrap_or(u32::MAX),
            requested: u32::try_from(facts.requested).unwrap_or(u32::MAX),
            key: tl.keys.id(session.access_key_id.as_deref()),
            ip: tl.ips.id(record.source_ip_address.as_deref()),
            region: tl.regions.id(record.aws_region.as_deref()),
            agent: tl.agents.id(record.user_agent.as_deref()),
            service: tl.services.id(session.invoked_by.as_deref()),
            failed: facts.failed,
            dry_run: facts.dry_run,
            by_service,
            count_omitted: facts.count_omitted,
            id,
        };
        tl.calls.push(call);
        if let Some(set) = &facts.set_size {
            // a service-linked role's own call (never flagged) never vouches for a size
            let set = SetSize { vouches: set.vouches && !by_service, ..set.clone() };
            self.sizing.push(Sizing {
                t_ms,
                set,
                idx,
                call: tl.calls.len() - 1,
                event_name: record.event_name.as_deref().unwrap_or_default().to_owned(),
                by_service,
                unfiltered: facts.unfiltered,
            });
        }
    }

    /// Count the records [`Aggregate`] released (held for an access key now claimed).
    fn place_released(&mut self) {
        for (r, t_ms, facts) in self.totals.take_released() {
            self.place(&r, t_ms, &facts);
        }
    }

    /// The read is over: the records of incomplete identities whose access key no complete
    /// identity used are counted as their own unknown principals ([`Aggregate::close`]).
    /// [`Tracker::assess`], [`Tracker::bursts`] and [`Tracker::into_totals`] call it; call it
    /// before reading [`Tracker::totals`].
    pub fn finish(&mut self) {
        self.totals.close();
        self.place_released();
        self.weigh_sizes();
    }

    /// Every call that set a size, weighed against the sizes the read showed before it
    /// ([`resolve`]): a resize counts its increase (in its call and its principal's activity),
    /// or, its size before unknown, 0 and is carried in the activity.
    fn weigh_sizes(&mut self) {
        let sizing = std::mem::take(&mut self.sizing);
        let calls: Vec<(i64, &SetSize)> = sizing.iter().map(|s| (s.t_ms, &s.set)).collect();
        let resolved = resolve(&mut self.sizes, &calls);
        for (s, r) in sizing.iter().zip(resolved) {
            if let Resolved::Increase(n) = r
                && let Some(c) = self.timelines.get_mut(s.idx).and_then(|tl| tl.calls.get_mut(s.call))
            {
                c.requested = u32::try_from(n).unwrap_or(u32::MAX);
            }
            // an increase the instances metric's filters cannot have added
            if let Resolved::Increase(n) = r
                && s.unfiltered
            {
                self.totals.unfiltered_requested = self.totals.unfiltered_requested.saturating_add(n);
            }
            self.totals.add_resolved(s.idx, s.t_ms, &s.event_name, &s.set, r, s.by_service);
        }
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Call {
    /// The call as the windows see it; a call an AWS service made on the principal's behalf
    /// counts for nothing unless `with_services`.
    fn point(&self, with_services: bool) -> Point {
        if self.by_service && !with_services {
            return Point::nothing(self.t_ms);
        }
        Point {
            t_ms: self.t_ms,
            launched: u64::from(self.launched),
            requested: u64::from(self.requested),
            failed: self.failed,
            dry_run: self.dry_run,
        }
    }
}

/// One principal's calls judged by [`judge`]: what it did itself (`direct`; AWS services'
/// calls on its behalf too with `contain_invoked_by_aws_service`) and everything (`all`).
struct Judged {
    direct: Vec<Span>,
    all: Vec<Span>,
}

/// The evidence of a flagged principal ([`crate::evidence`]): of every horizon it crossed by
/// its own calls, the crossing that the fewest calls prove ([`crate::windows::evidence`]), at
/// most [`MAX_EVIDENCE`] of them; and, as `alternatives`, the other calls of that crossing window
/// in time order, up to [`MAX_EVIDENCE`] in all. Calls without an `eventID` cannot be confirmed
/// and are left out of the choice.
fn tl_evidence(tl: &Timeline, direct: &[Span], horizons: &[Horizon], t: &Thresholds) -> Option<Evidence> {
    let points: Vec<Point> = tl
        .calls
        .iter()
        .map(|c| if c.id == u32::MAX { Point::nothing(c.t_ms) } else { c.point(t.contain_invoked_by_aws_service) })
        .collect();
    let best = direct
        .iter()
        .filter_map(|s| {
            let h = horizons.get(s.horizon)?;
            let picked = evidence(&points, s, h);
            (!picked.is_empty()).then_some((picked, *h, s))
        })
        .min_by_key(|(picked, ..)| picked.len())?;
    let (picked, horizon, span) = best;
    // the rest of the crossing window, looked up only when the fewest do not confirm: one
    // forged record bigger than the real ones cannot leave the real ones unnamed
    let chosen: BTreeSet<usize> = picked.iter().copied().collect();
    let others: Vec<usize> = window_calls(&points, span, &horizon).into_iter().filter(|k| !chosen.contains(k)).collect();
    let event = |k: usize| -> Option<EvidenceEvent> {
        let c = &tl.calls[k];
        let (id, name) = tl.event_ids.get(usize::try_from(c.id).ok()?)?;
        Some(EvidenceEvent {
            event_id: id.to_string(),
            event_name: tl.names.get(*name).unwrap_or_default().to_owned(),
            region: tl.regions.get(c.region).unwrap_or_default().to_owned(),
            event_time: utc(c.t_ms),
            launched: u64::from(c.launched),
            requested: u64::from(c.requested),
            failed: c.failed,
        })
    };
    let events: Vec<EvidenceEvent> = picked.iter().take(MAX_EVIDENCE).filter_map(|&k| event(k)).collect();
    let alternatives = others.into_iter().filter_map(event).take(MAX_EVIDENCE.saturating_sub(events.len())).collect();
    Some(Evidence { horizon, events, alternatives })
}

fn judge_calls(calls: &[Call], horizons: &[Horizon], t: &Thresholds) -> Judged {
    let direct: Vec<Point> = calls.iter().map(|c| c.point(t.contain_invoked_by_aws_service)).collect();
    let all: Vec<Point> = calls.iter().map(|c| c.point(true)).collect();
    Judged { direct: judge(&direct, horizons), all: judge(&all, horizons) }
}

/// The verdict on spans of one principal: flagged for what it did itself (each horizon crossed,
/// in words), excluded when it is AWS itself or is over only through AWS services' calls on its
/// behalf, below otherwise.
fn verdict(principal: &Principal, t: &Thresholds, direct: &[&Span], all: &[&Span], a: &Activity, services: &[String]) -> Verdict {
    let (by_service_calls, calls) = (a.aws_service_calls, a.calls);
    let owned = |v: &[&Span]| v.iter().map(|s| (*s).clone()).collect::<Vec<Span>>();
    let direct = crossings(&owned(direct));
    if direct.is_empty() {
        if all.is_empty() {
            return Verdict::BelowThreshold;
        }
        return Verdict::Excluded {
            reason: format!(
                "{} is over the threshold only through {by_service_calls} call(s) that AWS services ({}) made on its behalf (invokedBy); \
                 set LG_CONTAIN_INVOKED_BY_AWS_SERVICE=true to contain such principals",
                principal.label(),
                services.join(", ")
            ),
        };
    }
    let mut reasons: Vec<String> = direct.iter().map(Crossing::describe).collect();
    if by_service_calls > 0 {
        reasons.push(format!("{by_service_calls} of {calls} calls made by AWS services on its behalf (invokedBy)"));
    }
    if a.launches_count_omitted > 0 {
        reasons.push(format!(
            "{} successful launch call(s) with the instance count omitted by CloudTrail: each counted as {} instances (every \
             instances threshold), what they launched is not known; CloudTrail's event history or DescribeInstances says",
            a.launches_count_omitted,
            crate::launch::OMITTED_COUNT
        ));
    }
    if a.unknown_prior_resize_calls > 0 {
        reasons.push(unknown_resizes_note(a));
    }
    if t.exclude_aws_services && principal.is_aws_service() {
        Verdict::Excluded { reason: format!("{} is AWS itself; {}", principal.label(), reasons.join("; ")) }
    } else {
        Verdict::Flagged { reasons }
    }
}

/// The resizes of unknown prior size of `a`, in words (counted as 0 instances).
pub fn unknown_resizes_note(a: &Activity) -> String {
    unknown_resizes_words(a.unknown_prior_resize_calls, &a.unknown_prior_resizes)
}

/// `count` resizes of unknown prior size, `shown` of them named (the first five), in words;
/// every outside text escaped.
pub fn unknown_resizes_words(count: u64, shown: &[crate::aggregate::UnknownResize]) -> String {
    let shown: Vec<String> = shown
        .iter()
        .take(5)
        .map(|r| {
            format!(
                "{} of {} {} in {} to {} at {}",
                crate::text::untrusted(&r.event_name),
                r.kind,
                crate::text::untrusted(&r.group),
                crate::text::untrusted(&r.region),
                r.new_size,
                crate::time::format_utc(r.at)
            )
        })
        .collect();
    format!(
        "{} resize(s) of a group or fleet whose size before the read does not show, counted as 0 instances (the group's \
         activity history or CloudTrail says how much each grew): {}",
        count,
        shown.join("; ")
    )
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole-input activity per principal (the detector's aggregate over everything read);
    /// records held for an access key are in it once [`Tracker::finish`] was called.
    pub fn totals(&self) -> &Aggregate {
        &self.totals
    }

    /// Launch calls remembered.
    pub fn calls(&self) -> usize {
        self.timelines.iter().map(|t| t.calls.len()).sum()
    }

    /// Consume into the whole-input activity.
    pub fn into_totals(mut self) -> Aggregate {
        self.finish();
        self.totals
    }

    /// The detector's verdict on everything read: each principal judged by [`judge`] against
    /// every horizon (its sliding windows, never its total), with its activity over the read.
    /// Flagged principals carry the horizon first crossed and when.
    pub fn assess(mut self, horizons: &[Horizon], t: &Thresholds) -> Assessment {
        self.finish();
        for tl in &mut self.timelines {
            tl.calls.sort_by_key(|c| c.t_ms);
        }
        let judged: Vec<Judged> = self.timelines.iter().map(|tl| judge_calls(&tl.calls, horizons, t)).collect();
        let mut out = Assessment::default();
        for (idx, pa) in self.totals.into_sorted_with_index() {
            let Some(j) = judged.get(idx) else {
                out.below.push(pa);
                continue;
            };
            let services: Vec<String> = pa.activity.invoked_by.iter().cloned().collect();
            let (direct, all): (Vec<&Span>, Vec<&Span>) = (j.direct.iter().collect(), j.all.iter().collect());
            match verdict(&pa.principal, t, &direct, &all, &pa.activity, &services) {
                Verdict::Flagged { reasons } => out.flagged.push(FlaggedPrincipal {
                    principal: pa.principal,
                    activity: pa.activity,
                    reasons,
                    crossed: first_crossing(&j.direct),
                    evidence: tl_evidence(&self.timelines[idx], &j.direct, horizons, t),
                    principal_id: None,
                    delivered_by_aws: Vec::new(),
                }),
                Verdict::Excluded { reason } => out.excluded.push(FlaggedPrincipal {
                    principal: pa.principal,
                    activity: pa.activity,
                    reasons: vec![reason],
                    crossed: first_crossing(&j.all),
                    evidence: None,
                    principal_id: None,
                    delivered_by_aws: Vec::new(),
                }),
                Verdict::BelowThreshold => out.below.push(pa),
            }
        }
        out
    }

    /// Every burst of every principal for the rule `rule` and its `horizons`, judged by
    /// [`judge`]: the spans of all horizons that overlap are one burst. Flagged first, then
    /// excluded; by start time within each.
    pub fn bursts(&mut self, rule: &str, horizons: &[Horizon], t: &Thresholds) -> Vec<Burst> {
        self.finish();
        let mut out = Vec::new();
        for (idx, tl) in self.timelines.iter_mut().enumerate() {
            let principal = &self.totals.principals()[idx].principal;
            tl.calls.sort_by_key(|c| c.t_ms);
            let j = judge_calls(&tl.calls, horizons, t);
            let mut ranges: Vec<std::ops::Range<usize>> = j.all.iter().map(|s| s.calls.clone()).collect();
            ranges.sort_by_key(|r| r.start);
            let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
            for r in ranges {
                match groups.last_mut() {
                    Some(g) if r.start < g.end => g.end = g.end.max(r.end),
                    _ => groups.push(r),
                }
            }
            for g in groups {
                let inside = |s: &&Span| s.calls.start >= g.start && s.calls.end <= g.end;
                let direct: Vec<&Span> = j.direct.iter().filter(inside).collect();
                let all: Vec<&Span> = j.all.iter().filter(inside).collect();
                let b = burst(rule, principal, tl, &tl.calls[g], &direct, &all, t);
                if !matches!(b.verdict, Verdict::BelowThreshold) {
                    out.push(b);
                }
            }
        }
        out.sort_by(|a, b| {
            let rank = |v: &Verdict| matches!(v, Verdict::Excluded { .. });
            (rank(&a.verdict), a.start, a.principal.key()).cmp(&(rank(&b.verdict), b.start, b.principal.key()))
        });
        out
    }
}

fn burst(rule: &str, principal: &Principal, tl: &Timeline, calls: &[Call], direct: &[&Span], all: &[&Span], t: &Thresholds) -> Burst {
    let (first, last) = (calls.first().map_or(0, |c| c.t_ms), calls.last().map_or(0, |c| c.t_ms));
    let mut a = Activity::new(utc(first));
    a.last_seen = utc(last);
    let mut sets: [BTreeSet<u16>; 5] = Default::default();
    for c in calls {
        a.calls += 1;
        a.instances_launched += u64::from(c.launched);
        a.instances_requested += u64::from(c.requested);
        a.failed_calls += u64::from(c.failed);
        a.dry_run_calls += u64::from(c.dry_run);
        a.launches_count_omitted += u64::from(c.count_omitted);
        if c.by_service {
            a.aws_service_calls += 1;
            a.aws_service_launched += u64::from(c.launched);
            a.aws_service_requested += u64::from(c.requested);
        }
        for (set, v) in sets.iter_mut().zip([c.key, c.ip, c.region, c.agent, c.service]) {
            if v != NONE {
                set.insert(v);
            }
        }
    }
    let mut dropped = 0;
    let [keys, ips, regions, agents, services] = sets;
    let mut names = |set: BTreeSet<u16>, values: &Values| -> Vec<String> {
        let mut v: Vec<String> = set
            .into_iter()
            .filter_map(|i| {
                let s = values.get(i);
                dropped += u64::from(s.is_none());
                s.map(str::to_owned)
            })
            .collect();
        v.sort();
        v
    };
    let access_keys = names(keys, &tl.keys);
    let source_ips = names(ips, &tl.ips);
    let regions = names(regions, &tl.regions);
    let user_agents = names(agents, &tl.agents);
    let invoked_by = names(services, &tl.services);
    let verdict = verdict(principal, t, direct, all, &a, &invoked_by);
    let decisive: Vec<Span> = if direct.is_empty() { all } else { direct }.iter().map(|s| (*s).clone()).collect();
    let horizons = crossings(&decisive);
    let peak = decisive.iter().filter(|s| s.crossing.measure != Measure::FailedCalls).map(|s| s.peak).max().unwrap_or(0);
    Burst {
        rule: rule.to_owned(),
        principal: principal.clone(),
        verdict,
        crossed: horizons.first().copied(),
        horizons,
        start: utc(first),
        end: utc(last),
        peak_in_window: peak,
        calls: a.calls,
        instances_launched: a.instances_launched,
        instances_requested: a.instances_requested,
        failed_calls: a.failed_calls,
        dry_run_calls: a.dry_run_calls,
        access_keys,
        source_ips,
        regions,
        user_agents,
        invoked_by,
        dropped_values: dropped,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn call(t_ms: i64, n: u32) -> Call {
        Call {
            t_ms,
            launched: n,
            requested: n,
            key: NONE,
            ip: NONE,
            region: NONE,
            agent: NONE,
            service: NONE,
            failed: false,
            dry_run: false,
            by_service: false,
            count_omitted: false,
            id: u32::MAX,
        }
    }

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    /// The spans of one horizon of `window_ms` and the default 10 instances, as [`judge`] gives them.
    fn spans(calls: &[Call], window_ms: i64, t: &Thresholds) -> Vec<(std::ops::Range<usize>, u64)> {
        let h =
            Horizon { measure: Measure::Instances, window_seconds: u64::try_from(window_ms / 1000).unwrap(), threshold: t.min_instances };
        judge_calls(calls, &[h], t).direct.into_iter().map(|s| (s.calls, s.peak)).collect()
    }

    #[test]
    fn a_steady_launcher_is_never_a_burst() {
        // GIVEN one instance every 3 hours for 3 days (24 instances, over the threshold in total)
        let calls: Vec<Call> = (0..24).map(|i| call(i * 3 * HOUR, 1)).collect();
        // WHEN windows of a minute, and of an hour, slide over them
        // THEN no window reaches 10 instances
        for w in [MIN, HOUR] {
            assert!(spans(&calls, w, &Thresholds::default()).is_empty());
        }
    }

    #[test]
    fn overlapping_windows_are_one_burst_and_distant_ones_two() {
        // GIVEN 12 calls of one instance 5 s apart, then the same 2 days later
        let mut calls: Vec<Call> = (0..12).map(|i| call(i * 5_000, 1)).collect();
        calls.extend((0..12).map(|i| call(48 * HOUR + i * 5_000, 1)));
        // WHEN a one-minute window slides
        let s = spans(&calls, MIN, &Thresholds::default());
        // THEN two bursts of 12 calls each, peak 12
        assert_eq!(s, vec![(0..12, 12), (12..24, 12)]);
        // AND with a 10-second window no burst at all (at most 2 calls in one)
        assert!(spans(&calls, 10_000, &Thresholds::default()).is_empty());
    }

    proptest! {
        #[test]
        fn a_burst_over_the_threshold_is_always_found(
            n in 10u32..200,
            spacing_ms in 0i64..6_000,
            steady in proptest::collection::vec(0i64..(72 * HOUR), 0..30),
            per_call in 1u32..4,
        ) {
            // GIVEN background calls of one instance at random times, and n instances in calls
            // spread over less than a minute somewhere in them
            let at = 36 * HOUR;
            let calls_needed = n.div_ceil(per_call);
            let spacing = spacing_ms.min(59_000 / i64::from(calls_needed.max(1)));
            let mut calls: Vec<Call> = steady.iter().map(|t| call(*t, 1)).collect();
            calls.extend((0..calls_needed).map(|i| call(at + i64::from(i) * spacing, per_call)));
            calls.sort_by_key(|c| c.t_ms);
            // WHEN a one-minute window slides
            let s = spans(&calls, MIN, &Thresholds::default());
            // THEN one burst covers the injected calls
            prop_assert!(s.iter().any(|(r, peak)| calls[r.start].t_ms <= at && calls[r.end - 1].t_ms >= at + i64::from(calls_needed - 1) * spacing && *peak >= u64::from(n)));
        }

        #[test]
        fn calls_far_apart_are_never_a_burst(gaps in proptest::collection::vec(MIN..(10 * HOUR), 1..100), per_call in 1u32..10) {
            // GIVEN calls under the threshold each, more than a window apart
            let mut t = 0;
            let calls: Vec<Call> = gaps.iter().map(|g| { t += g; call(t, per_call) }).collect();
            // THEN no window holds two of them, so none reaches 10
            prop_assert!(spans(&calls, MIN, &Thresholds::default()).is_empty());
        }
    }
}
