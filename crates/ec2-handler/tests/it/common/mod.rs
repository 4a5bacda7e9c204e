//! What the EC2 handler's tests share: the account, the contract example finding (`ci-deployer`
//! launched 12 instances, each with its launch record), and its instances as EC2 describes them.

#![allow(dead_code)] // each test file uses its own part

use chrono::{DateTime, Duration, TimeZone, Utc};
use launchguard_core::aggregate::LaunchedInstance;
use launchguard_core::contract::{Action, Finding};
use launchguard_ec2_handler::FUNCTION;
use launchguard_responder::Config;
use launchguard_responder::memory::{Entity, MemoryIam};
use launchguard_responder::ports::Instance;
use launchguard_responder::testing;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const DEPLOYER: &str = "arn:aws:iam::111122223333:user/ci-deployer";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 21, 0).unwrap()
}

/// IAM as it is: the deployer exists at its ARN (the EC2 handler resolves it before acting).
pub fn iam() -> MemoryIam {
    MemoryIam::default().with_user("ci-deployer", Entity::new(DEPLOYER))
}

pub fn cfg() -> Config {
    testing::config(&FUNCTION, ACCOUNT, "arn:aws:iam::111122223333:role/launchguard-ec2-handler", &[])
}

pub fn finding() -> Finding {
    Finding::parse(serde_json::from_str(&launchguard_testkit::fixture("contract/finding.json")).unwrap()).unwrap()
}

/// The flagged principal's launch records.
pub fn mine() -> Vec<LaunchedInstance> {
    finding().principals.iter().find(|p| !p.activity.launches.is_empty()).unwrap().activity.launches.clone()
}

/// The instance of a launch record as `DescribeInstances` reports it: running, in the record's
/// reservation, launched a moment after the record, with `tags`.
pub fn described(l: &LaunchedInstance, tags: &[(&str, &str)]) -> Instance {
    testing::running_instance(
        &l.instance_id,
        ACCOUNT,
        l.launched_at + Duration::milliseconds(300),
        l.reservation_id.as_deref().unwrap(),
        tags,
    )
}

/// Stop these instances of the deployer.
pub fn stop(instances: Vec<LaunchedInstance>) -> Action {
    Action::StopInstances { account_id: ACCOUNT.into(), region: REGION.into(), principal_arn: DEPLOYER.into(), instances, bound: None }
}
