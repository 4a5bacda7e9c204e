//! The dispatcher's configuration, read once at start-up.

use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::guard::Guard;

use crate::DISPATCHER;
use crate::auth::Seals;
use crate::plan::{InstancePlaybook, Playbook};

/// Configuration, read once.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ACCESS_KEY_HANDLER_LAMBDA_NAME`.
    pub access_key_handler: String,
    /// `IAM_HANDLER_LAMBDA_NAME`.
    pub iam_handler: String,
    /// `EC2_HANDLER_LAMBDA_NAME`: required when `LG_EC2_ACTION` is `stop` or `terminate`; a
    /// release of stopped instances needs it too.
    pub ec2_handler: Option<String>,
    /// `NOTIFICATION_TOPIC_ARN`.
    pub topic_arn: String,
    /// `INCIDENT_LOG_GROUP`.
    pub incident_log_group: String,
    /// `LEDGER_BUCKET`: the S3 bucket of the ledger (keys under `ledger/`).
    pub ledger_bucket: String,
    /// The name to show in "how to undo" (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// Account and protected principals.
    pub guard: Guard,
    /// `DRY_RUN`.
    pub dry_run: bool,
    /// `LG_MAX_CONCURRENCY` (default 8): handler invocations at once.
    pub max_concurrency: usize,
    /// `LG_CLAIM_WAIT_SECONDS` (default 20, at most 40): how long a delivery that finds some of
    /// its actions claimed by another delivery (or a release) waits for them to settle before it
    /// answers with a retryable busy error.
    pub claim_wait: std::time::Duration,
    /// `LG_CONFIRM_WAIT_SECONDS` (default 45, at most 60): how long a delivery waits for
    /// CloudTrail's event history to hold a finding's records ([`crate::confirm`]) before the
    /// principal is notify-only.
    pub confirm_wait: std::time::Duration,
    /// The playbook.
    pub playbook: Playbook,
    /// The detector rules (`LG_RULES`, `LG_RULES_FILE` or the bundled set): a finding of a rule
    /// gets at most the rule's actions ([`Playbook::for_rule`]).
    pub rules: launchguard_core::rules::RuleSet,
    /// The KMS keys that findings and releases must be sealed with, and requests are sealed with.
    pub seals: Seals,
    /// `REPORT_BUCKET` (optional): the bucket incident reports are written to (keys under
    /// `reports/`); none: no report.
    pub report_bucket: Option<String>,
    /// `LG_REPORT_URL_SECONDS` (default 86400, 60 to 604800: S3's 7 days): how long the
    /// notification's link to the report works.
    pub report_url_ttl: std::time::Duration,
}

impl Config {
    /// From the environment and the function's own identity; errors name the variable.
    pub fn from_env(env: &dyn Env, own_account: &str, own_role: &str) -> Result<Self, CoreError> {
        let topic_arn = config::required(env, "NOTIFICATION_TOPIC_ARN", "the SNS topic ARN for notifications")?;
        if !topic_arn.starts_with("arn:") || !topic_arn.contains(":sns:") {
            return Err(CoreError::Config {
                name: "NOTIFICATION_TOPIC_ARN".into(),
                problem: format!("is {topic_arn:?}: expected an SNS topic ARN"),
            });
        }
        let playbook = Playbook::from_env(env)?;
        let ec2_handler = match playbook.instances {
            InstancePlaybook::None => env.get("EC2_HANDLER_LAMBDA_NAME").filter(|v| !v.trim().is_empty()),
            _ => Some(config::required(
                env,
                "EC2_HANDLER_LAMBDA_NAME",
                "the launchguard-ec2-handler function name (LG_EC2_ACTION stops or terminates instances)",
            )?),
        };
        Ok(Self {
            ec2_handler,
            access_key_handler: config::required(env, "ACCESS_KEY_HANDLER_LAMBDA_NAME", "the launchguard-accesskey-handler function name")?,
            iam_handler: config::required(env, "IAM_HANDLER_LAMBDA_NAME", "the launchguard-iam-handler function name")?,
            topic_arn,
            incident_log_group: config::required(env, "INCIDENT_LOG_GROUP", "the CloudWatch Logs group for incident records")?,
            ledger_bucket: config::required(env, "LEDGER_BUCKET", "the S3 bucket of launchguard's ledger (LedgerBucketName of the stack)")?,
            function_name: env.get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| DISPATCHER.to_owned()),
            guard: config::guard(env, own_account, own_role)?,
            dry_run: config::bool_var(env, "DRY_RUN", false)?,
            max_concurrency: usize::try_from(config::u64_var(env, "LG_MAX_CONCURRENCY", 8, 1, 64)?).unwrap_or(8),
            claim_wait: std::time::Duration::from_secs(config::u64_var(env, "LG_CLAIM_WAIT_SECONDS", 20, 0, 40)?),
            confirm_wait: std::time::Duration::from_secs(config::u64_var(env, "LG_CONFIRM_WAIT_SECONDS", 45, 0, 60)?),
            playbook,
            rules: launchguard_core::rules::RuleSet::from_env(env, |path| std::fs::read_to_string(path).map_err(|e| e.to_string()))?,
            seals: Seals::from_env(env)?,
            report_bucket: env.get("REPORT_BUCKET").map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()),
            report_url_ttl: std::time::Duration::from_secs(config::u64_var(env, "LG_REPORT_URL_SECONDS", 86_400, 60, 604_800)?),
        })
    }
}
