//! The I/O edge the launchguard functions share: loading the SDK configuration once, telling
//! retryable AWS errors from final ones, invoking another function, and JSON logs ([`logs`]: every string escaped).
//!
//! Endpoints come from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`, which aws-config reads
//! itself: there is no endpoint code here. [`mac`] seals and opens authenticated payloads with KMS;
//! [`store`] is the conditional-write store (S3) of the ledger; [`command`] is the handlers' gate;
//! [`trail`] looks events up in CloudTrail's event history.

pub mod command;
pub mod logs;
pub mod mac;
pub mod store;
pub mod trail;

use std::fmt;
use std::future::Future;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A failure of one AWS call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The operation and what the service (or the network) said.
    pub message: String,
    /// The AWS error code, when the service answered with one (e.g. `NoSuchEntity`).
    pub code: Option<String>,
    /// Throttling, 5xx, timeouts and network failures are worth retrying.
    pub retryable: bool,
}

impl CallError {
    /// A call error with a message only.
    pub fn new(message: impl Into<String>, retryable: bool) -> Self {
        Self { message: message.into(), code: None, retryable }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "ServiceFailure",
    "InternalServerError",
];

/// Classify an SDK error of operation `op` (after the SDK's own retries). The message is one
/// line: `service:Operation: AWS's message (AWS's code; HTTP status)` when the service answered,
/// else what went wrong on the way, from the error's chain of causes (never a debug dump).
pub fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(op: &str, err: SdkError<E, HttpResponse>) -> CallError {
    match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let e = se.err();
            let code = e.code().map(str::to_owned);
            let retryable = status >= 500 || status == 429 || code.as_deref().is_some_and(|c| THROTTLING.contains(&c));
            CallError {
                message: format!("{op}: {} ({}; HTTP {status})", e.message().unwrap_or("no message"), code.as_deref().unwrap_or("no code")),
                code,
                retryable,
            }
        }
        SdkError::TimeoutError(_) => CallError::new(format!("{op}: timed out"), true),
        SdkError::DispatchFailure(d) => {
            let why = causes(&err);
            if d.is_user() || why.contains("credentials") {
                CallError::new(format!("{op}: {NO_CREDENTIALS}: {why}"), false)
            } else {
                CallError::new(format!("{op}: {UNREACHABLE}: {why}"), true)
            }
        }
        SdkError::ResponseError(_) => CallError::new(format!("{op}: unreadable response: {}", causes(&err)), true),
        _ => CallError::new(format!("{op}: {}", causes(&err)), false),
    }
}

/// The words of [`classify`]'s message when no credentials were found or accepted before the call.
pub const NO_CREDENTIALS: &str = "no usable credentials";
/// The words of [`classify`]'s message when the endpoint could not be reached.
pub const UNREACHABLE: &str = "could not reach the endpoint";

/// An error and its causes on one line, `a: b: c`, each said once, control characters dropped.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text: String = e.to_string().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Load the shared SDK configuration once, with the standard retry mode (5 attempts, backoff
/// with jitter) for throttling and 5xx.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    load_sdk_config_for(None, None).await
}

/// [`load_sdk_config`] with a region and a named profile (of `~/.aws/config` and
/// `~/.aws/credentials`) that win over the environment's (`AWS_REGION`, `AWS_PROFILE`).
pub async fn load_sdk_config_for(region: Option<String>, profile: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::standard().with_max_attempts(5));
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r));
    }
    loader.load().await
}

/// An S3 client for the ledger bucket. Path-style addressing when an endpoint is configured
/// (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: an emulator on 127.0.0.1 has no per-bucket host
/// names); AWS's default virtual-hosted style otherwise.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let emulated = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"].iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(emulated).build())
}

/// JSON logs to stdout (CloudWatch Logs picks them up), every string escaped; level from
/// `RUST_LOG` (default `info`): [`logs::subscriber`].
pub fn init_logging() {
    let _ = tracing::subscriber::set_global_default(logs::subscriber(std::io::stdout));
}

/// The answer of a synchronous invocation.
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    /// The function's return value (or its error document).
    pub payload: Vec<u8>,
    /// `X-Amz-Function-Error`, when the function failed.
    pub function_error: Option<String>,
}

/// Invoking another function.
pub trait Invoker: Send + Sync {
    /// `Invoke` with `InvocationType=Event`: queued, retried by Lambda, answered at once.
    fn invoke_async(&self, function: &str, payload: Vec<u8>) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `Invoke` with `InvocationType=RequestResponse`: waits for the function's answer.
    fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> impl Future<Output = Result<InvokeResponse, CallError>> + Send;
}

/// [`Invoker`] over the Lambda SDK client.
#[derive(Debug, Clone)]
pub struct LambdaInvoker(pub aws_sdk_lambda::Client);

impl Invoker for LambdaInvoker {
    async fn invoke_async(&self, function: &str, payload: Vec<u8>) -> Result<(), CallError> {
        let out = self
            .0
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| classify("lambda:Invoke", e))?;
        // 202 from Lambda; `cargo lambda watch` runs the function and answers 200.
        match out.status_code() {
            200..=299 => Ok(()),
            s => Err(CallError::new(format!("lambda:Invoke {function}: HTTP {s}"), s >= 500)),
        }
    }

    async fn invoke_sync(&self, function: &str, payload: Vec<u8>) -> Result<InvokeResponse, CallError> {
        let out = self
            .0
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| classify("lambda:Invoke", e))?;
        Ok(InvokeResponse {
            payload: out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
            function_error: out.function_error().map(str::to_owned),
        })
    }
}

/// Who this function runs as.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The account (12 digits).
    pub account: String,
    /// The caller ARN as STS gives it.
    pub arn: String,
    /// The role behind it (protected from every action).
    pub role: String,
}

/// `sts:GetCallerIdentity`, once at start-up: the function's own account and role.
pub async fn whoami(sts: &aws_sdk_sts::Client) -> Result<Identity, CallError> {
    let out = sts.get_caller_identity().send().await.map_err(|e| classify("sts:GetCallerIdentity", e))?;
    let account = out.account().unwrap_or_default().to_owned();
    launchguard_core::ids::validate_account_id(&account).map_err(|e| CallError::new(format!("sts:GetCallerIdentity: {e}"), false))?;
    let arn = out.arn().unwrap_or_default().to_owned();
    Ok(Identity { role: launchguard_core::guard::role_of_caller(&arn), account, arn })
}

/// The error a function returns to Lambda: `errorType` says whether a retry can help
/// (`launchguard.Retryable` or `launchguard.Final`), `errorMessage` says what happened.
pub fn diagnostic(err: &dyn fmt::Display, retryable: bool) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: if retryable { "launchguard.Retryable" } else { "launchguard.Final" }.to_owned(),
        error_message: err.to_string(),
    }
}

/// The start of every function that acts on IAM: JSON logs, the SDK configuration, and who the
/// function runs as (its account, and its own role, which it must never act on).
pub async fn start_with_identity() -> Result<(aws_config::SdkConfig, Identity), CallError> {
    init_logging();
    let sdk = load_sdk_config().await;
    let me = whoami(&aws_sdk_sts::Client::new(&sdk)).await?;
    Ok((sdk, me))
}
