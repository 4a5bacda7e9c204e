//! [`LogReader`] over the CloudWatch Logs SDK client; [`AlarmStates`] over the CloudWatch one.

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::QueryStatus as SdkStatus;
use launchguard_aws::{CallError, classify};

use crate::schedule::{AlarmChange, AlarmDescription, AlarmHistory, AlarmStates};
use crate::{FilterPage, LogReader, QueryPage, QueryStatus};

/// CloudWatch Logs, for real.
#[derive(Debug, Clone)]
pub struct CloudWatchLogs(pub Client);

impl LogReader for CloudWatchLogs {
    async fn start_query(&self, log_group: &str, start_s: i64, end_s: i64, query: &str, limit: u32) -> Result<String, CallError> {
        let out = self
            .0
            .start_query()
            .log_group_name(log_group)
            .start_time(start_s)
            .end_time(end_s)
            .query_string(query)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify("logs:StartQuery", e))?;
        out.query_id().map(str::to_owned).ok_or_else(|| CallError::new("logs:StartQuery returned no queryId", true))
    }

    async fn query_results(&self, query_id: &str) -> Result<QueryPage, CallError> {
        let out = self.0.get_query_results().query_id(query_id).send().await.map_err(|e| classify("logs:GetQueryResults", e))?;
        let status = match out.status() {
            Some(SdkStatus::Complete) => QueryStatus::Complete,
            Some(SdkStatus::Failed) => QueryStatus::Failed,
            Some(SdkStatus::Cancelled) => QueryStatus::Cancelled,
            Some(SdkStatus::Timeout) => QueryStatus::Timeout,
            _ => QueryStatus::Running,
        };
        let mut messages = Vec::new();
        let mut rows_without_message = 0;
        if status == QueryStatus::Complete {
            for row in out.results() {
                match row.iter().find(|f| f.field() == Some("@message")).and_then(|f| f.value()) {
                    Some(m) => messages.push(m.to_owned()),
                    None => rows_without_message += 1,
                }
            }
        }
        Ok(QueryPage { status, messages, rows_without_message })
    }

    async fn stop_query(&self, query_id: &str) -> Result<(), CallError> {
        self.0.stop_query().query_id(query_id).send().await.map(|_| ()).map_err(|e| classify("logs:StopQuery", e))
    }

    async fn filter_page(
        &self,
        log_group: &str,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        next_token: Option<String>,
    ) -> Result<FilterPage, CallError> {
        let out = self
            .0
            .filter_log_events()
            .log_group_name(log_group)
            .start_time(start_ms)
            .end_time(end_ms)
            .filter_pattern(pattern)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| classify("logs:FilterLogEvents", e))?;
        Ok(FilterPage {
            messages: out.events().iter().filter_map(|e| e.message().map(str::to_owned)).collect(),
            next_token: out.next_token().map(str::to_owned),
        })
    }
}

/// CloudWatch alarms, for real.
#[derive(Debug, Clone)]
pub struct CloudWatchAlarms(pub aws_sdk_cloudwatch::Client);

impl AlarmStates for CloudWatchAlarms {
    async fn describe_alarms(&self, names: &[String]) -> Result<Vec<AlarmDescription>, CallError> {
        use aws_sdk_cloudwatch::types::StateValue;
        use launchguard_core::alarm::AlarmState;
        let out = self
            .0
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
            .send()
            .await
            .map_err(|e| classify("cloudwatch:DescribeAlarms", e))?;
        let positive = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
        Ok(out
            .metric_alarms()
            .iter()
            .filter_map(|a| {
                let state = match a.state_value()? {
                    StateValue::Alarm => AlarmState::Alarm,
                    StateValue::Ok => AlarmState::Ok,
                    _ => AlarmState::InsufficientData,
                };
                let metric_period = a.metrics().iter().filter_map(|m| positive(m.metric_stat().and_then(|s| s.period()))).max();
                Some(AlarmDescription {
                    arn: a.alarm_arn()?.to_owned(),
                    name: a.alarm_name()?.to_owned(),
                    state,
                    reason: a.state_reason().map(str::to_owned),
                    period_seconds: positive(a.period()).or(metric_period),
                    evaluation_periods: positive(a.evaluation_periods()),
                    metric_math: !a.metrics().is_empty(),
                    metric_name: a
                        .metric_name()
                        .or_else(|| a.metrics().iter().find_map(|m| m.metric_stat().and_then(|s| s.metric()).and_then(|m| m.metric_name())))
                        .map(str::to_owned),
                    state_updated: a.state_updated_timestamp().and_then(chrono_time),
                    state_transitioned: a.state_transitioned_timestamp().and_then(chrono_time),
                })
            })
            .collect())
    }
}

fn chrono_time(t: &aws_sdk_cloudwatch::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    t.to_millis().ok().and_then(chrono::DateTime::from_timestamp_millis)
}

impl AlarmHistory for CloudWatchAlarms {
    async fn state_changes(
        &self,
        name: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<AlarmChange>, CallError> {
        use aws_sdk_cloudwatch::primitives::DateTime as SdkTime;
        use aws_sdk_cloudwatch::types::HistoryItemType;
        let out = self
            .0
            .describe_alarm_history()
            .alarm_name(name)
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(SdkTime::from_millis(from.timestamp_millis()))
            .end_date(SdkTime::from_millis(to.timestamp_millis()))
            .send()
            .await
            .map_err(|e| classify("cloudwatch:DescribeAlarmHistory", e))?;
        Ok(out
            .alarm_history_items()
            .iter()
            .filter_map(|item| {
                // HistoryData: {"version": "1.0", "oldState": {...}, "newState": {"stateValue": "ALARM", "stateReason": "..."}}
                let data: serde_json::Value = serde_json::from_str(item.history_data()?).ok()?;
                let new_state = data.get("newState")?;
                Some(AlarmChange {
                    at: item.timestamp().and_then(chrono_time)?,
                    state: launchguard_core::alarm::AlarmState::parse(new_state.get("stateValue")?.as_str()?)?,
                    reason: new_state.get("stateReason").and_then(serde_json::Value::as_str).map(str::to_owned),
                })
            })
            .collect())
    }
}
