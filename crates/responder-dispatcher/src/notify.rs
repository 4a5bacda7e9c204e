//! The human-readable notification. Pure: text in, text out.

use std::fmt::Write as _;

use launchguard_core::contract::{Finding, FlaggedPrincipal, MovedIntoProtection, OutcomeStatus, ResponseOutcome};
use launchguard_core::created::Created;
use launchguard_core::error::cut;
use launchguard_core::ids::IamArn;
use launchguard_core::time::format_utc;

use crate::plan::PrincipalPlan;

/// SNS subjects are ASCII, without control characters, and shorter than 100 characters.
pub const MAX_SUBJECT: usize = 100;
/// SNS messages are at most 256 KiB; keep a margin for attributes.
pub const MAX_MESSAGE: usize = 250 * 1024;

/// A subject SNS accepts: ASCII without control characters (anything else becomes `?`), fewer
/// than [`MAX_SUBJECT`] characters (cut with `...`).
pub fn subject(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect();
    if clean.len() < MAX_SUBJECT {
        return clean;
    }
    format!("{}...", &clean[..MAX_SUBJECT - 4])
}

/// Counts of outcomes by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Applied now.
    pub applied: usize,
    /// Already in place.
    pub already: usize,
    /// Dry run.
    pub dry_run: usize,
    /// Refused.
    pub refused: usize,
    /// Failed.
    pub failed: usize,
}

impl Tally {
    /// Count the outcomes.
    pub fn of(outcomes: &[ResponseOutcome]) -> Self {
        let mut t = Self::default();
        for o in outcomes {
            match o.outcome {
                OutcomeStatus::Applied => t.applied += 1,
                OutcomeStatus::AlreadyApplied => t.already += 1,
                OutcomeStatus::DryRun => t.dry_run += 1,
                OutcomeStatus::Refused { .. } => t.refused += 1,
                OutcomeStatus::Failed { .. } => t.failed += 1,
            }
        }
        t
    }
}

/// A value that came from outside (CloudTrail, anyone who can write to its log group, a tag, a
/// policy document, an AWS error, a handler's detail built from them): the one escaping path,
/// [`launchguard_core::text::untrusted`] (Cc, Cf, Zl, Zp shown escaped), so no value can start a
/// line of its own, such as a fake "undo" command, or reorder what a person reads.
pub use launchguard_core::text::untrusted;

fn join<I: IntoIterator<Item = S>, S: AsRef<str>>(it: I) -> String {
    let v: Vec<String> = it.into_iter().map(|s| untrusted(s.as_ref())).collect();
    if v.is_empty() { "-".into() } else { v.join(", ") }
}

/// One outcome as a line of the page: the handler's detail, reason or error (which quote IAM, EC2
/// and tags) and the target through [`untrusted`].
pub fn status_line(o: &ResponseOutcome) -> String {
    let (name, target, detail) = (o.action.name(), untrusted(&o.action.target()), untrusted(&o.detail));
    match &o.outcome {
        OutcomeStatus::Applied => format!("APPLIED    {detail}"),
        OutcomeStatus::AlreadyApplied => format!("ALREADY    {detail} (already applied; nothing changed)"),
        OutcomeStatus::DryRun => format!("DRY RUN    {detail}"),
        OutcomeStatus::Refused { reason } => format!("REFUSED    {name} on {target}: {}", untrusted(reason)),
        OutcomeStatus::Failed { error, retryable } => {
            format!("FAILED     {name} on {target}: {}{}", untrusted(error), if *retryable { " (will be retried)" } else { "" })
        }
    }
}

fn describe(out: &mut String, n: usize, f: &FlaggedPrincipal) {
    let a = &f.activity;
    let arn = match &f.principal {
        launchguard_core::principal::Principal::IamUser { arn, .. } => arn.clone(),
        launchguard_core::principal::Principal::AssumedRole { role_arn, .. } => role_arn.clone(),
        other => other.key(),
    };
    let _ = writeln!(out, "{n}. {} ({})", untrusted(&f.principal.label()), untrusted(&arn));
    let _ = writeln!(
        out,
        "   {} instances launched, {} requested, in {} calls ({} failed, {} dry runs), {} to {}",
        a.instances_launched,
        a.instances_requested,
        a.calls,
        a.failed_calls,
        a.dry_run_calls,
        format_utc(a.first_seen),
        format_utc(a.last_seen)
    );
    let _ = writeln!(out, "   why flagged: {}", join(&f.reasons));
    if let Some(c) = &f.crossed {
        let _ = writeln!(
            out,
            "   horizon crossed: {} {} within {} (threshold {}), crossed at {}; that window began at {}",
            c.count,
            c.measure.word(),
            launchguard_core::windows::duration_words(c.window_seconds),
            c.threshold,
            format_utc(c.at),
            format_utc(c.window_start)
        );
    }
    let _ = writeln!(out, "   instance types: {}; regions: {}", join(&a.instance_types), join(&a.regions));
    let _ = writeln!(out, "   source IPs: {}", join(&a.source_ips));
    let keys = a.access_keys.iter().map(|k| format!("{} ({}, {} calls)", k.access_key_id, k.kind.word(), k.calls));
    let _ = writeln!(out, "   access keys: {}", join(keys));
    if !a.session_names.is_empty() {
        let _ = writeln!(out, "   sessions: {}", join(&a.session_names));
    }
    if !a.error_codes.is_empty() {
        let _ = writeln!(out, "   errors: {}", join(a.error_codes.iter().map(|(c, n)| format!("{c} x{n}"))));
    }
    let _ = writeln!(out, "   user agents: {}", join(a.user_agents.iter().map(|u| cut(&untrusted(u), 80))));
    if !a.created.is_empty() {
        let what = a.created.iter().map(Created::described);
        let more = a.totals.get("created").map_or(0, |n| n.saturating_sub(a.created.len() as u64));
        let _ = writeln!(out, "   created: {}{}", join(what), if more > 0 { format!(" and {more} more") } else { String::new() });
    }
    if !a.instance_ids.is_empty() {
        let shown: Vec<&str> = a.instance_ids.iter().take(20).map(String::as_str).collect();
        let more = a.instances_launched.saturating_sub(shown.len() as u64);
        let _ = writeln!(out, "   instances: {}{}", join(shown), if more > 0 { format!(" and {more} more") } else { String::new() });
    }
}

/// A key an attacker created that launchguard did not deactivate (a handler refused or failed:
/// its user is protected, by a path pattern the plan could not see, or IAM said no) is still a
/// working credential in the attacker's hands: said loudly, with the command.
fn created_keys_left(b: &mut String, outcomes: &[ResponseOutcome]) {
    let left: Vec<(&ResponseOutcome, &str, &str)> = outcomes
        .iter()
        .filter(|o| matches!(o.outcome, OutcomeStatus::Refused { .. } | OutcomeStatus::Failed { .. }))
        .filter_map(|o| match &o.action {
            launchguard_core::contract::Action::DeactivateCreatedAccessKey { access_key_id, user_name, .. } => {
                Some((o, access_key_id.as_str(), user_name.as_str()))
            }
            _ => None,
        })
        .collect();
    if left.is_empty() {
        return;
    }
    let _ = writeln!(b, "\n!!! CRITICAL: access keys the attacker created are STILL ACTIVE !!!");
    for (o, key, user) in left {
        let why = match &o.outcome {
            OutcomeStatus::Refused { reason } => reason.clone(),
            OutcomeStatus::Failed { error, .. } => error.clone(),
            _ => String::new(),
        };
        let _ = writeln!(
            b,
            "- {}: {}; deactivate it by hand now: aws iam update-access-key --user-name {} --access-key-id {} --status Inactive",
            untrusted(&o.action.target()),
            untrusted(&why),
            shell_word(user),
            shell_word(key)
        );
    }
}

/// Each confirmed user a handler refused because it moved or renamed itself into the protected
/// principals after the burst ([`MovedIntoProtection`]), once per IAM unique id.
fn moved_into_protection(outcomes: &[ResponseOutcome]) -> Vec<&MovedIntoProtection> {
    let mut out: Vec<&MovedIntoProtection> = Vec::new();
    for m in outcomes.iter().filter(|o| matches!(o.outcome, OutcomeStatus::Refused { .. })).filter_map(|o| o.moved_into_protection.as_ref())
    {
        if !out.iter().any(|x| x.principal_id == m.principal_id) {
            out.push(m);
        }
    }
    out
}

/// The page's first section when a confirmed user escaped into protection: a likely evasion, high
/// severity, never shown as a routine "protected principal" skip. Names the IAM id and both ARNs
/// (through [`untrusted`]) and says what a person does: launchguard never acts on a protected
/// principal, so the user is not contained.
fn evasion_section(b: &mut String, moved: &[&MovedIntoProtection]) {
    if moved.is_empty() {
        return;
    }
    let _ =
        writeln!(b, "\n!!! LIKELY EVASION (HIGH SEVERITY): A FLAGGED USER MOVED ITSELF INTO THE PROTECTED PRINCIPALS AFTER THE BURST !!!");
    for m in moved {
        let (now, then) = (IamArn::parse(&m.current_arn).ok(), IamArn::parse(&m.recorded_arn).ok());
        let user = shell_word(now.as_ref().map_or("USER", |a| a.name.as_str()));
        // back to the path and name its records carry
        let mut back = Vec::new();
        if let (Some(now), Some(then)) = (&now, &then) {
            if now.path != then.path {
                back.push(format!("--new-path {}", shell_word(&then.path)));
            }
            if now.name != then.name {
                back.push(format!("--new-user-name {}", shell_word(&then.name)));
            }
        }
        let _ = writeln!(
            b,
            "- IAM user {}: CloudTrail's confirmed records carry {}, which PROTECTED_PRINCIPALS does not protect; IAM names the same user (by its unique id) {} now, which it protects",
            untrusted(&m.principal_id),
            untrusted(&m.recorded_arn),
            untrusted(&m.current_arn)
        );
        let _ = writeln!(
            b,
            "  launchguard never acts on a protected principal: this user is NOT CONTAINED (its keys, policies and instances are as it left them)"
        );
        let _ = writeln!(
            b,
            "  a person, now: contain it by hand (aws iam list-access-keys --user-name {user}, then aws iam update-access-key --user-name {user} --access-key-id KEY --status Inactive; attach the quarantine policy), find who changed its path or name (CloudTrail: UpdateUser on it), then move it back (aws iam update-user --user-name {user} {})",
            back.join(" ")
        );
    }
}

/// Quote one word for a POSIX shell, after [`untrusted`] (single quotes; a value that cannot be
/// quoted is shown as `'<unquotable>'`, which a shell reads as a harmless literal). No IAM name or
/// key id holds a character [`untrusted`] changes, so a real one is quoted as it is.
pub fn shell_word(s: &str) -> String {
    shlex::try_quote(&untrusted(s)).map(|q| q.into_owned()).unwrap_or_else(|_| "'<unquotable>'".to_owned())
}

/// The command a person runs to release a finding. Every value is shell-quoted, although the
/// finding id was already checked against `[A-Za-z0-9_-]` when the finding was parsed.
pub fn release_command(dispatcher: &str, finding_id: &str) -> String {
    format!(
        "launchguard release --dispatcher {} --finding {} --reason 'why you release it'",
        shell_word(dispatcher),
        shell_word(finding_id)
    )
}

/// What was read, for people: the window, how, and whether completely (and why not).
fn window_line(finding: &Finding) -> String {
    format!(
        "window {} to {}, {} records read ({}{}), {}",
        format_utc(finding.window.start),
        format_utc(finding.window.end),
        finding.read.records_read,
        finding.read.method,
        if finding.read.widened { ", widened to the fallback window" } else { "" },
        if finding.window_complete {
            "read completely".to_owned()
        } else {
            format!("READ ONLY IN PART: {}", untrusted(finding.incomplete_reason.as_deref().unwrap_or("unknown reason")))
        }
    )
}

/// Subject and body of the notification for a finding.
pub fn finding_message(finding: &Finding, plans: &[PrincipalPlan], outcomes: &[ResponseOutcome], dispatcher: &str) -> (String, String) {
    if finding.verdict == launchguard_core::contract::FindingVerdict::NobodyOverThreshold {
        return nobody_message(finding);
    }
    let t = Tally::of(outcomes);
    let instances: u64 = finding.principals.iter().map(|p| p.activity.instances_launched.max(p.activity.instances_requested)).sum();
    let humans = plans.iter().filter(|p| p.human.is_some()).count();
    let refused = plans.iter().filter(|p| p.refused.is_some()).count() + t.refused;
    let moved = moved_into_protection(outcomes);
    let state = if !moved.is_empty() {
        "LIKELY EVASION"
    } else if finding.dry_run {
        "DRY RUN"
    } else if t.failed > 0 {
        "FAILED"
    } else if humans > 0 || refused > 0 {
        "ACTION NEEDED"
    } else if t.applied > 0 {
        "CONTAINED"
    } else {
        "ALREADY CONTAINED"
    };
    let calls: u64 = finding.principals.iter().map(|p| p.activity.calls).sum();
    let (what, size) = if finding.rule == launchguard_core::rules::EC2_MASS_LAUNCH {
        ("mass EC2 launch".to_owned(), format!("{instances} instances"))
    } else {
        let event = untrusted(&finding.event);
        (format!("{} ({event})", untrusted(&finding.rule)), format!("{calls} {} calls", event.rsplit('/').next().unwrap_or_default()))
    };
    let subject = subject(&format!("[launchguard] {state}: {} principal(s), {size} in {}", finding.principals.len(), finding.account_id));
    let mut b = String::new();
    let _ = writeln!(b, "launchguard {state}: {what} in account {} ({})", finding.account_id, untrusted(&finding.region));
    let _ = writeln!(b, "rule {}", untrusted(&finding.rule));
    let _ = writeln!(b, "finding {}{}", finding.finding_id, if finding.dry_run { " (DRY RUN: nothing was changed)" } else { "" });
    if let Some(tr) = &finding.trigger {
        let _ = writeln!(b, "alarm {} fired at {}", untrusted(&tr.name), format_utc(tr.fired_at));
    }
    let _ = writeln!(b, "{}", window_line(finding));
    if finding.read.unparseable_records > 0 {
        let _ = writeln!(b, "{} records could not be parsed and were skipped", finding.read.unparseable_records);
    }
    evasion_section(&mut b, &moved);
    let _ =
        writeln!(b, "\n{}", if finding.rule == launchguard_core::rules::EC2_MASS_LAUNCH { "WHO LAUNCHED WHAT" } else { "WHO DID WHAT" });
    for (i, p) in finding.principals.iter().enumerate() {
        describe(&mut b, i + 1, p);
    }
    let _ = writeln!(b, "\nWHAT LAUNCHGUARD DID");
    if outcomes.is_empty() {
        let _ = writeln!(b, "- nothing (see below)");
    }
    for o in outcomes {
        let _ = writeln!(b, "- {}", status_line(o));
        if let (OutcomeStatus::Applied, Some(u)) = (&o.outcome, &o.undo) {
            let _ = writeln!(b, "             undo by hand: {}", untrusted(u));
        }
    }
    let warnings: Vec<(&ResponseOutcome, &String)> = outcomes.iter().flat_map(|o| o.warnings.iter().map(move |w| (o, w))).collect();
    if !warnings.is_empty() {
        let _ = writeln!(
            b,
            "\n!!! WARNING: what launchguard left alone or did not write (other active keys, instances, what it could not check) !!!"
        );
        for (o, w) in warnings {
            let _ = writeln!(b, "- {} on {}: {}", o.action.name(), untrusted(&o.action.target()), untrusted(w));
        }
    }
    created_keys_left(&mut b, outcomes);
    crate::fallback::page_section(&mut b, outcomes);
    let refusals: Vec<&PrincipalPlan> = plans.iter().filter(|p| p.refused.is_some()).collect();
    if !refusals.is_empty() {
        let _ = writeln!(b, "\n!!! REFUSED: launchguard did NOT act on these principals !!!");
        for p in refusals {
            let _ = writeln!(b, "- {}: {}", untrusted(&p.principal.label()), untrusted(p.refused.as_deref().unwrap_or_default()));
        }
    }
    let human: Vec<&PrincipalPlan> = plans.iter().filter(|p| p.human.is_some()).collect();
    if !human.is_empty() {
        let _ = writeln!(b, "\n!!! NEEDS A HUMAN NOW !!!");
        for p in human {
            let _ = writeln!(b, "- {}: {}", untrusted(&p.principal.label()), untrusted(p.human.as_deref().unwrap_or_default()));
        }
    }
    let notes: Vec<(&PrincipalPlan, &String)> = plans.iter().flat_map(|p| p.notes.iter().map(move |n| (p, n))).collect();
    if !notes.is_empty() {
        let _ = writeln!(b, "\nNOTES");
        for (p, n) in notes {
            let _ = writeln!(b, "- {}: {}", untrusted(&p.principal.label()), untrusted(n));
        }
    }
    if !finding.excluded.is_empty() {
        let _ = writeln!(b, "\nEXCLUDED (AWS itself, never contained)");
        for e in &finding.excluded {
            let _ = writeln!(
                b,
                "- {}: {} instances launched; {}",
                untrusted(&e.principal.label()),
                e.activity.instances_launched,
                join(&e.reasons)
            );
        }
    }
    if t.applied > 0 {
        let _ = writeln!(b, "\nHOW TO UNDO EVERYTHING launchguard applied for this finding (people in RELEASE_PRINCIPALS only)");
        let _ = writeln!(b, "{}", release_command(dispatcher, &finding.finding_id));
        let _ = writeln!(
            b,
            "(add --principal ARN to release one principal only, --dry-run to preview; by hand: SECURITY.md, \"Releasing without the CLI\")"
        );
    }
    (subject, b)
}

/// The body with the report's lines after its first lines (the state and the finding id), so
/// that cutting a long body never cuts the link.
pub fn with_report(body: String, lines: &str) -> String {
    let mut parts = body.splitn(3, '\n');
    let (first, second, rest) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    format!("{first}\n{second}\n{lines}\n{rest}")
}

/// The alarm fired but nobody is over the per-principal thresholds: say so, name the top
/// launchers, and say that nothing was changed.
fn nobody_message(finding: &Finding) -> (String, String) {
    let instances: u64 = finding.top_launchers.iter().map(|p| p.activity.instances_launched.max(p.activity.instances_requested)).sum();
    let subject =
        subject(&format!("[launchguard] ALARM, NOBODY OVER THRESHOLD: {instances} instances in {}, nothing changed", finding.account_id));
    let mut b = String::new();
    let _ = writeln!(b, "launchguard: the mass EC2 launch alarm fired in account {} ({})", finding.account_id, untrusted(&finding.region));
    let _ = writeln!(b, "finding {}", finding.finding_id);
    if let Some(tr) = &finding.trigger {
        let _ = writeln!(b, "alarm {} fired at {}", untrusted(&tr.name), format_utc(tr.fired_at));
    }
    let _ = writeln!(b, "{}", window_line(finding));
    let _ = writeln!(b, "\nNobody is over the per-principal threshold. NOTHING WAS CHANGED: look at who launched most.");
    if let Some(why) = &finding.read.unexplained {
        let _ = writeln!(b, "\nUNEXPLAINED ALARM: {}", untrusted(why));
    }
    let _ = writeln!(b, "\nTOP LAUNCHERS");
    if finding.top_launchers.is_empty() {
        let _ = writeln!(b, "- none found in the window");
    }
    for (i, p) in finding.top_launchers.iter().enumerate() {
        describe(&mut b, i + 1, p);
    }
    (subject, b)
}

/// The whole message, always within SNS's limit: the body (cut when it alone is too large), a
/// line saying where the full detail is, and the machine-readable block (shrunk to fit).
pub fn fit_message(body: String, full: &serde_json::Value, compact: &serde_json::Value, reference: &str) -> String {
    let room = MAX_MESSAGE.saturating_sub(4 * 1024 + reference.len());
    let mut b = if body.len() > room {
        let mut cut_body = cut(&body, room);
        cut_body.push_str("\n(the rest is cut: too large for SNS)\n");
        cut_body
    } else {
        body
    };
    b.push_str(&format!("\n{reference}\n"));
    let m = with_json_block(b, full, compact);
    if m.len() > MAX_MESSAGE { cut(&m, MAX_MESSAGE) } else { m }
}

/// Append the machine-readable block, shrinking it to fit SNS's limit.
pub fn with_json_block(body: String, full: &serde_json::Value, compact: &serde_json::Value) -> String {
    let mut m = body;
    m.push_str("\n--- machine-readable (JSON) ---\n");
    let full_s = launchguard_core::text::json_text(&full.to_string());
    if m.len() + full_s.len() <= MAX_MESSAGE {
        m.push_str(&full_s);
    } else {
        let c = launchguard_core::text::json_text(&compact.to_string());
        m.push_str(&cut(&c, MAX_MESSAGE.saturating_sub(m.len() + 200)));
        m.push_str("\n(the full finding is in the incident record: too large for SNS)");
    }
    m
}
