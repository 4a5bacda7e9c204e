//! The rows both formats show, as plain (unescaped) text: each renderer escapes them its way.

use launchguard_core::aggregate::Activity;
use launchguard_core::contract::{Finding, FlaggedPrincipal, OutcomeStatus, ResponseOutcome};
use launchguard_core::created::Created;
use launchguard_core::time::format_utc;

use crate::model::principal_arn;

/// The summary lines: (name, value).
pub(crate) fn summary(f: &Finding) -> Vec<(&'static str, String)> {
    let shown = crate::model::shown_principals(f);
    let launched: u64 = shown.iter().map(|p| p.activity.instances_launched).sum();
    let requested: u64 = shown.iter().map(|p| p.activity.instances_requested).sum();
    let mut rows = vec![
        ("finding", f.finding_id.clone()),
        ("account", format!("{} ({})", f.account_id, f.region)),
        ("detector", f.detector.clone()),
        ("window", format!("{} to {}", format_utc(f.window.start), format_utc(f.window.end))),
        (
            "read",
            format!(
                "{} records by {}{}; {}",
                f.read.records_read,
                f.read.method,
                if f.read.widened { ", widened to the fallback window" } else { "" },
                if f.window_complete {
                    "completely".to_owned()
                } else {
                    format!("ONLY IN PART: {}", f.incomplete_reason.as_deref().unwrap_or("unknown reason"))
                }
            ),
        ),
        ("principals", format!("{} flagged, {} excluded (AWS itself)", f.principals.len(), f.excluded.len())),
        ("instances", format!("{launched} launched, {requested} requested")),
    ];
    if let Some(t) = &f.trigger {
        rows.insert(2, ("alarm", format!("{} fired at {}", t.name, format_utc(t.fired_at))));
    }
    if f.dry_run {
        rows.push(("dry run", "yes: nothing was changed".into()));
    }
    rows
}

fn list<'a>(it: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    it.into_iter().cloned().collect()
}

/// One principal's rows: (name, values). Lists stay lists (the HTML shows long ones folded).
pub(crate) fn principal(p: &FlaggedPrincipal) -> Vec<(&'static str, Vec<String>)> {
    let a: &Activity = &p.activity;
    let mut rows = vec![
        ("ARN", vec![principal_arn(&p.principal)]),
        ("why", p.reasons.clone()),
        (
            "activity",
            vec![format!(
                "{} launched, {} requested, {} calls ({} failed, {} dry runs), {} to {}",
                a.instances_launched,
                a.instances_requested,
                a.calls,
                a.failed_calls,
                a.dry_run_calls,
                format_utc(a.first_seen),
                format_utc(a.last_seen)
            )],
        ),
        (
            "access keys",
            a.access_keys
                .iter()
                .map(|k| format!("{} ({}, {} calls, {} launched)", k.access_key_id, k.kind.word(), k.calls, k.launched))
                .collect(),
        ),
        ("source IPs", list(&a.source_ips)),
        ("user agents", list(&a.user_agents)),
        ("regions", list(&a.regions)),
        ("instance types", list(&a.instance_types)),
        ("instance ids", a.instance_ids.clone()),
    ];
    if !a.created.is_empty() {
        rows.push(("created", a.created.iter().map(Created::described).collect()));
    }
    if !a.session_names.is_empty() {
        rows.push(("sessions", list(&a.session_names)));
    }
    if !a.error_codes.is_empty() {
        rows.push(("errors", a.error_codes.iter().map(|(c, n)| format!("{c} x{n}")).collect()));
    }
    if !a.invoked_by.is_empty() {
        rows.push(("invoked by", list(&a.invoked_by)));
    }
    if a.truncated_values > 0 || !a.totals.is_empty() {
        let totals: Vec<String> = a.totals.iter().map(|(k, n)| format!("{k}: {n} before the cut")).collect();
        rows.push(("cut", vec![format!("{} values dropped by the caps; {}", a.truncated_values, totals.join(", "))]));
    }
    rows
}

/// The outcome in one word, upper case.
pub(crate) fn outcome_word(o: &OutcomeStatus) -> &'static str {
    match o {
        OutcomeStatus::Applied => "APPLIED",
        OutcomeStatus::AlreadyApplied => "ALREADY IN PLACE",
        OutcomeStatus::DryRun => "DRY RUN",
        OutcomeStatus::Refused { .. } => "REFUSED",
        OutcomeStatus::Failed { .. } => "FAILED",
    }
}

/// One action's row: action, target, outcome, detail, reversal, handler, when.
pub(crate) fn action(o: &ResponseOutcome) -> [String; 7] {
    let detail = match &o.outcome {
        OutcomeStatus::Refused { reason } => format!("{reason}; {}", o.detail),
        OutcomeStatus::Failed { error, retryable } => format!("{error}{}", if *retryable { " (retryable)" } else { "" }),
        _ => o.detail.clone(),
    };
    let mut detail = detail;
    for w in &o.warnings {
        detail.push_str(&format!(" WARNING: {w}"));
    }
    let reversal = match (&o.reversal, &o.outcome) {
        (Some(r), _) => format!("{} on {}", r.name(), r.target()),
        (None, OutcomeStatus::Applied | OutcomeStatus::AlreadyApplied) if !o.action.is_reversal() => {
            if matches!(o.action, launchguard_core::contract::Action::TerminateInstances { .. }) {
                "none: cannot be undone".into()
            } else {
                "none recorded (found in place)".into()
            }
        }
        _ => "-".into(),
    };
    [
        o.action.name().to_owned(),
        o.action.target(),
        outcome_word(&o.outcome).to_owned(),
        detail,
        reversal,
        o.handler.clone(),
        format_utc(o.completed_at),
    ]
}

/// The column names of [`action`].
pub(crate) const ACTION_COLUMNS: [&str; 7] = ["action", "target", "outcome", "detail", "reversal", "handler", "at"];

/// What the ledger says beside the records, for the report's "Ledger" notes: that it holds no such
/// finding (every record is then unverified), or which containments it still holds in place after
/// a verified release (the incident is then only partly released).
pub(crate) fn ledger_lines(input: &crate::model::ReportInput) -> Vec<String> {
    let mut out = Vec::new();
    if input.unverified {
        out.push(format!("{}: this report shows records nobody can vouch for", crate::summary::UNVERIFIED_RECORD));
    }
    if input.releases.iter().any(crate::model::ReleaseEvent::closes) {
        for h in input.held.iter().flatten().filter(|h| !h.action.is_reversal()) {
            out.push(format!(
                "still in place (the ledger holds it): {} on {} since {}",
                h.action.name(),
                h.action.target(),
                format_utc(h.since)
            ));
        }
    }
    out
}
