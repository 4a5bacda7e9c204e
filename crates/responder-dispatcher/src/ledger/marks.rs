//! One page and one incident record per outcome: the marks on the finding entry.
//!
//! A delivery marks the page (or the record) *being sent*, with the time, before it publishes,
//! and *sent* after. A send that fails gives the mark back; a mark that cannot be given back
//! stays *being sent*, and once older than [`STALE_CLAIM`] the next delivery sends again: a
//! duplicate page is better than none. A fresh *being sent* mark of another delivery is a
//! retryable failure of this one (it may have died before sending), never a silent success.

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::store::ConditionalStore;
use serde::{Deserialize, Serialize};

use super::entry::{FindingEntry, finding_key};
use super::{Ledger, STALE_CLAIM};

/// Where a page (or record) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MarkState {
    /// A delivery is sending it since then.
    Sending {
        /// When the mark was taken.
        since: DateTime<Utc>,
    },
    /// Sent.
    Sent,
}

/// The page (or record) for one outcome fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// The outcome fingerprint.
    pub fingerprint: String,
    /// Being sent, or sent.
    pub state: MarkState,
}

/// A mark as stored; a bare fingerprint is a mark written before marks had states: sent.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredMark {
    Sent(String),
    Mark { fingerprint: String, state: MarkState },
}

impl<'de> Deserialize<'de> for Mark {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match StoredMark::deserialize(d)? {
            StoredMark::Sent(fingerprint) => Self { fingerprint, state: MarkState::Sent },
            StoredMark::Mark { fingerprint, state } => Self { fingerprint, state },
        })
    }
}

/// What a delivery may do with a page (or record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkClaim {
    /// Send it: this delivery holds the mark.
    Send,
    /// Sent before for this outcome.
    Sent,
    /// Another delivery is sending it since then (or died doing so): retry.
    BeingSent {
        /// When that delivery took the mark.
        since: DateTime<Utc>,
    },
}

fn slot(f: &mut FindingEntry, record: bool) -> &mut Option<Mark> {
    if record { &mut f.recorded } else { &mut f.notified }
}

impl<S: ConditionalStore> Ledger<'_, S> {
    /// Claim the page (or the record) for this outcome fingerprint.
    pub async fn claim_mark(&self, finding_id: &str, record: bool, fingerprint: &str, now: DateTime<Utc>) -> Result<MarkClaim, CallError> {
        let mut claim = MarkClaim::Send;
        self.update::<FindingEntry>(&finding_key(finding_id), |cur| {
            let mut f = cur?;
            let mark = slot(&mut f, record);
            claim = match mark.as_ref() {
                Some(m) if m.fingerprint == fingerprint => match m.state {
                    MarkState::Sent => MarkClaim::Sent,
                    MarkState::Sending { since } if now - since < STALE_CLAIM => MarkClaim::BeingSent { since },
                    // the delivery that took it died, or could not give it back: send again
                    MarkState::Sending { .. } => MarkClaim::Send,
                },
                _ => MarkClaim::Send,
            };
            if claim != MarkClaim::Send {
                return None;
            }
            *mark = Some(Mark { fingerprint: fingerprint.to_owned(), state: MarkState::Sending { since: now } });
            Some(f)
        })
        .await?;
        Ok(claim)
    }

    /// The page (or record) held by this delivery was sent (`sent`), or could not be sent and is
    /// given back so that a retry sends it. An error leaves the mark *being sent*: a delivery
    /// after [`STALE_CLAIM`] sends it again.
    pub async fn finish_mark(&self, finding_id: &str, record: bool, fingerprint: &str, sent: bool) -> Result<(), CallError> {
        self.update::<FindingEntry>(&finding_key(finding_id), |cur| {
            let mut f = cur?;
            let mark = slot(&mut f, record);
            if mark.as_ref().is_none_or(|m| m.fingerprint != fingerprint) {
                return None;
            }
            *mark = sent.then(|| Mark { fingerprint: fingerprint.to_owned(), state: MarkState::Sent });
            Some(f)
        })
        .await
        .map(|_| ())
    }
}
