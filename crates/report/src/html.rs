//! The incident report as one self-contained HTML page: inline CSS, inline SVG, no script, no
//! font, no image, no link to anything; a Content-Security-Policy that forbids every request, so
//! even a mistake here cannot make the page fetch anything. Every value is escaped with
//! [`crate::escape::html`].

use std::fmt::Write as _;

use launchguard_core::time::format_utc;

use crate::escape::{html as h, shorten};
use crate::facts;
use crate::model::{Headline, ReleaseEvent, ReportInput, shown_principals};
use crate::svg;
use crate::timeline::Timeline;

/// The page's style: readable on screen and on paper, status colours.
pub(crate) const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1b1f24;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}\
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;font-size:13px;color:#fff;background:#57606a}\
.b-contained{background:#1a7f37}.b-action-needed{background:#bf8700}.b-failed{background:#cf222e}.b-dry-run,.b-nobody{background:#0969da}.b-released,.b-partly-released{background:#8250df}\
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#f6f8fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}table.kv th{width:140px}\
.o-applied{color:#1a7f37;font-weight:600}.o-already{color:#57606a;font-weight:600}.o-refused{color:#bf8700;font-weight:600}.o-failed{color:#cf222e;font-weight:600}.o-dry{color:#0969da;font-weight:600}\
.warn{border-left:4px solid #bf8700;background:#fff8c5;padding:6px 10px;margin:8px 0}.alert{border-left:4px solid #cf222e;background:#ffebe9;padding:6px 10px;margin:8px 0}\
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}\
svg.chart{max-width:100%;height:auto;display:block}code{font:12px ui-monospace,monospace}details summary{cursor:pointer;color:#0969da}\
footer{margin-top:32px;color:#57606a;font-size:12px}@media print{details{display:block}body{padding:0}}";

/// The page's head: title, strict CSP, style.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\">\
<title>{}</title><style>{STYLE}</style></head><body>\n",
        h(title)
    )
}

/// A key-value table.
pub(crate) fn kv(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", h(k), h(v));
    }
    out.push_str("</table>\n");
}

/// A list cell: short lists inline, long ones folded (`<details>` needs no script).
fn values(v: &[String]) -> String {
    match v.len() {
        0 => "-".into(),
        1..=8 => v.iter().map(|x| h(x)).collect::<Vec<_>>().join("<br>"),
        n => format!(
            "{}<details><summary>all {n}</summary><code>{}</code></details>",
            v.iter().take(5).map(|x| h(&shorten(x, 200))).collect::<Vec<_>>().join("<br>"),
            v.iter().map(|x| h(x)).collect::<Vec<_>>().join(" ")
        ),
    }
}

fn outcome_class(word: &str) -> &'static str {
    match word {
        "APPLIED" => "o-applied",
        "ALREADY IN PLACE" => "o-already",
        "REFUSED" => "o-refused",
        "FAILED" => "o-failed",
        _ => "o-dry",
    }
}

/// The timeline: the chart, its legend, and the numbers as a table (folded).
pub(crate) fn timeline(out: &mut String, t: &Timeline) {
    let Some(chart) = svg::chart(t) else {
        out.push_str("<p>No per-minute data in the finding (cut to fit its payload, or written by an older detector).</p>\n");
        return;
    };
    out.push_str(&chart);
    out.push_str("<p class=\"legend\">");
    for (i, s) in t.series.iter().enumerate() {
        let _ = write!(out, "<span><i style=\"background:{}\"></i>{}</span>", svg::colour(i), h(&s.label));
    }
    out.push_str("</p>");
    let _ = write!(
        out,
        "<details><summary>the numbers ({} per {} minute(s))</summary><table><tr><th>minute (UTC)</th>",
        h(t.measure.label()),
        t.bin_minutes
    );
    for s in &t.series {
        let _ = write!(out, "<th>{}</th>", h(&s.label));
    }
    out.push_str("<th>total</th></tr>");
    for i in (0..t.bins()).filter(|&i| t.total(i) > 0) {
        let at = t.bin_start(i).map(|m| m.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
        let _ = write!(out, "<tr><td>{at}</td>");
        for s in &t.series {
            let _ = write!(out, "<td class=\"n\">{}</td>", s.counts.get(i).copied().unwrap_or(0));
        }
        let _ = write!(out, "<td class=\"n\">{}</td></tr>", t.total(i));
    }
    out.push_str("</table></details>\n");
    if !t.missing.is_empty() {
        let _ = writeln!(out, "<p>Without per-minute data: {}</p>", h(&t.missing.join(", ")));
    }
}

fn notes(out: &mut String, class: &str, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, "<div class=\"{class}\"><strong>{}</strong><ul>", h(title));
    for i in items {
        let _ = write!(out, "<li>{}</li>", h(i));
    }
    out.push_str("</ul></div>\n");
}

/// The report.
pub fn render(input: &ReportInput) -> String {
    let f = &input.finding;
    let headline = Headline::of(input);
    let mut out = head(&format!("launchguard incident {}: {}", f.finding_id, headline.label()));
    let _ = writeln!(
        out,
        "<header><h1>Mass EC2 launch in account {}</h1><span class=\"badge b-{}\">{}</span> <code>{}</code>{}</header>",
        h(&f.account_id),
        headline.css(),
        headline.label(),
        h(&f.finding_id),
        if input.unverified { format!(" <strong>{}</strong>", h(crate::summary::UNVERIFIED_RECORD)) } else { String::new() }
    );
    out.push_str("<section id=\"summary\"><h2>Summary</h2>");
    kv(&mut out, &facts::summary(f));
    out.push_str("</section>\n<section id=\"timeline\"><h2>Timeline</h2>");
    timeline(&mut out, &Timeline::of(f));
    out.push_str("</section>\n<section id=\"principals\"><h2>Principals</h2>");
    for (n, p) in shown_principals(f).iter().enumerate() {
        let _ = write!(out, "<h3>{}. {}</h3><table class=\"kv\">", n + 1, h(&p.principal.label()));
        for (k, v) in facts::principal(p) {
            let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", h(k), values(&v));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n<section id=\"actions\"><h2>Actions</h2>");
    if input.outcomes.is_empty() {
        out.push_str("<p>None: nothing was changed.</p>");
    } else {
        out.push_str("<table><tr>");
        for c in facts::ACTION_COLUMNS {
            let _ = write!(out, "<th>{c}</th>");
        }
        out.push_str("</tr>");
        for o in &input.outcomes {
            let cells = facts::action(o);
            out.push_str("<tr>");
            for (i, c) in cells.iter().enumerate() {
                let class = if i == 2 { format!(" class=\"{}\"", outcome_class(c)) } else { String::new() };
                let _ = write!(out, "<td{class}>{}</td>", h(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    notes(&mut out, "alert", "Refused: launchguard did NOT act on these", &input.refusals);
    notes(&mut out, "warn", "Needs a person", &input.human_actions);
    let excluded: Vec<String> = f
        .excluded
        .iter()
        .map(|e| format!("{}: {} instances launched; {}", e.principal.label(), e.activity.instances_launched, e.reasons.join(", ")))
        .collect();
    notes(&mut out, "warn", "Excluded (AWS itself, never contained)", &excluded);
    out.push_str("</section>\n<section id=\"releases\"><h2>Releases</h2>");
    if input.releases.is_empty() {
        out.push_str("<p>None yet: every containment above is still in place.</p>");
    }
    for r in &input.releases {
        let _ = write!(
            out,
            "<h3>{}{}{}</h3>",
            h(&format_utc(r.at)),
            if r.dry_run { " (preview, nothing changed)" } else { "" },
            if r.verified { String::new() } else { format!(" ({})", ReleaseEvent::UNVERIFIED) }
        );
        kv(
            &mut out,
            &[
                ("by", r.requested_by.clone().unwrap_or_else(|| "unknown".into())),
                ("scope", r.principal_arn.clone().unwrap_or_else(|| "the whole finding".into())),
                ("reason", r.reason.clone().unwrap_or_else(|| "none given".into())),
            ],
        );
        if !r.outcomes.is_empty() {
            out.push_str("<table><tr><th>reversal</th><th>target</th><th>outcome</th><th>detail</th></tr>");
            for o in &r.outcomes {
                let a = facts::action(o);
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                    h(&a[0]),
                    h(&a[1]),
                    outcome_class(&a[2]),
                    h(&a[2]),
                    h(&a[3])
                );
            }
            out.push_str("</table>");
        }
        notes(&mut out, "warn", "Notes", &r.notes);
    }
    notes(&mut out, "warn", "Ledger", &facts::ledger_lines(input));
    let _ = write!(
        out,
        "</section>\n<footer>Written by launchguard at {}. Every value from CloudTrail and IAM is shown as text.</footer>\n</body></html>\n",
        h(&format_utc(input.generated_at))
    );
    out
}
