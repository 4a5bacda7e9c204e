//! The detector's configuration, read once at start-up.

use std::time::Duration as StdDuration;

use launchguard_core::CoreError;
use launchguard_core::config::{self, Env};
use launchguard_core::gate::{AlarmGate, DEFAULT_MAX_ALARM_AGE_SECONDS, validate_alarm_arn};
use launchguard_core::query::INSIGHTS_MAX_LIMIT;
use launchguard_core::rules::{Rule, RuleSet};
use launchguard_core::threshold::Thresholds;
use launchguard_core::window::WindowPolicy;
use serde::Serialize;

/// How the window is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMethod {
    /// Logs Insights, falling back to FilterLogEvents.
    Insights,
    /// FilterLogEvents only.
    FilterLogEvents,
}

/// The detector's configuration, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CLOUDTRAIL_LOG_GROUP_NAME`: the log group CloudTrail delivers to.
    pub log_group: String,
    /// `DISPATCHER_LAMBDA_NAME`: the responder dispatcher.
    pub dispatcher: String,
    /// `DRY_RUN`: mark findings dry-run all the way down (default false).
    pub dry_run: bool,
    /// `LG_READ_METHOD`: `insights` (default) or `filter_log_events`.
    pub method: ReadMethod,
    /// `LG_QUERY_DEADLINE_SECONDS`: overall time for reading (default 60, at most 90: the
    /// function's timeout is 120 s, and a read cut by the deadline is reported, one cut by Lambda is not).
    pub deadline: StdDuration,
    /// `LG_INSIGHTS_LIMIT`: rows per Insights query before the range is split (default 10000).
    pub insights_limit: u32,
    /// `LG_POLL_INITIAL_MS` (250) and `LG_POLL_MAX_MS` (2000): `GetQueryResults` backoff.
    pub poll_initial: StdDuration,
    /// See `poll_initial`.
    pub poll_max: StdDuration,
    /// `LG_ACCOUNT_ID`: the account findings are about. Default: the account in the function's
    /// ARN, else the alarm's `AWSAccountId`. Set it where neither is right (local emulators).
    pub account_id: Option<String>,
    /// `AWS_REGION`.
    pub region: String,
    /// Window margins and fallback.
    pub window: WindowPolicy,
    /// The rules (`LG_RULES`, `LG_RULES_FILE`, or the bundled set), each with the thresholds it
    /// flags with; an alarm of `ALARM_ARNS` fires exactly one of them.
    pub rules: Vec<DetectorRule>,
    /// Where the rules came from, for messages.
    pub rules_origin: String,
    /// The SHA-256 of the rule set's text ([`launchguard_core::rules::digest`]): the start-up log
    /// names it, as `make deploy ARGS=--dry` does, so the rules that run can be told from others.
    pub rules_digest: String,
    /// `ALARM_ARNS` (required) and `LG_MAX_ALARM_AGE_SECONDS` (3600): the only alarms acted on.
    pub gate: AlarmGate,
}

/// A rule with the thresholds it flags with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorRule {
    /// The rule.
    pub rule: Rule,
    /// Its thresholds: the rule's own, nothing else (the alarms are rendered from the same rule;
    /// `LG_MIN_INSTANCES`, `LG_MIN_FAILED_CALLS` and `LG_EXCLUDE_AWS_SERVICES` are refused);
    /// `LG_CONTAIN_INVOKED_BY_AWS_SERVICE` applies to every rule.
    pub thresholds: Thresholds,
    /// The horizons every read is judged with ([`launchguard_core::windows::judge`]): the rule's,
    /// as the rule set gives them.
    pub horizons: Vec<launchguard_core::windows::Horizon>,
}

fn rule_thresholds(env: &dyn Env, rule: &Rule) -> Result<Thresholds, CoreError> {
    // The alarms that wake this function are rendered from the rule set: a threshold set beside
    // it would judge what no alarm wakes it for, or ignore what one did. Refuse, never override.
    for name in ["LG_MIN_INSTANCES", "LG_MIN_FAILED_CALLS", "LG_EXCLUDE_AWS_SERVICES"] {
        if env.get(name).is_some() {
            return Err(CoreError::Config {
                name: name.into(),
                problem: "is set on the function, but thresholds come from the rule file alone (LG_RULES_FILE at deploy, LG_RULES here), \
                          which the alarms are rendered from: remove it and change the rule's horizons, min_failed_calls or \
                          exclude_aws_services, then deploy"
                    .into(),
            });
        }
    }
    let from_env = config::thresholds(env)?;
    Ok(rule.thresholds(from_env.contain_invoked_by_aws_service))
}

/// The rules in force (`LG_RULES`, `LG_RULES_FILE` or the bundled set), each with the thresholds
/// and horizons it flags with, the deployment's overrides applied; with the set's origin and digest.
/// The detector and the stream detector judge with these, and nothing else.
pub fn detector_rules(env: &dyn Env) -> Result<(RuleSet, Vec<DetectorRule>, String), CoreError> {
    let (text, origin) = RuleSet::source(env, |path| std::fs::read_to_string(path).map_err(|e| e.to_string()))?;
    let set = RuleSet::parse(&text, &origin)?;
    let rules = set
        .rules
        .iter()
        .map(|r| {
            let thresholds = rule_thresholds(env, r)?;
            Ok(DetectorRule { rule: r.clone(), horizons: r.horizons_with(&thresholds), thresholds })
        })
        .collect::<Result<_, CoreError>>()?;
    Ok((set, rules, launchguard_core::rules::digest(&text)))
}

/// The rules, each alarm of `ALARM_ARNS` checked to fire exactly one.
fn rules(env: &dyn Env, alarm_arns: &[String]) -> Result<(Vec<DetectorRule>, String, String), CoreError> {
    let (set, rules, digest) = detector_rules(env)?;
    for arn in alarm_arns {
        let name = crate::schedule::alarm_name(arn).unwrap_or_default();
        if set.for_alarm(name).is_none() {
            return Err(CoreError::Config {
                name: "ALARM_ARNS".into(),
                problem: format!(
                    "names alarm {name:?}, which fires no rule of {} (rules: {}): add it to a rule's \"alarms\"",
                    set.origin,
                    set.ids().join(", ")
                ),
            });
        }
    }
    Ok((rules, set.origin, digest))
}

impl Config {
    /// The rule the alarm of this ARN fires (the alarm CloudWatch confirmed; never what a
    /// notification says about its metric or name).
    pub fn rule_for_alarm(&self, alarm_arn: &str) -> Option<&DetectorRule> {
        let name = crate::schedule::alarm_name(alarm_arn)?;
        self.rules.iter().find(|r| r.rule.fired_by(name))
    }
}

/// `ALARM_ARNS`: a comma-separated list of CloudWatch alarm ARNs, at least one.
fn alarm_arns(env: &dyn Env) -> Result<Vec<String>, CoreError> {
    const NAME: &str = "ALARM_ARNS";
    let v = config::required(
        env,
        NAME,
        "the ARNs of the launchguard alarms, comma-separated, e.g. arn:aws:cloudwatch:us-east-1:111122223333:alarm:launchguard-runinstances",
    )?;
    let arns: Vec<String> = v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
    for a in &arns {
        validate_alarm_arn(a).map_err(|e| CoreError::Config { name: NAME.into(), problem: format!("is invalid: {e}") })?;
    }
    if arns.is_empty() {
        return Err(CoreError::Config { name: NAME.into(), problem: "lists no alarm ARN".into() });
    }
    Ok(arns)
}

impl Config {
    /// Read and validate the configuration; the error names the variable.
    pub fn from_env(env: &dyn Env) -> Result<Self, CoreError> {
        let method = match env.get("LG_READ_METHOD").as_deref().map(str::trim) {
            None | Some("insights") => ReadMethod::Insights,
            Some("filter_log_events") => ReadMethod::FilterLogEvents,
            Some(other) => {
                return Err(CoreError::Config {
                    name: "LG_READ_METHOD".into(),
                    problem: format!("is {other:?}: expected insights or filter_log_events"),
                });
            }
        };
        let account_id = env.get("LG_ACCOUNT_ID");
        if let Some(a) = &account_id {
            launchguard_core::ids::validate_account_id(a)
                .map_err(|e| CoreError::Config { name: "LG_ACCOUNT_ID".into(), problem: e.to_string() })?;
        }
        let ms = |name: &str, d: u64, min: u64, max: u64| config::u64_var(env, name, d, min, max).map(StdDuration::from_millis);
        let cfg = Self {
            log_group: config::required(
                env,
                "CLOUDTRAIL_LOG_GROUP_NAME",
                "the CloudWatch Logs log group your CloudTrail trail delivers to",
            )?,
            dispatcher: config::required(env, "DISPATCHER_LAMBDA_NAME", "the name or ARN of the launchguard-dispatcher function")?,
            dry_run: config::bool_var(env, "DRY_RUN", false)?,
            method,
            deadline: StdDuration::from_secs(config::u64_var(env, "LG_QUERY_DEADLINE_SECONDS", 60, 1, 90)?),
            insights_limit: u32::try_from(config::u64_var(
                env,
                "LG_INSIGHTS_LIMIT",
                u64::from(INSIGHTS_MAX_LIMIT),
                1,
                u64::from(INSIGHTS_MAX_LIMIT),
            )?)
            .unwrap_or(INSIGHTS_MAX_LIMIT),
            poll_initial: ms("LG_POLL_INITIAL_MS", 250, 1, 10_000)?,
            poll_max: ms("LG_POLL_MAX_MS", 2_000, 1, 30_000)?,
            account_id,
            region: env.get("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            window: config::window_policy(env)?,
            rules: Vec::new(),
            rules_origin: String::new(),
            rules_digest: String::new(),
            gate: AlarmGate {
                alarm_arns: alarm_arns(env)?,
                max_age: config::seconds_var(env, "LG_MAX_ALARM_AGE_SECONDS", DEFAULT_MAX_ALARM_AGE_SECONDS, 60, 86_400)?,
            },
        };
        let (rules, rules_origin, rules_digest) = rules(env, &cfg.gate.alarm_arns)?;
        Ok(Self { rules, rules_origin, rules_digest, ..cfg })
    }
}
