//! [`QueueReceipts`] over Amazon SQS: `ChangeMessageVisibilityBatch` on the stream's own queue.

use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use launchguard_aws::{CallError, classify};

use crate::receipts::{QueueReceipts, Receipt, VISIBILITY_SECONDS};

/// The stream's queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    /// The client.
    pub client: aws_sdk_sqs::Client,
    /// `LG_STREAM_QUEUE_URL`.
    pub url: String,
}

impl QueueReceipts for SqsQueue {
    async fn prove(&self, handles: &[&str]) -> Result<Vec<Receipt>, CallError> {
        let mut entries = Vec::with_capacity(handles.len());
        for (i, h) in handles.iter().enumerate() {
            let e = ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .receipt_handle(*h)
                .visibility_timeout(VISIBILITY_SECONDS)
                .build()
                .map_err(|e| CallError::new(format!("sqs:ChangeMessageVisibilityBatch: request not built: {e}"), false))?;
            entries.push(e);
        }
        let out = self
            .client
            .change_message_visibility_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("sqs:ChangeMessageVisibilityBatch", e))?;
        let mut answers = vec![Receipt::Failed { code: "no answer".to_owned() }; handles.len()];
        let index = |id: &str| id.strip_prefix('m').and_then(|n| n.parse::<usize>().ok()).filter(|&i| i < handles.len());
        for ok in out.successful() {
            if let Some(i) = index(ok.id()) {
                answers[i] = Receipt::Held;
            }
        }
        for f in out.failed() {
            if let Some(i) = index(f.id()) {
                answers[i] = Receipt::failed(f.code(), f.sender_fault());
            }
        }
        Ok(answers)
    }
}
