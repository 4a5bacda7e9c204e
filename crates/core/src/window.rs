//! The time window to search for the records behind an alarm.
//!
//! CloudWatch counts `RunInstances` over `Period × EvaluationPeriods` before `StateChangeTime`.
//! CloudTrail reaches CloudWatch Logs minutes late, and a burst may go on after the alarm, so
//! the window gets a margin on both sides. When that window does not explain the alarm (no
//! launch at all, or fewer calls and instances than the alarm's datapoint), the detector
//! searches a much wider fallback window once. Whatever is read is judged by the rule's sliding
//! horizons ([`crate::windows::judge`]): a wider read never widens a threshold's window.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alarm::AlarmStateChange;

/// A closed time interval `[start, end]`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// `[StateChangeTime − 2 × Period × EvaluationPeriods − margin_before, StateChangeTime + margin_after]`:
    /// the evaluated span, and as much again before it, so that a sliding window as long as the
    /// alarm's span that overlaps it is read whole (the rule's horizons are judged on what is read).
    ///
    /// `None` when `Period × EvaluationPeriods` is longer than a day
    /// ([`crate::gate::MAX_EVALUATED_SECONDS`]) or the window falls outside the representable
    /// time range: every step is checked, no input can panic.
    pub fn primary(&self, alarm: &AlarmStateChange) -> Option<TimeWindow> {
        let evaluated = crate::gate::evaluated_span(u64::from(alarm.period_seconds), u64::from(alarm.evaluation_periods))?;
        let start =
            alarm.state_change_time.checked_sub_signed(evaluated)?.checked_sub_signed(evaluated)?.checked_sub_signed(self.margin_before)?;
        let end = alarm.state_change_time.checked_add_signed(self.margin_after)?;
        TimeWindow::new(start, end)
    }

    /// `[StateChangeTime − fallback_lookback, StateChangeTime + margin_after]`, never narrower
    /// than the primary window. `None` when the primary window is.
    pub fn fallback(&self, alarm: &AlarmStateChange) -> Option<TimeWindow> {
        let primary = self.primary(alarm)?;
        let start = alarm.state_change_time.checked_sub_signed(self.fallback_lookback)?.min(primary.start);
        TimeWindow::new(start, primary.end)
    }
}
