//! The counter store: one narrow trait, [`CounterStore`], over a table of items keyed by a
//! partition (`pk`) and a sort key (`sk`). [`crate::dynamo`] implements it over DynamoDB,
//! [`crate::memory`] in memory for the tests (feature `test-util`).
//!
//! Layout (every key is built here, and only here):
//! - a **series** is one principal under one rule: `pk = s#<rule>#<principal key, lower-cased>`
//!   (IAM names are unique without regard to case, so `Alice` and `alice` are one series);
//! - its **events**: `sk = e#<eventTime ms, 16 digits>#<eventID>`, holding the record's JSON text
//!   (what the finding is made from, exactly);
//! - its **event ids**: `sk = i#<eventID>`, holding where the event was counted (its time,
//!   bucket and counts) and whether it was proven ([`KeptId`]): what a delivery of the same
//!   `eventID` finds, whatever time it carries. The recording transaction's conditional put of
//!   this item is what keeps an event once;
//! - its **buckets**: `sk = b#<bucket start ms, 16 digits>`, holding the sums of the events of the
//!   bucket ([`launchguard_core::stream::Counts`]), added atomically;
//! - a principal's **incident claim**: `pk = c#<principal key, lower-cased>`, `sk = claim`: the
//!   finding that holds the incident until `until_ms`, whether it was sent, and whether its
//!   crossing was made of proven records alone (`proven`, [`EventItem::proven`]). A claim whose
//!   `until_ms` reaches past [`latest_until`] is none the stream wrote, and holds nothing.
//!
//! Every item carries `ttl` (epoch seconds): past the longest horizon, DynamoDB deletes it.

use launchguard_aws::CallError;
use launchguard_core::principal::Principal;
use launchguard_core::stream::{Bucket, Counts};

/// The partition of one principal's series under one rule.
pub fn series_key(rule: &str, principal: &Principal) -> String {
    format!("s#{rule}#{}", principal.key().to_lowercase())
}

/// The partition of one principal's incident claim.
pub fn claim_key(principal: &Principal) -> String {
    format!("c#{}", principal.key().to_lowercase())
}

/// The sort key of an event.
pub fn event_sk(t_ms: i64, event_id: &str) -> String {
    format!("e#{:016}#{event_id}", t_ms.max(0))
}

/// The sort key of an event's id item ([`KeptId`]).
pub fn id_sk(event_id: &str) -> String {
    format!("i#{event_id}")
}

/// The sort key of a bucket.
pub fn bucket_sk(start_ms: i64) -> String {
    format!("b#{:016}", start_ms.max(0))
}

/// The sort key of an incident claim.
pub const CLAIM_SK: &str = "claim";

/// How far a claim's `until_ms` may reach past the longest horizon and still be believed: the
/// clock skew allowed between two instances of the function (the same 5 minutes an event's time
/// may be ahead, [`launchguard_core::stream::MAX_AHEAD_MS`]).
pub const CLAIM_SKEW_MS: i64 = launchguard_core::stream::MAX_AHEAD_MS;

/// The latest `until_ms` of any claim the stream can have written by `now_ms`: its claims last
/// the longest horizon from when they were made ([`crate::Config::longest_ms`]), plus
/// [`CLAIM_SKEW_MS`]. A claim reaching further (ten years, say) was written by someone else and
/// holds nothing: it is ignored, and the next finding's claim overwrites it.
pub fn latest_until(now_ms: i64, longest_ms: i64) -> i64 {
    now_ms.saturating_add(longest_ms).saturating_add(CLAIM_SKEW_MS)
}

/// One event to record: its item and the bucket it adds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventItem {
    /// The series ([`series_key`]).
    pub series: String,
    /// `eventID`.
    pub event_id: String,
    /// `eventTime`, epoch ms.
    pub t_ms: i64,
    /// The bucket's start, epoch ms.
    pub bucket_ms: i64,
    /// What it adds to the bucket.
    pub counts: Counts,
    /// The record's JSON text.
    pub detail: String,
    /// When the store may forget it, epoch seconds.
    pub ttl: i64,
    /// True when its message was proven to come from the stream's own queue
    /// ([`crate::receipts`]): only then is its record carried as delivered by AWS.
    pub proven: bool,
}

/// What the store keeps of an event under its `eventID` alone (`sk = i#<eventID>`): where it
/// was counted. A proven delivery of an `eventID` kept unproven (a copy someone invoked the
/// function with, maybe at another time or with other counts) replaces it: the copy's counts are
/// taken out of the copy's bucket and the proven event's added to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptId {
    /// `eventTime`, epoch ms (with the `eventID`, the event item's sort key).
    pub t_ms: i64,
    /// The bucket it was added to.
    pub bucket_ms: i64,
    /// What it added.
    pub counts: Counts,
    /// [`EventItem::proven`].
    pub proven: bool,
}

impl KeptId {
    /// What recording `item` keeps under its id.
    pub fn of(item: &EventItem) -> Self {
        Self { t_ms: item.t_ms, bucket_ms: item.bucket_ms, counts: item.counts, proven: item.proven }
    }
}

/// A signed change to one bucket: launched, requested, calls, failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketChange {
    /// The bucket's start, epoch ms.
    pub start_ms: i64,
    /// Added to launched, requested, calls and failed (negative: taken out).
    pub delta: [i128; 4],
}

fn fields(c: Counts) -> [i128; 4] {
    [c.launched, c.requested, c.calls, c.failed].map(i128::from)
}

/// The bucket changes that replace `kept` (an unproven copy) by `item` (the proven event): the
/// difference in one bucket when both fall in it, else the copy's counts out of its bucket and
/// the event's into its own. A change of nothing is left out.
pub fn replacement(kept: &KeptId, item: &EventItem) -> Vec<BucketChange> {
    let (old, new) = (fields(kept.counts), fields(item.counts));
    let changes = if kept.bucket_ms == item.bucket_ms {
        vec![BucketChange { start_ms: item.bucket_ms, delta: [0, 1, 2, 3].map(|i| new[i] - old[i]) }]
    } else {
        vec![BucketChange { start_ms: kept.bucket_ms, delta: old.map(|v| -v) }, BucketChange { start_ms: item.bucket_ms, delta: new }]
    };
    changes.into_iter().filter(|c| c.delta != [0; 4]).collect()
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time: the event is kept and its bucket added to.
    New,
    /// Seen before (a redelivery): nothing written, nothing counted.
    Duplicate,
    /// Kept before unproven (a copy someone invoked the function with), now delivered proven by
    /// the stream's own queue: the proven event replaced it, and its bucket holds the proven
    /// counts in place of the copy's.
    Replaced,
}

/// A stored event of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// `eventTime`, epoch ms.
    pub t_ms: i64,
    /// The record's JSON text.
    pub detail: String,
    /// [`EventItem::proven`].
    pub proven: bool,
}

/// Who holds a principal's incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimState {
    /// The finding.
    pub finding_id: String,
    /// Until when, epoch ms.
    pub until_ms: i64,
    /// True once the finding reached the dispatcher.
    pub sent: bool,
    /// True when the finding's crossing was made of records proven to come from the stream's own
    /// queue alone ([`EventItem::proven`]). A claim that is not proven holds the incident against
    /// every other unproven finding, but not against one proven finding, which takes it over
    /// (once: then the claim is proven).
    pub proven: bool,
}

/// What a claim answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This finding holds the incident now (newly, or again after a failed send).
    Won,
    /// Another finding holds it: nothing is sent.
    Held(ClaimState),
}

/// The stream detector's store. Every method is one request (or one transaction) to the store;
/// an error is a [`CallError`], retryable when the store throttled or failed.
pub trait CounterStore: Send + Sync {
    /// Keep the event once by its `eventID` (conditional puts: its id item and its event item must
    /// not exist) and add its counts into its bucket (an atomic ADD), all or nothing (one
    /// transaction). A proven event whose `eventID` is kept unproven replaces it
    /// ([`Recorded::Replaced`]): the id item is read, then one transaction, conditional on the id
    /// item being still the unproven one read, rewrites it and the event item (deleting the
    /// copy's when its time differs) and changes the buckets by [`replacement`]. A copy changed
    /// in between fails with a retryable error (the message is delivered again): never a count
    /// lost or doubled. Anything else seen before is a [`Recorded::Duplicate`].
    fn record(&self, item: &EventItem) -> impl Future<Output = Result<Recorded, CallError>> + Send;
    /// The buckets of a series starting in `[from_ms, to_ms)`.
    fn buckets(&self, series: &str, from_ms: i64, to_ms: i64) -> impl Future<Output = Result<Vec<Bucket>, CallError>> + Send;
    /// The events of a series in `[from_ms, to_ms)`, in time order; past `limit`, the newest `limit`
    /// (the window that crossed ends at the newest event: old events never crowd it out).
    fn events(
        &self,
        series: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, CallError>> + Send;
    /// The claim on a principal's incident, if one holds at `now_ms`: its `until_ms` is after
    /// `now_ms` and at most `latest_ms` ([`latest_until`]; a claim reaching further holds nothing).
    fn claim_state(&self, claim: &str, now_ms: i64, latest_ms: i64) -> impl Future<Output = Result<Option<ClaimState>, CallError>> + Send;
    /// Claim a principal's incident for `finding_id` until `until_ms` (the longest horizon from
    /// `now_ms`), `proven` when its crossing was made of proven records alone. A conditional
    /// write, won when there is no claim, an expired one, one reaching past `until_ms` +
    /// [`CLAIM_SKEW_MS`] (none the stream wrote), this finding's own unsent one, or, for a proven
    /// finding, a claim that is not proven.
    fn claim(
        &self,
        claim: &str,
        finding_id: &str,
        until_ms: i64,
        now_ms: i64,
        proven: bool,
    ) -> impl Future<Output = Result<Claimed, CallError>> + Send;
    /// Mark this finding's claim sent (a conditional write on the finding id).
    fn mark_sent(&self, claim: &str, finding_id: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}
