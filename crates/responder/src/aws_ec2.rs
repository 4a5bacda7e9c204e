//! The EC2 ports over the EC2 SDK client, one client a region (instances are acted on in the
//! region they were launched in): the only place launchguard's responders call EC2.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_ec2::config::Region;
use aws_sdk_ec2::types::{Filter, InstanceStateName, Tag};
use aws_sdk_ec2::{Client, Config};
use chrono::{DateTime, Utc};
use launchguard_aws::{CallError, classify};

use crate::ports::{DescribeInstances, Instance, InstanceState, InstanceStates, InstanceTags};

/// Ids a call names at once (DescribeInstances' filter values, the writes' instance ids).
const CHUNK: usize = 100;

/// EC2, for real: a client a region, built from the function's SDK configuration on first use.
#[derive(Debug)]
pub struct Ec2 {
    base: Config,
    clients: Mutex<HashMap<String, Client>>,
}

impl Ec2 {
    /// From the function's EC2 configuration (its credentials, retries and endpoint); the region
    /// is set per call.
    pub fn new(base: Config) -> Self {
        Self { base, clients: Mutex::new(HashMap::new()) }
    }

    fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| Client::from_conf(self.base.to_builder().region(Region::new(region.to_owned())).build()))
            .clone()
    }
}

fn state(s: &InstanceStateName) -> Option<InstanceState> {
    Some(match s {
        InstanceStateName::Pending => InstanceState::Pending,
        InstanceStateName::Running => InstanceState::Running,
        InstanceStateName::Stopping => InstanceState::Stopping,
        InstanceStateName::Stopped => InstanceState::Stopped,
        InstanceStateName::ShuttingDown => InstanceState::ShuttingDown,
        InstanceStateName::Terminated => InstanceState::Terminated,
        _ => return None,
    })
}

impl DescribeInstances for Ec2 {
    /// With the `instance-id` filter, not `InstanceIds`: an id EC2 does not know is then left
    /// out instead of failing the whole call (`InvalidInstanceID.NotFound`).
    async fn describe_instances(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>, CallError> {
        let client = self.client(region);
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let filter = Filter::builder().name("instance-id").set_values(Some(chunk.to_vec())).build();
            let mut token: Option<String> = None;
            loop {
                let resp = client
                    .describe_instances()
                    .filters(filter.clone())
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| classify("ec2:DescribeInstances", e))?;
                for r in resp.reservations() {
                    for i in r.instances() {
                        let Some(id) = i.instance_id() else { continue };
                        out.push(Instance {
                            id: id.to_owned(),
                            state: i.state().and_then(|s| s.name()).and_then(state),
                            launch_time: i.launch_time().and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
                            reservation_id: r.reservation_id().map(str::to_owned),
                            owner_id: r.owner_id().map(str::to_owned),
                            tags: i
                                .tags()
                                .iter()
                                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                                .collect(),
                        });
                    }
                }
                match resp.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}

impl InstanceTags for Ec2 {
    async fn create_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> Result<(), CallError> {
        let client = self.client(region);
        for chunk in ids.chunks(CHUNK) {
            let tag = Tag::builder().key(key).value(value).build();
            client.create_tags().set_resources(Some(chunk.to_vec())).tags(tag).send().await.map_err(|e| classify("ec2:CreateTags", e))?;
        }
        Ok(())
    }

    async fn delete_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> Result<(), CallError> {
        let client = self.client(region);
        for chunk in ids.chunks(CHUNK) {
            // With its value: EC2 deletes the tag only where it still has that value.
            let tag = Tag::builder().key(key).value(value).build();
            client.delete_tags().set_resources(Some(chunk.to_vec())).tags(tag).send().await.map_err(|e| classify("ec2:DeleteTags", e))?;
        }
        Ok(())
    }
}

impl InstanceStates for Ec2 {
    async fn stop_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        let client = self.client(region);
        for chunk in ids.chunks(CHUNK) {
            client.stop_instances().set_instance_ids(Some(chunk.to_vec())).send().await.map_err(|e| classify("ec2:StopInstances", e))?;
        }
        Ok(())
    }

    async fn start_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        let client = self.client(region);
        for chunk in ids.chunks(CHUNK) {
            client.start_instances().set_instance_ids(Some(chunk.to_vec())).send().await.map_err(|e| classify("ec2:StartInstances", e))?;
        }
        Ok(())
    }

    async fn terminate_instances(&self, region: &str, ids: &[String]) -> Result<(), CallError> {
        let client = self.client(region);
        for chunk in ids.chunks(CHUNK) {
            client
                .terminate_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify("ec2:TerminateInstances", e))?;
        }
        Ok(())
    }
}
