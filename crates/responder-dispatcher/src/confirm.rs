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
//!
//! One delivery invokes handlers only in its first
//! [`INVOKE_WINDOW`](crate::ledger::INVOKE_WINDOW) (60 s), so it confirms all its principals
//! before that window's last [`ACT_RESERVE`] (5 s, to claim and start invoking), the smallest
//! evidence first: a principal that needs many lookups (up to 80, 40 s) never starves one beside
//! it that needs a few, and confirming never pushes the actions past the window (where nothing
//! would be sent, on every retry alike). A principal the time left could not finish is
//! notify-only, and the page says so. Evidence that could not cross its horizon even if CloudTrail
//! confirmed all of it ([`can_cross`]) is not looked up at all.

use std::time::Duration;

use launchguard_aws::trail::{EventHistory, LOOKUP_INTERVAL};
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::evidence::{Answer, Confirmation, can_cross, confirm, too_few};
use tokio::time::Instant;
use tracing::{info, warn};

/// How long to wait before looking up again the records CloudTrail did not hold yet.
pub const LAG_RETRY: Duration = Duration::from_secs(10);

/// What is left of a delivery's invoke window when it stops confirming: the time to claim the
/// actions in the ledger and start sealing and invoking them (a request needs only to start
/// before the window ends).
pub const ACT_RESERVE: Duration = Duration::from_secs(5);

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
/// history to catch up, and looking nothing up after `deadline` (the delivery's invoke window
/// less [`ACT_RESERVE`]). The note for a person when it is not confirmed.
pub async fn confirm_principal<T: EventHistory>(
    f: &FlaggedPrincipal,
    trail: &T,
    pace: &mut Pace,
    wait: Duration,
    deadline: Instant,
) -> Result<(), String> {
    if let Some(ev) = f.evidence.as_ref().filter(|e| !e.events.is_empty() && !can_cross(e)) {
        let note = format!("NOT contained, notify-only: {}", too_few(ev));
        warn!(principal = %f.principal.label(), note = %note, "evidence cannot cross its horizon: nothing looked up; notify-only");
        return Err(note);
    }
    let own = Instant::now() + wait;
    let until = own.min(deadline);
    // the delivery's deadline, not this principal's wait for CloudTrail, is what ends it
    let deadline_first = deadline + Duration::from_secs(1) < own;
    let events = f.evidence.as_ref().map(|e| e.events.as_slice()).unwrap_or_default();
    let mut answers: Vec<Answer> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut cut = false;
    loop {
        errors.clear();
        let found = |answers: &[Answer], id: &str| answers.iter().any(|a| a.event_id == id && a.record.is_some());
        let todo: Vec<_> = events.iter().filter(|e| !found(&answers, &e.event_id)).collect();
        for e in todo {
            if Instant::now() >= deadline {
                cut = true;
                break;
            }
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
        if all_answered || events.is_empty() || left.is_zero() || cut {
            let out_of_budget = !all_answered && deadline_first;
            let Confirmation::Unconfirmed { events: failed, why } = verdict else { return Ok(()) };
            // out of budget, an event never looked up is not named as missing from CloudTrail
            let asked = |id: &str| !out_of_budget || answers.iter().any(|a| launchguard_core::text::untrusted(&a.event_id) == id);
            let ids: Vec<String> = failed.iter().filter(|(id, _)| asked(id)).map(|(id, reason)| format!("{id} ({reason})")).collect();
            let mut note = format!("NOT contained, notify-only: {why}");
            if !ids.is_empty() {
                note.push_str(&format!("; unconfirmed event id(s): {}", ids.join(", ")));
            }
            if out_of_budget {
                let looked = events.iter().filter(|e| answers.iter().any(|a| a.event_id == e.event_id)).count();
                note.push_str(&format!(
                    "; the delivery's time for confirming ran out after {looked} of the {} record(s) were looked up (it must act \
                     within its first {} s; smaller evidence first)",
                    events.len(),
                    crate::ledger::INVOKE_WINDOW.num_seconds()
                ));
            } else if !all_answered && !events.is_empty() {
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
