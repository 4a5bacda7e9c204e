//! [`HealthPager`] over Amazon SNS: one `Publish` to launchguard's health topic.

use launchguard_aws::{CallError, classify};

use crate::rules::HealthPager;

/// launchguard's health topic.
#[derive(Debug, Clone)]
pub struct SnsHealth {
    /// The client.
    pub client: aws_sdk_sns::Client,
    /// `LG_HEALTH_TOPIC_ARN`.
    pub topic_arn: String,
}

impl HealthPager for SnsHealth {
    async fn page(&self, subject: &str, message: &str) -> Result<(), CallError> {
        // SNS takes a subject of at most 100 characters
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| classify("sns:Publish", e))?;
        Ok(())
    }
}
