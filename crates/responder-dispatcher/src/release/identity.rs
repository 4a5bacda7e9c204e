//! The scope of a release by principal, by IAM's unique id: entries are found by the name in
//! their target, and a name can be renamed or given to another user. For each unique id the
//! handlers reported on the entries found (`principal_id`), one reversal of such an entry, made
//! to name the principal the release names ([`naming`]), is sent to its handler as a dry run
//! carrying that id; the handler resolves the RELEASED name through IAM and refuses
//! ([`ANOTHER_PRINCIPAL`]) when IAM's holder of that name has another id (never the name the
//! reversal resolved to: a launcher renamed away keeps its containment when the release names the
//! new holder of its old name). The entries of
//! such an id are left out of the release, and named for a person; so are the entries with no id
//! (a name's holder now is not proven to be whom they contained). The dispatcher makes no IAM
//! call: the handlers are where IAM is.

use chrono::{DateTime, Utc};
use launchguard_aws::Invoker;
use launchguard_aws::mac::MacSigner;
use launchguard_aws::store::ConditionalStore;
use launchguard_core::contract::{ANOTHER_PRINCIPAL, Action, OutcomeStatus, ResponseRequest};
use launchguard_core::ids::{IamArn, IamEntity};

use super::by_hand;
use super::ledger_failure;
use super::walk::{key_owner_id, names_a_principal};
use crate::error::{Failure, Part};
use crate::finding::Io;
use crate::ledger::{ActionEntry, Ledger, ReversalState};
use crate::{DispatcherError, run_requests};

/// What [`keep_the_named_principal`] left out of a release by principal, and why.
#[derive(Debug, Default)]
pub(super) struct LeftOut {
    /// Entries of another principal by IAM's unique id (for the page's notes).
    pub notes: Vec<String>,
    /// Entries with no IAM unique id, for a person (`human_actions`, the page's BY HAND).
    pub by_hand: Vec<String>,
}

/// Remove from `scope` every entry whose `principal_id` (a key's: its bound owner id) IAM does
/// not give the principal the release names now; say which in `notes`. An entry with no id (written
/// before the ledger kept ids, or IAM did not answer its handler) cannot be proven the released
/// principal's: unless its release is over, it is left out too, and named for a person. A handler
/// that cannot answer makes the release fail (retryably when it may pass later): the check could
/// not be made.
pub(super) async fn keep_the_named_principal<I: Invoker, N, L, S: ConditionalStore, K: MacSigner>(
    principal_arn: &str,
    scope: &mut Vec<String>,
    io: &Io<'_, I, N, L, S, K>,
    ledger: &Ledger<'_, S>,
    now: DateTime<Utc>,
) -> Result<LeftOut, DispatcherError> {
    let named = IamArn::parse(principal_arn)?;
    let mut ids: Vec<(String, String)> = Vec::new(); // (key, id) of each entry with an id
    let mut checks: Vec<(String, ResponseRequest)> = Vec::new(); // one dry run per id
    let mut out = LeftOut::default();
    let mut no_id = Vec::new();
    for key in scope.iter() {
        let Some((e, _)) = ledger.entry(key).await.map_err(|e| ledger_failure(&e))? else { continue };
        let Some(id) = e.principal_id.clone().or_else(|| key_owner_id(&e).map(str::to_owned)) else {
            if !over(&e) {
                no_id.push(key.clone());
                out.by_hand.push(unproven(principal_arn, &e));
            }
            continue;
        };
        ids.push((key.clone(), id.clone()));
        if checks.iter().any(|(i, _)| *i == id) {
            continue;
        }
        // every id is checked, whatever its entries hold: the entry's reversal made to name the
        // released principal, or (no reversal of a principal: a key's, or an entry with none) the
        // release of a quarantine (a user) or a role's sessions, sent as a dry run
        let rev =
            e.reversal.clone().filter(|r| !matches!(r, Action::ReactivateAccessKey { .. })).unwrap_or_else(|| probe(&named, principal_arn));
        let mut req = ResponseRequest::new(&e.finding_id, naming(rev, principal_arn, &named), true, now);
        req.principal_id = Some(id.clone());
        checks.push((id, req));
    }
    scope.retain(|k| !no_id.contains(k));
    if checks.is_empty() {
        return Ok(out);
    }
    let (order, reqs): (Vec<String>, Vec<ResponseRequest>) = checks.into_iter().unzip();
    let mut other = Vec::new();
    let mut failures = Vec::new();
    for (id, o) in order.into_iter().zip(run_requests(reqs, io.cfg, io.lambda, io.kms, now, io.invoke_until).await) {
        match &o.outcome {
            OutcomeStatus::Refused { reason } if reason.contains(ANOTHER_PRINCIPAL) => other.push((id, reason.clone())),
            OutcomeStatus::Failed { error, retryable } => failures.push(Failure {
                part: Part::Action,
                what: format!(
                    "checking with IAM that {principal_arn} is still the principal {id} of {} (a dry run of {}): {error}",
                    o.action.target(),
                    o.action.name()
                ),
                retryable: *retryable,
            }),
            _ => {}
        }
    }
    if !failures.is_empty() {
        return Err(DispatcherError::Incomplete { failures });
    }
    for (id, reason) in other {
        let left: Vec<String> = ids.iter().filter(|(_, i)| *i == id).map(|(k, _)| k.clone()).collect();
        scope.retain(|k| !left.contains(k));
        out.notes.push(format!(
            "left alone: {} containment entr{} of IAM principal {id}, filed under the name {principal_arn} gives, which IAM gives another principal now ({reason}); release it by finding once a person has checked: {}",
            left.len(),
            if left.len() == 1 { "y" } else { "ies" },
            left.join(", ")
        ));
    }
    Ok(out)
}

/// Whether the release of `e` is over: its reversal ran, or there was nothing of launchguard's to
/// undo. Such an entry stays in the scope whatever its id (nothing is left to do with it).
fn over(e: &ActionEntry) -> bool {
    e.released.as_ref().is_some_and(|r| matches!(r.reversal, ReversalState::Done | ReversalState::NotOurs))
}

/// For a person: `e`, an entry with no IAM unique id, left out of the release of `principal_arn`.
fn unproven(principal_arn: &str, e: &ActionEntry) -> String {
    let how = match &e.reversal {
        Some(rev) if names_a_principal(rev) => by_hand::no_id(e),
        _ => format!(
            "{} (finding {}, {}): launchguard's ledger has no IAM unique id of its principal (written before it kept ids, or IAM did not answer its handler), so launchguard cannot prove it is a containment of the principal IAM gives that name now; a person checks whose it is (CloudTrail, `aws iam get-user`/`get-role`) and, if it is this principal's, releases finding {} by finding",
            e.action.target(),
            e.finding_id,
            e.action.name(),
            e.finding_id
        ),
    };
    format!("left alone by the release of {principal_arn} (no IAM unique id): {how}")
}

/// The reversal `rev` made to name the principal the release names (`arn`, parsed as `named`)
/// instead of the name it was filed or resolved under: its handler then checks IAM's CURRENT
/// holder of the released name against the entry's id (IAM compares names without regard to case,
/// and so do the handlers). A reversal that names no principal (a key's) is sent as it is.
fn naming(mut rev: Action, arn: &str, named: &IamArn) -> Action {
    match &mut rev {
        Action::ReleaseUserQuarantine { user_arn, user_name, .. } | Action::ReactivateUserAccessKeys { user_arn, user_name, .. } => {
            arn.clone_into(user_arn);
            named.name.clone_into(user_name);
        }
        Action::RestoreRoleSessions { role_arn, role_name, .. } => {
            arn.clone_into(role_arn);
            named.name.clone_into(role_name);
        }
        Action::StartInstances { principal_arn, .. } => arn.clone_into(principal_arn),
        _ => {}
    }
    rev
}

/// A reversal that names the released principal `named` (`arn`) and undoes nothing by itself when
/// sent as a dry run: its handler checks IAM's holder of the name against the request's
/// `principal_id` before anything else ([`ANOTHER_PRINCIPAL`]).
fn probe(named: &IamArn, arn: &str) -> Action {
    match named.entity {
        IamEntity::User => Action::ReleaseUserQuarantine {
            account_id: named.account_id.clone(),
            user_arn: arn.to_owned(),
            user_name: named.name.clone(),
            policy_arn: None,
            previous_document: None,
            guard_only: false,
        },
        IamEntity::Role => Action::RestoreRoleSessions {
            account_id: named.account_id.clone(),
            role_arn: arn.to_owned(),
            role_name: named.name.clone(),
            written_document: None,
            previous_document: None,
        },
    }
}
