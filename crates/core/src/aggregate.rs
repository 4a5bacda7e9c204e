//! Per-principal activity, de-duplicated by access key.
//!
//! One principal can use several keys; one key belongs to exactly one principal. A record whose
//! identity is incomplete (no ARN) but whose access key a complete identity uses is counted for
//! that principal, whichever of the two is read first: until a complete identity uses the key,
//! the incomplete records are held ([`Placement::Held`]); when one does they are released to it,
//! and those no complete identity ever claimed are counted as their own unknown principal when
//! the read is closed ([`Aggregate::close`]). So the grouping does not depend on the order the
//! records are read in. A key seen under two different principals is a contradiction in the
//! data: it is reported in [`Aggregate::key_conflicts`] and never merged.
//!
//! A resize ([`crate::capacity::Change::Resize`]) is added as 0 instances; its increase is added
//! by [`Aggregate::add_resolved`] once [`crate::burst::Tracker`] weighs the read's sizes (an
//! `Aggregate` used alone never weighs them). Every count saturates at `u64::MAX`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::launch::{LaunchFacts, launch_facts};
use crate::principal::{KeyKind, Principal, classify};
use crate::record::CloudTrailRecord;

/// Where [`Aggregate::add_with_facts`] put a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Counted for the principal at this position of [`Aggregate::principals`].
    Counted(usize),
    /// An incomplete identity whose access key no complete identity has used yet: held until
    /// one does, or until [`Aggregate::close`]; then handed back by [`Aggregate::take_released`]
    /// to be added again.
    Held,
}

/// A record held aside (its owned copy, time in epoch ms and launch facts).
pub type HeldRecord = (CloudTrailRecord<'static, (), ()>, i64, LaunchFacts);

/// At most this many instance ids are kept per principal; the rest are counted.
pub const MAX_INSTANCE_IDS: usize = 500;
/// At most this many distinct values are kept per list (IPs, agents, ...); the rest are counted.
pub const MAX_DISTINCT: usize = 50;
/// At most this many records of incomplete identities are held for access keys no complete
/// identity has used yet (all keys together). One more is counted at once, for the unknown
/// principal its identity names (as when the read closes), and marked: its principal's
/// `totals` carry [`HELD_OVERFLOW`], and [`Aggregate::held_overflow`] counts them. Nothing is
/// lost: the key's calls are still counted and judged, under the key's own unknown principal
/// (whose containment resolves the key's owner through IAM first) rather than its owner's.
pub const MAX_HELD: usize = MAX_INSTANCE_IDS;
/// The `totals` entry of a principal counting records held beyond [`MAX_HELD`].
pub const HELD_OVERFLOW: &str = "counted_before_their_key_owner_was_read";
/// At most this many minutes are kept in [`Activity::launches_per_minute`] (four hours of a busy
/// principal; the 12-hour fallback window of a slow one); a call in a minute beyond them is
/// counted in `truncated_values`.
pub const MAX_MINUTES: usize = 240;

/// What one principal launched in one minute: the per-minute histogram of a report's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinuteLaunches {
    /// Launch calls in the minute (dry runs included).
    pub calls: u64,
    /// Instances launched in the minute.
    pub launched: u64,
    /// Instances requested in the minute (failed calls included, dry runs excluded).
    pub requested: u64,
}

/// One instance a principal's own `RunInstances` call started, as its response (and the record)
/// says: what the EC2 handler checks against `DescribeInstances` before acting on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchedInstance {
    /// The instance id (`i-…`).
    pub instance_id: String,
    /// The region of the call (`awsRegion`): the instance is acted on there only.
    pub region: String,
    /// `launchTime` from the response, or the record's `eventTime` when the response has none.
    /// `DescribeInstances` must report a launch time no earlier than a minute before it.
    pub launched_at: DateTime<Utc>,
    /// `responseElements.reservationId`, when known: `DescribeInstances` must report the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// `responseElements.requestId` (the EC2 request id), when known, for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A resize whose group's or fleet's size before it the read did not show
/// ([`crate::capacity`]): counted as 0 instances, and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownResize {
    /// The call (`SetDesiredCapacity`, `ModifyFleet`, ...).
    pub event_name: String,
    /// What it resized (`Auto Scaling group`, `EC2 fleet`, ...).
    pub kind: String,
    /// The group's or fleet's name, as the record writes it (empty when it does not say).
    pub group: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The size the call set.
    pub new_size: u64,
    /// When.
    pub at: DateTime<Utc>,
}

/// One access key as used by a principal in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyUse {
    /// The key id.
    pub access_key_id: String,
    /// Its kind, from the prefix.
    pub kind: KeyKind,
    /// Launch calls made with it.
    pub calls: u64,
    /// Instances launched with it.
    pub launched: u64,
}

/// What one principal did in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Launch calls (dry runs included).
    pub calls: u64,
    /// Instances launched.
    pub instances_launched: u64,
    /// Instances requested (`maxCount`), failed calls included, dry runs excluded.
    pub instances_requested: u64,
    /// Calls that failed (dry runs excluded).
    pub failed_calls: u64,
    /// Dry-run calls (`Client.DryRunOperation`).
    pub dry_run_calls: u64,
    /// First call.
    pub first_seen: DateTime<Utc>,
    /// Last call.
    pub last_seen: DateTime<Utc>,
    /// Access keys used.
    pub access_keys: Vec<AccessKeyUse>,
    /// Error codes and how often.
    pub error_codes: BTreeMap<String, u64>,
    /// Source IPs (or service names) seen.
    pub source_ips: BTreeSet<String>,
    /// User agents seen.
    pub user_agents: BTreeSet<String>,
    /// Regions seen.
    pub regions: BTreeSet<String>,
    /// Instance types requested or launched.
    pub instance_types: BTreeSet<String>,
    /// Instance ids launched (at most [`MAX_INSTANCE_IDS`]).
    pub instance_ids: Vec<String>,
    /// The launch record of each id of `instance_ids` whose call had a region (at most
    /// [`MAX_INSTANCE_IDS`], cut with `instance_ids` to fit a payload): what the EC2 handler
    /// verifies an instance against. Absent in findings written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launches: Vec<LaunchedInstance>,
    /// What its own calls created (users, access keys and whom they are for), at most
    /// [`crate::created::MAX_CREATED`] users and [`crate::created::MAX_CREATED_KEYS`] keys, in call
    /// order (the whole number in `totals`, as `created`, when more were created). Absent for launches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<crate::created::Created>,
    /// Role session names seen (assumed roles).
    pub session_names: BTreeSet<String>,
    /// Source identities seen (assumed roles).
    pub source_identities: BTreeSet<String>,
    /// Services that made the calls on the principal's behalf (`invokedBy`).
    pub invoked_by: BTreeSet<String>,
    /// Calls made by an AWS service on the principal's behalf (`invokedBy` an AWS service).
    #[serde(default)]
    pub aws_service_calls: u64,
    /// Instances launched by those calls.
    #[serde(default)]
    pub aws_service_launched: u64,
    /// Instances requested by those calls.
    #[serde(default)]
    pub aws_service_requested: u64,
    /// Values dropped from the lists above because of the caps (ids, IPs, agents...).
    pub truncated_values: u64,
    /// Full sizes of the lists above that were cut to fit a payload: list name (`access_keys`,
    /// `session_names`, `user_agents`, ...) and how many values it held before the cut. A list
    /// not named here is complete (up to the caps counted in `truncated_values`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub totals: BTreeMap<String, u64>,
    /// Records whose launch details could not be fully read.
    pub malformed_records: u64,
    /// Successful launches whose instance count CloudTrail omitted (request and response over
    /// its size limit): each counted as [`crate::launch::OMITTED_COUNT`] instances requested.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub launches_count_omitted: u64,
    /// Launch calls per minute (the minute's start, UTC), at most [`MAX_MINUTES`] minutes: the
    /// timeline of an incident report. The first thing dropped when a finding is cut to fit a
    /// payload (its size is then in `totals`, as `launches_per_minute`); absent in findings
    /// written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub launches_per_minute: BTreeMap<DateTime<Utc>, MinuteLaunches>,
    /// Resizes whose size before the read did not show, counted as 0 instances
    /// ([`crate::capacity`]), at most [`MAX_DISTINCT`] of them (the whole number in
    /// `unknown_prior_resize_calls`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_prior_resizes: Vec<UnknownResize>,
    /// How many resizes of unknown prior size the principal made.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unknown_prior_resize_calls: u64,
}

impl Activity {
    pub(crate) fn new(t: DateTime<Utc>) -> Self {
        Self {
            calls: 0,
            instances_launched: 0,
            instances_requested: 0,
            failed_calls: 0,
            dry_run_calls: 0,
            first_seen: t,
            last_seen: t,
            access_keys: Vec::new(),
            error_codes: BTreeMap::new(),
            source_ips: BTreeSet::new(),
            user_agents: BTreeSet::new(),
            regions: BTreeSet::new(),
            instance_types: BTreeSet::new(),
            instance_ids: Vec::new(),
            launches: Vec::new(),
            created: Vec::new(),
            session_names: BTreeSet::new(),
            source_identities: BTreeSet::new(),
            invoked_by: BTreeSet::new(),
            aws_service_calls: 0,
            aws_service_launched: 0,
            aws_service_requested: 0,
            truncated_values: 0,
            totals: BTreeMap::new(),
            malformed_records: 0,
            launches_count_omitted: 0,
            launches_per_minute: BTreeMap::new(),
            unknown_prior_resizes: Vec::new(),
            unknown_prior_resize_calls: 0,
        }
    }
}

fn capped_insert(set: &mut BTreeSet<String>, v: Option<&str>, dropped: &mut u64) {
    if let Some(v) = v.filter(|v| !v.is_empty()) {
        if set.contains(v) {
            return;
        }
        if set.len() < MAX_DISTINCT {
            set.insert(v.to_owned());
        } else {
            *dropped += 1;
        }
    }
}

/// A principal with its activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalActivity {
    /// Who.
    pub principal: Principal,
    /// What they did.
    pub activity: Activity,
}

/// An access key seen under two principals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyConflict {
    /// The key.
    pub access_key_id: String,
    /// The principal it was first seen with.
    pub first_principal: String,
    /// The other principal.
    pub other_principal: String,
}

/// Accumulates launch records into per-principal activity.
#[derive(Debug, Default)]
pub struct Aggregate {
    principals: Vec<PrincipalActivity>,
    by_key: HashMap<String, usize>,
    by_access_key: HashMap<String, usize>,
    /// Keys seen under two principals.
    pub key_conflicts: Vec<KeyConflict>,
    /// Launch records added.
    pub records: u64,
    /// Records of incomplete identities, by access key, that no complete identity used yet.
    held: HashMap<String, Vec<HeldRecord>>,
    /// Held records whose key was claimed (or the read closed), to be added again.
    released: Vec<HeldRecord>,
    /// No more holding: an incomplete identity whose key is not claimed is its own principal.
    closed: bool,
    /// Records of incomplete identities counted at once, for their own unknown principal,
    /// because [`MAX_HELD`] were held already.
    pub held_overflow: u64,
    /// Instances requested by counted calls whose count fields are not as CloudTrail writes
    /// them ([`LaunchFacts::unfiltered`]): in the principals' `instances_requested`, but never
    /// added by the instances metric's filters, so never what explains its datapoint.
    pub unfiltered_requested: u64,
}

impl Aggregate {
    /// An empty aggregate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one launch record whose time is `t_ms` (epoch ms, already checked by the caller),
    /// and the held records it releases.
    pub fn add(&mut self, record: &CloudTrailRecord<'_>, t_ms: i64) {
        let facts = launch_facts(record);
        let _ = self.add_with_facts(record, t_ms, &facts);
        self.add_released();
    }

    /// Add the records [`Aggregate::take_released`] hands back (for a caller that keeps nothing
    /// else per record).
    pub fn add_released(&mut self) {
        for (r, t_ms, facts) in self.take_released() {
            let _ = self.add_with_facts(&r, t_ms, &facts);
        }
    }

    /// The held records released since the last call (their key claimed by a complete
    /// identity, or the read closed): the caller adds each again with
    /// [`Aggregate::add_with_facts`], where it is now counted.
    pub fn take_released(&mut self) -> Vec<HeldRecord> {
        std::mem::take(&mut self.released)
    }

    /// The read is over: every record still held (its key used by no complete identity) is
    /// released, to be counted as the unknown principal its identity names; nothing is held
    /// from now on. Call [`Aggregate::take_released`] (or [`Aggregate::add_released`]) after.
    pub fn close(&mut self) {
        self.closed = true;
        let mut keys: Vec<String> = self.held.keys().cloned().collect();
        keys.sort();
        for k in keys {
            if let Some(h) = self.held.remove(&k) {
                self.released.extend(h);
            }
        }
    }

    /// [`Aggregate::close`], and the released records added.
    pub fn finish(&mut self) {
        self.close();
        self.add_released();
    }

    /// Records held, not yet counted for any principal.
    pub fn held(&self) -> usize {
        self.held.values().map(Vec::len).sum()
    }

    /// Add a record with facts already read; answers where it went: the position of its
    /// principal in [`Aggregate::principals`], or held (an incomplete identity whose access key
    /// no complete identity has used yet). A complete identity using a key for the first time
    /// releases the records held for it ([`Aggregate::take_released`]).
    pub fn add_with_facts<Q, S>(&mut self, record: &CloudTrailRecord<'_, Q, S>, t_ms: i64, facts: &LaunchFacts) -> Placement {
        let t = Utc.timestamp_millis_opt(t_ms).single().unwrap_or_default();
        let (principal, session) = classify(record.user_identity.as_ref());
        let access_key = session.access_key_id.clone();
        let pkey = principal.key();
        let incomplete = matches!(principal, Principal::Unknown { .. });
        let owner = access_key.as_ref().and_then(|k| self.by_access_key.get(k)).copied();
        let idx = match (incomplete, owner, self.by_key.get(&pkey)) {
            // Incomplete identity, known key: the key's owner made the call.
            (true, Some(i), _) => i,
            // Incomplete identity, key not used by a complete one yet: held until one does (or
            // the read closes), so the order of the records decides nothing.
            (true, None, _) if !self.closed && access_key.is_some() && self.held() < MAX_HELD => {
                let k = access_key.unwrap_or_default();
                self.held.entry(k).or_default().push((record.to_owned_bare(), t_ms, facts.clone()));
                return Placement::Held;
            }
            (_, _, Some(&i)) => i,
            _ => {
                self.principals.push(PrincipalActivity { principal, activity: Activity::new(t) });
                let i = self.principals.len() - 1;
                self.by_key.insert(pkey, i);
                i
            }
        };
        let overflow = incomplete && owner.is_none() && !self.closed && access_key.is_some();
        if overflow {
            // held no more: [`MAX_HELD`] are held already; counted now, and the key left to
            // whichever complete identity uses it (no conflict is made of it)
            self.held_overflow += 1;
            *self.principals[idx].activity.totals.entry(HELD_OVERFLOW.to_owned()).or_insert(0) += 1;
        }
        if let Some(k) = &access_key {
            if !incomplete && let Some(h) = self.held.remove(k) {
                self.released.extend(h);
            }
            match self.by_access_key.get(k) {
                Some(&owner) if owner != idx => {
                    let conflict = KeyConflict {
                        access_key_id: k.clone(),
                        first_principal: self.principals[owner].principal.key(),
                        other_principal: self.principals[idx].principal.key(),
                    };
                    if !self.key_conflicts.contains(&conflict) {
                        self.key_conflicts.push(conflict);
                    }
                }
                Some(_) => {}
                None if overflow => {}
                None => {
                    self.by_access_key.insert(k.clone(), idx);
                }
            }
        }
        self.records += 1;
        if facts.unfiltered {
            self.unfiltered_requested = self.unfiltered_requested.saturating_add(facts.requested);
        }
        let by_service = session
            .invoked_by
            .as_deref()
            .is_some_and(|by| crate::principal::is_made_by_aws_service_for(&self.principals[idx].principal, by));
        let a = &mut self.principals[idx].activity;
        // every count saturates: a record may claim any count up to 2^64 - 1
        a.calls = a.calls.saturating_add(1);
        a.first_seen = a.first_seen.min(t);
        a.last_seen = a.last_seen.max(t);
        a.instances_launched = a.instances_launched.saturating_add(facts.launched);
        a.instances_requested = a.instances_requested.saturating_add(facts.requested);
        a.failed_calls = a.failed_calls.saturating_add(u64::from(facts.failed));
        a.dry_run_calls = a.dry_run_calls.saturating_add(u64::from(facts.dry_run));
        a.malformed_records = a.malformed_records.saturating_add(u64::from(facts.malformed));
        a.launches_count_omitted = a.launches_count_omitted.saturating_add(u64::from(facts.count_omitted));
        if by_service {
            a.aws_service_calls = a.aws_service_calls.saturating_add(1);
            a.aws_service_launched = a.aws_service_launched.saturating_add(facts.launched);
            a.aws_service_requested = a.aws_service_requested.saturating_add(facts.requested);
        }
        let minute = t.duration_trunc(chrono::TimeDelta::minutes(1)).unwrap_or(t);
        if a.launches_per_minute.len() < MAX_MINUTES || a.launches_per_minute.contains_key(&minute) {
            let m = a.launches_per_minute.entry(minute).or_default();
            m.calls = m.calls.saturating_add(1);
            m.launched = m.launched.saturating_add(facts.launched);
            m.requested = m.requested.saturating_add(facts.requested);
        } else {
            a.truncated_values += 1;
        }
        if let Some(code) = &facts.error_code {
            *a.error_codes.entry(code.clone()).or_default() += 1;
        }
        if let Some(k) = access_key {
            match a.access_keys.iter_mut().find(|u| u.access_key_id == k) {
                Some(u) => {
                    u.calls = u.calls.saturating_add(1);
                    u.launched = u.launched.saturating_add(facts.launched);
                }
                None => a.access_keys.push(AccessKeyUse { kind: KeyKind::of(&k), access_key_id: k, calls: 1, launched: facts.launched }),
            }
        }
        let dropped = &mut a.truncated_values;
        capped_insert(&mut a.source_ips, record.source_ip_address.as_deref(), dropped);
        capped_insert(&mut a.user_agents, record.user_agent.as_deref(), dropped);
        capped_insert(&mut a.regions, record.aws_region.as_deref(), dropped);
        capped_insert(&mut a.session_names, session.session_name.as_deref(), dropped);
        capped_insert(&mut a.source_identities, session.source_identity.as_deref(), dropped);
        capped_insert(&mut a.invoked_by, session.invoked_by.as_deref(), dropped);
        for ty in &facts.instance_types {
            capped_insert(&mut a.instance_types, Some(ty), dropped);
        }
        if let Some(c) = &facts.created
            && !a.created.contains(c)
        {
            let is_key = |c: &crate::created::Created| matches!(c, crate::created::Created::AccessKey { .. });
            let (cap, same) = if is_key(c) {
                (crate::created::MAX_CREATED_KEYS, a.created.iter().filter(|x| is_key(x)).count())
            } else {
                (crate::created::MAX_CREATED, a.created.iter().filter(|x| !is_key(x)).count())
            };
            if same < cap {
                a.created.push(c.clone());
                if let Some(total) = a.totals.get_mut("created") {
                    *total += 1;
                }
            } else {
                // counted, and the whole number kept: the dispatcher tells a person to find the rest
                *dropped += 1;
                let carried = a.created.len() as u64;
                *a.totals.entry("created".to_owned()).or_insert(carried) += 1;
            }
        }
        let region = record.aws_region.as_deref().filter(|r| crate::contract::validate_region(r).is_ok());
        for (i, id) in facts.instance_ids.iter().enumerate() {
            if a.instance_ids.len() < MAX_INSTANCE_IDS {
                a.instance_ids.push(id.clone());
                if let Some(region) = region {
                    let at = facts.launch_times_ms.get(i).copied().flatten().and_then(|ms| Utc.timestamp_millis_opt(ms).single());
                    a.launches.push(LaunchedInstance {
                        instance_id: id.clone(),
                        region: region.to_owned(),
                        launched_at: at.unwrap_or(t),
                        reservation_id: facts.reservation_id.clone(),
                        request_id: facts.request_id.clone(),
                    });
                }
            } else {
                *dropped += 1;
            }
        }
        Placement::Counted(idx)
    }

    /// What a resize counted by [`Aggregate::add_with_facts`] (as 0) of the principal at `idx`
    /// counts for once the read's earlier sizes are weighed ([`crate::resize::resolve`]): its
    /// increase added to the instances requested (and by AWS services on its behalf, when
    /// `by_service`), or, its size before unknown, the resize carried in the activity.
    pub fn add_resolved(
        &mut self,
        idx: usize,
        t_ms: i64,
        event_name: &str,
        set: &crate::capacity::SetSize,
        resolved: crate::resize::Resolved,
        by_service: bool,
    ) {
        let Some(p) = self.principals.get_mut(idx) else { return };
        let a = &mut p.activity;
        let t = Utc.timestamp_millis_opt(t_ms).single().unwrap_or_default();
        match resolved {
            crate::resize::Resolved::Create => {}
            crate::resize::Resolved::Increase(n) => {
                a.instances_requested = a.instances_requested.saturating_add(n);
                if by_service {
                    a.aws_service_requested = a.aws_service_requested.saturating_add(n);
                }
                let minute = t.duration_trunc(chrono::TimeDelta::minutes(1)).unwrap_or(t);
                if let Some(m) = a.launches_per_minute.get_mut(&minute) {
                    m.requested = m.requested.saturating_add(n);
                }
            }
            crate::resize::Resolved::Unknown => {
                a.unknown_prior_resize_calls = a.unknown_prior_resize_calls.saturating_add(1);
                if a.unknown_prior_resizes.len() < MAX_DISTINCT {
                    a.unknown_prior_resizes.push(UnknownResize {
                        event_name: event_name.to_owned(),
                        kind: set.group.kind.word().to_owned(),
                        group: set.group.name.clone(),
                        account: set.group.account.clone(),
                        region: set.group.region.clone(),
                        new_size: set.size,
                        at: t,
                    });
                } else {
                    a.truncated_values = a.truncated_values.saturating_add(1);
                }
            }
        }
    }

    /// The principals, in order of first appearance.
    pub fn principals(&self) -> &[PrincipalActivity] {
        &self.principals
    }

    /// Consume into the principals (the held records counted first, [`Aggregate::finish`]),
    /// ordered by instances (launched, then requested) descending.
    pub fn into_sorted(self) -> Vec<PrincipalActivity> {
        self.into_sorted_with_index().into_iter().map(|(_, p)| p).collect()
    }

    /// [`Aggregate::into_sorted`], each principal with its position of first appearance (the
    /// index [`Aggregate::add_with_facts`] returned for it).
    pub fn into_sorted_with_index(mut self) -> Vec<(usize, PrincipalActivity)> {
        self.finish();
        let mut v: Vec<(usize, PrincipalActivity)> = self.principals.into_iter().enumerate().collect();
        v.sort_by(|(_, a), (_, b)| {
            (b.activity.instances_launched, b.activity.instances_requested, b.activity.calls)
                .cmp(&(a.activity.instances_launched, a.activity.instances_requested, a.activity.calls))
                .then_with(|| a.principal.key().cmp(&b.principal.key()))
        });
        v
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
