//! The classification pipeline shared by the detector, the CLI and the benchmarks:
//! pre-filter raw `@message` text, parse what may match, re-check it, aggregate it.
//!
//! Re-checking is the point: the result must be the same whether or not the service filtered
//! (CloudWatch Logs does; LocalStack does not).

use std::collections::HashSet;

use memchr::memmem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aggregate::Aggregate;
use crate::capacity::EC2;
use crate::created::created;
use crate::launch::{DRY_RUN_ERROR, LaunchFacts, LaunchRecord, launch_facts, launch_record_facts};
use crate::principal::classify;
use crate::query::EventRule;
use crate::record::{CloudTrailRecord, parse_record};
use crate::threshold::Counted;
use crate::window::TimeWindow;

/// At most this many unparseable-record samples are kept for the report.
pub const MAX_ERROR_SAMPLES: usize = 5;

/// Counters of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanStats {
    /// Rows (messages or records) looked at.
    pub rows: u64,
    /// Bytes of message text looked at.
    pub bytes: u64,
    /// Rows skipped by the byte pre-filter (cannot be the event).
    pub prefiltered: u64,
    /// Rows parsed that were another event.
    pub other_events: u64,
    /// Matching records outside the window (the service's time filter is re-checked too).
    pub outside_window: u64,
    /// Matching records without a readable time.
    pub without_time: u64,
    /// Rows that could not be parsed as a CloudTrail record.
    pub unparseable: u64,
    /// Matching records whose instance counts could not be read (count omitted by CloudTrail, or
    /// of another shape): each successful one counted as
    /// [`OMITTED_COUNT`](crate::launch::OMITTED_COUNT) instances requested (every instances
    /// threshold), each failed one as one.
    #[serde(default)]
    pub uncounted: u64,
    /// Matching records counted.
    pub matched: u64,
    /// Matching records seen twice (same `eventID`: overlapping reads, duplicate delivery), counted once.
    pub duplicates: u64,
    /// Matching records whose `eventID` was seen before with another identity, time, region or
    /// count: two versions of one event, at least one forged. Each version is counted, for its
    /// own principal (neither wins silently: CloudTrail's confirmation tells them apart), and the
    /// read says so.
    #[serde(default)]
    pub conflicting: u64,
    /// A few parse errors, for the report.
    pub error_samples: Vec<String>,
}

impl ScanStats {
    /// Add another scan's counters to these (the scans of several files, read apart). Error
    /// samples are kept up to [`MAX_ERROR_SAMPLES`].
    pub fn merge(&mut self, other: &ScanStats) {
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.prefiltered += other.prefiltered;
        self.other_events += other.other_events;
        self.outside_window += other.outside_window;
        self.without_time += other.without_time;
        self.unparseable += other.unparseable;
        self.uncounted += other.uncounted;
        self.matched += other.matched;
        self.duplicates += other.duplicates;
        self.conflicting += other.conflicting;
        let room = MAX_ERROR_SAMPLES.saturating_sub(self.error_samples.len());
        self.error_samples.extend(other.error_samples.iter().take(room).cloned());
    }
}

/// Where the records a [`Scanner`] accepts go: one capability, adding a matching record whose
/// time and launch facts are read. [`Aggregate`] (per-principal activity) is the detector's.
pub trait LaunchSink {
    /// Add one matching record (the event, inside the window, not seen before) at `t_ms`.
    fn add_launch<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts);
}

impl LaunchSink for Aggregate {
    fn add_launch<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) {
        let _ = self.add_with_facts(record, t_ms, facts);
        self.add_released();
    }
}

/// What a call counted as a call says: whether it failed (an attempt all the same) or was a dry
/// run, and what it created. Instances are not counted.
pub fn call_facts(record: &CloudTrailRecord<'_>) -> LaunchFacts {
    let error_code = record.error_code.as_deref();
    let dry_run = error_code == Some(DRY_RUN_ERROR);
    LaunchFacts {
        error_code: error_code.map(str::to_owned),
        dry_run,
        failed: error_code.is_some() && !dry_run,
        created: created(record),
        ..LaunchFacts::default()
    }
}

/// The key under which an `eventID` is remembered: the first 128 bits of its SHA-256, 16 bytes
/// whatever the id's length (a collision between two of a billion ids has a chance of about
/// 10^-21).
pub fn event_key(event_id: &str) -> u128 {
    let digest = Sha256::digest(event_id.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// The key of one version of a record: its `eventID` with who made the call as classification
/// decides it (the [`Principal`](crate::principal::Principal) and the session details
/// [`classify`] answers, so no field classification reads, such as
/// `sessionContext.sessionIssuer`, can be left out), the raw identity fields besides, where,
/// when, which event and what it counted. Two records with one event id and one version key are
/// one record seen twice; two with one event id and different version keys conflict (one is
/// forged): both are counted, each for its own principal, and the read says so.
pub fn version_key<Q, S>(event_id: &str, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) -> u128 {
    let mut h = Sha256::new();
    let id = record.user_identity.as_ref();
    let part = |h: &mut Sha256, v: Option<&str>| {
        h.update(v.unwrap_or("\u{1}").as_bytes());
        h.update([0]);
    };
    part(&mut h, Some(event_id));
    part(&mut h, id.and_then(|i| i.identity_type.as_deref()));
    part(&mut h, id.and_then(|i| i.arn.as_deref()));
    part(&mut h, id.and_then(|i| i.principal_id.as_deref()));
    part(&mut h, id.and_then(|i| i.account_id.as_deref()));
    part(&mut h, id.and_then(|i| i.access_key_id.as_deref()));
    part(&mut h, id.and_then(|i| i.invoked_by.as_deref()));
    let issuer = id.and_then(|i| i.session_context.as_ref()).and_then(|c| c.session_issuer.as_ref());
    part(&mut h, issuer.and_then(|i| i.issuer_type.as_deref()));
    part(&mut h, issuer.and_then(|i| i.arn.as_deref()));
    part(&mut h, issuer.and_then(|i| i.account_id.as_deref()));
    part(&mut h, issuer.and_then(|i| i.user_name.as_deref()));
    part(&mut h, issuer.and_then(|i| i.principal_id.as_deref()));
    let (principal, session) = classify(id);
    part(&mut h, Some(&format!("{principal:?}")));
    part(&mut h, Some(&format!("{session:?}")));
    part(&mut h, record.aws_region.as_deref());
    part(&mut h, record.event_source.as_deref());
    part(&mut h, record.event_name.as_deref());
    h.update(t_ms.to_be_bytes());
    h.update(facts.launched.to_be_bytes());
    h.update(facts.requested.to_be_bytes());
    h.update([u8::from(facts.failed), u8::from(facts.dry_run)]);
    // a resize counts 0 by itself: the size it set tells two versions of it apart
    if let Some(set) = &facts.set_size {
        part(&mut h, Some(&set.group.name));
        for n in [Some(set.size), set.desired, set.min, set.max] {
            h.update(n.map_or([0xff; 9], |n| {
                let mut b = [0u8; 9];
                b[1..].copy_from_slice(&n.to_be_bytes());
                b
            }));
        }
    }
    let digest = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// Whether a record was seen before: the same version (a duplicate, counted once), another
/// version of the same event id (a conflict: counted too), or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: count it.
    New,
    /// The same version seen before: do not count it again.
    Duplicate,
    /// Another version of an event id seen before: count it, for its own principal, and say so.
    Conflict,
}

/// The event ids and record versions seen so far (16 bytes each).
#[derive(Debug, Default)]
pub struct SeenRecords {
    ids: HashSet<u128>,
    versions: HashSet<u128>,
}

impl SeenRecords {
    /// Remember `record` (no `eventID`: never a duplicate) and say whether it was seen before.
    pub fn admit<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) -> Seen {
        let Some(id) = record.event_id.as_deref() else { return Seen::New };
        if !self.versions.insert(version_key(id, record, t_ms, facts)) {
            return Seen::Duplicate;
        }
        if self.ids.insert(event_key(id)) { Seen::New } else { Seen::Conflict }
    }
}

/// Scans rows for one event rule, inside an optional window; what matches goes to a
/// [`LaunchSink`] (per-principal activity by default).
#[derive(Debug)]
pub struct Scanner<K = Aggregate> {
    rule: EventRule,
    finders: Vec<memmem::Finder<'static>>,
    window: Option<TimeWindow>,
    seen: SeenRecords,
    /// Where matching records went: per-principal activity for the detector.
    pub aggregate: K,
    /// Counters so far.
    pub stats: ScanStats,
}

impl Scanner {
    /// A scanner for `rule`, keeping only records inside `window` when given.
    pub fn new(rule: EventRule, window: Option<TimeWindow>) -> Self {
        Self::with_sink(rule, window, Aggregate::new())
    }
}

impl<K: LaunchSink> Scanner<K> {
    /// A scanner whose matching records go to `sink`.
    pub fn with_sink(rule: EventRule, window: Option<TimeWindow>, sink: K) -> Self {
        let finders = rule.needles().iter().map(|n| memmem::Finder::new(n.as_bytes()).into_owned()).collect();
        Self { rule, finders, window, seen: SeenRecords::default(), aggregate: sink, stats: ScanStats::default() }
    }

    /// The rule scanned for.
    pub fn rule(&self) -> &EventRule {
        &self.rule
    }

    /// Look at one raw `@message` (a single CloudTrail record as JSON text).
    pub fn push_message(&mut self, message: &str) {
        self.stats.rows += 1;
        self.stats.bytes += message.len() as u64;
        if !self.finders.iter().any(|f| f.find(message.as_bytes()).is_some()) {
            self.stats.prefiltered += 1;
            return;
        }
        if self.rule.counts() == Counted::Calls {
            match parse_record(message) {
                Ok(r) => self.check(&r),
                Err(e) => self.note_error(e),
            }
            return;
        }
        // One pass with the request and response typed for `RunInstances`; a record whose shape
        // does not fit (its launch details then flagged as malformed), or of another launch route
        // (capacity asked for: [`crate::capacity`]), or of no launch at all, is read again
        // generically.
        match serde_json::from_str::<LaunchRecord<'_>>(message) {
            Ok(mut r) if r.is_event(EC2, "RunInstances") => {
                if let Some(t) = self.accept(&r) {
                    let facts = launch_record_facts(&mut r);
                    if self.fresh(&r, t, &facts) {
                        self.stats.uncounted += u64::from(facts.malformed);
                        self.aggregate.add_launch(&r, t, &facts);
                    }
                }
            }
            _ => match parse_record(message) {
                Ok(r) => self.check(&r),
                Err(e) => self.note_error(e),
            },
        }
    }

    /// Look at one record already parsed (files read by the CLI).
    pub fn push_record(&mut self, record: &CloudTrailRecord<'_>) {
        self.stats.rows += 1;
        self.check(record);
    }

    /// Count a row that could not be read at all.
    pub fn note_error(&mut self, e: String) {
        self.stats.unparseable += 1;
        if self.stats.error_samples.len() < MAX_ERROR_SAMPLES {
            self.stats.error_samples.push(crate::error::excerpt_long(&e));
        }
    }

    fn check(&mut self, r: &CloudTrailRecord<'_>) {
        if let Some(t) = self.accept(r) {
            let facts = match self.rule.counts() {
                Counted::Instances => launch_facts(r),
                Counted::Calls => call_facts(r),
            };
            if self.fresh(r, t, &facts) {
                self.stats.uncounted += u64::from(facts.malformed);
                self.aggregate.add_launch(r, t, &facts);
            }
        }
    }

    /// True when the record is to be counted: not the same version of an event seen before.
    fn fresh<Q, S>(&mut self, r: &CloudTrailRecord<'_, Q, S>, t: i64, facts: &LaunchFacts) -> bool {
        match self.seen.admit(r, t, facts) {
            Seen::New => {}
            Seen::Duplicate => {
                self.stats.duplicates += 1;
                return false;
            }
            Seen::Conflict => self.stats.conflicting += 1,
        }
        self.stats.matched += 1;
        true
    }

    /// Why this scan did not count everything it was shown, if it did not: rows that could not
    /// be parsed, matching records without a readable time, matching records whose instance
    /// counts could not be read. Any of these makes a read incomplete.
    pub fn incompleteness(&self) -> Option<String> {
        let s = &self.stats;
        let mut why = Vec::new();
        if s.unparseable > 0 {
            why.push(format!(
                "{} record(s) that look like the watched event could not be parsed and were not counted (first errors: {})",
                s.unparseable,
                s.error_samples.join(" | ")
            ));
        }
        if s.without_time > 0 {
            why.push(format!("{} matching record(s) have no readable eventTime and were not counted", s.without_time));
        }
        if s.conflicting > 0 {
            why.push(format!(
                "{} record(s) reuse an eventID read before with another identity, time, region or count (at least one of each pair \
                 is forged): each was counted for its own principal; CloudTrail's event history says which is real",
                s.conflicting
            ));
        }
        if s.uncounted > 0 {
            why.push(format!(
                "{} matching record(s) do not say how many instances they asked for (count omitted by CloudTrail, or unreadable): \
                 each successful one counted as {} instances (every instances threshold), each failed one as one",
                s.uncounted,
                crate::launch::OMITTED_COUNT
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }

    /// The record's time when it is the event and inside the window.
    fn accept<Q, S>(&mut self, r: &CloudTrailRecord<'_, Q, S>) -> Option<i64> {
        if !self.rule.matches(r) {
            self.stats.other_events += 1;
            return None;
        }
        let Some(t) = r.time_ms() else {
            self.stats.without_time += 1;
            return None;
        };
        if self.window.is_some_and(|w| !w.contains_ms(t)) {
            self.stats.outside_window += 1;
            return None;
        }
        Some(t)
    }
}
