//! Only what CloudTrail confirms is contained.
//!
//! Why here: the dispatcher is the last gate before any action, and every detector (the alarm
//! detector, its fallback and re-check, and any detector to come, the stream path among them)
//! hands its findings to it. Records forged into the trail's log group pass through whichever
//! detector reads them; only a check in the dispatcher cannot be skipped by a detector that
//! forgets it. The detector names the records ([`launchguard_core::evidence`]); the dispatcher
//! looks each one up in CloudTrail's event history, which `logs:PutLogEvents` cannot write.
//!
//! How many: only what is needed. A principal's evidence is the fewest records that cross the
//! threshold, and beside them the rest of the crossing window as alternatives, at most
//! [`MAX_EVIDENCE`](launchguard_core::evidence::MAX_EVIDENCE) in all: every principal's fewest
//! records are looked up first, the alternatives of a principal still undecided after; each distinct
//! event id (and region) is looked up once per delivery, whichever principals name it, one
//! `LookupEvents` each, spaced by [`LOOKUP_INTERVAL`] (CloudTrail allows 2 requests a second per
//! account and region). A principal's lookups stop as soon as what CloudTrail confirmed crosses
//! its horizon, or as soon as what it refuted leaves the rest unable to cross it.
//!
//! How long: every lookup ends before the delivery's confirmation deadline ([`confirm_all`]'s
//! `until`, derived from the function's remaining time: the handlers must still be invoked and
//! finish before Lambda stops the delivery). A principal not confirmed by then is notify-only
//! and the page says so; so is a finding of 300 principals whose lookups would take 150 s.
//!
//! While CloudTrail's event history lags (minutes after the call), the records not found yet are
//! looked up again every [`LAG_RETRY`], for at most `LG_CONFIRM_WAIT_SECONDS` (and never past the
//! deadline); then the principal is notify-only, and the page and the recorded finding name the
//! unconfirmed event ids and the wait.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use launchguard_aws::trail::{EventHistory, LOOKUP_INTERVAL};
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::evidence::{Answer, Confirmation, EvidenceEvent, Proven, confirm, possible, proven};
use tokio::time::Instant;
use tracing::{info, warn};

/// How long to wait before looking up again the records CloudTrail did not hold yet.
pub const LAG_RETRY: Duration = Duration::from_secs(10);

/// Lookups spaced by [`LOOKUP_INTERVAL`] across one delivery.
#[derive(Debug, Default)]
struct Pace {
    last: Option<Instant>,
}

impl Pace {
    /// When the next lookup may start.
    fn next(&self) -> Instant {
        self.last.map_or_else(Instant::now, |l| (l + LOOKUP_INTERVAL).max(Instant::now()))
    }

    async fn wait(&mut self) {
        tokio::time::sleep_until(self.next()).await;
        self.last = Some(Instant::now());
    }
}

/// What CloudTrail answered in this delivery, by `(region, event id)`: the record, or `None`
/// when it did not hold it at the last lookup.
type History = BTreeMap<(String, String), Option<String>>;

/// Why the lookups of an undecided principal stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    /// CloudTrail did not hold every record by the end of the lag wait.
    Lag,
    /// The delivery's confirmation deadline came first.
    Budget,
}

/// The distinct events of a principal's evidence, in its order (a repeated event id once): its
/// fewest records, then its alternatives.
fn distinct(f: &FlaggedPrincipal) -> Vec<&EvidenceEvent> {
    let mut seen = BTreeSet::new();
    f.evidence.as_ref().map(|e| e.claims().filter(|e| seen.insert(e.event_id.as_str())).collect()).unwrap_or_default()
}

/// Which of a principal's records a pass looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The fewest records that cross (`events`), smallest evidence first.
    Fewest,
    /// The rest of the crossing window (`alternatives`), for the principals still undecided: a
    /// forged record among the fewest (one bigger than the real ones) does not leave the real
    /// ones unread.
    Alternatives,
}

/// The distinct events of `f` that `pass` looks up.
fn of_pass(f: &FlaggedPrincipal, pass: Pass) -> Vec<&EvidenceEvent> {
    let Some(ev) = f.evidence.as_ref() else { return Vec::new() };
    let mut seen = BTreeSet::new();
    let fewest: Vec<&EvidenceEvent> = ev.events.iter().filter(|e| seen.insert(e.event_id.as_str())).collect();
    match pass {
        Pass::Fewest => fewest,
        Pass::Alternatives => ev.alternatives.iter().filter(|e| seen.insert(e.event_id.as_str())).collect(),
    }
}

fn key(e: &EvidenceEvent) -> (String, String) {
    (e.region.clone(), e.event_id.clone())
}

/// The answers this delivery has for `f`'s evidence.
fn answers(f: &FlaggedPrincipal, history: &History) -> Vec<Answer> {
    distinct(f)
        .into_iter()
        .filter_map(|e| history.get(&key(e)).map(|r| Answer { event_id: e.event_id.clone(), record: r.clone() }))
        .collect()
}

/// The verdict on `f` when the answers so far decide it: confirmed, or unable to be.
fn decided(f: &FlaggedPrincipal, history: &History) -> Option<Confirmation> {
    let answers = answers(f, history);
    let verdict = confirm(&f.principal, f.evidence.as_ref(), &answers);
    (verdict == Confirmation::Confirmed || !possible(&f.principal, f.evidence.as_ref(), &answers)).then_some(verdict)
}

/// Confirm each flagged principal's evidence with CloudTrail, all within one delivery's limits:
/// waiting up to `wait` for its event history to catch up, and looking nothing up after `until`.
/// Per principal, in order: `Ok` when confirmed, with what CloudTrail's own records of it prove
/// ([`Proven`]: the only keys and instances an action may take from records), else the note for a
/// person (the principal is notify-only).
pub async fn confirm_all<T: EventHistory>(
    principals: &[&FlaggedPrincipal],
    wanted: &[Wanted],
    trail: &T,
    wait: Duration,
    until: Instant,
) -> Vec<Result<Proven, String>> {
    let lag_until = (Instant::now() + wait).min(until);
    let mut history = History::new();
    let mut errors: Vec<Vec<String>> = vec![Vec::new(); principals.len()];
    let mut verdicts: Vec<Option<Confirmation>> = vec![None; principals.len()];
    let mut pace = Pace::default();
    let mut lookups = 0usize;
    // the smallest evidence first: a principal that needs many lookups (up to MAX_EVIDENCE, 40 s)
    // never starves one beside it that needs a few
    let mut order: Vec<(usize, &FlaggedPrincipal)> = principals.iter().copied().enumerate().collect();
    order.sort_by_cached_key(|(_, f)| of_pass(f, Pass::Fewest).len());
    let stopped = 'rounds: loop {
        // one round: every undecided principal's records without a record yet, each key once;
        // the fewest records of all first, then the alternatives of those still undecided
        let mut this_round = BTreeSet::new();
        for pass in [Pass::Fewest, Pass::Alternatives] {
            for &(i, f) in &order {
                if verdicts[i].is_some() {
                    continue;
                }
                verdicts[i] = decided(f, &history);
                for e in of_pass(f, pass) {
                    if verdicts[i].is_some() {
                        break;
                    }
                    let k = key(e);
                    if matches!(history.get(&k), Some(Some(_))) || this_round.contains(&k) {
                        continue;
                    }
                    if pace.next() + LOOKUP_INTERVAL > until {
                        break 'rounds Stopped::Budget;
                    }
                    pace.wait().await;
                    lookups += 1;
                    this_round.insert(k.clone());
                    match trail.lookup_event(&e.region, &e.event_id).await {
                        Ok(record) => {
                            history.insert(k, record);
                        }
                        Err(err) => errors[i].push(err.message),
                    }
                    verdicts[i] = decided(f, &history);
                }
            }
        }
        if verdicts.iter().all(Option::is_some) {
            break Stopped::Lag;
        }
        let left = lag_until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break if lag_until >= until { Stopped::Budget } else { Stopped::Lag };
        }
        tokio::time::sleep(LAG_RETRY.min(left)).await;
    };
    // The artifacts: a confirmed principal whose plan names a key or an instance that the records
    // looked up do not show yet gets the rest of its named records looked up, while the budget
    // allows (only the records CloudTrail holds prove a key or an instance: `plan/proven.rs`).
    'artifacts: for (i, f) in principals.iter().enumerate() {
        if verdicts[i] != Some(Confirmation::Confirmed) {
            continue;
        }
        let Some(want) = wanted.get(i) else { continue };
        for e in distinct(f) {
            if want.covered_by(&proven(&f.principal, f.evidence.as_ref(), &answers(f, &history))) {
                break;
            }
            let k = key(e);
            if history.contains_key(&k) {
                continue;
            }
            if pace.next() + LOOKUP_INTERVAL > until {
                break 'artifacts;
            }
            pace.wait().await;
            lookups += 1;
            match trail.lookup_event(&e.region, &e.event_id).await {
                Ok(record) => {
                    history.insert(k, record);
                }
                Err(err) => errors[i].push(err.message),
            }
        }
    }
    let confirmed = verdicts.iter().filter(|v| **v == Some(Confirmation::Confirmed)).count();
    let limits = Limits { wait, stopped, confirmed, of: principals.len(), lookups };
    principals
        .iter()
        .zip(verdicts)
        .zip(errors)
        .map(|((f, verdict), errors)| {
            let undecided = verdict.is_none();
            let verdict = verdict.unwrap_or_else(|| confirm(&f.principal, f.evidence.as_ref(), &answers(f, &history)));
            match verdict {
                Confirmation::Confirmed => {
                    info!(principal = %f.principal.label(), "evidence confirmed by CloudTrail");
                    Ok(proven(&f.principal, f.evidence.as_ref(), &answers(f, &history)))
                }
                Confirmation::Unconfirmed { events, why } => {
                    let note = note(&why, &events, undecided.then_some(&limits), &errors);
                    warn!(principal = %f.principal.label(), note = %note, "evidence not confirmed: notify-only");
                    Err(note)
                }
            }
        })
        .collect()
}

/// The keys and instances a principal's plan takes from records: what CloudTrail's records must
/// show before an action takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Access key ids to deactivate.
    pub keys: BTreeSet<String>,
    /// `(region, instance id)` to stop or terminate.
    pub instances: BTreeSet<(String, String)>,
}

impl Wanted {
    /// True when `proven` shows every key and instance wanted.
    fn covered_by(&self, proven: &Proven) -> bool {
        self.keys.iter().all(|k| proven.access_keys.contains(k)) && self.instances.iter().all(|(r, i)| proven.launched(r, i).is_some())
    }
}

/// What ended the lookups, for the note of a principal they left undecided.
struct Limits {
    wait: Duration,
    stopped: Stopped,
    confirmed: usize,
    of: usize,
    lookups: usize,
}

fn note(why: &str, events: &[(String, String)], limits: Option<&Limits>, errors: &[String]) -> String {
    let mut note = format!("NOT contained, notify-only: {why}");
    if !events.is_empty() {
        let ids: Vec<String> = events.iter().map(|(id, reason)| format!("{id} ({reason})")).collect();
        note.push_str(&format!("; unconfirmed event id(s): {}", ids.join(", ")));
    }
    match limits {
        Some(l) if l.stopped == Stopped::Lag => note.push_str(&format!(
            "; looked up again every {} s for {} s while CloudTrail's event history caught up",
            LAG_RETRY.as_secs(),
            l.wait.as_secs()
        )),
        Some(l) => note.push_str(&format!(
            "; not confirmed within this delivery's time budget: CloudTrail allows 2 lookups a second, and the handlers must be \
             invoked while the function has time left ({} lookup(s) made, {} of {} principal(s) confirmed)",
            l.lookups, l.confirmed, l.of
        )),
        None => {}
    }
    if !errors.is_empty() {
        note.push_str(&format!("; lookups failed: {}", launchguard_core::text::untrusted(&errors.join("; "))));
    }
    note.push_str(
        ". The records in the trail's log group may be forged (logs:PutLogEvents can write them): check them in CloudTrail's \
         event history before acting by hand",
    );
    note
}
