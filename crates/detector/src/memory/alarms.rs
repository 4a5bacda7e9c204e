//! An in-memory CloudWatch `DescribeAlarms` for tests and benchmarks: the alarms CloudWatch
//! knows, and every call.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use launchguard_core::alarm::{AlarmNotice, AlarmState, parse_event};
use serde_json::Value;

use crate::CallError;
use crate::schedule::{AlarmChange, AlarmDescription, AlarmHistory, AlarmStates};

/// The alarms CloudWatch knows.
#[derive(Debug, Default)]
pub struct MemoryAlarms {
    /// What `DescribeAlarms` answers (filtered by the names asked for).
    pub alarms: Vec<AlarmDescription>,
    /// Every change of state, by alarm name, oldest first (`DescribeAlarmHistory`).
    pub history: Vec<(String, AlarmChange)>,
    /// `DescribeAlarms` and `DescribeAlarmHistory` answer 503.
    pub fails: bool,
    asked: Mutex<Vec<Vec<String>>>,
}

impl MemoryAlarms {
    /// CloudWatch knowing these alarms.
    pub fn new(alarms: Vec<AlarmDescription>) -> Self {
        let history = alarms
            .iter()
            .filter_map(|a| {
                let at = a.state_transitioned.or(a.state_updated)?;
                Some((a.name.clone(), AlarmChange { at, state: a.state.clone(), reason: a.reason.clone() }))
            })
            .collect();
        Self { alarms, history, fails: false, asked: Mutex::new(Vec::new()) }
    }

    /// CloudWatch knowing the alarms of a genuine notification event, each still in the state
    /// the notification announces, changed at its `StateChangeTime`, with its reason, period,
    /// evaluation periods and metric.
    pub fn as_notified(event: &Value) -> Self {
        let alarms = parse_event(event)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| match n {
                AlarmNotice::Alarm(a) => Some(AlarmDescription {
                    arn: a.alarm_arn?,
                    name: a.alarm_name,
                    state: a.new_state,
                    reason: a.reason,
                    period_seconds: Some(a.period_seconds),
                    evaluation_periods: Some(a.evaluation_periods),
                    metric_math: a.metric_math,
                    metric_name: a.metric_name,
                    state_updated: Some(a.state_change_time),
                    state_transitioned: Some(a.state_change_time),
                }),
                AlarmNotice::Ignored(_) => None,
            })
            .collect();
        Self::new(alarms)
    }

    /// The same alarms, now in `state` since `at` (and with `reason`); the change is in their history.
    pub fn moved_to(mut self, state: AlarmState, at: DateTime<Utc>, reason: &str) -> Self {
        for a in &mut self.alarms {
            a.state = state.clone();
            a.state_updated = Some(at);
            a.state_transitioned = Some(at);
            a.reason = Some(reason.to_owned());
            self.history.push((a.name.clone(), AlarmChange { at, state: state.clone(), reason: a.reason.clone() }));
        }
        self
    }

    /// The names asked for, call by call.
    pub fn asked(&self) -> Vec<Vec<String>> {
        self.asked.lock().expect("not poisoned").clone()
    }
}

impl AlarmStates for MemoryAlarms {
    async fn describe_alarms(&self, names: &[String]) -> Result<Vec<AlarmDescription>, CallError> {
        self.asked.lock().expect("not poisoned").push(names.to_vec());
        if self.fails {
            return Err(CallError::new("cloudwatch:DescribeAlarms: service unavailable (HTTP 503)", true));
        }
        Ok(self.alarms.iter().filter(|a| names.contains(&a.name)).cloned().collect())
    }
}

impl AlarmHistory for MemoryAlarms {
    async fn state_changes(&self, name: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AlarmChange>, CallError> {
        if self.fails {
            return Err(CallError::new("cloudwatch:DescribeAlarmHistory: service unavailable (HTTP 503)", true));
        }
        Ok(self.history.iter().filter(|(n, c)| n == name && (from..=to).contains(&c.at)).map(|(_, c)| c.clone()).collect())
    }
}
