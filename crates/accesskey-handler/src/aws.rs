//! [`AccessKeys`] over the IAM SDK client.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;
use launchguard_aws::{CallError, classify};

use crate::{AccessKeys, KeyStatus};

/// IAM, for real.
#[derive(Debug, Clone)]
pub struct Iam(pub Client);

fn missing(e: &CallError) -> bool {
    e.code.as_deref() == Some("NoSuchEntity")
}

impl AccessKeys for Iam {
    async fn key_owner(&self, access_key_id: &str) -> Result<Option<String>, CallError> {
        match self.0.get_access_key_last_used().access_key_id(access_key_id).send().await {
            Ok(out) => Ok(out.user_name().map(str::to_owned)),
            Err(e) => {
                let e = classify("iam:GetAccessKeyLastUsed", e);
                if missing(&e) { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn user_arn(&self, user_name: &str) -> Result<Option<String>, CallError> {
        match self.0.get_user().user_name(user_name).send().await {
            Ok(out) => Ok(out.user().map(|u| u.arn().to_owned())),
            Err(e) => {
                let e = classify("iam:GetUser", e);
                if missing(&e) { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn list_keys(&self, user_name: &str) -> Result<Vec<(String, KeyStatus)>, CallError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .0
                .list_access_keys()
                .user_name(user_name)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| classify("iam:ListAccessKeys", e))?;
            for k in page.access_key_metadata() {
                if let Some(id) = k.access_key_id() {
                    let s = if k.status() == Some(&StatusType::Active) { KeyStatus::Active } else { KeyStatus::Inactive };
                    out.push((id.to_owned(), s));
                }
            }
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) => marker = Some(m.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn set_status(&self, user_name: &str, access_key_id: &str, status: KeyStatus) -> Result<(), CallError> {
        let s = if status == KeyStatus::Active { StatusType::Active } else { StatusType::Inactive };
        self.0
            .update_access_key()
            .user_name(user_name)
            .access_key_id(access_key_id)
            .status(s)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("iam:UpdateAccessKey", e))
    }
}
