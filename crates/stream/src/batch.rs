//! An SQS batch: each message handled on its own, the failures reported by message id
//! (`ReportBatchItemFailures`): a store or dispatcher error fails its message, which SQS delivers
//! again; a refused (poison) message is reported failed too, so that after the queue's
//! `maxReceiveCount` it rests in the DLQ for a person, and it never holds up the other messages.
//! First, each message's provenance ([`crate::receipts::provenance`]): a message not proven to
//! come from the stream's own queue is still counted, but never vouched for; one whose proof
//! could not be made now fails, and SQS delivers it again.

use chrono::{DateTime, Utc};
use launchguard_core::text::untrusted;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::event::{Outcome, handle_event};
use crate::receipts::{Provenance, QueueReceipts, provenance};
use crate::rules::{Guard, HealthPager, RuleReader};
use crate::store::CounterStore;
use crate::{Config, Invoker};

/// The SQS event Lambda delivers (only what is read of it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SqsEvent {
    /// The messages.
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsMessage>,
}

/// One SQS message.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SqsMessage {
    /// `messageId`.
    #[serde(rename = "messageId", default)]
    pub message_id: String,
    /// `body`: one EventBridge event.
    #[serde(default)]
    pub body: String,
    /// `receiptHandle`: proof, if the stream's queue accepts it, that it delivered the message.
    #[serde(rename = "receiptHandle", default)]
    pub receipt_handle: String,
    /// `eventSourceARN`: the queue the message claims to come from.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: String,
}

/// The partial batch response Lambda reads back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    /// The messages to deliver again.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One failed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    /// Its `messageId`.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What a batch did, message by message (the function's log).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    /// Per message: its id and outcomes, or the error that fails it.
    pub messages: Vec<(String, Result<Vec<Outcome>, String>)>,
    /// The messages counted without proof that the stream's own queue delivered them, and why:
    /// their records are never carried as delivered by AWS.
    pub unproven: Vec<(String, String)>,
}

impl BatchReport {
    /// Every outcome of every message.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.messages.iter().filter_map(|(_, r)| r.as_ref().ok()).flatten()
    }
}

/// Handle a batch; the response names every message to deliver again.
pub async fn handle_batch<S: CounterStore, I: Invoker, Q: QueueReceipts, R: RuleReader, P: HealthPager>(
    event: &SqsEvent,
    cfg: &Config,
    store: &S,
    invoker: &I,
    queue: &Q,
    guard: &Guard<R, P>,
    now: DateTime<Utc>,
) -> (BatchResponse, BatchReport) {
    let mut resp = BatchResponse::default();
    let mut report = BatchReport::default();
    let claimed: Vec<(&str, &str)> = event.records.iter().map(|m| (m.event_source_arn.as_str(), m.receipt_handle.as_str())).collect();
    let proofs = provenance(&cfg.queue_arn, &claimed, queue).await;
    for (m, proof) in event.records.iter().zip(proofs) {
        let fail = |resp: &mut BatchResponse| resp.batch_item_failures.push(ItemFailure { item_identifier: m.message_id.clone() });
        let proven = match proof {
            Provenance::Proven => true,
            Provenance::Unproven(why) => {
                warn!(message_id = %untrusted(&m.message_id), why = %why,
                    "message not proven to come from the stream's queue: counted, its record never carried as delivered by AWS");
                report.unproven.push((m.message_id.clone(), why));
                false
            }
            Provenance::Retry(why) => {
                warn!(message_id = %untrusted(&m.message_id), why = %why, "the queue's proof could not be made; SQS delivers the message again");
                fail(&mut resp);
                report.messages.push((m.message_id.clone(), Err(format!("proof of the stream's queue: {why}; delivered again"))));
                continue;
            }
        };
        match handle_event(&m.body, proven, cfg, store, invoker, guard, now).await {
            Ok(outcomes) => {
                if outcomes.iter().any(|o| matches!(o, Outcome::Refused { .. })) {
                    fail(&mut resp);
                }
                report.messages.push((m.message_id.clone(), Ok(outcomes)));
            }
            Err(e) => {
                warn!(message_id = %m.message_id, error = %e, "message failed; SQS delivers it again");
                fail(&mut resp);
                report.messages.push((m.message_id.clone(), Err(e.to_string())));
            }
        }
    }
    (resp, report)
}
