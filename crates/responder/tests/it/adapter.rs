//! The IAM adapter with the SDK's mock client: throttling is retried by the SDK, then succeeds.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use launchguard_responder::aws::Iam;
use launchguard_responder::ports::{AccessKeys, KeyStatus};

fn xml_error(status: u16, code: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>from the test</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )),
    )
}

#[tokio::test]
async fn throttling_then_success() {
    let rule = mock!(Client::update_access_key)
        .match_requests(|r| r.access_key_id() == Some("AKIAEXAMPLEDEPLOYER1") && r.user_name() == Some("ci-deployer"))
        .sequence()
        .http_response(|| xml_error(400, "Throttling"))
        .times(2)
        .output(|| UpdateAccessKeyOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1))));
    Iam(client).set_status("ci-deployer", "AKIAEXAMPLEDEPLOYER1", KeyStatus::Inactive).await.expect("third attempt succeeds");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn unknown_key_is_none_and_denial_is_final() {
    let rule = mock!(Client::get_access_key_last_used).then_http_response(|| xml_error(404, "NoSuchEntity"));
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, &[&rule]);
    assert_eq!(Iam(client).key_owner("AKIAEXAMPLEUNKNOWN01").await.unwrap(), None);

    let rule = mock!(Client::get_access_key_last_used).then_http_response(|| xml_error(403, "AccessDenied"));
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, &[&rule]);
    let e = Iam(client).key_owner("AKIAEXAMPLEUNKNOWN01").await.unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("iam:GetAccessKeyLastUsed") && e.message.contains("AccessDenied"), "{e}");

    let rule =
        mock!(Client::get_access_key_last_used).then_output(|| GetAccessKeyLastUsedOutput::builder().user_name("ci-deployer").build());
    let client = mock_client!(aws_sdk_iam, RuleMode::Sequential, &[&rule]);
    assert_eq!(Iam(client).key_owner("AKIAEXAMPLEDEPLOYER1").await.unwrap().as_deref(), Some("ci-deployer"));
}
