//! From one Lambda event to a finding: the alarm gate, the window, reading, thresholds, and
//! the finding handed to the dispatcher.

use chrono::{DateTime, Utc};
use launchguard_core::alarm::{AlarmDelivery, AlarmNotice, AlarmStateChange, INSTANCES_METRIC, parse_event};
use launchguard_core::contract::{
    Finding, FindingKind, FindingVerdict, FlaggedPrincipal, MAX_PAYLOAD_BYTES, ReadSummary, SCHEMA_VERSION, Trigger, finding_id,
};
use launchguard_core::fit::oversized;
use launchguard_core::gate::AlarmRefusal;
use launchguard_core::rules::EC2_MASS_LAUNCH;
use launchguard_core::threshold::Counted;
use serde_json::Value;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::confirm::confirm;
use crate::read::{WindowRead, read_window};
use crate::report::{Report, ReportStatus, summaries};
use crate::schedule::{AlarmHistory, AlarmStates, is_scheduled_event, recheck};
use crate::{Config, DETECTOR_NAME, DetectorError, Invoker, LogReader};

/// How many of the top launchers a "nobody over threshold" finding carries.
pub const TOP_LAUNCHERS: usize = 5;

/// The account of a Lambda function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
pub fn account_from_function_arn(arn: &str) -> Option<String> {
    let acct = arn.split(':').nth(4)?;
    launchguard_core::ids::validate_account_id(acct).ok().map(|()| acct.to_owned())
}

/// The detector's own account: `LG_ACCOUNT_ID`, else the function ARN's.
fn own_account(cfg: &Config, function_arn: &str) -> Result<String, DetectorError> {
    cfg.account_id.clone().or_else(|| account_from_function_arn(function_arn)).ok_or(DetectorError::NoAccount)
}

/// Handle one Lambda event: every alarm notice in it, or a scheduled re-check.
pub async fn handle<R: LogReader, A: AlarmStates + AlarmHistory, I: Invoker>(
    event: &Value,
    function_arn: &str,
    cfg: &Config,
    reader: &R,
    alarms: &A,
    invoker: &I,
    now: DateTime<Utc>,
) -> Result<Report, DetectorError> {
    if is_scheduled_event(event) {
        return recheck(function_arn, cfg, reader, alarms, invoker, now).await;
    }
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
            AlarmNotice::Alarm(claimed) => {
                let r = match admit(&claimed, function_arn, cfg, alarms, now).await? {
                    Ok(alarm) => handle_alarm(&alarm, function_arn, cfg, reader, invoker, now).await?,
                    Err(refusal) => refuse(&claimed, refusal),
                };
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

/// What was read, against the alarm's datapoint: `None` when it explains the alarm (at least
/// one call, and no datapoint larger than what the alarm's metric counts in what was read: calls
/// for [`launchguard_core::alarm::CALLS_METRIC`], instances requested for [`INSTANCES_METRIC`];
/// calls when the metric is not known, the smaller count: one large benign launch never explains
/// many calls; for a rule that counts calls, calls); otherwise why not, in words, for the page.
fn unexplained(read: &WindowRead, alarm: &AlarmStateChange) -> Option<String> {
    let stats = &read.scanner.stats;
    let principals = read.scanner.aggregate.totals().principals();
    let sum = |f: fn(&launchguard_core::aggregate::Activity) -> u64| principals.iter().map(|p| f(&p.activity)).sum::<u64>();
    let counts_instances = read.scanner.rule().counts() == Counted::Instances;
    let by_instances = counts_instances && alarm.metric_name.as_deref() == Some(INSTANCES_METRIC);
    // a count the metric's filters cannot have added (count fields not as CloudTrail writes
    // them) never explains its datapoint
    let unfiltered = read.scanner.aggregate.totals().unfiltered_requested;
    let found =
        if by_instances { sum(|a| a.instances_requested.max(a.instances_launched)).saturating_sub(unfiltered) } else { stats.matched };
    let datapoint = alarm.max_datapoint();
    // Datapoints are sums of whole calls or instances; compare as whole numbers.
    let short = datapoint.is_some_and(|d| u64::try_from(d.ceil() as i128).is_ok_and(|d| found < d));
    if stats.matched > 0 && !short {
        return None;
    }
    let resizes = sum(|a| a.unknown_prior_resize_calls);
    let resized = if resizes > 0 {
        let shown: Vec<launchguard_core::aggregate::UnknownResize> =
            principals.iter().flat_map(|p| p.activity.unknown_prior_resizes.iter().cloned()).take(5).collect();
        format!("; {}", launchguard_core::burst::unknown_resizes_words(resizes, &shown))
    } else {
        String::new()
    };
    let what = if by_instances { "instances" } else { "calls" };
    let dp = datapoint.map_or_else(|| "unknown".to_owned(), |d| format!("{d}"));
    Some(format!(
        "the alarm's datapoint ({dp} {what}, metric {}) is not explained by what was read: {found} {what} in {} matching record(s) \
         ({} dry run(s), {} failed call(s), {} principal(s)) among {} record(s) read; a dry run or a failed call counted by a metric, \
         or CloudTrail not delivered yet, can cause it, and a resize's metric counts its new size: look at the metric and the \
         log group{resized}",
        alarm.metric_name.as_deref().unwrap_or("unknown"),
        stats.matched,
        sum(|a| a.dry_run_calls),
        sum(|a| a.failed_calls),
        principals.len(),
        stats.rows,
    ))
}

/// The gate, then CloudWatch's own description of the alarm (see [`crate::confirm`]): the
/// alarm to act on, or why not.
async fn admit<A: AlarmStates + AlarmHistory>(
    claimed: &AlarmStateChange,
    function_arn: &str,
    cfg: &Config,
    alarms: &A,
    now: DateTime<Utc>,
) -> Result<Result<AlarmStateChange, AlarmRefusal>, DetectorError> {
    let account_id = own_account(cfg, function_arn)?;
    if let Err(refusal) = cfg.gate.check(claimed, &account_id, now) {
        return Ok(Err(refusal));
    }
    confirm(claimed, cfg, alarms).await
}

fn refuse(alarm: &AlarmStateChange, refusal: AlarmRefusal) -> Report {
    warn!(alarm = %alarm.alarm_name, alarm_arn = ?alarm.alarm_arn, refusal = %refusal, "alarm refused; nothing read, nothing sent");
    Report::refused(&alarm.alarm_name, refusal)
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
    // An explicit LG_ACCOUNT_ID wins; then the function's own ARN. The alarm's claim is checked
    // against it, never used in its place.
    let account_id = own_account(cfg, function_arn)?;
    let refused = |refusal: AlarmRefusal| Ok(refuse(alarm, refusal));
    if let Err(refusal) = cfg.gate.check(alarm, &account_id, now) {
        return refused(refusal);
    }
    // The rule is the one the confirmed alarm's ARN fires (the gate checked it is in ALARM_ARNS).
    let arn = alarm.alarm_arn.clone().unwrap_or_default();
    let Some(rule) = cfg.rule_for_alarm(&arn) else { return refused(AlarmRefusal::NoRule { alarm_arn: arn }) };
    let too_wide = || AlarmRefusal::WindowTooWide {
        period_seconds: u64::from(alarm.period_seconds),
        evaluation_periods: u64::from(alarm.evaluation_periods),
        max_seconds: launchguard_core::gate::MAX_EVALUATED_SECONDS,
    };
    let Some(window) = cfg.window.primary(alarm) else { return refused(too_wide()) };
    let mut timings = Vec::new();
    info!(alarm = %alarm.alarm_name, rule = %rule.rule.id, state_change_time = %alarm.state_change_time, period = alarm.period_seconds,
        evaluation_periods = alarm.evaluation_periods, period_provenance = ?alarm.period_provenance, datapoint = ?alarm.max_datapoint(),
        window_start = %window.start, window_end = %window.end, "alarm received; reading window");
    let t = Instant::now();
    let mut read = read_window(reader, cfg, &rule.rule.event, window, deadline).await?;
    timings.push(("read".to_owned(), elapsed_ms(t)));
    let mut widened = false;
    let mut final_window = window;
    // The wider search is for CloudTrail delivered late around the alarm's change of state; a
    // scheduled re-check looks at the last periods of an alarm that stays in ALARM, and only those.
    // Either read is judged by the rule's sliding horizons, never by its totals: reading wider
    // never widens a threshold's window.
    read.scanner.aggregate.finish();
    if read.incomplete.is_none() && alarm.delivery != AlarmDelivery::Scheduled && unexplained(&read, alarm).is_some() {
        let Some(wide) = cfg.window.fallback(alarm) else { return refused(too_wide()) };
        info!(window_start = %wide.start, window_end = %wide.end, rows = read.scanner.stats.rows, matched = read.scanner.stats.matched,
            datapoint = ?alarm.max_datapoint(),
            "the alarm window does not explain the alarm; searching the fallback window once (CloudTrail delivery can be late)");
        let t = Instant::now();
        let mut more = read_window(reader, cfg, &rule.rule.event, wide, deadline).await?;
        timings.push(("fallback_read".to_owned(), elapsed_ms(t)));
        more.query_ids.splice(0..0, read.query_ids.drain(..));
        read = more;
        widened = true;
        final_window = wide;
    }
    let t = Instant::now();
    // the read is closed: held records counted, resizes weighed against the sizes it showed
    read.scanner.aggregate.finish();
    let stats = read.scanner.stats.clone();
    // A transient cut (deadline, failed page) is worth a retry; unreadable records are not,
    // but they make the read incomplete all the same, and the finding says so.
    let unreadable = read.scanner.incompleteness();
    let incomplete = match (read.incomplete.clone(), unreadable.clone()) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    let unexplained = unexplained(&read, alarm);
    if let Some(why) = &unexplained {
        warn!(reason = %why, "the alarm is not explained by what was read; a person is paged with it");
    }
    let conflicts = read.scanner.aggregate.totals().key_conflicts.clone();
    let principals_seen = read.scanner.aggregate.totals().principals().len() as u64;
    let assessment = read.scanner.aggregate.assess(&rule.horizons, &rule.thresholds);
    timings.push(("assess".to_owned(), elapsed_ms(t)));
    let summary = summaries(&assessment);
    info!(rows = stats.rows, matched = stats.matched, unparseable = stats.unparseable, principals_seen,
        flagged = assessment.flagged.len(), excluded = assessment.excluded.len(), method = %read.method,
        query_ids = ?read.query_ids, principals = ?summary, "window assessed");
    if let Some(why) = &unreadable {
        warn!(unparseable = stats.unparseable, without_time = stats.without_time, uncounted = stats.uncounted, samples = ?stats.error_samples,
            reason = %why, "the read is incomplete");
    }
    let mut report = Report {
        status: ReportStatus::NoOneFlagged,
        alarm: Some(alarm.alarm_name.clone()),
        window: Some(final_window),
        widened,
        method: Some(read.method.clone()),
        query_ids: read.query_ids.clone(),
        scan: Some(stats.clone()),
        principals: summary,
        dry_run: cfg.dry_run,
        window_complete: Some(incomplete.is_none()),
        timings_ms: timings,
        ..Report::ignored(Vec::new())
    };
    let verdict = if assessment.flagged.is_empty() {
        if let Some(why) = read.incomplete {
            return Err(DetectorError::Incomplete(why));
        }
        info!(alarm = %alarm.alarm_name, "nobody over the thresholds; telling a person, changing nothing");
        FindingVerdict::NobodyOverThreshold
    } else {
        FindingVerdict::Contain
    };
    // The top launchers, whatever their verdict: who a person should look at first.
    let mut top: Vec<FlaggedPrincipal> = Vec::new();
    if verdict == FindingVerdict::NobodyOverThreshold {
        top = assessment
            .below
            .iter()
            .map(|p| FlaggedPrincipal {
                principal: p.principal.clone(),
                activity: p.activity.clone(),
                reasons: vec!["below every threshold".into()],
                crossed: None,
                evidence: None,
                principal_id: None,
                delivered_by_aws: Vec::new(),
            })
            .chain(assessment.excluded.iter().cloned())
            .collect();
        top.sort_by(|a, b| {
            (b.activity.instances_launched.max(b.activity.instances_requested), b.activity.calls)
                .cmp(&(a.activity.instances_launched.max(a.activity.instances_requested), a.activity.calls))
        });
        top.truncate(TOP_LAUNCHERS);
    }
    let flagged_principals: Vec<_> = assessment.flagged.iter().map(|f| f.principal.clone()).collect();
    let detector = detector_name(&rule.rule.id);
    let finding = Finding {
        schema_version: SCHEMA_VERSION,
        kind: FindingKind::Finding,
        finding_id: finding_id(&detector, &account_id, &final_window, &flagged_principals),
        detector,
        rule: rule.rule.id.clone(),
        account_id,
        region: alarm.region.clone().unwrap_or_else(|| cfg.region.clone()),
        created_at: now,
        trigger: Some(Trigger { name: alarm.alarm_name.clone(), arn: alarm.alarm_arn.clone(), fired_at: alarm.state_change_time }),
        event: rule.rule.event.label(),
        window: final_window,
        window_complete: incomplete.is_none(),
        incomplete_reason: incomplete.clone(),
        dry_run: cfg.dry_run,
        verdict,
        principals: assessment.flagged,
        excluded: assessment.excluded,
        top_launchers: top,
        read: ReadSummary {
            records_read: stats.rows,
            matching_records: stats.matched,
            unparseable_records: stats.unparseable,
            principals_seen,
            method: read.method,
            widened,
            key_conflicts: conflicts,
            key_conflicts_total: None,
            unexplained,
        },
    };
    // A finding must fit the asynchronous invocation limit: trim detail lists, split if needed.
    let finding_id = finding.finding_id.clone();
    let flagged = finding.principals.len();
    let parts = finding.into_parts(MAX_PAYLOAD_BYTES);
    let t = Instant::now();
    send_parts(&finding_id, &parts, cfg, invoker).await?;
    report.timings_ms.push(("dispatch".to_owned(), elapsed_ms(t)));
    info!(finding_id = %finding_id, flagged, parts = parts.len(), dry_run = cfg.dry_run, verdict = ?verdict,
        window_complete = incomplete.is_none(), dispatcher = %cfg.dispatcher, "finding dispatched");
    report.finding_parts = parts.iter().map(|p| p.finding_id.clone()).collect();
    if verdict == FindingVerdict::Contain {
        report.status = ReportStatus::Dispatched;
    }
    report.finding_id = Some(finding_id);
    Ok(report)
}

/// The detector's name in a finding of this rule: [`DETECTOR_NAME`] for `ec2-mass-launch` (so its
/// finding ids are those it always had), `launchguard-detector/<rule>` for the others.
pub fn detector_name(rule_id: &str) -> String {
    if rule_id == EC2_MASS_LAUNCH { DETECTOR_NAME.to_owned() } else { format!("launchguard-detector/{rule_id}") }
}

/// Send every part of a finding that fits the asynchronous invocation limit once sealed. A part
/// still over it (one principal alone too large, even cut) is not sent: Lambda would refuse it.
/// It is logged and returned as [`DetectorError::PartsTooLarge`], after every other part was sent.
pub async fn send_parts<I: Invoker>(finding_id: &str, parts: &[Finding], cfg: &Config, invoker: &I) -> Result<(), DetectorError> {
    send_to(finding_id, parts, &cfg.dispatcher, invoker).await
}

/// [`send_parts`] to the dispatcher `dispatcher`: what the stream detector sends its findings with.
pub async fn send_to<I: Invoker>(finding_id: &str, parts: &[Finding], dispatcher: &str, invoker: &I) -> Result<(), DetectorError> {
    let over = oversized(parts, MAX_PAYLOAD_BYTES);
    for part in parts.iter().filter(|p| !over.iter().any(|(id, _)| *id == p.finding_id)) {
        let payload =
            serde_json::to_vec(part).map_err(|e| DetectorError::Invoke { function: dispatcher.to_owned(), error: e.to_string() })?;
        invoker
            .invoke_async(dispatcher, payload)
            .await
            .map_err(|e| DetectorError::Invoke { function: dispatcher.to_owned(), error: e.message })?;
    }
    if over.is_empty() {
        return Ok(());
    }
    let principals: Vec<String> = parts
        .iter()
        .filter(|p| over.iter().any(|(id, _)| *id == p.finding_id))
        .flat_map(|p| p.principals.iter().map(|f| launchguard_core::error::cut(&f.principal.key(), 256)))
        .collect();
    error!(finding_id = %finding_id, parts = ?over, principals = ?principals, limit = MAX_PAYLOAD_BYTES,
        "finding part(s) too large to send even with every list cut: NOT sent, these principals are NOT contained; look at them now");
    Err(DetectorError::PartsTooLarge { finding_id: finding_id.to_owned(), parts: over, limit: MAX_PAYLOAD_BYTES })
}
