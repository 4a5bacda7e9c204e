//! Issue 14: the period summary lists the incidents, their principals, actions by outcome, the
//! releases, and the containments still open with how long.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use crate::common;

use chrono::{Duration, TimeZone, Utc};
use launchguard_report::{Format, Holding, IncidentFacts, PeriodSummary, render_summary};

/// What the ledger holds in place: outcome `i` of the input.
fn holding(input: &launchguard_report::ReportInput, i: usize) -> Holding {
    Holding { action: input.outcomes[i].action.clone(), since: input.outcomes[i].completed_at }
}

/// The input's facts, with what the ledger still holds: the role revocation (its key
/// deactivation was released).
fn facts(input: &launchguard_report::ReportInput) -> IncidentFacts {
    IncidentFacts {
        finding_id: input.finding.finding_id.clone(),
        recorded_at: common::at(),
        principals: input.finding.principals.iter().map(|p| launchguard_report::model::principal_arn(&p.principal)).collect(),
        nobody: false,
        dry_run: false,
        person: !input.refusals.is_empty(),
        outcomes: input.outcomes.clone(),
        releases: input.releases.clone(),
        verified: true,
        open: vec![holding(input, 2)],
    }
}

#[test]
fn open_containments_are_the_unreleased_ones_with_their_age() {
    // GIVEN one incident whose key deactivation was released, its role revocation not
    let input = common::input();
    let now = common::at() + Duration::days(3) + Duration::hours(4);
    let since = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    // WHEN the month is summarised
    let s = PeriodSummary::build(&[facts(&input)], since, since + Duration::days(30), now);
    // THEN the incident, both principals, the outcomes, the release and one open containment
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.principals.len(), 2);
    assert_eq!(s.actions_by_outcome.get("applied"), Some(&2));
    assert_eq!(s.actions_by_outcome.get("refused"), Some(&1));
    assert_eq!(s.releases.len(), 1);
    assert_eq!(s.open.len(), 1, "{:?}", s.open);
    assert_eq!(s.open[0].action, "revoke_role_sessions");
    assert_eq!(s.open[0].open_seconds, (now - input.outcomes[2].completed_at).num_seconds());
    let md = render_summary(&s, Format::Markdown).unwrap();
    // 3 days 4 hours after the alarm, 3 s after it the role was contained: open 3 d 3 h (59 min)
    assert!(md.contains("role DataScience") && md.contains("3 d 3 h"), "{md}");
    assert!(md.contains(&input.finding.finding_id));
    // AND an incident outside the period is not listed
    let later = PeriodSummary::build(&[facts(&input)], now, now + Duration::days(1), now);
    assert!(later.incidents.is_empty() && later.open.is_empty());
}

/// Issue 22: the open containments are the ledger's. A release record (verified or not, whole
/// finding or one principal) closes nothing the ledger still holds; what the ledger no longer
/// holds is not open whatever the records say; an incident record the ledger does not back is
/// shown as unverified.
#[test]
fn open_containments_are_what_the_ledger_holds_whatever_the_records_say() {
    let mut input = common::input();
    let now = common::at() + Duration::hours(5);
    let since = common::at() - Duration::hours(1);
    input.releases[0].principal_arn = None;
    input.releases[0].verified = true;
    let mut f = facts(&input);
    f.open = vec![holding(&input, 0), holding(&input, 2)];
    let s = PeriodSummary::build(&[f.clone()], since, now, now);
    assert_eq!(s.open.len(), 2, "a whole-finding release record closed what the ledger holds: {:?}", s.open);
    assert_eq!(s.releases.len(), 1);
    f.open.clear();
    f.releases.clear();
    f.verified = false;
    let s = PeriodSummary::build(&[f], since, now, now);
    assert!(s.open.is_empty(), "{:?}", s.open);
    let md = render_summary(&s, Format::Markdown).unwrap();
    assert!(md.contains(launchguard_report::summary::UNVERIFIED_RECORD), "{md}");
}
