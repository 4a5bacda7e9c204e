//! The IAM calls the actions make: one narrow trait a capability, implemented once over the SDK
//! (`crate::aws::Iam`) and once in memory (`crate::memory::MemoryIam`, feature `test-util`).
//!
//! Each action states the traits it needs (its bounds); [`IamPorts`] is all of them, what a
//! function's router asks for. Every lookup answers `None` for "no such entity" (IAM's
//! `NoSuchEntity`); every other failure is a classified [`CallError`].

use std::future::Future;

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;

/// An access key's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// `Active`
    Active,
    /// `Inactive`
    Inactive,
}

/// One key of a user's `ListAccessKeys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    /// The key id.
    pub id: String,
    /// Its status.
    pub status: KeyStatus,
    /// IAM's `CreateDate`, when it gave one.
    pub created: Option<DateTime<Utc>>,
}

/// A key's last use, as `GetAccessKeyLastUsed` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    /// `LastUsedDate`.
    pub at: DateTime<Utc>,
    /// `ServiceName` (`ec2`), when IAM gave one.
    pub service: Option<String>,
    /// `Region`, when IAM gave one.
    pub region: Option<String>,
}

/// `GetUser`.
pub trait Users: Send + Sync {
    /// The user's real ARN, `None` when there is no such user.
    fn user_arn(&self, user: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// The user's unique id (`UserId`, `AIDA…`: it survives a rename), `None` when there is no
    /// such user.
    fn user_id(&self, user: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// The user's tags as `GetUser` gives them (key, value), `None` when there is no such user.
    fn user_tags(&self, user: &str) -> impl Future<Output = Result<Option<Vec<(String, String)>>, CallError>> + Send;
}

/// `GetRole`.
pub trait Roles: Send + Sync {
    /// The role's real ARN, `None` when there is no such role.
    fn role_arn(&self, role: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// The role's unique id (`RoleId`, `AROA…`), `None` when there is no such role.
    fn role_id(&self, role: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// The role's tags as `GetRole` gives them (key, value), `None` when there is no such role.
    fn role_tags(&self, role: &str) -> impl Future<Output = Result<Option<Vec<(String, String)>>, CallError>> + Send;
}

/// A user's access keys: `GetAccessKeyLastUsed`, `ListAccessKeys`, `UpdateAccessKey`.
pub trait AccessKeys: Send + Sync {
    /// `GetAccessKeyLastUsed`: the key's user, `None` when the key does not exist here.
    fn key_owner(&self, access_key_id: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;
    /// `GetAccessKeyLastUsed`: when the key was last used, `None` when never (or no such key).
    fn last_use(&self, access_key_id: &str) -> impl Future<Output = Result<Option<LastUse>, CallError>> + Send;
    /// `ListAccessKeys` of a user.
    fn list_keys(&self, user: &str) -> impl Future<Output = Result<Vec<KeyMeta>, CallError>> + Send;
    /// `UpdateAccessKey` of exactly this key.
    fn set_status(&self, user: &str, access_key_id: &str, status: KeyStatus) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// A user's managed policies: `ListAttachedUserPolicies`, `AttachUserPolicy`, `DetachUserPolicy`.
pub trait UserManagedPolicies: Send + Sync {
    /// `ListAttachedUserPolicies`: managed policy ARNs.
    fn attached_user_policies(&self, user: &str) -> impl Future<Output = Result<Vec<String>, CallError>> + Send;
    /// `AttachUserPolicy`.
    fn attach_user_policy(&self, user: &str, policy_arn: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `DetachUserPolicy`.
    fn detach_user_policy(&self, user: &str, policy_arn: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// A role's managed policies: `ListAttachedRolePolicies`, `AttachRolePolicy`, `DetachRolePolicy`.
///
/// There is no port that writes a policy document (no `PutUserPolicy`, no `PutRolePolicy`): the
/// handlers only attach and detach the deny-only policies the stack created (issue 32), so no
/// command and no code path can hand a principal a document.
pub trait RoleManagedPolicies: Send + Sync {
    /// `ListAttachedRolePolicies`: managed policy ARNs.
    fn attached_role_policies(&self, role: &str) -> impl Future<Output = Result<Vec<String>, CallError>> + Send;
    /// `AttachRolePolicy`.
    fn attach_role_policy(&self, role: &str, policy_arn: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `DetachRolePolicy`.
    fn detach_role_policy(&self, role: &str, policy_arn: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// Every IAM port: what the router of a function needs to reach any action. Actions ask for
/// only the ports they call; what a function may call is bounded by its actions' permissions
/// (and its role's policy), not by this trait.
pub trait IamPorts: Users + Roles + AccessKeys + UserManagedPolicies + RoleManagedPolicies {}

impl<T: Users + Roles + AccessKeys + UserManagedPolicies + RoleManagedPolicies> IamPorts for T {}

/// An EC2 instance's state, as `DescribeInstances` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// `pending`
    Pending,
    /// `running`
    Running,
    /// `stopping`
    Stopping,
    /// `stopped`
    Stopped,
    /// `shutting-down`
    ShuttingDown,
    /// `terminated`
    Terminated,
}

/// One instance as `DescribeInstances` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `i-…`
    pub id: String,
    /// Its state (`None` when EC2 named one launchguard does not know).
    pub state: Option<InstanceState>,
    /// `LaunchTime`.
    pub launch_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The reservation's `ReservationId`.
    pub reservation_id: Option<String>,
    /// The reservation's `OwnerId` (the account).
    pub owner_id: Option<String>,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// `DescribeInstances` in one region.
pub trait DescribeInstances: Send + Sync {
    /// The instances of `ids` that exist in `region` (an id EC2 does not know is left out, never
    /// an error).
    fn describe_instances(&self, region: &str, ids: &[String]) -> impl Future<Output = Result<Vec<Instance>, CallError>> + Send;
}

/// `CreateTags` and `DeleteTags` of one tag on instances.
pub trait InstanceTags: Send + Sync {
    /// `CreateTags` `key=value` on exactly `ids`.
    fn create_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `DeleteTags` `key=value` from exactly `ids` (only while it has that value).
    fn delete_tag(&self, region: &str, ids: &[String], key: &str, value: &str) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// `StopInstances`, `StartInstances`, `TerminateInstances` of exactly these instances.
pub trait InstanceStates: Send + Sync {
    /// `StopInstances`.
    fn stop_instances(&self, region: &str, ids: &[String]) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `StartInstances`.
    fn start_instances(&self, region: &str, ids: &[String]) -> impl Future<Output = Result<(), CallError>> + Send;
    /// `TerminateInstances`.
    fn terminate_instances(&self, region: &str, ids: &[String]) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// Every EC2 port: what the EC2 router needs.
pub trait Ec2Ports: DescribeInstances + InstanceTags + InstanceStates {}

impl<T: DescribeInstances + InstanceTags + InstanceStates> Ec2Ports for T {}
