//! Only the real alarm, as CloudWatch knows it.
//!
//! An alarm notice is a claim made by whoever invoked the detector (anyone with
//! `lambda:InvokeFunction` on it can send an SNS-shaped event). The gate (`core::gate`) refuses
//! alarms that are not configured, of another account, stale or from the future. What passes is
//! then looked up in CloudWatch, and only CloudWatch's word is used:
//!
//! - `DescribeAlarms`: the name, ARN and region, the period and evaluation periods (a forged
//!   `Period` cannot stretch the window), the metric;
//! - the change itself: the notice's `StateChangeTime` must be a change of the alarm to `ALARM`
//!   that CloudWatch knows of: its last change of state (`StateTransitionedTimestamp`, the alarm
//!   still in `ALARM`), or else one in its history (`DescribeAlarmHistory`, the alarm has changed
//!   again since: a late delivery or a retry). The datapoints come from CloudWatch's reason for
//!   that change. A change CloudWatch has no record of is refused, so a forged notice can neither
//!   choose where the window is nor force the wider search by pointing at an empty one.

use chrono::Duration;
use launchguard_core::alarm::{AlarmState, AlarmStateChange, datapoints_from_reason};
use launchguard_core::gate::AlarmRefusal;

use crate::schedule::{AlarmHistory, AlarmStates, alarm_name};
use crate::{Config, DetectorError};

/// CloudWatch's timestamps of one state change and the notification's `StateChangeTime` differ
/// by rounding only.
const SAME_CHANGE: Duration = Duration::seconds(1);

/// The alarm to act on, built from CloudWatch's description of the claimed alarm and its record
/// of the claimed change; or why the claim is refused. The claim must already have passed the
/// gate (its ARN is configured).
pub async fn confirm<A: AlarmStates + AlarmHistory>(
    claimed: &AlarmStateChange,
    cfg: &Config,
    alarms: &A,
) -> Result<Result<AlarmStateChange, AlarmRefusal>, DetectorError> {
    let Some(arn) = claimed.alarm_arn.as_deref() else {
        return Ok(Err(AlarmRefusal::NoAlarmArn { alarm_name: claimed.alarm_name.clone() }));
    };
    let names: Vec<String> = alarm_name(arn).map(str::to_owned).into_iter().collect();
    let described =
        alarms.describe_alarms(&names).await.map_err(|e| DetectorError::DescribeAlarms { alarms: names.join(", "), error: e.message })?;
    let Some(real) = described.into_iter().find(|d| d.arn == arn && cfg.gate.alarm_arns.iter().any(|a| a == arn)) else {
        return Ok(Err(AlarmRefusal::NotInCloudWatch { alarm_arn: arn.to_owned() }));
    };
    let at = claimed.state_change_time;
    let not_seen = || AlarmRefusal::NotSeenByCloudWatch { alarm_arn: arn.to_owned(), state_change_time: at };
    let last_change = real.state_transitioned.or(real.state_updated);
    if last_change.is_some_and(|last| at > last + SAME_CHANGE) {
        return Ok(Err(not_seen()));
    }
    let mut alarm = real.as_state_change(at, claimed.delivery);
    if real.state == AlarmState::Alarm && last_change.is_some_and(|last| (at - last).abs() <= SAME_CHANGE) {
        alarm.reason = real.reason.clone();
    } else {
        let changes = alarms
            .state_changes(&real.name, at - SAME_CHANGE, at + SAME_CHANGE)
            .await
            .map_err(|e| DetectorError::DescribeAlarms { alarms: real.name.clone(), error: e.message })?;
        match changes.into_iter().find(|c| c.state == AlarmState::Alarm && (c.at - at).abs() <= SAME_CHANGE) {
            Some(change) => alarm.reason = change.reason,
            None => return Ok(Err(not_seen())),
        }
    }
    alarm.datapoints = alarm.reason.as_deref().map(datapoints_from_reason).unwrap_or_default();
    Ok(Ok(alarm))
}
