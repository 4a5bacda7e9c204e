//! The stream detector's configuration, read once at start-up.

use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::ids::validate_account_id;
use launchguard_core::stream::{BUCKET_SECONDS, Scope};
use launchguard_core::stream_plan::{StreamRule, plan};
use launchguard_detector::{DetectorRule, detector_rules};

/// The stream detector's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DISPATCHER_LAMBDA_NAME`: the responder dispatcher.
    pub dispatcher: String,
    /// `LG_STREAM_TABLE`: the counter table.
    pub table: String,
    /// `LG_STREAM_QUEUE_ARN`: the stream's own queue; a message whose `eventSourceARN` is another
    /// is never vouched for ([`crate::receipts`]).
    pub queue_arn: String,
    /// `LG_STREAM_QUEUE_URL`: the same queue's URL, where its receipt handles are checked.
    pub queue_url: String,
    /// `LG_STREAM_ACCOUNTS` (comma-separated; default `LG_ACCOUNT_ID`, else the function's own
    /// account) and `LG_STREAM_REGIONS`
    /// (default `AWS_REGION`): the only events judged.
    pub scope: Scope,
    /// `DRY_RUN`: mark findings dry-run all the way down.
    pub dry_run: bool,
    /// The rules in force, with the detector's thresholds and horizons (the same rule set and
    /// overrides as the detector: [`detector_rules`]).
    pub rules: Vec<DetectorRule>,
    /// The rule set's SHA-256, for the start-up log.
    pub rules_digest: String,
    /// The bucket width, seconds ([`BUCKET_SECONDS`]).
    pub bucket_seconds: u64,
    /// The stream's EventBridge rules as rendered from the same rule set
    /// ([`launchguard_core::stream_plan::plan`]; the us-east-1-only ones only when `AWS_REGION` is
    /// us-east-1), each name ending in `LG_STREAM_RULE_SUFFIX` (default none): read back before a
    /// finding vouches for any record ([`crate::rules`]).
    pub stream_rules: Vec<StreamRule>,
    /// `LG_STREAM_EVENT_BUS` (default `default`): the bus of the stream's rules.
    pub event_bus: String,
    /// `LG_HEALTH_TOPIC_ARN`: launchguard's health topic, paged when a stream rule is not as rendered.
    pub health_topic: String,
}

fn list(env: &dyn Env, name: &str, fallback: &str) -> Vec<String> {
    env.get(name)
        .or_else(|| env.get(fallback))
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Config {
    /// Read and validate the configuration; the error names the variable.
    pub fn from_env(env: &dyn Env) -> Result<Self, CoreError> {
        Self::from_env_in(env, None)
    }

    /// [`Config::from_env`], the function's own account (`sts:GetCallerIdentity`) judged when
    /// neither `LG_STREAM_ACCOUNTS` nor `LG_ACCOUNT_ID` is set.
    pub fn from_env_in(env: &dyn Env, own_account: Option<&str>) -> Result<Self, CoreError> {
        let mut accounts = list(env, "LG_STREAM_ACCOUNTS", "LG_ACCOUNT_ID");
        if accounts.is_empty() {
            accounts.extend(own_account.map(str::to_owned));
        }
        if accounts.is_empty() {
            return Err(CoreError::Config {
                name: "LG_STREAM_ACCOUNTS".into(),
                problem: "is not set (nor LG_ACCOUNT_ID): name the account(s) whose events are judged, comma-separated".into(),
            });
        }
        for a in &accounts {
            validate_account_id(a).map_err(|e| CoreError::Config { name: "LG_STREAM_ACCOUNTS".into(), problem: e.to_string() })?;
        }
        let regions = list(env, "LG_STREAM_REGIONS", "AWS_REGION");
        if regions.is_empty() {
            return Err(CoreError::Config {
                name: "LG_STREAM_REGIONS".into(),
                problem: "is not set (nor AWS_REGION): name the region(s) whose events are judged, comma-separated".into(),
            });
        }
        let (set, rules, rules_digest) = detector_rules(env)?;
        // the function's own region decides which rules its stack created (IAM's in us-east-1 only)
        let home = env.get("AWS_REGION").or_else(|| regions.first().cloned()).unwrap_or_default();
        let suffix = env.get("LG_STREAM_RULE_SUFFIX").unwrap_or_default();
        let stream_rules: Vec<StreamRule> = plan(&set)
            .into_iter()
            .filter(|r| !r.us_east_1_only || home == "us-east-1")
            .map(|r| StreamRule { name: format!("{}{suffix}", r.name), ..r })
            .collect();
        let health_topic = config::required(
            env,
            "LG_HEALTH_TOPIC_ARN",
            "the ARN of launchguard's health topic (launchguard-health), paged when a stream rule is not as rendered",
        )?;
        let queue_arn = config::required(env, "LG_STREAM_QUEUE_ARN", "the ARN of the stream's own SQS queue (launchguard-stream-events)")?;
        if !queue_arn.starts_with("arn:") || queue_arn.split(':').nth(2) != Some("sqs") {
            return Err(CoreError::Config {
                name: "LG_STREAM_QUEUE_ARN".into(),
                problem: "is not an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<name>)".into(),
            });
        }
        let queue_url = config::required(env, "LG_STREAM_QUEUE_URL", "the URL of the stream's own SQS queue (launchguard-stream-events)")?;
        Ok(Self {
            dispatcher: config::required(env, "DISPATCHER_LAMBDA_NAME", "the name or ARN of the launchguard-dispatcher function")?,
            table: config::required(env, "LG_STREAM_TABLE", "the DynamoDB table of the stream detector's counters")?,
            queue_arn,
            queue_url,
            scope: Scope { accounts, regions },
            dry_run: config::bool_var(env, "DRY_RUN", false)?,
            rules,
            rules_digest,
            bucket_seconds: BUCKET_SECONDS,
            stream_rules,
            event_bus: env.get("LG_STREAM_EVENT_BUS").unwrap_or_else(|| "default".to_owned()),
            health_topic,
        })
    }

    /// The longest horizon of any rule, ms: how far back an event is judged, and how long an
    /// incident and the store's items last.
    pub fn longest_ms(&self) -> i64 {
        let s = self.rules.iter().flat_map(|r| r.horizons.iter().map(|h| h.window_seconds)).max().unwrap_or(0);
        i64::try_from(s.saturating_add(2 * self.bucket_seconds).saturating_mul(1000)).unwrap_or(i64::MAX / 4)
    }
}
