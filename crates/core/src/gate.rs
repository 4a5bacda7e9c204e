//! Only the real alarm: which alarm notifications the detector acts on.
//!
//! The detector's trigger is an SNS topic that any principal allowed to publish to it can write
//! to, and a Lambda function that any principal allowed to invoke it can call. So an alarm
//! notification is accepted only when it is one of the configured alarms (`ALARM_ARNS`), in the
//! detector's own account, recent (`LG_MAX_ALARM_AGE_SECONDS`, not in the future beyond a small
//! clock skew), and its evaluated window is at most a day. Everything else is an
//! [`AlarmRefusal`]: reported and logged, never retried, never a finding.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::alarm::AlarmStateChange;
use crate::error::{CoreError, excerpt};
use crate::principal::arn_account;

/// Clock skew tolerated for a `StateChangeTime` after the detector's `now`.
pub const MAX_FUTURE_SKEW_SECONDS: i64 = 300;
/// Largest `Period × EvaluationPeriods` accepted, in seconds (one day).
pub const MAX_EVALUATED_SECONDS: i64 = 86_400;
/// Default of `LG_MAX_ALARM_AGE_SECONDS`.
pub const DEFAULT_MAX_ALARM_AGE_SECONDS: u64 = 3_600;

/// Why an alarm notification was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum AlarmRefusal {
    /// The notification names no alarm ARN: it cannot be checked against `ALARM_ARNS`.
    NoAlarmArn {
        /// The alarm name it gave.
        alarm_name: String,
    },
    /// An alarm that is not in `ALARM_ARNS`.
    UnknownAlarm {
        /// The ARN it gave.
        alarm_arn: String,
    },
    /// A configured alarm ARN, but of another account than the detector's (or the payload's
    /// account contradicts it).
    OtherAccount {
        /// The ARN it gave.
        alarm_arn: String,
        /// The account it claims.
        alarm_account: String,
        /// The detector's account.
        own_account: String,
    },
    /// Changed state longer ago than `LG_MAX_ALARM_AGE_SECONDS`: a late redelivery or a replay.
    Stale {
        /// The alarm's `StateChangeTime`.
        state_change_time: DateTime<Utc>,
        /// Its age when received.
        age_seconds: i64,
        /// The bound.
        max_age_seconds: i64,
    },
    /// Changed state after `now` plus the tolerated skew.
    InTheFuture {
        /// The alarm's `StateChangeTime`.
        state_change_time: DateTime<Utc>,
        /// How far ahead of the detector's clock.
        ahead_seconds: i64,
    },
    /// CloudWatch (`DescribeAlarms`) does not know the alarm: the notification is not CloudWatch's.
    NotInCloudWatch {
        /// The ARN it gave.
        alarm_arn: String,
    },
    /// CloudWatch has no record of a change of the alarm to `ALARM` at the claimed time (not its
    /// last change, not in its history): forged.
    NotSeenByCloudWatch {
        /// The ARN it gave.
        alarm_arn: String,
        /// The `StateChangeTime` it claims.
        state_change_time: DateTime<Utc>,
    },
    /// The alarm fires no rule of the detector's rule set (start-up checks every alarm of
    /// `ALARM_ARNS` fires one, so the rule set and the alarms disagree).
    NoRule {
        /// The alarm's ARN.
        alarm_arn: String,
    },
    /// `Period × EvaluationPeriods` longer than a day (or not a representable duration).
    WindowTooWide {
        /// Period, seconds.
        period_seconds: u64,
        /// Evaluation periods.
        evaluation_periods: u64,
        /// The bound, seconds.
        max_seconds: i64,
    },
}

impl std::fmt::Display for AlarmRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoAlarmArn { alarm_name } => {
                write!(f, "alarm {alarm_name:?} came without an alarm ARN; only the alarms in ALARM_ARNS are acted on")
            }
            Self::UnknownAlarm { alarm_arn } => write!(f, "alarm {alarm_arn} is not in ALARM_ARNS; add it there if it is yours"),
            Self::OtherAccount { alarm_arn, alarm_account, own_account } => {
                write!(f, "alarm {alarm_arn} claims account {alarm_account}, not the detector's account {own_account}")
            }
            Self::Stale { state_change_time, age_seconds, max_age_seconds } => write!(
                f,
                "alarm changed state at {state_change_time}, {age_seconds}s ago, more than LG_MAX_ALARM_AGE_SECONDS ({max_age_seconds}s): a late redelivery, not acted on"
            ),
            Self::InTheFuture { state_change_time, ahead_seconds } => {
                write!(f, "alarm StateChangeTime {state_change_time} is {ahead_seconds}s ahead of this function's clock")
            }
            Self::NotInCloudWatch { alarm_arn } => {
                write!(f, "CloudWatch does not know alarm {alarm_arn} (DescribeAlarms): the notification is not CloudWatch's")
            }
            Self::NotSeenByCloudWatch { alarm_arn, state_change_time } => write!(
                f,
                "CloudWatch has no record of alarm {alarm_arn} going to ALARM at {state_change_time} (DescribeAlarms, DescribeAlarmHistory): the notification is not CloudWatch's"
            ),
            Self::NoRule { alarm_arn } => {
                write!(f, "alarm {alarm_arn} fires no rule of the rule set (LG_RULES, LG_RULES_FILE): add its name to a rule's \"alarms\"")
            }
            Self::WindowTooWide { period_seconds, evaluation_periods, max_seconds } => write!(
                f,
                "alarm evaluates {evaluation_periods} periods of {period_seconds}s, more than {max_seconds}s: not a launchguard alarm"
            ),
        }
    }
}

/// The accepted alarms and the age bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmGate {
    /// `ALARM_ARNS`.
    pub alarm_arns: Vec<String>,
    /// `LG_MAX_ALARM_AGE_SECONDS`.
    pub max_age: Duration,
}

/// Check an alarm ARN's form: `arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>`.
pub fn validate_alarm_arn(arn: &str) -> Result<(), CoreError> {
    let bad = |why| CoreError::InvalidId { what: "alarm ARN", value: excerpt(arn), why };
    let f: Vec<&str> = arn.splitn(7, ':').collect();
    match f.as_slice() {
        ["arn", p, "cloudwatch", region, account, "alarm", name]
            if !p.is_empty() && !region.is_empty() && !name.is_empty() && !arn.contains(char::is_whitespace) =>
        {
            crate::ids::validate_account_id(account).map_err(|_| bad("the account is not 12 digits"))
        }
        _ => Err(bad("expected arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>")),
    }
}

/// `Period × EvaluationPeriods` as a duration, when it is at most [`MAX_EVALUATED_SECONDS`].
pub fn evaluated_span(period_seconds: u64, evaluation_periods: u64) -> Option<Duration> {
    let s = period_seconds.checked_mul(evaluation_periods)?;
    let s = i64::try_from(s).ok().filter(|s| *s <= MAX_EVALUATED_SECONDS)?;
    Some(Duration::seconds(s))
}

impl AlarmGate {
    /// Accept or refuse `alarm` for a detector running in `own_account` at `now`.
    pub fn check(&self, alarm: &AlarmStateChange, own_account: &str, now: DateTime<Utc>) -> Result<(), AlarmRefusal> {
        let Some(arn) = alarm.alarm_arn.as_deref() else {
            return Err(AlarmRefusal::NoAlarmArn { alarm_name: excerpt(&alarm.alarm_name) });
        };
        if !self.alarm_arns.iter().any(|a| a == arn) {
            return Err(AlarmRefusal::UnknownAlarm { alarm_arn: excerpt(arn) });
        }
        let arn_acct = arn_account(arn).unwrap_or_default();
        let claimed = alarm.account_id.as_deref().unwrap_or(arn_acct);
        if arn_acct != own_account || claimed != own_account {
            let alarm_account = if arn_acct == own_account { claimed } else { arn_acct };
            return Err(AlarmRefusal::OtherAccount {
                alarm_arn: excerpt(arn),
                alarm_account: excerpt(alarm_account),
                own_account: own_account.to_owned(),
            });
        }
        let age = now.signed_duration_since(alarm.state_change_time);
        if age > self.max_age {
            return Err(AlarmRefusal::Stale {
                state_change_time: alarm.state_change_time,
                age_seconds: age.num_seconds(),
                max_age_seconds: self.max_age.num_seconds(),
            });
        }
        if -age > Duration::seconds(MAX_FUTURE_SKEW_SECONDS) {
            return Err(AlarmRefusal::InTheFuture { state_change_time: alarm.state_change_time, ahead_seconds: (-age).num_seconds() });
        }
        if evaluated_span(u64::from(alarm.period_seconds), u64::from(alarm.evaluation_periods)).is_none() {
            return Err(AlarmRefusal::WindowTooWide {
                period_seconds: u64::from(alarm.period_seconds),
                evaluation_periods: u64::from(alarm.evaluation_periods),
                max_seconds: MAX_EVALUATED_SECONDS,
            });
        }
        Ok(())
    }
}
