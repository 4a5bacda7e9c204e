//! [`RuleReader`] over Amazon EventBridge: `DescribeRule` and `ListTargetsByRule` on the stream's bus.

use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError;
use launchguard_aws::{CallError, classify};
use launchguard_core::stream_plan::{SeenRule, SeenTarget};

use crate::rules::RuleReader;

/// The stream's rules on their bus.
#[derive(Debug, Clone)]
pub struct EventBridgeRules {
    /// The client.
    pub client: aws_sdk_eventbridge::Client,
    /// `LG_STREAM_EVENT_BUS`.
    pub bus: String,
}

impl RuleReader for EventBridgeRules {
    async fn read(&self, name: &str) -> Result<Option<SeenRule>, CallError> {
        let rule = match self.client.describe_rule().name(name).event_bus_name(&self.bus).send().await {
            Ok(r) => r,
            Err(e) if e.as_service_error().is_some_and(DescribeRuleError::is_resource_not_found_exception) => return Ok(None),
            Err(e) => return Err(classify("events:DescribeRule", e)),
        };
        let mut targets = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .client
                .list_targets_by_rule()
                .rule(name)
                .event_bus_name(&self.bus)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| classify("events:ListTargetsByRule", e))?;
            targets.extend(out.targets().iter().map(|t| SeenTarget {
                id: t.id().to_owned(),
                arn: t.arn().to_owned(),
                input: t.input().map(str::to_owned),
                input_path: t.input_path().map(str::to_owned),
                input_transformer: t.input_transformer().map(|x| x.input_template().to_owned()),
            }));
            next = out.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        Ok(Some(SeenRule {
            pattern: rule.event_pattern().map(str::to_owned),
            schedule: rule.schedule_expression().map(str::to_owned),
            targets,
        }))
    }
}
