//! CloudTrail records: a borrowed model and every container shape met in practice.
//!
//! The model borrows from the input text wherever the JSON string has no escapes, ignores every
//! field it does not need, and keeps `requestParameters` / `responseElements` as raw JSON so that
//! only the records that matter pay for parsing them ([`crate::launch`]).
//!
//! Shapes accepted by [`parse_document`]: a delivery file `{"Records":[...]}`, a JSON array of
//! records, an EventBridge envelope with the record under `detail`, a single record, and JSON
//! lines made of any of these. A record that does not parse is counted with the reason; it never
//! aborts the rest.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{CoreError, excerpt};
use crate::time::{fast_utc_millis, parse_timestamp};

/// One CloudTrail record. Every field is optional: real data (sanitised test logs, Logstash
/// exports) omits some; the callers decide what they need.
///
/// `Q` and `S` are the types of `requestParameters` and `responseElements`: raw JSON by default
/// (any event), or typed for one event so that a record is read in a single pass
/// ([`crate::launch::LaunchRecord`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailRecord<'a, Q = &'a RawValue, S = &'a RawValue> {
    /// `eventTime`, e.g. `2023-07-10T11:45:12Z`.
    #[serde(borrow, default)]
    pub event_time: Option<Cow<'a, str>>,
    /// `@timestamp`, written by Logstash exports instead of `eventTime`.
    #[serde(borrow, default, rename = "@timestamp")]
    pub export_timestamp: Option<Cow<'a, str>>,
    /// `eventSource`, e.g. `ec2.amazonaws.com`.
    #[serde(borrow, default)]
    pub event_source: Option<Cow<'a, str>>,
    /// `eventName`, e.g. `RunInstances`.
    #[serde(borrow, default)]
    pub event_name: Option<Cow<'a, str>>,
    /// `eventID`.
    #[serde(borrow, default, rename = "eventID")]
    pub event_id: Option<Cow<'a, str>>,
    /// `awsRegion`.
    #[serde(borrow, default)]
    pub aws_region: Option<Cow<'a, str>>,
    /// `sourceIPAddress` (an IP, or a service name such as `autoscaling.amazonaws.com`).
    #[serde(borrow, default, rename = "sourceIPAddress")]
    pub source_ip_address: Option<Cow<'a, str>>,
    /// `userAgent`.
    #[serde(borrow, default)]
    pub user_agent: Option<Cow<'a, str>>,
    /// `errorCode`, present when the call failed.
    #[serde(borrow, default)]
    pub error_code: Option<Cow<'a, str>>,
    /// `recipientAccountId`.
    #[serde(borrow, default)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    /// `userIdentity`.
    #[serde(borrow, default)]
    pub user_identity: Option<UserIdentity<'a>>,
    /// `requestParameters` (a missing field is `None`, like every `Option`).
    pub request_parameters: Option<Q>,
    /// `responseElements`.
    pub response_elements: Option<S>,
}

/// `userIdentity` of a record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    /// `type`: IAMUser, AssumedRole, Root, FederatedUser, AWSService, AWSAccount, IdentityCenterUser...
    #[serde(borrow, default, rename = "type")]
    pub identity_type: Option<Cow<'a, str>>,
    /// `principalId`.
    #[serde(borrow, default)]
    pub principal_id: Option<Cow<'a, str>>,
    /// `arn`.
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`.
    #[serde(borrow, default)]
    pub account_id: Option<Cow<'a, str>>,
    /// `accessKeyId`.
    #[serde(borrow, default)]
    pub access_key_id: Option<Cow<'a, str>>,
    /// `userName`.
    #[serde(borrow, default)]
    pub user_name: Option<Cow<'a, str>>,
    /// `invokedBy`: the AWS service that made the call on the principal's behalf.
    #[serde(borrow, default)]
    pub invoked_by: Option<Cow<'a, str>>,
    /// `sessionContext`.
    #[serde(borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    /// `sessionIssuer`: the role (or user) that issued the session.
    #[serde(borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `sourceIdentity`, when the session was created with one.
    #[serde(borrow, default)]
    pub source_identity: Option<Cow<'a, str>>,
    /// `attributes`.
    #[serde(borrow, default)]
    pub attributes: Option<SessionAttributes<'a>>,
}

/// `sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    /// `type`: Role, IAMUser, Root.
    #[serde(borrow, default, rename = "type")]
    pub issuer_type: Option<Cow<'a, str>>,
    /// `arn` of the role or user.
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`.
    #[serde(borrow, default)]
    pub account_id: Option<Cow<'a, str>>,
    /// `userName`: for a role, the role name.
    #[serde(borrow, default)]
    pub user_name: Option<Cow<'a, str>>,
    /// `principalId`: for a role, IAM's unique id of the role (`RoleId`, `AROA…`), which a role
    /// deleted and made again under its name does not keep; for a user (a federation token's
    /// issuer), the user's `UserId`.
    #[serde(borrow, default)]
    pub principal_id: Option<Cow<'a, str>>,
}

/// `sessionContext.attributes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    /// When the session was issued.
    #[serde(borrow, default)]
    pub creation_date: Option<Cow<'a, str>>,
}

impl<Q, S> CloudTrailRecord<'_, Q, S> {
    /// The record's time in epoch milliseconds, from `eventTime` (or `@timestamp`).
    pub fn time_ms(&self) -> Option<i64> {
        let t = self.event_time.as_deref().or(self.export_timestamp.as_deref())?;
        fast_utc_millis(t.as_bytes()).or_else(|| parse_timestamp(t).ok().map(|d| d.timestamp_millis()))
    }

    /// True when `eventSource` and `eventName` are exactly these.
    pub fn is_event(&self, source: &str, name: &str) -> bool {
        self.event_source.as_deref() == Some(source) && self.event_name.as_deref() == Some(name)
    }
}

fn owned(c: &Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    c.as_deref().map(|s| Cow::Owned(s.to_owned()))
}

impl<Q, S> CloudTrailRecord<'_, Q, S> {
    /// A copy that owns its text, without `requestParameters` and `responseElements` (read into
    /// [`crate::launch::LaunchFacts`] first): what is kept of a matching record once the text it
    /// was read from is gone (files scanned in parallel, aggregated after).
    pub fn to_owned_bare(&self) -> CloudTrailRecord<'static, (), ()> {
        CloudTrailRecord {
            event_time: owned(&self.event_time),
            export_timestamp: owned(&self.export_timestamp),
            event_source: owned(&self.event_source),
            event_name: owned(&self.event_name),
            event_id: owned(&self.event_id),
            aws_region: owned(&self.aws_region),
            source_ip_address: owned(&self.source_ip_address),
            user_agent: owned(&self.user_agent),
            error_code: owned(&self.error_code),
            recipient_account_id: owned(&self.recipient_account_id),
            user_identity: self.user_identity.as_ref().map(UserIdentity::to_owned_identity),
            request_parameters: None,
            response_elements: None,
        }
    }
}

impl UserIdentity<'_> {
    /// A copy that owns its text.
    pub fn to_owned_identity(&self) -> UserIdentity<'static> {
        UserIdentity {
            identity_type: owned(&self.identity_type),
            principal_id: owned(&self.principal_id),
            arn: owned(&self.arn),
            account_id: owned(&self.account_id),
            access_key_id: owned(&self.access_key_id),
            user_name: owned(&self.user_name),
            invoked_by: owned(&self.invoked_by),
            session_context: self.session_context.as_ref().map(|c| SessionContext {
                session_issuer: c.session_issuer.as_ref().map(|i| SessionIssuer {
                    issuer_type: owned(&i.issuer_type),
                    arn: owned(&i.arn),
                    account_id: owned(&i.account_id),
                    user_name: owned(&i.user_name),
                    principal_id: owned(&i.principal_id),
                }),
                source_identity: owned(&c.source_identity),
                attributes: c.attributes.as_ref().map(|a| SessionAttributes { creation_date: owned(&a.creation_date) }),
            }),
        }
    }
}

/// A record that could not be read, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Position of the record in the input (0-based, in input order).
    pub index: usize,
    /// Why it was rejected.
    pub reason: String,
}

/// The records read from one document, and the ones that could not be read.
#[derive(Debug, Default)]
pub struct RecordBatch<'a> {
    /// Records that parsed.
    pub records: Vec<CloudTrailRecord<'a>>,
    /// Records that did not.
    pub errors: Vec<RecordError>,
}

/// Parse one record from its JSON text. An object with neither `eventSource` nor `eventName`
/// is not a CloudTrail record.
pub fn parse_record(text: &str) -> Result<CloudTrailRecord<'_>, String> {
    let r: CloudTrailRecord<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if r.event_source.is_none() && r.event_name.is_none() {
        return Err("not a CloudTrail record: no eventSource and no eventName".into());
    }
    Ok(r)
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default, rename = "Records")]
    records: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "detail-type")]
    detail_type: Option<Cow<'a, str>>,
}

/// Read every CloudTrail record from a document of any supported shape.
///
/// Errors only when nothing in the input is JSON at all; records that fail individually are in
/// [`RecordBatch::errors`].
pub fn parse_document(text: &str) -> Result<RecordBatch<'_>, CoreError> {
    let mut batch = RecordBatch::default();
    match serde_json::from_str::<&RawValue>(text) {
        Ok(raw) => push_value(raw, &mut batch, 0),
        Err(whole_err) => {
            let mut any_json = false;
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                match serde_json::from_str::<&RawValue>(line) {
                    Ok(raw) => {
                        any_json = true;
                        push_value(raw, &mut batch, 1);
                    }
                    Err(e) => batch
                        .errors
                        .push(RecordError { index: batch.records.len() + batch.errors.len(), reason: format!("line is not JSON: {e}") }),
                }
            }
            if !any_json {
                return Err(CoreError::NotCloudTrail(format!("input is not JSON nor JSON lines: {whole_err}")));
            }
        }
    }
    Ok(batch)
}

fn push_value<'a>(raw: &'a RawValue, batch: &mut RecordBatch<'a>, depth: u8) {
    let text = raw.get();
    let index = batch.records.len() + batch.errors.len();
    let fail = |batch: &mut RecordBatch<'a>, reason: String| batch.errors.push(RecordError { index, reason });
    match text.as_bytes().first() {
        Some(b'[') if depth < 2 => match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => items.into_iter().for_each(|i| push_value(i, batch, depth + 1)),
            Err(e) => fail(batch, e.to_string()),
        },
        Some(b'{') => {
            let probe: Probe<'a> = match serde_json::from_str(text) {
                Ok(p) => p,
                Err(e) => return fail(batch, e.to_string()),
            };
            if let Some(records) = probe.records.filter(|_| depth < 2) {
                records.into_iter().for_each(|r| push_value(r, batch, depth + 1));
            } else if let Some(detail) = probe.detail.filter(|_| probe.detail_type.is_some() && depth < 2) {
                push_value(detail, batch, depth + 1);
            } else {
                match parse_record(text) {
                    Ok(r) => batch.records.push(r),
                    Err(e) => fail(batch, e),
                }
            }
        }
        _ => fail(batch, format!("expected a JSON object, found {}", excerpt(text))),
    }
}
