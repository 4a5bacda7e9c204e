//! One EventBridge event, from its SQS body to at most one finding: read and checked
//! ([`launchguard_core::stream::parse_event`]), matched against every rule by the scanner,
//! recorded once, its series' buckets judged by [`launchguard_core::windows::judge`], and on a
//! crossing the exact events assessed ([`launchguard_core::burst::Tracker::assess`]) before one
//! finding per principal per incident is claimed and sent.

use chrono::{DateTime, Utc};
use launchguard_core::burst::Tracker;
use launchguard_core::scan::Scanner;
use launchguard_core::stream::{Refusal, bucket_start, hit, judge_buckets, parse_event, read_range};
use launchguard_core::text::untrusted;
use serde::Serialize;
use tracing::{info, warn};

use crate::finding::{Crossed, stream_finding};
use crate::rules::{Guard, HealthPager, RuleReader};
use crate::store::{Claimed, CounterStore, EventItem, Recorded, StoredEvent, claim_key, latest_until, series_key};
use crate::{Config, Invoker, StreamError};

/// Most events read back to make a finding, the newest first: a crossing window of at most this
/// many events (the one ending at the newest event) is always read whole, however many older
/// events the longest horizon holds; a series past it makes a finding marked incomplete.
pub const MAX_EVENTS_READ: usize = 10_000;

/// Most bytes of records a finding carries as AWS delivered them (`delivered_by_aws`): well
/// inside the 256 KiB a sealed finding may take. A claim whose record does not fit is left to
/// CloudTrail's `LookupEvents` (minutes), as the alarm chain's claims are.
pub const MAX_DELIVERED_BYTES: usize = 64 * 1024;

/// The fields of one `responseElements.instancesSet` item that any check reads: EC2 describes
/// every instance it launched (about 2.5 KB each), so a call of 30 instances alone is a record
/// over [`MAX_DELIVERED_BYTES`].
const INSTANCE_FIELDS: [&str; 3] = ["instanceId", "instanceType", "launchTime"];

/// `detail` as a finding carries it: the record AWS delivered, less what no check reads and a
/// launcher sizes at will (the tags it asked for, and each launched instance's description but
/// its id, type and launch time). `None` when it is not a JSON object.
pub fn carried(detail: &str) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(detail).ok()?;
    if let Some(req) = v.get_mut("requestParameters").and_then(serde_json::Value::as_object_mut) {
        req.remove("tagSpecificationSet");
    }
    if let Some(items) = v.pointer_mut("/responseElements/instancesSet/items").and_then(serde_json::Value::as_array_mut) {
        for item in items.iter_mut().filter_map(serde_json::Value::as_object_mut) {
            item.retain(|k, _| INSTANCE_FIELDS.contains(&k.as_str()));
        }
    }
    v.is_object().then(|| v.to_string())
}

/// The records of `flagged`'s claims (its evidence, fewest first, then the alternatives) among
/// `events`, as AWS delivered them to this function ([`carried`]), at most
/// [`MAX_DELIVERED_BYTES`] in all: a record that does not fit is left out, the next ones still
/// go. Only a record whose message was proven to come from the stream's own queue
/// ([`crate::receipts`]) is carried; the others are left to CloudTrail's event history.
pub fn delivered_records(flagged: &launchguard_core::contract::FlaggedPrincipal, events: &[crate::store::StoredEvent]) -> Vec<String> {
    let events: Vec<&crate::store::StoredEvent> = events.iter().collect();
    delivered(flagged, &events).0
}

/// [`delivered_records`], and how many of the claims' records were left out as unproven.
fn delivered(flagged: &launchguard_core::contract::FlaggedPrincipal, events: &[&crate::store::StoredEvent]) -> (Vec<String>, usize) {
    let Some(ev) = flagged.evidence.as_ref() else { return (Vec::new(), 0) };
    let by_id: std::collections::BTreeMap<String, &crate::store::StoredEvent> = events
        .iter()
        .copied()
        .filter_map(|e| {
            let r = launchguard_core::record::parse_record(&e.detail).ok()?;
            Some((r.event_id?.into_owned(), e))
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut bytes = 0usize;
    let mut out = Vec::new();
    let mut unproven = 0usize;
    for claim in ev.claims() {
        if !seen.insert(claim.event_id.as_str()) {
            continue;
        }
        let Some(e) = by_id.get(&claim.event_id) else { continue };
        if !e.proven {
            unproven += 1;
            continue;
        }
        let Some(text) = carried(&e.detail) else { continue };
        if bytes.saturating_add(text.len()) > MAX_DELIVERED_BYTES {
            continue;
        }
        bytes += text.len();
        out.push(text);
    }
    (out, unproven)
}

/// What a finding's trigger adds when some of its claims' records were not proven to come from
/// the stream's own queue.
pub fn unproven_note(unproven: usize) -> String {
    // the trigger's name is at most 256 characters (`Finding::parse`)
    format!("; {unproven} records not proven sent by the stream's queue: confirmed in CloudTrail's event history")
}

/// What a finding's trigger adds when its records were not vouched for because a stream rule is
/// not as rendered ([`crate::rules`]).
pub const RULES_NOTE: &str = "; a stream rule is not as rendered: records confirmed in CloudTrail's event history";

/// A crossing of the exact events, as its finding is made.
struct Exact {
    /// The principal, flagged by [`Tracker::assess`].
    flagged: launchguard_core::contract::FlaggedPrincipal,
    /// The scan of the events assessed.
    stats: launchguard_core::scan::ScanStats,
    /// Why what was read is not whole, if it is not.
    incomplete: Option<String>,
    /// Its claims' records to carry as delivered by AWS ([`delivered`]).
    records: Vec<String>,
    /// How many of its claims' records were not proven.
    unproven: usize,
    /// True when every record of its claims was proven to come from the stream's own queue.
    proven: bool,
}

/// `events` judged as the detector judges a read: the principal `key`'s crossing, if any.
fn assess(rule: &launchguard_detector::DetectorRule, events: &[&StoredEvent], key: &str) -> Option<Exact> {
    let mut scanner = Scanner::with_sink(rule.rule.event.clone(), None, Tracker::new());
    for e in events {
        scanner.push_message(&e.detail);
    }
    let incomplete = scanner.incompleteness().or_else(|| {
        (events.len() >= MAX_EVENTS_READ).then(|| format!("more than {MAX_EVENTS_READ} events of this principal in the window read"))
    });
    let stats = scanner.stats.clone();
    let assessment = scanner.aggregate.assess(&rule.horizons, &rule.thresholds);
    let flagged = assessment.flagged.into_iter().find(|f| f.principal.key() == key)?;
    let (records, unproven) = delivered(&flagged, events);
    let proven = flagged.evidence.is_some() && unproven == 0;
    Some(Exact { flagged, stats, incomplete, records, unproven, proven })
}

/// The crossing a finding is made of: the exact events' own; when its claims include records not
/// proven to come from the stream's own queue (a batch someone invoked the function with), the
/// crossing of the proven events alone if they cross by themselves. So records nobody can vouch
/// for never stand between AWS's own records and a finding that carries them.
fn decide(rule: &launchguard_detector::DetectorRule, events: &[StoredEvent], key: &str) -> Option<Exact> {
    let all: Vec<&StoredEvent> = events.iter().collect();
    let exact = assess(rule, &all, key)?;
    if exact.proven {
        return Some(exact);
    }
    let proven: Vec<&StoredEvent> = events.iter().filter(|e| e.proven).collect();
    if proven.len() == events.len() {
        return Some(exact);
    }
    Some(assess(rule, &proven, key).filter(|p| p.proven).unwrap_or(exact))
}

/// What one event did, per rule it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Refused: counted nowhere, never a finding.
    Refused {
        /// Why.
        refusal: Refusal,
    },
    /// No rule watches this event (or it counts for nothing: a dry run, a call an AWS service
    /// made on the principal's behalf, an AWS service itself).
    Ignored,
    /// Counted; no horizon crossed.
    Counted,
    /// Seen before: not counted again.
    Duplicate,
    /// The buckets crossed a horizon but the exact events did not (bucketing errs toward flagging).
    BelowExactly,
    /// Crossed, but the principal's incident already has its finding: no second finding, nothing
    /// sent (the log says which finding holds it, and whether this event was a redelivery).
    AlreadyClaimed {
        /// The finding that holds it.
        finding_id: String,
        /// True if this delivery counted the event; false for a redelivery, counted before and
        /// not again.
        counted: bool,
    },
    /// Crossed: the finding was sent.
    Sent {
        /// The finding.
        finding_id: String,
        /// Seconds from the first event of the crossing window to now.
        seconds_after_first_event: i64,
    },
}

/// What the log says when a crossing finds the principal's incident already claimed, in plain
/// words: whether this event was counted now or was a redelivery, and whether the holding
/// finding reached the dispatcher.
pub fn already_claimed(counted: bool, sent: bool) -> &'static str {
    match (counted, sent) {
        (true, true) => {
            "event counted; this principal's incident already has its finding, sent to the dispatcher: no second finding, nothing sent"
        }
        (false, true) => {
            "redelivered event, counted before and not again; this principal's incident already has its finding, sent to the dispatcher: nothing sent"
        }
        (true, false) => {
            "event counted; another finding claimed this principal's incident and its own delivery sends it: no second finding, nothing sent"
        }
        (false, false) => {
            "redelivered event, counted before and not again; another finding claimed this principal's incident and its own delivery sends it: nothing sent"
        }
    }
}

/// Handle one SQS body; `proven` when its message was proven to come from the stream's own queue
/// ([`crate::receipts`]). Before a finding carries any record as delivered by AWS, `guard` reads
/// the stream's rules back: one not as rendered vouches for nothing, and pages the health topic.
/// `Err` only for what a retry can fix (the store, the dispatcher).
pub async fn handle_event<S: CounterStore, I: Invoker, R: RuleReader, P: HealthPager>(
    body: &str,
    proven: bool,
    cfg: &Config,
    store: &S,
    invoker: &I,
    guard: &Guard<R, P>,
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, StreamError> {
    let now_ms = now.timestamp_millis();
    let longest = cfg.longest_ms();
    let ev = match parse_event(body, &cfg.scope, now_ms.saturating_sub(longest), now_ms) {
        Ok(ev) => ev,
        Err(refusal) => {
            warn!(refusal = %refusal, "event refused: not counted");
            return Ok(vec![Outcome::Refused { refusal }]);
        }
    };
    let width_ms = i64::try_from(cfg.bucket_seconds * 1000).unwrap_or(10_000);
    let mut out = Vec::new();
    for rule in &cfg.rules {
        let Some(h) = hit(&rule.rule.event, ev.detail, rule.thresholds.contain_invoked_by_aws_service) else { continue };
        if h.counts.is_zero() || (rule.thresholds.exclude_aws_services && h.principal.is_aws_service()) {
            out.push(Outcome::Ignored);
            continue;
        }
        let series = series_key(&rule.rule.id, &h.principal);
        let item = EventItem {
            series: series.clone(),
            event_id: ev.event_id.clone(),
            t_ms: ev.t_ms,
            bucket_ms: bucket_start(ev.t_ms, width_ms),
            counts: h.counts,
            detail: ev.detail.to_owned(),
            ttl: (ev.t_ms.saturating_add(longest)) / 1000 + 3600,
            proven,
        };
        let recorded = store.record(&item).await.map_err(StreamError::Store)?;
        // A redelivery counts nothing, but is judged again: the delivery before it may have
        // failed after counting (the claim keeps it to one finding).
        let (from, to) = read_range(ev.t_ms, &rule.horizons, cfg.bucket_seconds);
        let buckets = store.buckets(&series, from, to).await.map_err(StreamError::Store)?;
        let counted = if recorded == Recorded::Duplicate { Outcome::Duplicate } else { Outcome::Counted };
        if judge_buckets(&buckets, &rule.horizons, cfg.bucket_seconds).is_empty() {
            out.push(counted);
            continue;
        }
        let claim = claim_key(&h.principal);
        let key = h.principal.key();
        // a proven event that replaced an unproven copy is counted now (its own counts)
        let fresh = recorded != Recorded::Duplicate;
        let latest = latest_until(now_ms, longest);
        let held = store.claim_state(&claim, now_ms, latest).await.map_err(StreamError::Store)?.filter(|c| c.sent);
        if let Some(c) = held.as_ref().filter(|c| c.proven) {
            info!(finding_id = %c.finding_id, principal = %untrusted(&key), event_id = %untrusted(&ev.event_id), redelivery = !fresh,
                "{}", already_claimed(fresh, true));
            out.push(Outcome::AlreadyClaimed { finding_id: c.finding_id.clone(), counted: fresh });
            continue;
        }
        // The exact events decide, judged as the detector judges a read.
        let events = store.events(&series, from, to, MAX_EVENTS_READ).await.map_err(StreamError::Store)?;
        let Some(mut exact) = decide(rule, &events, &key) else {
            info!(series = %untrusted(&series), "the buckets crossed a horizon, the exact events did not: nothing sent");
            out.push(Outcome::BelowExactly);
            continue;
        };
        if let Some(c) = held.filter(|_| !exact.proven) {
            // an unproven finding holds the incident: no second unproven one (one page at most
            // for what anyone may invoke the function with)
            info!(finding_id = %c.finding_id, principal = %untrusted(&key), event_id = %untrusted(&ev.event_id), redelivery = !fresh,
                "{}", already_claimed(fresh, true));
            out.push(Outcome::AlreadyClaimed { finding_id: c.finding_id, counted: fresh });
            continue;
        }
        exact.flagged.delivered_by_aws = exact.records;
        let crossed =
            Crossed { from_ms: from, to_ms: to.saturating_sub(1), stats: exact.stats, incomplete: exact.incomplete, proven: exact.proven };
        let finding = stream_finding(cfg, rule, &ev.account, &ev.region, exact.flagged, &crossed, now);
        let seconds = finding.seconds_after_first_event;
        let mut finding = finding.finding;
        if exact.unproven > 0 {
            warn!(principal = %untrusted(&key), unproven = exact.unproven, "records not proven to come from the stream's queue: not carried as delivered by AWS");
            if let Some(t) = finding.trigger.as_mut() {
                t.name.push_str(&unproven_note(exact.unproven));
            }
        }
        let until = now_ms.saturating_add(longest);
        match store.claim(&claim, &finding.finding_id, until, now_ms, crossed.proven).await.map_err(StreamError::Store)? {
            Claimed::Held(c) => {
                info!(finding_id = %c.finding_id, principal = %untrusted(&key), event_id = %untrusted(&ev.event_id), redelivery = !fresh,
                    "{}", already_claimed(fresh, c.sent));
                out.push(Outcome::AlreadyClaimed { finding_id: c.finding_id, counted: fresh });
                continue;
            }
            Claimed::Won => {}
        }
        // The queue proved where each message came from; the rules decide what it could hold.
        let carried = finding.principals.iter().any(|p| !p.delivered_by_aws.is_empty());
        if carried && !guard.vouch(cfg, &finding.finding_id, &key).await {
            for p in &mut finding.principals {
                p.delivered_by_aws.clear();
            }
            if let Some(t) = finding.trigger.as_mut() {
                t.name.push_str(RULES_NOTE);
            }
        }
        let finding_id = finding.finding_id.clone();
        let parts = finding.into_parts(launchguard_core::contract::MAX_PAYLOAD_BYTES);
        launchguard_detector::send_to(&finding_id, &parts, &cfg.dispatcher, invoker).await.map_err(StreamError::Dispatch)?;
        store.mark_sent(&claim, &finding_id).await.map_err(StreamError::Store)?;
        info!(finding_id = %finding_id, principal = %untrusted(&key), seconds_after_first_event = seconds, path = "stream",
            "finding dispatched");
        out.push(Outcome::Sent { finding_id, seconds_after_first_event: seconds });
    }
    if out.is_empty() {
        out.push(Outcome::Ignored);
    }
    Ok(out)
}
