//! The stream's queue in memory (feature `test-util`): it delivers batches as Lambda's event
//! source mapping hands them over (its ARN, a fresh receipt handle per message) and answers
//! `ChangeMessageVisibilityBatch` as SQS does: a handle it delivered and still holds in flight is
//! taken, any other is refused as the sender's fault (`ReceiptHandleIsInvalid`). Outages
//! (throttling) may be injected.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use launchguard_aws::CallError;

use crate::batch::{SqsEvent, SqsMessage};
use crate::receipts::{MAX_ENTRIES, QueueReceipts, Receipt};

/// The queue in memory.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    /// Its ARN.
    pub arn: String,
    in_flight: Mutex<BTreeSet<String>>,
    delivered: AtomicU64,
    /// The next this-many `ChangeMessageVisibilityBatch` calls fail as throttled.
    pub outages: AtomicU64,
    /// `ChangeMessageVisibilityBatch` calls made.
    pub calls: AtomicU64,
}

impl MemoryQueue {
    /// The queue of this ARN.
    pub fn new(arn: &str) -> Self {
        Self { arn: arn.to_owned(), ..Self::default() }
    }

    /// One batch of these bodies as the event source mapping delivers it: message ids `m0`,
    /// `m1`..., each with a receipt handle of its own, held in flight.
    pub fn receive(&self, bodies: &[String]) -> SqsEvent {
        let mut held = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let records = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let n = self.delivered.fetch_add(1, Ordering::SeqCst);
                let handle = format!("AQEB{n:016x}{:08x}", b.len());
                held.insert(handle.clone());
                SqsMessage { message_id: format!("m{i}"), body: b.clone(), receipt_handle: handle, event_source_arn: self.arn.clone() }
            })
            .collect();
        SqsEvent { records }
    }
}

impl QueueReceipts for MemoryQueue {
    async fn prove(&self, handles: &[&str]) -> Result<Vec<Receipt>, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.outages.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(CallError {
                message: "sqs:ChangeMessageVisibilityBatch: Rate exceeded (ThrottlingException; HTTP 400)".into(),
                code: Some("ThrottlingException".into()),
                retryable: true,
            });
        }
        if handles.len() > MAX_ENTRIES {
            return Err(CallError::new("sqs:ChangeMessageVisibilityBatch: too many entries (TooManyEntriesInBatchRequest)", false));
        }
        let held = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(handles
            .iter()
            .map(|h| if held.contains(*h) { Receipt::Held } else { Receipt::Refused { code: "ReceiptHandleIsInvalid".into() } })
            .collect())
    }
}
