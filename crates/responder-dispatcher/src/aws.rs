//! [`Notifier`] over SNS and [`IncidentLog`] over CloudWatch Logs.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_sns::types::MessageAttributeValue;
use chrono::{DateTime, Utc};
use launchguard_aws::{CallError, classify};

use crate::{IncidentLog, Notifier};

/// SNS, for real.
#[derive(Debug, Clone)]
pub struct Sns(pub aws_sdk_sns::Client);

impl Notifier for Sns {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str, attributes: &[(&str, String)]) -> Result<String, CallError> {
        let mut req = self.0.publish().topic_arn(topic_arn).subject(subject).message(message);
        for (k, v) in attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| CallError::new(format!("sns:Publish: bad attribute {k}: {e}"), false))?;
            req = req.message_attributes(*k, attr);
        }
        let out = req.send().await.map_err(|e| classify("sns:Publish", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

/// CloudWatch Logs, for real.
#[derive(Debug, Clone)]
pub struct Logs(pub aws_sdk_cloudwatchlogs::Client);

impl Logs {
    async fn put(&self, group: &str, stream: &str, record: &str, at: DateTime<Utc>) -> Result<(), CallError> {
        let event = InputLogEvent::builder()
            .timestamp(at.timestamp_millis())
            .message(record)
            .build()
            .map_err(|e| CallError::new(format!("logs:PutLogEvents: {e}"), false))?;
        self.0
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .log_events(event)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("logs:PutLogEvents", e))
    }
}

impl IncidentLog for Logs {
    async fn append(&self, group: &str, stream: &str, record: String, at: DateTime<Utc>) -> Result<(), CallError> {
        match self.put(group, stream, &record, at).await {
            Err(e) if e.code.as_deref() == Some("ResourceNotFoundException") => {
                match self.0.create_log_stream().log_group_name(group).log_stream_name(stream).send().await {
                    Ok(_) => {}
                    Err(ce) => {
                        let ce = classify("logs:CreateLogStream", ce);
                        if ce.code.as_deref() != Some("ResourceAlreadyExistsException") {
                            return Err(ce);
                        }
                    }
                }
                self.put(group, stream, &record, at).await
            }
            other => other,
        }
    }

    async fn search(&self, group: &str, start: DateTime<Utc>, end: DateTime<Utc>, pattern: &str) -> Result<Vec<String>, CallError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .0
                .filter_log_events()
                .log_group_name(group)
                .start_time(start.timestamp_millis())
                .end_time(end.timestamp_millis())
                .filter_pattern(pattern)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify("logs:FilterLogEvents", e))?;
            out.extend(page.events().iter().filter_map(|e| e.message().map(str::to_owned)));
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(out),
            }
        }
    }
}
