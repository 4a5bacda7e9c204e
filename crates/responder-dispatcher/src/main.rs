//! Lambda entry point of launchguard-dispatcher.

#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use launchguard_aws::LambdaInvoker;
use launchguard_aws::mac::Kms;
use launchguard_aws::store::S3Store;
use launchguard_core::config::ProcessEnv;
use launchguard_responder_dispatcher::aws::{Logs, Sns};
use launchguard_responder_dispatcher::{Config, handle_until};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (sdk, me) = launchguard_aws::start_with_identity().await?;
    let config =
        Config::from_env(&ProcessEnv, &me.account, &me.role).inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let lambda = LambdaInvoker(aws_sdk_lambda::Client::new(&sdk));
    let sns = Sns(aws_sdk_sns::Client::new(&sdk));
    let logs = Logs(aws_sdk_cloudwatchlogs::Client::new(&sdk));
    let kms = Kms(aws_sdk_kms::Client::new(&sdk));
    let store = S3Store::new(launchguard_aws::s3_client(&sdk), config.ledger_bucket.clone(), "ledger/");
    // unused without REPORT_BUCKET (the configuration says whether reports are written)
    let reports = S3Store::new(launchguard_aws::s3_client(&sdk), config.report_bucket.clone().unwrap_or_default(), "reports/");
    let trail = launchguard_aws::trail::CloudTrail(aws_sdk_cloudtrail::Client::new(&sdk));
    let (config, lambda, sns, logs, store, kms, reports, trail) = (&config, &lambda, &sns, &logs, &store, &kms, &reports, &trail);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let bytes = serde_json::to_vec(&event.payload).map_err(|e| launchguard_aws::diagnostic(&e, false))?;
        // the context's deadline (epoch ms): how long Lambda lets this delivery run
        let left = launchguard_responder_dispatcher::ledger::time_left(event.context.deadline, chrono::Utc::now().timestamp_millis());
        let deadline = tokio::time::Instant::now() + left;
        let report = handle_until(deadline, &bytes, config, lambda, sns, logs, store, kms, reports, trail, chrono::Utc::now())
            .await
            .inspect_err(|e| tracing::error!(error = %e, retryable = e.is_retryable(), "dispatch failed"))
            .map_err(|e| launchguard_aws::diagnostic(&e, e.is_retryable()))?;
        serde_json::to_value(report).map_err(|e| launchguard_aws::diagnostic(&e, false))
    }))
    .await
}
