//! Making a finding fit the asynchronous invocation limit once sealed.
//!
//! A finding travels inside a sealed envelope, its JSON text escaped into a string
//! ([`crate::auth::Sealed`]), and the envelope must fit [`MAX_PAYLOAD_BYTES`]. A finding that
//! does not fit is cut, then split, in this order:
//!
//! 0. the per-minute timelines (`launches_per_minute`, for reports) are dropped;
//! 1. every per-principal list is cut to a few values (instance ids to none): IPs, agents,
//!    session names, source identities, types, regions, services, error codes, and the session
//!    (`ASIA…`) keys, and the users it created. Keys the dispatcher acts on (every key but a
//!    session key, and the access keys it created) are kept, and so are the launch records
//!    (`launches`, at most 500 a principal) the EC2 handler acts on;
//! 2. the finding is split into parts (`<finding_id>-p<k>of<n>`), the excluded principals in the
//!    first parts with room;
//! 3. a principal too large for a part on its own has every list emptied but its keys, created
//!    keys and launch records, then its launch records and created keys, and only then, when nothing else is left to cut, its keys
//!    with the fewest launches are dropped.
//!
//! Every cut list keeps its full size in [`Activity::totals`] and the dropped values are counted
//! in `truncated_values`. No principal is ever dropped: one that still does not fit is returned
//! in a part of its own, and [`oversized`] tells the sender, which must say so.
//!
//! [`MAX_PAYLOAD_BYTES`]: crate::contract::MAX_PAYLOAD_BYTES

use std::collections::BTreeSet;

use serde::Serialize;

use crate::aggregate::Activity;
use crate::contract::{Finding, FlaggedPrincipal};
use crate::principal::KeyKind;

/// Room kept in a sealed envelope for everything but the payload: its fields, a MAC and a key id
/// of up to 2,048 characters.
pub const SEAL_OVERHEAD_BYTES: usize = 4 * 1024;
/// Values kept in each list when a finding is first cut.
const KEEP: usize = 5;
/// Key conflicts kept when a finding is cut.
const KEEP_CONFLICTS: usize = 20;
/// Longest value kept in a cut list, in bytes (a user agent can be anything).
const MAX_VALUE: usize = 512;
/// Longest `incomplete_reason` kept, in bytes.
const MAX_REASON: usize = 4 * 1024;
/// Room for the part suffix of the id (`-p<k>of<n>`) and the lists' brackets.
const PART_ROOM: usize = 64;

/// Bytes of `v`'s JSON once escaped into a JSON string (without the quotes): a `"` or `\`
/// becomes two bytes; JSON text holds no raw control character, and nothing else is escaped.
fn escaped_len<T: Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len() + b.iter().filter(|&&c| c == b'"' || c == b'\\').count())
}

/// The bytes `v` takes on the wire once sealed, at most (see [`SEAL_OVERHEAD_BYTES`]).
pub fn sealed_len<T: Serialize>(v: &T) -> usize {
    escaped_len(v).saturating_add(SEAL_OVERHEAD_BYTES)
}

/// The parts that are over `limit` even after every cut: `(finding_id, bytes sealed)`.
pub fn oversized(parts: &[Finding], limit: usize) -> Vec<(String, usize)> {
    parts.iter().map(|p| (p.finding_id.clone(), sealed_len(p))).filter(|(_, n)| *n > limit).collect()
}

fn note_total(a: &mut Activity, list: &str, len: usize) {
    a.totals.entry(list.to_owned()).or_insert(len as u64);
}

fn cut_set(a: &mut Activity, list: &str, keep: usize, pick: fn(&mut Activity) -> &mut BTreeSet<String>) {
    let set = pick(a);
    let len = set.len();
    let long = set.iter().any(|v| v.len() > MAX_VALUE);
    if len <= keep && !long {
        return;
    }
    let kept: BTreeSet<String> = set.iter().take(keep).map(|v| crate::error::cut(v, MAX_VALUE)).collect();
    *set = kept;
    if len > keep {
        a.truncated_values += (len - keep) as u64;
        note_total(a, list, len);
    }
}

/// The per-minute timeline is for reports only: it goes first (its size kept in `totals`).
fn drop_timeline(a: &mut Activity) {
    if !a.launches_per_minute.is_empty() {
        let n = a.launches_per_minute.len();
        a.launches_per_minute.clear();
        note_total(a, "launches_per_minute", n);
    }
}

/// Cut every list of `a` to `keep` values (instance ids to none), session keys included; keys
/// the dispatcher acts on are all kept, and so are the launch records the EC2 handler acts on
/// unless `drop_launches` (the last resort: without them no instance is stopped).
fn trim_activity(a: &mut Activity, keep: usize, drop_launches: bool) {
    drop_timeline(a);
    if !a.instance_ids.is_empty() {
        let n = a.instance_ids.len();
        a.instance_ids.clear();
        a.truncated_values += n as u64;
        note_total(a, "instance_ids", n);
    }
    if drop_launches && !a.launches.is_empty() {
        let n = a.launches.len();
        a.launches.clear();
        note_total(a, "launches", n);
    }
    cut_created(a, keep, drop_launches);
    cut_set(a, "user_agents", keep, |a| &mut a.user_agents);
    cut_set(a, "source_ips", keep, |a| &mut a.source_ips);
    cut_set(a, "session_names", keep, |a| &mut a.session_names);
    cut_set(a, "source_identities", keep, |a| &mut a.source_identities);
    cut_set(a, "instance_types", keep, |a| &mut a.instance_types);
    cut_set(a, "regions", keep, |a| &mut a.regions);
    cut_set(a, "invoked_by", keep, |a| &mut a.invoked_by);
    if a.error_codes.len() > keep || a.error_codes.keys().any(|c| c.len() > MAX_VALUE) {
        let n = a.error_codes.len();
        let mut codes: Vec<(String, u64)> = std::mem::take(&mut a.error_codes).into_iter().collect();
        codes.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        a.error_codes = codes.into_iter().take(keep).map(|(c, k)| (crate::error::cut(&c, MAX_VALUE), k)).collect();
        if n > keep {
            a.truncated_values += (n - keep) as u64;
            note_total(a, "error_codes", n);
        }
    }
    let temporary = a.access_keys.iter().filter(|k| k.kind == KeyKind::Temporary).count();
    if temporary > keep {
        let n = a.access_keys.len();
        // The session keys that launched most stay; order is otherwise kept.
        let mut ranked: Vec<(u64, u64, usize)> =
            a.access_keys.iter().enumerate().filter(|(_, k)| k.kind == KeyKind::Temporary).map(|(i, k)| (k.launched, k.calls, i)).collect();
        ranked.sort_by(|x, y| (y.0, y.1, x.2).cmp(&(x.0, x.1, y.2)));
        let keep_idx: BTreeSet<usize> = ranked.iter().take(keep).map(|r| r.2).collect();
        let mut i = 0;
        a.access_keys.retain(|k| {
            let kept = k.kind != KeyKind::Temporary || keep_idx.contains(&i);
            i += 1;
            kept
        });
        a.truncated_values += (n - a.access_keys.len()) as u64;
        note_total(a, "access_keys", n);
    }
}

/// Cut the created users to `keep`; the created access keys (the dispatcher deactivates them) are
/// kept unless `drop_keys`, the last resort.
fn cut_created(a: &mut Activity, keep: usize, drop_keys: bool) {
    let n = a.created.len();
    let mut users = 0;
    a.created.retain(|c| match c {
        crate::created::Created::User { .. } => {
            users += 1;
            users <= keep
        }
        crate::created::Created::AccessKey { .. } => !drop_keys,
    });
    if a.created.len() < n {
        a.truncated_values += (n - a.created.len()) as u64;
        note_total(a, "created", n);
    }
}

/// The last resort for a principal that does not fit `room` with every other list empty: drop
/// the keys that launched least until it does. Only hostile or absurd data gets here (an IAM
/// user has at most two long-term keys).
fn cut_keys(p: &mut FlaggedPrincipal, room: usize) {
    let mut excess = (escaped_len(p) + 1).saturating_sub(room);
    if excess == 0 {
        return;
    }
    let n = p.activity.access_keys.len();
    p.activity.access_keys.sort_by_key(|k| std::cmp::Reverse((k.launched, k.calls)));
    while excess > 0 {
        let Some(k) = p.activity.access_keys.pop() else { break };
        excess = excess.saturating_sub(escaped_len(&k) + 1);
    }
    if p.activity.access_keys.len() < n {
        p.activity.truncated_values += (n - p.activity.access_keys.len()) as u64;
        note_total(&mut p.activity, "access_keys", n);
    }
}

/// Make one principal fit `room` bytes if it can: every list emptied, then keys dropped.
fn shrink(mut p: FlaggedPrincipal, room: usize) -> FlaggedPrincipal {
    if escaped_len(&p) + 1 > room {
        trim_activity(&mut p.activity, 0, false);
        if escaped_len(&p) + 1 > room {
            trim_activity(&mut p.activity, 0, true);
        }
        cut_keys(&mut p, room);
    }
    p
}

impl Finding {
    /// Shrink the finding so that, sealed, it takes at most `limit` bytes (the Lambda
    /// asynchronous payload limit): drop instance ids, cut every other per-principal list to five
    /// values (session keys included, every other key kept) and the key conflicts to twenty.
    /// Full sizes are kept in `totals`, dropped values counted in `truncated_values`. Returns
    /// whether it now fits; when it does not, [`Finding::into_parts`] splits it.
    pub fn fit(&mut self, limit: usize) -> bool {
        if sealed_len(self) <= limit {
            return true;
        }
        for p in self.principals.iter_mut().chain(self.excluded.iter_mut()).chain(self.top_launchers.iter_mut()) {
            drop_timeline(&mut p.activity);
        }
        if sealed_len(self) <= limit {
            return true;
        }
        for p in &mut self.principals {
            trim_activity(&mut p.activity, KEEP, false);
        }
        // excluded principals and top launchers are never acted on: no launch record kept
        for p in self.excluded.iter_mut().chain(self.top_launchers.iter_mut()) {
            trim_activity(&mut p.activity, KEEP, true);
        }
        let conflicts = self.read.key_conflicts.len();
        if conflicts > KEEP_CONFLICTS {
            self.read.key_conflicts.truncate(KEEP_CONFLICTS);
            self.read.key_conflicts_total.get_or_insert(conflicts as u64);
        }
        if let Some(r) = &mut self.incomplete_reason
            && r.len() > MAX_REASON
        {
            *r = crate::error::cut(r, MAX_REASON);
        }
        sealed_len(self) <= limit
    }

    /// Split a finding that does not fit in `limit` bytes sealed, even trimmed, into parts that
    /// do: each holds some of the principals and has the id `<finding_id>-p<k>of<n>`; each
    /// excluded principal goes in the first part with room for it. A principal too large for
    /// a part of its own is cut harder (see the module); no principal is ever dropped, so a part
    /// can still be over `limit` (check with [`oversized`]). A finding that fits is returned as
    /// it is (trimmed).
    pub fn into_parts(mut self, limit: usize) -> Vec<Finding> {
        if self.fit(limit) {
            return vec![self];
        }
        let principals = std::mem::take(&mut self.principals);
        let excluded = std::mem::take(&mut self.excluded);
        if sealed_len(&self) + PART_ROOM > limit {
            // Only the top launchers (record only) can make the rest this large.
            let room = limit.saturating_sub(sealed_len(&self) + PART_ROOM) / self.top_launchers.len().max(1);
            self.top_launchers = std::mem::take(&mut self.top_launchers).into_iter().map(|p| shrink(p, room)).collect();
        }
        let base = sealed_len(&self) + PART_ROOM;
        let room = limit.saturating_sub(base);
        // (excluded, principals, size) of each part. The excluded principals (record only) go
        // first, each in the first part with room; then the principals in order, each first in a
        // part that has none yet (a part of excluded principals only would be refused by the
        // dispatcher), else in the last part while it has room, else in a new one.
        let mut groups: Vec<(Vec<FlaggedPrincipal>, Vec<FlaggedPrincipal>, usize)> = Vec::new();
        for p in excluded {
            let p = shrink(p, room);
            let n = escaped_len(&p) + 1;
            match groups.iter_mut().find(|g| g.2 + n <= limit) {
                Some(g) => {
                    g.2 += n;
                    g.0.push(p);
                }
                None => groups.push((vec![p], Vec::new(), base + n)),
            }
        }
        for p in principals {
            let p = shrink(p, room);
            let n = escaped_len(&p) + 1;
            let last = groups.len().checked_sub(1).filter(|&i| !groups[i].1.is_empty() && groups[i].2 + n <= limit);
            match groups.iter().position(|g| g.1.is_empty() && g.2 + n <= limit).or(last) {
                Some(i) => {
                    groups[i].2 += n;
                    groups[i].1.push(p);
                }
                None => groups.push((Vec::new(), vec![p], base + n)),
            }
        }
        // the last resort: a part of excluded principals only takes a principal from a part
        // that has more than one
        while let Some(lonely) = groups.iter().position(|g| g.1.is_empty()) {
            let Some(donor) = groups.iter().position(|g| g.1.len() > 1) else { break };
            let Some(p) = groups[donor].1.pop() else { break };
            let n = escaped_len(&p) + 1;
            groups[donor].2 -= n;
            groups[lonely].2 += n;
            groups[lonely].1.push(p);
        }
        if groups.is_empty() {
            groups.push((Vec::new(), Vec::new(), base));
        }
        // parts with principals first; one of excluded principals only, when nothing could fill
        // it, goes last
        groups.sort_by_key(|g| g.1.is_empty());
        let total = groups.len();
        groups
            .into_iter()
            .enumerate()
            .map(|(k, (excluded, principals, _))| Finding {
                finding_id: format!("{}-p{}of{total}", self.finding_id, k + 1),
                principals,
                excluded,
                ..self.clone()
            })
            .collect()
    }
}
