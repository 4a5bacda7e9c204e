//! launchguard-detector: from a CloudWatch alarm to an exact finding.
//!
//! It reads the CloudTrail records of the alarm's window (Logs Insights, FilterLogEvents as the
//! fallback), re-checks every record itself, aggregates and thresholds them with
//! `launchguard-core`, and hands a [`Finding`] to the responder dispatcher. It never changes
//! anything in the account.
//!
//! The AWS calls sit behind two small traits, [`LogReader`] and [`Invoker`]; [`aws`] implements
//! them over the SDK, and the tests implement them in memory.

pub mod aws;
pub mod memory;

use std::future::Future;
use std::time::Duration as StdDuration;

use tokio::time::Instant;

use chrono::{DateTime, Utc};
pub use launchguard_aws::{CallError, Invoker};
use launchguard_core::CoreError;
use launchguard_core::alarm::{AlarmNotice, AlarmStateChange, parse_event};
use launchguard_core::config::{self, Env};
use launchguard_core::contract::{Finding, FindingKind, MAX_PAYLOAD_BYTES, ReadSummary, SCHEMA_VERSION, Trigger, finding_id};
use launchguard_core::query::{EventRule, INSIGHTS_MAX_LIMIT};
use launchguard_core::scan::{ScanStats, Scanner};
use launchguard_core::threshold::{Assessment, Thresholds};
use launchguard_core::window::{TimeWindow, WindowPolicy};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use tracing::{info, warn};

/// The AWS actions the detector calls (checked against `policies/` by the tests).
pub const AWS_ACTIONS: &[&str] =
    &["logs:StartQuery", "logs:GetQueryResults", "logs:StopQuery", "logs:FilterLogEvents", "lambda:InvokeFunction", "kms:GenerateMac"];

/// The detector's name in findings.
pub const DETECTOR_NAME: &str = "launchguard-detector/run-instances";

/// Errors of the detector. [`DetectorError::is_retryable`] decides whether Lambda should retry.
#[derive(Debug, Error)]
pub enum DetectorError {
    /// Bad configuration: fix the function's environment.
    #[error(transparent)]
    Config(#[from] CoreError),
    /// Neither Logs Insights nor FilterLogEvents could read the window.
    #[error("could not read CloudTrail records from log group {log_group}: Logs Insights: {insights}; FilterLogEvents: {filter}")]
    Read {
        /// The log group.
        log_group: String,
        /// What Insights said (or "not used").
        insights: String,
        /// What FilterLogEvents said.
        filter: String,
    },
    /// The window was read only in part and nobody crossed a threshold in that part: no
    /// conclusion can be drawn, so Lambda should try again.
    #[error("window read only in part ({0}); nobody over the thresholds in what was read; retrying")]
    Incomplete(String),
    /// The dispatcher could not be invoked.
    #[error("could not invoke the dispatcher {function}: {error}")]
    Invoke {
        /// Function name.
        function: String,
        /// The error.
        error: String,
    },
    /// The account the finding is about is unknown.
    #[error("cannot tell which account this is: the alarm has no AWSAccountId and the function ARN has none; set LG_ACCOUNT_ID")]
    NoAccount,
}

impl DetectorError {
    /// Throttling, 5xx, timeouts and partial reads are worth retrying; configuration is not.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::NoAccount)
    }
}

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
    /// `LG_QUERY_DEADLINE_SECONDS`: overall time for reading (default 60).
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
    /// Thresholds.
    pub thresholds: Thresholds,
    /// The event watched.
    pub rule: EventRule,
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
        Ok(Self {
            log_group: config::required(
                env,
                "CLOUDTRAIL_LOG_GROUP_NAME",
                "the CloudWatch Logs log group your CloudTrail trail delivers to",
            )?,
            dispatcher: config::required(env, "DISPATCHER_LAMBDA_NAME", "the name or ARN of the launchguard-dispatcher function")?,
            dry_run: config::bool_var(env, "DRY_RUN", false)?,
            method,
            deadline: StdDuration::from_secs(config::u64_var(env, "LG_QUERY_DEADLINE_SECONDS", 60, 1, 840)?),
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
            thresholds: config::thresholds(env)?,
            rule: EventRule::run_instances(),
        })
    }
}

/// Status of a Logs Insights query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    /// Still queued or running.
    Running,
    /// Done: the rows are complete.
    Complete,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Timed out on the service side.
    Timeout,
}

/// One poll of `GetQueryResults`.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// Status.
    pub status: QueryStatus,
    /// The `@message` of each row (rows without one are counted apart).
    pub messages: Vec<String>,
    /// Rows that had no `@message` field.
    pub rows_without_message: u64,
}

/// One page of `FilterLogEvents`.
#[derive(Debug, Clone)]
pub struct FilterPage {
    /// The messages.
    pub messages: Vec<String>,
    /// The token for the next page.
    pub next_token: Option<String>,
}

/// Reading CloudWatch Logs.
pub trait LogReader: Send + Sync {
    /// `StartQuery` over `[start_s, end_s]` (epoch seconds, both included); the query id.
    fn start_query(
        &self,
        log_group: &str,
        start_s: i64,
        end_s: i64,
        query: &str,
        limit: u32,
    ) -> impl Future<Output = Result<String, CallError>> + Send;
    /// `GetQueryResults`.
    fn query_results(&self, query_id: &str) -> impl Future<Output = Result<QueryPage, CallError>> + Send;
    /// `StopQuery` (best effort).
    fn stop_query(&self, query_id: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// One `FilterLogEvents` page over `[start_ms, end_ms]`.
    fn filter_page(
        &self,
        log_group: &str,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<FilterPage, CallError>> + Send;
}

/// What reading one window produced.
#[derive(Debug)]
pub struct WindowRead {
    /// The scanner with its aggregate and counters.
    pub scanner: Scanner,
    /// `insights`, `filter_log_events`, or `insights→filter_log_events`.
    pub method: String,
    /// Insights query ids used.
    pub query_ids: Vec<String>,
    /// `None` when read completely; otherwise why not.
    pub incomplete: Option<String>,
}

/// Poll a query until it ends, with exponential backoff under `deadline`.
async fn run_query<R: LogReader>(
    reader: &R,
    cfg: &Config,
    w: &TimeWindow,
    deadline: Instant,
    ids: &mut Vec<String>,
) -> Result<QueryPage, String> {
    let query = cfg.rule.insights_query(cfg.insights_limit);
    // Insights takes whole seconds; round outwards (the client-side check trims back to the window).
    let start_s = w.start_ms().div_euclid(1000);
    let end_s = (w.end_ms() + 999).div_euclid(1000);
    let id = reader
        .start_query(&cfg.log_group, start_s, end_s, &query, cfg.insights_limit)
        .await
        .map_err(|e| format!("StartQuery failed: {e}"))?;
    ids.push(id.clone());
    let mut delay = cfg.poll_initial;
    loop {
        if Instant::now() + delay > deadline {
            let _ = reader.stop_query(&id).await;
            return Err(format!("query {id} still running at the {}s deadline (stopped)", cfg.deadline.as_secs()));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(cfg.poll_max);
        let page = match reader.query_results(&id).await {
            Ok(p) => p,
            Err(e) if e.retryable => continue,
            Err(e) => {
                let _ = reader.stop_query(&id).await;
                return Err(format!("GetQueryResults for {id} failed: {e}"));
            }
        };
        match page.status {
            QueryStatus::Running => continue,
            QueryStatus::Complete => return Ok(page),
            QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout => {
                return Err(format!("query {id} ended with status {:?}", page.status));
            }
        }
    }
}

/// Read a window with Logs Insights, splitting any range whose result hits the row limit.
pub async fn read_with_insights<R: LogReader>(
    reader: &R,
    cfg: &Config,
    window: TimeWindow,
    deadline: Instant,
) -> (Result<Scanner, String>, Vec<String>) {
    let mut scanner = Scanner::new(cfg.rule.clone(), Some(window));
    let mut ids = Vec::new();
    let mut pending = vec![window];
    while let Some(w) = pending.pop() {
        let page = match run_query(reader, cfg, &w, deadline, &mut ids).await {
            Ok(p) => p,
            Err(e) => return (Err(e), ids),
        };
        let rows = page.messages.len() as u64 + page.rows_without_message;
        if rows >= u64::from(cfg.insights_limit) {
            // The limit was reached: rows may be missing. Query both halves instead; the halves
            // overlap by at most a second and records are de-duplicated by eventID.
            match w.split().filter(|_| w.len_ms() >= 2000) {
                Some((a, b)) => {
                    info!(start = %a.start, mid = %a.end, end = %b.end, rows, "insights limit reached; splitting the range");
                    pending.push(b);
                    pending.push(a);
                    continue;
                }
                None => {
                    return (Err(format!("more than {rows} records within one second at {}: Insights cannot list them all", w.start)), ids);
                }
            }
        }
        for m in &page.messages {
            scanner.push_message(m);
        }
        for _ in 0..page.rows_without_message {
            scanner.note_error("Insights row without @message".into());
        }
    }
    (Ok(scanner), ids)
}

/// Read a window with FilterLogEvents, following every `nextToken`.
pub async fn read_with_filter<R: LogReader>(reader: &R, cfg: &Config, window: TimeWindow, deadline: Instant) -> (Scanner, Option<String>) {
    let mut scanner = Scanner::new(cfg.rule.clone(), Some(window));
    let pattern = cfg.rule.filter_pattern();
    let mut token = None;
    let mut pages = 0u64;
    loop {
        if Instant::now() > deadline {
            return (scanner, Some(format!("FilterLogEvents stopped at the deadline after {pages} pages")));
        }
        match reader.filter_page(&cfg.log_group, window.start_ms(), window.end_ms(), &pattern, token.take()).await {
            Ok(page) => {
                pages += 1;
                for m in &page.messages {
                    scanner.push_message(m);
                }
                match page.next_token {
                    Some(t) => token = Some(t),
                    None => return (scanner, None),
                }
            }
            Err(e) => return (scanner, Some(format!("FilterLogEvents failed after {pages} pages: {e}"))),
        }
    }
}

/// Read one window with the configured method and fallback.
pub async fn read_window<R: LogReader>(
    reader: &R,
    cfg: &Config,
    window: TimeWindow,
    deadline: Instant,
) -> Result<WindowRead, DetectorError> {
    let mut insights_error = "not used (LG_READ_METHOD=filter_log_events)".to_owned();
    let mut query_ids = Vec::new();
    if cfg.method == ReadMethod::Insights {
        let (result, ids) = read_with_insights(reader, cfg, window, deadline).await;
        query_ids = ids;
        match result {
            Ok(scanner) => return Ok(WindowRead { scanner, method: "insights".into(), query_ids, incomplete: None }),
            Err(e) => {
                warn!(error = %e, "Logs Insights failed; falling back to FilterLogEvents");
                insights_error = e;
            }
        }
    }
    let method = if cfg.method == ReadMethod::Insights { "insights→filter_log_events" } else { "filter_log_events" };
    let (scanner, incomplete) = read_with_filter(reader, cfg, window, deadline).await;
    if let Some(why) = &incomplete {
        if scanner.stats.rows == 0 {
            return Err(DetectorError::Read { log_group: cfg.log_group.clone(), insights: insights_error, filter: why.clone() });
        }
        warn!(error = %why, rows = scanner.stats.rows, "window read only in part");
    }
    Ok(WindowRead { scanner, method: method.into(), query_ids, incomplete })
}

/// A principal's activity, summarised for the log and the returned report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PrincipalSummary {
    /// Who.
    pub principal: String,
    /// Instances launched.
    pub launched: u64,
    /// Instances requested.
    pub requested: u64,
    /// Calls.
    pub calls: u64,
    /// `flagged`, `excluded` or `below_threshold`.
    pub verdict: &'static str,
}

/// What the detector returns (and logs) for one alarm.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `ignored`, `no_one_flagged` or `dispatched`.
    pub status: &'static str,
    /// Why ignored, when ignored.
    pub ignored: Vec<String>,
    /// The alarm.
    pub alarm: Option<String>,
    /// The window finally read.
    pub window: Option<TimeWindow>,
    /// True when the fallback window was read.
    pub widened: bool,
    /// How it was read.
    pub method: Option<String>,
    /// Insights query ids.
    pub query_ids: Vec<String>,
    /// Counters of the read.
    pub scan: Option<ScanStats>,
    /// Every principal seen with a launch.
    pub principals: Vec<PrincipalSummary>,
    /// The finding sent, if any.
    pub finding_id: Option<String>,
    /// The ids actually sent: the finding's own, or its parts when it had to be split to fit.
    pub finding_parts: Vec<String>,
    /// True when the finding is a dry run.
    pub dry_run: bool,
    /// Whether the window was read completely.
    pub window_complete: Option<bool>,
    /// Milliseconds per step: `read`, `fallback_read`, `assess`, `dispatch`.
    pub timings_ms: Vec<(String, u64)>,
}

impl Report {
    fn ignored(reasons: Vec<String>) -> Self {
        Self {
            status: "ignored",
            ignored: reasons,
            alarm: None,
            window: None,
            widened: false,
            method: None,
            query_ids: Vec::new(),
            scan: None,
            principals: Vec::new(),
            finding_id: None,
            finding_parts: Vec::new(),
            dry_run: false,
            window_complete: None,
            timings_ms: Vec::new(),
        }
    }
}

fn summaries(a: &Assessment) -> Vec<PrincipalSummary> {
    let s = |p: &launchguard_core::principal::Principal, act: &launchguard_core::aggregate::Activity, verdict| PrincipalSummary {
        principal: p.label(),
        launched: act.instances_launched,
        requested: act.instances_requested,
        calls: act.calls,
        verdict,
    };
    a.flagged
        .iter()
        .map(|f| s(&f.principal, &f.activity, "flagged"))
        .chain(a.excluded.iter().map(|f| s(&f.principal, &f.activity, "excluded")))
        .chain(a.below.iter().map(|p| s(&p.principal, &p.activity, "below_threshold")))
        .collect()
}

/// The account of a Lambda function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
pub fn account_from_function_arn(arn: &str) -> Option<String> {
    let acct = arn.split(':').nth(4)?;
    launchguard_core::ids::validate_account_id(acct).ok().map(|()| acct.to_owned())
}

/// Handle one Lambda event: every alarm notice in it.
pub async fn handle<R: LogReader, I: Invoker>(
    event: &Value,
    function_arn: &str,
    cfg: &Config,
    reader: &R,
    invoker: &I,
    now: DateTime<Utc>,
) -> Result<Report, DetectorError> {
    let notices = match parse_event(event) {
        Ok(n) => n,
        Err(e) => {
            warn!(error = %e, "event ignored: not an alarm notification");
            return Ok(Report::ignored(vec![e.to_string()]));
        }
    };
    let mut ignored = Vec::new();
    let mut report = None;
    for n in notices {
        match n {
            AlarmNotice::Ignored(reason) => {
                info!(reason = ?reason, "notice ignored");
                ignored.push(serde_json::to_string(&reason).unwrap_or_default());
            }
            AlarmNotice::Alarm(alarm) => {
                let r = handle_alarm(&alarm, function_arn, cfg, reader, invoker, now).await?;
                report = Some(r);
            }
        }
    }
    Ok(match report {
        Some(mut r) => {
            r.ignored = ignored;
            r
        }
        None => Report::ignored(ignored),
    })
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Handle one alarm in `ALARM`.
pub async fn handle_alarm<R: LogReader, I: Invoker>(
    alarm: &AlarmStateChange,
    function_arn: &str,
    cfg: &Config,
    reader: &R,
    invoker: &I,
    now: DateTime<Utc>,
) -> Result<Report, DetectorError> {
    let started = Instant::now();
    let deadline = started + cfg.deadline;
    // An explicit LG_ACCOUNT_ID wins; then the function's own ARN; then the alarm's account.
    let account_id = cfg
        .account_id
        .clone()
        .or_else(|| account_from_function_arn(function_arn))
        .or_else(|| alarm.account_id.clone().filter(|a| launchguard_core::ids::validate_account_id(a).is_ok()))
        .ok_or(DetectorError::NoAccount)?;
    let mut timings = Vec::new();
    let window = cfg.window.primary(alarm);
    info!(alarm = %alarm.alarm_name, state_change_time = %alarm.state_change_time, period = alarm.period_seconds,
        evaluation_periods = alarm.evaluation_periods, period_provenance = ?alarm.period_provenance,
        window_start = %window.start, window_end = %window.end, "alarm received; reading window");
    let t = Instant::now();
    let mut read = read_window(reader, cfg, window, deadline).await?;
    timings.push(("read".to_owned(), elapsed_ms(t)));
    let mut widened = false;
    let mut final_window = window;
    if read.scanner.stats.matched == 0 && read.incomplete.is_none() {
        let wide = cfg.window.fallback(alarm);
        info!(window_start = %wide.start, window_end = %wide.end, rows = read.scanner.stats.rows,
            "no launch in the alarm window; searching the fallback window once (CloudTrail delivery can be late)");
        let t = Instant::now();
        let mut more = read_window(reader, cfg, wide, deadline).await?;
        timings.push(("fallback_read".to_owned(), elapsed_ms(t)));
        more.query_ids.splice(0..0, read.query_ids.drain(..));
        read = more;
        widened = true;
        final_window = wide;
    }
    let t = Instant::now();
    let stats = read.scanner.stats.clone();
    let conflicts = read.scanner.aggregate.key_conflicts.clone();
    let principals = read.scanner.aggregate.into_sorted();
    let principals_seen = principals.len() as u64;
    let assessment = cfg.thresholds.assess(principals);
    timings.push(("assess".to_owned(), elapsed_ms(t)));
    let summary = summaries(&assessment);
    info!(rows = stats.rows, matched = stats.matched, unparseable = stats.unparseable, principals_seen,
        flagged = assessment.flagged.len(), excluded = assessment.excluded.len(), method = %read.method,
        query_ids = ?read.query_ids, principals = ?summary, "window assessed");
    if stats.unparseable > 0 {
        warn!(unparseable = stats.unparseable, samples = ?stats.error_samples, "some records could not be parsed; they were skipped");
    }
    let mut report = Report {
        status: "no_one_flagged",
        ignored: Vec::new(),
        alarm: Some(alarm.alarm_name.clone()),
        window: Some(final_window),
        widened,
        method: Some(read.method.clone()),
        query_ids: read.query_ids.clone(),
        scan: Some(stats.clone()),
        principals: summary,
        finding_id: None,
        finding_parts: Vec::new(),
        dry_run: cfg.dry_run,
        window_complete: Some(read.incomplete.is_none()),
        timings_ms: timings,
    };
    if assessment.flagged.is_empty() {
        if let Some(why) = read.incomplete {
            return Err(DetectorError::Incomplete(why));
        }
        info!(alarm = %alarm.alarm_name, "nobody over the thresholds; nothing to contain");
        return Ok(report);
    }
    let flagged_principals: Vec<_> = assessment.flagged.iter().map(|f| f.principal.clone()).collect();
    let finding = Finding {
        schema_version: SCHEMA_VERSION,
        kind: FindingKind::Finding,
        finding_id: finding_id(DETECTOR_NAME, &account_id, &final_window, &flagged_principals),
        detector: DETECTOR_NAME.into(),
        account_id,
        region: alarm.region.clone().unwrap_or_else(|| cfg.region.clone()),
        created_at: now,
        trigger: Some(Trigger { name: alarm.alarm_name.clone(), arn: alarm.alarm_arn.clone(), fired_at: alarm.state_change_time }),
        event: format!("{}/{}", cfg.rule.event_source(), cfg.rule.event_name()),
        window: final_window,
        window_complete: read.incomplete.is_none(),
        incomplete_reason: read.incomplete.clone(),
        dry_run: cfg.dry_run,
        principals: assessment.flagged,
        excluded: assessment.excluded,
        read: ReadSummary {
            records_read: stats.rows,
            matching_records: stats.matched,
            unparseable_records: stats.unparseable,
            principals_seen,
            method: read.method,
            widened,
            key_conflicts: conflicts,
        },
    };
    // A finding must fit the asynchronous invocation limit: trim detail lists, split if needed.
    let finding_id = finding.finding_id.clone();
    let flagged = finding.principals.len();
    let parts = finding.into_parts(MAX_PAYLOAD_BYTES);
    let t = Instant::now();
    for part in &parts {
        let payload =
            serde_json::to_vec(part).map_err(|e| DetectorError::Invoke { function: cfg.dispatcher.clone(), error: e.to_string() })?;
        invoker
            .invoke_async(&cfg.dispatcher, payload)
            .await
            .map_err(|e| DetectorError::Invoke { function: cfg.dispatcher.clone(), error: e.message })?;
    }
    report.timings_ms.push(("dispatch".to_owned(), elapsed_ms(t)));
    info!(finding_id = %finding_id, flagged, parts = parts.len(), dry_run = cfg.dry_run,
        window_complete = read.incomplete.is_none(), dispatcher = %cfg.dispatcher, "finding dispatched");
    report.finding_parts = parts.iter().map(|p| p.finding_id.clone()).collect();
    report.status = "dispatched";
    report.finding_id = Some(finding_id);
    Ok(report)
}
