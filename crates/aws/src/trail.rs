//! CloudTrail's event history, looked up by event id or by who made the calls over a time range:
//! the one source of a finding's records that `logs:PutLogEvents` cannot forge
//! (`launchguard_core::evidence`).

use std::future::Future;

use aws_sdk_cloudtrail::primitives::DateTime as SdkTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use chrono::{DateTime, Utc};

use crate::{CallError, classify};

/// `LookupEvents` allows 2 requests a second per account and region: callers space their
/// lookups by at least this much.
pub const LOOKUP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Looking one event up in CloudTrail's event history.
pub trait EventHistory: Send + Sync {
    /// `cloudtrail:LookupEvents` with `LookupAttributes` `EventId` = `event_id`, in `region`: the
    /// event's record (`CloudTrailEvent`), or `None` while CloudTrail does not hold it (its
    /// event history lags the API call by minutes).
    fn lookup_event(&self, region: &str, event_id: &str) -> impl Future<Output = Result<Option<String>, CallError>> + Send;

    /// One page of `cloudtrail:LookupEvents` in `region` with one `LookupAttributes` entry (`who`),
    /// `StartTime` = `range.0`, `EndTime` = `range.1`, at most [`PAGE_SIZE`] events, from `next`
    /// (the previous page's `NextToken`): the records (`CloudTrailEvent`), newest first as
    /// CloudTrail answers, and the token of the next page, `None` after the last.
    fn lookup_page(
        &self,
        region: &str,
        who: &Who,
        range: (DateTime<Utc>, DateTime<Utc>),
        next: Option<String>,
    ) -> impl Future<Output = Result<TrailPage, CallError>> + Send;
}

/// The most events one `LookupEvents` page returns (CloudTrail's own maximum).
pub const PAGE_SIZE: i32 = 50;

/// Whose calls a ranged lookup asks for: one `LookupAttributes` entry. CloudTrail writes both
/// from the call's credentials, so no record of the log group adds to what it answers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Who {
    /// `Username`: an IAM user's name (every one of its keys and its console sessions).
    Username(String),
    /// `AccessKeyId`: the calls made with one access key (long-term or a session's).
    AccessKeyId(String),
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Username(u) => write!(f, "Username={u}"),
            Who::AccessKeyId(k) => write!(f, "AccessKeyId={k}"),
        }
    }
}

/// One page of a ranged lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailPage {
    /// The records (`CloudTrailEvent`), as CloudTrail holds them.
    pub records: Vec<String>,
    /// `NextToken`: `None` after the last page.
    pub next: Option<String>,
}

fn sdk_time(t: DateTime<Utc>) -> SdkTime {
    SdkTime::from_millis(t.timestamp_millis())
}

/// CloudTrail, for real.
#[derive(Debug, Clone)]
pub struct CloudTrail(pub aws_sdk_cloudtrail::Client);

impl EventHistory for CloudTrail {
    async fn lookup_event(&self, region: &str, event_id: &str) -> Result<Option<String>, CallError> {
        let attr = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventId)
            .attribute_value(event_id)
            .build()
            .map_err(|e| CallError::new(format!("cloudtrail:LookupEvents: {e}"), false))?;
        let out = self
            .0
            .lookup_events()
            .lookup_attributes(attr)
            .max_results(1)
            .customize()
            .config_override(
                aws_sdk_cloudtrail::config::Builder::default().region(aws_sdk_cloudtrail::config::Region::new(region.to_owned())),
            )
            .send()
            .await
            .map_err(|e| classify("cloudtrail:LookupEvents", e))?;
        Ok(out.events().iter().find(|e| e.event_id() == Some(event_id)).and_then(|e| e.cloud_trail_event().map(str::to_owned)))
    }

    async fn lookup_page(
        &self,
        region: &str,
        who: &Who,
        range: (DateTime<Utc>, DateTime<Utc>),
        next: Option<String>,
    ) -> Result<TrailPage, CallError> {
        let (key, value) = match who {
            Who::Username(u) => (LookupAttributeKey::Username, u),
            Who::AccessKeyId(k) => (LookupAttributeKey::AccessKeyId, k),
        };
        let attr = LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(value)
            .build()
            .map_err(|e| CallError::new(format!("cloudtrail:LookupEvents: {e}"), false))?;
        let out = self
            .0
            .lookup_events()
            .lookup_attributes(attr)
            .start_time(sdk_time(range.0))
            .end_time(sdk_time(range.1))
            .max_results(PAGE_SIZE)
            .set_next_token(next)
            .customize()
            .config_override(
                aws_sdk_cloudtrail::config::Builder::default().region(aws_sdk_cloudtrail::config::Region::new(region.to_owned())),
            )
            .send()
            .await
            .map_err(|e| classify("cloudtrail:LookupEvents", e))?;
        Ok(TrailPage {
            records: out.events().iter().filter_map(|e| e.cloud_trail_event().map(str::to_owned)).collect(),
            next: out.next_token().filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }
}

#[cfg(feature = "test-util")]
pub use memory::MemoryTrail;

#[cfg(feature = "test-util")]
mod memory {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use tokio::time::Instant;

    use chrono::{DateTime, Utc};

    use super::{EventHistory, PAGE_SIZE, TrailPage, Who};
    use crate::CallError;

    /// CloudTrail's event history in memory: records by `(region, event id)`, each visible from an
    /// instant (its lag); every lookup is recorded with its instant.
    #[derive(Debug, Default)]
    pub struct MemoryTrail {
        records: Mutex<BTreeMap<(String, String), Held>>,
        lookups: Mutex<Vec<(Instant, String)>>,
        throttled: Mutex<u32>,
    }

    /// One record as the fake holds it: visible from `visible`, its text, and what a ranged
    /// lookup filters on, read once when it is recorded (parsing every record on every lookup made
    /// the 300-principal dispatcher test 40 s of CPU).
    #[derive(Debug)]
    struct Held {
        visible: Instant,
        text: String,
        value: serde_json::Value,
        at: Option<i64>,
    }

    impl MemoryTrail {
        /// Record `record` (a CloudTrail record, JSON) under its own `awsRegion` and `eventID`,
        /// visible to lookups `lag` from now.
        pub fn record(&self, record: &serde_json::Value, lag: std::time::Duration) {
            let key =
                (record["awsRegion"].as_str().unwrap_or_default().to_owned(), record["eventID"].as_str().unwrap_or_default().to_owned());
            let at = record["eventTime"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_millis());
            let held = Held { visible: Instant::now() + lag, text: record.to_string(), value: record.clone(), at };
            lock(&self.records).insert(key, held);
        }

        /// Answer the next `n` lookups with a throttling error.
        pub fn throttle(&self, n: u32) {
            *lock(&self.throttled) = n;
        }

        /// Every lookup so far: when, and which event id (or, for a ranged lookup, whose calls:
        /// `Username=…`, `AccessKeyId=…`).
        pub fn lookups(&self) -> Vec<(Instant, String)> {
            lock(&self.lookups).clone()
        }

        /// Answer with a throttling error while throttled.
        fn throttled(&self) -> Result<(), CallError> {
            let mut t = lock(&self.throttled);
            if *t > 0 {
                *t -= 1;
                return Err(CallError {
                    message: "cloudtrail:LookupEvents: Rate exceeded (ThrottlingException; HTTP 400)".into(),
                    code: Some("ThrottlingException".into()),
                    retryable: true,
                });
            }
            Ok(())
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl EventHistory for MemoryTrail {
        async fn lookup_event(&self, region: &str, event_id: &str) -> Result<Option<String>, CallError> {
            let now = Instant::now();
            lock(&self.lookups).push((now, event_id.to_owned()));
            self.throttled()?;
            Ok(lock(&self.records).get(&(region.to_owned(), event_id.to_owned())).filter(|h| h.visible <= now).map(|h| h.text.clone()))
        }

        async fn lookup_page(
            &self,
            region: &str,
            who: &Who,
            range: (DateTime<Utc>, DateTime<Utc>),
            next: Option<String>,
        ) -> Result<TrailPage, CallError> {
            let now = Instant::now();
            lock(&self.lookups).push((now, who.to_string()));
            self.throttled()?;
            let (from, to) = (range.0.timestamp_millis(), range.1.timestamp_millis());
            // newest first, as CloudTrail answers; the token is the position of the next page
            let mut hits: Vec<(i64, String)> = lock(&self.records)
                .iter()
                .filter(|((r, _), h)| r == region && h.visible <= now)
                .filter_map(|(_, h)| {
                    let t = h.at?;
                    ((from..=to).contains(&t) && names(&h.value, who)).then(|| (t, h.text.clone()))
                })
                .collect();
            hits.sort_by_key(|b| std::cmp::Reverse(b.0));
            let at: usize = next.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
            let size = usize::try_from(PAGE_SIZE).unwrap_or(50);
            let records: Vec<String> = hits.iter().skip(at).take(size).map(|(_, r)| r.clone()).collect();
            let next = (at + size < hits.len()).then(|| (at + size).to_string());
            Ok(TrailPage { records, next })
        }
    }

    /// True when CloudTrail files `record` under `who`: `Username` is an IAM user's name, the
    /// session name of a role's session, `root` for the root user; `AccessKeyId` the key used.
    fn names(record: &serde_json::Value, who: &Who) -> bool {
        let id = &record["userIdentity"];
        match who {
            Who::AccessKeyId(k) => id["accessKeyId"].as_str() == Some(k.as_str()),
            Who::Username(u) => {
                let name = match id["type"].as_str() {
                    Some("IAMUser") => id["userName"].as_str().map(str::to_owned),
                    Some("Root") => Some("root".to_owned()),
                    _ => id["arn"].as_str().and_then(|a| a.rsplit('/').next()).map(str::to_owned),
                };
                name.as_deref() == Some(u.as_str())
            }
        }
    }
}
