//! Only the real alarm, as CloudWatch knows it.
//!
//! An alarm notice is a claim made by whoever invoked the detector (anyone with
//! `lambda:InvokeFunction` on it can send an SNS-shaped event). The gate (`core::gate`) refuses
//! alarms that are not configured, of another account, stale or from the future. What passes is
//! then looked up in CloudWatch (`DescribeAlarms`), and only CloudWatch's description is used:
//! the name, ARN and region, the period and evaluation periods (so a forged `Period` cannot
//! stretch the window), the metric, and the datapoints when the alarm is still in that very
//! state change. Of the notice only its `StateChangeTime` is kept, and only when it is not later
//! than the alarm's last state change in CloudWatch.

use chrono::Duration;
use launchguard_core::alarm::{AlarmState, AlarmStateChange};
use launchguard_core::gate::AlarmRefusal;

use crate::schedule::{AlarmStates, alarm_name};
use crate::{Config, DetectorError};

/// CloudWatch's `StateUpdatedTimestamp` and the notification's `StateChangeTime` of one state
/// change differ by rounding only.
const SAME_CHANGE: Duration = Duration::seconds(1);

/// The alarm to act on, built from CloudWatch's description of the claimed alarm; or why the
/// claim is refused. The claim must already have passed the gate (its ARN is configured).
pub async fn confirm<A: AlarmStates>(
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
    let this_change = match real.state_updated {
        Some(last) if claimed.state_change_time > last + SAME_CHANGE => {
            return Ok(Err(AlarmRefusal::NotSeenByCloudWatch {
                alarm_arn: arn.to_owned(),
                state_change_time: claimed.state_change_time,
                last_update: last,
            }));
        }
        Some(last) => real.state == AlarmState::Alarm && (claimed.state_change_time - last).abs() <= SAME_CHANGE,
        None => false,
    };
    Ok(Ok(real.as_state_change(claimed.state_change_time, this_change, claimed.delivery)))
}
