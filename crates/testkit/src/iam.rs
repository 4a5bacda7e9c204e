//! Injected IAM bursts (`CreateUser`, `CreateAccessKey`), built from the real records of the
//! invictus-ir dataset (bert-jan creating users and keys), as [`crate::Burst`] is for launches.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Actor;

/// The IAM call a burst repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum IamEvent {
    /// `CreateUser`: one new user a call.
    CreateUser,
    /// `CreateAccessKey`: one new key a call, for the caller or another user.
    CreateAccessKey,
}

impl IamEvent {
    /// The `eventName`.
    pub fn name(self) -> &'static str {
        match self {
            IamEvent::CreateUser => "CreateUser",
            IamEvent::CreateAccessKey => "CreateAccessKey",
        }
    }
}

/// A burst of IAM calls by one actor.
#[derive(Debug, Clone)]
pub struct IamBurst {
    /// Who calls.
    pub actor: Actor,
    /// Which call.
    pub event: IamEvent,
    /// How many calls.
    pub calls: u32,
    /// The first call.
    pub start: DateTime<Utc>,
    /// Seconds between calls.
    pub spacing_s: i64,
    /// `CreateUser`: the new users are `<prefix>-<n>`; `CreateAccessKey`: the keys are for the
    /// users `<prefix>-<n>` (the caller's own user name when `None`).
    pub user_prefix: Option<String>,
    /// The created key ids, one a call (`CreateAccessKey`; default: made from the seed). Give
    /// the real ids IAM returned to test against a live IAM.
    pub key_ids: Option<Vec<String>>,
    /// An `errorCode` on every call (failed attempts: nothing created).
    pub error_code: Option<String>,
}

/// The first successful record of `event` in `records` (the real template).
pub fn find_iam_template(records: &[Value], event: IamEvent) -> Option<Value> {
    records
        .iter()
        .find(|r| r["eventSource"] == "iam.amazonaws.com" && r["eventName"] == event.name() && r.get("errorCode").is_none())
        .cloned()
}

impl IamBurst {
    /// A successful burst of `calls` calls 20 s apart.
    pub fn new(actor: Actor, event: IamEvent, calls: u32, start: DateTime<Utc>) -> Self {
        Self { actor, event, calls, start, spacing_s: 20, user_prefix: None, key_ids: None, error_code: None }
    }

    /// The records, from `template` (see [`find_iam_template`]); `seed` makes the ids distinct.
    pub fn records(&self, template: &Value, seed: u32) -> Vec<Value> {
        (0..self.calls).map(|i| self.record(template, seed, i)).collect()
    }

    /// The user a call creates, or creates a key for.
    pub fn user_of(&self, i: u32) -> String {
        match (&self.user_prefix, &self.actor) {
            (Some(p), _) => format!("{p}-{i}"),
            (None, Actor::IamUser { name, .. }) => name.clone(),
            (None, _) => format!("user-{i}"),
        }
    }

    /// The key id a `CreateAccessKey` call creates.
    pub fn key_of(&self, seed: u32, i: u32) -> String {
        self.key_ids.as_ref().and_then(|k| k.get(i as usize).cloned()).unwrap_or_else(|| format!("AKIAINJECTED{seed:04X}{i:04X}"))
    }

    fn record(&self, template: &Value, seed: u32, i: u32) -> Value {
        let mut r = template.clone();
        let t = self.start + Duration::seconds(self.spacing_s * i64::from(i));
        r["eventTime"] = json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        r["eventID"] = json!(format!("20000000-0000-4000-8000-{seed:06x}{i:06x}"));
        r["requestID"] = json!(format!("30000000-0000-4000-8000-{seed:06x}{i:06x}"));
        r["userIdentity"] = self.actor.user_identity();
        r["recipientAccountId"] = json!(self.actor.account());
        let user = self.user_of(i);
        r["requestParameters"] = json!({"userName": user});
        r["responseElements"] = match self.event {
            IamEvent::CreateUser => json!({"user": {"path": "/", "userName": user, "userId": format!("AIDAINJECTED{seed:04X}{i:04X}"),
                "arn": format!("arn:aws:iam::{}:user/{user}", self.actor.account()), "createDate": r["eventTime"].clone()}}),
            IamEvent::CreateAccessKey => {
                json!({"accessKey": {"accessKeyId": self.key_of(seed, i), "status": "Active", "userName": user, "createDate": r["eventTime"].clone()}})
            }
        };
        if let Some(code) = &self.error_code {
            r["errorCode"] = json!(code);
            r["errorMessage"] = json!("injected failure");
            r["responseElements"] = Value::Null;
        }
        r
    }
}
