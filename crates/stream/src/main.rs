//! Lambda entry point of launchguard-stream: configuration and clients once, then the loop over
//! SQS batches (partial batch responses).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use launchguard_aws::LambdaInvoker;
use launchguard_aws::mac::{Kms, SealingInvoker};
use launchguard_core::auth::Purpose;
use launchguard_core::config::{self, ProcessEnv};
use launchguard_stream::dynamo::DynamoStore;
use launchguard_stream::eventbridge::EventBridgeRules;
use launchguard_stream::sns::SnsHealth;
use launchguard_stream::sqs::SqsQueue;
use launchguard_stream::{Config, Guard, SqsEvent, handle_batch};

#[tokio::main]
async fn main() -> Result<(), Error> {
    launchguard_aws::init_logging();
    let sdk = launchguard_aws::load_sdk_config().await;
    let me = launchguard_aws::whoami(&aws_sdk_sts::Client::new(&sdk)).await.inspect_err(|e| tracing::error!(error = %e, "who am I?"))?;
    let config =
        Config::from_env_in(&ProcessEnv, Some(&me.account)).inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let ids: Vec<&str> = config.rules.iter().map(|r| r.rule.id.as_str()).collect();
    tracing::info!(sha256 = %config.rules_digest, ids = ?ids, accounts = ?config.scope.accounts, regions = ?config.scope.regions,
        "stream detector configured");
    let store = DynamoStore { client: aws_sdk_dynamodb::Client::new(&sdk), table: config.table.clone() };
    // its own key, not the alarm chain's: the dispatcher trusts the records AWS delivered only in a
    // finding this key sealed, and the key's policy lets this function's role alone make MACs
    let key_id = config::required(&ProcessEnv, "STREAM_FINDING_KEY_ID", "the stream detector's own KMS HMAC key (StreamFindingKeyArn)")
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let lambda = SealingInvoker {
        inner: LambdaInvoker(aws_sdk_lambda::Client::new(&sdk)),
        signer: Kms(aws_sdk_kms::Client::new(&sdk)),
        key_id,
        purpose: Purpose::Finding,
    };
    let queue = SqsQueue { client: aws_sdk_sqs::Client::new(&sdk), url: config.queue_url.clone() };
    let guard = Guard {
        rules: EventBridgeRules { client: aws_sdk_eventbridge::Client::new(&sdk), bus: config.event_bus.clone() },
        health: SnsHealth { client: aws_sdk_sns::Client::new(&sdk), topic_arn: config.health_topic.clone() },
    };
    let (config, store, lambda, queue, guard) = (&config, &store, &lambda, &queue, &guard);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (response, report) = handle_batch(&event.payload, config, store, lambda, queue, guard, chrono::Utc::now()).await;
        tracing::info!(messages = report.messages.len(), failed = response.batch_item_failures.len(),
            report = %serde_json::to_string(&report).unwrap_or_default(), "batch handled");
        Ok::<_, Error>(response)
    }))
    .await
}
