//! A responder function's Lambda entry point: logging, configuration, SDK config and clients
//! once, then `run(service_fn(...))`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use launchguard_aws::mac::Kms;
use launchguard_aws::store::S3Store;
use launchguard_core::config::ProcessEnv;
use serde_json::Value;

use crate::aws::Iam;
use crate::envelope::{handle, handle_ec2};
use crate::function::Function;

/// Serve `function` until Lambda stops it. A command that is not executed (not sealed, stale,
/// KMS or the replay record unreachable) is an error, retryable or final
/// (`launchguard_aws::diagnostic`).
pub async fn serve(function: &'static Function) -> Result<(), Error> {
    let (sdk, me) = launchguard_aws::start_with_identity().await?;
    let config =
        function.config(&ProcessEnv, &me.account, &me.role).inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let iam = Iam(aws_sdk_iam::Client::new(&sdk));
    let kms = Kms(aws_sdk_kms::Client::new(&sdk));
    let store = S3Store::new(launchguard_aws::s3_client(&sdk), config.gate.ledger_bucket.clone(), "");
    let (config, iam, kms, store) = (&config, &iam, &kms, &store);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let bytes = serde_json::to_vec(&event.payload).map_err(|e| launchguard_aws::diagnostic(&e, false))?;
        let outcome = handle(&bytes, config, iam, kms, store, chrono::Utc::now())
            .await
            .inspect_err(|e| tracing::error!(error = %e, retryable = e.is_retryable(), "request not executed"))
            .map_err(|e| launchguard_aws::diagnostic(&e, e.is_retryable()))?;
        serde_json::to_value(outcome).map_err(|e| launchguard_aws::diagnostic(&e, false))
    }))
    .await
}

/// [`serve`] for a function whose actions call EC2 (`launchguard-ec2-handler`): one EC2 client
/// a region, built on first use, and an IAM client that resolves the principal.
pub async fn serve_ec2(function: &'static Function) -> Result<(), Error> {
    let (sdk, me) = launchguard_aws::start_with_identity().await?;
    let config =
        function.config(&ProcessEnv, &me.account, &me.role).inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let ec2 = crate::aws_ec2::Ec2::new(aws_sdk_ec2::Config::new(&sdk));
    let iam = Iam(aws_sdk_iam::Client::new(&sdk));
    let kms = Kms(aws_sdk_kms::Client::new(&sdk));
    let store = S3Store::new(launchguard_aws::s3_client(&sdk), config.gate.ledger_bucket.clone(), "");
    let (config, ec2, iam, kms, store) = (&config, &ec2, &iam, &kms, &store);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let bytes = serde_json::to_vec(&event.payload).map_err(|e| launchguard_aws::diagnostic(&e, false))?;
        let outcome = handle_ec2(&bytes, config, ec2, iam, kms, store, chrono::Utc::now())
            .await
            .inspect_err(|e| tracing::error!(error = %e, retryable = e.is_retryable(), "request not executed"))
            .map_err(|e| launchguard_aws::diagnostic(&e, e.is_retryable()))?;
        serde_json::to_value(outcome).map_err(|e| launchguard_aws::diagnostic(&e, false))
    }))
    .await
}
