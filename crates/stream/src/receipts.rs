//! Proof that a message came from the stream's own queue, before its record is vouched for as
//! AWS delivered it (`delivered_by_aws`). Anyone with `lambda:InvokeFunction` on this function
//! can hand it an SQS-shaped batch of records AWS never sent; only Lambda's event source mapping,
//! polling as this function's role (the only principal the queue lets receive), holds receipt
//! handles of its queue. So a message is proven when its `eventSourceARN` is the configured queue
//! and the queue itself accepts its receipt handle: one `ChangeMessageVisibilityBatch` per batch.
//!
//! A message that fails the proof is still counted (a burst must never go unseen), but its
//! record is never carried as delivered by AWS: the dispatcher confirms it in CloudTrail's event
//! history, as for any other finding. A proof call that fails for a service reason (throttling,
//! 5xx) fails the batch's messages, which SQS delivers again (the store counts each `eventID`
//! once).

use launchguard_aws::CallError;

/// Most entries SQS takes in one `ChangeMessageVisibilityBatch`.
pub const MAX_ENTRIES: usize = 10;

/// The visibility timeout a proven message is given, seconds: the queue's own
/// (`VisibilityTimeout` of `StreamQueue` in deploy/stream.template.json), so that proving a
/// message changes nothing of when SQS would deliver it again.
pub const VISIBILITY_SECONDS: i32 = 360;

/// What the queue answered for one receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// The queue took it: the message is in flight on this queue, received by its poller.
    Held,
    /// The queue refused it as the sender's fault (`ReceiptHandleIsInvalid`,
    /// `MessageNotInflight`...): not a message this queue delivered.
    Refused {
        /// SQS's code.
        code: String,
    },
    /// The queue failed on its side for this entry: the message must come again.
    Failed {
        /// SQS's code.
        code: String,
    },
}

/// SQS's codes for a receipt handle that is not one of the queue's messages in flight: whatever
/// `SenderFault` says (LocalStack answers `ReceiptHandleIsInvalid` with `SenderFault: false`).
pub const NOT_OURS: [&str; 4] =
    ["ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "InvalidParameterValue"];

impl Receipt {
    /// A failed entry of `ChangeMessageVisibilityBatch`: refused when SQS says it is the sender's
    /// fault or names a handle that is not the queue's ([`NOT_OURS`]); otherwise the queue failed.
    pub fn failed(code: &str, sender_fault: bool) -> Self {
        if sender_fault || NOT_OURS.contains(&code) {
            Receipt::Refused { code: code.to_owned() }
        } else {
            Receipt::Failed { code: code.to_owned() }
        }
    }
}

/// The one capability the proof needs: ask the stream's own queue about receipt handles.
pub trait QueueReceipts: Send + Sync {
    /// One `ChangeMessageVisibilityBatch` (at most [`MAX_ENTRIES`] handles) on the configured
    /// queue; one answer per handle, in order. `Err` when the call itself failed.
    fn prove(&self, handles: &[&str]) -> impl Future<Output = Result<Vec<Receipt>, CallError>> + Send;
}

/// Where one message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// From the configured queue, its handle held: its record is AWS's.
    Proven,
    /// Not proven: counted, never vouched for. Why, in words for the log and the finding.
    Unproven(String),
    /// The proof could not be made now: the message fails and SQS delivers it again.
    Retry(String),
}

/// The provenance of each message (`(eventSourceARN, receiptHandle)`), in order: a foreign or
/// missing queue ARN is unproven without asking; the rest are asked of `queue`, ten at a time.
pub async fn provenance<Q: QueueReceipts>(queue_arn: &str, messages: &[(&str, &str)], queue: &Q) -> Vec<Provenance> {
    let mut out: Vec<Option<Provenance>> = messages
        .iter()
        .map(|(arn, handle)| {
            if *arn != queue_arn {
                Some(Provenance::Unproven(format!("eventSourceARN is not the stream's queue {queue_arn}")))
            } else if handle.is_empty() {
                Some(Provenance::Unproven("no receipt handle".to_owned()))
            } else {
                None
            }
        })
        .collect();
    let asked: Vec<usize> = out.iter().enumerate().filter(|(_, p)| p.is_none()).map(|(i, _)| i).collect();
    for chunk in asked.chunks(MAX_ENTRIES) {
        let handles: Vec<&str> = chunk.iter().map(|&i| messages[i].1).collect();
        let answers = queue.prove(&handles).await;
        for (k, &i) in chunk.iter().enumerate() {
            out[i] = Some(match &answers {
                Ok(a) => match a.get(k) {
                    Some(Receipt::Held) => Provenance::Proven,
                    Some(Receipt::Refused { code }) => {
                        Provenance::Unproven(format!("the stream's queue refused its receipt handle ({code})"))
                    }
                    Some(Receipt::Failed { code }) => {
                        Provenance::Retry(format!("the stream's queue failed to check its receipt handle ({code})"))
                    }
                    None => Provenance::Retry("the stream's queue did not answer for its receipt handle".to_owned()),
                },
                Err(e) if e.retryable => Provenance::Retry(e.to_string()),
                Err(e) => Provenance::Unproven(format!("its receipt handle could not be checked: {e}")),
            });
        }
    }
    out.into_iter().map(|p| p.unwrap_or_else(|| Provenance::Retry("not checked".to_owned()))).collect()
}
