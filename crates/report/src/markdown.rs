//! The incident report as Markdown. Every value is escaped with [`crate::escape::markdown`].

use std::fmt::Write as _;

use launchguard_core::time::format_utc;

use crate::escape::markdown as md;
use crate::facts;
use crate::model::{Headline, ReleaseEvent, ReportInput, shown_principals};
use crate::timeline::Timeline;

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// The timeline as a table: one row per bin with launches, one column per principal.
pub(crate) fn timeline_table(out: &mut String, t: &Timeline) {
    if t.series.is_empty() {
        let _ = writeln!(out, "No per-minute data in the finding (cut to fit its payload, or written by an older detector).");
        return;
    }
    let mut head = vec!["minute (UTC)".to_owned()];
    head.extend(t.series.iter().map(|s| md(&s.label)));
    head.push("total".into());
    let _ = writeln!(out, "{} per {} minute(s):\n", md(t.measure.label()), t.bin_minutes);
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---:|".repeat(head.len()));
    for i in (0..t.bins()).filter(|&i| t.total(i) > 0) {
        let at = t.bin_start(i).map(|m| m.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
        let mut row = vec![at];
        row.extend(t.series.iter().map(|s| s.counts.get(i).copied().unwrap_or(0).to_string()));
        row.push(t.total(i).to_string());
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if !t.missing.is_empty() {
        let _ = writeln!(out, "\nWithout per-minute data: {}", md(&t.missing.join(", ")));
    }
}

fn bullets(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## {title}\n");
    for i in items {
        let _ = writeln!(out, "- {}", md(i));
    }
}

/// The report.
pub fn render(input: &ReportInput) -> String {
    let f = &input.finding;
    let headline = Headline::of(input);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# launchguard incident {}: {}{}\n",
        md(&f.finding_id),
        headline.label(),
        if input.unverified { format!(" ({})", crate::summary::UNVERIFIED_RECORD) } else { String::new() }
    );
    let _ = writeln!(out, "## Summary\n");
    let rows: Vec<Vec<String>> = facts::summary(f).into_iter().map(|(k, v)| vec![k.to_owned(), v]).collect();
    table(&mut out, &["", ""], &rows);
    let _ = writeln!(out, "\n## Timeline\n");
    timeline_table(&mut out, &Timeline::of(f));
    let _ = writeln!(out, "\n## Principals\n");
    for (n, p) in shown_principals(f).iter().enumerate() {
        let _ = writeln!(out, "### {}. {}\n", n + 1, md(&p.principal.label()));
        let rows: Vec<Vec<String>> = facts::principal(p)
            .into_iter()
            .map(|(k, v)| vec![k.to_owned(), if v.is_empty() { "-".into() } else { v.join(", ") }])
            .collect();
        table(&mut out, &["", ""], &rows);
        out.push('\n');
    }
    let _ = writeln!(out, "## Actions\n");
    if input.outcomes.is_empty() {
        let _ = writeln!(out, "None: nothing was changed.");
    } else {
        let rows: Vec<Vec<String>> = input.outcomes.iter().map(|o| facts::action(o).to_vec()).collect();
        table(&mut out, &facts::ACTION_COLUMNS, &rows);
    }
    bullets(&mut out, "Refused: launchguard did NOT act on these", &input.refusals);
    bullets(&mut out, "Needs a person", &input.human_actions);
    let excluded: Vec<String> = f
        .excluded
        .iter()
        .map(|e| format!("{}: {} instances launched; {}", e.principal.label(), e.activity.instances_launched, e.reasons.join(", ")))
        .collect();
    bullets(&mut out, "Excluded (AWS itself, never contained)", &excluded);
    let _ = writeln!(out, "\n## Releases\n");
    if input.releases.is_empty() {
        let _ = writeln!(out, "None yet: every containment above is still in place.");
    }
    for r in &input.releases {
        let _ = writeln!(
            out,
            "- {}{}{} by {} ({}), reason: {}",
            format_utc(r.at),
            if r.dry_run { " (preview, nothing changed)" } else { "" },
            if r.verified { String::new() } else { format!(" ({})", ReleaseEvent::UNVERIFIED) },
            md(r.requested_by.as_deref().unwrap_or("unknown")),
            md(r.principal_arn.as_deref().unwrap_or("the whole finding")),
            md(r.reason.as_deref().unwrap_or("none given"))
        );
        for o in &r.outcomes {
            let a = facts::action(o);
            let _ = writeln!(out, "  - {} {} on {}: {}", md(&a[2]), md(&a[0]), md(&a[1]), md(&a[3]));
        }
        for n in &r.notes {
            let _ = writeln!(out, "  - {}", md(n));
        }
    }
    bullets(&mut out, "Ledger", &facts::ledger_lines(input));
    let _ = writeln!(out, "\n---\nWritten by launchguard at {}.", format_utc(input.generated_at));
    out
}
