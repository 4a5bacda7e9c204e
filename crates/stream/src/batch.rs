//! An SQS batch: each message handled on its own, the failures reported by message id
//! (`ReportBatchItemFailures`): a store or dispatcher error fails its message, which SQS delivers
//! again; a refused (poison) message is reported failed too, so that after the queue's
//! `maxReceiveCount` it rests in the DLQ for a person, and it never holds up the other messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::event::{Outcome, handle_event};
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
}

impl BatchReport {
    /// Every outcome of every message.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.messages.iter().filter_map(|(_, r)| r.as_ref().ok()).flatten()
    }
}

/// Handle a batch; the response names every message to deliver again.
pub async fn handle_batch<S: CounterStore, I: Invoker>(
    event: &SqsEvent,
    cfg: &Config,
    store: &S,
    invoker: &I,
    now: DateTime<Utc>,
) -> (BatchResponse, BatchReport) {
    let mut resp = BatchResponse::default();
    let mut report = BatchReport::default();
    for m in &event.records {
        let fail = |resp: &mut BatchResponse| resp.batch_item_failures.push(ItemFailure { item_identifier: m.message_id.clone() });
        match handle_event(&m.body, cfg, store, invoker, now).await {
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
