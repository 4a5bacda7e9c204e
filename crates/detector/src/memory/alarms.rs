//! An in-memory CloudWatch `DescribeAlarms` for tests and benchmarks: the alarms CloudWatch
//! knows, and every call.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use launchguard_core::alarm::{AlarmNotice, AlarmState, parse_event};
use serde_json::Value;

use crate::CallError;
use crate::schedule::{AlarmDescription, AlarmStates};

/// The alarms CloudWatch knows.
#[derive(Debug, Default)]
pub struct MemoryAlarms {
    /// What `DescribeAlarms` answers (filtered by the names asked for).
    pub alarms: Vec<AlarmDescription>,
    /// `DescribeAlarms` answers 503.
    pub fails: bool,
    asked: Mutex<Vec<Vec<String>>>,
}

impl MemoryAlarms {
    /// CloudWatch knowing these alarms.
    pub fn new(alarms: Vec<AlarmDescription>) -> Self {
        Self { alarms, fails: false, asked: Mutex::new(Vec::new()) }
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
                }),
                AlarmNotice::Ignored(_) => None,
            })
            .collect();
        Self::new(alarms)
    }

    /// The same alarms, now in `state` since `at` (and with `reason`).
    pub fn moved_to(mut self, state: AlarmState, at: DateTime<Utc>, reason: &str) -> Self {
        for a in &mut self.alarms {
            a.state = state.clone();
            a.state_updated = Some(at);
            a.reason = Some(reason.to_owned());
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
