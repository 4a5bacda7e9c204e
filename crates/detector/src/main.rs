//! Lambda entry point of launchguard-detector: configuration and clients once, then the loop.

#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use launchguard_aws::LambdaInvoker;
use launchguard_aws::mac::{Kms, SealingInvoker};
use launchguard_core::auth::Purpose;
use launchguard_core::config::{self, ProcessEnv};
use launchguard_detector::aws::{CloudWatchAlarms, CloudWatchLogs};
use launchguard_detector::{Config, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    launchguard_aws::init_logging();
    let config = Config::from_env(&ProcessEnv).inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    // Name the rule set that runs, by its digest: `make deploy ARGS=--dry` prints the same one.
    let ids: Vec<&str> = config.rules.iter().map(|r| r.rule.id.as_str()).collect();
    tracing::info!(rules = %config.rules_origin, sha256 = %config.rules_digest, ids = ?ids, "rule set loaded");
    let sdk = launchguard_aws::load_sdk_config().await;
    let logs = CloudWatchLogs(aws_sdk_cloudwatchlogs::Client::new(&sdk));
    let alarms = CloudWatchAlarms(aws_sdk_cloudwatch::Client::new(&sdk));
    // Findings leave sealed with the finding key: the dispatcher acts on nothing else.
    let key_id = config::required(&ProcessEnv, "FINDING_KEY_ID", "the KMS HMAC key the detector seals findings with")
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let lambda = SealingInvoker {
        inner: LambdaInvoker(aws_sdk_lambda::Client::new(&sdk)),
        signer: Kms(aws_sdk_kms::Client::new(&sdk)),
        key_id,
        purpose: Purpose::Finding,
    };
    let (config, logs, alarms, lambda) = (&config, &logs, &alarms, &lambda);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let report = handle(&event.payload, &event.context.invoked_function_arn, config, logs, alarms, lambda, chrono::Utc::now())
            .await
            .inspect_err(|e| tracing::error!(error = %e, retryable = e.is_retryable(), "detector failed"))
            .map_err(|e| launchguard_aws::diagnostic(&e, e.is_retryable()))?;
        serde_json::to_value(report).map_err(|e| launchguard_aws::diagnostic(&e, false))
    }))
    .await
}
