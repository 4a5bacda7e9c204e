//! The in-memory EC2 every crate's tests use (feature `test-util`): instances by region, every
//! call recorded (operation, region, ids), every change applied, any operation made to fail.
//! `DescribeInstances` leaves out ids it does not know, as the adapter's `instance-id` filter does.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use launchguard_aws::CallError;

use crate::ports::{DescribeInstances, Instance, InstanceState, InstanceStates, InstanceTags};

/// One recorded call: the operation (`ec2:StopInstances`), the region, the ids.
pub type Ec2Call = (&'static str, String, Vec<String>);

/// EC2 in memory.
#[derive(Debug, Default)]
pub struct MemoryEc2 {
    /// Instances: region → id → instance.
    pub instances: Mutex<BTreeMap<String, BTreeMap<String, Instance>>>,
    /// Every call, in order.
    pub calls: Mutex<Vec<Ec2Call>>,
    /// Operations that fail (`ec2:StopInstances`…), with a retryable error.
    pub failing: Mutex<Vec<&'static str>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryEc2 {
    /// Put `instance` in `region`.
    pub fn put(&self, region: &str, instance: Instance) {
        lock(&self.instances).entry(region.to_owned()).or_default().insert(instance.id.clone(), instance);
    }

    /// The instance `id` of `region`, if any.
    pub fn get(&self, region: &str, id: &str) -> Option<Instance> {
        lock(&self.instances).get(region).and_then(|m| m.get(id)).cloned()
    }

    /// Every call, in order.
    pub fn calls(&self) -> Vec<Ec2Call> {
        lock(&self.calls).clone()
    }

    /// The calls that change something (every one but `DescribeInstances`).
    pub fn writes(&self) -> Vec<Ec2Call> {
        self.calls().into_iter().filter(|c| c.0 != "ec2:DescribeInstances").collect()
    }

    fn call(&self, op: &'static str, region: &str, ids: &[String]) -> Result<(), CallError> {
        lock(&self.calls).push((op, region.to_owned(), ids.to_vec()));
        if lock(&self.failing).contains(&op) {
            return Err(CallError { message: format!("{op}: injected failure"), code: Some("InternalError".into()), retryable: true });
        }
        Ok(())
    }

    fn each(&self, region: &str, ids: &[String], f: impl Fn(&mut Instance)) -> Result<(), CallError> {
        let mut all = lock(&self.instances);
        let Some(m) = all.get_mut(region) else {
            return Err(not_found(ids));
        };
        if let Some(missing) = ids.iter().find(|i| !m.contains_key(*i)) {
            return Err(not_found(std::slice::from_ref(missing)));
        }
        for id in ids {
            if let Some(i) = m.get_mut(id) {
                f(i);
            }
        }
        Ok(())
    }
}

fn not_found(ids: &[String]) -> CallError {
    CallError {
        message: format!("The instance ID '{}' does not exist", ids.join(",")),
        code: Some("InvalidInstanceID.NotFound".into()),
        retryable: false,
    }
}

impl DescribeInstances for MemoryEc2 {
    async fn describe_instances(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>, CallError> {
        self.call("ec2:DescribeInstances", region, ids)?;
        let all = lock(&self.instances);
        Ok(all.get(region).map(|m| ids.iter().filter_map(|i| m.get(i).cloned()).collect()).unwrap_or_default())
    }
}

impl InstanceTags for MemoryEc2 {
    async fn create_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> Result<(), CallError> {
        self.call("ec2:CreateTags", region, ids)?;
        self.each(region, ids, |i| {
            i.tags.insert(key.to_owned(), value.to_owned());
        })
    }

    async fn delete_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> Result<(), CallError> {
        self.call("ec2:DeleteTags", region, ids)?;
        self.each(region, ids, |i| {
            if i.tags.get(key).is_some_and(|v| v == value) {
                i.tags.remove(key);
            }
        })
    }
}

impl InstanceStates for MemoryEc2 {
    async fn stop_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        self.call("ec2:StopInstances", region, ids)?;
        self.each(region, ids, |i| {
            if matches!(i.state, Some(InstanceState::Running | InstanceState::Pending)) {
                i.state = Some(InstanceState::Stopped);
            }
        })
    }

    async fn start_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        self.call("ec2:StartInstances", region, ids)?;
        self.each(region, ids, |i| {
            if i.state == Some(InstanceState::Stopped) {
                i.state = Some(InstanceState::Running);
            }
        })
    }

    async fn terminate_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        self.call("ec2:TerminateInstances", region, ids)?;
        self.each(region, ids, |i| i.state = Some(InstanceState::Terminated))
    }
}
