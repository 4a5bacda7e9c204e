//! The counter store in memory (feature `test-util`): the same conditions as DynamoDB's
//! (`attribute_not_exists`, atomic ADD, a transaction that writes all its items or none), a simulated
//! latency per request, injected failures (DynamoDB's throttling and conflict answers, on any
//! request, as [`crate::dynamo`] reports them), and a count of item writes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use launchguard_aws::CallError;
use launchguard_core::stream::{Bucket, Counts};

use crate::store::{
    BucketChange, CLAIM_SK, CLAIM_SKEW_MS, ClaimState, Claimed, CounterStore, EventItem, KeptId, Recorded, StoredEvent, bucket_sk,
    event_sk, id_sk, replacement,
};

/// A failure DynamoDB answers with, as [`crate::dynamo::DynamoStore`] reports it. A failed
/// request writes nothing (a transaction writes all its items or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ProvisionedThroughputExceededException`: a table or partition over its throughput.
    Throughput,
    /// `ThrottlingException`: requests faster than DynamoDB takes them.
    Throttling,
    /// A conflict with another writer of the same item: `TransactionCanceledException` with the
    /// reason `TransactionConflict` for the recording transaction, `TransactionConflictException`
    /// for a single write or read.
    Conflict,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 3] = [Fault::Throughput, Fault::Throttling, Fault::Conflict];

    fn error(self, op: &str) -> CallError {
        let (code, message) = match self {
            Fault::Throughput => {
                ("ProvisionedThroughputExceededException", "throughput exceeded (ProvisionedThroughputExceededException; HTTP 400)")
            }
            Fault::Throttling => ("ThrottlingException", "rate of requests exceeds the allowed throughput (ThrottlingException; HTTP 400)"),
            Fault::Conflict if op == "TransactWriteItems" => {
                return CallError {
                    message: "dynamodb:TransactWriteItems: cancelled (None, TransactionConflict)".into(),
                    code: Some("TransactionCanceledException".into()),
                    retryable: true,
                };
            }
            Fault::Conflict => {
                ("TransactionConflictException", "conflicts with an ongoing transaction (TransactionConflictException; HTTP 400)")
            }
        };
        CallError { message: format!("dynamodb:{op}: {message}"), code: Some(code.into()), retryable: true }
    }
}

#[derive(Debug, Clone)]
enum Item {
    Event(StoredEvent),
    Bucket(Bucket),
    Claim(ClaimState),
    Id(KeptId),
}

/// The store in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<BTreeMap<(String, String), Item>>,
    /// Simulated time each request takes.
    pub latency: Duration,
    /// The next this-many requests fail as throttled (DynamoDB's `ProvisionedThroughputExceededException`).
    pub failures: AtomicU64,
    /// Requests to fail, by their number (the value of [`MemoryStore::requests`] when made).
    faults: Mutex<Vec<(u64, Fault)>>,
    /// Items written (a new event writes three: its id item, its event item and its bucket).
    pub writes: AtomicU64,
    /// Requests made.
    pub requests: AtomicU64,
}

impl MemoryStore {
    /// A store whose every request takes `latency`.
    pub fn with_latency(latency: Duration) -> Self {
        Self { latency, ..Self::default() }
    }

    /// Make the next `n` requests fail as throttled.
    pub fn fail_next(&self, n: u64) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Make the request numbered `at` (counted by [`MemoryStore::requests`], from 0) fail with `fault`.
    pub fn fail_at(&self, at: u64, fault: Fault) {
        self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((at, fault));
    }

    /// The sums of every bucket of a series.
    pub fn totals(&self, series: &str) -> Counts {
        let items = self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        items
            .iter()
            .filter(|((pk, _), _)| pk == series)
            .filter_map(|(_, i)| if let Item::Bucket(b) = i { Some(b.counts) } else { None })
            .fold(Counts::default(), Counts::plus)
    }

    /// Events kept, in every series.
    pub fn event_count(&self) -> usize {
        let items = self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        items.values().filter(|i| matches!(i, Item::Event(_))).count()
    }

    async fn request(&self, op: &str) -> Result<(), CallError> {
        let number = self.requests.fetch_add(1, Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let fault = {
            let mut faults = self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            faults.iter().position(|(at, _)| *at == number).map(|i| faults.remove(i).1)
        };
        if let Some(fault) = fault {
            return Err(fault.error(op));
        }
        let failed = self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failed {
            return Err(CallError {
                message: format!("dynamodb:{op}: throughput exceeded (ProvisionedThroughputExceededException; HTTP 400)"),
                code: Some("ProvisionedThroughputExceededException".into()),
                retryable: true,
            });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Item>> {
        self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn replacement_of_nothing(c: Counts) -> [i128; 4] {
    [c.launched, c.requested, c.calls, c.failed].map(i128::from)
}

/// DynamoDB's answer when the id item's condition fails in a replacing transaction.
fn changed_while_replaced() -> CallError {
    CallError {
        message: "dynamodb:TransactWriteItems: cancelled (ConditionalCheckFailed): the event's unproven copy changed while the proven \
                  event replaced it; the message is delivered again"
            .into(),
        code: Some("TransactionCanceledException".into()),
        retryable: true,
    }
}

/// ADD a change into a bucket (DynamoDB's atomic ADD; never below zero here: only what was added
/// is taken out).
fn add(items: &mut BTreeMap<(String, String), Item>, series: &str, change: BucketChange) {
    let key = (series.to_owned(), bucket_sk(change.start_ms));
    let was = match items.get(&key) {
        Some(Item::Bucket(b)) => b.counts,
        _ => Counts::default(),
    };
    let at = |v: u64, d: i128| u64::try_from((i128::from(v) + d).max(0)).unwrap_or(u64::MAX);
    let [l, r, c, f] = change.delta;
    let counts =
        Counts { launched: at(was.launched, l), requested: at(was.requested, r), calls: at(was.calls, c), failed: at(was.failed, f) };
    items.insert(key, Item::Bucket(Bucket { start_ms: change.start_ms, counts }));
}

fn range<'a>(items: &'a BTreeMap<(String, String), Item>, series: &str, from: String, to: String) -> impl Iterator<Item = &'a Item> + 'a {
    items.range((series.to_owned(), from)..(series.to_owned(), to)).map(|(_, i)| i)
}

impl CounterStore for MemoryStore {
    async fn record(&self, item: &EventItem) -> Result<Recorded, CallError> {
        // as crate::dynamo: one transaction, then (a proven event whose id is kept) one read of
        // the id item and one transaction conditional on what was read
        self.request("TransactWriteItems").await?;
        let ik = (item.series.clone(), id_sk(&item.event_id));
        let ek = (item.series.clone(), event_sk(item.t_ms, &item.event_id));
        {
            let mut items = self.lock();
            if !items.contains_key(&ik) && !items.contains_key(&ek) {
                items.insert(ik, Item::Id(KeptId::of(item)));
                items.insert(ek, Item::Event(StoredEvent { t_ms: item.t_ms, detail: item.detail.clone(), proven: item.proven }));
                let counts = item.counts;
                add(&mut items, &item.series, BucketChange { start_ms: item.bucket_ms, delta: replacement_of_nothing(counts) });
                self.writes.fetch_add(3, Ordering::SeqCst);
                return Ok(Recorded::New);
            }
        }
        if !item.proven {
            return Ok(Recorded::Duplicate);
        }
        self.request("GetItem").await?;
        let kept = match self.lock().get(&ik) {
            Some(Item::Id(k)) if !k.proven => *k,
            // proven already, or an event kept before id items were: a redelivery
            _ => return Ok(Recorded::Duplicate),
        };
        self.request("TransactWriteItems").await?;
        let mut items = self.lock();
        if !matches!(items.get(&ik), Some(Item::Id(k)) if *k == kept) {
            return Err(changed_while_replaced());
        }
        let old = (item.series.clone(), event_sk(kept.t_ms, &item.event_id));
        if old != ek {
            items.remove(&old);
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        items.insert(ik, Item::Id(KeptId::of(item)));
        items.insert(ek, Item::Event(StoredEvent { t_ms: item.t_ms, detail: item.detail.clone(), proven: true }));
        let changes = replacement(&kept, item);
        self.writes.fetch_add(2 + changes.len() as u64, Ordering::SeqCst);
        for change in changes {
            add(&mut items, &item.series, change);
        }
        Ok(Recorded::Replaced)
    }

    async fn buckets(&self, series: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Bucket>, CallError> {
        self.request("Query").await?;
        let items = self.lock();
        Ok(range(&items, series, bucket_sk(from_ms), bucket_sk(to_ms))
            .filter_map(|i| if let Item::Bucket(b) = i { Some(*b) } else { None })
            .collect())
    }

    async fn events(&self, series: &str, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<StoredEvent>, CallError> {
        self.request("Query").await?;
        let items = self.lock();
        // the newest `limit`, in time order (as the DynamoDB adapter reads them)
        let all: Vec<StoredEvent> = range(&items, series, event_sk(from_ms, ""), event_sk(to_ms, ""))
            .filter_map(|i| if let Item::Event(e) = i { Some(e.clone()) } else { None })
            .collect();
        Ok(all[all.len().saturating_sub(limit)..].to_vec())
    }

    async fn claim_state(&self, claim: &str, now_ms: i64, latest_ms: i64) -> Result<Option<ClaimState>, CallError> {
        self.request("GetItem").await?;
        let items = self.lock();
        Ok(match items.get(&(claim.to_owned(), CLAIM_SK.to_owned())) {
            Some(Item::Claim(c)) if c.until_ms > now_ms && c.until_ms <= latest_ms => Some(c.clone()),
            _ => None,
        })
    }

    async fn claim(&self, claim: &str, finding_id: &str, until_ms: i64, now_ms: i64, proven: bool) -> Result<Claimed, CallError> {
        self.request("PutItem").await?;
        let mut items = self.lock();
        let key = (claim.to_owned(), CLAIM_SK.to_owned());
        let latest = until_ms.saturating_add(CLAIM_SKEW_MS);
        match items.get(&key) {
            // the same condition as DynamoDB's (crate::dynamo), negated: a claim that holds
            Some(Item::Claim(c))
                if c.until_ms > now_ms && c.until_ms <= latest && (c.finding_id != finding_id || c.sent) && (c.proven || !proven) =>
            {
                Ok(Claimed::Held(c.clone()))
            }
            _ => {
                items.insert(key, Item::Claim(ClaimState { finding_id: finding_id.to_owned(), until_ms, sent: false, proven }));
                self.writes.fetch_add(1, Ordering::SeqCst);
                Ok(Claimed::Won)
            }
        }
    }

    async fn mark_sent(&self, claim: &str, finding_id: &str) -> Result<(), CallError> {
        self.request("UpdateItem").await?;
        let mut items = self.lock();
        match items.get_mut(&(claim.to_owned(), CLAIM_SK.to_owned())) {
            Some(Item::Claim(c)) if c.finding_id == finding_id => {
                c.sent = true;
                self.writes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            _ => Err(CallError::new(
                format!("dynamodb:UpdateItem: the claim is not finding {finding_id}'s (ConditionalCheckFailedException)"),
                false,
            )),
        }
    }
}
