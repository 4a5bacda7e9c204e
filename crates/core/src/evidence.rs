//! Evidence: the CloudTrail records that made a principal cross a threshold, as a finding names
//! them, and the pure check of what CloudTrail's own event history says about them.
//!
//! A record in the trail's log group may be forged: `logs:PutLogEvents` on `*` (the managed
//! `AWSLambdaBasicExecutionRole` grants it) is enough to write a `RunInstances` record naming
//! anyone. CloudTrail's event history (`LookupEvents`) cannot be written that way. So a finding
//! carries, per flagged principal, the fewest records that cross its threshold
//! ([`crate::windows::evidence`]), and nobody is contained before the dispatcher has looked each
//! one up by event id and [`confirm`] says that what CloudTrail recorded crosses the same horizon
//! by itself.
//!
//! A forged record can reuse a real event id (someone else's call, or the principal's own
//! harmless one): every record CloudTrail answers must name the same principal, at the same
//! time, for the same event and with the same instance counts as the finding says, or it
//! confirms nothing.
//!
//! Pure: no I/O, no clock. Layering: records, principals, launches and windows below it; the
//! contract above it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aggregate::LaunchedInstance;
use crate::launch::launch_facts;
use crate::principal::{Principal, classify};
use crate::record::parse_record;
use crate::scan::call_facts;
use crate::text::untrusted;
use crate::windows::{Horizon, Point, judge, sort};

/// At most this many records are named per principal. `LookupEvents` allows 2 requests a second
/// per account and region: 80 records take 40 s to confirm, what one dispatcher delivery can
/// spend before it must act (it invokes handlers only in its first 60 s). A rule counting calls
/// may not set a threshold above it ([`crate::rules`] refuses it: such a horizon could flag and
/// never contain). A crossing that needs more records (a horizon of instances crossed a few
/// instances a call) cannot be confirmed: [`can_cross`] says so before anything is looked up, and
/// the principal is notify-only, the page saying why.
pub const MAX_EVIDENCE: usize = 80;

/// The records that made one principal cross one horizon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The horizon they cross.
    pub horizon: Horizon,
    /// The fewest records whose count alone crosses it (at most [`MAX_EVIDENCE`]), in time order.
    pub events: Vec<EvidenceEvent>,
    /// The other records of the window that crossed it, in time order ([`MAX_EVIDENCE`] in all
    /// with `events`): looked up only when `events` do not confirm. The fewest records are chosen
    /// largest first, so one forged record bigger than the real ones would be all `events` names;
    /// the real records are still here, and what CloudTrail confirms of either list counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<EvidenceEvent>,
}

impl Evidence {
    /// Every record named: `events`, then `alternatives`.
    pub fn claims(&self) -> impl Iterator<Item = &EvidenceEvent> {
        self.events.iter().chain(&self.alternatives)
    }

    /// How many records are named in all.
    pub fn len(&self) -> usize {
        self.events.len() + self.alternatives.len()
    }

    /// True when no record is named.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One record, as the detector read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceEvent {
    /// `eventID`.
    pub event_id: String,
    /// `eventName`.
    pub event_name: String,
    /// `awsRegion`: where CloudTrail's event history holds it.
    pub region: String,
    /// `eventTime`.
    pub event_time: DateTime<Utc>,
    /// Instances launched.
    pub launched: u64,
    /// Instances requested.
    pub requested: u64,
    /// The call failed (not a dry run).
    pub failed: bool,
}

/// What CloudTrail's event history answered for one event id: the record (`CloudTrailEvent`),
/// or nothing yet. An event id with no answer at all was not looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The event id looked up.
    pub event_id: String,
    /// The record CloudTrail holds under it, if any.
    pub record: Option<String>,
}

/// The verdict on one principal's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The records CloudTrail confirmed cross the horizon by themselves.
    Confirmed,
    /// They do not: the principal must not be contained automatically.
    Unconfirmed {
        /// Each event id that CloudTrail did not confirm, and why (escaped).
        events: Vec<(String, String)>,
        /// Why the principal is not confirmed, in words (escaped).
        why: String,
    },
}

/// The point a record counts for, as the finding claims it.
fn claimed(e: &EvidenceEvent) -> Point {
    Point { t_ms: e.event_time.timestamp_millis(), launched: e.launched, requested: e.requested, failed: e.failed, dry_run: false }
}

/// True when the records `ev` names would cross its horizon by themselves if CloudTrail
/// confirmed each as claimed ([`judge`]): false when the crossing needed more records than a
/// finding names ([`MAX_EVIDENCE`]). Nothing is worth looking up then.
pub fn can_cross(ev: &Evidence) -> bool {
    let mut points: Vec<Point> = ev.claims().map(claimed).collect();
    sort(&mut points);
    !judge(&points, std::slice::from_ref(&ev.horizon)).is_empty()
}

/// Why `ev` can never be confirmed, in words, when [`can_cross`] is false.
pub fn too_few(ev: &Evidence) -> String {
    format!(
        "the {} record(s) the finding names cannot cross {} by themselves: this crossing needs more records than a finding \
         names for CloudTrail to confirm ({MAX_EVIDENCE}, what one delivery can look up before it must act), so nobody is \
         contained for it automatically; look at the principal's calls in CloudTrail's event history and contain it by hand",
        ev.len(),
        ev.horizon.describe()
    )
}

/// Check one answer against its claim: the point it counts for, or why it confirms nothing.
/// `None`: not looked up; `Some(None)`: looked up, and CloudTrail does not hold it (yet).
fn check(claim: &EvidenceEvent, principal: &Principal, answer: Option<Option<&str>>) -> Result<Point, String> {
    let text = answer.ok_or("not looked up")?.ok_or("not in CloudTrail's event history")?;
    let r = parse_record(text).map_err(|e| format!("CloudTrail's record cannot be read ({})", untrusted(&e)))?;
    if r.event_id.as_deref() != Some(claim.event_id.as_str()) {
        return Err(format!("CloudTrail answered another event ({})", untrusted(r.event_id.as_deref().unwrap_or("none"))));
    }
    if r.aws_region.as_deref() != Some(claim.region.as_str()) {
        return Err(format!(
            "CloudTrail recorded it in {}, not {}",
            untrusted(r.aws_region.as_deref().unwrap_or("no region")),
            untrusted(&claim.region)
        ));
    }
    if r.event_name.as_deref() != Some(claim.event_name.as_str()) {
        return Err(format!(
            "CloudTrail recorded {} there, not {}",
            untrusted(r.event_name.as_deref().unwrap_or("no event")),
            untrusted(&claim.event_name)
        ));
    }
    let (who, _) = classify(r.user_identity.as_ref());
    if who.key() != principal.key() {
        return Err(format!("CloudTrail recorded it for {}, not {}", untrusted(&who.label()), untrusted(&principal.label())));
    }
    let t = r.time_ms().ok_or("CloudTrail's record has no eventTime")?;
    if t != claim.event_time.timestamp_millis() {
        return Err(format!(
            "CloudTrail recorded it at {}, the log group at {}",
            untrusted(r.event_time.as_deref().unwrap_or("?")),
            crate::time::format_utc(claim.event_time)
        ));
    }
    let f = if r.is_event("ec2.amazonaws.com", "RunInstances") { launch_facts(&r) } else { call_facts(&r) };
    if (f.launched, f.requested, f.failed) != (claim.launched, claim.requested, claim.failed) {
        return Err(format!(
            "CloudTrail recorded {} launched / {} requested{}, the log group {} / {}{}",
            f.launched,
            f.requested,
            if f.failed { " (failed)" } else { "" },
            claim.launched,
            claim.requested,
            if claim.failed { " (failed)" } else { "" }
        ));
    }
    Ok(Point { t_ms: t, launched: f.launched, requested: f.requested, failed: f.failed, dry_run: f.dry_run })
}

/// Where one principal's evidence stands after the answers so far.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tally {
    /// The claims CloudTrail confirmed, as points.
    confirmed: Vec<Point>,
    /// The claims without a final answer (not looked up, or not held by CloudTrail yet), as the
    /// points they would count for if CloudTrail confirmed them.
    pending: Vec<Point>,
    /// Each claim that confirms nothing, and why (escaped).
    failed: Vec<(String, String)>,
}

/// Tally `ev`'s claims against `answers`. An event id named more than once counts once: a copy
/// of one real record, repeated in the log group, must not count as several calls.
fn tally(principal: &Principal, ev: &Evidence, answers: &[Answer]) -> Tally {
    let mut t = Tally { confirmed: Vec::new(), pending: Vec::new(), failed: Vec::new() };
    let mut seen = std::collections::BTreeSet::new();
    for claim in ev.claims() {
        if !seen.insert(claim.event_id.as_str()) {
            t.failed.push((untrusted(&claim.event_id), "named more than once: counted once".into()));
            continue;
        }
        let answer = answers.iter().find(|a| a.event_id == claim.event_id).map(|a| a.record.as_deref());
        match check(claim, principal, answer) {
            Ok(p) => t.confirmed.push(p),
            Err(why) => {
                if answer.is_none_or(|r| r.is_none()) {
                    t.pending.push(Point {
                        t_ms: claim.event_time.timestamp_millis(),
                        launched: claim.launched,
                        requested: claim.requested,
                        failed: claim.failed,
                        dry_run: false,
                    });
                }
                t.failed.push((untrusted(&claim.event_id), why));
            }
        }
    }
    t
}

fn crosses(points: &[Point], horizon: &Horizon) -> bool {
    let mut points = points.to_vec();
    sort(&mut points);
    !judge(&points, std::slice::from_ref(horizon)).is_empty()
}

/// The evidence that can be confirmed at all: some, and at most [`MAX_EVIDENCE`] records.
fn usable(evidence: Option<&Evidence>) -> Result<&Evidence, Confirmation> {
    match evidence.filter(|e| !e.is_empty()) {
        None => Err(Confirmation::Unconfirmed {
            events: Vec::new(),
            why: "the finding names no CloudTrail event to confirm (a detector that does not say which records crossed the threshold)"
                .into(),
        }),
        Some(e) if e.len() > MAX_EVIDENCE => Err(Confirmation::Unconfirmed {
            events: Vec::new(),
            why: format!("the finding names {} events, more than the {MAX_EVIDENCE} that are ever looked up", e.len()),
        }),
        Some(e) if !can_cross(e) => Err(Confirmation::Unconfirmed { events: Vec::new(), why: too_few(e) }),
        Some(e) => Ok(e),
    }
}

/// Whether the answers so far leave any chance of confirming `evidence`: the claims confirmed
/// and the claims still without a final answer together cross its horizon. `false` once enough
/// claims are refuted (another principal, time, region, event or count; a repeated event id)
/// that the rest cannot cross it whatever CloudTrail answers: looking up more is wasted.
pub fn possible(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer]) -> bool {
    let Ok(ev) = usable(evidence) else { return false };
    let t = tally(principal, ev, answers);
    let all: Vec<Point> = t.confirmed.into_iter().chain(t.pending).collect();
    crosses(&all, &ev.horizon)
}

/// Judge what CloudTrail answered for `evidence` of `principal`: confirmed when the records that
/// match their claims cross the evidence's horizon by themselves ([`judge`], the one window
/// function), each event id counted once. No evidence, more than [`MAX_EVIDENCE`] records, or
/// an answer missing for a claimed event, confirms nothing.
pub fn confirm(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer]) -> Confirmation {
    let ev = match usable(evidence) {
        Ok(ev) => ev,
        Err(unconfirmed) => return unconfirmed,
    };
    let t = tally(principal, ev, answers);
    if crosses(&t.confirmed, &ev.horizon) {
        return Confirmation::Confirmed;
    }
    Confirmation::Unconfirmed {
        why: format!(
            "CloudTrail confirmed {} of the {} event(s) that crossed {}; what it confirmed does not cross it",
            t.confirmed.len(),
            ev.len(),
            ev.horizon.describe()
        ),
        events: t.failed,
    }
}

/// What CloudTrail's own records prove a principal used and launched: the artifacts an action
/// may take from records. Only the records CloudTrail answered that match their claims
/// ([`check`]) count; a record that exists only in the trail's log group adds nothing here, so a
/// forged record beside a confirmed burst can name neither another key of the principal nor
/// anyone's instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proven {
    /// `userIdentity.accessKeyId` of each confirmed record.
    pub access_keys: std::collections::BTreeSet<String>,
    /// `userIdentity.principalId` of each confirmed record (an IAM user's `UserId`, `AIDA…`; a
    /// role session's `RoleId:session`): the identity the actions are bound to.
    pub principal_ids: std::collections::BTreeSet<String>,
    /// The instances each confirmed `RunInstances` response lists, with CloudTrail's region,
    /// launch time (or `eventTime`) and reservation id.
    pub launches: Vec<LaunchedInstance>,
}

impl Proven {
    /// True when CloudTrail's records show `instance_id` launched in `region`.
    pub fn launched(&self, region: &str, instance_id: &str) -> Option<&LaunchedInstance> {
        self.launches.iter().find(|l| l.region == region && l.instance_id == instance_id)
    }
}

/// The artifacts of `evidence` that CloudTrail's answers prove ([`Proven`]): the access keys and
/// instances of the records that match their claims, nothing from any other record.
pub fn proven(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer]) -> Proven {
    let mut out = Proven::default();
    let Some(ev) = evidence else { return out };
    let mut seen = std::collections::BTreeSet::new();
    for claim in ev.claims() {
        if !seen.insert(claim.event_id.as_str()) {
            continue;
        }
        let Some(text) = answers.iter().find(|a| a.event_id == claim.event_id).and_then(|a| a.record.as_deref()) else { continue };
        if check(claim, principal, Some(Some(text))).is_err() {
            continue;
        }
        let Ok(r) = parse_record(text) else { continue };
        if let Some(k) = r.user_identity.as_ref().and_then(|u| u.access_key_id.as_deref()) {
            out.access_keys.insert(k.to_owned());
        }
        if let Some(id) = r.user_identity.as_ref().and_then(|u| u.principal_id.as_deref()).filter(|id| !id.is_empty()) {
            out.principal_ids.insert(id.to_owned());
        }
        if !r.is_event("ec2.amazonaws.com", "RunInstances") {
            continue;
        }
        let (Some(t), Some(region)) = (r.time_ms().and_then(DateTime::<Utc>::from_timestamp_millis), r.aws_region.as_deref()) else {
            continue;
        };
        let f = launch_facts(&r);
        for (i, id) in f.instance_ids.iter().enumerate() {
            let at = f.launch_times_ms.get(i).copied().flatten().and_then(DateTime::<Utc>::from_timestamp_millis);
            out.launches.push(LaunchedInstance {
                instance_id: id.clone(),
                region: region.to_owned(),
                launched_at: at.unwrap_or(t),
                reservation_id: f.reservation_id.clone(),
                request_id: f.request_id.clone(),
            });
        }
    }
    out
}

/// Whether `ev` is evidence of the finding it came in, before anything is looked up: its horizon
/// must be one of the finding's rule's `horizons` (when the rule is known: a finding that names a
/// lower horizon of its own, "1 call within 1 minute", must not make one old call enough), and
/// every record must fall inside the finding's `window` (a record of a month ago is not what
/// crossed a threshold in this window). The reason, in words, when it is not.
pub fn fits(ev: &Evidence, horizons: Option<&[Horizon]>, window: &crate::window::TimeWindow) -> Result<(), String> {
    if let Some(hs) = horizons
        && !hs.contains(&ev.horizon)
    {
        return Err(format!(
            "the finding judges its evidence by {}, which is not a horizon of its rule ({}): nothing is looked up",
            ev.horizon.describe(),
            hs.iter().map(Horizon::describe).collect::<Vec<_>>().join("; ")
        ));
    }
    if let Some(e) = ev.claims().find(|e| !window.contains_ms(e.event_time.timestamp_millis())) {
        return Err(format!(
            "the evidence names {} at {}, outside the finding's window ({} to {}): nothing is looked up",
            untrusted(&e.event_id),
            crate::time::format_utc(e.event_time),
            crate::time::format_utc(window.start),
            crate::time::format_utc(window.end)
        ));
    }
    Ok(())
}
