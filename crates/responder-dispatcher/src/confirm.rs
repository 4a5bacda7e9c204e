//! Only what CloudTrail confirms is contained.
//!
//! Why here: the dispatcher is the last gate before any action, and every detector (the alarm
//! detector, its fallback and re-check, and any detector to come, the stream path among them)
//! hands its findings to it. Records forged into the trail's log group pass through whichever
//! detector reads them; only a check in the dispatcher cannot be skipped by a detector that
//! forgets it. CloudTrail's event history (`LookupEvents`) cannot be written by
//! `logs:PutLogEvents`; [`launchguard_core::evidence::confirm`] judges what it answers.
//!
//! What is looked up, in this order, within one delivery:
//!
//! 1. **Each principal's own calls, by who made them** ([`Who`]: `Username` for an IAM user,
//!    each `AccessKeyId` it used otherwise), over the finding's window, paged. Round-robin: every undecided
//!    principal gets one page per turn, in an order drawn at random each delivery (a forger cannot
//!    place its principals first), at most [`MAX_PAGES`] pages each. CloudTrail answers these from
//!    the calls' credentials: no record of the log group adds a page to anyone's lookups, so
//!    forged principals cost one page each, and records forged for a real launcher (80 of them
//!    ahead of its real calls, or one bigger than its real ones) crowd nothing out: its real
//!    calls are what CloudTrail answers. A crossing that needs more records than a finding names
//!    (150 one-instance calls within 24 h) is judged on CloudTrail's own records of it.
//! 2. **The claimed event ids still without an answer**, one `LookupEvents` each, the fewest
//!    records first, smallest evidence first: for principals no `Who` names, for records a lookup
//!    by who made them missed, and to say why a claim confirms nothing (another principal, time,
//!    region or count under that event id). A principal's lookups stop as soon as what CloudTrail
//!    confirmed crosses its horizon, or as soon as what it refuted leaves the rest unable to cross
//!    it after its own calls were read.
//! 3. **The artifacts** of a confirmed principal that its plan takes from records (keys, instances,
//!    created keys) and that CloudTrail's records read so far do not show yet.
//!
//! Every lookup is spaced by [`LOOKUP_INTERVAL`] (2 requests a second per account and region).
//! A throttled lookup (the quota is the account's: anyone with `cloudtrail:LookupEvents` can use it
//! up) is retried after a backoff from [`BACKOFF_FIRST`] doubling to [`BACKOFF_MAX`], while the
//! deadline allows. Every lookup ends before the delivery's confirmation deadline
//! ([`confirm_all`]'s `until`). While CloudTrail's event history lags (minutes after the call), the
//! principals not decided are looked up again every [`LAG_RETRY`], for at most
//! `LG_CONFIRM_WAIT_SECONDS`. A principal still unconfirmed is notify-only: the page (sent at once)
//! says why, and the scheduled re-check looks at it again while the alarm stays in `ALARM`.
//! Nothing is ever contained on records CloudTrail did not answer.
//!
//! **The stream path.** CloudTrail's event history holds a call minutes after it (typically
//! within 5, up to 15): a stream finding, made seconds after the call, would find nothing to
//! confirm within its delivery and become notify-only. The records AWS delivered to the stream
//! detector are AWS's own (an EventBridge event whose `source` is `aws.*` is sent by AWS alone,
//! and only the stream's own rules may write to its queue). So a finding the stream detector's
//! own key sealed ([`crate::auth::Sealer::Stream`]) has its `delivered_by_aws` records put in the
//! history first, as what CloudTrail answered ([`confirm_all_delivered`]): they are judged by the
//! same check as a lookup's answer (each must be the claimed principal's own call, at the claimed
//! time, with the claimed counts) and confirm the principal before any lookup. What they do not
//! confirm is looked up as above. A finding sealed with any other key has its `delivered_by_aws`
//! ignored (the dispatcher's caller passes none).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::time::Duration;

use chrono::{DateTime, Utc};
use launchguard_aws::CallError;
use launchguard_aws::trail::{EventHistory, LOOKUP_INTERVAL, Who};
use launchguard_core::contract::FlaggedPrincipal;
use launchguard_core::created::Created;
use launchguard_core::evidence::{
    Answer, Confirmation, EvidenceEvent, IAM_EVENTS_REGION, Proven, confirm_within, possible_within, proven_created_keys, proven_within,
};
use launchguard_core::principal::Principal;
use launchguard_core::window::TimeWindow;
use tokio::time::Instant;
use tracing::{info, warn};

/// How long to wait before looking up again the records CloudTrail did not hold yet.
pub const LAG_RETRY: Duration = Duration::from_secs(10);

/// At most this many pages of its own calls are read per principal and delivery (50 records a
/// page): a principal that buries its launches under other calls of its own slows only itself.
pub const MAX_PAGES: usize = 40;

/// At most this many access keys per principal are looked up by who made the calls.
pub const MAX_KEYS: usize = 8;

/// The first wait after a throttled lookup.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);

/// The longest wait after throttled lookups.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// Lookups spaced by [`LOOKUP_INTERVAL`] across one delivery, and held back after a throttle.
#[derive(Debug, Default)]
struct Pace {
    last: Option<Instant>,
    /// No lookup before this instant (after a throttle).
    not_before: Option<Instant>,
    /// The next backoff, doubling while lookups are throttled.
    backoff: Option<Duration>,
}

impl Pace {
    /// When the next lookup may start.
    fn next(&self) -> Instant {
        let now = Instant::now();
        let spaced = self.last.map_or(now, |l| (l + LOOKUP_INTERVAL).max(now));
        self.not_before.map_or(spaced, |n| n.max(spaced))
    }

    async fn wait(&mut self) {
        tokio::time::sleep_until(self.next()).await;
        self.last = Some(Instant::now());
    }

    /// The answer of the last lookup: a throttle backs off, anything else resets the backoff.
    fn answered(&mut self, throttled: bool) {
        if throttled {
            let b = self.backoff.unwrap_or(BACKOFF_FIRST);
            self.not_before = Some(Instant::now() + b);
            self.backoff = Some((b * 2).min(BACKOFF_MAX));
        } else {
            self.not_before = None;
            self.backoff = None;
        }
    }
}

/// True for an answer that says the account's `LookupEvents` quota is used up.
fn is_throttle(e: &CallError) -> bool {
    matches!(e.code.as_deref(), Some("ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded"))
        || e.message.contains("Rate exceeded")
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

/// One paged lookup of a principal's own calls.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    region: String,
    who: Who,
    range: (DateTime<Utc>, DateTime<Utc>),
    next: Option<String>,
    done: bool,
}

/// Whose calls a principal's lookups ask for: an IAM user by its name (every key and session of
/// it); any other principal by each access key it used (at most [`MAX_KEYS`], of IAM's form).
pub fn whos(f: &FlaggedPrincipal) -> Vec<Who> {
    match &f.principal {
        Principal::IamUser { user_name, .. } if launchguard_core::ids::validate_iam_name(user_name).is_ok() => {
            vec![Who::Username(user_name.clone())]
        }
        _ => f
            .activity
            .access_keys
            .iter()
            .map(|k| k.access_key_id.clone())
            .filter(|k| launchguard_core::ids::validate_access_key_id(k).is_ok())
            .take(MAX_KEYS)
            .map(Who::AccessKeyId)
            .collect(),
    }
}

/// A region name of AWS's form (`us-east-1`, `us-gov-west-1`): what a lookup may be sent to.
fn region_like(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && r.contains('-')
}

/// The lookups of `f`'s own calls: [`whos`] in each region its evidence or its activity names,
/// over the finding's `window` (what the detector read: a real crossing anywhere in it counts,
/// wherever forged claims sit). The region with the most claims first (where a burst that nobody
/// forged is), the others in an order drawn at random for this delivery: records forged in other
/// regions cannot put the real one last every time. [`MAX_PAGES`] bounds them.
fn queries(f: &FlaggedPrincipal, window: &TimeWindow) -> Vec<Query> {
    let Some(ev) = f.evidence.as_ref() else { return Vec::new() };
    let (from, to) = (window.start, window.end);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in ev.claims().map(|e| e.region.as_str()).chain(f.activity.regions.iter().map(String::as_str)).filter(|r| region_like(r)) {
        *counts.entry(r).or_default() += 1;
    }
    let seed = std::collections::hash_map::RandomState::new();
    let top = counts.iter().max_by_key(|(r, n)| (**n, std::cmp::Reverse(**r))).map(|(r, _)| *r);
    let mut regions: Vec<&str> = counts.keys().copied().collect();
    regions.sort_by_cached_key(|r| (Some(*r) != top, seed.hash_one(r)));
    let whos = whos(f);
    regions
        .into_iter()
        .flat_map(|r| whos.iter().map(move |w| Query { region: r.to_owned(), who: w.clone(), range: (from, to), next: None, done: false }))
        .collect()
}

/// The lookups that show the keys `want` says `f` created: its own calls in IAM's region at
/// each second a key was created.
fn created_queries(f: &FlaggedPrincipal, want: &Wanted) -> Vec<Query> {
    let times: BTreeSet<DateTime<Utc>> = want.created.iter().map(|(_, _, t)| *t).collect();
    let whos = whos(f);
    times
        .into_iter()
        .flat_map(|t| {
            whos.iter().map(move |w| Query {
                region: IAM_EVENTS_REGION.to_owned(),
                who: w.clone(),
                range: (t, t + chrono::Duration::seconds(1)),
                next: None,
                done: false,
            })
        })
        .collect()
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
    /// The rest of the crossing window (`alternatives`), for the principals still undecided.
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

/// Where one principal's confirmation stands within the delivery.
#[derive(Debug, Default)]
struct State {
    /// `(region, event id)` of each record CloudTrail answered for its own calls.
    own: BTreeSet<(String, String)>,
    /// Its lookups of its own calls, this round.
    queries: Vec<Query>,
    /// Pages read of its own calls, this delivery.
    pages: usize,
    /// The verdict, once decided.
    verdict: Option<Confirmation>,
    /// Lookups that failed, in words.
    errors: Vec<String>,
    /// Lookups of its records that CloudTrail throttled.
    throttled: usize,
}

impl State {
    /// True when no lookup of its own calls is left this round.
    fn own_calls_read(&self) -> bool {
        self.pages >= MAX_PAGES || self.queries.iter().all(|q| q.done)
    }
}

/// The answers this delivery has for `f`: its claims', and its own calls'.
fn answers(f: &FlaggedPrincipal, st: &State, history: &History) -> Vec<Answer> {
    let claimed = distinct(f).into_iter().map(key);
    let mut seen = BTreeSet::new();
    claimed
        .chain(st.own.iter().cloned())
        .filter(|k| seen.insert(k.1.clone()))
        .filter_map(|k| history.get(&k).map(|r| Answer { event_id: k.1.clone(), record: r.clone() }))
        .collect()
}

/// The verdict on `f` when the answers so far decide it: confirmed, or unable to be once its own
/// calls were read and its claims cannot cross.
fn decided(f: &FlaggedPrincipal, st: &State, history: &History, range: Range) -> Option<Confirmation> {
    let answers = answers(f, st, history);
    let verdict = confirm_within(&f.principal, f.evidence.as_ref(), &answers, Some(range));
    (verdict == Confirmation::Confirmed
        || (st.own_calls_read() && !possible_within(&f.principal, f.evidence.as_ref(), &answers, Some(range))))
    .then_some(verdict)
}

/// Where CloudTrail's records of a principal count: the finding's window, epoch milliseconds.
type Range = (i64, i64);

/// Read one page of `q` into `history` and `st`. False when the lookup was throttled.
async fn read_page<T: EventHistory>(trail: &T, pace: &mut Pace, q: &mut Query, st: &mut State, history: &mut History) -> bool {
    pace.wait().await;
    st.pages += 1;
    match trail.lookup_page(&q.region, &q.who, q.range, q.next.clone()).await {
        Ok(page) => {
            pace.answered(false);
            for text in page.records {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                let (Some(region), Some(id)) = (v["awsRegion"].as_str(), v["eventID"].as_str()) else { continue };
                let k = (region.to_owned(), id.to_owned());
                st.own.insert(k.clone());
                history.insert(k, Some(text));
            }
            q.next = page.next;
            q.done = q.next.is_none();
            true
        }
        Err(e) if is_throttle(&e) => {
            pace.answered(true);
            st.throttled += 1;
            false
        }
        Err(e) => {
            pace.answered(false);
            st.errors.push(e.message);
            q.done = true;
            true
        }
    }
}

/// Look up one event id into `history`.
async fn read_event<T: EventHistory>(trail: &T, pace: &mut Pace, e: &EvidenceEvent, st: &mut State, history: &mut History) {
    pace.wait().await;
    match trail.lookup_event(&e.region, &e.event_id).await {
        Ok(record) => {
            pace.answered(false);
            history.insert(key(e), record);
        }
        Err(err) => {
            let throttled = is_throttle(&err);
            pace.answered(throttled);
            if throttled {
                st.throttled += 1;
            } else {
                st.errors.push(err.message);
            }
        }
    }
}

/// An order of `n` principals drawn at random for this delivery.
fn shuffled(principals: &[&FlaggedPrincipal]) -> Vec<usize> {
    let seed = std::collections::hash_map::RandomState::new();
    let mut order: Vec<usize> = (0..principals.len()).collect();
    order.sort_by_cached_key(|&i| seed.hash_one((i, principals[i].principal.key())));
    order
}

/// Confirm each flagged principal's evidence with CloudTrail, all within one delivery's limits:
/// waiting up to `wait` for its event history to catch up, and looking nothing up after `until`.
/// `window` is the finding's: no record outside it is asked for. Per principal, in order: `Ok`
/// when confirmed, with what CloudTrail's own records of it prove ([`Proven`]: the only keys,
/// instances and created keys an action may take from records), else the note for a person (the
/// principal is notify-only).
pub async fn confirm_all<T: EventHistory>(
    principals: &[&FlaggedPrincipal],
    wanted: &[Wanted],
    trail: &T,
    window: &TimeWindow,
    wait: Duration,
    until: Instant,
) -> Vec<Result<Proven, String>> {
    confirm_all_delivered(principals, &[], wanted, trail, window, wait, until).await
}

/// [`confirm_all`], with `delivered[i]` the records AWS delivered of `principals[i]`'s calls (its
/// `delivered_by_aws`, passed only for a finding the stream detector's own key sealed): each is
/// put in the history as what CloudTrail answered for its `(awsRegion, eventID)`, and among the
/// principal's own calls; a principal they confirm is looked up no further.
#[allow(clippy::too_many_arguments)] // confirm_all's, and the records the stream delivered
pub async fn confirm_all_delivered<T: EventHistory>(
    principals: &[&FlaggedPrincipal],
    delivered: &[&[String]],
    wanted: &[Wanted],
    trail: &T,
    window: &TimeWindow,
    wait: Duration,
    until: Instant,
) -> Vec<Result<Proven, String>> {
    let lag_until = (Instant::now() + wait).min(until);
    let range: Range = (window.start.timestamp_millis(), window.end.timestamp_millis());
    let mut history = History::new();
    let mut st: Vec<State> = principals.iter().map(|_| State::default()).collect();
    for (i, records) in delivered.iter().enumerate().take(principals.len()) {
        for text in *records {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { continue };
            let (Some(region), Some(id)) = (v["awsRegion"].as_str(), v["eventID"].as_str()) else { continue };
            let k = (region.to_owned(), id.to_owned());
            st[i].own.insert(k.clone());
            history.entry(k).or_insert_with(|| Some(text.clone()));
        }
        st[i].verdict = decided(principals[i], &st[i], &history, range).filter(|v| *v == Confirmation::Confirmed);
        if st[i].verdict.is_some() {
            info!(principal = %principals[i].principal.label(), records = records.len(),
                "confirmed by the records AWS delivered to the stream detector, before CloudTrail's event history holds them");
        }
    }
    let mut pace = Pace::default();
    let mut lookups = 0usize;
    let turns = shuffled(principals);
    // the smallest evidence first for the lookups by event id
    let mut order: Vec<usize> = (0..principals.len()).collect();
    order.sort_by_cached_key(|&i| of_pass(principals[i], Pass::Fewest).len());
    let stopped = 'rounds: loop {
        // 1. every undecided principal's own calls, one page a turn, round-robin
        for &i in &turns {
            if st[i].verdict.is_none() {
                st[i].queries = queries(principals[i], window);
            }
        }
        loop {
            let mut read = false;
            for &i in &turns {
                if st[i].verdict.is_some() || st[i].own_calls_read() {
                    continue;
                }
                if pace.next() + LOOKUP_INTERVAL > until {
                    break 'rounds Stopped::Budget;
                }
                let s = &mut st[i];
                let Some(qi) = s.queries.iter().position(|q| !q.done) else { continue };
                let mut q = s.queries[qi].clone();
                read_page(trail, &mut pace, &mut q, s, &mut history).await;
                s.queries[qi] = q;
                lookups += 1;
                read = true;
                let v = decided(principals[i], &st[i], &history, range).filter(|v| *v == Confirmation::Confirmed);
                st[i].verdict = v;
            }
            if !read {
                break;
            }
        }
        // 2. the claimed event ids still without a record, the fewest first
        let mut this_round = BTreeSet::new();
        for pass in [Pass::Fewest, Pass::Alternatives] {
            for &i in &order {
                let f = principals[i];
                if st[i].verdict.is_some() {
                    continue;
                }
                st[i].verdict = decided(f, &st[i], &history, range);
                for e in of_pass(f, pass) {
                    if st[i].verdict.is_some() {
                        break;
                    }
                    let k = key(e);
                    if matches!(history.get(&k), Some(Some(_))) || this_round.contains(&k) {
                        continue;
                    }
                    if pace.next() + LOOKUP_INTERVAL > until {
                        break 'rounds Stopped::Budget;
                    }
                    this_round.insert(k);
                    read_event(trail, &mut pace, e, &mut st[i], &mut history).await;
                    lookups += 1;
                    st[i].verdict = decided(f, &st[i], &history, range);
                }
            }
        }
        if st.iter().all(|s| s.verdict.is_some()) {
            break Stopped::Lag;
        }
        let left = lag_until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break if lag_until >= until { Stopped::Budget } else { Stopped::Lag };
        }
        tokio::time::sleep(LAG_RETRY.min(left)).await;
    };
    // 3. The artifacts: a confirmed principal whose plan names a key, an instance or a created key
    // that the records read do not show yet gets the rest of its named records, then its own calls
    // at each key's creation, looked up while the budget allows (only the records CloudTrail holds
    // prove them: `plan/proven.rs`).
    'artifacts: for (i, f) in principals.iter().enumerate() {
        if st[i].verdict != Some(Confirmation::Confirmed) {
            continue;
        }
        let Some(want) = wanted.get(i) else { continue };
        let shows = |s: &State, h: &History| want.covered_by(&proof(f, s, h, range));
        for e in distinct(f) {
            if shows(&st[i], &history) {
                continue 'artifacts;
            }
            if history.contains_key(&key(e)) {
                continue;
            }
            if pace.next() + LOOKUP_INTERVAL > until {
                break 'artifacts;
            }
            read_event(trail, &mut pace, e, &mut st[i], &mut history).await;
            lookups += 1;
        }
        for mut q in created_queries(f, want) {
            while !q.done && !shows(&st[i], &history) {
                if pace.next() + LOOKUP_INTERVAL > until {
                    break 'artifacts;
                }
                read_page(trail, &mut pace, &mut q, &mut st[i], &mut history).await;
                lookups += 1;
            }
        }
    }
    let confirmed = st.iter().filter(|s| s.verdict == Some(Confirmation::Confirmed)).count();
    let limits = Limits { wait, stopped, confirmed, of: principals.len(), lookups };
    principals
        .iter()
        .zip(st)
        .map(|(f, s)| {
            let undecided = s.verdict.is_none();
            let verdict = s
                .verdict
                .clone()
                .unwrap_or_else(|| confirm_within(&f.principal, f.evidence.as_ref(), &answers(f, &s, &history), Some(range)));
            match verdict {
                Confirmation::Confirmed => {
                    info!(principal = %f.principal.label(), "evidence confirmed by CloudTrail");
                    Ok(proof(f, &s, &history, range))
                }
                Confirmation::Unconfirmed { events, why } => {
                    let note = note(&why, &events, undecided.then_some(&limits), &s);
                    warn!(principal = %f.principal.label(), note = %note, "evidence not confirmed: notify-only");
                    Err(note)
                }
            }
        })
        .collect()
}

/// What CloudTrail's records read for `f` prove.
fn proof(f: &FlaggedPrincipal, st: &State, history: &History, range: Range) -> Proven {
    let answers = answers(f, st, history);
    let mut p = proven_within(&f.principal, f.evidence.as_ref(), &answers, Some(range));
    let own: Vec<Answer> =
        st.own.iter().filter_map(|k| history.get(k).map(|r| Answer { event_id: k.1.clone(), record: r.clone() })).collect();
    p.created_keys = proven_created_keys(&f.principal, &f.activity.created, &own);
    p
}

/// The keys and instances a principal's plan takes from records: what CloudTrail's records must
/// show before an action takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Access key ids to deactivate.
    pub keys: BTreeSet<String>,
    /// `(region, instance id)` to stop or terminate.
    pub instances: BTreeSet<(String, String)>,
    /// `(access key id, user name, created at)` of the keys it created, to deactivate.
    pub created: BTreeSet<(String, String, DateTime<Utc>)>,
}

impl Wanted {
    /// True when `proven` shows every key, instance and created key wanted.
    fn covered_by(&self, proven: &Proven) -> bool {
        self.keys.iter().all(|k| proven.access_keys.contains(k))
            && self.instances.iter().all(|(r, i)| proven.launched(r, i).is_some())
            && self.created.iter().all(|(k, u, _)| proven.created_key(k, u))
    }

    /// What `created` asks for: the keys among it.
    pub fn add_created(&mut self, created: &[Created]) {
        for c in created {
            if let Created::AccessKey { access_key_id, user_name, created_at } = c {
                self.created.insert((access_key_id.clone(), user_name.clone(), *created_at));
            }
        }
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

fn note(why: &str, events: &[(String, String)], limits: Option<&Limits>, st: &State) -> String {
    let errors = &st.errors;
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
    if st.throttled > 0 {
        note.push_str(&format!(
            "; CloudTrail throttled {} of its lookups (LookupEvents is one quota of 2 requests a second per account and region: \
             anyone allowed cloudtrail:LookupEvents can use it up; each was retried after a backoff while this delivery had time)",
            st.throttled
        ));
    }
    if limits.is_some() {
        note.push_str(
            "; the scheduled re-check looks at it again while the alarm stays in ALARM, and contains it once CloudTrail confirms it",
        );
    }
    note.push_str(
        ". The records in the trail's log group may be forged (logs:PutLogEvents can write them): check them in CloudTrail's \
         event history before acting by hand",
    );
    note
}
