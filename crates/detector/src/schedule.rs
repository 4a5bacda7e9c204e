//! The scheduled re-check: CloudWatch notifies on state changes only, so a burst that goes on
//! while the alarm stays in `ALARM` would never be looked at again. An EventBridge rule invokes
//! the detector every few minutes; the detector then asks CloudWatch (`DescribeAlarms`) for the
//! state of its configured alarms, never trusting the event, and treats each alarm in `ALARM`
//! like an alarm whose state changed now. An alarm in `OK` costs one API call and nothing else.

use std::future::Future;

use chrono::{DateTime, Utc};
use launchguard_core::alarm::{AlarmDelivery, AlarmState, AlarmStateChange, Provenance};
use launchguard_core::principal::arn_account;
use serde_json::Value;
use tracing::info;

use crate::detect::handle_alarm;
use crate::report::Report;
use crate::{CallError, Config, DetectorError, Invoker, LogReader};

/// One alarm as `DescribeAlarms` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDescription {
    /// `AlarmArn`.
    pub arn: String,
    /// `AlarmName`.
    pub name: String,
    /// `StateValue`.
    pub state: AlarmState,
    /// `StateReason`.
    pub reason: Option<String>,
    /// `Period`, or the largest `MetricStat.Period` of a metric-math alarm.
    pub period_seconds: Option<u32>,
    /// `EvaluationPeriods`.
    pub evaluation_periods: Option<u32>,
    /// True for a metric-math alarm.
    pub metric_math: bool,
    /// `MetricName` (the first metric's, for a metric-math alarm).
    pub metric_name: Option<String>,
    /// `StateUpdatedTimestamp`: the alarm's last update (a state change, or only its evaluation state).
    pub state_updated: Option<DateTime<Utc>>,
    /// `StateTransitionedTimestamp`: the alarm's last change of state.
    pub state_transitioned: Option<DateTime<Utc>>,
}

impl AlarmDescription {
    /// The alarm as CloudWatch describes it, seen as a state change to `ALARM` at
    /// `state_change_time`. Everything comes from CloudWatch; no reason and no datapoints: the
    /// caller that knows CloudWatch's reason for that very change adds them (`confirm`).
    pub fn as_state_change(&self, state_change_time: DateTime<Utc>, delivery: AlarmDelivery) -> AlarmStateChange {
        AlarmStateChange {
            alarm_name: self.name.clone(),
            account_id: arn_account(&self.arn).map(str::to_owned),
            region: self.arn.split(':').nth(3).filter(|r| !r.is_empty()).map(str::to_owned),
            alarm_arn: Some(self.arn.clone()),
            new_state: AlarmState::Alarm,
            old_state: None,
            datapoints: Vec::new(),
            reason: None,
            state_change_time,
            period_seconds: self.period_seconds.unwrap_or(launchguard_core::alarm::ASSUMED_PERIOD_SECONDS),
            period_provenance: if self.period_seconds.is_some() { Provenance::Declared } else { Provenance::Assumed },
            evaluation_periods: self.evaluation_periods.unwrap_or(launchguard_core::alarm::ASSUMED_EVALUATION_PERIODS),
            evaluation_periods_provenance: if self.evaluation_periods.is_some() { Provenance::Declared } else { Provenance::Assumed },
            metric_math: self.metric_math,
            metric_name: self.metric_name.clone(),
            delivery,
        }
    }
}

/// Reading alarm states from CloudWatch.
pub trait AlarmStates: Send + Sync {
    /// `DescribeAlarms` for these alarm names.
    fn describe_alarms(&self, names: &[String]) -> impl Future<Output = Result<Vec<AlarmDescription>, CallError>> + Send;
}

/// One change of an alarm's state, as CloudWatch's history records it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    /// When it changed (`Timestamp` of the history item).
    pub at: DateTime<Utc>,
    /// The state it changed to (`newState.stateValue`).
    pub state: AlarmState,
    /// Why (`newState.stateReason`), with the datapoints.
    pub reason: Option<String>,
}

/// Reading an alarm's history from CloudWatch.
pub trait AlarmHistory: Send + Sync {
    /// `DescribeAlarmHistory` (`StateUpdate` items) of the alarm `name` between `from` and `to`.
    fn state_changes(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AlarmChange>, CallError>> + Send;
}

/// True for an EventBridge scheduled event (`source: aws.events`, `detail-type: Scheduled Event`).
/// Nothing else in it is used: the alarm states come from CloudWatch.
pub fn is_scheduled_event(v: &Value) -> bool {
    v.get("source").and_then(Value::as_str) == Some("aws.events") && v.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// The name in an alarm ARN (`arn:…:cloudwatch:<region>:<account>:alarm:<name>`).
pub(crate) fn alarm_name(arn: &str) -> Option<&str> {
    arn.split_once(":alarm:").map(|(_, n)| n).filter(|n| !n.is_empty())
}

/// Look again at every configured alarm still in `ALARM`.
pub async fn recheck<R: LogReader, A: AlarmStates, I: Invoker>(
    function_arn: &str,
    cfg: &Config,
    reader: &R,
    alarms: &A,
    invoker: &I,
    now: DateTime<Utc>,
) -> Result<Report, DetectorError> {
    let names: Vec<String> = cfg.gate.alarm_arns.iter().filter_map(|a| alarm_name(a)).map(str::to_owned).collect();
    let described =
        alarms.describe_alarms(&names).await.map_err(|e| DetectorError::DescribeAlarms { alarms: names.join(", "), error: e.message })?;
    let mut ignored = Vec::new();
    let mut last = None;
    for d in described {
        // DescribeAlarms answers by name: keep only the alarms whose ARN is configured.
        if !cfg.gate.alarm_arns.contains(&d.arn) {
            continue;
        }
        if d.state != AlarmState::Alarm {
            info!(alarm = %d.name, state = d.state.as_str(), "scheduled re-check: alarm not in ALARM; nothing to do");
            ignored.push(format!("scheduled re-check: alarm {} is {}", d.name, d.state.as_str()));
            continue;
        }
        let alarm = d.as_state_change(now, AlarmDelivery::Scheduled);
        info!(alarm = %d.name, "scheduled re-check: alarm still in ALARM; looking at the last periods again");
        last = Some(handle_alarm(&alarm, function_arn, cfg, reader, invoker, now).await?);
    }
    Ok(match last {
        Some(mut r) => {
            r.ignored = ignored;
            r
        }
        None => Report::ignored(ignored),
    })
}
