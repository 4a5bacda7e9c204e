//! Only what CloudTrail confirms is contained.
//!
//! Why here: the dispatcher is the last gate before any action, and every detector (the alarm
//! detector, its fallback and re-check, and any detector to come, the stream path among them)
//! hands its findings to it. Records forged into the trail's log group pass through whichever
//! detector reads them; only a check in the dispatcher cannot be skipped by a detector that
//! forgets it. The detector names the records ([`launchguard_core::evidence`]); the dispatcher
//! looks each one up in CloudTrail's event history, which `logs:PutLogEvents` cannot write.
//!
//! How many: only the fewest records that cross the threshold (the finding's evidence, at most
//! [`MAX_EVIDENCE`](launchguard_core::evidence::MAX_EVIDENCE)), one `LookupEvents` each, spaced
//! by [`LOOKUP_INTERVAL`] (CloudTrail allows 2 requests a second per account and region).
//!
//! While CloudTrail's event history lags (minutes after the call), the records not found yet are
//! looked up again every [`LAG_RETRY`], for at most `LG_CONFIRM_WAIT_SECONDS`; then the principal
//! is notify-only, and the page and the recorded finding name the unconfirmed event ids and the
//! wait.

use std::time::Duration;

use launchguard_aws::trail::{EventHistory, LOOKUP_INTERVAL};
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::evidence::{Answer, Confirmation, confirm};
use tokio::time::Instant;
use tracing::{info, warn};

/// How long to wait before looking up again the records CloudTrail did not hold yet.
pub const LAG_RETRY: Duration = Duration::from_secs(10);

/// Lookups spaced by [`LOOKUP_INTERVAL`] across one delivery.
#[derive(Debug, Default)]
pub struct Pace {
    last: Option<Instant>,
}

impl Pace {
    async fn wait(&mut self) {
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + LOOKUP_INTERVAL).await;
        }
        self.last = Some(Instant::now());
    }
}

/// Confirm one flagged principal's evidence with CloudTrail, waiting up to `wait` for its event
/// history to catch up. The note for a person when it is not confirmed.
pub async fn confirm_principal<T: EventHistory>(f: &FlaggedPrincipal, trail: &T, pace: &mut Pace, wait: Duration) -> Result<(), String> {
    let until = Instant::now() + wait;
    let events = f.evidence.as_ref().map(|e| e.events.as_slice()).unwrap_or_default();
    let mut answers: Vec<Answer> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    loop {
        errors.clear();
        let found = |answers: &[Answer], id: &str| answers.iter().any(|a| a.event_id == id && a.record.is_some());
        let todo: Vec<_> = events.iter().filter(|e| !found(&answers, &e.event_id)).collect();
        for e in todo {
            pace.wait().await;
            match trail.lookup_event(&e.region, &e.event_id).await {
                Ok(record) => {
                    answers.retain(|a| a.event_id != e.event_id);
                    answers.push(Answer { event_id: e.event_id.clone(), record });
                }
                Err(err) => errors.push(err.message),
            }
        }
        let verdict = confirm(&f.principal, f.evidence.as_ref(), &answers);
        let all_answered = events.iter().all(|e| found(&answers, &e.event_id));
        if verdict == Confirmation::Confirmed {
            info!(principal = %f.principal.label(), events = events.len(), "evidence confirmed by CloudTrail");
            return Ok(());
        }
        let left = until.saturating_duration_since(Instant::now());
        if all_answered || events.is_empty() || left.is_zero() {
            let Confirmation::Unconfirmed { events: failed, why } = verdict else { return Ok(()) };
            let ids: Vec<String> = failed.iter().map(|(id, reason)| format!("{id} ({reason})")).collect();
            let mut note = format!("NOT contained, notify-only: {why}");
            if !ids.is_empty() {
                note.push_str(&format!("; unconfirmed event id(s): {}", ids.join(", ")));
            }
            if !all_answered && !events.is_empty() {
                note.push_str(&format!(
                    "; looked up again every {} s for {} s while CloudTrail's event history caught up",
                    LAG_RETRY.as_secs(),
                    wait.as_secs()
                ));
            }
            if !errors.is_empty() {
                note.push_str(&format!("; lookups failed: {}", launchguard_core::text::untrusted(&errors.join("; "))));
            }
            note.push_str(
                ". The records in the trail's log group may be forged (logs:PutLogEvents can write them): check them in CloudTrail's \
                 event history before acting by hand",
            );
            warn!(principal = %f.principal.label(), note = %note, "evidence not confirmed: notify-only");
            return Err(note);
        }
        tokio::time::sleep(LAG_RETRY.min(left)).await;
    }
}
