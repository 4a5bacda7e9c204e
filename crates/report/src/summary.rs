//! The period summary: incidents, principals, actions by outcome, releases (false positives),
//! and containments still open, with how long they have been.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use launchguard_core::contract::ResponseOutcome;
use launchguard_core::time::format_utc;
use serde::{Deserialize, Serialize};

use crate::escape::{html as h, markdown as md};
pub use crate::model::Holding;
use crate::model::{Headline, ReleaseEvent, holds_containment};

/// What the summary needs of one incident (the CLI reads it from the incident records, and what
/// is still in place from the ledger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentFacts {
    /// The finding.
    pub finding_id: String,
    /// When it was contained: when the ledger first saw the finding (a record's own
    /// `recorded_at` only for a finding the ledger does not hold).
    pub recorded_at: DateTime<Utc>,
    /// Principal ARNs.
    pub principals: Vec<String>,
    /// Nobody was over the thresholds.
    pub nobody: bool,
    /// Dry run.
    pub dry_run: bool,
    /// A person was asked to act (refusals, principals launchguard never changes).
    pub person: bool,
    /// Every outcome (the latest record's).
    pub outcomes: Vec<ResponseOutcome>,
    /// Releases of the finding, oldest first.
    pub releases: Vec<ReleaseEvent>,
    /// The ledger holds this finding (its incident record is backed). Anyone who can write to
    /// the incident log group can append a record; one the ledger does not back is shown as
    /// unverified.
    #[serde(default)]
    pub verified: bool,
    /// What the ledger (written only by launchguard's roles) still holds in place for the
    /// finding. Open containments come from here only: no incident or release record (which
    /// anyone with `logs:PutLogEvents` on the group can forge) opens or closes one.
    #[serde(default)]
    pub open: Vec<Holding>,
}

/// One incident of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentLine {
    /// The finding.
    pub finding_id: String,
    /// When contained.
    pub recorded_at: DateTime<Utc>,
    /// Its state.
    pub headline: Headline,
    /// Principal ARNs.
    pub principals: Vec<String>,
    /// Actions taken.
    pub actions: usize,
    /// The ledger backs its incident record (unverified: shown so, see [`IncidentFacts::verified`]).
    pub verified: bool,
}

/// A release of the period (a false positive, usually).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseLine {
    /// The finding released.
    pub finding_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who asked.
    pub requested_by: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Only this principal (none: the whole finding).
    pub principal_arn: Option<String>,
    /// Reversals run.
    pub reversals: usize,
    /// The ledger backs it; an unverified release is listed and closes nothing.
    pub verified: bool,
}

/// A containment still in place: applied (or found in place) and not released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenContainment {
    /// The finding.
    pub finding_id: String,
    /// The action (`deactivate_access_key`...).
    pub action: String,
    /// What it acts on.
    pub target: String,
    /// When it was applied.
    pub contained_at: DateTime<Utc>,
    /// Seconds since then, at `generated_at`.
    pub open_seconds: i64,
}

/// The summary (`launchguard report --since … --format json`: a wire format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodSummary {
    /// First instant of the period.
    pub since: DateTime<Utc>,
    /// End of the period (excluded).
    pub until: DateTime<Utc>,
    /// When the summary was made (the open containments' age is counted to it).
    pub generated_at: DateTime<Utc>,
    /// Incidents contained in the period, oldest first.
    pub incidents: Vec<IncidentLine>,
    /// Each principal and in how many incidents of the period it was.
    pub principals: BTreeMap<String, u64>,
    /// Actions of the period's incidents by outcome (`applied`, `already_applied`, `refused`...).
    pub actions_by_outcome: BTreeMap<String, u64>,
    /// Releases of the period's incidents (made at any time up to `generated_at`), not previews.
    pub releases: Vec<ReleaseLine>,
    /// Containments of the period's incidents still in place, oldest first.
    pub open: Vec<OpenContainment>,
}

impl PeriodSummary {
    /// The summary of the incidents recorded in `[since, until)`. Their open containments are
    /// what the ledger holds ([`IncidentFacts::open`]), never what the records say.
    pub fn build(incidents: &[IncidentFacts], since: DateTime<Utc>, until: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let mut s = Self {
            since,
            until,
            generated_at: now,
            incidents: Vec::new(),
            principals: BTreeMap::new(),
            actions_by_outcome: BTreeMap::new(),
            releases: Vec::new(),
            open: Vec::new(),
        };
        let mut shown: Vec<&IncidentFacts> = incidents.iter().filter(|i| i.recorded_at >= since && i.recorded_at < until).collect();
        shown.sort_by(|a, b| (a.recorded_at, &a.finding_id).cmp(&(b.recorded_at, &b.finding_id)));
        for i in shown {
            let has_release = i.releases.iter().any(ReleaseEvent::closes);
            s.incidents.push(IncidentLine {
                finding_id: i.finding_id.clone(),
                recorded_at: i.recorded_at,
                headline: Headline::from_parts(i.nobody, i.dry_run, &i.outcomes, i.person, has_release, holds_containment(&i.open)),
                principals: i.principals.clone(),
                actions: i.outcomes.len(),
                verified: i.verified,
            });
            for p in &i.principals {
                *s.principals.entry(p.clone()).or_default() += 1;
            }
            for o in &i.outcomes {
                *s.actions_by_outcome.entry(o.outcome.name().to_owned()).or_default() += 1;
            }
            for o in i.open.iter().filter(|o| !o.action.is_reversal()) {
                s.open.push(OpenContainment {
                    finding_id: i.finding_id.clone(),
                    action: o.action.name().to_owned(),
                    target: o.action.target(),
                    contained_at: o.since,
                    open_seconds: (now - o.since).num_seconds().max(0),
                });
            }
            for r in i.releases.iter().filter(|r| !r.dry_run) {
                s.releases.push(ReleaseLine {
                    finding_id: i.finding_id.clone(),
                    at: r.at,
                    requested_by: r.requested_by.clone(),
                    reason: r.reason.clone(),
                    principal_arn: r.principal_arn.clone(),
                    reversals: r.outcomes.len(),
                    verified: r.verified,
                });
            }
        }
        s.open.sort_by_key(|o| o.contained_at);
        s
    }
}

/// How the summary names an incident record the ledger does not back.
pub const UNVERIFIED_RECORD: &str = "UNVERIFIED: the ledger holds no such finding";

/// `3 d 4 h`, `2 h 5 min`, `40 s`.
pub fn duration(seconds: i64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{seconds} s")
    }
}

fn period(s: &PeriodSummary) -> String {
    format!("{} to {}", format_utc(s.since), format_utc(s.until))
}

fn md_table(out: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |\n|{}", head.join(" | "), "---|".repeat(head.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | "));
    }
}

/// One section of the summary: its title, its column names, its rows.
type Section = (&'static str, &'static [&'static str], Vec<Vec<String>>);

fn rows(s: &PeriodSummary) -> [Section; 5] {
    [
        (
            "Incidents",
            &["finding", "contained at", "state", "principals", "actions"],
            s.incidents
                .iter()
                .map(|i| {
                    vec![
                        i.finding_id.clone(),
                        format_utc(i.recorded_at),
                        if i.verified { i.headline.label().to_owned() } else { format!("{} ({})", i.headline.label(), UNVERIFIED_RECORD) },
                        i.principals.join(", "),
                        i.actions.to_string(),
                    ]
                })
                .collect(),
        ),
        ("Principals", &["principal", "incidents"], s.principals.iter().map(|(p, n)| vec![p.clone(), n.to_string()]).collect()),
        ("Actions by outcome", &["outcome", "actions"], s.actions_by_outcome.iter().map(|(o, n)| vec![o.clone(), n.to_string()]).collect()),
        (
            "Released (false positives)",
            &["finding", "at", "by", "scope", "reason", "reversals"],
            s.releases
                .iter()
                .map(|r| {
                    vec![
                        r.finding_id.clone(),
                        format_utc(r.at),
                        r.requested_by.clone().unwrap_or_else(|| "unknown".into()),
                        r.principal_arn.clone().unwrap_or_else(|| "whole finding".into()),
                        r.reason.clone().unwrap_or_else(|| "none given".into()),
                        if r.verified { r.reversals.to_string() } else { format!("{} ({})", r.reversals, ReleaseEvent::UNVERIFIED) },
                    ]
                })
                .collect(),
        ),
        (
            "Still contained (not released)",
            &["finding", "action", "target", "since", "open for"],
            s.open
                .iter()
                .map(|o| {
                    vec![o.finding_id.clone(), o.action.clone(), o.target.clone(), format_utc(o.contained_at), duration(o.open_seconds)]
                })
                .collect(),
        ),
    ]
}

/// The summary as Markdown.
pub fn markdown(s: &PeriodSummary) -> String {
    let mut out = format!("# launchguard summary, {}\n\n", period(s));
    let _ = writeln!(
        out,
        "{} incident(s), {} principal(s), {} release(s), {} containment(s) still open at {}.",
        s.incidents.len(),
        s.principals.len(),
        s.releases.len(),
        s.open.len(),
        format_utc(s.generated_at)
    );
    for (title, head, r) in rows(s) {
        let _ = writeln!(out, "\n## {title}\n");
        if r.is_empty() {
            let _ = writeln!(out, "None.");
        } else {
            md_table(&mut out, head, r);
        }
    }
    out
}

/// The summary as one self-contained HTML page.
pub fn html(s: &PeriodSummary) -> String {
    let mut out = crate::html::head(&format!("launchguard summary, {}", period(s)));
    let _ = writeln!(out, "<header><h1>launchguard summary</h1><code>{}</code></header>", h(&period(s)));
    let _ = writeln!(
        out,
        "<p>{} incident(s), {} principal(s), {} release(s), <strong>{} containment(s) still open</strong> at {}.</p>",
        s.incidents.len(),
        s.principals.len(),
        s.releases.len(),
        s.open.len(),
        h(&format_utc(s.generated_at))
    );
    for (title, head, r) in rows(s) {
        let _ = write!(out, "<section><h2>{}</h2>", h(title));
        if r.is_empty() {
            out.push_str("<p>None.</p></section>\n");
            continue;
        }
        out.push_str("<table><tr>");
        for c in head {
            let _ = write!(out, "<th>{}</th>", h(c));
        }
        out.push_str("</tr>");
        for row in r {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", h(&c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table></section>\n");
    }
    out.push_str("</body></html>\n");
    out
}
