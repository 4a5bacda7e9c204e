//! The in-memory IAM every crate's tests use (feature `test-util`): users with access keys,
//! managed and inline policies, roles with managed and inline policies; every call recorded, every change
//! applied, any call made to fail.
//!
//! It answers as IAM does where the code depends on it: `None` for a user, role or key that does
//! not exist (the adapter's reading of `NoSuchEntity`), `NoSuchEntity` for a list or a write on
//! a user or role that does not exist; a user or role is found by its name without regard to
//! case, as IAM finds it. Inline policies are state a test sets up (someone else's
//! policies): no port writes one. A latency may be set on every call ([`MemoryIam::with_latency`],
//! for the benchmarks: tokio's clock, so a test on paused time does not wait).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;

use crate::ports::{AccessKeys, KeyMeta, KeyStatus, LastUse, RoleManagedPolicies, Roles, UserManagedPolicies, Users};

/// A user or a role.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Its real ARN, with its path.
    pub arn: String,
    /// IAM's unique id (`UserId`, `RoleId`): kept through a rename. Empty: one is given when the
    /// entity is added ([`MemoryIam::with_user`], [`MemoryIam::with_role`]) or first asked for.
    pub id: String,
    /// Its access keys (users).
    pub keys: Vec<(String, KeyStatus)>,
    /// The `CreateDate` of its keys, by key id (`ListAccessKeys` gives none for a key not here).
    pub key_created: BTreeMap<String, DateTime<Utc>>,
    /// Its managed policies' ARNs.
    pub attached: Vec<String>,
    /// Its inline policies: name → document.
    pub inline: BTreeMap<String, String>,
    /// Its IAM tags: key → value (`GetUser`'s and `GetRole`'s `Tags`).
    pub tags: BTreeMap<String, String>,
}

impl Entity {
    /// An entity with this ARN and nothing else.
    pub fn new(arn: impl Into<String>) -> Self {
        Self { arn: arn.into(), ..Self::default() }
    }

    /// Whether a managed policy of this name (the last part of its ARN) is attached.
    pub fn has_attached(&self, name: &str) -> bool {
        self.attached.iter().any(|a| a.rsplit('/').next() == Some(name))
    }
}

/// IAM in memory.
#[derive(Debug, Default)]
pub struct MemoryIam {
    /// Users by name.
    pub users: Mutex<BTreeMap<String, Entity>>,
    /// Roles by name.
    pub roles: Mutex<BTreeMap<String, Entity>>,
    /// Every call, `"<Operation> <arguments>"` (`"UpdateAccessKey alice AKIA… Inactive"`).
    calls: Mutex<Vec<String>>,
    /// The writes that took effect, in the same form.
    writes: Mutex<Vec<String>>,
    /// Operations that fail (by IAM operation name, `"AttachUserPolicy"`), and how.
    failures: BTreeMap<&'static str, CallError>,
    /// Managed policies that do not exist here (a partition or emulator without them): attaching
    /// one answers `NoSuchEntity`.
    missing_policies: Vec<String>,
    /// What `GetAccessKeyLastUsed` reports for a key, by key id (none: never used).
    last_uses: BTreeMap<String, LastUse>,
    /// How long every call takes before it is answered (zero: at once).
    latency: std::time::Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn no_such_entity(op: &str, what: &str) -> CallError {
    CallError {
        message: format!("iam:{op}: The {what} cannot be found. (NoSuchEntity; HTTP 404)"),
        code: Some("NoSuchEntity".into()),
        retryable: false,
    }
}

/// A unique id as IAM makes them (`AIDA…` for a user, `AROA…` for a role), from the name the
/// entity was added under: the same name always gives the same id in a test.
fn unique_id(prefix: &str, name: &str) -> String {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{prefix}{h:016X}")
}

/// The name under which `all` holds the entity IAM calls `name`: IAM names are unique without
/// regard to case, and every IAM call finds `Alice` as `alice` (IAM answers with the name's own
/// case, in the ARN). The name's own case first.
fn stored<'m>(all: &'m BTreeMap<String, Entity>, name: &str) -> Option<&'m String> {
    all.get_key_value(name).map(|(n, _)| n).or_else(|| all.keys().find(|n| n.eq_ignore_ascii_case(name)))
}

/// The entity IAM calls `name` (without regard to case), with the name it is held under.
fn named<'m>(all: &'m BTreeMap<String, Entity>, name: &str) -> Option<(&'m String, &'m Entity)> {
    stored(all, name).and_then(|n| all.get_key_value(n.as_str()))
}

/// The entity's unique id: its own; else, for a user with access keys, `AIDA` and its first key
/// without `AKIA` (what the test kit's CloudTrail records of its calls carry as
/// `userIdentity.principalId`); else the one its name gives.
fn id_of(prefix: &str, name: &str, e: &Entity) -> String {
    if !e.id.is_empty() {
        return e.id.clone();
    }
    match e.keys.first().and_then(|(k, _)| k.strip_prefix("AKIA")) {
        Some(rest) if prefix == "AIDA" => format!("AIDA{rest}"),
        _ => unique_id(prefix, name),
    }
}

impl MemoryIam {
    /// Every call answered after `latency` (IAM's own round trip, for the benchmarks).
    pub fn with_latency(mut self, latency: std::time::Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Wait the call's latency.
    async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// With `GetAccessKeyLastUsed` reporting `last` for `key`.
    pub fn with_last_use(mut self, key: &str, last: LastUse) -> Self {
        self.last_uses.insert(key.to_owned(), last);
        self
    }

    /// With this user (given a unique id when it has none: kept through a rename).
    pub fn with_user(self, name: &str, mut user: Entity) -> Self {
        user.id = id_of("AIDA", name, &user);
        lock(&self.users).insert(name.to_owned(), user);
        self
    }

    /// With this role (given a unique id when it has none).
    pub fn with_role(self, name: &str, mut role: Entity) -> Self {
        role.id = id_of("AROA", name, &role);
        lock(&self.roles).insert(name.to_owned(), role);
        self
    }

    /// Without this managed policy: attaching it answers `NoSuchEntity`, as IAM does.
    pub fn without_policy(mut self, policy_arn: &str) -> Self {
        self.missing_policies.push(policy_arn.to_owned());
        self
    }

    /// Refuse an attachment of a policy that does not exist here.
    fn policy_exists(&self, op: &'static str, p: &str) -> Result<(), CallError> {
        match self.missing_policies.iter().any(|m| m == p) {
            true => Err(no_such_entity(op, p)),
            false => Ok(()),
        }
    }

    /// Make every call of `operation` (`"UpdateAccessKey"`) fail with `error`.
    pub fn fail_on(&mut self, operation: &'static str, error: CallError) {
        self.failures.insert(operation, error);
    }

    /// Let calls of `operation` succeed again (IAM no longer throttles, say).
    pub fn heal(&mut self, operation: &str) {
        self.failures.remove(operation);
    }

    /// The user as it is now (a default entity when there is none).
    pub fn user(&self, name: &str) -> Entity {
        named(&lock(&self.users), name).map(|(_, e)| e.clone()).unwrap_or_default()
    }

    /// The role as it is now (a default entity when there is none).
    pub fn role(&self, name: &str) -> Entity {
        named(&lock(&self.roles), name).map(|(_, e)| e.clone()).unwrap_or_default()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// Every write that took effect so far.
    pub fn writes(&self) -> Vec<String> {
        lock(&self.writes).clone()
    }

    /// Record a write made behind the fake's back (a test that changes the state itself, as a
    /// handler that died after acting would have).
    pub fn record_write(&self, write: String) {
        lock(&self.writes).push(write);
    }

    /// Record the call; its configured failure, if any.
    fn call(&self, op: &'static str, args: String) -> Result<(), CallError> {
        lock(&self.calls).push(format!("{op} {args}"));
        self.failures.get(op).map_or(Ok(()), |e| Err(e.clone()))
    }

    /// Record and apply a write on a user or role that must exist.
    fn write(
        &self,
        op: &'static str,
        args: String,
        entities: &Mutex<BTreeMap<String, Entity>>,
        name: &str,
        change: impl FnOnce(&mut Entity),
    ) -> Result<(), CallError> {
        self.call(op, args.clone())?;
        let mut all = lock(entities);
        let held = stored(&all, name).cloned().ok_or_else(|| no_such_entity(op, name))?;
        let e = all.get_mut(&held).ok_or_else(|| no_such_entity(op, name))?;
        change(e);
        lock(&self.writes).push(format!("{op} {args}"));
        Ok(())
    }

    /// Record a read of a user or role that must exist.
    fn read<T>(
        &self,
        op: &'static str,
        args: String,
        entities: &Mutex<BTreeMap<String, Entity>>,
        name: &str,
        read: impl FnOnce(&Entity) -> T,
    ) -> Result<T, CallError> {
        self.call(op, args)?;
        named(&lock(entities), name).map(|(_, e)| read(e)).ok_or_else(|| no_such_entity(op, name))
    }
}

impl Users for MemoryIam {
    async fn user_arn(&self, user: &str) -> Result<Option<String>, CallError> {
        self.wait().await;
        self.call("GetUser", user.to_owned())?;
        Ok(named(&lock(&self.users), user).map(|(_, u)| u.arn.clone()))
    }

    async fn user_id(&self, user: &str) -> Result<Option<String>, CallError> {
        self.wait().await;
        self.call("GetUser", user.to_owned())?;
        Ok(named(&lock(&self.users), user).map(|(n, u)| id_of("AIDA", n, u)))
    }

    async fn user_tags(&self, user: &str) -> Result<Option<Vec<(String, String)>>, CallError> {
        self.wait().await;
        self.call("GetUser", user.to_owned())?;
        Ok(named(&lock(&self.users), user).map(|(_, u)| u.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}

impl Roles for MemoryIam {
    async fn role_arn(&self, role: &str) -> Result<Option<String>, CallError> {
        self.wait().await;
        self.call("GetRole", role.to_owned())?;
        Ok(named(&lock(&self.roles), role).map(|(_, r)| r.arn.clone()))
    }

    async fn role_id(&self, role: &str) -> Result<Option<String>, CallError> {
        self.wait().await;
        self.call("GetRole", role.to_owned())?;
        Ok(named(&lock(&self.roles), role).map(|(n, r)| id_of("AROA", n, r)))
    }

    async fn role_tags(&self, role: &str) -> Result<Option<Vec<(String, String)>>, CallError> {
        self.wait().await;
        self.call("GetRole", role.to_owned())?;
        Ok(named(&lock(&self.roles), role).map(|(_, r)| r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}

impl AccessKeys for MemoryIam {
    async fn key_owner(&self, key: &str) -> Result<Option<String>, CallError> {
        self.wait().await;
        self.call("GetAccessKeyLastUsed", key.to_owned())?;
        Ok(lock(&self.users).iter().find(|(_, u)| u.keys.iter().any(|(k, _)| k == key)).map(|(n, _)| n.clone()))
    }

    async fn last_use(&self, key: &str) -> Result<Option<LastUse>, CallError> {
        self.wait().await;
        self.call("GetAccessKeyLastUsed", key.to_owned())?;
        Ok(self.last_uses.get(key).cloned())
    }

    async fn list_keys(&self, user: &str) -> Result<Vec<KeyMeta>, CallError> {
        self.wait().await;
        self.read("ListAccessKeys", user.to_owned(), &self.users, user, |u| {
            u.keys.iter().map(|(id, status)| KeyMeta { id: id.clone(), status: *status, created: u.key_created.get(id).copied() }).collect()
        })
    }

    async fn set_status(&self, user: &str, key: &str, status: KeyStatus) -> Result<(), CallError> {
        self.wait().await;
        self.write("UpdateAccessKey", format!("{user} {key} {status:?}"), &self.users, user, |u| {
            u.keys.iter_mut().filter(|(k, _)| k == key).for_each(|k| k.1 = status);
        })
    }
}

impl UserManagedPolicies for MemoryIam {
    async fn attached_user_policies(&self, user: &str) -> Result<Vec<String>, CallError> {
        self.wait().await;
        self.read("ListAttachedUserPolicies", user.to_owned(), &self.users, user, |u| u.attached.clone())
    }

    async fn attach_user_policy(&self, user: &str, p: &str) -> Result<(), CallError> {
        self.wait().await;
        self.policy_exists("AttachUserPolicy", p)?;
        // IAM answers success and changes nothing when the policy is attached already
        self.write("AttachUserPolicy", format!("{user} {p}"), &self.users, user, |u| {
            if !u.attached.iter().any(|a| a == p) {
                u.attached.push(p.to_owned());
            }
        })
    }

    async fn detach_user_policy(&self, user: &str, p: &str) -> Result<(), CallError> {
        self.wait().await;
        self.write("DetachUserPolicy", format!("{user} {p}"), &self.users, user, |u| u.attached.retain(|a| a != p))
    }
}

impl RoleManagedPolicies for MemoryIam {
    async fn attached_role_policies(&self, role: &str) -> Result<Vec<String>, CallError> {
        self.wait().await;
        self.read("ListAttachedRolePolicies", role.to_owned(), &self.roles, role, |r| r.attached.clone())
    }

    async fn attach_role_policy(&self, role: &str, p: &str) -> Result<(), CallError> {
        self.wait().await;
        self.policy_exists("AttachRolePolicy", p)?;
        self.write("AttachRolePolicy", format!("{role} {p}"), &self.roles, role, |r| {
            if !r.attached.iter().any(|a| a == p) {
                r.attached.push(p.to_owned());
            }
        })
    }

    async fn detach_role_policy(&self, role: &str, p: &str) -> Result<(), CallError> {
        self.wait().await;
        self.write("DetachRolePolicy", format!("{role} {p}"), &self.roles, role, |r| r.attached.retain(|a| a != p))
    }
}
