//! The time window to search for the records behind an alarm.
//!
//! CloudWatch counts `RunInstances` over `Period × EvaluationPeriods` before `StateChangeTime`.
//! CloudTrail reaches CloudWatch Logs minutes late, and a burst may go on after the alarm, so
//! the window gets a margin on both sides. When that window holds no launch at all, the detector
//! searches a much wider fallback window once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::alarm::AlarmStateChange;

/// A closed time interval `[start, end]`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// First instant included.
    pub start: DateTime<Utc>,
    /// Last instant included.
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// Build a window; `None` if `end` is before `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start <= end).then_some(Self { start, end })
    }

    /// Epoch milliseconds of the start.
    pub fn start_ms(&self) -> i64 {
        self.start.timestamp_millis()
    }

    /// Epoch milliseconds of the end.
    pub fn end_ms(&self) -> i64 {
        self.end.timestamp_millis()
    }

    /// True when `t_ms` (epoch milliseconds) lies inside the window, both ends included.
    pub fn contains_ms(&self, t_ms: i64) -> bool {
        (self.start_ms()..=self.end_ms()).contains(&t_ms)
    }

    /// Length in milliseconds.
    pub fn len_ms(&self) -> i64 {
        self.end_ms() - self.start_ms()
    }

    /// Split into two halves that cover the window exactly once: `[start, mid]` and
    /// `[mid + 1 ms, end]`. `None` when the window is a single millisecond and cannot be split.
    pub fn split(&self) -> Option<(Self, Self)> {
        if self.len_ms() < 1 {
            return None;
        }
        let mid = self.start + Duration::milliseconds(self.len_ms() / 2);
        Some((Self { start: self.start, end: mid }, Self { start: mid + Duration::milliseconds(1), end: self.end }))
    }
}

/// How wide to search around an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPolicy {
    /// Searched before the evaluated periods (default 5 min).
    pub margin_before: Duration,
    /// Searched after the state change time (default 5 min).
    pub margin_after: Duration,
    /// How far back the fallback window reaches from the state change time (default 12 h).
    pub fallback_lookback: Duration,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        Self { margin_before: Duration::minutes(5), margin_after: Duration::minutes(5), fallback_lookback: Duration::hours(12) }
    }
}

impl WindowPolicy {
    /// `[StateChangeTime − Period × EvaluationPeriods − margin_before, StateChangeTime + margin_after]`.
    pub fn primary(&self, alarm: &AlarmStateChange) -> TimeWindow {
        let evaluated = Duration::seconds(i64::from(alarm.period_seconds) * i64::from(alarm.evaluation_periods));
        TimeWindow { start: alarm.state_change_time - evaluated - self.margin_before, end: alarm.state_change_time + self.margin_after }
    }

    /// `[StateChangeTime − fallback_lookback, StateChangeTime + margin_after]`, never narrower
    /// than the primary window.
    pub fn fallback(&self, alarm: &AlarmStateChange) -> TimeWindow {
        let primary = self.primary(alarm);
        TimeWindow { start: (alarm.state_change_time - self.fallback_lookback).min(primary.start), end: primary.end }
    }
}
