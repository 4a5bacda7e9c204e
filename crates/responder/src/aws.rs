//! The IAM ports over the IAM SDK client: the only place launchguard's responders call IAM.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;
use launchguard_aws::{CallError, classify};

use crate::ports::{AccessKeys, KeyMeta, KeyStatus, LastUse, RoleManagedPolicies, Roles, UserManagedPolicies, Users};

/// IAM, for real.
#[derive(Debug, Clone)]
pub struct Iam(pub Client);

/// IAM's `NoSuchEntity` is an answer ("there is none"), not a failure.
fn none_if_missing<T>(r: Result<T, CallError>) -> Result<Option<T>, CallError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code.as_deref() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(e),
    }
}

impl Users for Iam {
    async fn user_arn(&self, user: &str) -> Result<Option<String>, CallError> {
        let r = self.0.get_user().user_name(user).send().await.map_err(|e| classify("iam:GetUser", e));
        Ok(none_if_missing(r)?.and_then(|o| o.user().map(|u| u.arn().to_owned())))
    }

    async fn user_id(&self, user: &str) -> Result<Option<String>, CallError> {
        let r = self.0.get_user().user_name(user).send().await.map_err(|e| classify("iam:GetUser", e));
        Ok(none_if_missing(r)?.and_then(|o| o.user().map(|u| u.user_id().to_owned())))
    }

    async fn user_tags(&self, user: &str) -> Result<Option<Vec<(String, String)>>, CallError> {
        let r = self.0.get_user().user_name(user).send().await.map_err(|e| classify("iam:GetUser", e));
        Ok(none_if_missing(r)?
            .and_then(|o| o.user().map(|u| u.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())))
    }
}

impl Roles for Iam {
    async fn role_arn(&self, role: &str) -> Result<Option<String>, CallError> {
        let r = self.0.get_role().role_name(role).send().await.map_err(|e| classify("iam:GetRole", e));
        Ok(none_if_missing(r)?.and_then(|o| o.role().map(|r| r.arn().to_owned())))
    }

    async fn role_id(&self, role: &str) -> Result<Option<String>, CallError> {
        let r = self.0.get_role().role_name(role).send().await.map_err(|e| classify("iam:GetRole", e));
        Ok(none_if_missing(r)?.and_then(|o| o.role().map(|r| r.role_id().to_owned())))
    }

    async fn role_tags(&self, role: &str) -> Result<Option<Vec<(String, String)>>, CallError> {
        let r = self.0.get_role().role_name(role).send().await.map_err(|e| classify("iam:GetRole", e));
        Ok(none_if_missing(r)?
            .and_then(|o| o.role().map(|r| r.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())))
    }
}

impl AccessKeys for Iam {
    async fn key_owner(&self, access_key_id: &str) -> Result<Option<String>, CallError> {
        let r = self.0.get_access_key_last_used().access_key_id(access_key_id).send().await;
        let r = r.map_err(|e| classify("iam:GetAccessKeyLastUsed", e));
        Ok(none_if_missing(r)?.and_then(|o| o.user_name().map(str::to_owned)))
    }

    async fn last_use(&self, access_key_id: &str) -> Result<Option<LastUse>, CallError> {
        let r = self.0.get_access_key_last_used().access_key_id(access_key_id).send().await;
        let r = r.map_err(|e| classify("iam:GetAccessKeyLastUsed", e));
        // IAM answers "N/A" for the service and region of a key never used
        let given = |v: Option<&str>| v.filter(|v| !v.is_empty() && *v != "N/A").map(str::to_owned);
        Ok(none_if_missing(r)?.and_then(|o| {
            let used = o.access_key_last_used()?;
            let d = used.last_used_date()?;
            Some(LastUse {
                at: chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos())?,
                service: given(Some(used.service_name())),
                region: given(Some(used.region())),
            })
        }))
    }

    async fn list_keys(&self, user: &str) -> Result<Vec<KeyMeta>, CallError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .0
                .list_access_keys()
                .user_name(user)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| classify("iam:ListAccessKeys", e))?;
            for k in page.access_key_metadata() {
                if let Some(id) = k.access_key_id() {
                    let s = if k.status() == Some(&StatusType::Active) { KeyStatus::Active } else { KeyStatus::Inactive };
                    let created = k.create_date().and_then(|d| chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos()));
                    out.push(KeyMeta { id: id.to_owned(), status: s, created });
                }
            }
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) => marker = Some(m.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn set_status(&self, user: &str, access_key_id: &str, status: KeyStatus) -> Result<(), CallError> {
        let s = if status == KeyStatus::Active { StatusType::Active } else { StatusType::Inactive };
        self.0
            .update_access_key()
            .user_name(user)
            .access_key_id(access_key_id)
            .status(s)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("iam:UpdateAccessKey", e))
    }
}

impl UserManagedPolicies for Iam {
    async fn attached_user_policies(&self, user: &str) -> Result<Vec<String>, CallError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .0
                .list_attached_user_policies()
                .user_name(user)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| classify("iam:ListAttachedUserPolicies", e))?;
            out.extend(page.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)));
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) => marker = Some(m.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn attach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), CallError> {
        let r = self.0.attach_user_policy().user_name(user).policy_arn(policy_arn).send().await;
        r.map(|_| ()).map_err(|e| classify("iam:AttachUserPolicy", e))
    }

    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), CallError> {
        let r = self.0.detach_user_policy().user_name(user).policy_arn(policy_arn).send().await;
        r.map(|_| ()).map_err(|e| classify("iam:DetachUserPolicy", e))
    }
}

impl RoleManagedPolicies for Iam {
    async fn attached_role_policies(&self, role: &str) -> Result<Vec<String>, CallError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .0
                .list_attached_role_policies()
                .role_name(role)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| classify("iam:ListAttachedRolePolicies", e))?;
            out.extend(page.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)));
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) => marker = Some(m.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn attach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), CallError> {
        let r = self.0.attach_role_policy().role_name(role).policy_arn(policy_arn).send().await;
        r.map(|_| ()).map_err(|e| classify("iam:AttachRolePolicy", e))
    }

    async fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), CallError> {
        let r = self.0.detach_role_policy().role_name(role).policy_arn(policy_arn).send().await;
        r.map(|_| ()).map_err(|e| classify("iam:DetachRolePolicy", e))
    }
}
