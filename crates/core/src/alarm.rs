//! CloudWatch alarm state changes, as delivered to the detector.
//!
//! Two deliveries exist:
//! - **SNS**: a Lambda SNS event (`Records[].Sns.Message`) whose message is the alarm JSON
//!   (`AlarmName`, `NewStateValue`, `StateChangeTime`, `Trigger.Period`, ...). The envelope is
//!   read with `aws_lambda_events::sns::SnsEvent`; the message with a tolerant model of our own,
//!   because real messages carry a `null` `AlarmDescription`, no `AlarmArn`, or a metric-math
//!   `Trigger.Metrics` list that the library type does not accept.
//! - **Alarm action / EventBridge**: `{"source":"aws.cloudwatch","alarmData":{...}}`, or an
//!   EventBridge "CloudWatch Alarm State Change" event with the same data under `detail`.
//!
//! A message that is not an alarm, or an alarm not in `ALARM`, is a typed [`AlarmNotice::Ignored`],
//! never a panic and never an error that would make Lambda retry it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CoreError, excerpt};
use crate::time::parse_timestamp;

/// Period assumed when the alarm does not say (composite alarms, truncated payloads).
pub const ASSUMED_PERIOD_SECONDS: u32 = 300;
/// Evaluation periods assumed when the alarm does not say (alarm-action payloads).
pub const ASSUMED_EVALUATION_PERIODS: u32 = 1;

/// The state of an alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// `OK`
    Ok,
    /// `ALARM`
    Alarm,
    /// `INSUFFICIENT_DATA`
    InsufficientData,
}

impl AlarmState {
    /// The state as CloudWatch writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// A state as CloudWatch writes it (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "OK" => Some(Self::Ok),
            "ALARM" => Some(Self::Alarm),
            "INSUFFICIENT_DATA" => Some(Self::InsufficientData),
            _ => None,
        }
    }
}

/// Where a number that shapes the window came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Stated by the alarm itself (`Trigger.Period`, `metricStat.period`, `EvaluationPeriods`).
    Declared,
    /// Worked out from other alarm data (e.g. the count of `evaluatedDatapoints`).
    Derived,
    /// Not in the payload: a documented default was used.
    Assumed,
}

/// How the alarm reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmDelivery {
    /// Through an SNS topic (`Records[].Sns.Message`).
    Sns,
    /// As a direct alarm action or an EventBridge event (`alarmData` / `detail`).
    AlarmAction,
    /// Built by the detector's scheduled re-check from `DescribeAlarms` (state change time = now).
    Scheduled,
}

/// One alarm state change with everything the window needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmStateChange {
    /// Alarm name.
    pub alarm_name: String,
    /// Alarm ARN, when the payload has it.
    pub alarm_arn: Option<String>,
    /// Account id from the payload (`AWSAccountId` / `accountId`), when present.
    pub account_id: Option<String>,
    /// Region code, from the alarm ARN or the payload's `region` (never the display name).
    pub region: Option<String>,
    /// The new state.
    pub new_state: AlarmState,
    /// The previous state, when known.
    pub old_state: Option<AlarmState>,
    /// The reason CloudWatch gave for the new state.
    pub reason: Option<String>,
    /// The datapoint values that crossed the threshold, from `NewStateReason` or
    /// `reasonData.evaluatedDatapoints[].value` (empty when the payload has none).
    #[serde(default)]
    pub datapoints: Vec<f64>,
    /// When the state changed.
    pub state_change_time: DateTime<Utc>,
    /// Metric period in seconds.
    pub period_seconds: u32,
    /// Where `period_seconds` came from.
    pub period_provenance: Provenance,
    /// Number of periods evaluated.
    pub evaluation_periods: u32,
    /// Where `evaluation_periods` came from.
    pub evaluation_periods_provenance: Provenance,
    /// True when the alarm is a metric-math alarm (`Metrics` list).
    pub metric_math: bool,
    /// The metric the alarm watches (`Trigger.MetricName`), when known: says whether a
    /// datapoint counts calls ([`CALLS_METRIC`]) or instances ([`INSTANCES_METRIC`]).
    #[serde(default)]
    pub metric_name: Option<String>,
    /// How it was delivered.
    pub delivery: AlarmDelivery,
}

/// The metric of `deploy/base.template.json`'s calls alarm: one per `RunInstances` record.
pub const CALLS_METRIC: &str = "RunInstancesCalls";
/// The metric of its instances alarm: `maxCount` of the first launch specification per record.
pub const INSTANCES_METRIC: &str = "RunInstancesInstancesRequested";

impl AlarmStateChange {
    /// The largest datapoint value, when the payload gave any.
    pub fn max_datapoint(&self) -> Option<f64> {
        self.datapoints.iter().copied().fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
    }
}

/// At most this many datapoints are read from one reason.
pub const MAX_DATAPOINTS: usize = 100;

/// The datapoint values in a `NewStateReason` such as `Threshold Crossed: 1 datapoint
/// [12.0 (22/11/26 05:31:00)] was greater than or equal to the threshold (10.0).`: the numbers
/// that start each entry of the first bracketed list. Anything unreadable is skipped; only
/// finite, non-negative values are kept.
pub fn datapoints_from_reason(reason: &str) -> Vec<f64> {
    let Some((_, rest)) = reason.split_once('[') else { return Vec::new() };
    let Some((list, _)) = rest.split_once(']') else { return Vec::new() };
    list.split("),")
        .filter_map(|entry| entry.split_whitespace().next())
        .filter_map(|n| n.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .take(MAX_DATAPOINTS)
        .collect()
}

fn datapoints_from_reason_data(reason_data: &Value) -> Vec<f64> {
    reason_data
        .get("evaluatedDatapoints")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.get("value").and_then(Value::as_f64))
                .filter(|v| v.is_finite() && *v >= 0.0)
                .take(MAX_DATAPOINTS)
                .collect()
        })
        .unwrap_or_default()
}

/// Why an input was ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum IgnoreReason {
    /// An alarm, but not in `ALARM` (OK, INSUFFICIENT_DATA).
    NotInAlarmState {
        /// The alarm.
        alarm_name: String,
        /// Its new state as written.
        state: String,
    },
    /// A message that is not a CloudWatch alarm state change.
    NotAnAlarm {
        /// What was found instead.
        detail: String,
    },
}

/// What one delivered message turned out to be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlarmNotice {
    /// An alarm in `ALARM`: the detector must look.
    Alarm(AlarmStateChange),
    /// Anything else: log it and return success.
    Ignored(IgnoreReason),
}

/// Parse raw bytes (the Lambda payload) into notices. Non-UTF-8 or non-JSON input is an error.
pub fn parse_event_bytes(bytes: &[u8]) -> Result<Vec<AlarmNotice>, CoreError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| CoreError::UnrecognisedEvent(format!("not JSON: {e}")))?;
    parse_event(&v)
}

/// Parse an already-decoded Lambda payload into one notice per delivered message.
///
/// Errors only when the payload is neither an SNS event nor an alarm-action/EventBridge event;
/// every message inside a recognised envelope yields a notice.
pub fn parse_event(v: &Value) -> Result<Vec<AlarmNotice>, CoreError> {
    if v.get("Records").is_some() {
        let ev: aws_lambda_events::event::sns::SnsEvent =
            serde_json::from_value(v.clone()).map_err(|e| CoreError::UnrecognisedEvent(format!("SNS event envelope: {e}")))?;
        if ev.records.is_empty() {
            return Err(CoreError::UnrecognisedEvent("SNS event has no Records".into()));
        }
        return Ok(ev.records.iter().map(|r| parse_sns_message(&r.sns.message)).collect());
    }
    if v.get("alarmData").is_some() || v.get("source").and_then(Value::as_str) == Some("aws.cloudwatch") {
        return Ok(vec![notice_from(parse_alarm_action(v))]);
    }
    Err(CoreError::UnrecognisedEvent(format!("expected `Records` (SNS) or `alarmData` (alarm action); top-level keys: {}", top_keys(v))))
}

fn top_keys(v: &Value) -> String {
    match v.as_object() {
        Some(m) => excerpt(&m.keys().cloned().collect::<Vec<_>>().join(", ")),
        None => format!("not an object ({})", json_kind(v)),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn notice_from(r: Result<AlarmStateChange, IgnoreReason>) -> AlarmNotice {
    match r {
        Ok(a) if a.new_state == AlarmState::Alarm => AlarmNotice::Alarm(a),
        Ok(a) => AlarmNotice::Ignored(IgnoreReason::NotInAlarmState { state: a.new_state.as_str().to_owned(), alarm_name: a.alarm_name }),
        Err(r) => AlarmNotice::Ignored(r),
    }
}

/// Parse the text of one SNS message.
pub fn parse_sns_message(message: &str) -> AlarmNotice {
    let not_alarm = |detail: String| AlarmNotice::Ignored(IgnoreReason::NotAnAlarm { detail });
    let v: Value = match serde_json::from_str(message) {
        Ok(v) => v,
        Err(e) => return not_alarm(format!("SNS message is not JSON ({e}): {}", excerpt(message))),
    };
    // An alarm action can also be relayed through SNS by hand; accept it there too.
    if v.get("alarmData").is_some() {
        return notice_from(parse_alarm_action(&v));
    }
    notice_from(parse_sns_alarm(&v))
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn u32_field(v: &Value, k: &str) -> Option<u32> {
    v.get(k).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0)
}

fn malformed(alarm: &str, what: String) -> IgnoreReason {
    IgnoreReason::NotAnAlarm { detail: format!("alarm {alarm:?} is malformed: {what}") }
}

fn region_from_arn(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    let (_, _, _, region) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let region = region.trim();
    (!region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')).then(|| region.to_owned())
}

fn parse_state(alarm: &str, s: Option<&str>, field: &str) -> Result<AlarmState, IgnoreReason> {
    let s = s.ok_or_else(|| malformed(alarm, format!("{field} is missing")))?;
    AlarmState::parse(s).ok_or_else(|| malformed(alarm, format!("{field} {:?} is not OK, ALARM or INSUFFICIENT_DATA", excerpt(s))))
}

fn parse_sns_alarm(v: &Value) -> Result<AlarmStateChange, IgnoreReason> {
    let Some(name) = str_field(v, "AlarmName") else {
        return Err(IgnoreReason::NotAnAlarm { detail: format!("SNS message has no AlarmName; keys: {}", top_keys(v)) });
    };
    let new_state = parse_state(name, str_field(v, "NewStateValue"), "NewStateValue")?;
    let old_state = str_field(v, "OldStateValue").and_then(AlarmState::parse);
    let time_s = str_field(v, "StateChangeTime").ok_or_else(|| malformed(name, "StateChangeTime is missing".into()))?;
    let state_change_time = parse_timestamp(time_s).map_err(|e| malformed(name, format!("StateChangeTime: {e}")))?;
    let trigger = v.get("Trigger").unwrap_or(&Value::Null);
    let metrics = trigger.get("Metrics").and_then(Value::as_array);
    let (period, period_provenance) = match u32_field(trigger, "Period") {
        Some(p) => (p, Provenance::Declared),
        None => match metrics.and_then(|m| max_metric_period(m, "MetricStat", "Period")) {
            Some(p) => (p, Provenance::Derived),
            None => (ASSUMED_PERIOD_SECONDS, Provenance::Assumed),
        },
    };
    let (evaluation_periods, evaluation_periods_provenance) = match u32_field(trigger, "EvaluationPeriods") {
        Some(n) => (n, Provenance::Declared),
        None => (ASSUMED_EVALUATION_PERIODS, Provenance::Assumed),
    };
    let alarm_arn = str_field(v, "AlarmArn").map(str::to_owned);
    Ok(AlarmStateChange {
        alarm_name: name.to_owned(),
        region: alarm_arn.as_deref().and_then(region_from_arn),
        alarm_arn,
        account_id: str_field(v, "AWSAccountId").map(str::to_owned),
        new_state,
        old_state,
        reason: str_field(v, "NewStateReason").map(str::to_owned),
        datapoints: str_field(v, "NewStateReason").map(datapoints_from_reason).unwrap_or_default(),
        state_change_time,
        period_seconds: period,
        period_provenance,
        evaluation_periods,
        evaluation_periods_provenance,
        metric_math: metrics.is_some(),
        metric_name: str_field(trigger, "MetricName").map(str::to_owned),
        delivery: AlarmDelivery::Sns,
    })
}

fn max_metric_period(metrics: &[Value], stat_key: &str, period_key: &str) -> Option<u32> {
    metrics.iter().filter_map(|m| m.get(stat_key).and_then(|s| u32_field(s, period_key))).max()
}

fn parse_alarm_action(v: &Value) -> Result<AlarmStateChange, IgnoreReason> {
    // EventBridge puts the alarm data under `detail`; the Lambda alarm action under `alarmData`.
    let data = v
        .get("alarmData")
        .or_else(|| v.get("detail"))
        .ok_or_else(|| IgnoreReason::NotAnAlarm { detail: "aws.cloudwatch event without alarmData or detail".into() })?;
    let name = str_field(data, "alarmName")
        .ok_or_else(|| IgnoreReason::NotAnAlarm { detail: format!("alarmData has no alarmName; keys: {}", top_keys(data)) })?;
    let state = data.get("state").unwrap_or(&Value::Null);
    let new_state = parse_state(name, str_field(state, "value"), "alarmData.state.value")?;
    let old_state = data.get("previousState").and_then(|p| str_field(p, "value")).and_then(AlarmState::parse);
    let time_s = str_field(state, "timestamp")
        .or_else(|| str_field(v, "time"))
        .ok_or_else(|| malformed(name, "alarmData.state.timestamp is missing".into()))?;
    let state_change_time = parse_timestamp(time_s).map_err(|e| malformed(name, format!("alarmData.state.timestamp: {e}")))?;
    let metrics = data.get("configuration").and_then(|c| c.get("metrics")).and_then(Value::as_array);
    // reasonData is a JSON document inside a string; it holds the evaluated datapoints.
    let reason_data: Option<Value> = str_field(state, "reasonData").and_then(|s| serde_json::from_str(s).ok());
    let (period, period_provenance) = match metrics.and_then(|m| max_metric_period(m, "metricStat", "period")) {
        Some(p) => (p, Provenance::Declared),
        None => match reason_data.as_ref().and_then(|r| u32_field(r, "period")) {
            Some(p) => (p, Provenance::Derived),
            None => (ASSUMED_PERIOD_SECONDS, Provenance::Assumed),
        },
    };
    let evaluated = reason_data
        .as_ref()
        .and_then(|r| r.get("evaluatedDatapoints"))
        .and_then(Value::as_array)
        .map(Vec::len)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0);
    let (evaluation_periods, evaluation_periods_provenance) = match evaluated {
        Some(n) => (n, Provenance::Derived),
        None => (ASSUMED_EVALUATION_PERIODS, Provenance::Assumed),
    };
    let alarm_arn = str_field(v, "alarmArn")
        .map(str::to_owned)
        .or_else(|| v.get("resources").and_then(Value::as_array).and_then(|r| r.first()).and_then(Value::as_str).map(str::to_owned));
    let region = str_field(v, "region").map(str::to_owned).or_else(|| alarm_arn.as_deref().and_then(region_from_arn));
    Ok(AlarmStateChange {
        alarm_name: name.to_owned(),
        alarm_arn,
        account_id: str_field(v, "accountId").or_else(|| str_field(v, "account")).map(str::to_owned),
        region,
        new_state,
        old_state,
        reason: str_field(state, "reason").map(str::to_owned),
        datapoints: match reason_data.as_ref().map(datapoints_from_reason_data) {
            Some(d) if !d.is_empty() => d,
            _ => str_field(state, "reason").map(datapoints_from_reason).unwrap_or_default(),
        },
        state_change_time,
        period_seconds: period,
        period_provenance,
        evaluation_periods,
        evaluation_periods_provenance,
        metric_math: metrics.is_some_and(|m| m.iter().any(|x| x.get("expression").is_some())),
        metric_name: metrics
            .and_then(|m| m.first())
            .and_then(|m| m.get("metricStat"))
            .and_then(|s| s.get("metric"))
            .and_then(|m| str_field(m, "name"))
            .map(str::to_owned),
        delivery: AlarmDelivery::AlarmAction,
    })
}
