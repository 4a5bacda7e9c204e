//! CloudTrail's event history, looked up by event id: the one source of a finding's records that
//! `logs:PutLogEvents` cannot forge (`launchguard_core::evidence`).

use std::future::Future;

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};

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
}

#[cfg(feature = "test-util")]
pub use memory::MemoryTrail;

#[cfg(feature = "test-util")]
mod memory {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use tokio::time::Instant;

    use super::EventHistory;
    use crate::CallError;

    /// CloudTrail's event history in memory: records by `(region, event id)`, each visible from an
    /// instant (its lag); every lookup is recorded with its instant.
    #[derive(Debug, Default)]
    pub struct MemoryTrail {
        records: Mutex<BTreeMap<(String, String), (Instant, String)>>,
        lookups: Mutex<Vec<(Instant, String)>>,
        throttled: Mutex<u32>,
    }

    impl MemoryTrail {
        /// Record `record` (a CloudTrail record, JSON) under its own `awsRegion` and `eventID`,
        /// visible to lookups `lag` from now.
        pub fn record(&self, record: &serde_json::Value, lag: std::time::Duration) {
            let key =
                (record["awsRegion"].as_str().unwrap_or_default().to_owned(), record["eventID"].as_str().unwrap_or_default().to_owned());
            lock(&self.records).insert(key, (Instant::now() + lag, record.to_string()));
        }

        /// Answer the next `n` lookups with a throttling error.
        pub fn throttle(&self, n: u32) {
            *lock(&self.throttled) = n;
        }

        /// Every lookup so far: when, and which event id.
        pub fn lookups(&self) -> Vec<(Instant, String)> {
            lock(&self.lookups).clone()
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl EventHistory for MemoryTrail {
        async fn lookup_event(&self, region: &str, event_id: &str) -> Result<Option<String>, CallError> {
            let now = Instant::now();
            lock(&self.lookups).push((now, event_id.to_owned()));
            {
                let mut t = lock(&self.throttled);
                if *t > 0 {
                    *t -= 1;
                    return Err(CallError {
                        message: "cloudtrail:LookupEvents: Rate exceeded (ThrottlingException; HTTP 400)".into(),
                        code: Some("ThrottlingException".into()),
                        retryable: true,
                    });
                }
            }
            Ok(lock(&self.records).get(&(region.to_owned(), event_id.to_owned())).filter(|(from, _)| *from <= now).map(|(_, r)| r.clone()))
        }
    }
}
