//! Evidence: the CloudTrail records that made a principal cross a threshold, as a finding names
//! them, and the pure check of what CloudTrail's own event history says about them.
//!
//! A record in the trail's log group may be forged: `logs:PutLogEvents` on `*` (the managed
//! `AWSLambdaBasicExecutionRole` grants it) is enough to write a `RunInstances` record naming
//! anyone. CloudTrail's event history (`LookupEvents`) cannot be written that way. So a finding
//! carries, per flagged principal, the records that crossed a horizon
//! ([`crate::windows::evidence`]): what it crossed, and roughly where. Nobody is contained before
//! [`confirm`] says that CloudTrail's own records of the principal cross that horizon by themselves
//! ([`judge`], the one window function).
//!
//! Which of CloudTrail's records count: the answers to the claimed event ids (each must name the
//! same principal, at the same time, for the same event and with the same instance counts as the
//! finding says, or it confirms nothing: a forged record can reuse a real event id), and every
//! other record CloudTrail answered for the principal's own calls (looked up by who made them,
//! `LookupEvents` by `Username` or `AccessKeyId`) of the claimed event inside the evidence's
//! [`Evidence::range_ms`]. So the finding need not carry every record (a drip of 150 one-instance
//! calls under "150 within 24 h" is confirmed from CloudTrail's 150 records, not from the 80 a
//! finding names), and forged records planted ahead of the real ones crowd nothing out: they are
//! only claims, and CloudTrail's records are judged whatever the claims say.
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

/// At most this many records are named per principal (a bound on a finding's size and on the
/// lookups by event id; `LookupEvents` allows 2 requests a second per account and region). A rule
/// counting calls may not set a threshold above it ([`crate::rules`] refuses it). A crossing that
/// needs more records than the finding names (a horizon of instances crossed one instance a call)
/// is confirmed from CloudTrail's own records of the principal in [`Evidence::range_ms`], looked up by
/// who made the calls; the claims alone cannot cross it ([`can_cross`]).
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

    /// Where CloudTrail's records of the principal count for this evidence (inclusive, epoch
    /// milliseconds): from one horizon window before the earliest claim to one after the latest.
    /// Every window that could cross the horizon together with a claimed record lies inside it; the
    /// dispatcher counts the whole finding window instead ([`confirm_within`]). `None` without claims.
    pub fn range_ms(&self) -> Option<(i64, i64)> {
        let w = i64::try_from(self.horizon.window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        let first = self.claims().map(|e| e.event_time.timestamp_millis()).min()?;
        let last = self.claims().map(|e| e.event_time.timestamp_millis()).max()?;
        Some((first.saturating_sub(w), last.saturating_add(w)))
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
/// finding names ([`MAX_EVIDENCE`]); only CloudTrail's other records of the principal can then
/// confirm it.
pub fn can_cross(ev: &Evidence) -> bool {
    let mut points: Vec<Point> = ev.claims().map(claimed).collect();
    sort(&mut points);
    !judge(&points, std::slice::from_ref(&ev.horizon)).is_empty()
}

/// Why `ev` can never be confirmed, in words, when [`can_cross`] is false.
pub fn too_few(ev: &Evidence) -> String {
    format!(
        "the {} record(s) the finding names cannot cross {} by themselves: this crossing needs more records than a finding \
         names ({MAX_EVIDENCE}), and CloudTrail's own records of the principal looked up by who made the calls did not cross it",
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
    let f = if crate::capacity::is_launch(&r) { launch_facts(&r) } else { call_facts(&r) };
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
    /// How many claims CloudTrail confirmed as claimed.
    confirmed: usize,
    /// The claims without a final answer (not looked up, or not held by CloudTrail yet), as the
    /// points they would count for if CloudTrail confirmed them.
    pending: Vec<Point>,
    /// Each claim that confirms nothing, and why (escaped).
    failed: Vec<(String, String)>,
    /// Every record CloudTrail answered that is the principal's own call of the claimed event in
    /// the range (claimed or not), each event id once: what is judged.
    own: Vec<Point>,
    /// How many of `own` are not a claim CloudTrail confirmed (calls the finding did not name, or
    /// named differently).
    unclaimed: usize,
}

/// Tally `ev`'s claims and CloudTrail's `answers` within `range` (epoch milliseconds, inclusive).
/// An event id named more than once counts once: a copy of one real record, repeated in the log
/// group, must not count as several calls.
fn tally(principal: &Principal, ev: &Evidence, answers: &[Answer], range: Option<(i64, i64)>) -> Tally {
    let mut t = Tally { confirmed: 0, pending: Vec::new(), failed: Vec::new(), own: Vec::new(), unclaimed: 0 };
    let mut seen = std::collections::BTreeSet::new();
    let mut confirmed_ids = std::collections::BTreeSet::new();
    for claim in ev.claims() {
        if !seen.insert(claim.event_id.as_str()) {
            t.failed.push((untrusted(&claim.event_id), "named more than once: counted once".into()));
            continue;
        }
        let answer = answers.iter().find(|a| a.event_id == claim.event_id).map(|a| a.record.as_deref());
        match check(claim, principal, answer) {
            Ok(_) => {
                t.confirmed += 1;
                confirmed_ids.insert(claim.event_id.as_str());
            }
            Err(why) => {
                if answer.is_none_or(|r| r.is_none()) {
                    t.pending.push(claimed(claim));
                }
                t.failed.push((untrusted(&claim.event_id), why));
            }
        }
    }
    let names: std::collections::BTreeSet<&str> = ev.claims().map(|c| c.event_name.as_str()).collect();
    let mut ids = std::collections::BTreeSet::new();
    for (a, text) in answers.iter().filter_map(|a| a.record.as_deref().map(|r| (a, r))) {
        if !ids.insert(a.event_id.as_str()) {
            continue;
        }
        if let Some(p) = own_call(text, &a.event_id, principal, &names, range) {
            t.own.push(p);
            t.unclaimed += usize::from(!confirmed_ids.contains(a.event_id.as_str()));
        }
    }
    t
}

/// The point a record CloudTrail answered counts for when it is `principal`'s own call of one of
/// `names`, filed under `event_id`, inside `range`; `None` for anything else.
fn own_call(
    text: &str,
    event_id: &str,
    principal: &Principal,
    names: &std::collections::BTreeSet<&str>,
    range: Option<(i64, i64)>,
) -> Option<Point> {
    let r = parse_record(text).ok()?;
    if r.event_id.as_deref() != Some(event_id) || !r.event_name.as_deref().is_some_and(|n| names.contains(n)) {
        return None;
    }
    let (who, _) = classify(r.user_identity.as_ref());
    let t = r.time_ms()?;
    let (from, to) = range?;
    if who.key() != principal.key() || !(from..=to).contains(&t) {
        return None;
    }
    let f = if crate::capacity::is_launch(&r) { launch_facts(&r) } else { call_facts(&r) };
    Some(Point { t_ms: t, launched: f.launched, requested: f.requested, failed: f.failed, dry_run: f.dry_run })
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
        Some(e) => Ok(e),
    }
}

/// Whether the answers so far leave any chance of confirming `evidence` by looking up its claims
/// by event id: CloudTrail's records of the principal and the claims still without a final answer
/// together cross its horizon. `false` once enough claims are refuted (another principal, time,
/// region, event or count; a repeated event id) that the rest cannot cross it whatever CloudTrail
/// answers for them: looking them up is wasted (CloudTrail's records of the principal not yet
/// looked up by who made the calls may still cross it: the caller decides).
pub fn possible(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer]) -> bool {
    possible_within(principal, evidence, answers, None)
}

/// [`possible`], counting CloudTrail's records inside `range` (epoch milliseconds, inclusive;
/// `None`: [`Evidence::range_ms`]).
pub fn possible_within(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer], range: Option<(i64, i64)>) -> bool {
    let Ok(ev) = usable(evidence) else { return false };
    let t = tally(principal, ev, answers, range.or_else(|| ev.range_ms()));
    let all: Vec<Point> = t.own.into_iter().chain(t.pending).collect();
    crosses(&all, &ev.horizon)
}

/// Judge what CloudTrail answered for `evidence` of `principal`: confirmed when CloudTrail's own
/// records of the principal's calls of the claimed event inside [`Evidence::range_ms`] cross the
/// evidence's horizon by themselves ([`judge`], the one window function), each event id counted
/// once, whichever of them the finding named. No evidence, or more than [`MAX_EVIDENCE`] records
/// named, confirms nothing; neither does a record of the log group that CloudTrail does not hold.
pub fn confirm(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer]) -> Confirmation {
    confirm_within(principal, evidence, answers, None)
}

/// [`confirm`], counting CloudTrail's records inside `range` (epoch milliseconds, inclusive;
/// `None`: [`Evidence::range_ms`]): the dispatcher passes the finding's window, so that a real
/// crossing anywhere in what the detector read counts, wherever forged claims sit.
pub fn confirm_within(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer], range: Option<(i64, i64)>) -> Confirmation {
    let ev = match usable(evidence) {
        Ok(ev) => ev,
        Err(unconfirmed) => return unconfirmed,
    };
    let t = tally(principal, ev, answers, range.or_else(|| ev.range_ms()));
    if crosses(&t.own, &ev.horizon) {
        return Confirmation::Confirmed;
    }
    let why = if t.unclaimed == 0 && !can_cross(ev) {
        too_few(ev)
    } else {
        let more = if t.unclaimed == 0 {
            String::new()
        } else {
            format!(" (and holds {} call(s) of the principal in the window other than as the finding names them)", t.unclaimed)
        };
        format!(
            "CloudTrail confirmed {} of the {} event(s) that crossed {}{more}; what it confirmed does not cross it",
            t.confirmed,
            ev.len(),
            ev.horizon.describe()
        )
    };
    Confirmation::Unconfirmed { why, events: t.failed }
}

/// What CloudTrail's own records prove a principal used, launched and created: the artifacts an
/// action may take from records. Only records CloudTrail answered count: the claimed ones that
/// match their claims ([`check`]), the principal's other calls of the claimed event inside
/// [`Evidence::range_ms`], and (for `created_keys`) the `CreateAccessKey` records a finding's
/// created keys name ([`proven_created_keys`]). A record that exists only in the trail's log group
/// adds nothing here, so a forged record beside a confirmed burst can name neither another key of
/// the principal, nor anyone's instance, nor a key it did not create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proven {
    /// `userIdentity.accessKeyId` of each confirmed record.
    pub access_keys: std::collections::BTreeSet<String>,
    /// `userIdentity.principalId` of each confirmed record (an IAM user's `UserId`, `AIDA…`; a
    /// role session's `RoleId:session`): the identity the actions are bound to.
    pub principal_ids: std::collections::BTreeSet<String>,
    /// `userIdentity.sessionContext.sessionIssuer.principalId` of each confirmed record whose
    /// session a role issued: the role's `RoleId` (`AROA…`), the identity role actions are bound to.
    pub role_ids: std::collections::BTreeSet<String>,
    /// The instances each confirmed `RunInstances` response lists, with CloudTrail's region,
    /// launch time (or `eventTime`) and reservation id.
    pub launches: Vec<LaunchedInstance>,
    /// `(access key id, user name)` of each key a `CreateAccessKey` record of the principal that
    /// CloudTrail holds shows created.
    pub created_keys: std::collections::BTreeSet<(String, String)>,
}

impl Proven {
    /// True when CloudTrail's records show `instance_id` launched in `region`.
    pub fn launched(&self, region: &str, instance_id: &str) -> Option<&LaunchedInstance> {
        self.launches.iter().find(|l| l.region == region && l.instance_id == instance_id)
    }

    /// True when CloudTrail's records show the principal created `access_key_id` for `user_name`.
    pub fn created_key(&self, access_key_id: &str, user_name: &str) -> bool {
        self.created_keys.iter().any(|(k, u)| k == access_key_id && u.eq_ignore_ascii_case(user_name))
    }
}

/// Add what one record CloudTrail holds proves (its key, its instances) to `out`.
fn add_proof(out: &mut Proven, text: &str) {
    let Ok(r) = parse_record(text) else { return };
    if let Some(k) = r.user_identity.as_ref().and_then(|u| u.access_key_id.as_deref()) {
        out.access_keys.insert(k.to_owned());
    }
    if let Some(id) = r.user_identity.as_ref().and_then(|u| u.principal_id.as_deref()).filter(|id| !id.is_empty()) {
        out.principal_ids.insert(id.to_owned());
    }
    let issuer = r.user_identity.as_ref().and_then(|u| u.session_context.as_ref()).and_then(|c| c.session_issuer.as_ref());
    if let Some(i) = issuer.filter(|i| i.issuer_type.as_deref() == Some("Role"))
        && let Some(id) = i.principal_id.as_deref().filter(|id| !id.is_empty())
    {
        out.role_ids.insert(id.to_owned());
    }
    if !r.is_event("ec2.amazonaws.com", "RunInstances") {
        return;
    }
    let (Some(t), Some(region)) = (r.time_ms().and_then(DateTime::<Utc>::from_timestamp_millis), r.aws_region.as_deref()) else {
        return;
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

/// The artifacts of `evidence` that CloudTrail's answers prove ([`Proven`]): the access keys and
/// instances of the principal's own calls of the claimed event that CloudTrail answered in the
/// evidence's range (claimed or not), nothing from any other record.
pub fn proven(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer]) -> Proven {
    proven_within(principal, evidence, answers, None)
}

/// [`proven`], counting the principal's calls inside `range` (epoch milliseconds, inclusive;
/// `None`: [`Evidence::range_ms`]).
pub fn proven_within(principal: &Principal, evidence: Option<&Evidence>, answers: &[Answer], range: Option<(i64, i64)>) -> Proven {
    let mut out = Proven::default();
    let Some(ev) = evidence else { return out };
    let names: std::collections::BTreeSet<&str> = ev.claims().map(|c| c.event_name.as_str()).collect();
    let range = range.or_else(|| ev.range_ms());
    let mut seen = std::collections::BTreeSet::new();
    for (a, text) in answers.iter().filter_map(|a| a.record.as_deref().map(|r| (a, r))) {
        if seen.insert(a.event_id.as_str()) && own_call(text, &a.event_id, principal, &names, range).is_some() {
            add_proof(&mut out, text);
        }
    }
    out
}

/// Where CloudTrail records IAM's calls (`CreateAccessKey` among them): IAM is a global service,
/// and its events are recorded in `us-east-1`.
pub const IAM_EVENTS_REGION: &str = "us-east-1";

/// The keys of `created` that CloudTrail's answers prove `principal` created: a record CloudTrail
/// holds must be a successful `CreateAccessKey` of IAM, made by `principal`, at the time the
/// finding says, creating that very key for that very user (names compared as IAM compares them).
pub fn proven_created_keys(
    principal: &Principal,
    created: &[crate::created::Created],
    answers: &[Answer],
) -> std::collections::BTreeSet<(String, String)> {
    let mut shown = Vec::new();
    for a in answers {
        let Some(text) = a.record.as_deref() else { continue };
        let Ok(r) = parse_record(text) else { continue };
        if r.event_id.as_deref() != Some(a.event_id.as_str()) || !r.is_event("iam.amazonaws.com", "CreateAccessKey") {
            continue;
        }
        let (who, _) = classify(r.user_identity.as_ref());
        if who.key() != principal.key() {
            continue;
        }
        if let (Some(t), Some(crate::created::Created::AccessKey { access_key_id, user_name, .. })) =
            (r.time_ms(), crate::created::created(&r))
        {
            shown.push((t, access_key_id, user_name));
        }
    }
    created
        .iter()
        .filter_map(|c| match c {
            crate::created::Created::AccessKey { access_key_id, user_name, created_at } => shown
                .iter()
                .any(|(t, k, u)| *t == created_at.timestamp_millis() && k == access_key_id && u.eq_ignore_ascii_case(user_name))
                .then(|| (access_key_id.clone(), user_name.clone())),
            crate::created::Created::User { .. } => None,
        })
        .collect()
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
