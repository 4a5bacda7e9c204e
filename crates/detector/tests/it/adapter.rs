//! The CloudWatch Logs adapter against the documented response shapes (aws-cli examples), with
//! the SDK's own mock client: field extraction, statuses, and error classification.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput;
use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::types::{FilteredLogEvent, QueryStatus as SdkStatus, ResultField};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use launchguard_detector::aws::CloudWatchLogs;
use launchguard_detector::{LogReader, QueryStatus};
use launchguard_testkit::fixture;
use serde_json::Value;

fn cli_query_results() -> GetQueryResultsOutput {
    let v: Value = serde_json::from_str(&fixture("logs/get-query-results.output.json")).unwrap();
    let rows = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|f| ResultField::builder().field(f["field"].as_str().unwrap()).value(f["value"].as_str().unwrap()).build())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    GetQueryResultsOutput::builder().set_results(Some(rows)).status(SdkStatus::from(v["status"].as_str().unwrap())).build()
}

#[tokio::test]
async fn query_results_in_the_documented_shape_give_the_messages() {
    let rule = mock!(Client::get_query_results).match_requests(|r| r.query_id() == Some("q-1")).then_output(cli_query_results);
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, &[&rule]);
    let page = CloudWatchLogs(client).query_results("q-1").await.unwrap();
    assert_eq!(page.status, QueryStatus::Complete);
    assert_eq!(page.messages, vec!["Test BENCHMARK 3", "Test BENCHMARK 2", "Test BENCHMARK 1"]);
    assert_eq!(page.rows_without_message, 0);
}

#[tokio::test]
async fn running_queries_give_no_rows_yet() {
    let rule = mock!(Client::get_query_results).then_output(|| GetQueryResultsOutput::builder().status(SdkStatus::Running).build());
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, &[&rule]);
    let page = CloudWatchLogs(client).query_results("q-1").await.unwrap();
    assert_eq!(page.status, QueryStatus::Running);
    assert!(page.messages.is_empty());
}

#[tokio::test]
async fn filter_pages_carry_messages_and_the_token() {
    let v: Value = serde_json::from_str(&fixture("logs/filter-log-events.output.json")).unwrap();
    let events: Vec<FilteredLogEvent> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| FilteredLogEvent::builder().message(e["message"].as_str().unwrap()).timestamp(e["timestamp"].as_i64().unwrap()).build())
        .collect();
    let rule = mock!(Client::filter_log_events)
        .match_requests(|r| {
            r.log_group_name() == Some("g") && r.start_time() == Some(1) && r.end_time() == Some(2) && r.next_token().is_none()
        })
        .then_output(move || FilterLogEventsOutput::builder().set_events(Some(events.clone())).next_token("t2").build());
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, &[&rule]);
    let page = CloudWatchLogs(client).filter_page("g", 1, 2, "{ }", None).await.unwrap();
    assert_eq!(page.messages, vec!["Test MESSAGE1", "Test MESSAGE2"]);
    assert_eq!(page.next_token.as_deref(), Some("t2"));
}

fn http_error(status: u16, code: &'static str) -> impl Fn() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    move || {
        aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!("{{\"__type\":\"{code}\",\"message\":\"from the test\"}}")),
        )
    }
}

#[tokio::test]
async fn throttling_is_retryable_and_a_missing_log_group_is_not() {
    let rule = mock!(Client::start_query).then_http_response(http_error(400, "ThrottlingException"));
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, &[&rule]);
    let e = CloudWatchLogs(client).start_query("g", 0, 1, "q", 10).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.code.as_deref(), Some("ThrottlingException"));

    let rule = mock!(Client::start_query).then_http_response(http_error(400, "ResourceNotFoundException"));
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, &[&rule]);
    let e = CloudWatchLogs(client).start_query("g", 0, 1, "q", 10).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("logs:StartQuery"), "{e}");

    let rule = mock!(Client::start_query).then_http_response(http_error(503, "ServiceUnavailableException"));
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, &[&rule]);
    assert!(CloudWatchLogs(client).start_query("g", 0, 1, "q", 10).await.unwrap_err().retryable);
}

/// `DescribeAlarmHistory` in the documented shape (`aws cloudwatch describe-alarm-history`): the
/// `StateUpdate` items' `HistoryData` JSON gives each change's new state and reason; an item
/// whose data cannot be read is skipped, never guessed.
#[tokio::test]
async fn alarm_history_items_give_each_change_to_alarm_with_its_reason() {
    use aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryOutput;
    use aws_sdk_cloudwatch::primitives::DateTime as SdkTime;
    use aws_sdk_cloudwatch::types::{AlarmHistoryItem, HistoryItemType};
    use launchguard_core::alarm::AlarmState;
    use launchguard_detector::AlarmHistory;
    use launchguard_detector::aws::CloudWatchAlarms;

    let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T05:40:00.123Z").unwrap().with_timezone(&chrono::Utc);
    let item = move |data: &str| {
        AlarmHistoryItem::builder()
            .alarm_name("launchguard-runinstances")
            .history_item_type(HistoryItemType::StateUpdate)
            .timestamp(SdkTime::from_millis(at.timestamp_millis()))
            .history_data(data)
            .build()
    };
    let reason = "Threshold Crossed: 1 datapoint [57.0 (22/11/26 05:39:00)] was greater than or equal to the threshold (10.0).";
    let good = serde_json::json!({"version": "1.0", "oldState": {"stateValue": "OK"},
        "newState": {"stateValue": "ALARM", "stateReason": reason, "stateReasonData": {"period": 60}}})
    .to_string();
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
        .match_requests(|r| {
            r.alarm_name() == Some("launchguard-runinstances") && r.history_item_type() == Some(&HistoryItemType::StateUpdate)
        })
        .then_output(move || {
            DescribeAlarmHistoryOutput::builder().alarm_history_items(item(&good)).alarm_history_items(item("not json")).build()
        });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule]);
    let changes = CloudWatchAlarms(client)
        .state_changes("launchguard-runinstances", at - chrono::Duration::seconds(1), at + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].at, &changes[0].state, changes[0].reason.as_deref()), (at, &AlarmState::Alarm, Some(reason)));
}
